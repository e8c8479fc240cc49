"""Time `callcue report` over 100 archived calls: one session logged by the virtual dongle,
archived 100 times under new session ids and start times (headers re-encoded with the
device's own log format), then the report built.

    .venv/bin/python tests/bench/report_100.py
"""

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from callcue import simulator, synth
from callcue.archive import Archive
from callcue.firmware.sessionlog import HEADER_SIZE, decode_header, encode_header


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
    with Archive(tmp / "archive") as ar:
        for i in range(n):
            head = encode_header(hdr["device_id"], hdr["fw_version"], hdr["cal_hash"],
                                 hdr["start_time"] + 3600 * i, i + 1)
            ar.import_session(bytes(head) + raw[HEADER_SIZE:])
    from callcue.cli import main as cli

    t0 = time.perf_counter()
    rc = cli(["report", "--archive", str(tmp / "archive"), "--out", str(tmp / "r.html")])
    dt = time.perf_counter() - t0
    print("report of %d calls (%d s each): %.1f s, %.0f kB" % (
        n, len(raw[HEADER_SIZE:]) // 32, dt, (tmp / "r.html").stat().st_size / 1024))
    return rc


if __name__ == "__main__":
    sys.exit(main())
