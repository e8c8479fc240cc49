"""A contact centre's archive in one PostgreSQL database: import and report at fleet size.

    .venv/bin/python bench/fleet_bench.py [--reps 500] [--calls 20] [--seconds 360]
        [--pullers 8] [--team-size 25] [--out DIR]

Starts a PostgreSQL server of its own in a temporary folder (tests/pgserver.py; server
settings as PostgreSQL ships them: fsync and synchronous commit on), then:
1. makes the centre's session logs with the firmware's log format (tests/synthlogs.py):
   one dongle per rep, --calls calls of --seconds each per rep over 60 days (a few
   dozen distinct call bodies under distinct headers);
2. imports them with --pullers processes at once, each its own share of the dongles,
   through Archive.import_session (what `callcue logs pull` does per session: one
   transaction each), and times the wall clock from the first start to the last end;
3. pulls everything again with every puller on another puller's share: nothing may be
   added;
4. checks the rows: sessions, records and events exactly as made, no key twice;
5. assigns the dongles to reps in teams of --team-size (`Archive.assign`) and times
   `callcue report --summary` for one team over 30 days and for the whole centre (the
   command in this process, median of 3 runs, HTML and CSV written);
6. reads the database's size.
Writes DIR/fleet.md and DIR/fleet.json (default: bench/). Nothing here passes or
fails on a time: the figures are measured and written down.
"""

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from callcue.archive.store import Archive  # noqa: E402
from firmware.logformat import decode_log  # noqa: E402
from tests import synthlogs  # noqa: E402
from tests.pgserver import PgServer, missing_reason  # noqa: E402

START = 1_793_000_000       # the first day of the made history
DAY = 86_400
N_BODIES = 40               # distinct call bodies (records and events) reused under headers


def _bodies(seconds):
    return [synthlogs.body(seconds, seed=10_000 + i) for i in range(N_BODIES)]


