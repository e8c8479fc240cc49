"""The supervisor's archive: a folder holding `callcue.sqlite` (devices, sessions, their
per-second records and talk-over events, in device units) and `partial/` (bytes of
interrupted pulls).

A session is identified by (device_id, session_id, start_time): the device may reuse a
session id once the old one is deleted, never with the same start time. Importing a
session already archived with the same crc32 adds nothing; with a different crc32 it is an
error (the device's log changed under us), never a silent overwrite. The raw log bytes are
kept too, so any field can be decoded again later with the device's own log format.

Schema versions (SQLite `PRAGMA user_version`): 0, the first archives (no events table);
1 adds `events` (one row per talk-over: frames, interrupter) and `sessions.log_format`.
Opening an older archive migrates it in place, filling both from the stored raw logs
(logs of format 1 have no events), so nothing has to be pulled again.
"""

import sqlite3
import time
from pathlib import Path

from callcue.firmware.protocol import crc32
from callcue.firmware.sessionlog import decode_log

DB_NAME = "callcue.sqlite"
SCHEMA_VERSION = 1
RECORD_COLUMNS = ("seq", "t_s", "rep_active_ms", "customer_active_ms", "overlap_ms",
                  "syllables", "rate_csps", "pitch_cents", "pitch_sd_cents", "cue",
                  "overruns", "talkovers")
