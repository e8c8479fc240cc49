"""The archive on both back ends: a folder's SQLite file and a real PostgreSQL server that the
tests start themselves (tests/pgserver.py). Each test runs on both (`archive_target`):
imports are whole and idempotent, concurrent pullers in separate processes lose and
duplicate nothing (and migrate a fresh database once), the per-rep and per-team summary
computed in SQL equals the per-call figures computed in Python, rep assignments keep their
history, an SQLite archive copies into PostgreSQL, and bad targets get one-line errors
with nothing written."""

import csv
import multiprocessing
import statistics
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from callcue.analysis.summary import call_metrics
from callcue.archive.store import SCHEMA_VERSION, Archive, ArchiveError, is_url
from dsp.cues import CUE_NAMES
from firmware.logformat import decode_log
from firmware.protocol import crc32

from .. import synthlogs
from ..conftest import one_line_error, run_callcue

T0 = 1_790_000_000          # a start time in 2026
DAY = 86400


def _logs(n_devices=3, calls=4, seconds=120):
    """Logs of `calls` calls per device, one a day; the last device's log format 2 has
    events, and so have the others (synthlogs writes format-2 logs). The second device
    lost 40 frames before its first call: its counter starts there on every call."""
    out = []
    for d in range(n_devices):
        for c in range(calls):
            body = synthlogs.body(seconds + 7 * c, seed=100 * d + c,
                                  overruns_from=40 if d == 1 else 0)
            out.append(synthlogs.log(f"cc-{d:04d}", c + 1, T0 + c * DAY + d * 60, body))
    return out


def test_import_whole_idempotent_verified(archive_target):
    logs = _logs()
    with Archive(archive_target) as ar:
        assert ar.schema_version() == SCHEMA_VERSION
        pks = [ar.import_session(data) for data in logs]
        assert all(added for _, added in pks)
        assert [ar.import_session(data) for data in logs] == [(pk, False) for pk, _ in pks]
        want = {"devices": 3, "sessions": len(logs), "records": 0, "events": 0}
        for (pk, _), data in zip(pks, logs):
            hdr, recs, events = decode_log(data)
            assert ar.records(pk) == recs and ar.events(pk) == events
            assert ar.verify(pk, crc32(data)) and not ar.verify(pk, crc32(data) ^ 1)
            want["records"] += len(recs)
            want["events"] += len(events)
        assert want["events"] > 0 and ar.counts() == want
        s = ar.sessions(device="cc-0001")
        assert [x["session_id"] for x in s] == [1, 2, 3, 4]
        assert ar.sessions(session="cc-0001:2")[0]["pk"] == s[1]["pk"]
        assert len(ar.sessions(since=T0 + DAY, until=T0 + 2 * DAY)) == 3

        # bytes that do not decode: refused, nothing written
        with pytest.raises(ArchiveError, match="does not decode"):
            ar.import_session(b"XXXX" + logs[1][4:])
        assert ar.counts() == want
        # the same session id and start with other bytes (the device's ids restarted):
        # archived beside the first, with a warning; once
        hdr = decode_log(logs[0])[0]
        other = synthlogs.log(hdr["device_id"], hdr["session_id"], hdr["start_time"],
                              synthlogs.body(30, seed=999))
        warnings = []
        pk2, added = ar.import_session(other, warn=warnings.append)
        assert added and pk2 != pks[0][0] and len(warnings) == 1
        assert "session 1 of cc-0000" in warnings[0] and "both are kept" in warnings[0]
        assert ar.import_session(other, warn=warnings.append) == (pk2, False)
        assert ar.import_session(logs[0]) == (pks[0][0], False) and len(warnings) == 1
        assert [x["pk"] for x in ar.sessions(session="cc-0000:1")] == [pks[0][0], pk2]
        assert ar.records(pk2) == decode_log(other)[1] and ar.verify(pk2, crc32(other))
        assert ar.counts()["sessions"] == len(logs) + 1


def test_a_failed_import_leaves_nothing(archive_target):
    """A session whose rows cannot all be written leaves no session, record or device."""
    data = _logs(1, 1)[0]
    with Archive(archive_target) as ar:
        real = ar._db.insert_rows

        def fail_on_events(table, columns, rows):
            if table == "events":
                raise ArchiveError("disk full (simulated)")
            real(table, columns, rows)

        ar._db.insert_rows = fail_on_events
        with pytest.raises(ArchiveError, match="simulated"):
            ar.import_session(data)
        ar._db.insert_rows = real
        assert ar.counts() == {"devices": 0, "sessions": 0, "records": 0, "events": 0}
        assert ar.import_session(data)[1]


