"""The session-log format, encoded and decoded: the 64-byte header, the 32-byte records
(one per second, one per talk-over event, seals), their CRC and sequence checks.

LOGFORMAT.md is the document; this module mirrors it. Pure (no file I/O): it runs
unchanged on MicroPython and CPython; the dongle's store (sessionlog.py) writes with it
and the host decodes pulled files with it (`firmware.logformat`, the same name on both).
A per-second record comes in the engine's RECORD_FIELDS order (dsp/record.py).

CRC: binascii.crc32 (= zlib.crc32) over the whole record (or header) with its CRC field
taken as zero, like the GPT header. On the RP2040, crc32 returns an int that is >= 2**30
three times in four, which MicroPython must allocate as a big int (2 GC blocks, 32
bytes): that is the one allocation in SessionLog.append(), once per second, and it
cannot be avoided with binascii.crc32. Everything else in append() reuses preallocated
buffers.
"""

import binascii
import struct

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


FORMAT_VERSION = const(2)    # written; 2 added talk-over event records (LOGFORMAT.md)
MIN_VERSION = const(1)       # the oldest version read (1: per-second records only)
HEADER_SIZE = const(64)
RECORD_SIZE = const(32)
MAGIC = b"CCSL"

# header: magic, version, header size, record size, flags, session id, start time,
# calibration hash, device id, firmware version, continues, reserved, crc32 (LOGFORMAT.md)
_HDR_FMT = "<4sBBBBIII16s16sI4sI"
_ID_LEN = const(16)
_FW_LEN = const(16)
_HDR_CRC = const(60)
# record: seq, t_s, rep_active_ms, customer_active_ms, overlap_ms, rate_csps, pitch_cents,
# pitch_sd_cents, overruns, syllables, cue, talkovers, kind, reserved, crc32
_REC_FMT = "<IIHHHhhhHBBBBHI"
_REC_CRC = const(28)
KIND_OFFSET = const(25)            # the kind byte, at the same offset in every record kind
KIND_SECOND = const(0)       # a per-second record (the only kind in version 1)
KIND_TALKOVER = const(1)     # a talk-over event
KIND_SEAL = const(2)         # a seal: HMAC chain over the records before it (LOGFORMAT.md)
# talk-over event: seq, start_f, end_f, interrupter, reserved (u8, u16, u32, u32, u8),
# kind, reserved, crc32
_EVT_FMT = "<IIIBBHIIBBHI"
# seal: seq, key id, tag, flags, kind, count (records it covers), crc32
_SEAL_FMT = "<I4s16sBBHI"
SEAL_TAG_OFFSET = const(8)         # the tag's offset and size (seal.TAG_SIZE)
TAG_LEN = const(16)
SEAL_RESEALED = const(1)     # recover() re-sealed these records (their own seal was lost)
SEAL_FINAL = const(2)        # the last seal of the file: end() closed the session
# header flags (byte 7; 0 in a header the writer made)
FLAG_REBUILT = const(1)      # recover() rebuilt the header: its own was corrupt
FLAG_CONTINUED = const(2)    # this file continues a call begun in session `continues`

_MAX30 = const(0x3FFFFFFF)   # seq and t_s stay small ints on the RP2040 (34 years of s)
_U16 = const(0xFFFF)
_I16 = const(0x7FFF)
_U8 = const(0xFF)



def _clamp(v, lo, hi):
    return lo if v < lo else (hi if v > hi else v)


def _ascii(s, n):
    # printable ASCII only, so a header always decodes; longer text is cut to n bytes
    b = bytes(c if 32 <= c < 127 else 63 for c in str(s).encode())
    return b[:n]


def _text(b):
    i = b.find(b"\x00")
    return str(b if i < 0 else b[:i], "ascii")


def _crc_zeroed(buf, crc_off, size):
    """crc32 of buf[:size] with the 4 bytes at crc_off taken as zero (allocates a copy)."""
    tmp = bytearray(buf[:size])
    tmp[crc_off:crc_off + 4] = b"\x00\x00\x00\x00"
    return binascii.crc32(tmp)


