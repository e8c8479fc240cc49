"""Flash I/O errors while logging, on a real LittleFS image in RAM (MicroPython unix port).

    micropython -X heapsize=16M sessionlog_ioerror.py REPO

A block device that fails (returns -EIO to LittleFS, as a flash driver reports a
failed program, erase or read) instead of losing power. One workload, the app's way of
logging (three sessions of 25 seconds, records held in RAM and committed by sync()
every 5, end()), is first run clean to count its reads R and writes W. Then:

- transient: for every n in 1..W the n-th program or erase fails once, and for every
  n in 1..R the n-th read fails once;
- stuck: from the n-th write on, every write fails for the next 8 writes (a bad
  stretch of flash), for every n in 1..W.

Each run checks that no store call raised; that once the fault is over the store logs
again (one more call, all 25 records committed); and, after a reboot (mount the image again,
recover()), that every record whose commit returned True is there and nothing
invalid is returned; what failed is counted (dropped_records), never silent.

Last line: "ioerror runs=N raised=A lost=B invalid=C not_resumed=D uncounted=E";
the test asserts A = B = C = D = E = 0.
"""

import sys

sys.path.insert(0, sys.argv[1])

from array import array  # noqa: E402

import vfs  # noqa: E402
from sessionlog_bdev import PROG, RAMBlockDev, fresh_image, umount  # noqa: E402

from dsp.record import RECORD_FIELDS  # noqa: E402
from firmware import logformat as sl  # noqa: E402
from firmware.sessionlog import SessionLog  # noqa: E402

ROOT = "/flash/logs"
EIO = -5


class FaultyDev(RAMBlockDev):
    """Fails the chosen operations with -EIO (nothing of a failed write lands)."""

    def __init__(self, data):
        super().__init__(data=data)
        self.reads = 0
        self.fail_writes = ()     # write numbers (1-based) that fail
        self.fail_reads = ()
        self.failed = 0

    def readblocks(self, block, buf, offset=0):
        self.reads += 1
        if self.reads in self.fail_reads:
            self.failed += 1
            return EIO
        return super().readblocks(block, buf, offset)

    def _fails(self):
        n = self.writes + 1
        if n in self.fail_writes:
            self.writes = n
            self.failed += 1
            return True
        return False

    def writeblocks(self, block, buf, offset=None):
        if offset is not None and self._fails():
            return EIO
        return super().writeblocks(block, buf, offset)

    def ioctl(self, op, arg):
        if op == 6 and self._fails():
            return EIO
        return super().ioctl(op, arg)


def make_rec(s, t):
    rec = array("i", bytes(4 * len(RECORD_FIELDS)))
    rec[0] = t
    rec[1] = (37 * t + s) % 1001
    rec[2] = (53 * t + 7 * s) % 1001
    rec[4] = t % 9
    rec[5] = 300 + t
    rec[7] = 100 + s
    return rec


def workload(store, sessions=range(3)):
    """The app's logging; returns {(session, t_s)} committed (a sync or end that
    returned True after their append)."""
    committed = set()
    for s in sessions:
        sid = store.start(1000 + s)
        held = []
        for t in range(25):
            if store.append(make_rec(s, t), 0, 0, None, 0, False):
                held.append((sid, t))
            if t % 5 == 4 or t == 24:
                if store.sync():
                    committed.update(held)
                held = []
        store.end()
    return committed


def run(pristine, fail_writes=(), fail_reads=()):
    data = bytearray(pristine)
    dev = FaultyDev(data)
    vfs.mount(vfs.VfsLfs2(dev, progsize=PROG), "/flash")
    store = SessionLog(ROOT, "cc-test", "0.1.0", 7)
    store.recover()
    dev.fail_writes = fail_writes
    dev.fail_reads = fail_reads
    raised = None
    committed = set()
    after = set()
    try:
        committed = workload(store)
        dev.fail_writes = dev.fail_reads = ()     # the fault is over: one more call
        after = workload(store, (3,))
    except Exception as e:  # the store must never raise
        raised = repr(e)
    dropped = store.dropped_records
    failed = dev.failed
    writes, reads = dev.writes, dev.reads
    umount()
    return data, committed, after, raised, dropped, failed, writes, reads


def read_back(data):
    """{(session, t_s): record dict} and the count of invalid records after a reboot."""
    dev = RAMBlockDev(data=data)
    vfs.mount(vfs.VfsLfs2(dev, progsize=PROG), "/flash")
    store = SessionLog(ROOT, "cc-test", "0.1.0", 7)
    store.recover()
    got = {}
    invalid = 0
    for sid, size, _, _ in store.sessions():
        raw = store.read(sid, 0, size)
        hdr, recs, events = sl.decode_log(raw)
        invalid += sl.check_body(raw[sl.HEADER_SIZE:])[2]
        for r in recs:
            got[(sid, r["t_s"])] = r
    umount()
    return got, invalid


def main():
    pristine = fresh_image(32)
    # session ids of the clean run are those of every run: 1, 2, 3
    _, clean, after, raised, _, _, n_writes, n_reads = run(pristine)
    assert raised is None and len(clean) == 75 and len(after) == 25, (raised, len(clean))
    plans = [("write %d" % n, (n,), ()) for n in range(1, n_writes + 1)]
    plans += [("read %d" % n, (), (n,)) for n in range(1, n_reads + 1)]
    plans += [("stuck %d" % n, tuple(range(n, n + 8)), ()) for n in range(1, n_writes + 1)]
    totals = {"runs": 0, "raised": 0, "lost": 0, "invalid": 0, "not_resumed": 0,
              "uncounted": 0}
    for label, fw, fr in plans:
        data, committed, after, raised, dropped, failed, _, _ = run(pristine, fw, fr)
        totals["runs"] += 1
        if raised is not None:
            totals["raised"] += 1
            print("FAIL %s: raised %s" % (label, raised))
            continue
        got, invalid = read_back(data)
        lost = [k for k in committed | after if k not in got]
        totals["lost"] += len(lost)
        totals["invalid"] += invalid
        # once the fault is over, the next call is logged whole
        if len(after) != 25:
            totals["not_resumed"] += 1
            print("FAIL %s: the call after the fault kept %d of 25 records"
                  % (label, len(after)))
        # a record appended but not committed is counted as dropped
        if failed and len(committed) < 75 and dropped == 0:
            totals["uncounted"] += 1
            print("FAIL %s: %d records not committed, none counted" % (label,
                                                                     75 - len(committed)))
        if lost or invalid:
            print("FAIL %s: lost %r invalid %d" % (label, lost[:5], invalid))
    print("ioerror writes=%d reads=%d " % (n_writes, n_reads)
          + " ".join("%s=%d" % (k, totals[k]) for k in ("runs", "raised", "lost", "invalid",
                                                        "not_resumed", "uncounted")))


main()