EVENT_COLUMNS = ("seq", "start_f", "end_f", "interrupter")
INTERRUPTERS = ("rep", "customer")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY,
    fw_version TEXT,
    first_seen INTEGER,
    last_seen INTEGER
);
CREATE TABLE IF NOT EXISTS sessions (
    pk INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices(device_id),
    session_id INTEGER NOT NULL,
    start_time INTEGER NOT NULL,
    fw_version TEXT,
    cal_hash INTEGER,
    bytes INTEGER NOT NULL,
    crc32 INTEGER NOT NULL,
    n_records INTEGER NOT NULL,
    imported_at INTEGER NOT NULL,
    raw BLOB NOT NULL,
    UNIQUE (device_id, session_id, start_time)
);
CREATE TABLE IF NOT EXISTS records (
    session_pk INTEGER NOT NULL REFERENCES sessions(pk),
    seq INTEGER NOT NULL, t_s INTEGER NOT NULL,
    rep_active_ms INTEGER, customer_active_ms INTEGER, overlap_ms INTEGER,
    syllables INTEGER, rate_csps INTEGER, pitch_cents INTEGER, pitch_sd_cents INTEGER,
    cue INTEGER, overruns INTEGER, talkovers INTEGER,
    PRIMARY KEY (session_pk, seq)
);
CREATE TABLE IF NOT EXISTS events (
    session_pk INTEGER NOT NULL REFERENCES sessions(pk),
    seq INTEGER NOT NULL, start_f INTEGER NOT NULL, end_f INTEGER NOT NULL,
    interrupter INTEGER NOT NULL,
    PRIMARY KEY (session_pk, seq)
);
"""


class ArchiveError(Exception):
    pass


class Archive:
    def __init__(self, folder, create=True):
        self.folder = Path(folder)
        path = self.folder / DB_NAME
        if not create and not path.is_file():
            raise ArchiveError(f"no archive here ({DB_NAME} missing); pull logs into it with "
                               "`callcue logs pull --archive DIR`")
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "partial").mkdir(exist_ok=True)
        self.db = sqlite3.connect(path, timeout=10)
        self.db.row_factory = sqlite3.Row
        self.db.executescript(_SCHEMA)
        self._migrate()

    def _migrate(self):
        """Bring an archive of an older schema version up to SCHEMA_VERSION."""
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise ArchiveError(f"the archive is schema version {version}, this callcue knows "
                               f"{SCHEMA_VERSION}; update callcue to open it")
        if version == SCHEMA_VERSION:
            return
        with self.db:
            cols = {r["name"] for r in self.db.execute("PRAGMA table_info(sessions)")}
            if "log_format" not in cols:
                self.db.execute("ALTER TABLE sessions ADD COLUMN log_format INTEGER")
            for row in self.db.execute("SELECT pk, raw FROM sessions").fetchall():
                hdr, _, events = decode_log(row["raw"])
                self.db.execute("UPDATE sessions SET log_format=? WHERE pk=?",
                                (hdr["format_version"], row["pk"]))
                self.db.executemany(
                    "INSERT OR IGNORE INTO events VALUES (?,?,?,?,?)",
                    [(row["pk"], *(e[c] for c in EVENT_COLUMNS)) for e in events])
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self):
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ partial pulls

    def partial_path(self, device_id, sid):
        return self.folder / "partial" / f"{device_id}-s{sid:06d}.part"

    def find(self, device_id, session_id, start_time):
        return self.db.execute(
            "SELECT pk, crc32, n_records FROM sessions WHERE device_id=? AND session_id=? "
            "AND start_time=?", (device_id, session_id, start_time)).fetchone()

    # ------------------------------------------------------------------ import

    def import_session(self, data):
        """Import one pulled session log (bytes). Returns (pk, added): added is False if
        it was already archived (same crc32). Raises ArchiveError for a log that does not
        decode or that differs from the archived copy."""
        try:
            hdr, recs, events = decode_log(data)
        except ValueError as e:
            raise ArchiveError(f"the session log does not decode: {e}") from None
        crc = crc32(data)
        key = (hdr["device_id"], hdr["session_id"], hdr["start_time"])
        old = self.find(*key)
        if old is not None:
            if old["crc32"] != crc:
                raise ArchiveError(
                    f"session {key[1]} of {key[0]} is archived with crc32 {old['crc32']:08x} "
                    f"but the device's is {crc:08x}; move the archive aside to pull it again")
            return old["pk"], False
        now = int(time.time())
        with self.db:
            self.db.execute(
                "INSERT INTO devices VALUES (?, ?, ?, ?) ON CONFLICT(device_id) DO UPDATE "
                "SET fw_version=excluded.fw_version, last_seen=excluded.last_seen",
                (hdr["device_id"], hdr["fw_version"], now, now))
            cur = self.db.execute(
                "INSERT INTO sessions (device_id, session_id, start_time, fw_version, cal_hash,"
                " bytes, crc32, n_records, imported_at, raw, log_format) VALUES "
                "(?,?,?,?,?,?,?,?,?,?,?)",
                (*key, hdr["fw_version"], hdr.get("cal_hash"), len(data), crc, len(recs), now,
                 bytes(data), hdr["format_version"]))
            pk = cur.lastrowid
            self.db.executemany(
                "INSERT INTO records VALUES (?%s)" % (",?" * len(RECORD_COLUMNS)),
                [(pk, *(r[c] for c in RECORD_COLUMNS)) for r in recs])
            self.db.executemany(
                "INSERT INTO events VALUES (?%s)" % (",?" * len(EVENT_COLUMNS)),
                [(pk, *(e[c] for c in EVENT_COLUMNS)) for e in events])
        return pk, True

    def verify(self, pk, crc):
        """True if session `pk` is stored whole: raw bytes with crc32 `crc`, and as many
        record and event rows as the log decodes to."""
        row = self.db.execute("SELECT raw, n_records FROM sessions WHERE pk=?",
                              (pk,)).fetchone()
        if row is None or crc32(row["raw"]) != crc:
            return False
        n = self.db.execute("SELECT COUNT(*) FROM records WHERE session_pk=?",
                            (pk,)).fetchone()[0]
        n_ev = self.db.execute("SELECT COUNT(*) FROM events WHERE session_pk=?",
                               (pk,)).fetchone()[0]
        _, recs, events = decode_log(row["raw"])
        return n == row["n_records"] == len(recs) and n_ev == len(events)

    # ------------------------------------------------------------------ queries

    def sessions(self, session=None, device=None, since=None):
        """Session rows (no raw bytes), oldest first, filtered by session pk or
        DEVICE:ID, device id, and start time >= since (unix s)."""
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
        sql = ("SELECT pk, device_id, session_id, start_time, fw_version, cal_hash, bytes, "
               "crc32, n_records, imported_at, log_format FROM sessions")
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [dict(r) for r in self.db.execute(sql + " ORDER BY start_time, pk", args)]

    def records(self, pk):
        return [dict(r) for r in self.db.execute(
            "SELECT %s FROM records WHERE session_pk=? ORDER BY seq" % ",".join(RECORD_COLUMNS),
            (pk,))]

    def events(self, pk):
        """Session `pk`'s talk-over events, oldest first: seq, start_f, end_f (engine
        frames of 10 ms, end exclusive; t_s * 100 is the same clock) and interrupter (0
        rep, 1 customer). Empty for a log of format 1 (see log_format)."""
        return [dict(r) for r in self.db.execute(
            "SELECT %s FROM events WHERE session_pk=? ORDER BY seq" % ",".join(EVENT_COLUMNS),
            (pk,))]

    def counts(self):
        q = self.db.execute
        return {"devices": q("SELECT COUNT(*) FROM devices").fetchone()[0],
                "sessions": q("SELECT COUNT(*) FROM sessions").fetchone()[0],
                "records": q("SELECT COUNT(*) FROM records").fetchone()[0],
                "events": q("SELECT COUNT(*) FROM events").fetchone()[0]}
