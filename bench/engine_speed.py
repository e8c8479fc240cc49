"""Time the engine per second of audio; runs under MicroPython and CPython.

    engine_speed.py REPO REP.raw CUST.raw plain|viper
prints one line: `engine_speed: kernels=K frames=N us_per_audio_s=T alloc_per_frame=B`
(process() time only; file reads excluded; alloc from gc.mem_alloc on MicroPython).
"""

import sys

sys.path.insert(0, sys.argv[1])

import gc  # noqa: E402
import time  # noqa: E402
from array import array  # noqa: E402

from dsp.engine import FRAME, Engine  # noqa: E402
from dsp.params import Params  # noqa: E402

try:
    ticks_us = time.ticks_us
    ticks_diff = time.ticks_diff
except AttributeError:  # CPython
    def ticks_us():
        return time.perf_counter_ns() // 1000

    def ticks_diff(a, b):
        return a - b


def main(argv):
    viper = argv[4] == "viper"
    eng = Engine(Params(), viper=viper)
    rep = array("h", bytes(2 * FRAME))
    cust = array("h", bytes(2 * FRAME))
    fr = open(argv[2], "rb")
    fc = open(argv[3], "rb")
    total = 0
    frames = 0
    alloc = 0
    mem = getattr(gc, "mem_alloc", None)
    while fr.readinto(rep) == 2 * FRAME and fc.readinto(cust) == 2 * FRAME:
        a0 = mem() if mem else 0
        t0 = ticks_us()
        eng.process(rep, cust)
        total += ticks_diff(ticks_us(), t0)
        if mem and frames >= 100:
            alloc += mem() - a0
        frames += 1
    fr.close()
    fc.close()
    print("engine_speed: kernels=%s frames=%d us_per_audio_s=%d alloc_per_frame=%d" % (
        "viper" if viper else "plain", frames, total * 100 // frames,
        alloc // max(frames - 100, 1)))


main(sys.argv)
