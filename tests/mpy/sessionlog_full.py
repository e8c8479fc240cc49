"""Flash full, on a real 64 KB LittleFS image (16 sectors of 4 KB) under the unix port.

    micropython -X heapsize=16M sessionlog_full.py REPO

Prints "ok NAME ..." per scenario, or "FAIL NAME why"; the test wants no FAIL line.
"""

import sys

sys.path.insert(0, sys.argv[1])

import os  # noqa: E402
from array import array  # noqa: E402

from sessionlog_bdev import LCG, fresh_image, mount, umount  # noqa: E402

from firmware import sessionlog as sl  # noqa: E402
from firmware.sessionlog import SessionLog  # noqa: E402

ROOT = "/flash/logs"
failures = []


def expect(name, cond, why):
    if not cond:
        failures.append(name)
        print("FAIL", name, why)


def rec_for(rng, t):
    r = array("i", bytes(36))
    r[0] = t
    r[1] = rng.below(1001)
    r[2] = rng.below(1001)
    r[4] = rng.below(8)
    r[5] = rng.below(700) - 1
    r[8] = rng.below(5)
    return r


def log_session(log, rng, n, t0=0):
    """start, n appends, end; (id, appends that returned True). Any exception escapes."""
    sid = log.start(1767225600 + t0)
    ok = 0
    for k in range(n):
        if log.append(rec_for(rng, t0 + k), k & 3, k & 1):
            ok += 1
    log.end()
    return sid, ok


def valid_records(log, sid):
    size = [s for s in log.sessions() if s[0] == sid][0][1]
    hdr, recs = sl.decode_session(log.read(sid, 0, size))
    return recs


def many_sessions():
    """Forty calls into a 64 KB image: the oldest go first, counted; nothing is lost
    from the sessions that remain; every append succeeds while something can go."""
    name = "many_sessions"
    mount(fresh_image(16))
    rng = LCG(1)
    log = SessionLog(ROOT, "cc-full", "fw", 1)
    log.recover()
    made = []
    for i in range(40):
        sid, ok = log_session(log, rng, 40 + rng.below(160), i * 1000)
        n = len(valid_records(log, sid))
        expect(name, ok == n and sid >= 0, "session %d: %d appends ok, %d on flash"
               % (sid, ok, n))
        made.append(sid)
    ids = [s[0] for s in log.sessions()]
    expect(name, log.removed_for_space == len(made) - len(ids),
           "removed_for_space %d, sessions made %d, left %d"
           % (log.removed_for_space, len(made), len(ids)))
    expect(name, ids == made[-len(ids):], "left %r: not the newest ones" % ids)
    expect(name, log.removed_for_space > 20 and log.dropped_records == 0,
           "removed %d dropped %d" % (log.removed_for_space, log.dropped_records))
    expect(name, log.free_bytes() >= 0, "free_bytes %d" % log.free_bytes())
    print("ok" if name not in failures else "--", name, "sessions", len(made), "left",
          len(ids), "removed_for_space", log.removed_for_space, "free", log.free_bytes())
    umount()


def one_long_call():
    """One call longer than the flash holds: the others go first, then records are
    dropped and counted; append never raises; what is on flash stays valid; the next
    session starts (the full one is removed for it)."""
    name = "one_long_call"
    mount(fresh_image(16))
    rng = LCG(2)
    log = SessionLog(ROOT, "cc-full", "fw", 1)
    for i in range(5):
        log_session(log, rng, 100, i * 1000)
    sid = log.start(1767300000)
    ok = dropped = 0
    first_drop = -1
    for k in range(4000):
        if log.append(rec_for(rng, k), 0, 0):
            ok += 1
        else:
            dropped += 1
            if first_drop < 0:
                first_drop = k
    others = [s[0] for s in log.sessions() if s[0] != sid]
    n = len(valid_records(log, sid))
    expect(name, others == [], "other sessions left: %r" % others)
    expect(name, log.removed_for_space == 5, "removed_for_space %d" % log.removed_for_space)
    expect(name, dropped > 0 and dropped == log.dropped_records,
           "dropped %d counted %d" % (dropped, log.dropped_records))
    expect(name, n == ok, "%d appends ok, %d valid on flash" % (ok, n))
    log.end()
    sid2, ok2 = log_session(log, rng, 30, 9000)
    left = [s[0] for s in log.sessions()]
    expect(name, sid2 > sid and ok2 == 30 and left == [sid2],
           "next session %d (%d ok), sessions %r" % (sid2, ok2, left))
    print("ok" if name not in failures else "--", name, "appended", ok, "dropped", dropped,
          "first_drop_at", first_drop, "removed_for_space", log.removed_for_space)
    umount()


