"""Concurrent `callcue logs pull` processes into one new archive: errors, lost and duplicated
rows.

    .venv/bin/python bench/concurrent_pulls.py [--rounds 8] [--pullers 3]
        [--sessions 2] [--archive-url postgresql://...] [--callcue CMD...]

Each round makes a fresh archive (a new folder, or with --archive-url a new database on
that server: the URL names an existing database to create the new ones from) and
starts --pullers `callcue logs pull` processes at the same moment, each from its own
virtual dongle (`sim://`, storage a folder holding --sessions finished session logs made
with the firmware's log format under its own device id), so that they all open, create
and migrate the archive at once; then the same pulls again, at once (nothing may be
added). It counts the pulls that failed (non-zero exit or a traceback) and compares the
archive's sessions, records and events with the logs: a session missing or twice, a
row missing or twice. `--callcue` runs another callcue (e.g. an older checkout) instead
of `python -m callcue`. Prints one line per failure and a summary line.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from firmware.logformat import decode_log  # noqa: E402
from tests import synthlogs  # noqa: E402


def make_dongles(folder, n, sessions):
    """n virtual dongle storages with `sessions` logs each; returns (folders, logs)."""
    out, logs = [], []
    for k in range(n):
        dev = folder / f"dongle{k}"
        (dev / "logs").mkdir(parents=True)
        dev_id = f"cc-pull-{k:04d}"
        (dev / "config.json").write_text(json.dumps(
            {"version": 1, "device_id": dev_id, "params": {}}))
        for s in range(1, sessions + 1):
            log = synthlogs.log(dev_id, s, 1_790_000_000 + 600 * s + k,
                                synthlogs.body(40 + 5 * s, seed=100 * k + s))
            (dev / "logs" / f"s{s:06d}.log").write_bytes(log)
            logs.append(log)
        out.append(dev)
    return out, logs


def new_target(base, url, i):
    if url is None:
        return str(base / f"archive{i}")
    import psycopg

    name = f"pulls_{os.getpid()}_{i}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return url.rsplit("/", 1)[0] + "/" + name


def pull_all_at_once(cmd, ports, target):
    procs = [subprocess.Popen([*cmd, "logs", "pull", "--port", port, "--archive", target],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for port in ports]
    errors = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        if p.returncode != 0 or "Traceback" in err:
            last = (err.strip().splitlines() or ["?"])[-1]
            errors.append(f"exit {p.returncode}: {last}")
    return errors


def check_rows(target, logs):
    """Problems with the archive's rows against the logs (empty: every session once,
    whole)."""
    from callcue.archive.store import Archive

    want = {}
    for log in logs:
        hdr, recs, events = decode_log(log)
        want[(hdr["device_id"], hdr["session_id"])] = (len(recs), len(events))
    problems = []
    with Archive(target, create=False) as ar:
        got = {}
        for s in ar.sessions():
            key = (s["device_id"], s["session_id"])
            if key in got:
                problems.append(f"session {key} twice")
            got[key] = ar.stored_counts(s["pk"])
        for key, counts in want.items():
            if key not in got:
                problems.append(f"session {key} missing")
            elif got[key] != counts:
                problems.append(f"session {key}: rows {got[key]}, want {counts}")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--pullers", type=int, default=3)
    ap.add_argument("--sessions", type=int, default=2)
    ap.add_argument("--archive-url", default=None)
    ap.add_argument("--callcue", nargs="+", default=[sys.executable, "-m", "callcue"])
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="callcue-pulls-"))
    try:
        wav = base / "silence.wav"
        soundfile.write(wav, np.zeros((8000, 2), np.int16), 8000, subtype="PCM_16")
        dongles, logs = make_dongles(base, args.pullers, args.sessions)
        ports = [f"sim://{wav}?speed=0&storage={d}" for d in dongles]
        n_err = n_pulls = n_bad = 0
        for i in range(args.rounds):
            target = new_target(base, args.archive_url, i)
            for wave in ("first", "again"):
                errors = pull_all_at_once(args.callcue, ports, target)
                n_pulls += len(ports)
                n_err += len(errors)
                for e in errors:
                    print(f"round {i} ({wave} pulls): {e}")
            try:
                problems = check_rows(target, logs)
            except Exception as e:  # an archive that cannot even be read back
                problems = [f"cannot read the archive: {e}"]
            n_bad += len(problems)
            for p in problems:
                print(f"round {i}: {p}")
        print(f"concurrent pulls: {n_err} errors in {n_pulls} pulls ({args.rounds} rounds of "
              f"{args.pullers} at once, then again), {n_bad} sessions lost, duplicated or "
              "not whole")
        return 1 if n_err or n_bad else 0
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
