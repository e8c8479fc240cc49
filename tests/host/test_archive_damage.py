"""A damaged, foreign, locked or read-only SQLite archive: `report`, `logs export`, `archive
info` and `logs pull` each end with one line naming the file and what to do (no
traceback, non-zero exit) and leave the folder byte for byte as it was: readers open it
read-only and never create, migrate or write anything. A read-only archive can still be
read. Also: `report` on an archive of an older schema reads it without upgrading it.

Read-only files are real: as root (CI) the commands run without CAP_DAC_OVERRIDE
(setpriv), so the permission bits bind them as they bind any user.
"""

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys

import pytest

from callcue.archive.store import DB_NAME, Archive

from .. import synthlogs
from ..conftest import one_line_error
from .test_hostile import _device_folder, silence  # noqa: F401 - a fixture

T0 = 1_790_000_000


def unprivileged():
    """The command prefix that makes permission bits bind (root ignores them), or None
    when that cannot be done here."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        return None
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]


def run_callcue(*argv, env=None):
    prefix = unprivileged() or []
    return subprocess.run([*prefix, sys.executable, "-m", "callcue", *map(str, argv)],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "CALLCUE_LOCK_WAIT_S": "1", **(env or {})})


def good_archive(folder):
    with Archive(folder) as ar:
        for c in range(2):
            ar.import_session(synthlogs.log("cc-0001", c + 1, T0 + c,
                                            synthlogs.body(60, seed=c)))
    shutil.rmtree(folder / "partial", ignore_errors=True)
    return folder


def _truncate(f):
    db = f / DB_NAME
    db.write_bytes(db.read_bytes()[:3000])


def _random(f):
    (f / DB_NAME).write_bytes(os.urandom(40960))


def _header(f):
    db = f / DB_NAME
    db.write_bytes(b"Not SQLite at all" + db.read_bytes()[17:])


def _pages(f):
    db = f / DB_NAME
    b = bytearray(db.read_bytes())
    for i in range(4096 * 2, min(len(b), 4096 * 6)):
        b[i] = (b[i] * 7 + 13) & 0xFF
    db.write_bytes(bytes(b))


def _sql(*stmts):
    def damage(f):
        c = sqlite3.connect(f / DB_NAME)
        for s in stmts:
            c.execute(s)
        c.commit()
        c.close()
    return damage


def _empty(f):
    (f / DB_NAME).write_bytes(b"")


def _foreign(f):
    os.unlink(f / DB_NAME)
    _sql("CREATE TABLE sessions (id INTEGER, who TEXT)")(f)


# name: (damage, what the error says (None: the command succeeds), pull's words)
CASES = {
    "truncated": (_truncate, "damaged", "damaged"),
    "random bytes": (_random, "damaged", "damaged"),
    "bad header": (_header, "damaged", "damaged"),
    "malformed pages": (_pages, "damaged", "damaged"),
    "empty file": (_empty, "no callcue archive", None),
    "foreign schema": (_foreign, "something other than a callcue archive",
                       "something other than a callcue archive"),
    "dropped events": (_sql("DROP TABLE events"), "table events is missing",
                       "table events is missing"),
    "dropped records": (_sql("DROP TABLE records"), "table records is missing",
                        "table records is missing"),
    "newer schema": (_sql("PRAGMA user_version = 99"), "schema version 99",
                     "schema version 99"),
    "locked": (None, "locked by another program", "locked by another program"),
    "read-only file": (lambda f: os.chmod(f / DB_NAME, 0o444), None, "cannot write"),
    "read-only folder": (lambda f: os.chmod(f, 0o555), None, "cannot write"),
}


def hold_lock(path):
    """Another process holding SQLite's exclusive lock on `path` until its stdin closes
    (in this process, reading the file would drop the lock: POSIX locks are per process
    and go with any descriptor of the file that is closed)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys\n"
         "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
         "c.execute('BEGIN EXCLUSIVE')\nprint('locked', flush=True)\nsys.stdin.read()",
         str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "locked\n"
    return proc


def snapshot(folder):
    return {p.relative_to(folder).as_posix():
            hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_archive_one_line_and_untouched(case, tmp_path, silence, micropython):  # noqa: F811
    damage, why, pull_why = CASES[case]
    if case.startswith("read-only") and unprivileged() is None:
        pytest.skip("running as root without setpriv: permission bits do not bind")
    folder = good_archive(tmp_path / "archive")
    lock = None
    if damage is not None:
        damage(folder)
    else:
        lock = hold_lock(folder / DB_NAME)
    dev = _device_folder(tmp_path / "dev", "cc-fine-0001")
    port = f"sim://{silence}?speed=0&storage={dev}"
    try:
        before = snapshot(folder)
        for argv, words in (
                (("report", "--out", tmp_path / "r.html"), why),
                (("report", "--summary", "--out", tmp_path / "s.html"), why),
                (("logs", "export", "--out", tmp_path / "e.csv"), why),
                (("archive", "info"), why),
                (("logs", "pull", "--port", port), pull_why)):
            r = run_callcue(*argv, "--archive", folder)
            if words is None:
                assert r.returncode == 0, (argv, r.stderr)
                if argv[0] == "logs" and argv[1] == "pull":
                    continue       # a pull into an empty file makes the archive there
            else:
                one_line_error(r, str(folder / DB_NAME), words)
            assert snapshot(folder) == before, argv
        for out in ("r.html", "s.html", "e.csv"):
            assert why is None or not (tmp_path / out).exists()
    finally:
        if lock is not None:
            lock.stdin.close()
            lock.wait(10)
        os.chmod(folder, 0o755)


def test_readers_never_upgrade_an_older_archive(tmp_path):
    """A schema-1 archive (no reps or assignments yet) is refused by readers with the
    way to upgrade it, and left as it was; a writer upgrades it."""
    folder = good_archive(tmp_path / "a")
    _sql("DROP TABLE assignments", "DROP TABLE reps", "PRAGMA user_version = 1")(folder)
    before = snapshot(folder)
    for argv in (("report", "--out", tmp_path / "r.html"), ("archive", "info"),
                 ("logs", "export", "--out", tmp_path / "e.csv")):
        one_line_error(run_callcue(*argv, "--archive", folder), "older schema (version 1)",
                        "upgrades it")
    assert snapshot(folder) == before
    r = run_callcue("archive", "assign", "cc-0001", "ana", "--archive", folder)
    assert r.returncode == 0, r.stderr
    r = run_callcue("archive", "info", "--archive", folder)
    assert r.returncode == 0 and "sessions        2" in r.stdout, r.stderr


def test_unwritable_partial_file_is_one_line(tmp_path, silence, micropython):  # noqa: F811
    """A pull whose partial folder cannot be written names the file it could not write
    (not "the device went away") and leaves the archive as it was."""
    if unprivileged() is None:
        pytest.skip("running as root without setpriv: permission bits do not bind")
    folder = good_archive(tmp_path / "archive")
    (folder / "partial").mkdir(mode=0o555)
    dev = _device_folder(tmp_path / "dev", "cc-fine-0001")
    before = snapshot(folder)
    try:
        r = run_callcue("logs", "pull", "--port", f"sim://{silence}?speed=0&storage={dev}",
                        "--archive", folder)
        one_line_error(r, str(folder / "partial" / "cc-fine-0001-s000001.part"),
                        "cannot write", "Permission denied")
        assert snapshot(folder) == before
    finally:
        os.chmod(folder / "partial", 0o755)
