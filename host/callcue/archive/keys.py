"""The host's key store: each dongle's sealing keys (firmware/LOGFORMAT.md, "Seal"), kept
outside the archive, so that whoever can edit the archive cannot re-seal what they edit.

A folder (`--keys DIR`, else $CALLCUE_KEYS, else ~/.config/callcue/keys/), mode 0700,
one file per device id (ids are checked as safe file names first), mode 0600, written
whole (a temporary file beside it, fsync, rename). A file holds one line per key the
device has had, oldest first: `<64 hex digits> <unix time it was provisioned>`; old keys
stay, since the sessions sealed under them must still verify. `ID.pending` holds a key
sent to the device whose acceptance is not yet confirmed (see provision()).
"""

import hashlib
import os
import secrets
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


def settle_pending(dev, store, info, say=print):
    """A key left pending by an earlier run (cut off between set_key and its reply):
    kept if the device shows it (it was accepted), dropped if not (it never took it).
    Returns the device's info, as it is now."""
    device_id = info["device_id"]
    p = store.pending(device_id)
    if p is None:
        return info
    if info.get("key_id") == key_id(p[0]):
        store.confirm(device_id)
        say("the key %s sent earlier was accepted by %s; saved" % (key_id(p[0]), device_id))
    else:
        store.drop_pending(device_id)
        say("the key %s sent earlier never reached %s; dropped" % (key_id(p[0]), device_id))
    return info


def provision(dev, store, rotate=False, say=print):
    """Give the connected dongle a new key (see the module doc). The key is saved as
    pending before set_key is sent, and only the device's answer decides: accepted, it
    becomes the current key; refused, it is dropped; no answer, the device's info says
    which (or, unreachable, it stays pending for the next run to settle). Returns
    (device_id, key_id) of the key now in force."""
    from callcue.commands.logs import check_device, dev_name
    from callcue.device.client import DeviceError
    from firmware.seal import rekey_proof

    info = check_device(dev)
    device_id = info["device_id"]
    store.path(device_id)                      # the id names a file: checked
    info = settle_pending(dev, store, info, say)
    args = {}
    if info.get("key_set"):
        cur = store.find(device_id, info.get("key_id"))
        if not rotate:
            if cur is not None:
                say("%s already has key %s (in %s); nothing to do (--rotate replaces it)" % (
                    device_id, info["key_id"], store.folder))
                return device_id, info["key_id"]
            raise CommandError(dev_name(dev), "%s has a key (%s) that is not in %s; give the "
                            "key store that provisioned it (--keys DIR)" % (
                                device_id, info.get("key_id"), store.folder))
        if cur is None:
            raise CommandError(dev_name(dev), "cannot replace %s's key %s: it is not in %s, and "
                            "the device takes a new key only with proof of the current one"
                            % (device_id, info.get("key_id"), store.folder))
    elif rotate:
        say("%s has no key yet: giving it its first" % device_id)
    new = secrets.token_bytes(KEY_SIZE)
    if info.get("key_set"):
        args["proof"] = rekey_proof(cur, new).hex()
    store.save_pending(device_id, new)          # before it leaves this host
    try:
        reply = dev.request("set_key", key=new.hex(), **args)
    except DeviceError as e:
        if e.code in ("MISMATCH", "BAD_ARGS", "STORAGE", "BUSY", "UNSUPPORTED"):
            store.drop_pending(device_id)       # refused: nothing changed on the device
            raise CommandError(dev_name(dev), "the device refused the key (%s); no key "
                            "saved" % e) from None
        try:                                    # no answer: ask what the device holds
            now = dev.info()
        except (DeviceError, OSError):
            raise CommandError(dev_name(dev), "no answer to set_key (%s); the key is kept as "
                            "pending in %s: run `callcue device key` again with the dongle "
                            "connected to settle it" % (e, store.folder)) from None
        settle_pending(dev, store, now, say=lambda _m: None)
        if now.get("key_id") != key_id(new):
            raise CommandError(dev_name(dev), "the device did not take the key (%s); no key "
                            "saved" % e) from None
        reply = {"key_id": now["key_id"]}
    except OSError as e:
        raise CommandError(dev_name(dev), "the device went away during set_key (%s); the key "
                        "is kept as pending in %s: run `callcue device key` again with the "
                        "dongle connected to settle it" % (e.strerror or e, store.folder)
                        ) from None
    if reply.get("key_id") != key_id(new):
        store.drop_pending(device_id)
        raise CommandError(dev_name(dev), "the device answered key_id %s for key %s; no key "
                        "saved" % (reply.get("key_id"), key_id(new)))
    if store.pending(device_id) is not None:
        store.confirm(device_id)
    say("%s: %s key %s, saved in %s" % (
        device_id, "replaced its key with" if args else "provisioned", key_id(new),
        store.path(device_id)))
    return device_id, key_id(new)
