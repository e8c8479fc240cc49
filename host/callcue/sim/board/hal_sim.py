"""The simulated board: the same surface as hal_rp2.py, for MicroPython's unix port.

- FileCapture: frame pairs from a frame-planar raw file (per 10 ms: 80 rep int16 then
  80 customer int16, little-endian; `callcue sim` writes it from a WAV), as fast as
  possible or paced at N times real time, optionally looping. Paced by the file, not
  the wall clock: a host too busy to keep the pace slows the call down (counted in
  `lag_ms`) instead of losing audio; `drop_late=True` loses it as the device would
  (`overruns`), for tests of that path.
- IdleCapture: no call at all (a dongle plugged in to be read).
- LedRecorder: records the cue timeline and can draw it in a terminal.
- SimClock: seconds since the epoch as set by the host, advanced by audio time;
  TicksClock: advanced by the host's clock (no audio plays).
- storage: a LittleFS image in RAM or in a host file (written through, like flash), or a
  host folder.
- the serial link is stdin/stdout (the host bridges it to a pseudo-terminal).
"""

import sys
import time
from array import array

from dsp.engine import FRAME
from firmware.leds import CUE_COLOURS

_FRAME_BYTES = 2 * FRAME
_RING_FRAMES = 8        # like the device's capture ring: 80 ms of slack before an overrun


class SimClock:
    """Wall-clock seconds: set by the host (`set_time`), advanced by captured audio; 0
    until set, like the device's clock after a power-up (hal_rp2.RTCClock)."""

    def __init__(self):
        self.base = 0
        self.frames = 0
        self.is_set = False

    def tick(self):
        self.frames += 1

    def now(self):
        return self.base + self.frames // 100 if self.is_set else 0

    def set_time(self, t):
        self.base = t - self.frames // 100
        self.is_set = True

    def uptime_s(self):
        return self.frames // 100


class TicksClock(SimClock):
    """The clock of a board with no audio playing: it runs with the host's monotonic
    clock (0 until set, like SimClock)."""

    def __init__(self):
        super().__init__()
        self.t0 = time.ticks_ms()

    def uptime_s(self):
        return time.ticks_diff(time.ticks_ms(), self.t0) // 1000

    def now(self):
        return self.base + self.uptime_s() if self.is_set else 0

    def set_time(self, t):
        self.base = t - self.uptime_s()
        self.is_set = True


class IdleCapture:
    """No call: the capture has nothing to give (App.run returns at once; serve answers
    the link)."""

    done = True
    overruns = 0
    lag_ms = 0
    speed = 0
    delivered = 0

    def read(self, rep, cust):
        return False

    def close(self):
        pass


class FileCapture:
    def __init__(self, path, clock, speed=0, loop=False, drop_late=False):
        self.path = path
        self.clock = clock
        self.speed = speed          # 0: as fast as possible; 1: real time; 10: ten times
        self.loop = loop
        # a real board loses the audio its loop was too late for; a simulated one, whose
        # "board" is a busy host, slows the call down instead (unless told to drop)
        self.drop_late = drop_late
        self.f = open(path, "rb")
        self.done = False
        self.overruns = 0
        self.lag_ms = 0             # how far the pace slipped because the host was late
        self.delivered = 0
        self.t0 = None              # the pace starts with the first read (after boot)

    def read(self, rep, cust):
        """Fill rep and cust with the next frame pair; False if none is due yet or the
        file has ended (then `done` is set)."""
        if self.done:
            return False
        if self.speed:
            if self.t0 is None:
                self.t0 = time.ticks_ms()
            due = time.ticks_diff(time.ticks_ms(), self.t0) * self.speed // 10 - self.delivered
            if due <= 0:
                return False
            if due > _RING_FRAMES:           # fell behind: the ring would have overflowed
                if not self.drop_late:       # move the pace on: late, nothing lost
                    slip = (due - _RING_FRAMES) * 10 // self.speed
                    self.t0 = time.ticks_add(self.t0, slip)
                    self.lag_ms += slip
                    return self._next(rep, cust)
                while due > _RING_FRAMES:
                    if not self._next(rep, cust):
                        return False
                    self.overruns += 1
                    due -= 1
        return self._next(rep, cust)

    def stop_pacing(self):
        """Play the rest as fast as possible, and only once (the host has gone: finish
        the call so that the flash keeps it whole)."""
        self.speed = 0
        self.loop = False

    def _next(self, rep, cust):
        if self.f.readinto(rep) != _FRAME_BYTES or self.f.readinto(cust) != _FRAME_BYTES:
            if not self.loop:
                self.done = True
                return False
            self.f.seek(0)
            if self.f.readinto(rep) != _FRAME_BYTES or self.f.readinto(cust) != _FRAME_BYTES:
                self.done = True
                return False
        self.delivered += 1
        self.clock.tick()
        return True

    def close(self):
        self.f.close()


