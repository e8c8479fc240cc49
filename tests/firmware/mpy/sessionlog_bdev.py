"""A RAM block device for LittleFS tests under the unix port, with power cuts.

RAMBlockDev follows the extended block-device protocol of MicroPython's vfs
(readblocks/writeblocks with an offset, ioctl 4/5/6). Erased flash reads 0xFF. After
`arm(n)` the n-th program or erase is the last one: only a random prefix of it lands
(a torn page or a part-erased sector) and PowerCut is raised; the image keeps what it
had. PowerCut derives from BaseException so code that catches Exception (as
SessionLog.append does, to never raise) cannot swallow it.
"""

import vfs

BLOCK = 4096       # the RP2040 flash sector
PROG = 256         # the RP2040 flash page (rp2's LittleFS progsize)


LIVE = 0
DEAD = 1
OFF = 2


class PowerCut(BaseException):
    pass


class LCG:
    """A small deterministic random source (same numbers on every interpreter)."""

    def __init__(self, seed):
        self.s = (seed * 2654435761 + 12345) & 0x7FFFFFFF

    def next(self):
        self.s = (self.s * 1103515245 + 12345) & 0x7FFFFFFF
        return self.s >> 8

    def below(self, n):
        return self.next() % n

    def between(self, lo, hi):
        return lo + self.next() % (hi - lo + 1)


class RAMBlockDev:
    def __init__(self, nblocks=0, data=None, block=BLOCK):
        self.block = block
        self.data = data if data is not None else bytearray(b"\xff" * (block * nblocks))
        self.writes = 0       # programs + erases so far
        self.progs = 0
        self.erases = 0
        self.prog_bytes = 0
        self.cut_at = -1      # the write that loses power (-1: never)
        self.rng = LCG(1)
        # LIVE; DEAD after the cut: every access raises PowerCut, so nothing (not even a
        # `with` block's close) runs on past it; OFF once the harness has caught it:
        # accesses change nothing and do not allocate (GC finalisers of files left open
        # on the dead file system run with the heap locked)
        self.state = LIVE

    def arm(self, n, seed):
        self.cut_at = self.writes + n
        self.rng = LCG(seed)

    def off(self):
        self.state = OFF

    def _write_lands(self):
        # count a program/erase; False if power is already gone
        if self.state != LIVE:
            if self.state == DEAD:
                raise PowerCut()
            return False
        self.writes += 1
        return True

    def _cut_now(self):
        return self.cut_at >= 0 and self.writes >= self.cut_at

    def readblocks(self, block, buf, offset=0):
        a = block * self.block + offset
        if self.state != LIVE:
            if self.state == DEAD:
                raise PowerCut()
            data = self.data
            for i in range(len(buf)):
                buf[i] = data[a + i]
            return
        buf[:] = self.data[a:a + len(buf)]

    def writeblocks(self, block, buf, offset=None):
        if offset is None:    # simple protocol: erase the blocks, then program
            for i in range(len(buf) // self.block):
                self.ioctl(6, block + i)
            offset = 0
        if not self._write_lands():
            return
        a = block * self.block + offset
        n = len(buf)
        if self._cut_now():
            n = self.rng.below(n + 1)
            self.data[a:a + n] = buf[:n]
            self.state = DEAD
            raise PowerCut()
        self.progs += 1
        self.prog_bytes += n
        self.data[a:a + n] = buf

    def ioctl(self, op, arg):
        if op == 4:
            return len(self.data) // self.block
        if op == 5:
            return self.block
        if op == 6:
            if not self._write_lands():
                return 0
            a = arg * self.block
            n = self.block
            if self._cut_now():
                n = self.rng.below(n + 1)
                self.data[a:a + n] = b"\xff" * n
                self.state = DEAD
                raise PowerCut()
            self.erases += 1
            self.data[a:a + n] = b"\xff" * n
            return 0
        return 0


def fresh_image(nblocks):
    """A freshly formatted LittleFS image (bytearray), as rp2 formats its flash."""
    bdev = RAMBlockDev(nblocks)
    vfs.VfsLfs2.mkfs(bdev, progsize=PROG)
    return bdev.data


def mount(data, point="/flash"):
    """Mount a LittleFS image (used in place) at point; returns the block device."""
    bdev = RAMBlockDev(data=data)
    vfs.mount(vfs.VfsLfs2(bdev, progsize=PROG), point)
    return bdev


def umount(point="/flash"):
    try:
        vfs.umount(point)
    except OSError:
        pass
