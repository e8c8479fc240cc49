"""The archive of pulled session logs: devices, sessions (with the raw log bytes), their
per-second records and talk-over events (device units), and which rep (and team) wore
which dongle when.

`Archive(TARGET)` opens either back end:
- a folder: the embedded default, `FOLDER/callcue.sqlite`, with `FOLDER/partial/` for the
  bytes of interrupted pulls;
- a `postgresql://user@host/db` URL (libpq syntax, `postgres://` too): one database that
  every desk of a contact centre pulls into and every reader reads. Interrupted pulls
  keep their bytes on the desk, in `~/.cache/callcue/partial/` (or $XDG_CACHE_HOME).
Every statement and the schema are in callcue.archive.sql; this module is the same for
both.

A session is identified by (device_id, session_id, start_time, crc32): a device may
reuse a session id (its ids restarted), even with the same start time when its clock was
unset (0 after every RP2040 power-up), and then the two are archived side by side, with
a warning, never one over the other. A session is imported in one transaction (device,
session, records, events: all or nothing), and the unique key makes a second import of
it, even a concurrent one from another desk, add nothing. The raw log bytes are kept, so
any field can be decoded again later with the device's own log format. Opening an
archive of an older schema to write migrates it in place (once, under a lock); readers
never do (see Archive). One of a newer schema, or a database holding other tables of the
same names, is refused with the reason.
"""

import datetime as dt
import hashlib
import os
import re
import sqlite3
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

from callcue.archive import sql
from callcue.errors import CommandError
from firmware.logformat import decode_log
from firmware.protocol import crc32

DB_NAME = "callcue.sqlite"
SCHEMA_VERSION, TABLES = sql.SCHEMA_VERSION, sql.TABLES
RECORD_COLUMNS, EVENT_COLUMNS = sql.RECORD_COLUMNS, sql.EVENT_COLUMNS
INTERRUPTERS = ("rep", "customer")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# A device id becomes part of file names (partial pulls) and of what readers show: only
# these, so that no id can name a path (`/abs`, `../x`), a hidden file or a device node.
SAFE_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}\Z")
SAFE_ID_RULE = "1-64 of A-Z a-z 0-9 . _ -, not starting with '.'"


def id_problem(device_id):
    """Why `device_id` (from a device: never trusted) is not a safe name, or None."""
    if type(device_id) is not str:
        return f"the device id is {type(device_id).__name__}, not text"
    if not SAFE_ID.match(device_id):
        return f"the device id {device_id[:80]!r} is not a safe name ({SAFE_ID_RULE})"
    return None


class ArchiveError(CommandError):
    """The archive failed: str(e) is one line saying what to do. As a CommandError it names
    no target (what is None): cli.main names the command's --archive."""

    def __init__(self, reason):
        super().__init__(None, reason)


def is_url(target):
    return bool(_URL.match(str(target)))


def display_name(target):
    """The archive as it may be shown: a URL's password replaced by ***."""
    return re.sub(r"^([^:/]+://[^:/@]*):[^@/]*@", r"\1:***@", str(target))


def _db_errors():
    errors = (sqlite3.Error,)
    try:
        import psycopg

        errors += (psycopg.Error,)
    except ImportError:
        pass
    return errors


def lock_wait_s():
    """How long an SQLite archive waits for another program's lock before it says so
    (CALLCUE_LOCK_WAIT_S, default 60 s: a concurrent pull's import is far shorter)."""
    try:
        return max(0.0, float(os.environ.get("CALLCUE_LOCK_WAIT_S", "60")))
    except ValueError:
        return 60.0


