"""`callcue devices`, `device`, `logs list|pull|export` end to end against the virtual dongle
over a pseudo-terminal: an interrupted pull resumes, a second pull adds nothing, --delete
deletes only what the archive verifiably holds, and errors are one line naming the port."""

import csv
import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import time
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import serial
import soundfile

from callcue.analysis import synth
from callcue.archive.store import Archive
from callcue.device.client import Device
from firmware.logformat import decode_log, decode_session

from ..conftest import one_line_error
from ..host_sim import PtySim


@pytest.fixture(scope="module")
def dongle(tmp_path_factory, micropython):
    """Two calls (a 20 s one, 35 s of silence that ends it, a 15 s one) played through the
    virtual dongle; its two session logs wait on the pty to be pulled."""
    folder = tmp_path_factory.mktemp("dongle")
    pcm, _ = synth.render("rep-interrupts", seed=2, duration_s=20.0)
    gap = np.zeros((35 * 8000, 2), np.int16)
    pcm = np.concatenate([pcm, gap, pcm[: 15 * 8000], gap[: 8000 * 32]])
    wav = folder / "two-calls.wav"
    soundfile.write(wav, pcm, 8000, subtype="PCM_16")
    sim = PtySim(wav, "--speed", "0", "--storage", folder / "flash")
    try:
        sim.wait_done()
        yield sim
    finally:
        sim.close()


