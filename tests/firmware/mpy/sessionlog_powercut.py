"""Power cuts while logging, on a real LittleFS image in RAM (MicroPython unix port).

    micropython -X heapsize=16M sessionlog_powercut.py REPO SEED CUTS

Each workload (a seeded mix of sessions whose seconds carry talk-over events about one
time in three, written with the second's record in one flush, plus an old session with a
torn tail that recover() has to cut) first runs once to count its flash writes W. Then, for each of
CUTS cut points n drawn in 1..W: format a fresh image, arm the block device to lose power
at the n-th program/erase (a random prefix of that one lands), run the workload until
PowerCut flies out of it, mount a copy of the image as a fresh boot would, run
SessionLog.recover(), and check every session file read back through the store:

- every record (per-second or event) whose append() returned True before the cut is
  there, in order, equal;
- nothing else is returned except, at most, the records of the one append() that was
  cut, and then all of them (a second's events and record commit together);
- sequence numbers are contiguous (this workload never drops a record);
- a file's size is the header plus its valid records (recover() left no tail), and a
  session with no record flushed may be gone (recover() deletes header-only files);
- after the reboot the store logs again with a new, higher session id.

Last line: "powercut cuts=N records_checked=M flushed_lost=L invalid_returned=I ...";
the test asserts flushed_lost == 0 and invalid_returned == 0.

    micropython -X heapsize=16M sessionlog_powercut.py REPO every

Exhaustive instead of random: one scripted workload (Every) that goes through every
operation that writes (recover() of a torn session, one with a flipped bit in a record,
one with a flipped bit in its header and a header-only one, start, append committed
one by one, append held in RAM then sync(), end, delete of the newest and of an older
session, sessions removed for space by start() and sync(), a call continued in a new
part) is first
run once to count its flash programs and erases W, and to print how many each
operation made ("op NAME writes N"); then it is cut at EVERY write n = 1..W, each cut
checked as above, and also: no session id is ever handed out twice (the id start()
gives after the reboot is above every id returned, or found on flash, before the cut:
ids_reused counts the failures).
"""

import sys

sys.path.insert(0, sys.argv[1])

import gc  # noqa: E402
from array import array  # noqa: E402

from sessionlog_bdev import LCG, PowerCut, fresh_image, mount, umount  # noqa: E402

from dsp.record import RECORD_FIELDS  # noqa: E402
from firmware import logformat as sl  # noqa: E402
from firmware.sessionlog import SessionLog  # noqa: E402

ROOT = "/flash/logs"


class Tracked(SessionLog):
    """The store, noting every file it starts to remove (removal is allowed to win),
    and the parts a call continues in (part id -> the call's first id)."""

    def __init__(self, *args, **kw):
        self.removing = []
        self.part_of = {}
        self.rotating = -1
        super().__init__(*args, **kw)

    def _remove(self, sid):
        self.removing.append(sid)
        return super()._remove(sid)

    def _rotate(self):
        old = self._id
        self.rotating = self._next_id    # a part the cut may leave with a header only
        ok = super()._rotate()
        if ok:
            self.part_of[self._id] = self.part_of.get(old, old)
        self.rotating = -1
        return ok


def make_rec(rng, t_s):
    rec = array("i", bytes(4 * len(RECORD_FIELDS)))
    rec[0] = t_s
    rec[1] = rng.below(1001)
    rec[2] = rng.below(1001)
    rec[3] = rng.below(1001)
    rec[4] = rng.below(9)
    rec[5] = rng.below(900) - 1
    rec[6] = rng.below(4097) - 1
    rec[7] = rng.below(1202) - 1
    rec[8] = rng.below(5)
    return rec


def make_events(rng, t_s, n):
    ev = array("i", bytes(12 * n))
    for i in range(n):
        start = 100 * t_s + rng.below(60)
        ev[3 * i] = start
        ev[3 * i + 1] = start + 40 + rng.below(300)
        ev[3 * i + 2] = rng.below(2)
    return ev


def ev_dicts(seq, ev, n):
    return [{"seq": seq + i, "start_f": ev[3 * i], "end_f": ev[3 * i + 1],
             "interrupter": ev[3 * i + 2]} for i in range(n)]


def all_records(raw):
    """Header, then every record of a session file, both kinds, in seq order."""
    hdr, recs, events = sl.decode_log(raw)
    return hdr, sorted(recs + events, key=lambda r: r["seq"])


