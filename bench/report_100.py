"""Time `callcue report` over 100 archived calls of a team: one session logged by the
virtual dongle, archived 100 times as five reps' calls over ten days (headers
re-encoded with the device's own log format: new device, session id and start time),
then the whole report built (team table, trends by date, 100 timelines).

    .venv/bin/python bench/report_100.py
"""

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from callcue.analysis import synth
from callcue.archive.store import Archive
from callcue.sim import dongle as simulator
from firmware.logformat import HEADER_SIZE, decode_header, encode_header

REPS = ("Ana Silva", "Ben Okafor", "Cleo Marsh", "Dev Patel", "Eve Lind")


def main(n=100):
    tmp = Path(tempfile.mkdtemp(prefix="callcue-bench-"))
    pcm, _ = synth.render("rep-interrupts", seed=1, duration_s=60.0)
    pcm = np.concatenate([pcm, np.zeros((32 * 8000, 2), np.int16)])
    dongle = simulator.VirtualDongle(rep=pcm[:, 0], cust=pcm[:, 1], storage=tmp / "flash",
                                     link=False)
    dongle.proc.communicate(b"", timeout=300)
    dongle.close()
    raw = next((tmp / "flash" / "logs").glob("s*.log")).read_bytes()
    hdr = decode_header(raw)
    t0 = 1793606400      # 2026-11-02 00:00 UTC
    with Archive(tmp / "archive") as ar:
        for i in range(n):
            rep = i % len(REPS)
            start = t0 + 86400 * (i // 10) + 9 * 3600 + 600 * (i % 10)
            head = encode_header("cc-%04d" % (rep + 1), hdr["fw_version"], hdr["cal_hash"],
                                 start, i // len(REPS) + 1)
            ar.import_session(bytes(head) + raw[HEADER_SIZE:])
        for rep, name in enumerate(REPS):
            ar.assign("cc-%04d" % (rep + 1), name, 0, team="north")
    from callcue.cli import main as cli

    t = time.perf_counter()
    rc = cli(["report", "--archive", str(tmp / "archive"), "--out", str(tmp / "r.html")])
    dt = time.perf_counter() - t
    print("report of %d calls (%d s each, %d reps, 10 days): %.1f s, %.0f kB" % (
        n, len(raw[HEADER_SIZE:]) // 32, len(REPS), dt, (tmp / "r.html").stat().st_size / 1024))
    return rc


if __name__ == "__main__":
    sys.exit(main())
