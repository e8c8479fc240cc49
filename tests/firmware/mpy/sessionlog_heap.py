"""SessionLog.append() allocates nothing on the unix port: 300 appends under heap_lock()
on a LittleFS image in RAM (through a block device that copies without allocating); every
fourth carries two talk-over events (one write and flush with the second's record), and
one in 50 is events only (as App.close() writes).

    micropython sessionlog_heap.py REPO

On the x86-64 unix port small ints are 63-bit, so binascii.crc32's result never needs a
big int here; on the RP2040 it does (>= 2**30, three times in four): the one allocation
append() makes there, documented in firmware/sessionlog.py. The second figure is the heap
growth per append without the lock, over 2,000 appends that include the free-space
checks (a statvfs tuple every check_bytes).
"""

import sys

sys.path.insert(0, sys.argv[1])

import gc  # noqa: E402
from array import array  # noqa: E402

import micropython  # noqa: E402
import vfs  # noqa: E402
from sessionlog_bdev import PROG, RAMBlockDev  # noqa: E402

from firmware.sessionlog import SessionLog  # noqa: E402


class QuietDev(RAMBlockDev):
    """Reads, programs and erases by loops over small ints: no allocation at all."""

    def readblocks(self, block, buf, offset=0):
        a = block * self.block + offset
        data = self.data
        for i in range(len(buf)):
            buf[i] = data[a + i]

    def writeblocks(self, block, buf, offset=0):
        a = block * self.block + offset
        data = self.data
        for i in range(len(buf)):
            data[a + i] = buf[i]

    def ioctl(self, op, arg):
        if op == 6:
            a = arg * self.block
            data = self.data
            for i in range(self.block):
                data[a + i] = 0xFF
            return 0
        return super().ioctl(op, arg)


bdev = QuietDev(64)
vfs.VfsLfs2.mkfs(bdev, progsize=PROG)
vfs.mount(vfs.VfsLfs2(bdev, progsize=PROG), "/flash")
rec = array("i", [0, 1000, 250, 120, 5, 430, 2350, 140, 1])
events = array("i", [120, 190, 0, 195, 260, 1])

# a check_bytes no append below reaches: the statvfs tuple is the only allocation left
log = SessionLog("/flash/logs", "cc-heap", "fw", 0x7FFFFFFF, check_bytes=1 << 20)
log.start(1767225600)
for k in range(20):                      # warm up: the file leaves LittleFS's inline form
    log.append(rec, k, 0)
ok = 0
good = False
k = 0
gc.collect()
before = gc.mem_alloc()
micropython.heap_lock()
try:
    for k in range(300):
        rec[0] = k
        if k % 50 == 49:
            good = log.append(None, 0, 0, events, 2)
        elif k & 3 == 0:
            events[0] = k
            good = log.append(rec, k, 2, events, 2)
        else:
            good = log.append(rec, k, k & 1)
        if good:
            ok += 1
finally:
    micropython.heap_unlock()
after = gc.mem_alloc()
print("heap_lock appends", 300, "ok", ok, "alloc", after - before, "dropped",
      log.dropped_records, "errno", log.last_errno)
log.end()

log = SessionLog("/flash/logs", "cc-heap", "fw", 0x7FFFFFFF)   # default check_bytes
log.start(1767229200)
for _ in range(20):
    log.append(rec, 0, 0)
gc.collect()
gc.disable()
before = gc.mem_alloc()
for _ in range(2000):
    log.append(rec, 0, 0)
after = gc.mem_alloc()
gc.enable()
print("unlocked appends", 2000, "alloc", after - before, "per_append_x1000",
      (after - before) * 1000 // 2000)
log.end()

# deferred commits: appends held in RAM, a commit every tenth, all under heap_lock()
log = SessionLog("/flash/logs", "cc-heap", "fw", 0x7FFFFFFF, check_bytes=1 << 20)
log.start(1767232800)
for _ in range(20):
    log.append(rec, 0, 0)
ok = 0
gc.collect()
before = gc.mem_alloc()
micropython.heap_lock()
try:
    for k in range(300):
        rec[0] = k
        if log.append(rec, k, 0, events, k & 1, k % 10 == 9):
            ok += 1
finally:
    micropython.heap_unlock()
after = gc.mem_alloc()
print("deferred appends", 300, "ok", ok, "alloc", after - before, "dropped",
      log.dropped_records, "pending", log.pending)
log.end()
