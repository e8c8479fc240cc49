"""Flash full, on a real 64 KB LittleFS image (16 sectors of 4 KB) under the unix port.

    micropython -X heapsize=16M sessionlog_full.py REPO

Prints "ok NAME ..." per scenario, or "FAIL NAME why"; the test wants no FAIL line.
"""

import sys

sys.path.insert(0, sys.argv[1])

import os  # noqa: E402
from array import array  # noqa: E402

from sessionlog_bdev import LCG, fresh_image, mount, umount  # noqa: E402

from firmware import logformat as sl  # noqa: E402
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
    log = SessionLog(ROOT, "cc-full", "fw", 1, part_bytes=1 << 20)   # one file a call
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


def call_on_flash(log, last):
    """The records of the call whose newest part is session `last`: its parts followed
    back through `continues`, oldest first; (part ids, records in seq order)."""
    ids = [sid for sid, _, _, _ in log.sessions()]
    parts = []
    sid = last
    while sid in ids:
        parts.insert(0, sid)
        hdr = sl.decode_header(log.read(sid, 0, sl.HEADER_SIZE))
        if not hdr["flags"] & sl.FLAG_CONTINUED:
            break
        sid = hdr["continues"]
    recs = []
    for sid in parts:
        size = [s for s in log.sessions() if s[0] == sid][0][1]
        _, seconds, events = sl.decode_log(log.read(sid, 0, size))
        recs += sorted(seconds + events, key=lambda x: x["seq"])
    return parts, recs


def long_call(blocks, n_prior, seconds, part_bytes=0):
    """n_prior calls of 100 s, then one call of `seconds` (a talk-over event about
    every 35 s) on an image of `blocks` 4 KB blocks. Returns the figures."""
    mount(fresh_image(blocks))
    rng = LCG(2)
    log = SessionLog(ROOT, "cc-full", "fw", 1, part_bytes=part_bytes)
    for i in range(n_prior):
        log_session(log, rng, 100, i * 1000)
    first = log.start(1767300000)
    ok = dropped = events = 0
    ev = array("i", [0, 0, 0])
    for k in range(seconds):
        n_ev = 1 if k % 35 == 17 else 0
        ev[0] = 100 * k
        ev[1] = 100 * k + 60
        events += n_ev
        # committed every 10 s, as the app commits at the latest every 30 s
        if log.append(rec_for(rng, k), 0, n_ev, ev, n_ev, k % 10 == 9):
            ok += 1
        else:
            dropped += 1 + n_ev
    log.sync()
    last = log.session_id
    parts, recs = call_on_flash(log, last)
    others = [s[0] for s in log.sessions() if s[0] < first]
    out = {"first": first, "last": last, "parts": parts, "recs": recs, "others": others,
           "ok": ok, "dropped": log.dropped_records, "seconds": seconds,
           "events": events, "removed": log.removed_for_space,
           "call_removed": log.call_records_removed, "n_parts": log.parts, "log": log}
    return out


def one_long_call():
    """One call much longer than the flash holds: the other sessions go first, then the
    call's own oldest parts (counted), never its newest records: what is on flash is
    an unbroken tail of the call up to its last second, in parts linked by
    `continues`; nothing is dropped; the next session starts after it."""
    name = "one_long_call"
    r = long_call(16, 5, 4000)
    log = r["log"]
    recs = r["recs"]
    seqs = [x["seq"] for x in recs]
    t = [x["t_s"] for x in recs if "t_s" in x]
    expect(name, r["others"] == [], "other sessions left: %r" % r["others"])
    expect(name, r["dropped"] == 0, "dropped %d" % r["dropped"])
    expect(name, t and t[-1] == 3999 and t == list(range(t[0], 4000)),
           "on flash t_s %r..%r (%d)" % (t[:1], t[-1:], len(t)))
    expect(name, seqs == list(range(seqs[0], seqs[0] + len(seqs))), "seq not contiguous")
    expect(name, len(t) >= 600, "only %d s kept" % len(t))
    # every record appended is on flash, or counted as removed with its part
    expect(name, r["call_removed"] == r["seconds"] + r["events"] - len(recs)
           and seqs[0] == r["call_removed"],
           "call_records_removed %d, appended %d, on flash %d from seq %d" % (
               r["call_removed"], r["seconds"] + r["events"], len(recs), seqs[0]))
    expect(name, r["removed"] == 5 + r["n_parts"] + 1 - len(r["parts"]),
           "removed_for_space %d, parts %d, left %d" % (r["removed"], r["n_parts"],
                                                         len(r["parts"])))
    log.end()
    sid2, ok2 = log_session(log, LCG(9), 30, 9000)
    expect(name, sid2 > r["last"] and ok2 == 30 and sid2 in [s[0] for s in log.sessions()],
           "next session %d (%d ok), sessions %r" % (sid2, ok2, log.sessions()))
    print("ok" if name not in failures else "--", name, "appended", r["ok"], "dropped",
          r["dropped"], "kept", len(recs), "from_t_s", t[0] if t else -1, "parts",
          r["n_parts"] + 1, "parts_left", len(r["parts"]), "call_records_removed",
          r["call_removed"], "removed_for_space", r["removed"])
    umount()


def long_call_48k():
    """A 30-minute call on a 48 KB image (a talk-over every 35 s): the newest minutes
    are kept, the call's end included; one file a call (the former policy) kept its
    beginning and dropped its end."""
    name = "long_call_48k"
    r = long_call(12, 0, 1800)
    t = [x["t_s"] for x in r["recs"] if "t_s" in x]
    ev = [x for x in r["recs"] if "t_s" not in x]
    umount()
    expect(name, t and t[-1] == 1799 and t == list(range(t[0], 1800)) and r["dropped"] == 0,
           "t_s %r..%r dropped %d" % (t[:1], t[-1:], r["dropped"]))
    expect(name, len(t) >= 600, "only %d s kept" % len(t))
    print("ok" if name not in failures else "--", name, "kept_s", len(t), "t_s", t[0], t[-1],
          "events_kept", len(ev), "of", r["events"], "dropped", r["dropped"],
          "call_records_removed", r["call_removed"], "parts", r["n_parts"] + 1, "left",
          len(r["parts"]))


def big_parts():
    """Parts set too big for the flash (part_bytes 1 MB on 64 KB): when nothing else can
    go, the call's file is closed, continued in a new one and removed, and from then on
    the parts are a quarter of what fitted; the end of the call is on flash."""
    name = "big_parts"
    r = long_call(16, 0, 3000, part_bytes=1 << 20)
    t = [x["t_s"] for x in r["recs"] if "t_s" in x]
    umount()
    expect(name, t and t[-1] == 2999 and t == list(range(t[0], 3000)) and r["dropped"] == 0,
           "t_s %r..%r dropped %d" % (t[:1], t[-1:], r["dropped"]))
    expect(name, r["n_parts"] >= 2 and len(t) >= 200, "parts %d kept %d s" % (
        r["n_parts"], len(t)))
    print("ok" if name not in failures else "--", name, "kept_s", len(t), "parts",
          r["n_parts"] + 1, "call_records_removed", r["call_removed"])


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
long_call_48k()
big_parts()
nothing_to_free()
min_free_policy()
print("failures", len(failures))
