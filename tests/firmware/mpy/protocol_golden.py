"""Golden lines of the serial protocol: encode and decode, printed one result per line.

Runs unchanged under CPython and MicroPython; tests/firmware/test_protocol.py checks the two
outputs are identical and spot-checks the lines themselves:
    protocol_golden.py REPO
"""

import sys

sys.path.insert(0, sys.argv[1])

from array import array  # noqa: E402

from firmware import protocol as P  # noqa: E402

sys.path.insert(0, sys.argv[1] + "/host")
from callcue.device import wire as W  # noqa: E402 - the host's half, pure too

REQUESTS = (
    b"7 info",
    b"7 info\r\n",
    b"info",
    b"123456789 ping",
    b"1234567890 ping",
    b"12 stream {\"mode\":\"on\"}",
    b"12 stream   {  \"mode\" :  \"frames\"  }   ",
    b"3 get_session {\"id\":2,\"offset\":1536}",
    b"3 get_session {\"id\":2,\"offset\":1536,\"len\":100}",
    b"4 delete_session {\"id\":2,\"crc32\":4294967295}",
    b"5 set_config {\"params\":{\"talkover_min_ms\":600,\"name\":\"a\\u00e9\\n\",\"x\":null}}",
    b"5 set_config {\"params\":{\"a\":true,\"b\":false,\"c\":-0}}",
    b"6 set_time {\"time\":1700000000}",
    b"8 calibrate {\"step\":\"rep\"}",
    b"9 reboot",
    b"9 reboot {\"mode\":\"bootloader\"}",
    b"10 replay_start {\"params\":{\"vad_on_db\":10}}",
    # malformed
    b"",
    b"   ",
    b"7",
    b"7 ",
    b"7  info",
    b"7 INFO",
    b"7 in-fo",
    b"7 frobnicate",
    b"7 info\x00",
    b"7 info \xff",
    b"\xc3\xa9 info",
    b"7 inf\to",
    b"7 info x",
    b"7 info {",
    b"7 info []",
    b"7 info {\"a\" 1}",
    b"7 info {\"a\":1,}",
    b"7 info {\"a\":01}",
    b"7 info {\"a\":1.5}",
    b"7 info {\"a\":1e3}",
    b"7 info {\"a\":12345678901}",
    b"7 info {\"a\":[1]}",
    b"7 info {\"a\":{\"b\":{}}}",
    b"7 info {\"a\":1,\"a\":2}",
    b"7 info {\"a\":\"\\ud83d\\ude00\"}",
    b"7 info {\"a\":\"\\x\"}",
    b"7 info {\"a\":\"\\u12g4\"}",
    b"7 info {\"a\":\"open",
    b"7 info {\"a\":tru}",
    b"7 info {\"a\":1} }",
    b"7 info {'a':1}",
    b"7 info {}",
)

CHECKS = (
    ("info", {}),
    ("info", {"x": 1}),
    ("info", {"b": 1, "a": 2}),
    ("stream", {}),
    ("stream", {"mode": "rec"}),
    ("stream", {"mode": 1}),
    ("get_session", {"id": 1}),
    ("get_session", {"id": -1, "offset": 0}),
    ("get_session", {"id": 1, "offset": 0, "len": 0}),
    ("get_session", {"id": 1, "offset": 0, "len": 769}),
    ("get_session", {"id": True, "offset": 0}),
    ("get_session", {"id": "1", "offset": 0}),
    ("get_session", {"id": None, "offset": 0}),
    ("get_session", {"id": {}, "offset": 0}),
    ("delete_session", {"id": 1, "crc32": 4294967296}),
    ("set_config", {"params": {}}),
    ("set_config", {"params": 3}),
    ("set_config", {"params": {"Bad": 1}}),
    ("set_config", {"params": {"a": {}}}),
    ("set_config", {"params": {"a": "x" * 65}}),
    ("set_config", {"params": {"a": "\u00e9"}}),
    ("set_time", {"time": 0}),
    ("calibrate", {"step": "silence", "seconds": 121}),
    ("calibrate", {"step": "noise"}),
    ("replay", {"pcm": "AAAA"}),
    ("replay", {"pcm": "AAA"}),
    ("replay", {"pcm": "AA=A"}),
    ("replay", {"pcm": "AB=="}),
    ("replay", {"pcm": 5}),
    ("replay_start", {"params": {}}),
    ("replay_start", {"params": None}),
    ("reboot", {"mode": "normal", "now": True}),
    ("nope", {}),
)

RESPONSES = (
    b"OK 7 {\"a\":1,\"b\":[1,2,{\"c\":null}],\"d\":\"x\"}\r\n",
    b"OK - {}\n",
    b"ERR 7 BAD_ARGS id: missing; get_session takes id, offset, [len]\n",
    b"ERR - TOO_LONG line longer than 1024 bytes\n",
    b"ERR 7 BUSY",
    b"REC {\"cue\":0,\"customer_active_ms\":0,\"overlap_ms\":0,\"pitch_cents\":-1,"
    b"\"pitch_sd_cents\":-1,\"rate_csps\":-1,\"rep_active_ms\":800,\"syllables\":4,\"t_s\":3}",
    b"FRM 5 -2400 -3000 1 0 1 0 2100 0 0",
    b"EVT {\"ev\":\"boot\",\"protocol\":1}",
    b"MicroPython v1.24.1 on 2024-11-29; Raspberry Pi Pico with RP2040",
    b">>> ",
    b"\xff\xfe",
    b"OK x {}",
    b"OK 7 [1]",
    b"OK 7 {bad",
    b"ERR 7",
    b"REC {\"t_s\":1}",
    b"FRM 1 2 3",
    b"FRM 1 2 3 4 5 6 7 8 9 x",
    b"EVT {\"x\":1}",
)

