"""firmware.link.Link answering replies too large or too deep for the protocol.

    link_oversize.py REPO

Handlers: `info` returns a reply of `calibration` text of about 100 KB, `get_config` one
nested 20,000 deep, `sessions` a list of 10,000 ten-digit integers (about 110 KB, each
piece small), `calibration` one just under the limit, `ping` the builtin. Requests
arrive in that order; every line the link writes goes to stdout (one per request).
Runs under the MicroPython unix port and CPython.
"""

import sys

sys.path.insert(0, sys.argv[1])

from firmware import protocol  # noqa: E402
from firmware.link import Link  # noqa: E402


def deep(n):
    d = {}
    cur = d
    for _ in range(n):
        nxt = {}
        cur["a"] = nxt
        cur = nxt
    return d


REQUESTS = [b"1 info\n", b"2 get_config\n", b"3 sessions\n", b"4 calibration\n",
            b"5 ping\n"]


class Source:
    def __init__(self):
        self.data = b"".join(REQUESTS)
        self.pos = 0

    def readinto(self, buf):
        n = min(len(buf), len(self.data) - self.pos)
        buf[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n


out = sys.stdout.buffer if hasattr(sys.stdout, "buffer") else sys.stdout
link = Link(Source(), out.write)
link.handle("info", lambda a: {"calibration": {"note": "x" * 100000}})
link.handle("get_config", lambda a: {"params": deep(20000)})
link.handle("sessions", lambda a: {"sessions": [1234567890] * 10000})
# b'OK 4 {"result":{"n":"xxx..."},"running":false}\n': 41 bytes around the text, so
# the line is exactly MAX_REPLY bytes long with its terminator: the largest allowed
link.handle("calibration", lambda a: {"running": False,
                                      "result": {"n": "x" * (protocol.MAX_REPLY - 41)}})
while link.poll(budget=1 << 20):
    pass
