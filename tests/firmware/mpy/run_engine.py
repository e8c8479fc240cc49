"""Feed raw int16 PCM through the engine and print a per-frame trace and the records.

Runs unchanged under CPython and MicroPython, so the two outputs can be compared:
    run_engine.py REPO REP.raw CUST.raw [plain|viper|core1] [trace|records]
REP.raw and CUST.raw are mono int16 little-endian at 8 kHz. core1: viper kernels
with the pitch stage on a second thread (firmware/core1.py; MicroPython only).
"""

import sys

sys.path.insert(0, sys.argv[1])

from array import array  # noqa: E402

from dsp.engine import FRAME, Engine  # noqa: E402
from dsp.params import Params  # noqa: E402


def main(argv):
    kernels = argv[4] if len(argv) > 4 else "plain"
    trace = not (len(argv) > 5 and argv[5] == "records")
    eng = Engine(Params(), viper=kernels != "plain")
    core1 = None
    if kernels == "core1":
        from firmware.core1 import PitchOnCore1
        core1 = PitchOnCore1(eng)
    rep = array("h", bytes(2 * FRAME))
    cust = array("h", bytes(2 * FRAME))
    fr = open(argv[2], "rb")
    fc = open(argv[3], "rb")
    while fr.readinto(rep) == 2 * FRAME and fc.readinto(cust) == 2 * FRAME:
        ready = eng.process(rep, cust)
        if trace:
            print("F", eng.frame, eng.level_rep, eng.level_cust, eng.rep_active,
                  eng.cust_active, eng.f0_cents, eng.syllable, eng.cue, eng.event_ready)
        if ready:
            print("R", " ".join(str(v) for v in eng.record))
        if eng.event_ready:
            print("E", eng.event_start, eng.event_end, eng.event_interrupter)
    eng.flush()
    if eng.event_ready:
        print("E", eng.event_start, eng.event_end, eng.event_interrupter)
    fr.close()
    fc.close()
    if core1 is not None:
        core1.close()


main(sys.argv)