def test_devices_and_device_commands(dongle, callcue):
    r = callcue("devices", "--port", dongle.port)
    assert r.returncode == 0, r.stderr
    assert dongle.port in r.stdout and "cc-sim-0001" in r.stdout and "0.1.0" in r.stdout

    r = callcue("device", "info", "--port", dongle.port, "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["device_id"] == "cc-sim-0001" and info["capture_done"]

    # for people: the clock as a local time, the calibration in words, every counter
    r = callcue("device", "info", "--port", dongle.port)
    assert r.returncode == 0, r.stderr
    shown = dict(line.split(None, 1) for line in r.stdout.splitlines()
                 if not line.startswith(("  ", "counters", "sealing key")))
    assert shown["device"] == "cc-sim-0001"
    clock = dt.datetime.strptime(shown["clock"], "%Y-%m-%d %H:%M:%S %z")
    assert abs(clock.timestamp() - info["time"]) <= 5
    assert shown["calibration"].startswith("not calibrated")
    assert "\ntime " not in r.stdout and "None" not in r.stdout
    for key in ("overruns", "records_logged", "talkovers"):
        assert "  %-26s %d" % (key, info[key]) in r.stdout

    r = callcue("device", "config", "set", "fast_on_csps=520", "--port", dongle.port, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["params"] == {"fast_on_csps": 520}
    r = callcue("device", "config", "get", "--port", dongle.port, "--json")
    assert json.loads(r.stdout)["effective"]["fast_on_csps"] == 520
    # one parameter a line, in the engine's order, the default beside an override
    from dsp.params import TABLE

    r = callcue("device", "config", "get", "--port", dongle.port)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert [line.split()[0] for line in lines[:len(TABLE)]] == [row[0] for row in TABLE]
    assert lines[[row[0] for row in TABLE].index("fast_on_csps")].split() == [
        "fast_on_csps", "520", "(5.20", "syl/s;", "default", "550)"]
    assert lines[0].split() == ["vad_on_db", "9"]
    assert "1 override(s) stored; calibration: not calibrated" in r.stdout
    r = callcue("device", "config", "set", "fast_on_csps=default", "--port", dongle.port,
                "--json")
    assert json.loads(r.stdout)["params"] == {}

    r = callcue("device", "time", "set", "--unix", "1800000000", "--port", dongle.port,
                "--json")
    assert r.returncode == 0, r.stderr
    assert abs(json.loads(r.stdout)["time"] - 1800000000) <= 2

    one_line_error(callcue("device", "config", "set", "nonsense=1", "--port", dongle.port),
                    dongle.port, "nonsense")
    one_line_error(callcue("device", "config", "set", "fast_on_csps=fast",
                            "--port", dongle.port), "integer")


def test_errors_name_the_port_and_never_hang(tmp_path, callcue):
    one_line_error(callcue("device", "info", "--port", tmp_path / "ttyACM9"),
                    "ttyACM9", "callcue devices")
    # a port where something answers garbage: a clear error within the request timeout
    master, slave = os.openpty()
    try:
        os.write(master, b"\x00\xffgarbage\r\nmore garbage\n" * 50)
        r = callcue("logs", "list", "--port", os.ttyname(slave), timeout=60)
        one_line_error(r, os.ttyname(slave), "callcue flash")
    finally:
        os.close(master)
        os.close(slave)
    one_line_error(callcue("logs", "export", "--archive", tmp_path / "none"), "logs pull")


class _Unplugged(Exception):
    pass


class FlakyPort:
    """A serial port that 'vanishes' after `writes` requests (as a yanked USB cable)."""

    def __init__(self, port, writes):
        self.port, self.left = port, writes

    def __getattr__(self, name):
        return getattr(self.port, name)

    def __setattr__(self, name, value):
        if name in ("port", "left"):
            object.__setattr__(self, name, value)
        else:
            setattr(self.port, name, value)

    def write(self, data):
        if b"get_session" in data:
            self.left -= 1
            if self.left < 0:
                raise serial.SerialException("device reports readiness to read but "
                                             "returned no data (unplugged?)")
        return self.port.write(data)


def test_pull_resume_idempotent_delete_export(dongle, tmp_path, callcue, monkeypatch):
    from callcue.archive import pull

    port = dongle.port
    r = callcue("logs", "list", "--port", port, "--json")
    assert r.returncode == 0, r.stderr
    on_device = json.loads(r.stdout)
    assert len(on_device) == 2
    total_records = sum(s["records"] for s in on_device)

    archive = tmp_path / "archive"
    # 1. interrupted: the link goes away after a few chunks of the first session
    with Device(FlakyPort(serial.serial_for_url(port, timeout=0.05), writes=4)) as dev, \
            Archive(archive) as ar:
        with pytest.raises(serial.SerialException):
            pull.pull_all(dev, ar, chunk=64, say=lambda msg: None)
        parts = list((archive / "partial").iterdir())
        assert len(parts) == 1 and parts[0].stat().st_size == 4 * 64
        assert ar.counts()["sessions"] == 0

    # 2. resumed by the command: continues at byte 256, imports both sessions
    r = callcue("logs", "pull", "--port", port, "--archive", archive, "--chunk", "64")
    assert r.returncode == 0, r.stderr
    assert "resuming at byte 256" in r.stdout
    assert "2 new, 0 already archived, 0 deleted" in r.stdout
    # the device's clock (unset, or set far off by the test above) now follows the host's
    assert "set the device clock to this host's" in r.stdout
    with Device.open(port) as dev:
        assert abs(dev.info()["time"] - time.time()) <= 3
    assert not list((archive / "partial").iterdir())

    db = sqlite3.connect(archive / "callcue.sqlite")
    counts = [db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
              for t in ("devices", "sessions", "records", "events")]
    # the device's `records` count every 32-byte record: seconds and talk-over events
    assert counts[:2] == [1, 2] and counts[2] + counts[3] == total_records
    assert counts[3] >= 1
    # the archived records and events are the device's log, decoded by its own format
    for pk, raw, fmt in db.execute("SELECT pk, raw, log_format FROM sessions"):
        hdr, recs, events = decode_log(raw)
        assert len(recs) > 10 and fmt == hdr["format_version"] == 2
        assert decode_session(raw)[1] == recs
        rows = db.execute("SELECT seq, start_f, end_f, interrupter FROM events WHERE "
                          "session_pk=? ORDER BY seq", (pk,)).fetchall()
        assert rows == [(e["seq"], e["start_f"], e["end_f"], e["interrupter"])
                        for e in events]

    # 3. pulled again: adds nothing
    r = callcue("logs", "pull", "--port", port, "--archive", archive)
    assert r.returncode == 0, r.stderr
    assert "0 new, 2 already archived, 0 deleted" in r.stdout
    assert [db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("devices", "sessions", "records", "events")] == counts

    # 4. exports, in people's units, checked against the archived device-unit rows
    _check_exports(db, archive, tmp_path, callcue, monkeypatch, total_records)

    # 5. --delete: the device deletes what the archive verifiably holds; nothing is left
    r = callcue("logs", "pull", "--port", port, "--archive", archive, "--delete")
    assert r.returncode == 0, r.stderr
    assert "2 deleted from the device" in r.stdout
    r = callcue("logs", "list", "--port", port, "--json")
    assert json.loads(r.stdout) == []
    assert [db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("devices", "sessions", "records", "events")] == counts
    db.close()


TZ = "Europe/Paris"    # not this machine's UTC: the times must be local, with the offset


def _expected_rows(db, rep=None):
    """What `logs export` must write, computed here from the archived device-unit rows:
    syllables/s, Hz, semitones, cue names, local times, None where the device had -1."""
    from zoneinfo import ZoneInfo

    def local(unix):
        return dt.datetime.fromtimestamp(unix, ZoneInfo(TZ)).isoformat(timespec="seconds")

    cues = ("none", "talkover", "fast", "flat", "dead_air")
    out = []
    for pk, dev, sid, start in db.execute("SELECT pk, device_id, session_id, start_time "
                                          "FROM sessions ORDER BY start_time, pk"):
        recs = db.execute("SELECT seq, t_s, rep_active_ms, customer_active_ms, overlap_ms, "
                          "syllables, rate_csps, pitch_cents, pitch_sd_cents, cue, talkovers "
                          "FROM records WHERE session_pk=? ORDER BY seq", (pk,)).fetchall()
        t0 = recs[0][1]
        base = {"device": dev, "session": sid, "rep": rep, "t_s": None,
                "rep_talk_ms": None, "customer_talk_ms": None, "overlap_ms": None,
                "syllables": None, "rate_syl_s": None, "pitch_hz": None,
                "pitch_sd_st": None, "cue": None, "talkovers": None, "start_s": None,
                "end_s": None, "interrupter": None}
        rows = []
        for seq, t, rep_ms, cust_ms, both, syl, rate, cents, sd, cue, n_to in recs:
            rows.append((seq, {**base, "kind": "second", "time": local(start + t - t0),
                               "t_s": t, "rep_talk_ms": rep_ms, "customer_talk_ms": cust_ms,
                               "overlap_ms": both, "syllables": syl,
                               "rate_syl_s": rate / 100 if rate >= 0 else None,
                               "pitch_hz": round(55 * 2 ** (cents / 1200), 1)
                               if cents >= 0 else None,
                               "pitch_sd_st": sd / 100 if sd >= 0 else None,
                               "cue": cues[cue], "talkovers": n_to}))
        for seq, a, b, who in db.execute("SELECT seq, start_f, end_f, interrupter FROM "
                                         "events WHERE session_pk=?", (pk,)):
            rows.append((seq, {**base, "kind": "talkover", "time": local(
                start + a // 100 - t0), "t_s": a // 100, "start_s": a / 100,
                "end_s": b / 100, "interrupter": ("rep", "customer")[who]}))
        out += [row for _, row in sorted(rows, key=lambda x: x[0])]
    return out


def _csv_cell(v):
    return "" if v is None else str(v)


def _check_exports(db, archive, tmp_path, callcue, monkeypatch, total_records):
    from callcue.device import human

    monkeypatch.setenv("TZ", TZ)
    want = _expected_rows(db)
    assert len(want) == total_records
    seconds = [x for x in want if x["kind"] == "second"]
    # the call has what a supervisor looks at: a rate, a pitch, a spread, a cue, talk-overs
    assert any(x["rate_syl_s"] for x in seconds) and any(x["pitch_hz"] for x in seconds)
    assert any(x["pitch_sd_st"] for x in seconds) and {x["cue"] for x in seconds} > {"none"}
    assert any(x["rate_syl_s"] is None for x in seconds)    # before a rate is defined
    assert {x["interrupter"] for x in want if x["kind"] == "talkover"} <= {"rep", "customer"}

    out = tmp_path / "calls.csv"
    r = callcue("logs", "export", "--archive", archive, "--out", out)   # csv by default
    assert r.returncode == 0, r.stderr
    assert "wrote %d rows" % total_records in r.stdout
    with out.open(newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == human.NAMES
        rows = list(reader)
    assert rows == [{k: _csv_cell(v) for k, v in x.items()} for x in want]
    assert not any(name in rows[0] for name in ("rate_csps", "pitch_sd_cents", "unix_time"))

    r = callcue("logs", "export", "--archive", archive, "--format", "jsonl")
    assert r.returncode == 0, r.stderr
    assert [json.loads(line) for line in r.stdout.splitlines()] == want

    # a rep assigned to the dongle shows in every row of its calls from then on
    r = callcue("archive", "assign", "cc-sim-0001", "ana", "--since", "2000-01-01",
                "--archive", archive)
    assert r.returncode == 0, r.stderr
    r = callcue("logs", "export", "--archive", archive, "--format", "jsonl")
    assert [json.loads(line) for line in r.stdout.splitlines()] == _expected_rows(db, "ana")

    # parquet (pyarrow is in the dev extras): the same rows, typed, read back by pyarrow
    import pyarrow.parquet

    r = callcue("logs", "export", "--archive", archive, "--format", "parquet", "--out",
                tmp_path / "calls.parquet")
    assert r.returncode == 0, r.stderr
    table = pyarrow.parquet.read_table(tmp_path / "calls.parquet")
    assert tuple(table.column_names) == human.NAMES
    assert table.to_pylist() == _expected_rows(db, "ana")
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    # ... and where pyarrow is not installed (an optional extra): one line saying so
    blocked = ("import sys; sys.modules['pyarrow'] = None; from callcue.cli import main; "
               "sys.exit(main(sys.argv[1:]))")
    r = subprocess.run([sys.executable, "-c", blocked, "logs", "export", "--archive",
                        str(archive), "--format", "parquet", "--out",
                        str(tmp_path / "none.parquet")], capture_output=True, text=True,
                       timeout=60)
    one_line_error(r, "--format parquet", "pyarrow")
    assert not (tmp_path / "none.parquet").exists()

    # logs list --archive: one line per session, with the report's mark
    keys = tmp_path / "no-keys"
    r = callcue("logs", "list", "--archive", archive, "--keys", keys)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["device", "rep", "session", "start", "duration", "records",
                                "mark"]
    sessions = db.execute("SELECT session_id, start_time, n_records, pk FROM sessions "
                          "ORDER BY start_time, pk").fetchall()
    assert len(lines) == 1 + len(sessions)
    for line, (sid, start, n, pk) in zip(lines[1:], sessions):
        n_ev = db.execute("SELECT COUNT(*) FROM events WHERE session_pk=?",
                          (pk,)).fetchone()[0]
        local = dt.datetime.fromtimestamp(start, ZoneInfo(TZ)).isoformat(timespec="seconds")
        assert line.split() == ["cc-sim-0001", "ana", str(sid), local,
                                "%d:%02d" % divmod(n, 60), str(n + n_ev), "not", "signed"]
    r = callcue("logs", "list", "--archive", archive, "--keys", keys, "--json")
    listed = json.loads(r.stdout)
    assert [(x["session"], x["duration_s"], x["mark"]) for x in listed] == [
        (sid, n, "not signed") for sid, _, n, _ in sessions]
    one_line_error(callcue("logs", "list", "--archive", tmp_path / "nothing"), "logs pull")
    r = callcue("logs", "list", "--archive", archive, "--port", "/dev/null")
    assert r.returncode == 2 and "not allowed with" in r.stderr


# The archive schema before talk-over events (schema version 0), as callcue wrote it.
_SCHEMA_V0 = """
CREATE TABLE devices (device_id TEXT PRIMARY KEY, fw_version TEXT, first_seen INTEGER,
    last_seen INTEGER);
CREATE TABLE sessions (pk INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices(device_id), session_id INTEGER NOT NULL,
    start_time INTEGER NOT NULL, fw_version TEXT, cal_hash INTEGER, bytes INTEGER NOT NULL,
    crc32 INTEGER NOT NULL, n_records INTEGER NOT NULL, imported_at INTEGER NOT NULL,
    raw BLOB NOT NULL, UNIQUE (device_id, session_id, start_time));
CREATE TABLE records (session_pk INTEGER NOT NULL REFERENCES sessions(pk),
    seq INTEGER NOT NULL, t_s INTEGER NOT NULL,
    rep_active_ms INTEGER, customer_active_ms INTEGER, overlap_ms INTEGER,
    syllables INTEGER, rate_csps INTEGER, pitch_cents INTEGER, pitch_sd_cents INTEGER,
    cue INTEGER, overruns INTEGER, talkovers INTEGER, PRIMARY KEY (session_pk, seq));
"""


def test_old_archive_migrates(tmp_path):
    """An archive made before talk-over events (schema 0, a format-1 log in it) opens,
    gains the events table and log_format, keeps its rows, and takes new logs; the
    migration runs once and a format-2 log's events are filled from its raw bytes."""
    from array import array

    from callcue.archive.store import SCHEMA_VERSION
    from firmware import logformat as sl
    from firmware.protocol import crc32

    from ..firmware.test_sessionlog import v1_header

    buf = bytearray(32)
    body = b""
    for k in range(4):
        sl.encode_record_into(buf, k, array("i", [k, 1000, 500, 200, 3, 400, 2400, 90, 1]),
                              0, k & 1)
        body += bytes(buf)
    old_log = v1_header("cc-old", "0.0.9", 3, 1700000000, 4) + body
    new_log = bytearray(sl.encode_header("cc-old", "0.1.0", 3, 1700000100, 5)) + body[:64]
    sl.encode_event_into(buf, 2, 150, 240, 1)
    new_log += bytes(buf)
    folder = tmp_path / "old"
    folder.mkdir()
    db = sqlite3.connect(folder / "callcue.sqlite")
    db.executescript(_SCHEMA_V0)
    db.execute("INSERT INTO devices VALUES ('cc-old', '0.0.9', 1, 1)")
    for pk, (log, n) in enumerate(((old_log, 4), (bytes(new_log), 2)), 1):
        hdr, recs = decode_session(log)
        db.execute("INSERT INTO sessions VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                   (pk, "cc-old", hdr["session_id"], hdr["start_time"], hdr["fw_version"], 3,
                    len(log), crc32(log), n, 1, log))
        db.executemany("INSERT INTO records VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                       [(pk, r["seq"], r["t_s"], r["rep_active_ms"], r["customer_active_ms"],
                         r["overlap_ms"], r["syllables"], r["rate_csps"], r["pitch_cents"],
                         r["pitch_sd_cents"], r["cue"], r["overruns"], r["talkovers"])
                        for r in recs])
    db.commit()
    db.close()
    for _ in range(2):                       # the second open finds nothing to migrate
        with Archive(folder) as ar:
            assert ar.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
            s = ar.sessions()
            assert [x["log_format"] for x in s] == [1, 2]
            assert ar.events(1) == [] and len(ar.records(1)) == 4
            assert ar.events(2) == [{"seq": 2, "start_f": 150, "end_f": 240,
                                     "interrupter": 1}]
            assert ar.verify(1, crc32(old_log)) and ar.verify(2, crc32(bytes(new_log)))
            assert ar.counts() == {"devices": 1, "sessions": 2, "records": 6, "events": 1}
            # importing either again adds nothing
            assert ar.import_session(old_log) == (1, False)
            assert ar.import_session(bytes(new_log)) == (2, False)
