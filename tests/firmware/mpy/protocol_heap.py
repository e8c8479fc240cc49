"""Link.poll() allocates nothing while no line completes (MicroPython only).

    micropython protocol_heap.py REPO

With the heap locked, poll() with nothing waiting and poll() over the bytes of a
partial line, an overlong line being discarded and empty lines must not allocate
(MemoryError otherwise); a complete line then allocates its reply, unlocked.
Prints one line per case.
"""

import sys

sys.path.insert(0, sys.argv[1])

import micropython  # noqa: E402

from firmware.link import Link  # noqa: E402


class Source:
    def __init__(self):
        self.data = b""
        self.pos = 0

    def readinto(self, buf):
        n = len(self.data) - self.pos
        if n > len(buf):
            n = len(buf)
        for i in range(n):
            buf[i] = self.data[self.pos + i]
        self.pos += n
        return n


out = []
src = Source()
link = Link(src, out.append)


def locked(name, data):
    src.data = data
    src.pos = 0
    micropython.heap_lock()
    try:
        link.poll(1 << 20)
        ok = "ok"
    except MemoryError:
        ok = "ALLOCATED"
    finally:
        micropython.heap_unlock()
    print(name, ok, len(out))


locked("idle", b"")
locked("partial", b"7 get_session {\"id\":1,\"offset\":")
locked("more", b"0,\"len\":16")
src.data = b"}\n"  # completes the line: allocates the reply, heap unlocked
src.pos = 0
link.poll()
print("line", out[-1][:17])
locked("empty lines", b"\n\r\n\r\r\n\n")
locked("overlong", b"8 ping " + b"x" * 3000)
src.data = b"\n9 ping\n"
src.pos = 0
link.poll()
print("after", out[-2][:12], out[-1][:5])
