"""The dongle's end of the serial protocol: a non-blocking line assembler and dispatcher.

    link = Link(PollReader(), sys.stdout.buffer.write)   # USB CDC: the REPL's stdin/stdout
    link.handle("info", app.info)                        # fn(args) -> dict, per command
    while True:
        link.poll()                                      # never blocks
        ...                                              # capture, engine, logs
        link.send_record(eng.record)                     # REC line when streaming

Each complete line is parsed (protocol.parse_request), its arguments are checked against
the command table (protocol.check_args), then the handler runs and its dict goes back as
`OK <id> <json>`. Everything else becomes one `ERR <id> <CODE> <message>` line: garbage,
overlong or non-ASCII lines, unknown commands, bad arguments; a handler raising
ValueError is BAD_ARGS with its message, ProtocolError its own code, OSError STORAGE
(ENOENT: NOT_FOUND), any other Exception INTERNAL. A reply that would be longer than
MAX_REPLY (the longest line a host reads) or nest deeper than MAX_DEPTH is never sent:
it becomes `ERR <id> TOO_LARGE` (protocol.dumps stops building it at the limit). The
link itself never raises out of poll() for bad input.

Ctrl-C: on the device the USB REPL turns byte 0x03 into KeyboardInterrupt before the
application reads stdin (micropython.kbd_intr(3), the default: do not disable it), so
`mpremote` can always break in for flashing. The link catches Exception only, never
BaseException, so that interrupt (and SystemExit) passes through it. Under the unix port
with a pipe or pty there is no such interception and 0x03 is an ordinary bad byte.
"""

import select

from . import protocol
from .protocol import (
    BAD_ARGS,
    INTERNAL,
    MAX_LINE,
    MAX_REPLY,
    NOT_FOUND,
    STORAGE,
    STREAM_FRAMES,
    STREAM_OFF,
    TOO_LARGE,
    TOO_LONG,
    UNSUPPORTED,
    ProtocolError,
)

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


_LF = const(10)
_CR = const(13)
_RX_CHUNK = const(64)
_POLLIN = const(0x0001)
_POLLERR = const(0x0008)
_POLLHUP = const(0x0010)


class PollReader:
    """Non-blocking byte source over a stream that select.poll can watch: readinto(buf)
    copies whatever is waiting (up to len(buf)) and returns the count, 0 when nothing is.

    On the device use PollReader() (sys.stdin, the USB CDC REPL). MicroPython's stream
    readinto() blocks until the buffer is full (the device's stdin and the unix port's
    files alike; there is no read1), so this reads one byte per successful poll.
    `eof` turns True when the other end hangs up (the host closed the pty or pipe)."""

    def __init__(self, stream=None):
        if stream is None:
            import sys

            stream = sys.stdin
        self._poll = select.poll()
        self._poll.register(stream, select.POLLIN)
        # MicroPython's ipoll() allocates nothing; CPython (tests) has poll() only
        self._ready_iter = getattr(self._poll, "ipoll", self._poll.poll)
        self._src = getattr(stream, "buffer", stream)
        self._one = bytearray(1)
        self.eof = False

    def _ready(self):
        for _obj, ev in self._ready_iter(0):
            if ev & _POLLIN:
                return True
            if ev & (_POLLHUP | _POLLERR):
                self.eof = True
        return False

    def readinto(self, buf):
        n = 0
        one = self._one
        try:
            while n < len(buf) and not self.eof and self._ready():
                if not self._src.readinto(one):
                    self.eof = True
                    break
                buf[n] = one[0]
                n += 1
        except OSError:  # EIO from a pty whose other end has gone
            self.eof = True
        return n


