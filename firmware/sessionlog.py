"""Session logs on flash: one file per call, a header then 32-byte records: one per second
and one per talk-over event.

SessionLog is the store on the device's LittleFS (it also works on a host folder): files,
space, commits and boot recovery. The format itself (encode/decode, LOGFORMAT.md) is
logformat.py, which the host reads pulled files with.

    log = SessionLog("/logs", device_id, fw_version, cal_hash)
    log.recover()                       # at boot, before anything else touches /logs
    sid = log.start(unix_time)          # first voice activity while idle
    log.append(eng.record, overruns, talkovers)   # once per second; never raises
    log.append(eng.record, overruns, talkovers, events, n)   # ... with n talk-over events
    log.end()                           # the call has ended

Durability: append() writes its records (the second's talk-over events, then the
second) and flushes once (on LittleFS, f.flush() is lfs2_file_sync: the records are
committed atomically together, or not at all if power fails first). A record whose
append() returned True survives a power cut. append(..., flush=False) holds records
in RAM for the next flushing append, sync() or end() (the app commits after a quiet
second or every 30 s: each commit is a flash erase). On a file
system without that guarantee a torn tail can exist; recover() and the decoders find it
by length, CRC and sequence number and drop it.

Seals: under a key (SessionLog(..., key=K), or set_key(K) for the sessions after),
every commit ends in a seal record, written and flushed with the records it covers:
a truncated HMAC-SHA256 chaining them to the seal before (the first to the header),
so the host can prove a pulled log is what this unit wrote (LOGFORMAT.md, "Seal";
callcue.archive.seal.verify). recover() seals again what it rewrites. Readers skip seals.

CRC and its one allocation per second: logformat.py.
"""

import binascii
import os

from .logformat import (
    FLAG_CONTINUED,
    FLAG_REBUILT,
    HDR_FOREIGN,
    HDR_OURS,
    HEADER_SIZE,
    KIND_OFFSET,
    KIND_SEAL,
    RECORD_SIZE,
    SEAL_FINAL,
    SEAL_RESEALED,
    SEAL_TAG_OFFSET,
    TAG_LEN,
    decode_header,
    encode_event_into,
    encode_header,
    encode_record_into,
    header_state,
    record_seq,
    seal_close,
    seal_into,
    seal_template,
)

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


_ENOENT = const(2)
_EIO = const(5)
_ENOMEM = const(12)
_ENOSPC = const(28)
_CHUNK = const(256)          # bytes per read in recover(), truncation and crc32()
PENDING_MAX = const(64)      # records append(flush=False) can hold before a flush


# ---------------------------------------------------------------------------- the store

def _session_id(name):
    # "s000123.log" -> 123; anything else -> -1
    if len(name) < 6 or name[0] != "s" or not name.endswith(".log"):
        return -1
    digits = name[1:-4]
    return int(digits) if digits.isdigit() and len(digits) <= 9 else -1


