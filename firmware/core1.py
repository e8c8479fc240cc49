"""The pitch stage on the RP2040's second core.

    eng = Engine(params)
    PitchOnCore1(eng)          # from now on eng.process() runs Pitch.step on core 1

The engine hands over after the voice-activity decision (the band-passed rep frame
is in eng.x[0], the rep's activity is the argument), goes on with talk-over, dead
air and the cue policy on core 0, and waits for F0 before the syllables. Pitch.step
is the same call on the same data as in the one-core engine, so the results are
bit-identical; only the load moves (bench: about half of the engine's cycles).

Two locks are the whole protocol: `go` released by core 0 when a frame is ready,
`done` released by core 1 when its F0 is. Neither side allocates per frame (lock
calls and small-int attributes only), and core 1 runs Pitch.step with its heap
locked, so its frames stay on core 1's own stack (below). The rp2 port builds
`_thread` without a GIL (MICROPY_PY_THREAD_GIL 0), so core 1 runs Python while core 0
does; under the unix port it is likewise a real thread without a GIL, so the
simulated board runs the same code in parallel.
"""

import _thread

from micropython import heap_lock, heap_unlock

from dsp.engine import FRAME

# Core 1's stack is the rp2 port's default: 4096 bytes from the GC heap, of which
# 3584 are usable (512 are kept back to recover from an overflow). Pitch.step with
# the heap locked needs about 1 KB of it (measured on the emulated Pico by
# bench/pico/bench.py, line `bench: stack`; core 0's Engine.process about 1.3 KB of 8.6).


class PitchOnCore1:
    def __init__(self, engine):
        self.go = _thread.allocate_lock()
        self.done = _thread.allocate_lock()
        self.go.acquire()
        self.done.acquire()
        self.active = 0
        self.f0 = 0
        self.stopping = False
        self.attach(engine)
        _thread.start_new_thread(self._loop, ())

    def attach(self, engine):
        """Serve this engine from now on (between frames: core 1 is waiting on `go`)."""
        self.pitch = engine.pitch
        self.x = engine.x[0]
        engine.pitch_worker = self

    def _loop(self):
        while True:
            self.go.acquire()
            if self.stopping:
                break
            heap_lock()          # this thread's heap; as App.step does on core 0
            try:
                self.f0 = self.pitch.step(self.x, FRAME, self.active)
            finally:
                heap_unlock()
            self.done.release()
        self.done.release()

    # called by Engine.process on core 0
    def start(self, active):
        self.active = active
        self.go.release()

    def result(self):
        self.done.acquire()
        return self.f0

    def close(self):
        """Stop core 1's loop (the engine must not process frames after this)."""
        self.stopping = True
        self.go.release()
        self.done.acquire()