class LedRecorder:
    """The cue LED: keeps (frame, cue) at every change in a preallocated array (the
    frame loop allocates nothing; past `capacity` changes the oldest are overwritten);
    `draw` prints each change live."""

    def __init__(self, clock, draw=False, out=None, capacity=4096):
        self.clock = clock
        self.draw = draw
        self.out = out or sys.stderr
        self.cue = 0
        self.changes = 0
        self.log = array("i", bytes(8 * capacity))

    def show(self, cue):
        if cue == self.cue:
            return
        self.cue = cue
        i = (self.changes % (len(self.log) // 2)) * 2
        self.log[i] = self.clock.frames
        self.log[i + 1] = cue
        self.changes += 1
        if self.draw:
            name, rgb = CUE_COLOURS[cue]
            t = self.clock.frames / 100
            r, g, b = rgb
            dot = "\x1b[38;2;%d;%d;%dm\u25cf\x1b[0m" % (r, g, b) if cue else "\u25cb"
            self.out.write("[%7.2f s] LED %s %s\n" % (t, dot, name))

    @property
    def timeline(self):
        """[(frame, cue)] of the changes still held, oldest first."""
        cap = len(self.log) // 2
        first = self.changes - cap if self.changes > cap else 0
        out = []
        for k in range(first, self.changes):
            i = (k % cap) * 2
            out.append((self.log[i], self.log[i + 1]))
        return out


class WDT:
    """The simulated watchdog only counts feeds."""

    def __init__(self):
        self.feeds = 0

    def feed(self):
        self.feeds += 1


class RAMBlockDev:
    """A block device in a bytearray (or over a host file's bytes), for LittleFS, with
    the RP2040's 4 KB erase sectors. Copies byte by byte: slicing would allocate, and the
    log's flush runs inside the allocation-free frame loop."""

    def __init__(self, data, block_size=4096):
        self.data = data
        self.block_size = block_size

    def readblocks(self, n, buf, off=0):
        a = n * self.block_size + off
        data = self.data
        for i in range(len(buf)):
            buf[i] = data[a + i]

    def writeblocks(self, n, buf, off=None):
        if off is None:           # simple protocol: whole blocks, erase first
            off = 0
        a = n * self.block_size + off
        data = self.data
        for i in range(len(buf)):
            data[a + i] = buf[i]

    def ioctl(self, op, arg):
        if op == 4:
            return len(self.data) // self.block_size
        if op == 5:
            return self.block_size
        if op == 6:               # erase a block: flash reads 0xFF
            a = arg * self.block_size
            data = self.data
            for i in range(self.block_size):
                data[a + i] = 0xFF
            return 0
        return 0


FLASH_SIZE = 1408 * 1024      # a new image file: the Pico's MicroPython filesystem


def mount_storage(spec, mount_point="/flash", size=1 << 20):
    """Storage for the session logs and config: returns the folder to use.

    spec: "ram" (a fresh LittleFS of `size` bytes in memory), "IMAGE.lfs" (a LittleFS
    image in a host file, created if missing (FLASH_SIZE), written through block by
    block: what the firmware writes survives however the process ends, like a board's
    flash), or a host folder. An image file that holds no LittleFS raises OSError: it is
    never formatted over."""
    import os

    import vfs
    if spec == "ram":
        bdev = RAMBlockDev(bytearray(b"\xff" * size))
        vfs.VfsLfs2.mkfs(bdev, progsize=256)
        vfs.mount(vfs.VfsLfs2(bdev, progsize=256), mount_point)
        _MOUNTED.append((spec, bdev))
        return mount_point
    if spec.endswith(".lfs"):
        bdev, fresh = FileBlockDev.open(spec, FLASH_SIZE)
        if fresh:
            vfs.VfsLfs2.mkfs(bdev, progsize=256)
        try:
            vfs.mount(vfs.VfsLfs2(bdev, progsize=256), mount_point)
        except OSError:
            raise OSError("%s: not a LittleFS image" % spec) from None
        return mount_point
    try:
        os.mkdir(spec)
    except OSError:
        pass
    return spec


_MOUNTED = []


def sync_storage():
    """Nothing left to write: images are written through (kept for the callers that
    mark the moments a board would have its flash consistent)."""


class FileBlockDev:
    """A block device on a host file (a LittleFS image), written through block by block:
    what is written survives the process, like a board's flash, without a sync step.
    `FileBlockDev.open(path, size)` creates the file (erased, 0xFF) if it is missing and
    returns (device, created)."""

    def __init__(self, f, blocks, block_size=4096):
        self.f = f
        self.blocks = blocks
        self.block_size = block_size

    @classmethod
    def open(cls, path, size, block_size=4096):
        created = False
        try:
            f = open(path, "r+b")
        except OSError:
            f = open(path, "w+b")
            blank = b"\xff" * block_size
            for _ in range(size // block_size):
                f.write(blank)
            created = True
        f.seek(0, 2)
        blocks = f.tell() // block_size
        return cls(f, blocks, block_size), created

    def readblocks(self, n, buf, off=0):
        self.f.seek(n * self.block_size + off)
        self.f.readinto(buf)

    def writeblocks(self, n, buf, off=0):
        self.f.seek(n * self.block_size + off)
        self.f.write(buf)

    def ioctl(self, op, arg):
        if op == 4:
            return self.blocks
        if op == 5:
            return self.block_size
        if op == 6:               # erase a block: flash reads 0xFF
            self.f.seek(arg * self.block_size)
            self.f.write(b"\xff" * self.block_size)
            return 0
        return 0
