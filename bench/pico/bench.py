"""On-device benchmark of the dsp engine: time per second of audio, per stage, heap.

On a real dongle, after copying dsp/ to it:
    mpremote cp -r dsp : + run bench/pico/bench.py       (one core only)
or after `callcue flash` (firmware/ on the device too, so both cores are measured):
    mpremote run bench/pico/bench.py
Under the unix port (MICROPYPATH = the repository root):
    micropython bench/pico/bench.py [--seconds N] [--plain] [--frames FRAMES.raw]

It synthesises N seconds (default 6) of two-channel speech-like audio on the fly
(integer sine tables, not timed: a rep who talks 0-2.4 s of every 4 s with 5 Hz
syllables and a drifting F0, a customer 1.9-3.8 s, so 0.5 s of overlap per cycle),
or reads planar frames (80 rep + 80 customer int16 per 10 ms, as `callcue sim`
writes them). It runs the engine over them twice: once through Engine.process
(total time, bytes allocated per frame from gc.mem_alloc), once with its stage marks
timed (Engine.process(..., stage): time.ticks_us as each stage ends; per-stage time,
its per-second records checked equal to the first run's).
Where firmware/core1.py is present (and _thread), a third run puts the pitch stage
on the second core as the firmware does and times each core's busy share. The last
line is
    device_bench: engine_us_per_audio_s=N cpu_pct=P alloc_per_frame=B heap_free=H
                  [core0_pct=P0 core1_pct=P1]
cpu_pct is the share of one core (the engine's time per second of audio / 1 s), all
stages on one core; core0_pct and core1_pct with the pitch stage on core 1.
Only for measuring, never flashed: nothing in the firmware imports it.
"""

import gc
import sys
import time
from array import array

gc.collect()
_MEM0 = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0

from dsp import kernels  # noqa: E402
from dsp.engine import FRAME, FRAMES_PER_S, Engine  # noqa: E402
from dsp.params import Params  # noqa: E402
from dsp.pitch import Pitch  # noqa: E402

# Engine.process's stages (dsp/engine.py STAGES, timed by its stage marks) in five
# buckets (names kept for the results files): filters = front_end (band-pass, energies,
# levels), energy_vad = activity (VAD, crosstalk gate), pitch, syllables =
# syllable_envelope + syllables, cue = talkover_cues (talk-over, dead air, cue policy)
# + per_second (counts, record)
STAGES = ("filters", "energy_vad", "pitch", "syllables", "cue")

# one period of a sine, int16 amplitude 8192, 256 steps
_SIN = array("h", [0] * 256)


def _init_sin():
    import math

    for i in range(256):
        _SIN[i] = int(8192 * math.sin(2 * math.pi * i / 256))


