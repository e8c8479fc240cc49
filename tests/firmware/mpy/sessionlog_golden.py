"""Session-log golden bytes: the same output under MicroPython and CPython.

    sessionlog_golden.py REPO encode          # hex of headers and records (edge values)
    sessionlog_golden.py REPO decode FILE     # a session file, decoded, one line a record

Lines are "name key=value ..." with keys sorted, so the two interpreters' dicts (which
order keys differently) print the same.
"""

import sys

sys.path.insert(0, sys.argv[1])

from array import array  # noqa: E402

from firmware import logformat as sl  # noqa: E402

# (seq, record in RECORD_FIELDS order, overruns, talkovers): typical, undefined (-1),
# the largest in-range values, and out-of-range values that must clamp
RECORDS = (
    (0, (0, 0, 0, 0, 0, -1, -1, -1, 0), 0, 0),
    (1, (1, 1000, 480, 120, 5, 432, 2398, 137, 1), 0, 1),
    (2, (86399, 1000, 1000, 1000, 9, 1500, 4095, 1200, 4), 3, 2),
    (77, (2 ** 30 - 1, 65535, 65535, 65535, 255, 32767, 32767, 32767, 255), 65535, 255),
    (78, (-5, -1, -2, -3, -4, -7, -9, -11, -1), -1, -1),
    (2 ** 30 + 5, (2 ** 31 - 1, 70000, 99999, 1 << 20, 300, 40000, 50000, 60000, 999),
     100000, 1000),
)
# (seq, start_f, end_f, interrupter): talk-over events, LOGFORMAT.md's golden one second
EVENTS = (
    (0, 0, 0, 0),
    (7, 1234, 1310, 1),
    (2 ** 30 - 1, 2 ** 30 - 1, 2 ** 30 - 1, 1),
    (2 ** 31 + 3, -4, 2 ** 33, 999),
)
HEADERS = (
    ("e6614104033f2f2a", "0.1.0", 0x12345678, 1767225600, 1),
    ("", "", 0, 0, 0),
    ("cc-sim-0001", "sim", 0xFFFFFFFF, 4102444799, 2 ** 30 - 1),
    ("a-very-long-device-identifier", "1.2.3+g0123456789ab", -1, -1, 42),
    ("caf\u00e9\n", "v\t1", 5, 6, 7),
)


def line(name, d):
    return name + " " + " ".join("%s=%r" % (k, d[k]) for k in sorted(d))


def encode():
    buf = bytearray(sl.RECORD_SIZE)
    print("sizes header", sl.HEADER_SIZE, "record", sl.RECORD_SIZE, "version",
          sl.FORMAT_VERSION)
    for i, (dev, fw, cal, start, sid) in enumerate(HEADERS):
        h = sl.encode_header(dev, fw, cal, start, sid)
        print("header%d" % i, h.hex())
        print(line("header%d" % i, sl.decode_header(h)))
    for i, (seq, rec, ov, to) in enumerate(RECORDS):
        sl.encode_record_into(buf, seq, array("i", rec), ov, to)
        print("record%d" % i, bytes(buf).hex())
        print(line("record%d" % i, sl.decode_record(buf)))
    for i, (seq, start_f, end_f, who) in enumerate(EVENTS):
        sl.encode_event_into(buf, seq, start_f, end_f, who)
        print("event%d" % i, bytes(buf).hex())
        print(line("event%d" % i, sl.decode_event(buf)))


def decode(path):
    with open(path, "rb") as f:
        data = f.read()
    try:
        hdr, recs, events = sl.decode_log(data)
    except ValueError as e:
        print("error", str(e))
        return
    print(line("header", hdr))
    for r in recs:
        print(line("record", r))
    for e in events:
        print(line("event", e))


if sys.argv[2] == "encode":
    encode()
else:
    decode(sys.argv[3])