def sqlite_reason(e, wait_s=None):
    """An sqlite3 error as what happened and what to do (one line)."""
    text = " ".join(str(e).split()) or type(e).__name__
    low = text.lower()
    wait = lock_wait_s() if wait_s is None else wait_s
    if "locked" in low or "busy" in low:
        return (f"locked by another program for more than {wait:.0f} s (a pull or copy "
                "still running, or an sqlite3 shell holding a transaction); try again "
                "when it has finished")
    if "readonly" in low or "read-only" in low or "unable to open" in low \
            or "permission" in low:
        return (f"cannot write it ({text}): the file or its folder is read-only or not "
                "yours; fix its permissions, or pull into a folder you can write")
    if "not a database" in low or "malformed" in low or "disk i/o" in low \
            or "corrupt" in low:
        return (f"damaged or not a callcue archive ({text}); restore it from a backup, or "
                "move it aside and pull into a new archive (the dongles keep their logs "
                "until a pull with --delete)")
    if "no such table" in low or "no such column" in low:
        return (f"its tables are not a callcue archive's ({text}); restore it from a "
                "backup, or move it aside")
    return f"SQLite failed: {text}"


class Archive:
    """An archive folder or PostgreSQL URL (see the module doc).

    `create=False` opens it for reading only (report, export, info): it must exist and
    hold an archive; nothing is created, migrated or written (an SQLite file is opened
    read-only, a PostgreSQL session is read-only), and an archive whose tables lack a
    column this callcue reads is refused, not upgraded. Any other failure of the
    database is an ArchiveError with one line saying what to do."""

    def __init__(self, target, create=True):
        self.target = str(target)
        self.name = display_name(target)
        self.readonly = not create
        self.db = None
        try:
            if is_url(target):
                self._open_postgres(create)
            else:
                self._open_sqlite(Path(target), create)
            self._migrate(create)
        except ArchiveError:
            self.close()
            raise
        except _db_errors() as e:
            self.close()
            raise self._error(e) from None

    def _error(self, e):
        """ArchiveError for a database error `e`, in words for this back end."""
        if isinstance(e, sqlite3.Error):
            return ArchiveError(sqlite_reason(e))
        return ArchiveError(sql.pg_error_line(e))

    def _open_sqlite(self, folder, create):
        self.folder = folder
        self.partial_folder = folder / "partial"
        path = folder / DB_NAME
        self.name = str(path)       # errors name the file itself
        if not create:
            if not path.is_file():
                raise ArchiveError(f"no archive here ({DB_NAME} missing); pull logs into it "
                                   "with `callcue logs pull --archive DIR`")
            self._db = sql.SqliteDb(path, readonly=True, timeout=lock_wait_s())
            self.db = self._db.conn
            return
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ArchiveError(f"cannot make the archive folder {folder} "
                               f"({e.strerror or e}); give a folder you can write") from None
        # a pull must find out now, before it writes partial files, that it could not
        # import them: the folder (SQLite's journal goes there) and the file writable
        try:
            with tempfile.TemporaryFile(dir=folder):
                pass
            if path.exists():
                with open(path, "r+b"):  # opened for writing, nothing written
                    pass
        except OSError as e:
            raise ArchiveError(f"cannot write it ({e.strerror or e}): the file or its folder "
                               "is read-only or not yours; fix its permissions, or pull "
                               "into a folder you can write") from None
        self._db = sql.SqliteDb(path, timeout=lock_wait_s())
        self.db = self._db.conn
        self.db.execute("BEGIN IMMEDIATE")   # the write lock, taken and given back
        self.db.execute("ROLLBACK")

    def _open_postgres(self, create):
        scheme = self.target.split("://", 1)[0].lower()
        if scheme not in ("postgresql", "postgres"):
            raise ArchiveError(f"{scheme}:// is not an archive: give a folder or a "
                               "postgresql://user@host/database URL")
        try:
            self._db = sql.PostgresDb(self.target, readonly=not create)
        except ImportError:
            raise ArchiveError("a PostgreSQL archive needs psycopg: pip install "
                               "'psycopg[binary]' psycopg-pool") from None
        self.db = self._db.conn
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        key = hashlib.sha1(self.name.encode()).hexdigest()[:12]
        self.folder = None
        self.partial_folder = cache / "callcue" / "partial" / key

    @property
    def backend(self):
        return self._db.dialect

    def _migrate(self, create):
        """Create or bring the schema up to SCHEMA_VERSION (once, under the schema lock),
        then check that every table has the columns this callcue uses. Read-only
        (create=False): only the check."""
        db = self._db
        version = db.get_version()
        if version == SCHEMA_VERSION:
            return self._check_columns()
        if version > SCHEMA_VERSION:
            raise ArchiveError(f"the archive is schema version {version}, this callcue knows "
                               f"{SCHEMA_VERSION}; update callcue to open it")
        if not create:
            tables = db.tables()
            if "sessions" not in tables:
                raise ArchiveError("no callcue archive in this %s yet; pull logs into it with "
                                   "`callcue logs pull --archive %s`" % (
                                       "file" if db.dialect == "sqlite" else "database",
                                       "DIR" if db.dialect == "sqlite" else "URL"))
            try:   # an older schema may have every column a reader needs
                return self._check_columns(later=sql.READER_OPTIONAL)
            except ArchiveError:
                later = [c for v in range(version, SCHEMA_VERSION)
                         for c in sql.ADDED_COLUMNS.get(v, ())]
                self._check_columns(tables, later)  # not even an older archive: say so
                raise ArchiveError(
                    f"the archive is of an older schema (version {version}) and is only "
                    "read here; a pull into it (`callcue logs pull`) upgrades it") from None
        with db.transaction():
            db.lock_schema()
            version = db.get_version()        # another desk may have migrated meanwhile
            if version < SCHEMA_VERSION:
                tables = db.tables()
                if "sessions" not in tables:
                    self._check_columns(tables)  # someone else's tables: say so
                    for name in TABLES:
                        db.execute(sql.create_table(name))
                    for stmt in sql.INDEXES:
                        db.execute(stmt)
                else:
                    # the tables there must be an older callcue's, or nothing is touched
                    self._check_columns(tables, [
                        c for v in range(version, SCHEMA_VERSION)
                        for c in sql.ADDED_COLUMNS.get(v, ())])
                    for v in range(version + 1, SCHEMA_VERSION + 1):
                        for step in sql.MIGRATIONS[v]:
                            step(db) if callable(step) else db.execute(step)
                db.set_version(SCHEMA_VERSION)
        self._check_columns()

    def _check_columns(self, only=None, later=()):
        """ArchiveError unless every table (of `only`, if given) has this callcue's columns
        (but those of `later`, "table.column" added by a later migration)."""
        tables = self._db.tables()
        for table, body in TABLES.items():
            if only is not None and table not in only:
                continue
            if table not in tables:
                raise ArchiveError(
                    f"table {table} is missing (dropped?): the archive is damaged; restore "
                    "it from a backup (it is not recreated empty: its rows would be lost "
                    "without a word)")
            want = [c.split()[0] for c in re.split(r",\s*(?![^()]*\))", body)
                    if c.split()[0] not in ("PRIMARY", "UNIQUE")]
            have = set(self._db.columns(table))
            missing = [c for c in want if c not in have and f"{table}.{c}" not in later]
            if missing:
                raise ArchiveError(
                    f"table {table} has no column {missing[0]}: this database holds "
                    "something other than a callcue archive; give an empty database (or "
                    "schema) or the right one")

    def close(self):
        if getattr(self, "_db", None) is not None:
            self._db.close()
            self._db = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _q(self, stmt, args=()):
        try:
            return self._db.q(stmt, args)
        except _db_errors() as e:
            raise self._error(e) from None

    # ------------------------------------------------------------------ partial pulls

    def partial_path(self, device_id, sid):
        why = id_problem(device_id)
        if why is not None or type(sid) is not int or not 0 <= sid < 2**30:
            raise ArchiveError(why or f"session id {sid!r} is out of range")
        try:
            self.partial_folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ArchiveError(f"cannot make {self.partial_folder} ({e.strerror or e}): the "
                               "folder is read-only or not yours; fix its permissions, or "
                               "pull into a folder you can write") from None
        return self.partial_folder / f"{device_id}-s{sid:06d}.part"

    def find(self, device_id, session_id, start_time, crc=None):
        """The archived session with this key (and crc32 `crc`, if given; else the first
        archived under the key), as {pk, crc32, n_records}, or None."""
        if crc is None:
            rows = self._q(sql.FIND_SESSION, (device_id, session_id, start_time))
        else:
            rows = self._q(sql.FIND_SESSION_CRC, (device_id, session_id, start_time, crc))
        return dict(rows[0]) if rows else None

    # ------------------------------------------------------------------ import

    def import_session(self, data, imported_at=None, warn=None, seal=None):
        """Import one pulled session log (bytes) in one transaction. Returns (pk, added):
        added is False if it was already archived (same crc32), by us or by another desk
        at the same moment. A session with the id and start time of an archived one but
        other content (a device whose ids restarted, with its clock unset) is archived
        beside it, and warn(message) says so. Raises ArchiveError for a log that does not
        decode. `seal`: (status, message) of its seals as checked with the device's key
        (callcue.archive.seal), kept with it; a session already archived gets it if it had none."""
        data = bytes(data)
        try:
            hdr, recs, events = decode_log(data)
        except ValueError as e:
            raise ArchiveError(f"the session log does not decode: {e}") from None
        why = id_problem(hdr["device_id"])
        if why is not None:
            raise ArchiveError(f"{why} in its header; not "
                               "archived")
        crc = crc32(data)
        key = (hdr["device_id"], hdr["session_id"], hdr["start_time"])
        old = self.find(*key, crc)
        if old is not None:
            self._keep_seal(old["pk"], seal)
            return old["pk"], False
        twin = self.find(*key)
        now = int(time.time()) if imported_at is None else int(imported_at)
        db = self._db
        try:
            with db.transaction():
                db.execute(sql.UPSERT_DEVICE, (hdr["device_id"], hdr["fw_version"], now, now))
                row = db.one(sql.INSERT_SESSION, (
                    *key, hdr["fw_version"], hdr.get("cal_hash"), len(data), crc,
                    len(recs), now, data, hdr["format_version"],
                    *(seal if seal is not None else (None, None))))
                if row is None:
                    raise _Exists
                pk = row["pk"]
                db.insert_rows("records", ("session_pk", *RECORD_COLUMNS),
                               [(pk, *(r[c] for c in RECORD_COLUMNS)) for r in recs])
                db.insert_rows("events", ("session_pk", *EVENT_COLUMNS),
                               [(pk, *(e[c] for c in EVENT_COLUMNS)) for e in events])
        except _Exists:           # another desk archived it since find(): rolled back
            pk = self.find(*key, crc)["pk"]
            self._keep_seal(pk, seal)
            return pk, False
        except _db_errors() as e:
            raise self._error(e) from None
        if twin is not None and warn is not None:
            warn(f"session {key[1]} of {key[0]} (started {_when(key[2])}) is archived "
                 f"twice with other content (crc32 {twin['crc32']:08x} and {crc:08x}): the "
                 "device's session ids restarted; both are kept, the new one as archive "
                 f"row {pk}")
        return pk, True

    def _keep_seal(self, pk, seal):
        if seal is not None and self.seal(pk) == (None, None):
            try:
                self._db.execute(sql.SET_SEAL, (*seal, pk))
            except _db_errors() as e:
                raise self._error(e) from None

    def seal(self, pk):
        """(status, message) of session `pk`'s seals as checked when it was pulled, or
        (None, None): not checked (no key known then, or a schema-3 archive)."""
        if getattr(self, "_has_seal", None) is None:
            try:
                self._has_seal = "seal" in self._db.columns("sessions")
            except _db_errors() as e:
                raise self._error(e) from None
        if not self._has_seal:
            return None, None
        rows = self._q(sql.SESSION_SEAL, (pk,))
        return (rows[0]["seal"], rows[0]["seal_note"]) if rows else (None, None)

    def raw(self, pk):
        """Session `pk`'s raw log bytes as archived."""
        rows = self._q(sql.SESSION_RAW, (pk,))
        return bytes(rows[0]["raw"]) if rows else None

    def stored_counts(self, pk):
        """(records, events) rows stored for session `pk`."""
        return (self._q(sql.COUNT_RECORDS, (pk,))[0]["n"],
                self._q(sql.COUNT_EVENTS, (pk,))[0]["n"])

    def verify(self, pk, crc):
        """True if session `pk` is stored whole: raw bytes with crc32 `crc`, and as many
        record and event rows as the log decodes to."""
        rows = self._q(sql.SESSION_RAW, (pk,))
        if not rows or crc32(bytes(rows[0]["raw"])) != crc:
            return False
        n, n_ev = self.stored_counts(pk)
        _, recs, events = decode_log(bytes(rows[0]["raw"]))
        return n == rows[0]["n_records"] == len(recs) and n_ev == len(events)

    # ------------------------------------------------------------------ reps

    def assign(self, device_id, rep_id, since=0, team=None):
        """From unix time `since` on, `device_id`'s calls are `rep_id`'s (earlier calls
        keep their earlier rep); `team`, if given, becomes the rep's team."""
        try:
            with self._db.transaction():
                self._db.execute(sql.UPSERT_REP, (rep_id, team))
                self._db.execute(sql.UPSERT_ASSIGNMENT, (device_id, int(since), rep_id))
        except _db_errors() as e:
            raise self._error(e) from None

    def assignments(self):
        return [dict(r) for r in self._q(sql.SELECT_ASSIGNMENTS)]

    def reps(self):
        return [dict(r) for r in self._q(sql.SELECT_REPS)]

    # ------------------------------------------------------------------ queries

    def sessions(self, session=None, device=None, since=None, until=None):
        """Session rows (no raw bytes), oldest first, filtered by session pk or
        DEVICE:ID, device id, and start time in [since, until) (unix s)."""
        where, args = [], []
        if session is not None:
            dev_id, _, sid = str(session).rpartition(":")
            if dev_id:
                where.append("device_id=? AND session_id=?")
                args += [dev_id, int(sid)]
            else:
                where.append("pk=?")
                args.append(int(sid))
        if device is not None:
            where.append("device_id=?")
            args.append(device)
        if since is not None:
            where.append("start_time>=?")
            args.append(int(since))
        if until is not None:
            where.append("start_time<?")
            args.append(int(until))
        stmt = sql.SELECT_SESSIONS
        if where:
            stmt += " WHERE " + " AND ".join(where)
        return [dict(r) for r in self._q(stmt + sql.SESSIONS_ORDER, args)]

    def records(self, pk):
        return [dict(r) for r in self._q(sql.SELECT_RECORDS, (pk,))]

    def events(self, pk):
        """Session `pk`'s talk-over events, oldest first: seq, start_f, end_f (engine
        frames of 10 ms, end exclusive; t_s * 100 is the same clock) and interrupter (0
        rep, 1 customer). Empty for a log of format 1 (see log_format)."""
        return [dict(r) for r in self._q(sql.SELECT_EVENTS, (pk,))]

    def counts(self):
        return {t: self._q(sql.COUNT_TABLE.format(table=t))[0]["n"]
                for t in ("devices", "sessions", "records", "events")}

    def size_bytes(self):
        try:
            return self._db.size_bytes()
        except _db_errors() as e:
            raise self._error(e) from None

    def schema_version(self):
        try:
            return self._db.get_version()
        except _db_errors() as e:
            raise self._error(e) from None

    def summary(self, since=None, until=None, team=None):
        """Per-rep and per-team figures over the calls started in [since, until) (unix s;
        None: unbounded), of one team or all, computed in the database. Returns
        {"reps": [...], "teams": [...]}, rows of raw sums (see archive_sql.SUMMARY)."""
        args = sql.summary_args(-(2**62) if since is None else int(since),
                                2**62 if until is None else int(until), team)
        jobs = {by: sql.summary_sql(by) for by in ("rep", "team")}
        try:
            if self.backend == "postgresql":   # both queries at once, on pooled connections
                pool = self._db.pool(len(jobs))

                def run(stmt):
                    with pool.connection() as conn:
                        return conn.execute(sql.dialect_sql("postgresql", stmt),
                                            args).fetchall()

                with ThreadPoolExecutor(len(jobs)) as ex:
                    futures = {by: ex.submit(run, stmt) for by, stmt in jobs.items()}
                    out = {by: f.result() for by, f in futures.items()}
            else:
                out = {by: self._db.q(stmt, args) for by, stmt in jobs.items()}
        except _db_errors() as e:
            raise self._error(e) from None
        return {by + "s": [{k: _plain(v) for k, v in dict(r).items()} for r in rows]
                for by, rows in out.items()}

    # ------------------------------------------------------------------ copy

    def copy_from(self, src, say=None):
        """Copy every session, device and rep assignment of archive `src` into this one:
        each session re-imported from its raw log in its own transaction (so a copy cut
        short resumes, and a session already here adds nothing), keeping its import time
        and its seal verdict.
        Returns counts."""
        stats = {"sessions": 0, "added": 0, "skipped": 0}
        try:
            for row in src._q(sql.SELECT_DEVICES):
                self._db.execute(sql.UPSERT_DEVICE, (row["device_id"], row["fw_version"],
                                                     row["first_seen"], row["last_seen"]))
            for rep in src.reps():
                self._db.execute(sql.UPSERT_REP, (rep["rep_id"], rep["team"]))
        except _db_errors() as e:
            raise self._error(e) from None
        for a in src.assignments():
            self.assign(a["device_id"], a["rep_id"], a["since"])
        last = 0
        while True:
            page = src._q(sql.RAW_PAGE, (last,))
            if not page:
                return stats
            for row in page:
                verdict = src.seal(row["pk"])    # the pull's seal verdict goes along
                _, added = self.import_session(bytes(row["raw"]),
                                               imported_at=row["imported_at"],
                                               seal=verdict if verdict[0] else None)
                stats["sessions"] += 1
                stats["added" if added else "skipped"] += 1
                last = row["pk"]
            if say is not None:
                say("%d sessions copied" % stats["sessions"])


def parse_day(text, option):
    """Local midnight of YYYY-MM-DD as unix seconds, or the one-line error."""
    try:
        return int(dt.datetime.strptime(text, "%Y-%m-%d").timestamp())
    except ValueError:
        raise CommandError(option, f"{text!r} is not YYYY-MM-DD", code=2) from None


def _when(start_time):
    if start_time <= 0:
        return "with the clock unset"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(start_time))


def _plain(v):
    """PostgreSQL's sums of bigints are numeric: back to int (or float)."""
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    return v


class _Exists(Exception):
    """The session's key was taken by a concurrent import: roll back, compare crc32."""


def open_for_cli(target, create=True):
    """Archive(target), with any failure as the one-line CommandError naming the archive."""
    try:
        return Archive(target, create=create)
    except ArchiveError as e:
        raise CommandError(error_name(target), str(e), code=2) from None


def error_name(target):
    """What an error names: a URL without its password, or a folder's SQLite file."""
    return display_name(target) if is_url(target) else str(Path(target) / DB_NAME)