# ---------------------------------------------------------------------------- header

def encode_header(device_id, fw_version, cal_hash, start_time, session_id, flags=0,
                  continues=0):
    """The 64-byte header of a session file (LOGFORMAT.md, "Header").

    device_id and fw_version: printable ASCII, at most 16 bytes each (other characters
    become "?", longer text is cut). cal_hash and start_time are stored modulo 2**32
    (start_time: Unix seconds from the clock the host set; 0 = never set). flags:
    FLAG_REBUILT for a header recover() rebuilt, FLAG_CONTINUED for a call's later part
    (continues: the id of its part before; 0 = none)."""
    buf = bytearray(HEADER_SIZE)
    struct.pack_into(_HDR_FMT, buf, 0, MAGIC, FORMAT_VERSION, HEADER_SIZE, RECORD_SIZE,
                     flags & 0xFF,
                     _clamp(session_id, 0, _MAX30), start_time & 0xFFFFFFFF,
                     cal_hash & 0xFFFFFFFF, _ascii(device_id, _ID_LEN),
                     _ascii(fw_version, _FW_LEN), _clamp(continues, 0, _MAX30), b"", 0)
    struct.pack_into("<I", buf, _HDR_CRC, binascii.crc32(buf))
    return bytes(buf)


HDR_BAD = const(0)
HDR_OURS = const(1)
HDR_FOREIGN = const(2)


def header_state(buf):
    """HDR_OURS: a valid header of this format version; HDR_FOREIGN: a valid header (magic,
    crc32) of another version; HDR_BAD: anything else."""
    if len(buf) < HEADER_SIZE or buf[:4] != MAGIC:
        return HDR_BAD
    if _crc_zeroed(buf, _HDR_CRC, HEADER_SIZE) != struct.unpack_from("<I", buf, _HDR_CRC)[0]:
        return HDR_BAD
    if not MIN_VERSION <= buf[4] <= FORMAT_VERSION:
        return HDR_FOREIGN
    try:
        decode_header(buf)
    except ValueError:
        return HDR_BAD
    return HDR_OURS


def decode_header(buf):
    """The header at the start of buf as a dict; raises ValueError if it is not one."""
    if len(buf) < HEADER_SIZE:
        raise ValueError("session header: %d bytes, need %d" % (len(buf), HEADER_SIZE))
    (magic, version, hsize, rsize, flags, sid, start, cal, dev, fw, cont, _res,
     crc) = struct.unpack_from(_HDR_FMT, buf, 0)
    if magic != MAGIC:
        raise ValueError("session header: magic %r, want %r (not a callcue session log)"
                         % (magic, MAGIC))
    if _crc_zeroed(buf, _HDR_CRC, HEADER_SIZE) != crc:
        raise ValueError("session header: crc32 mismatch (the file is corrupt)")
    if not MIN_VERSION <= version <= FORMAT_VERSION:
        raise ValueError("session header: format version %d, this reader knows %d to %d; "
                         "update callcue to read it" % (version, MIN_VERSION, FORMAT_VERSION))
    if hsize < HEADER_SIZE or rsize != RECORD_SIZE:
        raise ValueError("session header: header size %d / record size %d invalid for "
                         "format version %d" % (hsize, rsize, version))
    try:
        dev = _text(dev)
        fw = _text(fw)
    except Exception:
        raise ValueError("session header: device id or firmware version is not ASCII") \
            from None
    return {"format_version": version, "header_size": hsize, "record_size": rsize,
            "flags": flags, "session_id": sid, "start_time": start, "cal_hash": cal,
            "device_id": dev, "fw_version": fw, "continues": cont}


# ---------------------------------------------------------------------------- records