def nothing_to_free():
    """The flash is full of something the store may not delete: start() gives -1,
    append() drops and counts, nothing raises; room comes back, logging resumes."""
    name = "nothing_to_free"
    mount(fresh_image(16))
    rng = LCG(3)
    log = SessionLog(ROOT, "cc-full", "fw", 1)
    f = open("/flash/ballast.bin", "wb")
    for size in (1024, 256, 32, 1):
        chunk = bytes(size)
        try:
            while True:
                f.write(chunk)
                f.flush()
        except OSError:
            f.close()                     # drops the part that did not fit
            f = open("/flash/ballast.bin", "ab")
    f.close()
    # the logs folder's own metadata has room for small inline files: fill it too
    k = 0
    try:
        while True:
            with open(ROOT + "/pad%d" % k, "wb") as g:
                g.write(bytes(64))
            k += 1
    except OSError:
        pass
    sid = log.start(1767400000)
    res = [log.append(rec_for(rng, k)) for k in range(20)]
    log.end()
    expect(name, sid == -1 and not any(res) and log.dropped_records == 20,
           "start %d, appends %r, dropped %d" % (sid, res, log.dropped_records))
    os.remove("/flash/ballast.bin")
    for i in range(k + 1):
        try:
            os.remove(ROOT + "/pad%d" % i)
        except OSError:
            pass
    sid2, ok2 = log_session(log, rng, 20, 100)
    expect(name, sid2 >= 1 and ok2 == 20, "after freeing: start %d, %d ok" % (sid2, ok2))
    print("ok" if name not in failures else "--", name, "start", sid, "dropped",
          log.dropped_records, "then session", sid2, "ok", ok2)
    umount()


def min_free_policy():
    """A statvfs that reports little free space: the oldest closed sessions are removed
    before a session starts and while one grows, never the open one; LittleFS's
    'more free blocks than blocks' reading counts as 0 free."""
    name = "min_free_policy"
    mount(fresh_image(64))
    free = [10 ** 6]

    def statvfs(path):
        blocks = free[0] // 4096
        return (4096, 4096, 64, blocks, blocks, 0, 0, 0, 0, 255)

    rng = LCG(4)
    log = SessionLog(ROOT, "cc-full", "fw", 1, min_free_bytes=16384, statvfs=statvfs,
                     check_bytes=1024)
    ids = [log_session(log, rng, 10, i)[0] for i in range(4)]
    free[0] = 8192                        # nearly full: start() makes room first
    sid = log.start(5)
    left = [s[0] for s in log.sessions()]
    expect(name, left == [sid] and log.removed_for_space == 4,
           "after start: %r removed %d" % (left, log.removed_for_space))
    for k in range(100):                  # checks every 1 KB: nothing else to remove
        expect(name, log.append(rec_for(rng, k)), "append %d failed" % k)
    expect(name, [s[0] for s in log.sessions()] == [sid], "open session removed")
    log.end()
    expect(name, ids == [1, 2, 3, 4], "ids %r" % ids)
    fake = SessionLog(ROOT, "x", "y", 0, statvfs=lambda p: (4096, 4096, 16, 2 ** 32 - 12,
                                                            2 ** 32 - 12))
    expect(name, fake.free_bytes() == 0, "quirk free_bytes %d" % fake.free_bytes())
    print("ok" if name not in failures else "--", name, "removed_for_space",
          log.removed_for_space)
    umount()


many_sessions()
one_long_call()
nothing_to_free()
min_free_policy()
print("failures", len(failures))
