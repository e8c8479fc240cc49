"""Check a session log's seals: are its records, byte for byte, what the dongle sealed?

    from callcue.archive.seal import verify
    result = verify(raw_log_bytes, key)     # key: the device's 32-byte key
    result.status      # "verified", "unclosed", "unsealed_tail", "recovered",
                       # "not_signed", "wrong_key" or "broken"
    result.message     # one line for a person
    result.ok          # the records present are the dongle's (verified, unclosed,
                       # unsealed_tail, recovered)

The scheme is in firmware/LOGFORMAT.md, "Seal": each seal's tag is HMAC-SHA256 under
the device's key over the previous seal's tag (the file's header for the first seal),
every record byte since that seal, and the seal itself with its tag and crc32 zero,
truncated to 16 bytes. This module recomputes it with CPython's hmac, independently
of the firmware's own HMAC (firmware/seal.py), and walks the whole file: each segment
(the records between two seals) is checked from the stored tag before it, so every
broken segment is named, not only the first.

Verdicts, worst first:
- broken: a seal does not match the bytes before it (a record edited, even with its
  CRC recomputed; records removed, inserted or reordered; the header edited), or
  records follow the seal that closed the file. `broken_at` is the index (0-based,
  in 32-byte record slots after the header) of the first seal that fails.
- wrong_key: sealed under another key (`key_id` says which).
- not_signed: no seal at all (written before the device had a key). A caller that
  knows the device had a key when it recorded this must treat it as a failure: a log
  stripped of every seal looks the same.
- unsealed_tail: sealed, then N records no seal covers: a write the power cut short on
  a file system without atomic commits. Those N are not proven.
- unclosed: every record is sealed, but the last seal is not the final one the device
  writes when it closes a session: a power cut, or a call that went on in a later
  part; sealed records cut off the end look the same.
- recovered: every record sealed, but the device's boot recovery dropped damaged
  records and re-sealed the rest of those segments (SEAL_RESEALED): they are proven by
  their CRCs and the device's word, not by the seal written with them.
- verified: every record sealed as written, and the session closed.
"""

import hashlib
import hmac
import struct
import zlib

from firmware import logformat as sl

KEY_SIZE = 32
TAG_SIZE = 16
_SEAL_FMT = "<I4s16sBBHI"       # LOGFORMAT.md, "Seal"

# statuses, worst first
BROKEN = "broken"
WRONG_KEY = "wrong_key"
NOT_SIGNED = "not_signed"
UNSEALED_TAIL = "unsealed_tail"
UNCLOSED = "unclosed"
RECOVERED = "recovered"
VERIFIED = "verified"
_OK = (VERIFIED, RECOVERED, UNCLOSED, UNSEALED_TAIL)


def key_id(key):
    """The key's id as the dongle shows it (`info`'s key_id): SHA-256's first 4 bytes."""
    return hashlib.sha256(key).digest()[:4]


class Result:
    """What verify() found. status and message (see the module docstring); records:
    record slots after the header (seals included); sealed: records covered by a seal
    that verified; tail: records after the last seal; broken: [(seal index, first
    record index, reason)] for each seal that failed; recovered: [(first, last)] record
    index ranges re-sealed by the device's recovery; closed: the final seal is there."""

    def __init__(self):
        self.status = VERIFIED
        self.message = ""
        self.records = 0
        self.sealed = 0
        self.seals = 0
        self.tail = 0
        self.broken = []
        self.recovered = []
        self.closed = False
        self.key_id = None

    @property
    def ok(self):
        return self.status in _OK

    @property
    def broken_at(self):
        return self.broken[0][0] if self.broken else None

    def __repr__(self):
        return "Result(%s: %s)" % (self.status, self.message)


def _crc_ok(slot):
    z = bytearray(slot)
    crc = struct.unpack_from("<I", z, 28)[0]
    z[28:32] = bytes(4)
    return zlib.crc32(z) == crc


def _diagnose(slots, first, prev_seq, seal):
    """Why a segment's seal fails, as far as the bytes show: slots[first:] are the
    segment's records, prev_seq the previous seal's seq (-1: none), seal its seal."""
    recs = slots[:-1]
    seqs = []
    for i, s in enumerate(recs):
        if not _crc_ok(s):
            return "record %d edited (its CRC fails)" % (first + i)
        seqs.append(struct.unpack_from("<I", s, 0)[0])
    seal_seq, _kid, _tag, _flags, _kind, count, _crc = struct.unpack_from(_SEAL_FMT, seal, 0)
    chain = ([prev_seq] if prev_seq >= 0 else []) + seqs + [seal_seq]
    if len(set(chain)) < len(chain):
        dup = [q for q in chain if chain.count(q) > 1][0]
        return "a record inserted (seq %d twice)" % dup
    for a, b in zip(chain, chain[1:]):
        if b < a:
            return "records reordered (seq %d after %d)" % (b, a)
    for a, b in zip(chain, chain[1:]):
        if b != a + 1:
            return "records or a seal deleted (seq %d follows %d)" % (b, a)
    if count > len(recs):
        return "%d record(s) deleted before record %d" % (count - len(recs), first + len(recs))
    if count < len(recs):
        return "%d record(s) inserted before record %d" % (len(recs) - count, first + len(recs))
    if first == 0 and prev_seq < 0:
        return "the header or a record edited (CRCs recomputed: forged)"
    return "a record edited (its CRC recomputed: forged), or an earlier seal replaced"