def as_dict(seq, rec, overruns, talkovers):
    d = {"seq": seq, "overruns": overruns, "talkovers": talkovers}
    for i, name in enumerate(RECORD_FIELDS):
        d[name] = rec[i]
    return d


def seed_torn_session(rng):
    """An old session 1 written before the workload: 20 records, then a torn tail."""
    f = open(ROOT + "/s000001.log", "wb")
    f.write(sl.encode_header("cc-test", "fw-old", 7, 1000, 1))
    buf = bytearray(sl.RECORD_SIZE)
    recs = []
    for k in range(20):
        rec = make_rec(rng, k)
        sl.encode_record_into(buf, k, rec, 0, 0)
        f.write(buf)
        recs.append(as_dict(k, rec, 0, 0))
    f.write(buf[:13])            # the torn 21st record
    f.close()
    return recs


class Workload:
    def __init__(self, seed, nblocks, sessions, lo, hi, min_free):
        self.seed = seed
        self.nblocks = nblocks
        self.sessions = sessions
        self.lo = lo
        self.hi = hi
        self.min_free = min_free
        self.pristine = fresh_image(nblocks)

    def run(self, cut_n):
        """Run on a fresh image; cut power at write cut_n (0: never). Returns the state."""
        st = {"expected": {}, "inflight": None, "start_inflight": -1, "cut": False,
              "removing": [], "data": None}
        rng = LCG(self.seed)
        data = bytearray(self.pristine)
        bdev = mount(data)
        import os
        os.mkdir(ROOT)
        st["expected"][1] = seed_torn_session(rng)
        log = None
        st["pre"] = bdev.writes
        if cut_n:
            bdev.arm(cut_n, self.seed * 7919 + cut_n)
        try:
            log = Tracked(ROOT, "cc-test", "fw-1", 0x1234ABCD, min_free_bytes=self.min_free)
            st["removing"] = log.removing
            log.recover()
            t_s = 0
            for s in range(self.sessions):
                st["start_inflight"] = log._next_id
                sid = log.start(1767225600 + 100 * s)
                st["start_inflight"] = -1
                assert sid >= 0, "start failed without a power cut (errno %d, free %d)" % (
                    log.last_errno, log.free_bytes())
                exp = st["expected"].setdefault(sid, [])
                seq = 0
                for _k in range(rng.between(self.lo, self.hi)):
                    rec = make_rec(rng, t_s)
                    ov = rng.below(3)
                    n_ev = rng.below(3) if rng.below(3) == 0 else 0
                    ev = make_events(rng, t_s, n_ev)
                    t_s += 1
                    batch = ev_dicts(seq, ev, n_ev) + [as_dict(seq + n_ev, rec, ov, n_ev)]
                    st["inflight"] = (sid, batch)
                    ok = log.append(rec, ov, n_ev, ev, n_ev)
                    st["inflight"] = None
                    assert ok, "append failed without a power cut (errno %d)" % log.last_errno
                    exp.extend(batch)
                    seq += len(batch)
                log.end()
        except PowerCut:
            st["cut"] = True
            bdev.off()
            if log is not None and log._f is not None:
                try:
                    log._f.close()       # so no finaliser touches the dead image later
                except BaseException:
                    pass
        if log is not None:
            st["part_of"] = log.part_of
            st["rotating"] = log.rotating
        umount()
        st["writes"] = bdev.writes
        st["data"] = data
        return st