class Synth:
    """Speech-like int16 frames from integer phase accumulators (Q16 phase). Nothing
    here allocates: on the RP2040 small ints are 31-bit, and a wider random-number
    step would leave big-int garbage on the heap between the frames being timed."""

    def __init__(self):
        _init_sin()
        self.n = 0
        self.ph = array("i", bytes(4 * 6))
        self.seed = 12345

    def _talker(self, dst, k, f0_hz, amp, ph0):
        # three harmonics (F0, 2 F0, 3 F0) with falling weights, plus a little noise
        inc = (f0_hz << 16) // 8000
        ph = self.ph
        s = self.seed
        for i in range(FRAME):
            p1 = (ph[ph0] + inc) & 0xFFFFFF
            ph[ph0] = p1
            v = (
                _SIN[(p1 >> 8) & 255]
                + (_SIN[(p1 >> 7) & 255] >> 1)
                + (_SIN[((3 * p1) >> 8) & 255] >> 2)
            )
            s = (s * 75 + 74) % 65537     # a 17-bit LCG: every value a small int
            v = ((v * amp) >> 8) + ((s >> 8) & 63) - 32
            if v > 32767:
                v = 32767
            elif v < -32768:
                v = -32768
            dst[i] = v
        self.seed = s

    def frame(self, rep, cust):
        f = self.n
        self.n += 1
        t = f % 400  # 4 s cycle, in frames
        # syllable envelope 5 Hz: 20 frames per syllable, 0..255
        e = f % 20
        env = (e * 26) if e < 10 else ((20 - e) * 26)
        if t < 240:
            self._talker(rep, 0, 110 + (f % 300) // 10, 16 + env, 0)
        else:
            self._talker(rep, 0, 110, 0, 0)
        if 190 <= t < 380:
            self._talker(cust, 1, 190 + (f % 170) // 8, 16 + env, 1)
        else:
            self._talker(cust, 1, 190, 0, 1)


class Frames:
    """Planar frames from a file (unix port): 80 rep then 80 customer int16 each."""

    def __init__(self, path):
        self.f = open(path, "rb")
        self.buf = array("h", bytes(4 * FRAME))

    def frame(self, rep, cust):
        if self.f.readinto(self.buf) != 4 * FRAME:
            return False
        for i in range(FRAME):
            rep[i] = self.buf[i]
            cust[i] = self.buf[FRAME + i]
        return True


try:
    from micropython import heap_lock, heap_unlock
except ImportError:  # CPython

    def heap_lock():
        pass

    def heap_unlock():
        pass


try:
    from micropython import stack_use
except ImportError:  # CPython, or a port built without it
    stack_use = None

try:
    ticks_us = time.ticks_us
    ticks_diff = time.ticks_diff
except AttributeError:  # CPython

    def ticks_us():
        return time.perf_counter_ns() // 1000

    def ticks_diff(a, b):
        return a - b


_MARKS = [0] * 6       # ticks_us at each of Engine.process's stage marks (preallocated)


def _mark(i):
    _MARKS[i] = ticks_us()


def staged(eng, rep, cust, t):
    """Engine.process(rep, cust) itself, its stage marks timed (dsp/engine.py, STAGES),
    adding each bucket's us to t[i] (STAGES here); records are checked equal to the
    unmarked run's."""
    t0 = ticks_us()
    ready = eng.process(rep, cust, _mark)
    end = ticks_us()
    m = _MARKS
    t[0] += ticks_diff(m[0], t0)                                # front_end
    t[1] += ticks_diff(m[1], m[0])                              # activity
    t[2] += ticks_diff(m[4], m[3])                              # pitch
    t[3] += ticks_diff(m[3], m[2]) + ticks_diff(m[5], m[4])     # syllable envelope, nuclei
    t[4] += ticks_diff(m[2], m[1]) + ticks_diff(end, m[5])      # talkover_cues, per_second
    return ready


def _process_pass(viper, source_factory, frames_max, locked):
    """Engine.process over the source's frames: total us, frames, records, and bytes
    allocated per frame in steady state. locked: each call under heap_lock(), as the
    firmware makes it (a function's frame then goes on the C stack, never the heap)."""
    mem = getattr(gc, "mem_alloc", None)
    a_before = mem() if mem else 0
    eng = Engine(Params(), viper=viper)
    rep = array("h", bytes(2 * FRAME))
    cust = array("h", bytes(2 * FRAME))
    src = source_factory()
    gc.collect()
    total = 0
    frames = 0
    alloc = 0
    alloc_frames = 0
    peak = 0
    records = []
    while frames < frames_max:
        if src.frame(rep, cust) is False:
            break
        a0 = mem() if mem else 0
        if locked:
            heap_lock()
        t0 = ticks_us()
        ready = eng.process(rep, cust)
        t1 = ticks_us()
        if locked:
            heap_unlock()
        total += ticks_diff(t1, t0)
        if mem:
            a1 = mem()
            if frames >= FRAMES_PER_S:  # steady state: after the first second
                alloc += a1 - a0
                alloc_frames += 1
            if a1 - a_before > peak:
                peak = a1 - a_before
        if ready:
            records.append(tuple(eng.record))
        frames += 1
    return {"us": total, "frames": frames, "records": records, "peak": peak,
            "alloc_per_frame": alloc // alloc_frames if alloc_frames else 0}


def run(source_factory, viper, frames_max):
    mem = getattr(gc, "mem_alloc", None)
    kernels.select(viper)  # import (compile) the viper twins before measuring
    gc.collect()
    code_heap = (mem() - _MEM0) if mem else 0
    a_before = mem() if mem else 0
    eng = Engine(Params(), viper=viper)
    gc.collect()
    engine_heap = (mem() - a_before) if mem else 0
    del eng
    # pass 1: Engine.process as any caller gets it (frames of big functions on the GC
    # heap), then under heap_lock() as the firmware runs it; the records must agree
    heap = _process_pass(viper, source_factory, frames_max, False)
    gc.collect()
    lock = _process_pass(viper, source_factory, frames_max, True)
    frames = lock["frames"]
    records = lock["records"]
    # pass 2: the same frames through the stages one by one, heap locked
    eng2 = Engine(Params(), viper=viper)
    rep = array("h", bytes(2 * FRAME))
    cust = array("h", bytes(2 * FRAME))
    src = source_factory()
    t = [0] * len(STAGES)
    match = heap["records"] == records
    i = 0
    n = 0
    while n < frames:
        src.frame(rep, cust)
        heap_lock()
        ready = staged(eng2, rep, cust, t)
        heap_unlock()
        if ready:
            if i >= len(records) or tuple(eng2.record) != records[i]:
                match = False
            i += 1
        n += 1
    match = match and i == len(records)
    gc.collect()
    free = gc.mem_free() if hasattr(gc, "mem_free") else -1
    return {
        "kernels": "viper" if kernels.select(viper) is not kernels else "plain",
        "frames": frames,
        "us_total": lock["us"],
        "us_heap_frames": heap["us"],
        "us_stages": t,
        "stages_match": match,
        "alloc_per_frame": heap["alloc_per_frame"],
        "code_heap": code_heap,
        "engine_heap": engine_heap,
        "peak_heap": heap["peak"],
        "heap_free": free,
        "records": records,
    }


# C stack, measured: a function run under heap_lock() keeps its frame on the C stack
# (MicroPython puts a frame of more than 11 words on the GC heap when it can), so the
# frame path needs stack headroom on both cores. _burn(n, fn) recurses n levels, then
# runs fn locked; the deepest n at which fn still runs, against the deepest at which
# nothing runs, tells the bytes fn needs (to one level's size, about 100 bytes).
_USED = [0]


def _burn(n, fn):
    if n:
        return _burn(n - 1, fn) + 1
    _USED[0] = stack_use()
    heap_lock()
    try:
        fn()
    finally:
        heap_unlock()
    return 0


def _deepest(prepare):
    """stack_use() at the deepest recursion under which prepare()() still runs (each
    try on a freshly prepared fn, so every try runs the same work)."""
    def runs(n):
        try:
            _burn(n, prepare())
            return _USED[0]
        except RuntimeError:
            return 0

    used = runs(0)
    lo = 0
    hi = 16
    while True:                        # double until it no longer runs
        u = runs(hi)
        if not u:
            break
        lo = hi
        used = u
        hi *= 2
    while hi - lo > 1:                 # lo runs, hi does not
        mid = (lo + hi) // 2
        u = runs(mid)
        if u:
            lo = mid
            used = u
        else:
            hi = mid
    return used


def stack_needs(viper, source_factory):
    """C-stack bytes of one second of frames (rep talking, searches, the record):
    Engine.process (core 0's frame path) and Pitch.step alone (core 1's), and the stack
    this thread can use. None where stack_use() is missing."""
    if stack_use is None:
        return None
    rep = array("h", bytes(2 * FRAME))
    cust = array("h", bytes(2 * FRAME))
    src = source_factory()
    feed = Engine(Params(), viper=viper)
    pcm = array("h", bytes(4 * FRAME * FRAMES_PER_S))    # the second's input
    xs = array("h", bytes(2 * FRAME * FRAMES_PER_S))     # its band-passed rep frames
    act = bytearray(FRAMES_PER_S)
    for f in range(2 * FRAMES_PER_S):
        src.frame(rep, cust)
        feed.process(rep, cust)
        if f >= FRAMES_PER_S:
            i = f - FRAMES_PER_S
            act[i] = feed.rep_active
            x0 = feed.x[0]
            for j in range(FRAME):
                pcm[2 * i * FRAME + j] = rep[j]
                pcm[(2 * i + 1) * FRAME + j] = cust[j]
                xs[i * FRAME + j] = x0[j]

    def nothing():
        return lambda: None

    def process():
        eng = Engine(Params(), viper=viper)

        def second():
            for i in range(FRAMES_PER_S):
                for j in range(FRAME):
                    rep[j] = pcm[2 * i * FRAME + j]
                    cust[j] = pcm[(2 * i + 1) * FRAME + j]
                eng.process(rep, cust)
        return second

    def pitch():
        p = Pitch(Params(), feed.k)

        def second():
            for i in range(FRAMES_PER_S):
                for j in range(FRAME):
                    rep[j] = xs[i * FRAME + j]
                p.step(rep, FRAME, act[i])
        return second

    top = _deepest(nothing)
    return {"usable": top + stack_use(), "process": top - _deepest(process),
            "pitch_step": top - _deepest(pitch)}


def run_two_cores(source_factory, viper, frames_max, records):
    """Engine.process with the pitch stage on a second thread (firmware/core1.py, as on
    the RP2040's second core): each core's busy time, and records checked equal to the
    one-core run's. None where _thread or firmware/ is missing."""
    try:
        from firmware.core1 import PitchOnCore1
    except ImportError:
        return None

    class TimedPitch:
        # the engine's Pitch, its time per step (on core 1) counted
        def __init__(self, pitch):
            self.pitch = pitch
            self.busy = 0

        def step(self, x, n, active):
            t0 = ticks_us()
            f0 = self.pitch.step(x, n, active)
            self.busy += ticks_diff(ticks_us(), t0)
            return f0

    class Timed(PitchOnCore1):
        # PitchOnCore1 with core 0's hand-off and its wait for F0 counted
        def __init__(self, engine):
            self.wait = 0
            self.handoff = 0
            super().__init__(engine)

        def attach(self, engine):
            super().attach(engine)
            self.pitch = TimedPitch(engine.pitch)

        def start(self, active):
            t0 = ticks_us()
            super().start(active)
            self.handoff += ticks_diff(ticks_us(), t0)

        def result(self):
            t0 = ticks_us()
            f0 = super().result()
            self.wait += ticks_diff(ticks_us(), t0)
            return f0

    eng = Engine(Params(), viper=viper)
    core1 = Timed(eng)
    rep = array("h", bytes(2 * FRAME))
    cust = array("h", bytes(2 * FRAME))
    src = source_factory()
    total = 0
    frames = 0
    i = 0
    match = True
    while frames < frames_max:
        if src.frame(rep, cust) is False:
            break
        t0 = ticks_us()
        ready = eng.process(rep, cust)
        total += ticks_diff(ticks_us(), t0)
        if ready:
            match = match and i < len(records) and tuple(eng.record) == records[i]
            i += 1
        frames += 1
    core1.close()
    return {"core0": total - core1.wait, "core1": core1.pitch.busy, "handoff": core1.handoff,
            "frames": frames, "match": match and i == len(records)}


def main(argv):
    seconds = 6
    viper = "--plain" not in argv
    path = None
    if "--seconds" in argv:
        seconds = int(argv[argv.index("--seconds") + 1])
    if "--frames" in argv:
        path = argv[argv.index("--frames") + 1]
        seconds = 10**6 if "--seconds" not in argv else seconds

    def factory():
        return Frames(path) if path else Synth()

    r = run(factory, viper, seconds * FRAMES_PER_S)
    two = run_two_cores(factory, viper, seconds * FRAMES_PER_S, r["records"])
    frames = max(r["frames"], 1)
    per_s = r["us_total"] * FRAMES_PER_S // frames
    print(
        "bench: kernels=%s frames=%d audio_s=%d"
        % (r["kernels"], r["frames"], r["frames"] // FRAMES_PER_S)
    )
    print(
        "bench: code_heap=%d engine_heap=%d peak_heap=%d"
        % (r["code_heap"], r["engine_heap"], r["peak_heap"])
    )
    stage_sum = sum(r["us_stages"])
    heap_s = r["us_heap_frames"] * FRAMES_PER_S // frames
    print("bench: heap_frames us_per_audio_s=%d heap_locked us_per_audio_s=%d "
          "stage_sum us_per_audio_s=%d locked_over_stage_sum_pct=%d"
          % (heap_s, per_s, stage_sum * FRAMES_PER_S // frames,
             100 * r["us_total"] // max(stage_sum, 1)))
    for name, us in zip(STAGES, r["us_stages"]):
        print(
            "stage: %s us_per_audio_s=%d share_pct=%d"
            % (name, us * FRAMES_PER_S // frames, 100 * us // max(stage_sum, 1))
        )
    print("bench: stages_match=%d" % (1 if r["stages_match"] else 0))
    st = stack_needs(viper, factory)
    if st is not None:
        print("bench: stack usable=%d process=%d pitch_step=%d"
              % (st["usable"], st["process"], st["pitch_step"]))
    pitch_s = r["us_stages"][STAGES.index("pitch")] * FRAMES_PER_S // frames
    dual = " pitch_pct=%d.%02d" % (pitch_s // 10000, (pitch_s // 100) % 100)
    if two is not None:
        c0 = two["core0"] * FRAMES_PER_S // max(two["frames"], 1)
        c1 = two["core1"] * FRAMES_PER_S // max(two["frames"], 1)
        ho = two["handoff"] * FRAMES_PER_S // max(two["frames"], 1)
        print("bench: two_cores core0_us_per_audio_s=%d core1_us_per_audio_s=%d "
              "handoff_us_per_audio_s=%d records_match=%d"
              % (c0, c1, ho, 1 if two["match"] else 0))
        dual += " core0_pct=%d.%02d core1_pct=%d.%02d" % (
            c0 // 10000, (c0 // 100) % 100, c1 // 10000, (c1 // 100) % 100)
    print(
        "device_bench: engine_us_per_audio_s=%d cpu_pct=%d.%02d alloc_per_frame=%d "
        "heap_free=%d heap_frames_us_per_audio_s=%d%s"
        % (per_s, per_s // 10000, (per_s // 100) % 100, r["alloc_per_frame"], r["heap_free"],
           heap_s, dual)
    )


if __name__ == "__main__":
    main(getattr(sys, "argv", []))
