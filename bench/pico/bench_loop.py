"""The dongle's whole frame loop, measured: App.step, not just the engine.

Under the unix port (MICROPYPATH = the repository root):
    micropython bench/pico/bench_loop.py [--seconds N]
On a board or the emulated Pico, with dsp/ and firmware/ on its file system and
bench.py beside them (it imports `bench` for its audio source):
    mpremote cp bench/pico/bench.py : + run bench/pico/bench_loop.py

App.step per 10 ms frame: the engine (heap locked, as always), the LED, talk-over
events, and once a second the record appended to the session log (encode, CRC, into
a slot in RAM), the link poll and the watchdog. The chores a frame asks for (the
session's file made, a commit) run after it, as App.run does them, timed apart. Audio comes
from bench.py's synthetic two-party source (generated between frames, not
timed), the log goes to a LittleFS in RAM (the emulated Pico cannot write flash at
run time, and on a board a flash program or erase stalls both cores whatever the
code does: see firmware/README.md). No host is attached (link=None). Prints

    loop: frames=N mean_us=M worst_us=W worst_frame=F over_5ms=K
    loop: second_frames=S second_mean_us=M2 second_worst_us=W2 session=ID records=R
    loop: second_engine_mean_us=E2
    loop: worst_cpu_us=C worst_cpu_frame=F3 block_device_us=B erases=E commits=K
    loop: chores=N2 chores_worst_us=W5 collections=N3 commit_worst_us=W4 commit_worst_cpu_us=C4
    loop: session_open_frame=F2 session_open_us=U session_open_cpu_us=U2
    loop: append_mean_us=A append_worst_us=A2
    loop: garbage_bytes_per_s=G gc_collect_us=C heap_free=H

worst_cpu_us leaves out the time spent in the RAM block device (on a board: flash
reads, programs and erases, which stall both cores however the code is written;
`erases` counts them). The log commits after a silent second or every 30 s
(firmware/app.py, SYNC_MAX_S), a chore after the frame: timed apart (commit_*); the
synthetic talk has no silent second, so every 30 s here. The session opens (a file
created, its header written, the first record appended) once per call, on the first
second with voice: a chore too (session_open_*, after frame F2). The garbage is
what the loop leaves between frames once the session is open (on the RP2040
binascii.crc32 returns a big int three times in four); `collections` counts the
chores that collected it (at call end and every 60 s: App.chores), and
gc_collect_us is one collection of the heap as the run leaves it: the pause
such a chore takes (a frame would take it if the GC ran inside one).
"""

import gc
import sys
import time

import vfs

_BLOCK = 4096


class RAMFlash:
    """A LittleFS block device in RAM that copies by slices (C speed, as rp2.Flash
    does; hal_sim.RAMBlockDev copies byte by byte in Python so that it never
    allocates, which would time the simulator rather than the loop)."""

    def __init__(self, blocks):
        self.mv = memoryview(bytearray(blocks * _BLOCK))
        self.blocks = blocks
        self.erased = b"\xff" * _BLOCK
        self.us = 0              # time spent in here: flash I/O on a board
        self.erases = 0
        for b in range(blocks):
            self.ioctl(6, b)
        self.erases = 0

    def readblocks(self, n, buf, off=0):
        t0 = time.ticks_us()
        a = n * _BLOCK + off
        buf[:] = self.mv[a:a + len(buf)]
        self.us += time.ticks_diff(time.ticks_us(), t0)

    def writeblocks(self, n, buf, off=0):
        t0 = time.ticks_us()
        a = n * _BLOCK + off
        self.mv[a:a + len(buf)] = buf
        self.us += time.ticks_diff(time.ticks_us(), t0)

    def ioctl(self, op, arg):
        if op == 4:
            return self.blocks
        if op == 5:
            return _BLOCK
        if op == 6:
            t0 = time.ticks_us()
            a = arg * _BLOCK
            self.mv[a:a + _BLOCK] = self.erased
            self.erases += 1
            self.us += time.ticks_diff(time.ticks_us(), t0)
        return 0


# the flash image first, while the heap still has 32 KB in one piece
_DEV = RAMFlash(8)

from bench import Synth  # noqa: E402
from dsp.engine import Engine  # noqa: E402
from firmware.app import App  # noqa: E402
from firmware.config import Config  # noqa: E402
from firmware.sessionlog import SessionLog  # noqa: E402

ticks_us = time.ticks_us          # MicroPython only, as App is
ticks_diff = time.ticks_diff


class Clock:
    """Seconds as the app reads them: unset (0), advanced by the frames."""

    def __init__(self):
        self.frames = 0

    def tick(self):
        self.frames += 1

    def now(self):
        return 0

    def set_time(self, t):
        pass

    def uptime_s(self):
        return self.frames // 100


class Led:
    """The cue LED's surface; on a board the NeoPixel write happens only on a change."""

    def __init__(self):
        self.changes = 0
        self.cue = 0

    def show(self, cue):
        if cue != self.cue:
            self.cue = cue
            self.changes += 1


