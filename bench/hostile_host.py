"""The host against hostile devices and bad archives: how many cases end well.

    .venv/bin/python bench/hostile_host.py [--callcue CMD...]

1. Device-supplied path or size abuse, through the virtual dongle (`sim://`, storage a
   folder whose /config.json says what the device says): device ids `/abs/path`,
   `../x`, with a newline, 65 characters; a session header with `../x`; a 100 KB
   calibration, one nested 20,000 deep, a 300 KB config.json. A case ends well when a
   pull stops with one line and writes nothing (no archive, no file outside it, files a
   path built from the id would hit untouched), or when `device info` answers within
   4 s (a one-line error that is not TIMEOUT or INTERNAL, or the defaults).
2. Bad archives: each kind of tests/host/test_archive_damage.py (damaged, foreign, dropped
   table, locked, read-only, ...) through `report`, `logs export`, `archive info` and
   `logs pull`. A run ends well with one line naming the file and no traceback (or
   success where reading a read-only archive, or pulling into an empty file, is right)
   and the folder byte-identical afterwards.

`--callcue` runs another callcue (e.g. an older checkout) instead of `python -m callcue`.
Read-only cases run without CAP_DAC_OVERRIDE when root (setpriv), as the tests do.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.host.test_archive_damage import (  # noqa: E402
    CASES,
    DB_NAME,
    good_archive,
    hold_lock,
    snapshot,
    unprivileged,
)
from tests.host.test_hostile import _device_folder  # noqa: E402


def run(cmd, *argv):
    t0 = time.monotonic()
    try:
        r = subprocess.run([*(unprivileged() or []), *cmd, *map(str, argv)],
                           capture_output=True, text=True, timeout=120,
                           env={**os.environ, "CALLCUE_LOCK_WAIT_S": "1"})
        return r.returncode, r.stderr, time.monotonic() - t0
    except subprocess.TimeoutExpired:
        return "hang", "", time.monotonic() - t0


def one_line(rc, err):
    lines = err.strip().splitlines()
    return rc not in (0, "hang") and len(lines) == 1 and "Traceback" not in err \
        and lines[0].startswith("callcue: error: ")


def device_abuse(cmd, base, wav):
    doc = '{"version": 1, "device_id": "cc-big", "params": {}, "calibration": %s}'
    cases = [
        ("device id /abs/path", "pull", dict(device_id=str(base / "outside" / "evil"))),
        ("device id ../x", "pull", dict(device_id="../../escaped")),
        ("device id with a newline", "pull", dict(device_id="cc\nx")),
        ("device id of 65 characters", "pull", dict(device_id="c" * 65)),
        ("session header id ../x", "pull", dict(device_id="cc-fine-0001",
                                                 header_id="../../evil")),
        ("calibration 100 KB", "info",
         dict(device_id="cc-big", config=doc % json.dumps({"note": "x" * 100_000}))),
        ("calibration nested 20000 deep", "info",
         dict(device_id="cc-big", config=doc % ('{"a":' * 20000 + "1" + "}" * 20000))),
        ("config.json 300 KB", "info",
         dict(device_id="cc-big", config=doc % json.dumps({"pad": "y" * 300_000}))),
    ]
    good = 0
    for i, (name, what, kw) in enumerate(cases):
        case = base / f"abuse{i}"
        case.mkdir()
        (base / "outside").mkdir(exist_ok=True)
        victims = [base / "outside" / "evil-s000001.part", case / "escaped-s000001.part",
                   base / "escaped-s000001.part"]
        for v in victims:
            v.write_text("precious")
        dev = _device_folder(case / "dev", **kw)
        port = f"sim://{wav}?speed=0&storage={dev}"
        archive = case / "archive"
        before = sorted(p.name for p in base.rglob("*") if "archive" not in p.parts)
        if what == "pull":
            rc, err, dt = run(cmd, "logs", "pull", "--port", port, "--archive", archive)
            after = sorted(p.name for p in base.rglob("*") if "archive" not in p.parts)
            untouched = all(v.exists() and v.read_text() == "precious" for v in victims)
            nothing = not archive.exists() or not any(
                s["n"] for s in _sessions(archive))
            ok = one_line(rc, err) and untouched and after == before and nothing
        else:
            rc, err, dt = run(cmd, "device", "info", "--port", port, "--json")
            ok = dt < 4 and "Traceback" not in err and (
                rc == 0 or (one_line(rc, err) and "TIMEOUT" not in err
                            and "INTERNAL" not in err))
        good += ok
        last = (err.strip().splitlines() or [""])[-1]
        print("  %-4s %-30s exit %s in %.1f s  %s" % ("ok" if ok else "BAD", name, rc, dt,
                                                     last[:110]))
    return good, len(cases)


def _sessions(archive):
    import sqlite3

    db = archive / DB_NAME
    if not db.exists() or db.stat().st_size == 0:
        return []
    try:
        c = sqlite3.connect(db)
        n = c.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
        c.close()
        return [{"n": n}]
    except sqlite3.Error:
        return []


def bad_archives(cmd, base, wav):
    good = total = 0
    for i, (case, (damage, why, pull_why)) in enumerate(CASES.items()):
        if case.startswith("read-only") and unprivileged() is None:
            print(f"  skip {case}: root without setpriv")
            continue
        folder = good_archive(base / f"bad{i}" / "archive")
        lock = None
        if damage is not None:
            damage(folder)
        else:
            lock = hold_lock(folder / DB_NAME)
        dev = _device_folder(base / f"bad{i}" / "dev", "cc-fine-0001")
        port = f"sim://{wav}?speed=0&storage={dev}"
        try:
            for argv, words in ((("report", "--out", base / "r.html"), why),
                                (("logs", "export", "--out", base / "e.csv"), why),
                                (("archive", "info"), why),
                                (("logs", "pull", "--port", port), pull_why)):
                before = snapshot(folder)
                rc, err, dt = run(cmd, *argv, "--archive", folder)
                if words is None:
                    ok = rc == 0 and (argv[1] == "pull" or snapshot(folder) == before)
                else:
                    ok = one_line(rc, err) and snapshot(folder) == before
                good += ok
                total += 1
                last = (err.strip().splitlines() or [""])[-1]
                print("  %-4s %-17s %-12s exit %s  %s" % (
                    "ok" if ok else "BAD", case, " ".join(argv[:2]) if argv[0] == "logs"
                    else argv[0] + (" info" if argv[0] == "archive" else ""), rc,
                    last.replace(str(folder), "ARCHIVE")[:100]))
        finally:
            if lock is not None:
                lock.stdin.close()
                lock.wait(10)
            os.chmod(folder, 0o755)
    return good, total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--callcue", nargs="+", default=[sys.executable, "-m", "callcue"])
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="callcue-hostile-"))
    try:
        wav = base / "silence.wav"
        soundfile.write(wav, np.zeros((8000, 2), np.int16), 8000, subtype="PCM_16")
        print("device-supplied path or size abuse:")
        a = device_abuse(args.callcue, base, wav)
        print("bad archives:")
        b = bad_archives(args.callcue, base, wav)
        print(f"device-supplied path or size abuse: {a[0]} of {a[1]} rejected with a "
              "one-line error or answered safely, nothing written")
        print(f"bad archives: {b[0]} of {b[1]} runs a one-line error (or right success), "
              "file untouched")
        return 0 if a[0] == a[1] and b[0] == b[1] else 1
    finally:
        for p in base.rglob("*"):
            if p.is_dir():
                os.chmod(p, 0o755)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
