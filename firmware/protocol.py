"""callcue's serial protocol, the dongle's half: the line format's constants, the command
table, request parsing and the reply encoders.

Pure (no port access, no I/O) and shared: the dongle and the host both import it as
`firmware.protocol`. What only a host does (encode requests, parse and check responses,
check chunks, encode replay PCM, the host's error codes) is callcue/device/wire.py, which takes
every constant from here. It gives identical results under MicroPython and
CPython (tests/firmware/mpy/protocol_golden.py), which is why it carries its own JSON writer and a
strict JSON-subset reader for request arguments instead of leaning on `json` (the two
`json` modules differ: MicroPython's accepts `{"a" 1}`, writes non-ASCII raw, orders keys
by hash). PROTOCOL.md is the document; this module mirrors it section by section.
"""

import binascii
import json
from array import array

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


# ---------------------------------------------------------------------------- limits

PROTOCOL_VERSION = const(1)
MAX_LINE = const(1024)      # request bytes before the line terminator
MAX_REPLY = const(65536)    # the longest line a host must accept from the device
MAX_DEPTH = const(16)       # objects and lists in a reply nest at most this deep
CHUNK_MAX = const(768)      # session bytes per get_session (1024 base64 characters)
PCM_FRAME = const(80)       # samples per channel in one 10 ms replay frame (8 kHz)
PCM_BYTES = const(320)      # one frame pair: rep then customer, int16 little-endian
MAX_INT30 = const(0x3FFFFFFF)  # ids and offsets stay RP2040 small ints (< 2**30)
MAX_MSG = const(240)        # ERR message characters
_MAX_DIGITS = const(10)     # integers in requests: at most 10 digits (crc32, unix time)
_MAX_NAME = const(32)       # config key length
_MAX_TEXT = const(64)       # config string value length

# ---------------------------------------------------------------------------- line kinds

OK = "OK"
ERR = "ERR"
REC = "REC"
FRM = "FRM"
EVT = "EVT"
NO_ID = "-"  # the id of an ERR that cannot be attributed, and of requests sent without one

# stream modes (the `stream` command)
STREAM_OFF = "off"
STREAM_ON = "on"          # a REC line each second
STREAM_FRAMES = "frames"  # REC lines, and a FRM line each 10 ms frame

# ---------------------------------------------------------------------------- error codes

BAD_LINE = "BAD_LINE"
TOO_LONG = "TOO_LONG"
TOO_LARGE = "TOO_LARGE"
UNKNOWN_COMMAND = "UNKNOWN_COMMAND"
UNSUPPORTED = "UNSUPPORTED"
BAD_ARGS = "BAD_ARGS"
BUSY = "BUSY"
NOT_FOUND = "NOT_FOUND"
MISMATCH = "MISMATCH"
STORAGE = "STORAGE"
INTERNAL = "INTERNAL"
# ---------------------------------------------------------------------------- record and frame

# The per-second record's fields are the engine's (dsp/record.py).
from dsp.record import RECORD_FIELDS  # noqa: E402 - beside the frame fields it goes with

# The per-frame output (FRM lines, replay): attributes of dsp.engine.Engine after process().
FRAME_FIELDS = ("frame", "level_rep", "level_cust", "rep_active", "cust_active",
                "rep_speech", "cust_speech", "f0_cents", "syllable", "cue")

# ---------------------------------------------------------------------------- command table

REQ = "<required>"  # the default of a required argument