class TimedLog(SessionLog):
    """The session log with its append (encode, CRC, write, flush) timed, and its
    commits to flash counted."""

    def __init__(self, *args):
        super().__init__(*args)
        self.append_us = 0
        self.append_worst = 0
        self.commits = 0

    def _write(self, data):
        self.commits += 1
        return super()._write(data)

    def append(self, rec, overruns=0, talkovers=0, events=None, n_events=0, flush=True):
        t0 = ticks_us()
        ok = super().append(rec, overruns, talkovers, events, n_events, flush)
        dt = ticks_diff(ticks_us(), t0)
        self.append_us += dt
        if dt > self.append_worst:
            self.append_worst = dt
        return ok


class TimedEngine(Engine):
    """The engine with its process() timed, to split a frame into the engine's part
    and the rest of the loop's."""

    def __init__(self, params):
        super().__init__(params)
        self.us = 0

    def process(self, rep, cust):
        t0 = ticks_us()
        ready = super().process(rep, cust)
        self.us = ticks_diff(ticks_us(), t0)
        return ready


class Idle:
    """The capture's surface App reads between frames (frames come from the bench)."""

    overruns = 0
    done = False




def main(argv):
    seconds = 40
    if "--seconds" in argv:
        seconds = int(argv[argv.index("--seconds") + 1])
    dev = _DEV
    vfs.VfsLfs2.mkfs(dev, progsize=256)
    vfs.mount(vfs.VfsLfs2(dev, progsize=256), "/ram")
    clock = Clock()
    config = Config("/ram/config.json").load()
    store = TimedLog("/ram/logs", "cc-bench", "bench", config.cal_hash())
    app = App(Idle(), Led(), clock, store, None, config)
    app.engine = TimedEngine(config.params)
    src = Synth()
    frames = seconds * 100
    total = 0
    worst = 0
    worst_frame = -1
    worst_cpu = 0
    worst_cpu_frame = -1
    over = 0
    sec_n = 0
    sec_total = 0
    sec_worst = 0
    sec_engine = 0
    commit_worst = 0
    commit_worst_cpu = 0
    garbage = 0
    opened = -1
    open_us = 0
    open_cpu = 0
    chores = 0
    chores_worst = 0
    collections = 0
    gc.collect()
    gc.disable()                       # collections would hide the garbage count
    for f in range(frames):
        src.frame(app.rep, app.cust)
        clock.tick()
        a0 = gc.mem_alloc()
        io0 = dev.us
        t0 = ticks_us()
        app.step()
        dt = ticks_diff(ticks_us(), t0)
        cpu = dt - (dev.us - io0)      # without the block device: flash I/O on a board
        if cpu > worst_cpu:
            worst_cpu = cpu
            worst_cpu_frame = f
        if app.chores_due:             # as App.run does: flash work after the frame
            opening = app.open_due
            committing = app.sync_due
            mark = app.gc_frame
            io0 = dev.us
            t0 = ticks_us()
            app.chores()
            c = ticks_diff(ticks_us(), t0)
            c_cpu = c - (dev.us - io0)
            chores += 1
            if app.gc_frame != mark:   # this chore collected the garbage
                collections += 1
            if c > chores_worst:
                chores_worst = c
            if opening:
                opened = f
                open_us = c
                open_cpu = c_cpu
            elif committing and c > commit_worst:
                commit_worst = c
                commit_worst_cpu = c_cpu
        if f >= 200:                             # the session is open by then
            garbage += gc.mem_alloc() - a0
        total += dt
        if dt > worst:
            worst = dt
            worst_frame = f
        if dt > 5000:
            over += 1
        if app.engine.frame % 100 == 0:          # this frame closed a second
            sec_n += 1
            sec_total += dt
            sec_engine += app.engine.us
            if dt > sec_worst:
                sec_worst = dt
    gc.enable()
    t0 = ticks_us()
    gc.collect()
    gc_us = ticks_diff(ticks_us(), t0)
    print("loop: frames=%d mean_us=%d worst_us=%d worst_frame=%d over_5ms=%d"
          % (frames, total // frames, worst, worst_frame, over))
    print("loop: second_frames=%d second_mean_us=%d second_worst_us=%d session=%d records=%d"
          % (sec_n, sec_total // max(sec_n, 1), sec_worst, app.session, app.records_logged))
    print("loop: second_engine_mean_us=%d" % (sec_engine // max(sec_n, 1)))
    print("loop: worst_cpu_us=%d worst_cpu_frame=%d block_device_us=%d erases=%d commits=%d"
          % (worst_cpu, worst_cpu_frame, dev.us, dev.erases, store.commits))
    print("loop: chores=%d chores_worst_us=%d collections=%d commit_worst_us=%d "
          "commit_worst_cpu_us=%d"
          % (chores, chores_worst, collections, commit_worst, commit_worst_cpu))
    print("loop: session_open_frame=%d session_open_us=%d session_open_cpu_us=%d"
          % (opened, open_us, open_cpu))
    print("loop: append_mean_us=%d append_worst_us=%d"
          % (store.append_us // max(app.records_logged, 1), store.append_worst))
    print("loop: garbage_bytes_per_s=%d gc_collect_us=%d heap_free=%d"
          % (garbage // max(seconds - 2, 1), gc_us, gc.mem_free()))


if __name__ == "__main__":
    main(getattr(sys, "argv", []))
