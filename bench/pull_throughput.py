"""Pull throughput over the virtual link: a 30-minute call (then 35 s of silence that
ends it) played through the virtual dongle on a pseudo-terminal, then `callcue logs pull`
into a fresh archive, three times; records per second of pulling (median and range).

    .venv/bin/python bench/pull_throughput.py [MINUTES]
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

from callcue.analysis import synth
from callcue.archive.store import Archive
from callcue.cli import main as cli

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.host_sim import PtySim  # noqa: E402


def main(minutes=30, runs=3):
    tmp = Path(tempfile.mkdtemp(prefix="callcue-pull-"))
    # synth renders at most 10 minutes: join 10-minute calls without a pause
    parts = [synth.render("rep-interrupts", seed=s, duration_s=600.0)[0]
             for s in range(-(-minutes // 10))]
    pcm = np.concatenate(parts)[: minutes * 60 * 8000]
    pcm = np.concatenate([pcm, np.zeros((35 * 8000, 2), np.int16)])
    wav = tmp / "call.wav"
    soundfile.write(wav, pcm, 8000, subtype="PCM_16")
    sim = PtySim(wav, "--speed", "0", "--storage", tmp / "flash")
    rates = []
    try:
        sim.wait_done(timeout=600)
        for i in range(runs):
            archive = tmp / ("archive%d" % i)
            t0 = time.perf_counter()
            rc = cli(["logs", "pull", "--port", sim.port, "--archive", str(archive)])
            dt = time.perf_counter() - t0
            assert rc == 0
            with Archive(archive) as ar:
                n = ar.db.execute("select count(*) from records").fetchone()[0]
            rates.append(n / dt)
            print("pull %d: %d records in %.2f s" % (i + 1, n, dt))
    finally:
        sim.close()
    print("pull throughput over the virtual link: %.0f records/s (median of %d; %.0f-%.0f)"
          % (statistics.median(rates), runs, min(rates), max(rates)))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