# Argument kinds: "int" (a..b inclusive), "bool", "choice" (one of the tuple a),
# "map" (an object of a..b entries: keys [a-z0-9_]{1,32}, values integer, string of at
# most 64 printable characters, true/false or null), "pcm" (one replay frame pair:
# canonical base64 of PCM_BYTES; the handler receives (rep, cust), two array('h')),
# "hex" (exactly a bytes as 2a lowercase hex digits; the handler receives bytes; an
# error never repeats the value: it may be a key).
# Reply kinds (checked by the host): "int", "str", "bool", "obj", "list", and "int?",
# "str?", "obj?" for "or null". Replies may carry more fields than listed.
#
# (name, args: ((arg, kind, default, a, b), ...), reply: ((field, kind), ...), summary)
COMMANDS = (
    ("ping", (), (("protocol", "int"),),
     "is the link alive; answered by the link itself"),
    ("help", (), (("commands", "list"),),
     "the commands this firmware answers; answered by the link itself"),
    ("info", (),
     (("device_id", "str"), ("firmware", "str"), ("protocol", "int"), ("log_format", "int"),
      ("calibration", "obj?"), ("params", "obj"), ("free_bytes", "int"),
      ("uptime_s", "int"), ("overruns", "int"), ("time", "int?"), ("session", "int?"),
      ("stream", "str")),
     "identity, versions, calibration, parameters, storage, uptime, overruns"),
    ("stream", (("mode", "choice", REQ, (STREAM_OFF, STREAM_ON, STREAM_FRAMES), None),),
     (("mode", "str"),),
     "REC lines each second (on), also FRM lines each frame (frames), or none (off)"),
    ("sessions", (), (("sessions", "list"),),
     "the session logs on flash"),
    ("stat_session", (("id", "int", REQ, 0, MAX_INT30),),
     (("id", "int"), ("bytes", "int"), ("crc32", "int"), ("open", "bool")),
     "size and crc32 of one whole session log"),
    ("get_session", (("id", "int", REQ, 0, MAX_INT30), ("offset", "int", REQ, 0, MAX_INT30),
                     ("len", "int", CHUNK_MAX, 1, CHUNK_MAX)),
     (("id", "int"), ("offset", "int"), ("len", "int"), ("size", "int"), ("crc32", "int"),
      ("data", "str")),
     "one chunk of a session log, with its crc32"),
    ("delete_session", (("id", "int", REQ, 0, MAX_INT30),
                        ("crc32", "int", REQ, 0, 0xFFFFFFFF)),
     (("deleted", "int"),),
     "delete a closed session log, only if crc32 matches it (proof of a verified pull)"),
    ("get_config", (), (("params", "obj"),),
     "the stored configuration: parameter overrides, calibration"),
    ("set_config", (("params", "map", REQ, 1, 40),),
     (("params", "obj"),),
     "change parameter overrides (null: back to the default); validated, written atomically"),
    ("set_time", (("time", "int", REQ, 1577836800, 4102444799),),
     (("time", "int"),),
     "set the clock: seconds since 1970-01-01 UTC"),
    ("calibrate", (("step", "choice", REQ, ("silence", "rep", "customer"), None),
                   ("seconds", "int", 5, 1, 120)),
     (("step", "str"), ("frames", "int")),
     "start a calibration measurement; poll `calibration` for the result"),
    ("calibration", (), (("running", "bool"), ("result", "obj")),
     "the calibration measurement: still running, and its result"),
    ("cal_save", (), (("calibration", "obj"),),
     "store the finished measurement as this unit's calibration"),
    ("replay_start", (("params", "map", None, 1, 40),),
     (("frame", "int"),),
     "pause capture, start a fresh engine (with optional parameter overrides) for replay"),
    ("replay", (("pcm", "pcm", REQ, None, None),),
     (("frm", "list"), ("rec", "obj?"), ("evt", "obj?")),
     "run one 10 ms frame pair through the replay engine; reply with its output"),
    ("replay_end", (), (("frames", "int"), ("evt", "obj?")),
     "flush the replay engine and resume capture"),
    ("set_key", (("key", "hex", REQ, 32, None), ("proof", "hex", None, 32, None)),
     (("key_set", "bool"), ("key_id", "str")),
     "provision the 32-byte key that seals session logs (once; to replace it, proof)"),
    ("reboot", (("mode", "choice", "normal", ("normal", "bootloader"), None),),
     (("mode", "str"),),
     "reset after the reply (bootloader: the RP2040's UF2 mode)"),
)