def test_concurrent_pullers_lose_and_duplicate_nothing(archive_target):
    """8 pullers in their own processes start together on a fresh archive (each migrates
    or waits for the one that does) and import overlapping sets: every session is in the
    archive exactly once, whole."""
    logs = _logs(n_devices=8, calls=6, seconds=60)
    # puller k takes devices k and k+1: every session is pulled by two desks at once
    shares = [[x for i, x in enumerate(logs) if i // 6 in (k, (k + 1) % 8)] for k in range(8)]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(8, mp_context=ctx) as ex:
        results = list(ex.map(synthlogs.import_worker, [archive_target] * 8, shares))
    assert [e for _, _, errors, _ in results for e in errors] == []
    assert sum(a for a, _, _, _ in results) == len(logs)
    assert sum(s for _, s, _, _ in results) == len(logs)
    with Archive(archive_target, create=False) as ar:
        assert ar.schema_version() == SCHEMA_VERSION
        sessions = ar.sessions()
        assert len(sessions) == len(logs)
        assert len({(s["device_id"], s["session_id"], s["start_time"]) for s in sessions}) \
            == len(logs)
        by_key = {decode_log(x)[0]["device_id"] + ":%d" % decode_log(x)[0]["session_id"]: x
                  for x in logs}
        n_rec = n_ev = 0
        for s in sessions:
            data = by_key["%s:%d" % (s["device_id"], s["session_id"])]
            assert s["crc32"] == crc32(data) and ar.verify(s["pk"], crc32(data))
            _, recs, events = decode_log(data)
            n_rec += len(recs)
            n_ev += len(events)
        assert ar.counts() == {"devices": 8, "sessions": len(logs), "records": n_rec,
                               "events": n_ev}


def _expected_summary(logs, rep_of, team_of):
    """The summary computed in Python from the decoded logs: call_metrics per call,
    then summed (medians over every second) per rep and per team."""
    groups = {}
    for data in logs:
        hdr, recs, events = decode_log(data)
        rep = rep_of(hdr["device_id"], hdr["start_time"])
        for key in ((rep, team_of.get(rep, "")), (team_of.get(rep, ""),)):
            groups.setdefault(key, []).append((recs, events))
    out = {}
    for key, calls in groups.items():
        ms = [call_metrics(r, e) for r, e in calls]
        rates = [x["rate_csps"] for r, _ in calls for x in r if x["rate_csps"] >= 0]
        sds = [x["pitch_sd_cents"] for r, _ in calls for x in r if x["pitch_sd_cents"] >= 0]
        hours = [m["seconds"] / 3600 for m in ms]
        out[key] = {
            "calls": len(calls), "seconds": sum(m["seconds"] for m in ms),
            "rep_ms": sum(x["rep_active_ms"] for r, _ in calls for x in r),
            "customer_ms": sum(x["customer_active_ms"] for r, _ in calls for x in r),
            "overlap_ms": sum(x["overlap_ms"] for r, _ in calls for x in r),
            "talkovers": sum(m["talkovers"] for m in ms),
            "dead_air_s": sum(m["dead_air_s"] for m in ms),
            # a call is lossy when the counter rose during it (it counts from boot)
            "calls_with_overruns": sum(m["lost_frames"] > 0 for m in ms),
            **{f"cue_{c}": round(sum(m["cues_per_hour"][c] * h for m, h in zip(ms, hours)))
               for c in CUE_NAMES[1:]},
            "median_rate_csps": statistics.median(rates),
            "median_pitch_sd_cents": statistics.median(sds),
            "calls_format2": len(calls),
            "talkovers_rep": sum(m["talkovers_rep"] for m in ms),
            "talkovers_customer": sum(m["talkovers_customer"] for m in ms),
            "talkover_rep_f": round(sum(m["talkover_rep_s"] for m in ms) * 100),
            "talkover_customer_f": round(sum(m["talkover_customer_s"] for m in ms) * 100),
        }
    return out


def test_summary_in_sql_equals_per_call_metrics(archive_target):
    """Reps and teams from assignments with history (cc-0000 changes hands on day 2, cc-0002
    is never assigned): the SQL figures equal call_metrics summed in Python."""
    logs = _logs(n_devices=3, calls=4, seconds=150)
    with Archive(archive_target) as ar:
        for data in logs:
            ar.import_session(data)
        ar.assign("cc-0000", "ana", 0, team="north")
        ar.assign("cc-0000", "ben", T0 + 2 * DAY - 3600, team="south")
        ar.assign("cc-0001", "cleo", 0, team="north")
        assert [(a["device_id"], a["rep_id"], a["team"]) for a in ar.assignments()] == [
            ("cc-0000", "ana", "north"), ("cc-0000", "ben", "south"),
            ("cc-0001", "cleo", "north")]
        team_of = {"ana": "north", "ben": "south", "cleo": "north"}

        def rep_of(dev, start):
            if dev == "cc-0000":
                return "ben" if start >= T0 + 2 * DAY - 3600 else "ana"
            return "cleo" if dev == "cc-0001" else "device:" + dev

        want = _expected_summary(logs, rep_of, team_of)
        got = ar.summary()
        reps = {(r["rep_id"], r["team"]): r for r in got["reps"]}
        teams = {(r["team"],): r for r in got["teams"]}
        assert set(reps) | set(teams) == set(want)
        for key, w in want.items():
            g = (reps if len(key) == 2 else teams)[key]
            assert {k: g[k] for k in w} == pytest.approx(w), key

        # one team, and a date range: only those calls
        north = ar.summary(team="north", since=T0 + DAY, until=T0 + 3 * DAY)
        assert [r["team"] for r in north["teams"]] == ["north"]
        assert {r["rep_id"]: r["calls"] for r in north["reps"]} == {"ana": 1, "cleo": 2}
        assert ar.summary(team="nobody")["teams"] == []
        assert sum(r["calls"] for r in ar.summary()["teams"]) == len(logs)


def test_summary_report_and_csv(archive_target, tmp_path, callcue):
    with Archive(archive_target) as ar:
        for data in _logs():
            ar.import_session(data)
    r = callcue("archive", "assign", "cc-0000", "ana", "--team", "north",
                "--archive", archive_target)
    assert r.returncode == 0, r.stderr
    r = callcue("archive", "assign", "cc-0001", "ben", "--team", "north", "--since",
                "2026-01-01", "--archive", archive_target)
    assert r.returncode == 0, r.stderr
    r = callcue("archive", "reps", "--archive", archive_target)
    assert r.returncode == 0 and "ana" in r.stdout and "2026-01-01" in r.stdout, r.stderr
    out, out_csv = tmp_path / "s.html", tmp_path / "s.csv"
    r = callcue("report", "--archive", archive_target, "--summary", "--team", "north",
                "--out", out, "--csv", out_csv)
    assert r.returncode == 0, r.stderr
    assert "2 rep(s) in 1 team(s), 8 call(s)" in r.stdout
    rows = list(csv.DictReader(out_csv.open()))
    assert [(x["team"], x["rep"], x["calls"]) for x in rows] == [
        ("north", "", "8"), ("north", "ana", "4"), ("north", "ben", "4")]
    assert 0 < float(rows[0]["talk_ratio"]) < 1 and float(rows[1]["median_rate_sps"]) > 3
    text = out.read_text()
    assert "<h2>Reps</h2>" in text and "ana" in text and "device:cc-0002" not in text
    r = callcue("report", "--archive", archive_target, "--summary", "--out", out)
    assert r.returncode == 0 and "3 rep(s) in 2 team(s), 12 call(s)" in r.stdout, r.stderr
    assert "device:cc-0002" in out.read_text() and "(no team)" in out.read_text()
    # the per-call report and the export read the same archive
    r = callcue("report", "--archive", archive_target, "--device", "cc-0002", "--out", out)
    assert r.returncode == 0 and "4 call(s)" in r.stdout, r.stderr
    r = callcue("logs", "export", "--archive", archive_target, "--format", "csv",
                "--out", tmp_path / "e.csv")
    assert r.returncode == 0, r.stderr
    r = callcue("archive", "info", "--archive", archive_target, "--json")
    assert r.returncode == 0 and '"sessions": 12' in r.stdout, r.stderr
    one_line_error(callcue("report", "--archive", archive_target, "--summary", "--team",
                            "nobody", "--out", out), "no archived calls")
    # the per-call report filters by team too (the team table opens it)
    r = callcue("report", "--archive", archive_target, "--team", "north", "--out", out)
    assert r.returncode == 0 and "8 call(s) of 2 rep(s)" in r.stdout, r.stderr


def test_copy_sqlite_into_postgresql(pg_server, tmp_path, callcue):
    """`callcue archive copy`: every session, device and assignment, with import times;
    a second copy adds nothing; both archives export and summarise the same."""
    src = tmp_path / "desk"
    with Archive(src) as ar:
        for data in _logs():
            ar.import_session(data)
        ar.assign("cc-0001", "cleo", T0 + DAY, team="north")
    dst = pg_server.create_database("copy_target")
    r = callcue("archive", "copy", src, dst)
    assert r.returncode == 0, r.stderr
    assert "copied 12 session(s)" in r.stdout and "12 new, 0 already there" in r.stdout
    r = callcue("archive", "copy", src, dst)
    assert r.returncode == 0 and "0 new, 12 already there" in r.stdout, r.stderr
    with Archive(src) as a, Archive(dst) as b:
        assert a.counts() == b.counts()
        drop = ("pk",)
        assert [{k: v for k, v in s.items() if k not in drop} for s in a.sessions()] == \
            [{k: v for k, v in s.items() if k not in drop} for s in b.sessions()]
        assert a.assignments() == b.assignments()
        for x, y in zip(a.summary()["reps"], b.summary()["reps"]):
            assert x == pytest.approx(y)
    for name, target in (("a", src), ("b", dst)):
        r = callcue("logs", "export", "--archive", target, "--format", "csv",
                    "--out", tmp_path / f"{name}.csv")
        assert r.returncode == 0, r.stderr
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()
    one_line_error(callcue("archive", "copy", src, src), "source itself")


def test_bad_targets_one_line_nothing_written(pg_server, tmp_path, callcue):
    """A bad URL, a server that is not there, a database holding something else, and an
    archive of a newer schema: one line naming the archive and the reason, no traceback,
    exit code 2, and nothing created or changed."""
    import psycopg

    out = tmp_path / "r.html"
    cases = [
        ("postgresql://someone:s3cret@127.0.0.1:1/centre?connect_timeout=5", "refused"),
        ("postgresql://someone@/centre?host=/nonexistent/dir", "No such file"),
        ("mysql://db.example/centre", "not an archive"),
        (pg_server.url("no_such_db"), "does not exist"),
    ]
    for i, (url, why) in enumerate(cases):
        for argv in (("archive", "info", "--archive", url),
                     ("report", "--archive", url, "--summary", "--out", out),
                     ("logs", "export", "--archive", url, "--out", tmp_path / "e.csv"))[
                         :3 if i == 0 else 1]:
            r = callcue(*argv)
            one_line_error(r, why)
            assert r.returncode == 2 and "s3cret" not in r.stderr
            if url.startswith("postgresql://someone:"):
                assert "someone:***@127.0.0.1" in r.stderr
    assert not out.exists() and not (tmp_path / "e.csv").exists()

    # a database that holds another application's `sessions`: refused, left as it was
    other = pg_server.create_database("someone_else")
    with psycopg.connect(other, autocommit=True) as conn:
        conn.execute("CREATE TABLE sessions (id serial PRIMARY KEY, who text)")
    for argv in (("archive", "info", "--archive", other),
                 ("archive", "assign", "cc-1", "ana", "--archive", other)):
        one_line_error(callcue(*argv), "sessions", "callcue archive")
    with psycopg.connect(other) as conn:
        assert [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema='public'")
        ] == ["sessions"]

    # an empty database is no archive to read (but a pull makes one)
    empty = pg_server.create_database("empty")
    one_line_error(callcue("report", "--archive", empty, "--out", out), "no callcue archive")
    with psycopg.connect(empty) as conn:
        assert conn.execute("SELECT to_regclass('sessions')").fetchone()[0] is None

    # an archive of a newer schema than this callcue knows
    newer = pg_server.create_database("newer")
    Archive(newer).close()
    with psycopg.connect(newer, autocommit=True) as conn:
        conn.execute("UPDATE callcue_schema SET version = 99")
    one_line_error(callcue("archive", "info", "--archive", newer), "schema version 99",
                    "update callcue")


def test_server_gone_mid_read_is_one_line(tmp_path, callcue):
    """A server that stops between opening and reading: a one-line error, no partial file
    (a server of its own, so the others are untouched)."""
    from ..pgserver import PgServer, missing_reason

    if missing_reason():
        pytest.skip(missing_reason())
    server = PgServer().start()
    try:
        url = server.create_database("gone")
        with Archive(url) as ar:
            for data in _logs(1, 2):
                ar.import_session(data)
            server.stop()
            with pytest.raises(ArchiveError):
                ar.sessions()
    finally:
        server.stop()
    one_line_error(callcue("logs", "export", "--archive", url, "--out", tmp_path / "e.csv"))
    assert not list(tmp_path.iterdir())


def test_sqlite_default_unchanged(tmp_path):
    """The folder archive is still `callcue.sqlite` and `partial/` with PRAGMA user_version
    as the schema version, readable by plain sqlite3."""
    import sqlite3

    with Archive(tmp_path / "a") as ar:
        ar.import_session(_logs(1, 1)[0])
        assert ar.backend == "sqlite" and ar.partial_path("cc-0000", 1).parent.name == "partial"
    db = sqlite3.connect(tmp_path / "a" / "callcue.sqlite")
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 1
    assert np.array(db.execute("SELECT t_s FROM records ORDER BY seq").fetchall()).size > 100


@pytest.fixture(scope="module")
def dongle(tmp_path_factory, micropython):
    """A 20 s call played through the virtual dongle (then the silence that ends it); its
    session log waits on the pty to be pulled."""
    from callcue.analysis import synth

    from ..host_sim import PtySim

    folder = tmp_path_factory.mktemp("dongle")
    pcm, _ = synth.render("rep-interrupts", seed=4, duration_s=20.0)
    pcm = np.concatenate([pcm, np.zeros((33 * 8000, 2), np.int16)])
    import soundfile

    soundfile.write(folder / "call.wav", pcm, 8000, subtype="PCM_16")
    sim = PtySim(folder / "call.wav", "--speed", "0", "--storage", folder / "flash")
    try:
        sim.wait_done()
        yield sim
    finally:
        sim.close()


def test_logs_pull_from_the_virtual_dongle(dongle, archive_target, callcue):
    """`callcue logs pull` over the serial protocol into either back end; a second pull
    adds nothing."""
    r = callcue("logs", "pull", "--port", dongle.port, "--archive", archive_target)
    assert r.returncode == 0, r.stderr
    assert "1 new, 0 already archived" in r.stdout
    r = callcue("logs", "pull", "--port", dongle.port, "--archive", archive_target)
    assert r.returncode == 0 and "0 new, 1 already archived" in r.stdout, r.stderr
    with Archive(archive_target, create=False) as ar:
        (s,) = ar.sessions()
        assert s["device_id"] == "cc-sim-0001" and s["log_format"] == 2
        assert ar.counts()["records"] == s["n_records"] > 10


def test_concurrent_pulls_into_a_new_archive(archive_target, tmp_path, micropython):
    """4 `callcue logs pull` processes from 4 virtual dongles start at once on an archive
    that does not exist yet (all create and migrate it together), then pull again at
    once: no error, every session once and whole, nothing added the second time."""
    import sys

    import soundfile

    from bench import concurrent_pulls as cp

    wav = tmp_path / "silence.wav"
    soundfile.write(wav, np.zeros((8000, 2), np.int16), 8000, subtype="PCM_16")
    dongles, logs = cp.make_dongles(tmp_path, 4, 2)
    ports = [f"sim://{wav}?speed=0&storage={d}" for d in dongles]
    cmd = [sys.executable, "-m", "callcue"]
    for _ in range(2):
        assert cp.pull_all_at_once(cmd, ports, archive_target) == []
        assert cp.check_rows(archive_target, logs) == []
    with Archive(archive_target, create=False) as ar:
        assert ar.counts()["sessions"] == len(logs) == 8


def _as_schema_2(target):
    """Turn a new archive back into schema 2: sessions keyed without their crc32."""
    if is_url(target):
        import psycopg

        with psycopg.connect(target, autocommit=True) as conn:
            for (name,) in conn.execute("SELECT conname FROM pg_constraint WHERE conrelid = "
                                        "'sessions'::regclass AND contype = 'u'"):
                conn.execute(f'ALTER TABLE sessions DROP CONSTRAINT "{name}"')
            conn.execute("ALTER TABLE sessions ADD UNIQUE (device_id, session_id, "
                         "start_time)")
            conn.execute("UPDATE callcue_schema SET version = 2")
        return
    import sqlite3

    db = sqlite3.connect(f"{target}/callcue.sqlite", isolation_level=None)
    body = db.execute("SELECT sql FROM sqlite_master WHERE name='sessions'").fetchone()[0]
    db.execute("ALTER TABLE sessions RENAME TO s_old")
    db.execute(body.replace("start_time, crc32)", "start_time)"))
    db.execute("INSERT INTO sessions SELECT * FROM s_old")
    db.execute("DROP TABLE s_old")
    db.execute("PRAGMA user_version = 2")
    db.close()


def test_schema_2_migrates_to_sessions_keyed_with_crc(archive_target):
    """An archive of schema 2 (sessions keyed by device, id and start) is migrated by the
    first writer: every row kept, the same id and start with other content then fits."""
    logs = _logs(1, 3)
    with Archive(archive_target) as ar:
        pks = [ar.import_session(x)[0] for x in logs]
        counts = ar.counts()
    _as_schema_2(archive_target)
    with Archive(archive_target, create=False) as ar:   # a reader reads it as it is
        assert ar.schema_version() == 2 and ar.counts() == counts
    with Archive(archive_target) as ar:
        assert ar.schema_version() == SCHEMA_VERSION and ar.counts() == counts
        for pk, x in zip(pks, logs):
            assert ar.verify(pk, crc32(x)) and ar.import_session(x) == (pk, False)
        hdr = decode_log(logs[1])[0]
        other = synthlogs.log(hdr["device_id"], hdr["session_id"], hdr["start_time"],
                              synthlogs.body(20, seed=5))
        assert ar.import_session(other)[1]
        assert len(ar.sessions(session="cc-0000:2")) == 2


def test_restarted_ids_are_archived_side_by_side(archive_target, tmp_path, micropython):
    """A dongle whose session ids restarted with its clock unset: session 5 (start 0) is
    pulled, then another session 5 (start 0) with other calls in it: the second pull
    archives it beside the first with a warning line and exits 0 (was: an error on that
    and every later pull); a third pull adds nothing; --delete then deletes it."""
    import json

    import soundfile

    wav = tmp_path / "silence.wav"
    soundfile.write(wav, np.zeros((8000, 2), np.int16), 8000, subtype="PCM_16")
    dev = tmp_path / "dongle"
    (dev / "logs").mkdir(parents=True)
    (dev / "config.json").write_text(json.dumps({"version": 1, "device_id": "cc-reuse",
                                                 "params": {}}))
    port = f"sim://{wav}?speed=0&storage={dev}"
    first = synthlogs.log("cc-reuse", 5, 0, synthlogs.body(40, seed=1))
    second = synthlogs.log("cc-reuse", 5, 0, synthlogs.body(50, seed=2))
    log = dev / "logs" / "s000005.log"
    log.write_bytes(first)
    r = run_callcue("logs", "pull", "--port", port, "--archive", archive_target)
    assert r.returncode == 0 and "1 new, 0 already archived" in r.stdout, r.stderr
    log.write_bytes(second)
    r = run_callcue("logs", "pull", "--port", port, "--archive", archive_target)
    assert r.returncode == 0, r.stderr
    warn = [x for x in r.stdout.splitlines() if "warning" in x]
    assert len(warn) == 1 and warn[0].startswith("session 5: warning: session 5 of cc-reuse")
    assert "clock unset" in warn[0] and "both are kept" in warn[0]
    assert "1 new, 0 already archived" in r.stdout
    r = run_callcue("logs", "pull", "--port", port, "--archive", archive_target, "--delete")
    assert r.returncode == 0 and "0 new, 1 already archived, 1 deleted" in r.stdout, r.stderr
    assert "warning" not in r.stdout and not log.exists()
    with Archive(archive_target, create=False) as ar:
        s = ar.sessions(session="cc-reuse:5")
        assert [x["crc32"] for x in s] == [crc32(first), crc32(second)]
        assert all(ar.verify(x["pk"], x["crc32"]) for x in s)
