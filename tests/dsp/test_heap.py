"""Steady-state frames allocate nothing on MicroPython: 1,200 frames of two-party
speech-like input (talk-overs, seconds closing, cues) run under heap_lock()."""

from .. import mpyrun

SCRIPT = r'''
import sys
sys.path.insert(0, sys.argv[1])
import gc
import micropython
from array import array
from dsp.engine import FRAME, Engine
from dsp.params import Params

rep = array("h", bytes(2 * FRAME))
cust = array("h", bytes(2 * FRAME))
state = array("i", [12345, 0, 0])

def fill(buf, frame, f0_period, offset):
    # integer "speech": a pulse train with a syllable envelope, in 1.5 s talk spurts,
    # plus LCG noise; the two parties overlap for part of each spurt
    seed = state[0]
    on = ((frame + offset) // 150) % 2 == 0
    env = (frame + offset) % 25
    amp = 8000 - 600 * (env - 12 if env > 12 else 12 - env) if on else 0
    for i in range(FRAME):
        seed = (seed * 1103515245 + 12345) & 0x3FFFFFFF
        ph = (frame * FRAME + i) % f0_period
        v = amp if ph == 0 else (amp >> 2 if ph == 1 else 0)
        buf[i] = v + ((seed >> 16) & 63) - 32
    state[0] = seed

def run(eng, first, n):
    records = 0
    for f in range(first, first + n):
        fill(rep, f, 67, 0)
        fill(cust, f, 41, 90)
        if eng.process(rep, cust):
            records += 1
    return records

n = before = after = 0               # globals exist before the heap is locked
for viper in (False, True):
    eng = Engine(Params(), viper=viper)
    run(eng, 0, 300)                 # warm up: first talk spurts, first records
    gc.collect()
    before = gc.mem_alloc()
    micropython.heap_lock()
    try:
        n = run(eng, 300, 1200)
    finally:
        micropython.heap_unlock()
    after = gc.mem_alloc()
    print("viper" if viper else "plain", "frames", 1200, "records", n, "alloc", after - before,
          "frame", eng.frame)
'''


def test_process_allocates_nothing(micropython, tmp_path):
    script = tmp_path / "heap.py"
    script.write_text(SCRIPT)
    out = mpyrun.run(micropython, script, mpyrun.ROOT)
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == ["plain", "viper"]
    for line in lines:
        words = line.split()
        assert words[3:] == ["records", "12", "alloc", "0", "frame", "1500"], line
