"""Feed recorded chunks of bytes to firmware.link.Link; write what the link sends back.

    protocol_feed.py REPO CHUNKS.bin

CHUNKS.bin is a sequence of chunks, each a 4-byte little-endian length and that many
bytes. The fake byte source hands out one chunk per Link.poll() call (in pieces of the
link's receive buffer when longer), so a test chooses every split point. Dummy handlers
answer every command of the table with a minimal valid reply; `set_config` with
params {"boom": "value"|"os"|"enoent"|"rt"} raises ValueError, OSError(ENOSPC),
OSError(ENOENT) or RuntimeError in the handler. Writes the link's output bytes to
stdout, then `#END lines errors polls`.
Runs under MicroPython and CPython; tests/firmware/test_protocol.py compares the two.
"""

import sys

sys.path.insert(0, sys.argv[1])

from firmware import protocol  # noqa: E402
from firmware.link import Link  # noqa: E402


class ChunkSource:
    """readinto() hands out the current chunk (as much as fits), then returns 0 once at
    its end, so each chunk arrives in its own poll. Chunks are read from the file as
    needed: the unix port's default heap is small."""

    def __init__(self, f):
        self.f = f
        self.cur = None     # the current chunk
        self.pos = 0        # bytes of it already handed out
        self.gap = False    # the chunk is done: say "nothing waiting" once
        self.done = False   # no chunks left
        self.count = 0
        self._next()

    def _next(self):
        head = self.f.read(4)
        if len(head) < 4:
            self.done = True
            self.cur = None
            return
        n = int.from_bytes(head, "little")
        self.cur = self.f.read(n)
        self.pos = 0
        self.count += 1

    def readinto(self, buf):
        if self.gap or self.done:
            self.gap = False
            return 0
        c = self.cur
        n = min(len(buf), len(c) - self.pos)
        buf[:n] = c[self.pos:self.pos + n]
        self.pos += n
        if self.pos >= len(c):
            self._next()
            self.gap = True
        return n


def dummy_reply(cmd):
    out = {}
    for field, kind in protocol.command(cmd)[2]:
        if kind[-1] == "?":
            out[field] = None
        elif kind == "int":
            out[field] = 0
        elif kind == "str":
            out[field] = ""
        elif kind == "bool":
            out[field] = False
        elif kind == "obj":
            out[field] = {}
        else:
            out[field] = []
    return out


def make_handler(cmd):
    def handler(args):
        if cmd == "set_config":
            boom = args["params"].get("boom")
            if boom == "value":
                raise ValueError("boom: not a parameter")
            if boom == "os":
                raise OSError(28)
            if boom == "enoent":
                raise OSError(2)
            if boom == "rt":
                raise RuntimeError("handler bug")
        return dummy_reply(cmd)
    return handler


def main():
    f = open(sys.argv[2], "rb")
    out = sys.stdout.buffer if hasattr(sys.stdout, "buffer") else sys.stdout
    src = ChunkSource(f)
    link = Link(src, out.write)
    for name in protocol.COMMAND_NAMES:
        if name not in protocol.BUILTIN:
            link.handle(name, make_handler(name))
    polls = 0
    while not src.done:
        before = (src.count, src.pos)
        link.poll(budget=1 << 30)
        polls += 1
        if (src.count, src.pos) == before and not src.done:
            raise SystemExit("the link stopped consuming input")
    f.close()
    out.write(("#END %d %d %d\n" % (link.lines, link.errors, polls)).encode())


main()