def verify(raw, key):
    """Check the seals of one whole session file (raw: its bytes) under key (the
    device's 32 bytes). Never raises on bad input: a damaged file is a verdict."""
    raw = bytes(raw)
    res = Result()
    want_id = key_id(key)
    res.key_id = want_id.hex()
    try:
        hsize = sl.decode_header(raw)["header_size"]
    except ValueError:
        hsize = sl.HEADER_SIZE   # the chain starts at the bytes, whatever they say
    body = raw[hsize:]
    n = len(body) // sl.RECORD_SIZE
    torn = len(body) % sl.RECORD_SIZE
    slots = [body[i * sl.RECORD_SIZE:(i + 1) * sl.RECORD_SIZE] for i in range(n)]
    res.records = n
    prev = raw[:hsize]
    prev_seq = -1
    start = 0                    # first record slot of the current segment
    other_key = None
    final_at = None
    for i, s in enumerate(slots):
        if s[sl.KIND_OFFSET] != sl.KIND_SEAL or not _crc_ok(s):
            continue
        seq, kid, tag, flags, _kind, _count, _crc = struct.unpack_from(_SEAL_FMT, s, 0)
        if kid != want_id:
            if not res.seals and not res.broken:
                other_key = kid      # the file's first seal: sealed under another key
                break
            res.broken.append((i, start, "a seal under another key (%s)" % kid.hex()))
            prev, prev_seq, start = tag, seq, i + 1
            continue
        res.seals += 1
        tmpl = bytearray(s)
        tmpl[8:24] = bytes(TAG_SIZE)
        tmpl[28:32] = bytes(4)
        msg = prev + b"".join(slots[start:i]) + bytes(tmpl)
        good = hmac.compare_digest(hmac.new(key, msg, hashlib.sha256).digest()[:TAG_SIZE], tag)
        if good:
            res.sealed += i - start
            if flags & sl.SEAL_RESEALED and i > start:
                res.recovered.append((start, i - 1))
        else:
            res.broken.append((i, start, _diagnose(slots[start:i + 1], start, prev_seq, s)))
        if final_at is None and flags & sl.SEAL_FINAL:
            final_at = i
        prev = tag               # the next segment chains from the stored tag
        prev_seq = seq
        start = i + 1
    if other_key is not None:
        res.status = WRONG_KEY
        res.message = ("sealed under key %s, not %s (another device's key, or a key set "
                       "since)" % (other_key.hex(), want_id.hex()))
        return res
    if res.seals == 0:
        res.status = NOT_SIGNED
        res.message = "not signed: no seal in %d records" % n
        return res
    res.tail = n - start + (1 if torn else 0)
    res.closed = final_at is not None and final_at == n - 1 and not torn
    if final_at is not None and (final_at != n - 1 or torn):
        res.broken.append((final_at, final_at + 1,
                           "records after the seal that closed the session (inserted)"))
        res.tail = 0
    if res.broken:
        k, first, why = res.broken[0]
        res.status = BROKEN
        res.message = "broken at record %d (records %d..%d do not match their seal: %s)" % (
            k, first, k, why)
        if len(res.broken) > 1:
            res.message += "; %d more segment(s) broken" % (len(res.broken) - 1)
        return res
    if res.tail:
        res.status = UNSEALED_TAIL
        res.message = ("unsealed tail of %d records after record %d (a write the power cut "
                       "short; those records are not proven)" % (res.tail, start - 1))
    elif not res.closed:
        res.status = UNCLOSED
        res.message = ("%d records verified; the device did not close this file (power cut, "
                       "or the call went on in a later part)" % res.sealed)
    elif res.recovered:
        res.status = RECOVERED
        res.message = ("%d records verified; recovered by the device: records %s re-sealed "
                       "after boot recovery dropped damaged ones" % (
                           res.sealed, ", ".join("%d..%d" % r for r in res.recovered)))
    else:
        res.message = "verified: %d records in %d seals" % (res.sealed, res.seals)
    if res.recovered and res.status != RECOVERED:
        res.message += "; records %s re-sealed by the device's recovery" % ", ".join(
            "%d..%d" % r for r in res.recovered)
    return res