def check(w, st, totals, label):
    """Boot on a copy of the cut image; compare what the store returns with st."""
    bdev = mount(bytearray(st["data"]))
    bad = []
    import os
    seen = set(st.get("ids", ()))         # every id start() returned before the cut
    try:
        for name in os.listdir(ROOT):     # and every session file the cut left
            if name[0] == "s" and name[-4:] in (".log", ".tmp") and name[1:-4].isdigit():
                seen.add(int(name[1:-4]))
    except OSError:
        pass
    log = SessionLog(ROOT, "cc-test", "fw-1", 0x1234ABCD, min_free_bytes=w.min_free)
    totals["torn_dropped"] += log.recover()
    present = {}
    for sid, size, n, start in log.sessions():
        raw = log.read(sid, 0, size + 100)
        try:
            hdr, recs = all_records(raw)
        except ValueError as e:
            bad.append("session %d: header invalid after recover: %s" % (sid, e))
            totals["invalid_returned"] += 1
            continue
        if hdr["session_id"] != sid or hdr["start_time"] != start:
            bad.append("session %d: header says %d/%d" % (sid, hdr["session_id"], start))
        if len(raw) != sl.HEADER_SIZE + sl.RECORD_SIZE * len(recs) or n != len(recs):
            bad.append("session %d: %d bytes for %d valid records" % (sid, len(raw), len(recs)))
            totals["invalid_returned"] += 1
        present[sid] = recs
    inflight = st["inflight"]
    part_of = st.get("part_of", {})
    files = {}                            # call id -> its files (parts), oldest first
    for fid, call in part_of.items():
        files.setdefault(call, []).append(fid)
    for sid, exp in st["expected"].items():
        parts = sorted([sid] + files.get(sid, []))
        got = [p for p in parts if p in present]
        if not got:
            if any(p in st["removing"] for p in parts) or not exp:
                continue                  # removed for space, or no record flushed yet
            bad.append("session %d with %d flushed records is gone" % (sid, len(exp)))
            totals["flushed_lost"] += len(exp)
            continue
        recs = []
        for p in got:
            recs += present.pop(p)
        # the call's oldest parts may have gone for space, never a part after one kept
        lost = [p for p in parts if got[0] < p < got[-1] and p not in got]
        first = recs[0]["seq"] if recs else 0
        if lost or (first and not any(p in st["removing"] for p in parts if p < got[0])):
            bad.append("session %d: parts %r of %r left, first seq %d" % (sid, got, parts,
                                                                          first))
            totals["flushed_lost"] += first
        k = 0
        while k < len(exp) and exp[k]["seq"] < first:
            k += 1
        exp = exp[k:]
        totals["records_checked"] += len(recs)
        for i in range(1, len(recs)):
            if recs[i]["seq"] <= recs[i - 1]["seq"]:
                bad.append("session %d: seq %d after %d" % (sid, recs[i]["seq"],
                                                             recs[i - 1]["seq"]))
        if len(recs) < len(exp):
            totals["flushed_lost"] += len(exp) - len(recs)
            bad.append("session %d: %d of %d flushed records" % (sid, len(recs), len(exp)))
        extra = len(recs) - len(exp)
        if extra > 0 and not (inflight is not None and inflight[0] == sid
                              and extra == len(inflight[1])):
            bad.append("session %d: %d records beyond the flushed ones (cut batch %r)" % (
                sid, extra, inflight))
            totals["invalid_returned"] += 1
        elif extra > 0:
            totals["inflight_kept"] += 1  # the append the cut interrupted made it, whole
        for i, r in enumerate(recs):
            if i < len(exp):
                want = exp[i]
            elif inflight is not None and inflight[0] == sid and i - len(exp) < len(
                    inflight[1]):
                want = inflight[1][i - len(exp)]
            else:
                want = None
            if want is None or r != want:
                bad.append("session %d: record %d is %r, want %r" % (sid, i, r, want))
                totals["invalid_returned"] += 1
    for sid, recs in present.items():
        # only a session whose start() (or a new part) the cut interrupted may appear
        # unannounced
        if sid not in (st["start_inflight"], st.get("rotating", -1)) or recs:
            bad.append("session %d appeared with %d records" % (sid, len(recs)))
            totals["invalid_returned"] += 1
    # the store works after the reboot: a new session with a higher id takes records
    ids = [s[0] for s in log.sessions()]
    sid = log.start(2000000000)
    rec = make_rec(LCG(5), 0)
    ok = log.append(rec) and log.append(rec)
    log.end()
    if seen and sid <= max(seen):
        totals["ids_reused"] += 1
        bad.append("after reboot: start() gave %d, id %d was used before the cut" % (
            sid, max(seen)))
    if sid <= (max(ids) if ids else 0) or not ok:
        bad.append("after reboot: start() gave %d (ids %r), append %r" % (sid, ids, ok))
    else:
        hdr, recs = all_records(log.read(sid, 0, 1000))
        if len(recs) != 2:
            bad.append("after reboot: session %d has %d records" % (sid, len(recs)))
    umount()
    if bad:
        totals["failed_cuts"] += 1
        print("FAIL", label, "writes", bdev.writes, ";".join(bad[:4]))