VALUES = (
    {},
    {"b": 2, "a": [1, -2, None, True, False, "s"], "c": {"z": {}, "y": []}},
    "plain",
    "quote\" back\\slash / tab\t nl\n cr\r bs\b ff\f nul\x00 del\x7f",
    "\u00e9\u2028\U0001f600",
    2 ** 40,
    -(2 ** 31),
    (1, (2,)),
)

BAD_VALUES = (1.5, b"x", {1: 2}, {"a": 0.0}, set())


def show_request(line):
    try:
        rid, cmd, args = P.parse_request(line)
        print("REQ", rid, cmd, P.dumps(args))
    except P.ProtocolError as e:
        print("REQERR", e.rid, e.code, e.message)


def show_check(cmd, args):
    try:
        out = P.check_args(cmd, args)
        if "pcm" in out:
            out["pcm"] = [list(ch) for ch in out["pcm"]]
        print("CHK", cmd, P.dumps(out))
    except P.ProtocolError as e:
        print("CHKERR", cmd, e.code, e.message)


def show_response(line):
    try:
        kind, rid, payload = W.parse_response(line)
        if isinstance(payload, dict):
            payload = P.dumps(payload)
        elif isinstance(payload, tuple):
            payload = " | ".join(payload)
        elif isinstance(payload, bytes):
            payload = "bytes:" + payload.hex()
        print("RSP", kind, rid, payload)
    except P.ProtocolError as e:
        print("RSPERR", e.rid, e.code, e.message)


def main():
    for line in REQUESTS:
        show_request(line)
    for cmd, args in CHECKS:
        show_check(cmd, args)
    for line in RESPONSES:
        show_response(line)
    for v in VALUES:
        print("JSON", P.dumps(v))
    for v in BAD_VALUES:
        try:
            print("JSON", P.dumps(v))
        except TypeError as e:
            print("JSONERR", e)
    # encoders
    print(P.encode_ok(7, {"mode": "rec"}))
    print(P.encode_ok(None, {}))
    print(P.encode_err(3, P.NOT_FOUND, "no session 9"))
    print(P.encode_err(None, P.BAD_LINE, "bad \x00 byte \u00e9 " + "x" * 300))
    print(P.encode_record(array("i", [3, 800, 0, 0, 4, -1, 2100, -1, 0])))
    print(P.encode_record([4, 0, 1000, 0, 0, 512, -1, 180, 2], overruns=3, talkovers=1))
    print(P.encode_frame([5, -2400, -3000, 1, 0, 1, 0, 2100, 0, 0]))
    print(P.encode_event("boot", {"protocol": 1, "firmware": "0.1.0"}))
    print(P.encode_event("talkover", {"start_f": 10, "end_f": 90, "interrupter": 1}))
    print(W.encode_request(7, "get_session", {"id": 2, "offset": 0, "len": 16}))
    print(W.encode_request(None, "info"))
    try:
        W.encode_request(1, "set_config", {"params": {"a": "x" * 1100}})
    except P.ProtocolError as e:
        print("REQLONG", e.code, e.message)
    # chunks
    data = bytes(range(256)) * 3
    r = P.chunk_reply(4, 1536, 5000, data)
    print("CHUNK", P.dumps(r))
    print("CHUNKOK", W.chunk_data(r, 1536) == data)
    for bad in (dict(r, offset=0), dict(r, crc32=r["crc32"] ^ 1), dict(r, len=5),
                dict(r, data=r["data"][:-4])):
        try:
            W.chunk_data(bad, 1536)
            print("CHUNKBAD accepted")
        except P.ProtocolError as e:
            print("CHUNKBAD", e.code, e.message)
    print("CRC", P.crc32(b""), P.crc32(b"123456789"), P.crc32(b"6789", P.crc32(b"12345")))
    # replay PCM
    rep = [(i * 1234) % 65536 - 32768 for i in range(P.PCM_FRAME)]
    cust = [32767 - i for i in range(P.PCM_FRAME)]
    pcm = W.encode_pcm(rep, cust)
    print("PCM", len(pcm), pcm)
    r2, c2 = P.check_args("replay", {"pcm": pcm})["pcm"]
    print("PCMBACK", list(r2) == rep, list(c2) == cust, type(r2).__name__, len(r2), len(c2))
    try:
        W.encode_pcm(rep, cust[:-1])
    except ValueError as e:
        print("PCMERR", e)
    try:
        W.encode_pcm(rep, [40000] * P.PCM_FRAME)
    except ValueError as e:
        print("PCMERR", e)
    # the table
    for name, args, reply, _summary in P.COMMANDS:
        print("CMD", name, " ".join(a[0] for a in args), "->", " ".join(f[0] for f in reply))
    for code, who, _meaning in W.ERRORS:
        print("ERRCODE", code, who)


main()