def encode_record_into(buf, seq, rec, overruns, talkovers):
    """Encode one record into buf (a bytearray of RECORD_SIZE) without allocating, apart
    from the int binascii.crc32 returns (a big int on the RP2040 when >= 2**30).

    rec: the engine's record (array('i'), RECORD_FIELDS order). Every value is clamped
    to its field (LOGFORMAT.md), so any int encodes and both interpreters give the same
    bytes: seq and t_s 0..2**30-1, the *_ms fields and overruns 0..65535, rate/pitch/SD
    -1..32767, syllables, cue and talkovers 0..255."""
    struct.pack_into(_REC_FMT, buf, 0,
                     _clamp(seq, 0, _MAX30), _clamp(rec[0], 0, _MAX30),
                     _clamp(rec[1], 0, _U16), _clamp(rec[2], 0, _U16), _clamp(rec[3], 0, _U16),
                     _clamp(rec[5], -1, _I16), _clamp(rec[6], -1, _I16),
                     _clamp(rec[7], -1, _I16), _clamp(overruns, 0, _U16),
                     _clamp(rec[4], 0, _U8), _clamp(rec[8], 0, _U8),
                     _clamp(talkovers, 0, _U8), KIND_SECOND, 0, 0)
    # the crc field is zero here, so the crc covers the whole record (LOGFORMAT.md)
    struct.pack_into("<I", buf, _REC_CRC, binascii.crc32(buf))


def encode_event_into(buf, seq, start_f, end_f, interrupter):
    """Encode one talk-over event record into buf (a bytearray of RECORD_SIZE), without
    allocating apart from the crc32 result (as encode_record_into).

    start_f, end_f: the engine's frame numbers (10 ms, end exclusive; Engine.event_start,
    event_end), clamped to 0..2**30-1; interrupter 0 rep, 1 customer (clamped 0..255)."""
    struct.pack_into(_EVT_FMT, buf, 0,
                     _clamp(seq, 0, _MAX30), _clamp(start_f, 0, _MAX30),
                     _clamp(end_f, 0, _MAX30), _clamp(interrupter, 0, _U8),
                     0, 0, 0, 0, 0, KIND_TALKOVER, 0, 0)
    struct.pack_into("<I", buf, _REC_CRC, binascii.crc32(buf))


def record_seq(rec, scratch, prev):
    """seq of the RECORD_SIZE bytes in rec if the record is valid and follows prev
    (seq > prev), else -1. scratch: a bytearray(RECORD_SIZE) to check the crc in."""
    if len(rec) < RECORD_SIZE:
        return -1
    scratch[:] = rec[:RECORD_SIZE]
    crc = struct.unpack_from("<I", scratch, _REC_CRC)[0]
    scratch[_REC_CRC:_REC_CRC + 4] = b"\x00\x00\x00\x00"
    if binascii.crc32(scratch) != crc:
        return -1
    seq = struct.unpack_from("<I", scratch, 0)[0]
    return seq if seq > prev else -1


def decode_record(rec):
    """One per-second record's fields as a dict (no validity check; see decode_body)."""
    (seq, t_s, rep, cust, both, rate, pitch, sd, overruns, syl, cue, talkovers, _flags,
     _res, _crc) = struct.unpack_from(_REC_FMT, rec, 0)
    return {"seq": seq, "t_s": t_s, "rep_active_ms": rep, "customer_active_ms": cust,
            "overlap_ms": both, "syllables": syl, "rate_csps": rate, "pitch_cents": pitch,
            "pitch_sd_cents": sd, "cue": cue, "overruns": overruns, "talkovers": talkovers}


def decode_event(rec):
    """One talk-over event record's fields as a dict (no validity check)."""
    seq, start_f, end_f, who = struct.unpack_from("<IIIB", rec, 0)
    return {"seq": seq, "start_f": start_f, "end_f": end_f, "interrupter": who}