class Every:
    """The exhaustive workload: every operation of the store that writes, on a 64 KB
    image tight enough that start() and sync() remove old sessions for space."""

    nblocks = 16
    min_free = 16384

    def __init__(self, seed):
        self.seed = seed
        self.pristine = fresh_image(self.nblocks)
        self.ops = {}

    def run(self, cut_n):
        st = {"expected": {}, "inflight": None, "start_inflight": -1, "cut": False,
              "removing": [], "data": None, "ids": []}
        rng = LCG(self.seed)
        data = bytearray(self.pristine)
        bdev = mount(data)
        import os
        os.mkdir(ROOT)
        st["expected"][1] = seed_torn_session(rng)
        # a flipped bit in record 7 of 2 (that record goes), one in the header of 3
        # (rebuilt), and 4 with a header and no record (deleted: the newest, so the
        # floor is written first)
        for sid, flip in ((2, sl.HEADER_SIZE + 7 * sl.RECORD_SIZE + 5), (3, 14)):
            raw = bytearray(sl.encode_header("cc-test", "fw-old", 7, 3000, sid))
            buf = bytearray(sl.RECORD_SIZE)
            exp = []
            for k in range(20):
                rec = make_rec(rng, k)
                sl.encode_record_into(buf, k, rec, 0, 0)
                raw += buf
                if sid == 3 or k != 7:
                    exp.append(as_dict(k, rec, 0, 0))
            raw[flip] ^= 0x20
            f = open(ROOT + "/s%06d.log" % sid, "wb")
            f.write(raw)
            f.close()
            st["expected"][sid] = exp
        f = open(ROOT + "/s000004.log", "wb")
        f.write(sl.encode_header("cc-test", "fw-old", 7, 4000, 4))
        f.close()
        st["expected"][4] = []
        st["ids"] = [1, 2, 3, 4]
        st["pre"] = bdev.writes
        ops = self.ops
        log = None
        t = [0]
        if cut_n:
            bdev.arm(cut_n, self.seed * 7919 + cut_n)

        def op(name, fn, *args):
            w = bdev.writes
            try:
                return fn(*args)
            finally:
                if not cut_n:
                    ops[name] = ops.get(name, 0) + bdev.writes - w

        def start():
            st["start_inflight"] = log._next_id
            sid = op("start", log.start, 1767225600 + t[0])
            st["start_inflight"] = -1
            assert sid >= 0, "start failed without a power cut (errno %d)" % log.last_errno
            st["ids"].append(sid)
            st["expected"][sid] = []
            return sid

        def records(sid, n, commit_every):
            """n seconds (a third with talk-overs); committed one by one when
            commit_every is 1, else held in RAM and committed by sync() every
            commit_every seconds (the app's way)."""
            exp = st["expected"][sid]
            held = []
            for k in range(n):
                rec = make_rec(rng, t[0])
                n_ev = 1 + rng.below(2) if rng.below(3) == 0 else 0
                ev = make_events(rng, t[0], n_ev)
                t[0] += 1
                seq = len(exp) + len(held)
                batch = ev_dicts(seq, ev, n_ev) + [as_dict(seq + n_ev, rec, 1, n_ev)]
                if commit_every == 1:
                    st["inflight"] = (sid, batch)
                    ok = op("append", log.append, rec, 1, n_ev, ev, n_ev)
                    assert ok, "append failed without a power cut (errno %d)" % log.last_errno
                    exp.extend(batch)
                    continue
                assert log.append(rec, 1, n_ev, ev, n_ev, False)   # RAM only: no write
                held.extend(batch)
                if len(held) >= commit_every or k == n - 1:
                    st["inflight"] = (sid, held)
                    assert op("sync", log.sync), "sync failed (errno %d)" % log.last_errno
                    exp.extend(held)
                    held = []
            st["inflight"] = None

        def end(sid, last):
            """end() with one record still held: end commits it."""
            rec = make_rec(rng, t[0])
            t[0] += 1
            exp = st["expected"][sid]
            batch = [as_dict(len(exp), rec, 1, 0)]
            assert log.append(rec, 1, 0, None, 0, False)
            st["inflight"] = (sid, batch)
            op("end", log.end)
            exp.extend(batch)
            st["inflight"] = None

        try:
            log = Tracked(ROOT, "cc-test", "fw-1", 0x1234ABCD, min_free_bytes=self.min_free)
            st["removing"] = log.removing
            free_oldest = log._free_oldest

            def make_room(keep=-1):       # the removals for space, counted apart
                return op("make_room", free_oldest, keep)

            log._free_oldest = make_room
            rotate = log._rotate

            def new_part():               # a call continued in a new file, counted apart
                return op("rotate", rotate)

            log._rotate = new_part
            op("recover", log.recover)
            a = start()
            records(a, 4, 1)
            records(a, 30, 10)
            end(a, True)
            b = start()
            records(b, 20, 10)
            end(b, True)
            assert op("delete", log.delete, b)        # the newest: the floor first
            for _ in range(4):                        # fill: old sessions removed for space
                c = start()
                records(c, 100, 25)
                end(c, True)
            assert op("delete", log.delete, c)        # the newest again
            assert op("delete", log.delete, log.sessions()[0][0])   # and the oldest
            d = start()
            records(d, 2, 1)
            end(d, True)
        except PowerCut:
            st["cut"] = True
            bdev.off()
            if log is not None and log._f is not None:
                try:
                    log._f.close()
                except BaseException:
                    pass
        if log is not None:
            st["part_of"] = log.part_of
            st["rotating"] = log.rotating
        umount()
        st["writes"] = bdev.writes
        st["data"] = data
        return st


