"""Corrupt session files at boot: recover() keeps what is valid and drops the rest,
record by record: a flipped bit costs its record only, a corrupt header is rebuilt
when valid records follow it.

    micropython -X heapsize=16M sessionlog_corrupt.py REPO lfs   # a LittleFS image in RAM
    python3 sessionlog_corrupt.py REPO DIR                          # a host folder

Both print the same lines ("case ... " then "summary ..."); the test compares them and
checks the figures. Nothing here may raise.
"""

import sys

sys.path.insert(0, sys.argv[1])

import os  # noqa: E402

from firmware import logformat as sl  # noqa: E402
from firmware.sessionlog import SessionLog  # noqa: E402

HS = sl.HEADER_SIZE
RS = sl.RECORD_SIZE


class Rand:
    def __init__(self, seed):
        self.s = seed

    def bytes(self, n):
        out = bytearray(n)
        for i in range(n):
            self.s = (self.s * 1103515245 + 12345) & 0x7FFFFFFF
            out[i] = (self.s >> 16) & 0xFF
        return bytes(out)


def session_bytes(sid, n, start=1767225600):
    out = bytearray(sl.encode_header("cc-corrupt", "fw-9", 0xC0FFEE, start, sid))
    buf = bytearray(RS)
    rec = [0] * 9
    for k in range(n):
        rec[0] = 100 + k
        rec[1] = (k * 37) % 1001
        rec[5] = k * 3 - 1
        rec[6] = 1200 + k
        rec[8] = k % 5
        sl.encode_record_into(buf, k, rec, k, k & 1)
        out += buf
    return out


def write(root, name, data):
    with open(root + "/" + name, "wb") as f:
        f.write(data)


