"""A throw-away PostgreSQL server for the archive tests and the fleet bench.

`initdb` and `pg_ctl` come from PATH or from Debian's `postgresql` package
(/usr/lib/postgresql/<version>/bin, which is not on PATH). The cluster lives in a fresh
temporary folder; the server listens only on a unix socket in that folder (no TCP), on a
port that is free at start, and is stopped and deleted by stop().

initdb refuses to run as root. Under root (CI runs as root) the folder is handed to the
unprivileged `nobody` user and initdb, postgres and pg_ctl run as that user (subprocess's
user=/group=, i.e. setuid in the child); the client, still root, reaches the socket
because root may enter any folder.
"""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SUPERUSER = "callcue"
RUN_AS_WHEN_ROOT = "nobody"


def find_bin(name):
    """Path of a PostgreSQL server program: PATH first, then the newest Debian install."""
    path = shutil.which(name)
    if path:
        return path
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                   key=lambda p: [int(x) if x.isdigit() else 0
                                  for x in Path(p).parts[-3].split(".")])
    return found[-1] if found else None


def missing_reason():
    """Why a server cannot be started here, or None if it can."""
    missing = [n for n in ("initdb", "pg_ctl", "postgres") if find_bin(n) is None]
    if missing:
        return ("PostgreSQL server programs (%s) not found on PATH or in "
                "/usr/lib/postgresql/*/bin: install Debian's `postgresql` package "
                "(.ci/run does)" % ", ".join(missing))
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(RUN_AS_WHEN_ROOT)
        except KeyError:
            return (f"running as root, and initdb refuses root: no `{RUN_AS_WHEN_ROOT}` user "
                    "to run the server as")
    return None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """start() a cluster in a temporary folder; url(db) names a database on it."""

    def __init__(self, settings=None):
        # fsync off by default: a test cluster is thrown away, durability buys nothing
        self.settings = {"fsync": "off", "synchronous_commit": "off",
                         "full_page_writes": "off", "max_connections": "100",
                         **(settings or {})}
        self.folder = None
        self.port = None
        self.started = False

    def _run(self, cmd, timeout=120):
        kw = {}
        if os.geteuid() == 0:
            pw = pwd.getpwnam(RUN_AS_WHEN_ROOT)
            kw = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                           timeout=timeout, cwd=self.folder, env={**os.environ, "LC_ALL": "C"},
                           **kw)
        if r.returncode != 0:
            log = self.folder / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError("%s failed (%d): %s %s\n%s" % (
                Path(str(cmd[0])).name, r.returncode, r.stdout[-2000:], r.stderr[-2000:],
                tail))
        return r

    def start(self):
        reason = missing_reason()
        if reason:
            raise RuntimeError(reason)
        # directly under the system temp folder: `nobody` must be able to reach it
        self.folder = Path(tempfile.mkdtemp(prefix="callcue-pg-"))
        if os.geteuid() == 0:
            pw = pwd.getpwnam(RUN_AS_WHEN_ROOT)
            os.chown(self.folder, pw.pw_uid, pw.pw_gid)
        data = self.folder / "data"
        self._run([find_bin("initdb"), "-D", data, "-U", SUPERUSER, "--auth=trust",
                   "--encoding=UTF8", "--locale=C", "--no-sync"])
        opts = {"listen_addresses": "''", "unix_socket_directories": str(self.folder),
                **self.settings}
        for attempt in range(5):
            self.port = _free_port()
            o = " ".join(f"-c {k}={v}" for k, v in opts.items())
            try:
                self._run([find_bin("pg_ctl"), "start", "-w", "-t", "60", "-D", data,
                           "-l", self.folder / "server.log", "-o", f"-p {self.port} {o}"])
                break
            except RuntimeError:
                if attempt == 4:
                    raise
                time.sleep(0.2)
        self.started = True
        return self

    def url(self, dbname="postgres"):
        return f"postgresql://{SUPERUSER}@/{dbname}?host={self.folder}&port={self.port}"

    def create_database(self, name):
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self):
        if self.folder is None:
            return
        try:
            if self.started:
                self._run([find_bin("pg_ctl"), "stop", "-m", "fast", "-w", "-D",
                           self.folder / "data"])
        finally:
            self.started = False
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