def every():
    w = Every(20260706)
    totals = {"cuts": 0, "records_checked": 0, "flushed_lost": 0, "invalid_returned": 0,
              "inflight_kept": 0, "torn_dropped": 0, "failed_cuts": 0, "removed": 0,
              "ids_reused": 0}
    dry = w.run(0)
    assert not dry["cut"]
    n_writes = dry["writes"] - dry["pre"]
    check(w, dry, totals, "every dry")
    totals["removed"] = len(dry["removing"])
    for name in sorted(w.ops):
        print("op", name, "writes", w.ops[name])
    print("workload every writes", n_writes, "sessions", len(dry["expected"]),
          "records", sum(len(v) for v in dry["expected"].values()),
          "removed", len(dry["removing"]), "parts", len(dry["part_of"]))
    for n in range(1, n_writes + 1):
        st = w.run(n)
        if not st["cut"]:
            print("FAIL every cut %d: the workload finished without a cut" % n)
            totals["failed_cuts"] += 1
        totals["cuts"] += 1
        check(w, st, totals, "every cut %d" % n)
        gc.collect()
    print("powercut every_write " + " ".join("%s=%d" % (k, totals[k]) for k in (
        "cuts", "records_checked", "flushed_lost", "invalid_returned", "inflight_kept",
        "torn_dropped", "removed", "ids_reused", "failed_cuts")))


def main():
    if sys.argv[2] == "every":
        every()
        return
    seed = int(sys.argv[2])
    cuts = int(sys.argv[3])
    # (nblocks of 4 KB, sessions, records per session lo..hi, min_free_bytes):
    # roomy (nothing removed) and tight (old sessions removed for space while logging)
    workloads = [Workload(seed + 1, 64, 5, 5, 60, 16384),
                 Workload(seed + 2, 64, 4, 100, 180, 16384),
                 Workload(seed + 3, 16, 9, 30, 90, 16384)]
    totals = {"cuts": 0, "records_checked": 0, "flushed_lost": 0, "invalid_returned": 0,
              "inflight_kept": 0, "torn_dropped": 0, "failed_cuts": 0, "removed": 0,
              "ids_reused": 0}
    rng = LCG(seed)
    for wi, w in enumerate(workloads):
        dry = w.run(0)
        assert not dry["cut"]
        n_writes = dry["writes"] - dry["pre"]   # the writes a cut can hit
        # the dry run must itself check clean (no cut: everything flushed is there)
        check(w, dry, totals, "w%d dry" % wi)
        totals["removed"] += len(dry["removing"])
        print("workload", wi, "writes", n_writes, "sessions", len(dry["expected"]),
              "records", sum(len(v) for v in dry["expected"].values()),
              "removed_for_space", len(dry["removing"]))
        share = cuts // len(workloads) + (1 if wi < cuts % len(workloads) else 0)
        for _ in range(share):
            n = 1 + rng.below(n_writes)
            st = w.run(n)
            if not st["cut"]:
                print("FAIL w%d cut %d: the workload finished without a cut" % (wi, n))
                totals["failed_cuts"] += 1
            totals["cuts"] += 1
            check(w, st, totals, "w%d cut %d" % (wi, n))
            gc.collect()
    print("powercut " + " ".join("%s=%d" % (k, totals[k]) for k in (
        "cuts", "records_checked", "flushed_lost", "invalid_returned", "inflight_kept",
        "torn_dropped", "removed", "ids_reused", "failed_cuts")))


main()