def seal_into(buf, mac, prev, records, seq, count, flags):
    """Encode a seal record into buf (RECORD_SIZE bytes, writable) and return its tag.

    The tag is HMAC-SHA256 under mac (a seal.Hmac) of prev (the tag of the file's
    previous seal, or for its first seal the file's header bytes), then the bytes of
    the `count` records since that seal (records), then this seal's 32 bytes with its
    tag and crc32 fields zero; truncated to 16 bytes (LOGFORMAT.md, "Seal")."""
    h = mac.start()
    h.update(prev)
    h.update(records)
    return seal_close(buf, mac, h, seq, count, flags)


def seal_close(buf, mac, h, seq, count, flags):
    # h: the running HMAC that has had prev and the records; the seal's own fields last
    struct.pack_into(_SEAL_FMT, buf, 0, _clamp(seq, 0, _MAX30), mac.key_id, b"",
                     flags & 0xFF, KIND_SEAL, count & 0xFFFF, 0)
    h.update(buf)
    tag = mac.finish(h)[:TAG_LEN]
    struct.pack_into("16s", buf, SEAL_TAG_OFFSET, tag)
    struct.pack_into("<I", buf, _REC_CRC, binascii.crc32(buf))
    return tag


def decode_seal(rec):
    """One seal record's fields as a dict (no validity check)."""
    seq, kid, tag, flags, _kind, count, _crc = struct.unpack_from(_SEAL_FMT, rec, 0)
    return {"seq": seq, "key_id": kid, "tag": tag, "flags": flags, "count": count}


def seal_template(rec):
    """A seal's bytes as its tag was computed over: tag and crc32 fields zero."""
    t = bytearray(rec[:RECORD_SIZE])
    t[SEAL_TAG_OFFSET:SEAL_TAG_OFFSET + TAG_LEN] = bytes(TAG_LEN)
    t[_REC_CRC:_REC_CRC + 4] = b"\x00\x00\x00\x00"
    return t


def check_body(data):
    """(seconds, events, bad): every valid record in a session file's body (the bytes
    after the header), in order, split by kind, and the number of 32-byte slots that
    were not (a CRC that fails, a seq not above the last valid one's: stale or
    repeated data) plus 1 for a torn last record. A bad record costs only itself: the
    records after it are checked on their own (LOGFORMAT.md, "Torn records, corrupt
    files and recovery"). Seals and records of a kind this reader does not know are
    skipped (they still count in the sequence check)."""
    seconds = []
    events = []
    bad = 0
    scratch = bytearray(RECORD_SIZE)
    mv = memoryview(data)
    prev = -1
    end = len(data) - RECORD_SIZE + 1
    for off in range(0, end, RECORD_SIZE):
        rec = mv[off:off + RECORD_SIZE]
        seq = record_seq(rec, scratch, prev)
        if seq < 0:
            bad += 1
            continue
        kind = rec[KIND_OFFSET]
        if kind == KIND_SECOND:
            seconds.append(decode_record(rec))
        elif kind == KIND_TALKOVER:
            events.append(decode_event(rec))
        prev = seq
    if len(data) % RECORD_SIZE:
        bad += 1                     # a torn last record
    return seconds, events, bad


def decode_body(data):
    """(seconds, events): the valid records of a session file's body (check_body, which
    also counts the invalid ones)."""
    seconds, events, _ = check_body(data)
    return seconds, events


def decode_records(data):
    """The valid per-second records of a session file's body (see decode_body)."""
    return decode_body(data)[0]


def decode_session(data):
    """(header dict, per-second records) of a whole session file; ValueError on a bad
    header. decode_log also gives the talk-over events."""
    hdr = decode_header(data)
    return hdr, decode_records(memoryview(data)[hdr["header_size"]:])


def decode_log(data):
    """(header dict, per-second records, talk-over events) of a whole session file;
    ValueError on a bad header. A version-1 file has no events."""
    hdr = decode_header(data)
    seconds, events = decode_body(memoryview(data)[hdr["header_size"]:])
    return hdr, seconds, events