_BY_NAME = {}
for _row in COMMANDS:
    _BY_NAME[_row[0]] = _row
COMMAND_NAMES = tuple(row[0] for row in COMMANDS)
BUILTIN = ("ping", "help", "stream")  # answered by firmware.link.Link itself


class ProtocolError(Exception):
    """A request or response that breaks the protocol: `code` (an error code above),
    `message` (what is wrong and how to fix it), `rid` (the request id when known)."""

    def __init__(self, code, message, rid=None):
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.rid = rid

    def __str__(self):
        return "%s: %s" % (self.code, self.message)


def command(name):
    """The table row of command `name`; ProtocolError(UNKNOWN_COMMAND) if there is none."""
    row = _BY_NAME.get(name)
    if row is None:
        raise ProtocolError(UNKNOWN_COMMAND,
                            "unknown command '%s'; 'help' lists the commands" % clip(name))
    return row


# ---------------------------------------------------------------------------- JSON writer


def dumps(obj, limit=MAX_REPLY):
    """Compact JSON, identical under MicroPython and CPython: keys sorted, ASCII only,
    no spaces. Integers, strings, true/false/null, dicts and lists/tuples only: a float
    raises TypeError (the protocol carries integers in device units). Text longer than
    `limit` characters or nesting deeper than MAX_DEPTH raises ProtocolError(TOO_LARGE)
    as soon as it is seen (no host reads such a line, and building it could exhaust the
    device's heap or C stack)."""
    out = []
    _dump(obj, out, [limit], 0)
    return "".join(out)


def _dump(v, out, left, depth):
    # left[0]: characters still allowed, checked at each piece, so a huge reply stops
    # as soon as it passes the limit
    if depth > MAX_DEPTH:
        raise ProtocolError(TOO_LARGE, "reply nested deeper than %d" % MAX_DEPTH)
    if v is None:
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif type(v) is int:
        t = str(v)
        _spend(left, len(t))
        out.append(t)
    elif type(v) is str:
        q = _quote(v)
        _spend(left, len(q))
        out.append(q)
    elif type(v) is dict:
        _spend(left, len(v) + 1)
        out.append("{")
        first = True
        for k in sorted(v):
            if type(k) is not str:
                raise TypeError("JSON keys are strings")
            if not first:
                out.append(",")
            first = False
            q = _quote(k)
            _spend(left, len(q) + 1)
            out.append(q)
            out.append(":")
            _dump(v[k], out, left, depth + 1)
        out.append("}")
    elif type(v) is list or type(v) is tuple:
        _spend(left, len(v) + 1)
        out.append("[")
        for i in range(len(v)):
            if i:
                out.append(",")
            _dump(v[i], out, left, depth + 1)
        out.append("]")
    elif type(v) is float:
        raise TypeError("floats are not sent; use integer device units")
    else:
        raise TypeError("cannot send a %s" % type(v).__name__)


def _spend(left, n):
    left[0] -= n
    if left[0] < 0:
        raise ProtocolError(TOO_LARGE, "reply longer than %d bytes" % MAX_REPLY)


def _quote(s):
    # Fast path (C speed): json.dumps escaped nothing and every character is printable
    # ASCII, so both interpreters agree on '"' + s + '"'.
    r = json.dumps(s)
    if len(r) == len(s) + 2 and len(s.encode()) == len(s) and "\x7f" not in s:
        return r
    out = ['"']
    for c in s:
        o = ord(c)
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif 0x20 <= o < 0x7F:
            out.append(c)
        elif o < 0x10000:
            out.append("\\u%04x" % o)
        else:  # a UTF-16 surrogate pair, as JSON wants
            o -= 0x10000
            out.append("\\u%04x\\u%04x" % (0xD800 + (o >> 10), 0xDC00 + (o & 0x3FF)))
    out.append('"')
    return "".join(out)


