"""Every integer the engine holds stays a MicroPython small int (|v| < 2**30), on
worst-case inputs.

Neither a 32-bit wrap nor a small-int overflow can be seen on the 64-bit unix port,
so this run instruments the engine on CPython instead: a trace function reads every
integer local of every dsp/ function after every line, and every integer attribute
of the stage objects when their methods return. Accumulators are written as one
statement per term (see kernels.py), so each partial sum is a local and is seen.
"""

import sys
from array import array
from pathlib import Path

import numpy as np
import pytest

from dsp.engine import FRAME, Engine
from dsp.params import Params

from ..signals import worst_cases

DSP_DIR = str(Path(__file__).resolve().parents[2] / "dsp")
LIMIT = 1 << 30          # MicroPython small ints on 32-bit ports: -2**30 <= v < 2**30


class BoundTracer:
    def __init__(self):
        self.peak = 0
        self.where = None
        self.by_name = {}        # "file:name" -> largest magnitude seen

    def _name(self, v, frame, name):
        if type(v) is int:
            a = v if v >= 0 else -v - 1
            key = Path(frame.f_code.co_filename).name + ":" + name
            if a > self.by_name.get(key, -1):
                self.by_name[key] = a

    def _see(self, v, frame, name):
        if type(v) is int:
            a = v if v >= 0 else -v - 1
            if a > self.peak:
                self.peak = a
                self.where = "%s:%d %s" % (Path(frame.f_code.co_filename).name,
                                           frame.f_lineno, name)

    def global_trace(self, frame, event, arg):
        if frame.f_code.co_filename.startswith(DSP_DIR):
            return self.local_trace
        return None

    def local_trace(self, frame, event, arg):
        # _see() inlined: this runs after every line of the engine, and a call per local
        # doubled the test's time
        peak = self.peak
        for name, v in frame.f_locals.items():
            if type(v) is int and (v if v >= 0 else -v - 1) > peak:
                self._see(v, frame, name)
                peak = self.peak
        if event == "return":
            for name, v in frame.f_locals.items():
                self._name(v, frame, name)
            self._see(arg, frame, "<return>")
            obj = frame.f_locals.get("self")
            if obj is not None and hasattr(obj, "__dict__"):
                for name, v in vars(obj).items():
                    self._see(v, frame, "self." + name)
        return self.local_trace


def run_traced(rep, cust):
    eng = Engine(Params(), viper=False)
    a = array("h", bytes(2 * FRAME))
    b = array("h", bytes(2 * FRAME))
    tracer = BoundTracer()
    sys.settrace(tracer.global_trace)
    try:
        for i in range(len(rep) // FRAME):
            a[:] = array("h", rep[i * FRAME:(i + 1) * FRAME].tobytes())
            b[:] = array("h", cust[i * FRAME:(i + 1) * FRAME].tobytes())
            eng.process(a, b)
        eng.flush()
    finally:
        sys.settrace(None)
    return tracer


CASES = worst_cases(seconds=2.5)


@pytest.mark.parametrize("name", sorted(CASES))
def test_worst_case_stays_within_small_int(name, record_property):
    rep, cust = CASES[name]
    tracer = run_traced(rep, cust)
    record_property("peak", tracer.peak)
    print("%s: largest |intermediate| %d (2**%.2f) at %s" % (
        name, tracer.peak, np.log2(max(tracer.peak, 1)), tracer.where))
    assert tracer.peak < LIMIT, tracer.where
    if name.endswith("_bursts"):
        # the bursts wake the pitch search, whose sums are the next largest
        assert tracer.by_name["kernels.py:e0"] > 1 << 17
        print("  pitch search: largest e0 %d, largest c %d" % (
            tracer.by_name["kernels.py:e0"], tracer.by_name.get("kernels.py:c", 0)))
    if name != "silence":
        # the instrument really sees the accumulators: a full-scale input drives the
        # band-pass accumulator past 2**27
        assert tracer.peak > 1 << 27, tracer.where


def test_tracer_catches_an_overflow():
    """The instrument itself: a dsp-style function that overflows is caught."""
    tracer = BoundTracer()
    code = compile("def acc(n):\n    s = 0\n    for i in range(n):\n        s += 1 << 29\n"
                   "    return s\n", DSP_DIR + "/fake_stage.py", "exec")
    ns = {}
    exec(code, ns)
    sys.settrace(tracer.global_trace)
    try:
        ns["acc"](3)
    finally:
        sys.settrace(None)
    assert tracer.peak >= LIMIT