class SessionLog:
    """Session files in the folder `root` (created if missing), one per call.

    Space: before a session starts and every `check_bytes` of log written, if free
    space (statvfs) is below min_free_bytes, the oldest sessions other than the open
    one are removed (removed_for_space). On ENOSPC, append() and start() remove the
    oldest other session and retry; when nothing is left to remove the record is
    dropped (dropped_records). Nothing here raises on I/O errors or corrupt files.

    statvfs: a function like os.statvfs (tests inject one); the free-byte figure is
    f_frsize * f_bavail, read as 0 when LittleFS reports more free blocks than it has
    (it does while blocks are in flight on a full disk)."""

    def __init__(self, root, device_id, fw_version, cal_hash, min_free_bytes=16384,
                 statvfs=None, check_bytes=4096, part_bytes=0, key=None):
        self.root = root.rstrip("/") if len(root) > 1 else root
        self.device_id = device_id
        self.fw_version = fw_version
        self.cal_hash = cal_hash
        self.min_free_bytes = min_free_bytes
        self.check_bytes = check_bytes
        # a call's file is continued in a new one (a part) past this size, so that a
        # full flash can drop the call's oldest part, never its newest minutes; 0: a
        # sixteenth of the file system, at least 4 KB (set at each start())
        self.part_bytes = part_bytes
        self._part_max = 1 << 30
        self._call_first = 1 << 30   # the open call's first part (its id)
        self._statvfs = statvfs if statvfs is not None else os.statvfs
        # records encoded but not yet on flash (append(flush=False), or the batch being
        # written): a slot view per record, and a view of the first k records for
        # each k, all made here, so append() and sync() allocate nothing
        # (one more slot than records: a batch's seal goes after its records)
        self._pend = bytearray(RECORD_SIZE * (PENDING_MAX + 1))
        mv = memoryview(self._pend)
        self._slot = [mv[i * RECORD_SIZE:(i + 1) * RECORD_SIZE]
                      for i in range(PENDING_MAX + 1)]
        self._head = [mv[:i * RECORD_SIZE] for i in range(PENDING_MAX + 2)]
        # sealing (LOGFORMAT.md, "Seal"): the key for the next session (set_key), the
        # open session's (kept for all its parts), and its chain: the last seal's tag,
        # or the file's header before its first seal
        self._mac_next = None
        self._mac = None
        self._chain = b""
        self.resealed = 0            # segments recover() re-sealed (their seal was lost)
        self._seals_ours = self._seals_other = 0   # seals _scan() saw, by key
        self.set_key(key)
        self._npend = 0
        self._buf = bytearray(RECORD_SIZE)       # records read in recover()
        self._scratch = bytearray(RECORD_SIZE)   # crc checks in recover()
        self._f = None
        self._id = -1
        self._seq = 0
        self._size = 0
        self._start_time = 0
        self._next_check = 0
        self.removed_for_space = 0   # sessions removed to make room
        self.dropped_records = 0     # records append() could not write
        self.dropped_torn = 0        # records recover() dropped (torn or invalid)
        self.deleted_files = 0       # files recover() deleted (no valid record left)
        self.headers_rebuilt = 0     # corrupt headers recover() rebuilt
        self.parts = 0               # calls continued in a new file (a part)
        self.call_records_removed = 0  # records of an open call's old parts removed for space
        self.last_errno = 0          # errno of the last I/O error (0: none yet)
        try:
            os.mkdir(self.root)
        except OSError:
            pass                     # exists (or cannot be made: every write fails softly)
        self._next_id = self._first_free_id()

    def set_key(self, key):
        """Seal the sessions started from now on under key (32 bytes; None: no seals).
        The open session keeps the key it started with, so one file has one key."""
        if key is None:
            self._mac_next = None
        else:
            from .seal import Hmac
            self._mac_next = Hmac(key)

    # ------------------------------------------------------------------ paths and listing

    def _path(self, sid, ext=".log"):
        return "%s/s%06d%s" % (self.root, sid, ext)

    def _names(self):
        try:
            return os.listdir(self.root)
        except OSError as e:
            self.last_errno = e.errno
            return []

    def _ids(self):
        ids = []
        for name in self._names():
            sid = _session_id(name)
            if sid >= 0:
                ids.append(sid)
        ids.sort()
        return ids

    def _first_free_id(self):
        ids = self._ids()
        nxt = ids[-1] + 1 if ids else 1
        try:
            with open(self.root + "/nextid", "rb") as f:
                floor = int(f.read(12))
            if floor > nxt:
                nxt = floor
        except Exception:
            pass                     # no floor file (or a torn one): max id + 1
        return nxt

    def _file_size(self, path):
        try:
            return os.stat(path)[6]
        except OSError:
            return -1

    def free_bytes(self):
        """Free bytes on the log's file system (see the class docstring), -1 if unknown."""
        try:
            st = self._statvfs(self.root)
        except Exception:
            return -1
        avail = st[4]
        if avail > st[2]:
            avail = 0
        return (st[1] or st[0]) * avail

    def total_bytes(self):
        """Size of the log's file system in bytes, -1 if unknown."""
        try:
            st = self._statvfs(self.root)
        except Exception:
            return -1
        return (st[1] or st[0]) * st[2]

    # ------------------------------------------------------------------ boot

    def recover(self, feed=None):
        """Check every closed session file at boot, record by record: a record whose
        CRC fails or whose seq is not above the last valid one's is dropped on its
        own, never the records after it, and a torn last record too; the file is
        rewritten with its valid records only (a copy renamed over it: LittleFS
        files cannot be cut in place). A corrupt header is rebuilt (FLAG_REBUILT;
        session id from the file name, start time and calibration hash unknown: 0)
        when the file still holds a valid record; a file with no valid record is
        deleted (deleted_files). A valid header of another format version (a
        downgrade) is left alone. A rewritten file sealed under this store's key is
        sealed again over what was kept (_scan_reseal; resealed counts the segments
        whose own seal no longer held). Returns the records dropped (also added to
        dropped_torn); headers_rebuilt counts the rebuilt headers. Never raises.

        Cost: every record is read and checked once (about 32 bytes of I/O and one
        crc32 each), a damaged file twice. feed: called once per file (e.g. the
        watchdog's feed)."""
        dropped = 0
        names = self._names()
        for name in names:
            if name[0] == "s" and name.endswith(".tmp"):
                # a rewrite's copy: finished if its .log is gone (rename not atomic on
                # FAT), else incomplete
                log = name[:-4] + ".log"
                try:
                    if log in names:
                        os.remove(self.root + "/" + name)
                    else:
                        os.rename(self.root + "/" + name, self.root + "/" + log)
                except OSError as e:
                    self.last_errno = e.errno
        for sid in self._ids():
            if sid == self._id:
                continue
            try:
                dropped += self._recover_file(sid)
            except Exception as e:
                self.last_errno = getattr(e, "errno", _EIO)
            if feed is not None:
                feed()
        self.dropped_torn += dropped
        nxt = self._first_free_id()
        if nxt > self._next_id:
            self._next_id = nxt
        return dropped

    def _scan(self, f, out=None):
        """Check the records from f's position to its end: (valid, bad) counts, bad
        including a torn last record (check_body's rules); with out (a file), write
        the valid records to it."""
        buf = self._buf
        prev = -1
        good = bad = 0
        mac = self._mac_next
        self._seals_ours = self._seals_other = 0
        while True:
            n = f.readinto(buf)
            if n != RECORD_SIZE:
                if n:
                    bad += 1
                return good, bad
            seq = record_seq(buf, self._scratch, prev)
            if seq < 0:
                bad += 1
                continue
            prev = seq
            good += 1
            if buf[KIND_OFFSET] == KIND_SEAL:  # whose seals: only our key's can be re-sealed
                if mac is not None and buf[4:8] == mac.key_id:
                    self._seals_ours += 1
                else:
                    self._seals_other += 1
            if out is not None:
                out.write(buf)

    def _scan_reseal(self, f, out, orig_prev, new_prev):
        """_scan(f, out) for a file sealed under our key: the valid records are copied,
        and each seal is replaced by one over what was kept, chained from new_prev (the
        header written). A seal whose original segment still verifies (chained from
        orig_prev, then from each stored tag) keeps its flags; one whose segment lost
        or changed bytes gets SEAL_RESEALED (counted in resealed): those records are
        proven by their CRCs and this device's recovery only. Records after the last
        seal stay unsealed, as they were. Returns (valid, bad) as _scan."""
        from .seal import equal
        mac = self._mac_next
        buf = self._buf
        prev = -1
        good = bad = count = 0
        oh = mac.start()
        oh.update(orig_prev)
        nh = mac.start()
        nh.update(new_prev)
        while True:
            n = f.readinto(buf)
            if n != RECORD_SIZE:
                if n:
                    bad += 1
                return good, bad
            seq = record_seq(buf, self._scratch, prev)
            if seq < 0:
                bad += 1
                oh.update(buf)       # the writer sealed these bytes as they were
                continue
            prev = seq
            good += 1
            if buf[KIND_OFFSET] != KIND_SEAL:
                oh.update(buf)
                nh.update(buf)
                count += 1
                out.write(buf)
                continue
            stored = bytes(buf[SEAL_TAG_OFFSET:SEAL_TAG_OFFSET + TAG_LEN])
            oh.update(seal_template(buf))
            flags = buf[24]
            if not equal(mac.finish(oh)[:TAG_LEN], stored):
                flags |= SEAL_RESEALED
                self.resealed += 1
            tag = seal_close(buf, mac, nh, seq, count, flags)
            out.write(buf)
            oh = mac.start()
            oh.update(stored)
            nh = mac.start()
            nh.update(tag)
            count = 0

    def _recover_file(self, sid):
        path = self._path(sid)
        size = self._file_size(path)
        if size < 0:
            return 0
        with open(path, "rb") as f:
            head = f.read(HEADER_SIZE)
            state = header_state(head)
            if state == HDR_FOREIGN:
                return 0             # another format version's file: not ours to judge
            hsize = decode_header(head)["header_size"] if state == HDR_OURS else HEADER_SIZE
            good = bad = 0
            if size > hsize:
                f.seek(hsize)
                good, bad = self._scan(f)
        if not good:                 # nothing provably ours is left in it
            self._remove(sid)
            self.deleted_files += 1
            return bad
        if state == HDR_OURS and not bad:
            return 0
        head = None                  # a valid header is copied as it is
        if state != HDR_OURS:
            head = encode_header(self.device_id, self.fw_version, 0, 0, sid, FLAG_REBUILT)
        # under the key the file was sealed with, the copy is sealed again (a dropped
        # record would otherwise break its seal and look like tampering)
        reseal = self._mac_next is not None and self._seals_ours and not self._seals_other
        if not self._rewrite(sid, head, hsize, reseal):
            # no room for the copy: free the oldest other session, try once more
            if not (self._free_oldest(sid) and self._rewrite(sid, head, hsize, reseal)):
                return 0             # left as it is: readers skip its bad records too
        if state != HDR_OURS:
            self.headers_rebuilt += 1
        return bad

    def _rewrite(self, sid, head, hsize, reseal=False):
        """Replace session sid's file by a header and its valid records from offset
        hsize: the file's own first hsize bytes (head None) or `head` (a rebuilt
        header); written to a .tmp copy, committed, then renamed over the .log (atomic
        on LittleFS). False (file unchanged) on an I/O error."""
        src = self._path(sid)
        tmp = self._path(sid, ".tmp")
        try:
            with open(src, "rb") as fi, open(tmp, "wb") as fo:
                orig = fi.read(hsize)
                new = orig if head is None else head
                fo.write(new)
                fi.seek(hsize)
                if reseal:
                    self._scan_reseal(fi, fo, orig, new)
                else:
                    self._scan(fi, fo)
                fo.flush()
            os.rename(tmp, src)
            return True
        except OSError as e:
            self.last_errno = e.errno
            try:
                os.remove(tmp)
            except OSError:
                pass
            return False

    def _truncate(self, sid, keep):
        """Cut session sid's file to keep bytes by copying them to a .tmp file and renaming
        it over the .log (atomic on LittleFS). False (file unchanged) on an I/O error."""
        src = self._path(sid)
        tmp = self._path(sid, ".tmp")
        chunk = bytearray(_CHUNK)
        mv = memoryview(chunk)
        try:
            with open(src, "rb") as fi, open(tmp, "wb") as fo:
                left = keep
                while left > 0:
                    n = fi.readinto(mv[:left] if left < _CHUNK else mv)
                    if not n:
                        break
                    fo.write(mv[:n])
                    left -= n
                fo.flush()
            os.rename(tmp, src)
            return True
        except OSError as e:
            self.last_errno = e.errno
            try:
                os.remove(tmp)
            except OSError:
                pass
            return False

    # ------------------------------------------------------------------ space

    def _remove(self, sid):
        """Remove session sid's file; False (file kept) on an I/O error.

        Ids never repeat, across any power cut: before the newest file goes, the next
        id is written to `nextid` (the floor the next boot starts from), and only then
        is the file removed. The other way round, a cut between the two would let the
        next boot take max id + 1 = sid again. If the floor cannot be written, the
        file stays."""
        if sid >= self._next_id - 1:
            if sid >= self._next_id:
                self._next_id = sid + 1
            try:
                with open(self.root + "/nextid", "wb") as f:   # atomic on LittleFS
                    f.write(("%d" % self._next_id).encode())
            except OSError as e:
                self.last_errno = e.errno
                return False
        try:
            os.remove(self._path(sid))
        except OSError as e:
            self.last_errno = e.errno
            return False
        return True

    def _free_oldest(self, keep=-1):
        """Remove the oldest session that is neither open nor `keep`; True if one went.
        An older part of the open call goes like any other session (the oldest first),
        its records counted in call_records_removed."""
        for sid in self._ids():
            if sid != self._id and sid != keep:
                size = self._file_size(self._path(sid))
                if self._remove(sid):
                    self.removed_for_space += 1
                    if self._id >= 0 and sid >= self._call_first and size > HEADER_SIZE:
                        self.call_records_removed += (size - HEADER_SIZE) // RECORD_SIZE
                    return True
                return False
        return False

    def _make_room(self):
        free = self.free_bytes()
        while 0 <= free < self.min_free_bytes and self._free_oldest():
            free = self.free_bytes()

    # ------------------------------------------------------------------ sessions

    def start(self, start_time):
        """Open a new session file (header written and flushed) and return its id, or -1
        if no file could be made (its records are then dropped and counted)."""
        try:
            return self._start(start_time)
        except MemoryError:
            # no heap for the file's handle or name: as a file that cannot be made (the
            # id it may have taken is skipped, never handed out twice)
            self.last_errno = _ENOMEM
            self._id = -2
            self._seq = 0
            return -1

    def _start(self, start_time):
        if self._id >= 0:
            self.end()
        self._make_room()
        part = self.part_bytes
        if not part:
            # a sixteenth of the file system, and at most a quarter of the room this
            # call can have (free now, plus every closed session, which may go for it)
            total = self.total_bytes()
            part = total // 16 if total > 0 else 1 << 30
            room = self.free_bytes()
            for sid in self._ids():      # sizes only: a stat each, no header read
                room += self._file_size(self._path(sid))
            if 0 < room // 4 < part:
                part = room // 4
        self._part_max = part if part > 4096 else 4096
        sid = self._next_id
        hdr = encode_header(self.device_id, self.fw_version, self.cal_hash, start_time, sid)
        f = self._create(sid, hdr)
        if f is None:
            self._id = -2            # no file: append() drops and counts
            self._seq = 0
            return -1
        self._seq = 0
        self._start_time = start_time
        self._call_first = sid
        self._mac = self._mac_next
        self._opened(f, sid, hdr)
        return sid

    def _create(self, sid, hdr):
        """Create session file sid holding the header hdr, committed; the open file, or
        None if it cannot be made (after removing the oldest other sessions on ENOSPC)."""
        path = self._path(sid)
        while True:
            f = None
            try:
                f = open(path, "wb")
                f.write(hdr)
                f.flush()
                self._next_id = sid + 1
                return f
            except OSError as e:
                self.last_errno = e.errno
                if f is not None:
                    self._close(f)
                try:
                    os.remove(path)
                except OSError:
                    pass
                if e.errno == _ENOSPC and self._free_oldest():
                    continue
                return None          # nothing was made under this id: it stays free

    def _opened(self, f, sid, hdr):
        self._chain = hdr            # a file's first seal chains from its header
        self._f = f
        self._id = sid
        self._size = HEADER_SIZE
        self._next_check = HEADER_SIZE + self.check_bytes

    def _rotate(self):
        """Continue the open call in a new file, the next id (FLAG_CONTINUED, `continues`
        the part before; the same start time; seq goes on), leaving the part before
        closed: a session like any other, which the space policy may remove, oldest
        first. Only between batches (everything written is committed). False (the call
        stays in its file) if no file could be made."""
        old = self._id
        sid = self._next_id
        hdr = encode_header(self.device_id, self.fw_version, self.cal_hash, self._start_time,
                            sid, FLAG_CONTINUED, old)
        f = self._create(sid, hdr)
        if f is None:
            return False
        if self._f is not None:
            self._close(self._f)
        self.parts += 1
        self._opened(f, sid, hdr)
        return True

    def append(self, rec, overruns=0, talkovers=0, events=None, n_events=0, flush=True):
        """Write the second's talk-over events and then its record, and flush once; True
        if they are on flash (all of them: one commit). Never raises.

        rec: the engine's record (array('i'), RECORD_FIELDS), or None for events only.
        events: an array('i') holding n_events talk-overs as (start_f, end_f,
        interrupter) triples, oldest first. Each record takes the next seq.

        flush=False keeps the records in RAM (True: accepted) for a later append or
        sync() to write and commit with its own, in one flush: fewer flash commits
        (each one costs a 4 KB erase on LittleFS), at the price of what a power cut
        then loses. More than PENDING_MAX records waiting are flushed regardless.

        Allocation: none on the path that succeeds, apart from the crc32 results (see the
        module docstring) and, every check_bytes, the statvfs tuple. Errors allocate
        (exceptions, paths), which is fine: they are rare."""
        n = n_events + (0 if rec is None else 1)
        if self._id < 0:
            if self._id == -2:
                self.dropped_records += n
            return False
        if not n:
            return True
        if self._npend + n > PENDING_MAX:
            self.sync()              # a batch that cannot be written is counted there
        if n > PENDING_MAX:
            self.dropped_records += n
            return False
        seq = self._seq
        k = self._npend
        if rec is not None:
            try:
                encode_record_into(self._slot[k + n_events], seq + n_events, rec, overruns,
                                   talkovers)
            except Exception:
                self.dropped_records += n   # not an array of ints: nothing sensible to log
                return False
        i = 0
        while i < n_events:
            j = 3 * i
            encode_event_into(self._slot[k + i], seq + i, events[j], events[j + 1],
                              events[j + 2])
            i += 1
        self._seq = seq + n
        self._npend = k + n
        return self.sync() if flush else True

    def sync(self, final=False):
        """Write and commit the records append(flush=False) left in RAM; True if they
        are on flash (or there were none). A batch that cannot be written is dropped
        and counted (dropped_records).

        Under a key, the batch ends in a seal, written and committed with it, so what
        is on flash is always sealed; final (end()) marks the file's last seal, and
        writes one even with no records waiting. The HMAC hashes each record's 32
        bytes plus a fixed part per commit (about 34 us per record and 0.7 ms per
        commit on the RP2040: firmware/README.md), only here (a chore), never in a
        frame."""
        n = self._npend
        mac = self._mac
        if not n and not (final and mac is not None and self._id >= 0):
            return True
        if n and self._size + RECORD_SIZE * n > self._part_max and self._size > HEADER_SIZE:
            self._rotate()           # the part is full: the call goes on in a new one
        if self._size >= self._next_check:
            self._next_check = self._size + self.check_bytes
            self._make_room()
        retried = False
        rotated = False
        w = n
        if mac is not None:
            sseq = self._seq             # the seal takes the next seq, like any record
            self._seq = sseq + 1
            sflags = SEAL_FINAL if final else 0
            tag = seal_into(self._slot[n], mac, self._chain, self._head[n], sseq, n, sflags)
            w = n + 1
        while True:
            err = self._write(self._head[w])
            if not err:
                self._size += RECORD_SIZE * w
                self._npend = 0
                if mac is not None:
                    self._chain = tag
                return True
            if err == _ENOSPC and self._free_oldest():
                continue
            if err == _ENOSPC and not rotated and self._size > HEADER_SIZE:
                # nothing else to remove: close this part and go on in a new one, so
                # the next ENOSPC removes this one (the call's oldest minutes), not the
                # records to come (its newest)
                rotated = True
                full = self._size
                if self._rotate():
                    # the parts were too big for this flash: from now on a quarter of
                    # what fitted, so the next removal costs less of the call
                    if self._part_max > full // 4:
                        self._part_max = full // 4 if full > 16384 else 4096
                    if mac is not None:  # the new part chains from its own header
                        tag = seal_into(self._slot[n], mac, self._chain, self._head[n],
                                        sseq, n, sflags)
                    continue
            if err != _ENOSPC and not retried:
                retried = True       # one more try on a fresh handle
                continue
            self.dropped_records += n
            self._npend = 0
            return False             # the chain stays at the last seal on flash

    @property
    def pending(self):
        """Records appended with flush=False and not yet on flash."""
        return self._npend

    def _write(self, data):
        """Write data (whole records) and flush: 0, or the errno of a failure (the
        handle is then closed)."""
        f = self._f
        if f is None:
            f = self._reopen()
            if f is None:
                return _EIO
        try:
            f.write(data)
            f.flush()
            return 0
        except OSError as e:
            err = e.errno
        except Exception:
            err = _EIO
        # LittleFS discards what the failed handle had not committed when it is closed;
        # the next write reopens the file at its committed end
        self.last_errno = err
        self._close(f)
        self._f = None
        return err

    def _reopen(self):
        path = self._path(self._id)
        try:
            size = self._file_size(path)
            if size < HEADER_SIZE:
                return None
            keep = size - (size - HEADER_SIZE) % RECORD_SIZE
            if keep > self._size:
                # whole records of a failed batch (a file system without atomic commits):
                # cut them too, the retry writes the batch again under the same seqs
                keep = self._size
            if keep != size and not self._truncate(self._id, keep):
                return None          # a part record we cannot cut off: write nothing after it
            self._f = open(path, "ab")
            self._size = keep
            return self._f
        except OSError as e:
            self.last_errno = e.errno
            return None

    def _close(self, f):
        try:
            f.close()
        except Exception:
            pass

    def end(self):
        """Commit what is waiting and close the open session (no-op if none); under a
        key its last seal is marked final (SEAL_FINAL)."""
        if self._id >= 0:
            self.sync(True)
        self._npend = 0
        if self._f is not None:
            self._close(self._f)
        self._f = None
        self._id = -1
        self._seq = 0

    @property
    def session_id(self):
        """The open session's id, -1 if none."""
        return self._id if self._id >= 0 else -1

    def sessions(self):
        """[(session_id, size_bytes, n_records, start_time)] oldest first, the open one
        included; n_records counts whole 32-byte record slots of every kind (per-second
        records and talk-over events; exact after recover());
        start_time is -1 for a file whose header cannot be read."""
        out = []
        for sid in self._ids():
            if sid == self._id:
                out.append((sid, self._size, (self._size - HEADER_SIZE) // RECORD_SIZE,
                            self._start_time))
                continue
            path = self._path(sid)
            size = self._file_size(path)
            start = -1
            try:
                with open(path, "rb") as f:
                    start = decode_header(f.read(HEADER_SIZE))["start_time"]
            except Exception:
                pass
            n = (size - HEADER_SIZE) // RECORD_SIZE if size >= HEADER_SIZE else 0
            out.append((sid, size, n, start))
        return out

    def read(self, session_id, offset, n):
        """n bytes of a session file from offset (fewer at the end, b"" past it); for the
        open session, only what has been flushed. OSError(ENOENT) if no such session."""
        path = self._path(session_id)
        size = self._size if session_id == self._id else self._file_size(path)
        if size < 0:
            raise OSError(_ENOENT)
        if offset >= size or n <= 0:
            return b""
        if n > size - offset:
            n = size - offset
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read(n)

    def stat(self, session_id):
        """(size_bytes, crc32 of the whole file, is_open) of a session; OSError(ENOENT)
        if no such session. For the open session: the flushed bytes only."""
        path = self._path(session_id)
        is_open = session_id == self._id
        size = self._size if is_open else self._file_size(path)
        if size < 0:
            raise OSError(_ENOENT)
        crc = 0
        chunk = bytearray(_CHUNK)
        mv = memoryview(chunk)
        with open(path, "rb") as f:
            left = size
            while left > 0:
                k = f.readinto(mv[:left] if left < _CHUNK else mv)
                if not k:
                    break
                crc = binascii.crc32(mv[:k], crc)
                left -= k
        return size, crc, is_open

    def delete(self, session_id):
        """Delete a closed session's file; False for the open session or no such file."""
        if session_id == self._id or self._file_size(self._path(session_id)) < 0:
            return False
        return self._remove(session_id)