def clip(s, n=40):
    """`s` made safe for an ERR message: printable ASCII, at most n characters."""
    s = str(s)
    out = []
    for c in s[:n]:
        out.append(c if " " <= c <= "~" else "?")
    if len(s) > n:
        out.append("...")
    return "".join(out)


# ---------------------------------------------------------------------------- JSON reader

_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r",
            "t": "\t"}
_HEX = "0123456789abcdefABCDEF"


def parse_args(text, col=0):
    """A request's argument object -> dict. Strict JSON subset (PROTOCOL.md, "Arguments"):
    one object whose values are integers, strings, true, false, null or objects of those;
    spaces only as whitespace. `col` is where `text` starts in the line (for messages).
    Raises ProtocolError: BAD_LINE for syntax, BAD_ARGS for a value the protocol never
    carries (fractions, arrays, long integers, repeated keys)."""
    n = len(text)
    i = _ws(text, 0)
    if i >= n or text[i] != "{":
        raise _syntax(col + i, "the arguments as a JSON object '{...}'")
    obj, i = _object(text, i, 1, col)
    i = _ws(text, i)
    if i != n:
        raise _syntax(col + i, "the end of the line after the arguments")
    return obj


def _syntax(i, what):
    return ProtocolError(BAD_LINE, "column %d: expected %s" % (i + 1, what))


def _ws(s, i):
    n = len(s)
    while i < n and s[i] == " ":
        i += 1
    return i


def _object(s, i, depth, col):
    n = len(s)
    d = {}
    i = _ws(s, i + 1)
    if i < n and s[i] == "}":
        return d, i + 1
    while True:
        if i >= n or s[i] != '"':
            raise _syntax(col + i, "a key in double quotes")
        key, i = _string(s, i, col)
        i = _ws(s, i)
        if i >= n or s[i] != ":":
            raise _syntax(col + i, "':' after the key")
        i = _ws(s, i + 1)
        val, i = _value(s, i, depth, col, key)
        if key in d:
            raise ProtocolError(BAD_ARGS, "%s: given twice" % clip(key))
        d[key] = val
        i = _ws(s, i)
        if i < n and s[i] == ",":
            i = _ws(s, i + 1)
        elif i < n and s[i] == "}":
            return d, i + 1
        else:
            raise _syntax(col + i, "',' or '}'")


def _value(s, i, depth, col, key):
    c = s[i] if i < len(s) else ""
    if c == '"':
        return _string(s, i, col)
    if c == "{":
        if depth >= 2:
            raise ProtocolError(BAD_ARGS, "%s: objects nest at most two deep" % clip(key))
        return _object(s, i, depth + 1, col)
    if c == "-" or "0" <= c <= "9":
        return _integer(s, i, col, key)
    if s[i:i + 4] == "true":
        return True, i + 4
    if s[i:i + 5] == "false":
        return False, i + 5
    if s[i:i + 4] == "null":
        return None, i + 4
    if c == "[":
        raise ProtocolError(BAD_ARGS, "%s: no command takes an array" % clip(key))
    raise _syntax(col + i, "a value (integer, string, true, false, null or object)")


def _integer(s, i, col, key):
    n = len(s)
    j = i + 1 if s[i] == "-" else i
    k = j
    while k < n and "0" <= s[k] <= "9":
        k += 1
    if k == j:
        raise _syntax(col + j, "a digit")
    if s[j] == "0" and k - j > 1:
        raise _syntax(col + j, "no leading zeros")
    if k < n and s[k] in ".eE":
        raise ProtocolError(BAD_ARGS, "%s: numbers are integers in device units (ms, cents, "
                            "bytes), not fractions" % clip(key))
    if k - j > _MAX_DIGITS:
        raise ProtocolError(BAD_ARGS, "%s: integer longer than %d digits"
                            % (clip(key), _MAX_DIGITS))
    return int(s[i:k]), k


