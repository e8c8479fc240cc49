"""The serial protocol: golden lines on both interpreters, a hostile byte stream through the
real firmware.link under MicroPython, and the host client against a fake dongle on a pty.

The link runs in tests/firmware/mpy/protocol_feed.py (chunks of bytes in, the link's output out)
and tests/firmware/mpy/protocol_device.py (a protocol-only fake dongle on stdin/stdout, reached
through a pseudo-terminal and pyserial exactly like a real /dev/ttyACM0).
"""

import os
import random
import re
import struct
import subprocess
import sys
import tempfile
import time
import tty
from contextlib import contextmanager

import numpy as np
import pytest
import serial

from callcue.device import wire as W
from callcue.device.client import Device, DeviceError
from dsp import engine as dsp_engine
from dsp.params import Params
from firmware import protocol as P

from ..mpyrun import ROOT, run

MPY = ROOT / "tests" / "firmware" / "mpy"
LINE_END = re.compile(rb"\r\n|\r|\n")


# ------------------------------------------------------------------------------ helpers


def feed(interpreter, chunks, tmp_path):
    """Run the link over `chunks` (one poll each); return (response lines, #END fields)."""
    path = tmp_path / "chunks.bin"
    path.write_bytes(b"".join(struct.pack("<I", len(c)) + c for c in chunks))
    proc = subprocess.run([interpreter, str(MPY / "protocol_feed.py"), str(ROOT), str(path)],
                          capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
    lines = proc.stdout.split(b"\n")
    assert lines[-1] == b"", "output does not end with a newline"
    assert lines[-2].startswith(b"#END "), lines[-2]
    return lines[:-2], [int(x) for x in lines[-2].split()[1:]]


def parsed(lines):
    """(kind, rid, code-or-payload) for each response line."""
    out = []
    for line in lines:
        kind, rid, payload = W.parse_response(line)
        out.append((kind, rid, payload[0] if kind == "ERR" else payload))
    return out


def segments(data):
    """The lines the link must see in `data` (CR, LF and CRLF end a line); the last item is
    the unterminated rest."""
    return LINE_END.split(data)


def valid_value(kind, a, b):
    if kind == "int":
        return a
    if kind == "choice":
        return a[0]
    if kind == "map":
        return {"vad_on_db": 10}
    if kind == "pcm":
        return W.encode_pcm([0] * 80, [0] * 80)
    if kind == "hex":
        return "ab" * a
    return True


def valid_args(cmd):
    return {name: valid_value(kind, a, b) for name, kind, default, a, b in P.command(cmd)[1]
            if default == P.REQ}


def bad_args(cmd):
    """(description, args) pairs that must each give BAD_ARGS: every required argument
    missing, every argument of a wrong type and out of range, and an extra one."""
    spec = P.command(cmd)[1]
    good = valid_args(cmd)
    cases = [("extra", dict(good, zz_extra=1))]
    wrong_type = {"int": "1", "bool": 1, "choice": 1, "map": [1], "pcm": 5, "hex": 5}
    for name, kind, default, a, b in spec:
        if default == P.REQ:
            cases.append((f"{name} missing", {k: v for k, v in good.items() if k != name}))
        cases.append((f"{name} type", dict(good, **{name: wrong_type[kind]})))
        cases.append((f"{name} null", dict(good, **{name: None})))
        if kind == "int":
            cases.append((f"{name} low", dict(good, **{name: a - 1})))
            cases.append((f"{name} high", dict(good, **{name: b + 1})))
            cases.append((f"{name} bool", dict(good, **{name: True})))
        elif kind == "choice":
            cases.append((f"{name} other", dict(good, **{name: "nope"})))
        elif kind == "map":
            cases.append((f"{name} empty", dict(good, **{name: {}})))
            big = {f"k{i}": i for i in range(b + 1)}
            cases.append((f"{name} too many", dict(good, **{name: big})))
            cases.append((f"{name} bad key", dict(good, **{name: {"Bad-Key": 1}})))
            cases.append((f"{name} nested", dict(good, **{name: {"a": {"b": 1}}})))
        elif kind == "pcm":
            cases.append((f"{name} short", dict(good, **{name: "AAAA"})))
            cases.append((f"{name} junk", dict(good, **{name: "!" * 428})))
            cases.append((f"{name} long", dict(good, **{name: P.b64encode(bytes(321))})))
        elif kind == "hex":
            cases.append((f"{name} short", dict(good, **{name: "ab" * (a - 1)})))
            cases.append((f"{name} upper", dict(good, **{name: "AB" * a})))
            cases.append((f"{name} not hex", dict(good, **{name: "zz" * a})))
    return cases


def request_line(rid, cmd, args):
    text = f"{rid} {cmd}"
    if args:
        text += " " + P.dumps(args)
    return text.encode() + b"\n"


# ------------------------------------------------------------------------------ golden


def test_golden_lines_identical_under_micropython_and_cpython(micropython):
    script = MPY / "protocol_golden.py"
    mp = run(micropython, script, ROOT)
    cp = run(sys.executable, script, ROOT)
    assert mp == cp
    lines = cp.splitlines()
    # spot checks of the document's examples
    assert "REQ 7 info {}" in lines
    assert 'REQ 3 get_session {"id":2,"offset":1536}' in lines
    assert "REQERR 7 UNKNOWN_COMMAND unknown command 'frobnicate'; 'help' lists the commands" \
        in lines
    assert "CHKERR get_session BAD_ARGS len: 769 is outside 1..768" in lines
    assert "REQERR 7 BAD_ARGS a: numbers are integers in device units (ms, cents, bytes), " \
        "not fractions" in lines
    assert 'b\'OK 7 {"mode":"rec"}\\n\'' in lines
    assert "PCMBACK True True array 80 80" in lines
    assert "CHUNKOK True" in lines
    assert "CRC 0 3421780262 3421780262" in lines  # the CRC-32 check value of "123456789"


def test_record_and_frame_fields_are_the_engines():
    assert P.RECORD_FIELDS is dsp_engine.RECORD_FIELDS   # one definition (dsp/record.py)
    eng = dsp_engine.Engine(Params(), viper=False)
    for name in P.FRAME_FIELDS:
        assert isinstance(getattr(eng, name), int), name
    assert P.PCM_FRAME == dsp_engine.FRAME
    assert P.PCM_BYTES == 4 * dsp_engine.FRAME
    assert len(W.encode_pcm([0] * 80, [0] * 80)) == 428


def test_limits_fit_the_line():
    # the longest replay request and the largest get_session chunk fit the limits
    line = request_line(999999999, "replay", {"pcm": W.encode_pcm([-1] * 80, [-1] * 80)})
    assert len(line) - 1 == 455 <= P.MAX_LINE  # as PROTOCOL.md says
    assert len(P.b64encode(bytes(P.CHUNK_MAX))) == 1024
    big = P.encode_ok(999999999, P.chunk_reply(P.MAX_INT30, P.MAX_INT30, P.MAX_INT30,
                                               bytes(P.CHUNK_MAX)))
    assert len(big) < P.MAX_REPLY


# ------------------------------------------------------------------------------ hostile input


def test_random_bytes_get_one_err_per_line_and_the_link_survives(micropython, tmp_path):
    rng = random.Random(1)

    def noise(n, ends=True):
        out = bytes(rng.randrange(256) for _ in range(n))
        return out if ends else out.replace(b"\r", b"").replace(b"\n", b"")

    # lines of every length around the limit, every terminator, then plain noise
    parts = []
    for _ in range(300):
        parts.append(noise(rng.choice((0, 1, 5, 50, 500, 1023, 1024, 1025, 3000)), False))
        parts.append(rng.choice((b"\n", b"\r", b"\r\n", b"\n\n", b"\n\r")))
    data = b"".join(parts) + noise(20000)
    tail = b"\n77 ping\n"
    chunks = []
    i = 0
    whole = data + tail
    while i < len(whole):
        n = rng.choice((1, 2, 3, 17, 64, 65, 300, 2000))
        chunks.append(whole[i:i + n])
        i += n
    lines, (nlines, nerrors, polls) = feed(micropython, chunks, tmp_path)
    want = [s for s in segments(data + b"\n")[:-1] if s]
    assert len(lines) == len(want) + 1
    got = parsed(lines)
    assert all(kind == "ERR" for kind, _, _ in got[:-1])
    too_long = sum(len(s) > P.MAX_LINE for s in want)
    assert sum(code == P.TOO_LONG for _, _, code in got[:-1]) == too_long > 0
    assert got[-1] == ("OK", 77, {"protocol": 1})
    assert nerrors == len(want)
    # and CPython runs the same link to the same bytes
    cp_lines, _ = feed(sys.executable, chunks, tmp_path)
    assert cp_lines == lines


def test_overlong_lines(micropython, tmp_path):
    exact = b'1 set_time {"time":1700000000' + b" " * 1000
    exact = exact[:P.MAX_LINE - 1] + b"}"
    assert len(exact) == P.MAX_LINE
    over = exact[:-1] + b" }"
    chunks = [exact + b"\n", b"2 ping " + over[7:] + b"\r\n", b"3 info " + b"x" * 5000 + b"\n",
              b"z" * 100_000, b"\n", b"4 ping\n"]
    # the same again, 7 bytes per poll
    stream = b"".join(chunks)
    chunks += [stream[i:i + 7] for i in range(0, len(stream), 7)]
    lines, _ = feed(micropython, chunks, tmp_path)
    first = [(1, "OK"), (2, "TOO_LONG"), (3, "TOO_LONG"), (None, "TOO_LONG"), (4, "OK")]
    got = [(rid, kind if kind == "OK" else code) for kind, rid, code in parsed(lines)]
    assert got == first + first


def test_partial_lines_split_at_every_byte(micropython, tmp_path):
    pcm = W.encode_pcm(list(range(-40, 40)), list(range(40, -40, -1)))
    chunks = []
    n = 0
    for k in range(1, 2000):
        line = request_line(k, "replay", {"pcm": pcm})
        if k >= len(line):
            n = k - 1
            break
        chunks += [line[:k], line[k:]]
    # and a few requests one byte per poll, with CRLF and CR endings
    tail = b"9001 ping\r\n9002 help\r9003 info\n"
    chunks += [tail[i:i + 1] for i in range(len(tail))]
    lines, _ = feed(micropython, chunks, tmp_path)
    got = parsed(lines)
    assert [(kind, rid) for kind, rid, _ in got] == \
        [("OK", k) for k in range(1, n + 1)] + [("OK", 9001), ("OK", 9002), ("OK", 9003)]


@pytest.mark.parametrize("line", [
    b"5 ping\x00", b"5 \x00ping", b"5 ping \xff", b"5 ping {\"a\":\"\xc3\x28\"}",
    b"5 ping {\"a\":\"\xc3\xa9\"}", b"5 ping\x03", b"5 ping\x7f", b"5 pi\tng", b"5 ping\x1b[A",
    b"5 \xef\xbb\xbfping",
])
def test_bad_bytes_are_bad_line(micropython, tmp_path, line):
    lines, _ = feed(micropython, [line + b"\n", b"6 ping\n"], tmp_path)
    assert parsed(lines) == [("ERR", 5, P.BAD_LINE), ("OK", 6, {"protocol": 1})]


def test_unknown_and_malformed_commands(micropython, tmp_path):
    bad = [b"1 frobnicate", b"2 INFO", b"3 info{}", b"4 in fo", b"5 info {", b"6 info x",
           b"7 info {}}", b"8 ping []", b"xyz", b"9", b"10  info", b" 11 info",
           b"123456789012 info", b"12 " + b"a" * 30]
    want = [P.UNKNOWN_COMMAND, P.BAD_LINE, P.BAD_LINE, P.UNKNOWN_COMMAND, P.BAD_LINE,
            P.BAD_LINE, P.BAD_LINE, P.BAD_LINE, P.UNKNOWN_COMMAND, P.BAD_LINE, P.BAD_LINE,
            P.BAD_LINE, P.BAD_LINE, P.BAD_LINE]
    lines, _ = feed(micropython, [b"\n".join(bad) + b"\n\n\r\n   \n13 ping\n"], tmp_path)
    got = parsed(lines)
    assert [code for _, _, code in got[:len(bad) + 1]] == want + [P.BAD_LINE]
    assert got[-1] == ("OK", 13, {"protocol": 1})
    # an empty line gets no reply; a line of spaces is one BAD_LINE
    assert len(got) == len(bad) + 2


def test_every_command_with_bad_arguments(micropython, tmp_path):
    lines_in = []
    expect = []
    rid = 1
    for cmd in P.COMMAND_NAMES:
        for what, args in bad_args(cmd):
            lines_in.append(request_line(rid, cmd, args))
            expect.append((rid, "ERR", P.BAD_ARGS, f"{cmd}: {what}"))
            rid += 1
        lines_in.append(request_line(rid, cmd, valid_args(cmd)))
        expect.append((rid, "OK", None, f"{cmd}: valid"))
        rid += 1
    lines, _ = feed(micropython, lines_in, tmp_path)
    got = parsed(lines)
    assert len(got) == len(expect)
    for (kind, grid, code), (rid, want_kind, want_code, what) in zip(got, expect):
        assert (grid, kind) == (rid, want_kind), what
        if want_code:
            assert code == want_code, what


def test_handler_exceptions_become_errors(micropython, tmp_path):
    lines_in = [request_line(1, "set_config", {"params": {"boom": "value"}}),
                request_line(2, "set_config", {"params": {"boom": "os"}}),
                request_line(3, "set_config", {"params": {"boom": "rt"}}),
                request_line(4, "set_config", {"params": {"boom": "enoent"}}),
                request_line(5, "set_config", {"params": {"fine": 1}})]
    lines, (nlines, nerrors, _) = feed(micropython, lines_in, tmp_path)
    assert lines[0] == b"ERR 1 BAD_ARGS boom: not a parameter"
    assert lines[1].startswith(b"ERR 2 STORAGE flash full")
    assert lines[2] == b"ERR 3 INTERNAL RuntimeError: handler bug"
    assert lines[3].startswith(b"ERR 4 NOT_FOUND ")
    assert lines[4].startswith(b"OK 5 ")
    assert (nlines, nerrors) == (5, 4)


def test_poll_allocates_nothing_until_a_line_completes(micropython):
    out = run(micropython, MPY / "protocol_heap.py", ROOT).splitlines()
    assert out == ["idle ok 0", "partial ok 0", "more ok 0", "line b'ERR 7 UNSUPPORTED'",
                   "empty lines ok 1", "overlong ok 1", "after b'ERR 8 TOO_LO' b'OK 9 '"]


# ------------------------------------------------------------------------------ host client


class FakePort:
    """A pyserial-like port with scripted input, for client tests without a device."""

    def __init__(self, incoming=b""):
        self.timeout = None
        self.incoming = bytearray(incoming)
        self.written = bytearray()

    def write(self, data):
        self.written += data
        return len(data)

    def read(self, n):
        data = bytes(self.incoming[:n])
        del self.incoming[:n]
        return data

    def close(self):
        pass


def test_client_checks_arguments_before_sending():
    port = FakePort()
    dev = Device(port, sync=False)
    with pytest.raises(DeviceError) as e:
        dev.request("get_session", id=1, offset=-1)
    assert e.value.code == P.BAD_ARGS and "offset" in e.value.message
    with pytest.raises(DeviceError) as e:
        dev.request("nonsense")
    assert e.value.code == P.UNKNOWN_COMMAND
    with pytest.raises(DeviceError) as e:
        dev.set_config(name="x" * 1200)
    assert e.value.code in (P.BAD_ARGS, P.TOO_LONG)
    assert port.written == b""


def test_client_matches_ids_and_queues_stream_lines():
    port = FakePort()
    dev = Device(port, sync=False, timeout=0.2)
    rid = dev._rid + 1
    port.incoming += (f"OK {rid - 5} {{\"protocol\":1}}\n"     # a stale reply
                      "REC {\"t_s\":0,\"rep_active_ms\":0,\"customer_active_ms\":0,"
                      "\"overlap_ms\":0,\"syllables\":0,\"rate_csps\":-1,\"pitch_cents\":-1,"
                      "\"pitch_sd_cents\":-1,\"cue\":0}\r\n"
                      ">>> junk from the REPL\n"
                      f"OK {rid} {{\"protocol\":1}}\n").encode()
    assert dev.ping() == {"protocol": 1}
    assert port.written == f"{rid} ping\n".encode()
    assert [r["t_s"] for r in dev.records(timeout=0)] == [0]
    port.incoming += f"ERR {rid + 1} NOT_FOUND no session 9\n".encode()
    with pytest.raises(DeviceError) as e:
        dev.stat_session(9)
    assert (e.value.code, e.value.message) == (P.NOT_FOUND, "no session 9")
    with pytest.raises(DeviceError) as e:
        dev.ping()
    assert e.value.code == W.TIMEOUT
    port.incoming += f"OK {rid + 3} {{\"nope\":1}}\n".encode()
    with pytest.raises(DeviceError) as e:
        dev.ping()
    assert e.value.code == W.BAD_RESPONSE


@contextmanager
def fake_dongle(micropython, *opts, timeout=3.0):
    """protocol_device.py under MicroPython on a pty master; a Device on the slave."""
    master, slave = os.openpty()
    tty.setraw(slave)  # no echo or line editing before pyserial configures it
    err = tempfile.TemporaryFile()
    proc = subprocess.Popen([micropython, str(MPY / "protocol_device.py"), str(ROOT), *opts],
                            stdin=master, stdout=master, stderr=err, close_fds=True)
    os.close(master)
    port = serial.Serial(os.ttyname(slave), baudrate=115200, timeout=0.05)
    os.close(slave)
    try:
        dev = Device(port, timeout=3.0)
        dev.timeout = timeout
        dev.proc = proc
        yield dev
    finally:
        port.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        err.seek(0)
        text = err.read().decode(errors="replace")
        assert "Traceback" not in text, text


def session_bytes(n, seed):
    out = bytearray(n)
    x = seed
    for i in range(n):
        x = (1103515245 * x + 12345) & 0x7FFFFFFF
        out[i] = (x >> 16) & 0xFF
    return bytes(out)


def test_client_info_sessions_config_time(micropython):
    with fake_dongle(micropython) as dev:
        info = dev.info()
        assert info["protocol"] == P.PROTOCOL_VERSION and info["stream"] == "off"
        assert info["params"]["talkover_min_ms"] == 300
        assert set(dev.help()) == set(P.COMMAND_NAMES)
        assert [(s["id"], s["bytes"], s["open"]) for s in dev.sessions()] == \
            [(1, 5000, False), (2, 1, False), (3, 0, False), (4, 300, True)]
        with pytest.raises(DeviceError) as e:
            dev.pull_session(99)
        assert e.value.code == P.NOT_FOUND
        with pytest.raises(DeviceError) as e:
            dev.pull_session(4)
        assert e.value.code == P.BUSY
        assert dev.pull_session(3) == b""
        assert dev.pull_session(2) == session_bytes(1, 2)
        # config: validated by the engine's own Params on the device
        assert dev.set_config(talkover_min_ms=600)["params"] == {"talkover_min_ms": 600}
        with pytest.raises(DeviceError) as e:
            dev.set_config(vad_off_db=20)
        assert e.value.code == P.BAD_ARGS and e.value.message.startswith("vad_off_db")
        with pytest.raises(DeviceError) as e:
            dev.set_config(no_such_param=1)
        assert e.value.code == P.BAD_ARGS
        assert dev.get_config()["params"] == {"talkover_min_ms": 600}
        assert dev.set_config(talkover_min_ms=None)["params"] == {}
        assert dev.set_time(1700000000) == {"time": 1700000000}
        assert dev.info()["time"] == 1700000000
        assert dev.calibrate("rep", seconds=3) == {"step": "rep", "frames": 300}
        assert dev.calibration()["result"]["step"] == "rep"
        assert dev.cal_save()["step"] == "rep"
        # garbage through the real pty: one error each, the link carries on
        dev.port.write(b"\x00\xff\xfe garbage\n" + b"y" * 3000 + b"\r\n")
        assert dev.ping() == {"protocol": 1}
        assert dev.reboot() == {"mode": "normal"}
        assert dev.proc.wait(timeout=5) == 0


def test_pull_session_retries_a_corrupted_chunk(micropython):
    want = session_bytes(5000, 1)
    seen = []
    with fake_dongle(micropython, "corrupt=1536") as dev:
        data = dev.pull_session(1, chunk=768, progress=lambda done, size: seen.append(done))
        assert data == want
        assert dev.retries == 1
        assert seen == [768, 1536, 2304, 3072, 3840, 4608, 5000]
        with pytest.raises(DeviceError) as e:
            dev.delete_session(1, P.crc32(want) ^ 1)
        assert e.value.code == P.MISMATCH
        assert dev.delete_session(1, P.crc32(data)) == {"deleted": 1, "free_bytes": 99699}
        assert [s["id"] for s in dev.sessions()] == [2, 3, 4]


def test_pull_session_retries_a_lost_reply(micropython):
    with fake_dongle(micropython, "drop=768", timeout=0.5) as dev:
        assert dev.pull_session(1) == session_bytes(5000, 1)
        assert dev.retries == 1


def test_pull_session_resumes_from_an_offset(micropython):
    want = session_bytes(5000, 1)
    with fake_dongle(micropython) as dev:
        sent = []
        write = dev.port.write
        dev.port.write = lambda data: (sent.append(data), write(data))[1]
        assert dev.pull_session(1, chunk=700, partial=want[:2345]) == want
        offsets = [P.parse_request(line)[2].get("offset") for line in sent
                   if b"get_session" in line]
        assert offsets == [2345, 3045, 3745, 4445]
        # a wrong prefix is caught by the whole-session crc32
        with pytest.raises(DeviceError) as e:
            dev.pull_session(1, partial=b"\x00" + want[1:100])
        assert e.value.code == W.CRC


def test_stream_records_frames_and_events(micropython):
    with fake_dongle(micropython) as dev:
        assert dev.stream(True) == "on"
        recs = []
        for rec in dev.records(timeout=2):
            recs.append(rec)
            if len(recs) == 3:
                break
        assert all(set(P.RECORD_FIELDS) <= set(r) for r in recs)
        assert [r["t_s"] for r in recs] == list(range(recs[0]["t_s"], recs[0]["t_s"] + 3))
        assert dev.info()["stream"] == "on"  # requests still work while streaming
        assert dev.stream("frames") == "frames"
        kinds = set()
        for kind, _payload in dev.stream_lines(timeout=2):
            kinds.add(kind)
            if kinds == {"REC", "FRM", "EVT"}:
                break
        assert kinds == {"REC", "FRM", "EVT"}
        assert dev.stream(False) == "off"
        list(dev.stream_lines(timeout=0))  # drain what was queued
        time.sleep(0.2)
        assert list(dev.records(timeout=0.2)) == []


def test_replay_matches_the_host_engine(micropython, make_speech_call):
    x = make_speech_call(seconds=3.55, seed=2)
    pcm = np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16)
    rep, cust = pcm[:, 0].tolist(), pcm[:, 1].tolist()
    # the host's engine, frame by frame
    eng = dsp_engine.Engine(Params(), viper=False)
    from array import array
    frames, records, events = [], [], []
    for i in range(len(rep) // 80):
        ready = eng.process(array("h", rep[i * 80:(i + 1) * 80]),
                            array("h", cust[i * 80:(i + 1) * 80]))
        out = P.replay_reply(eng, ready)
        frames.append(out["frm"])
        if out["rec"]:
            records.append(out["rec"])
        if out["evt"]:
            events.append(out["evt"])
    eng.flush()
    if P.talkover_event(eng):
        events.append(P.talkover_event(eng))
    with fake_dongle(micropython) as dev:
        got = dev.replay(rep, cust)
        with pytest.raises(DeviceError) as e:
            dev.request("replay", pcm=W.encode_pcm([0] * 80, [0] * 80))
        assert e.value.code == P.BUSY
    assert got["frames"] == frames
    assert got["records"] == records and len(records) == 3
    assert got["events"] == events and len(events) == 1


# ------------------------------------------------------------------------------ the document


def test_protocol_md_documents_every_command_field_and_error(repo_root):
    doc = (repo_root / "firmware" / "PROTOCOL.md").read_text()
    sections = re.split(r"\n### ", doc)
    by_name = {}
    for sec in sections[1:]:
        m = re.match(r"`([a-z_]+)`", sec)
        if m:
            by_name[m.group(1)] = sec
    assert set(by_name) == set(P.COMMAND_NAMES)
    for name, args, reply, _summary in P.COMMANDS:
        sec = by_name[name]
        for arg in args:
            assert f"`{arg[0]}`" in sec, f"{name}: argument {arg[0]} undocumented"
        for field, _kind in reply:
            assert f"`{field}`" in sec, f"{name}: reply field {field} undocumented"
    for code, _who, _meaning in W.ERRORS:
        assert f"| `{code}` |" in doc, f"error code {code} undocumented"
    for name in P.RECORD_FIELDS + P.FRAME_FIELDS:
        assert f"`{name}`" in doc
    for value in (P.MAX_LINE, P.CHUNK_MAX, P.PCM_BYTES, P.MAX_REPLY):
        assert str(value) in doc