class Link:
    """The serial protocol on one byte stream (see PROTOCOL.md).

    source: a non-blocking byte source: an object with readinto(buf) -> count (0 or None
        when nothing is waiting), or such a function. Never a blocking stream.
    write: a function taking bytes (one whole line per call), e.g. sys.stdout.buffer.write.

    Handlers: handle(cmd, fn) with fn(args) -> dict (None sends {}). `args` holds every
    argument of the command's table row, defaults filled in. `ping` and `help` are
    answered here, and `stream` too unless the app registers its own handler; either way
    a successful `stream` sets `self.stream` ("off", "on", "frames"), which decides what
    send_record()/send_frame() write. A handler may set `link.after` to a function that
    runs once its reply has been written (reboot).
    """

    def __init__(self, source, write, max_line=MAX_LINE):
        self._read = source.readinto if hasattr(source, "readinto") else source
        self._write = write
        self._line = bytearray(max_line)
        self._max = max_line
        self._n = 0
        self._over = False     # discarding the rest of an overlong line
        self._skip_lf = False  # the last terminator was CR: an LF right after it is its pair
        self._rx = bytearray(_RX_CHUNK)
        self.handlers = {}
        self.stream = STREAM_OFF
        self.after = None
        # counters, for `info` or a debugging session
        self.lines = 0
        self.errors = 0
        self.write_errors = 0

    @classmethod
    def stdio(cls):
        """The link on the USB CDC REPL (the device) or stdin/stdout (the unix port)."""
        import sys

        out = sys.stdout.buffer if hasattr(sys.stdout, "buffer") else sys.stdout
        return cls(PollReader(sys.stdin), out.write)

    def handle(self, cmd, fn):
        """Answer command `cmd` (a name from protocol.COMMANDS) with fn(args) -> dict."""
        protocol.command(cmd)
        self.handlers[cmd] = fn

    def poll(self, budget=128):
        """Read and act on the bytes waiting, at most about `budget` of them (so a long
        burst cannot hold up the caller's frame loop), without blocking. Returns the
        number of complete non-empty lines handled."""
        done = 0
        rx = self._rx
        while budget > 0:
            got = self._read(rx)
            if not got:
                break
            budget -= got
            for i in range(got):
                b = rx[i]
                if b == _LF or b == _CR:
                    if b == _LF and self._skip_lf:
                        self._skip_lf = False
                        continue
                    self._skip_lf = b == _CR
                    if self._over or self._n:
                        self._end_line()
                        done += 1
                    continue
                self._skip_lf = False
                if self._over:
                    continue
                if self._n < self._max:
                    self._line[self._n] = b
                    self._n += 1
                else:
                    self._over = True
        return done

    def _end_line(self):
        n = self._n
        self._n = 0
        if self._over:
            self._over = False
            self.errors += 1
            self._send(protocol.encode_err(
                _prefix_rid(self._line, n), TOO_LONG,
                "line longer than %d bytes, discarded; get_session len <= %d, one replay "
                "frame per line" % (self._max, protocol.CHUNK_MAX)))
            return
        self.lines += 1
        try:
            reply = self.dispatch(memoryview(self._line)[:n])
        except MemoryError:  # not even the ERR line could be built: send a ready one
            reply = _ERR_MEMORY
        self._send(reply)
        after = self.after
        if after is not None:
            self.after = None
            after()

    def dispatch(self, line):
        """One request line (without its terminator) -> the response line (bytes)."""
        rid = None
        try:
            rid, cmd, args = protocol.parse_request(line)
            args = protocol.check_args(cmd, args)
            fn = self.handlers.get(cmd)
            if fn is None:
                fn = _BUILTIN.get(cmd)
                if fn is None:
                    raise ProtocolError(UNSUPPORTED, "'%s' is not implemented by this "
                                        "firmware" % cmd)
                reply = fn(self, args)
            else:
                reply = fn(args)
            if reply is None:
                reply = {}
            if cmd == "stream":
                self.stream = args["mode"]
                reply["mode"] = self.stream
            elif cmd == "info":
                reply["protocol"] = protocol.PROTOCOL_VERSION
                reply["stream"] = self.stream
            line = protocol.encode_ok(rid, reply)
            if len(line) > MAX_REPLY:  # the envelope's few bytes over dumps' limit
                raise ProtocolError(TOO_LARGE, "reply of %d bytes, at most %d"
                                    % (len(line), MAX_REPLY))
            return line
        except ProtocolError as e:
            code, msg = e.code, e.message
            if rid is None:
                rid = e.rid
        except ValueError as e:
            code, msg = BAD_ARGS, str(e) or "invalid value"
        except OSError as e:
            code, msg = _os_error(e)
        except Exception as e:  # a bug in a handler: report it, keep the link alive
            code, msg = INTERNAL, "%s: %s" % (type(e).__name__, e)
        self.errors += 1
        return protocol.encode_err(rid, code, msg)

    def _send(self, data):
        try:
            self._write(data)
        except OSError:  # the host went away mid-line; the next line starts afresh
            self.write_errors += 1

    def send_record(self, rec, overruns=None, talkovers=None):
        """A REC line for a per-second record (RECORD_FIELDS order, e.g. Engine.record),
        with optional overrun and talk-over counts, when streaming."""
        if self.stream != STREAM_OFF:
            self._send(protocol.encode_record(rec, overruns, talkovers))

    def send_frame(self, frame):
        """A FRM line, only in frame mode: `frame` is the engine (after process()) or
        its values in FRAME_FIELDS order."""
        if self.stream == STREAM_FRAMES:
            if hasattr(frame, "level_rep"):
                frame = protocol.frame_values(frame)
            self._send(protocol.encode_frame(frame))

    def send_event(self, name, fields=None):
        """An EVT line, always (the caller decides: `boot` always, `talkover` only while
        streaming)."""
        self._send(protocol.encode_event(name, fields))


def _prefix_rid(buf, n):
    """The request id at the start of a (discarded) line, or None."""
    k = 0
    while k < n and k < 10 and 48 <= buf[k] <= 57:
        k += 1
    if 0 < k <= 9 and k < n and buf[k] == 32:
        return int(bytes(buf[:k]))
    return None


def _os_error(e):
    """(code, message) for an OSError out of a handler: ENOENT is NOT_FOUND (a session
    store raises it for an unknown id), anything else STORAGE."""
    errno = e.args[0] if e.args and type(e.args[0]) is int else None
    if errno == 2:
        return NOT_FOUND, "no such session or file (ENOENT); `sessions` lists them"
    if errno == 28:
        return STORAGE, "flash full (ENOSPC): pull and delete sessions"
    if errno is not None:
        return STORAGE, "file system error, errno %d" % errno
    return STORAGE, "file system error: %s" % e


def _ping(link, args):
    return {"protocol": protocol.PROTOCOL_VERSION}


def _help(link, args):
    names = []
    for name in protocol.COMMAND_NAMES:
        if name in link.handlers or name in _BUILTIN:
            names.append(name)
    return {"commands": names}


def _stream(link, args):
    return {"mode": args["mode"]}  # dispatch() sets link.stream


_BUILTIN = {"ping": _ping, "help": _help, "stream": _stream}
_ERR_MEMORY = b"ERR - INTERNAL out of memory\n"