def _string(s, i, col):
    n = len(s)
    q = s.find('"', i + 1)
    b = s.find("\\", i + 1)
    if q >= 0 and (b < 0 or b > q):  # no escapes: one slice
        return s[i + 1:q], q + 1
    parts = []
    j = i + 1
    start = j
    while True:
        if j >= n:
            raise _syntax(col + j, "a closing '\"'")
        c = s[j]
        if c == '"':
            parts.append(s[start:j])
            return "".join(parts), j + 1
        if c != "\\":
            j += 1
            continue
        parts.append(s[start:j])
        e = s[j + 1:j + 2]
        if e in _ESCAPES:
            parts.append(_ESCAPES[e])
            j += 2
        elif e == "u":
            h = s[j + 2:j + 6]
            if len(h) != 4 or not all(x in _HEX for x in h):
                raise _syntax(col + j, "four hex digits after \\u")
            cp = int(h, 16)
            if 0xD800 <= cp <= 0xDFFF:
                raise ProtocolError(BAD_ARGS, "column %d: characters outside the Basic "
                                    "Multilingual Plane are not supported" % (col + j + 1))
            parts.append(chr(cp))
            j += 6
        else:
            raise _syntax(col + j, "an escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)")
        start = j


# ---------------------------------------------------------------------------- requests


def parse_request(line):
    """One request line (bytes; a trailing CR/LF is allowed) -> (rid, cmd, args).

    rid is the request id (int) or None when the line has none; args is a dict (empty
    when the line has no arguments), not yet checked against the table (check_args).
    Raises ProtocolError(BAD_LINE | UNKNOWN_COMMAND | BAD_ARGS, message, rid)."""
    line = bytes(line)
    n = len(line)
    while n and (line[n - 1] == 10 or line[n - 1] == 13):
        n -= 1
    # the id first, so that every later error can be attributed to it
    rid = None
    k = 0
    while k < n and 48 <= line[k] <= 57:
        k += 1
    start = 0
    if 0 < k <= 9 and (k == n or line[k] == 32):
        rid = int(line[:k])
        start = k + 1
    for i in range(n):
        b = line[i]
        if b < 0x20 or b > 0x7E:
            raise ProtocolError(BAD_LINE, "byte 0x%02x at column %d: requests are printable "
                                "ASCII (escape other characters in JSON strings as \\uXXXX)"
                                % (b, i + 1), rid)
    text = line[:n].decode()
    try:
        sp = text.find(" ", start)
        cmd = text[start:] if sp < 0 else text[start:sp]
        if not _is_name(cmd, 24) or not ("a" <= cmd[0] <= "z"):
            raise ProtocolError(BAD_LINE, "expected '[id] command [json-object]' with a "
                                "decimal id of at most 9 digits and a lowercase command, "
                                "e.g. '7 info'")
        command(cmd)
        args = {} if sp < 0 or _ws(text, sp) == n else parse_args(text[sp:], sp)
    except ProtocolError as e:
        e.rid = rid
        raise
    return rid, cmd, args


def _is_name(s, longest):
    if not 0 < len(s) <= longest:
        return False
    for c in s:
        if not ("a" <= c <= "z" or "0" <= c <= "9" or c == "_"):
            return False
    return True


def check_args(cmd, args):
    """`args` (a dict) checked against command `cmd`'s row of the table -> a new dict with
    every argument (defaults filled in; a pcm argument decoded to (rep, cust)). Raises
    ProtocolError(BAD_ARGS) naming the argument and the rule it breaks."""
    spec = command(cmd)[1]
    out = {}
    for name, kind, default, a, b in spec:
        if name in args:
            out[name] = _check_value(name, kind, args[name], a, b)
        elif default == REQ:
            raise ProtocolError(BAD_ARGS, "%s: missing; %s takes %s"
                                % (name, cmd, _arg_list(spec)))
        else:
            out[name] = default
    for name in sorted(args):
        if name not in out:
            raise ProtocolError(BAD_ARGS, "%s: not an argument of %s (it takes %s)"
                                % (clip(name), cmd, _arg_list(spec)))
    return out