def session_logs(reps, calls, seconds, devices=None):
    """The centre's logs (device i = rep i), optionally only of `devices`."""
    bodies = _bodies(seconds)
    out = []
    for d in (range(reps) if devices is None else devices):
        for c in range(calls):
            # spread over 60 days, working hours
            start = START + (c * 60 // calls) * DAY + 8 * 3600 + (d * 97 + c * 1301) % 32_000
            out.append(synthlogs.log(f"cc-{d:05d}", c + 1, start, bodies[(d * 7 + c) % N_BODIES]))
    return out


def puller(url, reps, calls, seconds, devices):
    """One desk: make its dongles' logs, then import them (timed, wall clock)."""
    logs = session_logs(reps, calls, seconds, devices)
    t_start = time.time()
    added, skipped, errors, _ = synthlogs.import_worker(url, logs)
    return {"added": added, "skipped": skipped, "errors": errors, "start": t_start,
            "end": time.time(), "sessions": len(logs)}


def run_pullers(url, args, shares):
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(len(shares), mp_context=ctx) as ex:
        res = list(ex.map(puller, [url] * len(shares), [args.reps] * len(shares),
                          [args.calls] * len(shares), [args.seconds] * len(shares), shares))
    return {"added": sum(r["added"] for r in res), "skipped": sum(r["skipped"] for r in res),
            "errors": [e for r in res for e in r["errors"]],
            "seconds": max(r["end"] for r in res) - min(r["start"] for r in res)}


def timed_report(url, argv, out_dir, runs=3):
    from callcue.cli import main as cli

    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        rc = cli(["report", "--archive", url, "--summary", *argv,
                  "--out", str(out_dir / "summary.html"), "--csv", str(out_dir / "summary.csv")])
        times.append(time.perf_counter() - t0)
        if rc != 0:
            raise SystemExit(f"report failed: {argv}")
    return statistics.median(times), min(times), max(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=500)
    ap.add_argument("--calls", type=int, default=20, help="calls per rep")
    ap.add_argument("--seconds", type=int, default=360, help="seconds per call")
    ap.add_argument("--pullers", type=int, default=8)
    ap.add_argument("--team-size", type=int, default=25)
    ap.add_argument("--out", default=str(ROOT / "bench"))
    args = ap.parse_args()
    reason = missing_reason()
    if reason:
        raise SystemExit("fleet_bench: " + reason)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="callcue-fleet-"))

    # what the pullers will import, to check the rows against
    bodies = _bodies(args.seconds)
    per_body = [(len(r), len(e)) for _, r, e in (decode_log(synthlogs.log("x", 1, 1, b))
                                                for b in bodies)]
    n_sessions = args.reps * args.calls
    want_records = sum(per_body[(d * 7 + c) % N_BODIES][0]
                       for d in range(args.reps) for c in range(args.calls))
    want_events = sum(per_body[(d * 7 + c) % N_BODIES][1]
                      for d in range(args.reps) for c in range(args.calls))

    server = PgServer(settings={"fsync": "on", "synchronous_commit": "on",
                                "full_page_writes": "on"}).start()
    try:
        url = server.create_database("centre")
        shares = [list(range(k, args.reps, args.pullers)) for k in range(args.pullers)]
        first = run_pullers(url, args, shares)
        again = run_pullers(url, args, shares[1:] + shares[:1])

        with Archive(url, create=False) as ar:
            counts = ar.counts()
            dup = ar._db.one("SELECT COUNT(*) AS n FROM (SELECT device_id, session_id, "
                             "start_time FROM sessions GROUP BY device_id, session_id, "
                             "start_time HAVING COUNT(*) > 1) d")["n"]
            n_teams = -(-args.reps // args.team_size)
            t0 = time.perf_counter()
            for d in range(args.reps):
                ar.assign(f"cc-{d:05d}", f"rep-{d:05d}", 0,
                          team=f"team-{d // args.team_size:02d}")
            assign_s = time.perf_counter() - t0
            ar._db.execute("ANALYZE")
            size = ar.size_bytes()
            tables = {r["t"]: r["n"] for r in ar._db.q(
                "SELECT relname AS t, pg_total_relation_size(oid) AS n FROM pg_class WHERE "
                "relname IN ('sessions', 'records', 'events')")}
        day = time.strftime("%Y-%m-%d", time.localtime(START + 30 * DAY))
        day_end = time.strftime("%Y-%m-%d", time.localtime(START + 60 * DAY))
        team_name = f"team-{min(3, n_teams - 1):02d}"
        team = timed_report(url, ["--team", team_name, "--since", day, "--until", day_end],
                            work)
        team_rows = (work / "summary.csv").read_text().count("\n") - 1
        team_calls = int((work / "summary.csv").read_text().splitlines()[1].split(",")[2])
        centre = timed_report(url, [], work)
        centre_rows = (work / "summary.csv").read_text().count("\n") - 1
    finally:
        server.stop()

    lost = n_sessions - counts["sessions"]
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "setup": {"reps": args.reps, "calls_per_rep": args.calls,
                  "seconds_per_call": args.seconds, "pullers": args.pullers,
                  "team_size": args.team_size, "teams": n_teams},
        "import": {"sessions": n_sessions, "records": want_records, "events": want_events,
                   "seconds": round(first["seconds"], 2),
                   "records_per_s": round(want_records / first["seconds"]),
                   "rows_per_s": round((want_records + want_events) / first["seconds"]),
                   "added": first["added"], "errors": len(first["errors"]),
                   "error_samples": first["errors"][:3]},
        "repull": {"seconds": round(again["seconds"], 2), "added": again["added"],
                   "skipped": again["skipped"], "errors": len(again["errors"])},
        "rows": {**counts, "lost_sessions": lost, "duplicate_keys": dup,
                 "records_ok": counts["records"] == want_records,
                 "events_ok": counts["events"] == want_events},
        "assign_seconds": round(assign_s, 2),
        "team_report": {"median_s": round(team[0], 2), "min_s": round(team[1], 2),
                        "max_s": round(team[2], 2), "rows": team_rows, "calls": team_calls},
        "centre_report": {"median_s": round(centre[0], 2), "min_s": round(centre[1], 2),
                          "max_s": round(centre[2], 2), "rows": centre_rows},
        "database_bytes": size, "table_bytes": tables,
    }
    (out / "fleet.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / "fleet.md").write_text(markdown(result, args))
    print((out / "fleet.md").read_text())
    return 0


def _span(t):
    return "%s s (median of 3; %s-%s)" % (t["median_s"], t["min_s"], t["max_s"])


def markdown(r, args):
    i, s, rows, rp = r["import"], r["setup"], r["rows"], r["repull"]
    mb = 1024 * 1024
    tb = {k: r["table_bytes"].get(k, 0) / mb for k in ("records", "sessions", "events")}
    cmd = "make bench" if (args.reps, args.calls, args.seconds, args.pullers) == \
        (500, 20, 360, 8) else "bench/fleet_bench.py " + " ".join(sys.argv[1:])
    goal = "goal" if cmd == "make bench" else "goal (at full size)"
    table = [
        (f"{s['pullers']} concurrent pullers: errors", i["errors"], "0"),
        ("sessions lost / keys twice",
         f"{rows['lost_sessions']} / {rows['duplicate_keys']}", "0 / 0"),
        ("records and events stored exactly as made",
         "yes" if rows["records_ok"] and rows["events_ok"] else "NO", "yes"),
        ("import throughput (wall clock, first start to last end)",
         f"{i['records_per_s']:,} records/s ({i['seconds']} s)", ">= 50,000 records/s"),
        ("the same with talk-over events counted as rows", f"{i['rows_per_s']:,} rows/s", ""),
        ("everything pulled again, each puller on another's share",
         f"{rp['added']} added, {rp['skipped']:,} already there, {rp['errors']} errors "
         f"({rp['seconds']} s)", "0 added"),
        ("team report: 1 team, 30 days (`report --summary --team`)",
         f"{_span(r['team_report'])}, {r['team_report']['calls']} calls", "<= 3 s"),
        ("centre report: every team and rep (`report --summary`)",
         f"{_span(r['centre_report'])}, {r['centre_report']['rows']} rows", "<= 20 s"),
        ("database size",
         f"{r['database_bytes'] / mb:,.0f} MB (records {tb['records']:,.0f} MB, sessions "
         f"with raw logs {tb['sessions']:,.0f} MB, events {tb['events']:,.0f} MB)", ""),
        (f"assigning {s['reps']} dongles to reps", f"{r['assign_seconds']} s", ""),
    ]
    lines = "\n".join(f"| {a} | {b} | {c} |" for a, b, c in table)
    return f"""# Fleet bench: one PostgreSQL archive for a contact centre

Measured by `{cmd}` (`.venv/bin/python bench/fleet_bench.py`) on this machine
({r["machine"]["cpus"]} CPUs, Python {r["machine"]["python"]}, {r["machine"]["platform"]}).
The server is started by the bench in a temporary folder with PostgreSQL's shipped
settings (fsync and synchronous commit on); the pullers, the server and the reports
share the machine's CPUs. Timings are of one run; nothing here passes or fails.

**Fleet:** {s["reps"]} reps (one dongle each) in {s["teams"]} teams of {s["team_size"]},
{s["calls_per_rep"]} calls of {s["seconds_per_call"]} s per rep over 60 days:
{i["sessions"]:,} sessions, {i["records"]:,} per-second records, {i["events"]:,}
talk-over events, made with the firmware's own log format (tests/synthlogs.py) and imported
through `Archive.import_session`, the path `callcue logs pull` takes (one transaction per
session, records and events by COPY).

| figure | measured | {goal} |
|---|---:|---:|
{lines}

Report times are of the whole command in-process (open, both SQL queries side by side on
a psycopg pool, HTML and CSV written), after `ANALYZE`. The full figures are in
`fleet.json`.
"""


if __name__ == "__main__":
    sys.exit(main())
