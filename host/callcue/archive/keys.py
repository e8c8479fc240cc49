"""The host's key store: each dongle's sealing keys (firmware/LOGFORMAT.md, "Seal"), kept
outside the archive, so that whoever can edit the archive cannot re-seal what they edit.

A folder (`--keys DIR`, else $CALLCUE_KEYS, else ~/.config/callcue/keys/), mode 0700,
one file per device id (ids are checked as safe file names first), mode 0600, written
whole (a temporary file beside it, fsync, rename). A file holds one line per key the
device has had, oldest first: `<64 hex digits> <unix time it was provisioned>`; old keys
stay, since the sessions sealed under them must still verify. `ID.pending` holds a key
sent to the device whose acceptance is not yet confirmed (see callcue.archive.provision).
"""

import hashlib
import os
import tempfile
import time
from pathlib import Path

from callcue.archive.store import id_problem
from callcue.errors import CommandError

KEY_SIZE = 32
PENDING = ".pending"


def add_keys_arg(p):
    """The --keys option of the commands that read or write the key store."""
    p.add_argument("--keys", metavar="DIR", help="the key store (default: $CALLCUE_KEYS, "
                   "else ~/.config/callcue/keys)")


def default_dir():
    env = os.environ.get("CALLCUE_KEYS")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "callcue" / "keys"


def key_id(key):
    """As the dongle shows it (`info`'s key_id): SHA-256's first 4 bytes, in hex."""
    return hashlib.sha256(key).digest()[:4].hex()


class KeyStore:
    """The key folder `folder` (None: default_dir()). Errors are CommandError naming the
    folder or the file."""

    def __init__(self, folder=None):
        self.folder = Path(folder) if folder else default_dir()

    def path(self, device_id, pending=False):
        why = id_problem(device_id)
        if why is not None:
            raise CommandError(str(self.folder), why)
        return self.folder / (device_id + (PENDING if pending else ""))

    def _read(self, path):
        try:
            text = path.read_text(encoding="ascii")
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as e:
            raise CommandError(str(path), "cannot read the key file (%s)" % (
                getattr(e, "strerror", None) or e)) from None
        out = []
        for line in text.splitlines():
            words = line.split()
            if not words:
                continue
            try:
                key = bytes.fromhex(words[0])
                since = int(words[1]) if len(words) > 1 else 0
            except ValueError:
                key = b""
            if len(key) != KEY_SIZE:
                raise CommandError(str(path), "not a key file (each line: 64 hex digits and "
                                   "the time it was set); restore it from a backup")
            out.append((key, since))
        return out

    def keys(self, device_id):
        """[(key, provisioned unix time)] of `device_id`, oldest first ([]: none known)."""
        return self._read(self.path(device_id))

    def current(self, device_id):
        ks = self.keys(device_id)
        return ks[-1][0] if ks else None

    def find(self, device_id, kid):
        """The key of `device_id` whose id is `kid` (hex), or None."""
        for key, _ in self.keys(device_id):
            if key_id(key) == kid:
                return key
        return None

    def pending(self, device_id):
        ks = self._read(self.path(device_id, pending=True))
        return ks[-1] if ks else None

    def _write(self, path, lines):
        """`lines` into `path`, whole or not at all, readable by its owner only."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix="." + path.name + ".",
                                       suffix=".tmp")      # mode 0600
        except OSError as e:
            raise CommandError(str(self.folder), "cannot write the key store (%s)" % (
                e.strerror or e)) from None
        try:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write("".join("%s %d\n" % (k.hex(), t) for k, t in lines))
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
            _fsync_dir(self.folder)
        except OSError as e:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise CommandError(str(path), "cannot write the key file (%s)" % (
                e.strerror or e)) from None

    def save_pending(self, device_id, key):
        self._write(self.path(device_id, pending=True), [(key, int(time.time()))])

    def confirm(self, device_id):
        """The pending key becomes the device's current one (the old ones are kept)."""
        key, since = self.pending(device_id)
        have = self.keys(device_id)
        if all(k != key for k, _ in have):
            self._write(self.path(device_id), have + [(key, since)])
        self.drop_pending(device_id)
        return key

    def drop_pending(self, device_id):
        try:
            self.path(device_id, pending=True).unlink(missing_ok=True)
            _fsync_dir(self.folder)
        except OSError as e:
            raise CommandError(str(self.path(device_id, pending=True)),
                               "cannot remove it (%s)" % (e.strerror or e)) from None


def _fsync_dir(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