def _arg_list(spec):
    if not spec:
        return "none"
    return ", ".join(row[0] if row[2] == REQ else "[" + row[0] + "]" for row in spec)


def type_name(v):
    if v is None:
        return "null"
    if v is True or v is False:
        return "a boolean"
    if type(v) is int:
        return "an integer"
    if type(v) is str:
        return "a string"
    if type(v) is dict:
        return "an object"
    return type(v).__name__


def _check_value(name, kind, v, a, b):
    if kind == "int":
        if type(v) is not int:
            raise ProtocolError(BAD_ARGS, "%s: must be an integer, got %s"
                                % (name, type_name(v)))
        if v < a or v > b:
            raise ProtocolError(BAD_ARGS, "%s: %d is outside %d..%d" % (name, v, a, b))
        return v
    if kind == "bool":
        if v is not True and v is not False:
            raise ProtocolError(BAD_ARGS, "%s: must be true or false, got %s"
                                % (name, type_name(v)))
        return v
    if kind == "choice":
        if type(v) is not str or v not in a:
            raise ProtocolError(BAD_ARGS, "%s: must be one of %s" % (name, ", ".join(a)))
        return v
    if kind == "map":
        if type(v) is not dict:
            raise ProtocolError(BAD_ARGS, "%s: must be an object, got %s"
                                % (name, type_name(v)))
        if len(v) < a or len(v) > b:
            raise ProtocolError(BAD_ARGS, "%s: %d entries, must be %d..%d"
                                % (name, len(v), a, b))
        for k in sorted(v):
            if not _is_name(k, _MAX_NAME):
                raise ProtocolError(BAD_ARGS, "%s: key '%s' must be 1..%d of a-z, 0-9, _"
                                    % (name, clip(k), _MAX_NAME))
            x = v[k]
            if type(x) is str:
                if len(x) > _MAX_TEXT or clip(x, _MAX_TEXT) != x:
                    raise ProtocolError(BAD_ARGS, "%s.%s: strings are at most %d printable "
                                        "ASCII characters" % (name, k, _MAX_TEXT))
            elif not (x is None or x is True or x is False or type(x) is int):
                raise ProtocolError(BAD_ARGS, "%s.%s: must be an integer, string, boolean "
                                    "or null, got %s" % (name, k, type_name(x)))
        return v
    if kind == "hex":
        if type(v) is not str or len(v) != 2 * a or not _is_hex(v):
            raise ProtocolError(BAD_ARGS, "%s: must be %d bytes as %d lowercase hex digits"
                                % (name, a, 2 * a))
        return binascii.unhexlify(v)
    if kind == "pcm":
        if type(v) is not str:
            raise ProtocolError(BAD_ARGS, "%s: must be a base64 string, got %s"
                                % (name, type_name(v)))
        try:
            data = b64decode(v)
        except ValueError:
            raise ProtocolError(BAD_ARGS, "%s: not canonical base64 (A-Z a-z 0-9 + /, "
                                "padded with =)" % name) from None
        if len(data) != PCM_BYTES:
            raise ProtocolError(BAD_ARGS, "%s: decodes to %d bytes, must be %d (80 rep "
                                "samples, then 80 customer samples, int16 LE)"
                                % (name, len(data), PCM_BYTES))
        return decode_pcm(data)
    raise ProtocolError(INTERNAL, "%s: unknown kind %s in the command table" % (name, kind))


def _is_hex(s):
    for c in s:
        if not ("0" <= c <= "9" or "a" <= c <= "f"):
            return False
    return True


# ---------------------------------------------------------------------------- responses


def _rid_text(rid):
    return NO_ID if rid is None else str(rid)


def encode_ok(rid, obj):
    """b'OK <id> <json-object>\\n'."""
    if type(obj) is not dict:
        raise TypeError("a reply is a dict")
    return ("OK %s %s\n" % (_rid_text(rid), dumps(obj))).encode()