def main():
    if sys.argv[2] == "lfs":
        from sessionlog_bdev import fresh_image, mount
        mount(fresh_image(64))
        root = "/flash/logs"
        os.mkdir(root)
    else:
        root = sys.argv[2]
    rnd = Rand(7)
    cases = []

    def case(sid, name, data, want_records, want_kept, missing=(), rebuilt=False):
        """want_records valid records kept, seqs 0.. without those in missing"""
        write(root, "s%06d.log" % sid, data)
        cases.append((sid, name, want_records, want_kept, missing, rebuilt))

    def flipped(sid, n, *where):
        """session sid with n records and one bit flipped at each (offset, mask)"""
        b = bytearray(session_bytes(sid, n))
        for off, mask in where:
            b[off] ^= mask
        return bytes(b)

    case(1, "valid", session_bytes(1, 10), 10, True)
    case(2, "garbage_header", rnd.bytes(300), 0, False)
    case(3, "random_tail_45", session_bytes(3, 12) + rnd.bytes(45), 12, True)
    case(4, "random_tail_96", session_bytes(4, 12) + rnd.bytes(96), 12, True)
    case(5, "zero_length", b"", 0, False)
    case(6, "header_only", session_bytes(6, 0), 0, False)
    case(7, "partial_header", session_bytes(7, 3)[:40], 0, False)
    # one bit flipped in record 5 of 10: that record only
    case(8, "bitflip_record_5", flipped(8, 10, (HS + 5 * RS + 9, 0x10)), 9, True, (5,))
    dup = session_bytes(9, 6)
    case(9, "repeated_record", dup + dup[HS + 4 * RS:HS + 5 * RS], 6, True)
    # device id byte: the header's crc fails; its 4 records are kept under a rebuilt one
    case(10, "header_crc", flipped(10, 4, (20, 0x01)), 4, True, (), True)
    zeros = session_bytes(11, 7) + bytes(3 * RS)  # a zero-filled tail
    case(11, "zero_tail", zeros, 7, True)
    ff = session_bytes(12, 7) + b"\xff" * (2 * RS + 5)  # erased-flash tail
    case(12, "erased_tail", ff, 7, True)
    # more flipped bits: the first record, the last, a seq field, a crc field, two
    # records at once, the magic, and a record plus the header
    case(20, "bitflip_first", flipped(20, 71, (HS + 3, 0x80)), 70, True, (0,))
    case(21, "bitflip_last", flipped(21, 71, (HS + 70 * RS + 17, 0x02)), 70, True, (70,))
    case(22, "bitflip_seq_field", flipped(22, 71, (HS + 20 * RS, 0x04)), 70, True, (20,))
    case(23, "bitflip_crc_field", flipped(23, 71, (HS + 40 * RS + 30, 0x01)), 70, True, (40,))
    case(24, "bitflips_two_records", flipped(24, 71, (HS + 20 * RS + 8, 0x01),
                                             (HS + 50 * RS + 12, 0x40)), 69, True, (20, 50))
    case(25, "bitflip_magic", flipped(25, 30, (1, 0x08)), 30, True, (), True)
    case(26, "bitflip_header_and_record", flipped(26, 30, (12, 0x01), (HS + 29 * RS, 0x01)),
         29, True, (29,), True)
    # a header of a newer format version (crc valid): left alone for a newer reader
    v2 = bytearray(session_bytes(13, 2))
    v2[4] = 2
    v2[60:64] = b"\x00\x00\x00\x00"
    import binascii
    import struct
    struct.pack_into("<I", v2, 60, binascii.crc32(v2[:64]))
    write(root, "s000013.log", v2)
    # a finished truncation copy whose .log is gone (FAT rename), and a stale .tmp
    write(root, "s000014.tmp", session_bytes(14, 3))
    write(root, "s000001.tmp", session_bytes(1, 2))
    # names that are not sessions: left alone
    write(root, "notes.txt", b"hello")
    write(root, "s12x.log", b"junk")

    log = SessionLog(root, "cc-corrupt", "fw-9", 1)
    dropped = log.recover()
    names = sorted(os.listdir(root))
    listed = {s[0]: s for s in log.sessions()}
    for sid, name, want_records, want_kept, missing, rebuilt in cases:
        kept = sid in listed
        got = -1
        ok = kept == want_kept
        if kept:
            size = listed[sid][1]
            raw = log.read(sid, 0, size + 64)
            try:
                hdr, recs = sl.decode_session(raw)
                got = len(recs)
                ok = ok and got == want_records and size == HS + RS * got \
                    and listed[sid][2] == got and hdr["session_id"] == sid
                want_seqs = [k for k in range(got + len(missing)) if k not in missing]
                ok = ok and [r["seq"] for r in recs] == want_seqs
                # the records kept are the ones written, field for field
                good = sl.decode_records(memoryview(session_bytes(sid, got + len(missing)))[HS:])
                ok = ok and recs == [r for r in good if r["seq"] not in missing]
                ok = ok and (hdr["flags"] & sl.FLAG_REBUILT != 0) == rebuilt
                if rebuilt:
                    ok = ok and hdr["device_id"] == "cc-corrupt" and hdr["start_time"] == 0
                else:
                    ok = ok and hdr["start_time"] == 1767225600
            except ValueError:
                ok = False
        print("case", sid, name, "kept" if kept else "deleted", "records", got,
              "ok" if ok else "FAIL")
    v2_left = "s000013.log" in names
    tmp14 = "s000014.log" in names and "s000014.tmp" not in names
    tmp1 = "s000001.tmp" not in names
    others = "notes.txt" in names and "s12x.log" in names
    print("case 13 newer_version", "kept" if v2_left else "deleted", "ok" if v2_left else "FAIL")
    print("case 14 finished_tmp", "renamed" if tmp14 else "lost", "ok" if tmp14 else "FAIL")
    print("case 15 stale_tmp", "removed" if tmp1 else "left", "ok" if tmp1 else "FAIL")
    print("case 16 other_names", "untouched" if others else "touched",
          "ok" if others else "FAIL")
    # a second recover() finds nothing more to do
    again = log.recover()
    # the store logs on after this boot, above every id it saw
    sid = log.start(1)
    log.append([1, 2, 3, 4, 5, 6, 7, 8, 0])
    log.end()
    print("summary dropped_torn", dropped, "deleted_files", log.deleted_files,
          "headers_rebuilt", log.headers_rebuilt, "second_recover", again,
          "next_session", sid)


main()