def encode_err(rid, code, message):
    """b'ERR <id> <CODE> <message>\\n' (message clipped to MAX_MSG printable characters)."""
    return ("ERR %s %s %s\n" % (_rid_text(rid), code, clip(message, MAX_MSG))).encode()


def record_dict(rec):
    """A per-second record (sequence in RECORD_FIELDS order) as a dict of ints."""
    d = {}
    for i in range(len(RECORD_FIELDS)):
        d[RECORD_FIELDS[i]] = int(rec[i])
    return d


def encode_record(rec, overruns=None, talkovers=None):
    """b'REC <json-object>\\n' for a record in RECORD_FIELDS order (e.g. Engine.record),
    with the device's overrun count (frames lost since boot) and the talk-overs that
    ended in this second when given."""
    d = record_dict(rec)
    if overruns is not None:
        d["overruns"] = overruns
    if talkovers is not None:
        d["talkovers"] = talkovers
    return ("REC %s\n" % dumps(d)).encode()


def frame_values(eng):
    """The FRAME_FIELDS attributes of an engine (after process()) as a list of ints."""
    return [getattr(eng, name) for name in FRAME_FIELDS]


def encode_frame(values):
    """b'FRM <int> <int> ...\\n': one frame's output in FRAME_FIELDS order."""
    if len(values) != len(FRAME_FIELDS):
        raise ValueError("a frame has %d values" % len(FRAME_FIELDS))
    return ("FRM %s\n" % " ".join(str(int(v)) for v in values)).encode()


def encode_event(name, fields=None):
    """b'EVT {"ev":name,...}\\n'."""
    d = {} if fields is None else dict(fields)
    d["ev"] = name
    return ("EVT %s\n" % dumps(d)).encode()


def talkover_event(eng):
    """The engine's finished talk-over as an event dict, or None when there is none."""
    if not eng.event_ready:
        return None
    return {"ev": "talkover", "start_f": eng.event_start, "end_f": eng.event_end,
            "interrupter": eng.event_interrupter}


def replay_reply(eng, ready):
    """The `replay` reply after eng.process(...) returned `ready`."""
    return {"frm": frame_values(eng), "rec": record_dict(eng.record) if ready else None,
            "evt": talkover_event(eng)}


# ---------------------------------------------------------------------------- chunks


def crc32(data, crc=0):
    """CRC-32 (zlib/PNG polynomial) as an unsigned int; chain with `crc`."""
    return binascii.crc32(data, crc) & 0xFFFFFFFF


def b64encode(data):
    """Standard base64 (with = padding, no newline) as a str."""
    return binascii.b2a_base64(data)[:-1].decode()


def b64decode(text):
    """Strict base64 -> bytes: only the canonical encoding of some bytes is accepted
    (both binascii modules silently skip stray characters). Raises ValueError."""
    if len(text) % 4:
        raise ValueError("base64 length is not a multiple of 4")
    raw = text.encode()
    try:
        data = binascii.a2b_base64(raw)
    except Exception:  # binascii.Error on CPython, ValueError on MicroPython
        raise ValueError("not base64") from None
    if binascii.b2a_base64(data)[:-1] != raw:
        raise ValueError("not canonical base64")
    return data


def chunk_reply(sid, offset, size, data):
    """The device's get_session reply for `data` read at `offset` of session `sid`
    (`size` bytes long)."""
    return {"id": sid, "offset": offset, "len": len(data), "size": size,
            "crc32": crc32(data), "data": b64encode(data)}


# ---------------------------------------------------------------------------- replay PCM


def decode_pcm(data):
    """PCM_BYTES of replay data -> (rep, cust), two array('h') of PCM_FRAME samples.
    Little-endian machines only (the RP2040, x86, ARM hosts): array('h') copies native
    byte order."""
    pcm = array("h", data)
    return pcm[0:PCM_FRAME], pcm[PCM_FRAME:2 * PCM_FRAME]
