"""The host's side of the serial protocol: request lines out, response lines in.

What only a host does with the line protocol: encode a request, parse and check a
response line, check a session chunk, encode replay PCM, and the host's own error codes
(TIMEOUT, BAD_RESPONSE, CRC) with the table of every code. The dongle's half (the
constants, the command table, the JSON writer, request parsing and the reply encoders)
is `firmware.protocol`, imported from there so that each constant is defined once;
PROTOCOL.md is the document for both.
"""

import json

from firmware.protocol import (
    BAD_ARGS,
    BAD_LINE,
    BUSY,
    ERR,
    EVT,
    FRAME_FIELDS,
    FRM,
    INTERNAL,
    MAX_LINE,
    MISMATCH,
    NO_ID,
    NOT_FOUND,
    OK,
    PCM_BYTES,
    PCM_FRAME,
    REC,
    RECORD_FIELDS,
    STORAGE,
    TOO_LARGE,
    TOO_LONG,
    UNKNOWN_COMMAND,
    UNSUPPORTED,
    ProtocolError,
    b64decode,
    b64encode,
    clip,
    command,
    crc32,
    dumps,
    type_name,
)

# ---------------------------------------------------------------------------- error codes

# raised by the host client only; never sent by the device (the device's codes are in
# firmware.protocol)
TIMEOUT = "TIMEOUT"
BAD_RESPONSE = "BAD_RESPONSE"
CRC = "CRC"

# (code, sent by, meaning and what to do)
ERRORS = (
    (BAD_LINE, "device", "the line is not `[id] command [json-object]` in printable ASCII; "
     "fix the request"),
    (TOO_LONG, "device", "the line exceeded MAX_LINE bytes; the rest of it was discarded; "
     "send less per line"),
    (TOO_LARGE, "device", "the reply would exceed MAX_REPLY bytes or nest deeper than "
     "MAX_DEPTH (e.g. an oversized calibration in the config file); nothing else was sent"),
    (UNKNOWN_COMMAND, "device", "no such command; `help` lists them"),
    (UNSUPPORTED, "device", "a protocol command this firmware does not implement; update it"),
    (BAD_ARGS, "device", "an argument is missing, extra, of the wrong type or out of range; "
     "the message names it"),
    (BUSY, "device", "not now (calibration or replay running, session still recording); "
     "retry later"),
    (NOT_FOUND, "device", "no session with that id; list them with `sessions`"),
    (MISMATCH, "device", "delete_session: the crc32 given is not the stored session's; "
     "pull it again. set_key: a key is set and no proof, or a wrong one, of it was given"),
    (STORAGE, "device", "the flash file system failed (full, corrupt); the message has the "
     "errno"),
    (INTERNAL, "device", "a firmware bug: the handler raised; the link carries on"),
    (TIMEOUT, "host", "no response within the timeout; the device may be busy or rebooting"),
    (BAD_RESPONSE, "host", "a response line that does not follow the protocol"),
    (CRC, "host", "a chunk or a whole session failed its crc32 check"),
)


# ---------------------------------------------------------------------------- requests


def encode_request(rid, cmd, args=None):
    """The request line (bytes) for command `cmd` with id `rid` (int or None) and `args`.
    Raises ProtocolError(TOO_LONG) when the line would exceed MAX_LINE."""
    head = cmd if rid is None else "%d %s" % (rid, cmd)
    text = head + " " + dumps(args) if args else head
    if len(text) > MAX_LINE:
        raise ProtocolError(TOO_LONG, "%s: request of %d bytes exceeds %d"
                            % (cmd, len(text), MAX_LINE), rid)
    return text.encode() + b"\n"


# ---------------------------------------------------------------------------- responses


def parse_response(line):
    """One line from the device -> (kind, rid, payload):

        ("OK", rid, dict)  ("ERR", rid|None, (code, message))  ("REC", None, dict)
        ("FRM", None, dict of FRAME_FIELDS)  ("EVT", None, dict)  (None, None, text)

    The last is anything else (REPL banner, a traceback, print output): hosts skip it.
    A line that starts like a protocol line but is malformed raises
    ProtocolError(BAD_RESPONSE, message, rid) with rid when it could be read."""
    line = bytes(line)
    n = len(line)
    while n and (line[n - 1] == 10 or line[n - 1] == 13):
        n -= 1
    try:
        text = line[:n].decode()
    except UnicodeError:
        return None, None, line[:n]
    sp = text.find(" ")
    kind = text[:sp] if sp > 0 else text
    rest = text[sp + 1:] if sp > 0 else ""
    if kind == OK or kind == ERR:
        sp2 = rest.find(" ")
        tok = rest[:sp2] if sp2 >= 0 else rest
        rid = None
        if tok != NO_ID:
            if not tok.isdigit() or len(tok) > 9:
                raise ProtocolError(BAD_RESPONSE, "bad id in %s" % clip(text))
            rid = int(tok)
        body = rest[sp2 + 1:] if sp2 >= 0 else ""
        if kind == ERR:
            sp3 = body.find(" ")
            code = body[:sp3] if sp3 >= 0 else body
            if not code:
                raise ProtocolError(BAD_RESPONSE, "ERR without a code", rid)
            return ERR, rid, (code, body[sp3 + 1:] if sp3 >= 0 else "")
        return OK, rid, _json_object(body, rid)
    if kind == REC:
        d = _json_object(rest, None)
        for name in RECORD_FIELDS:
            if type(d.get(name)) is not int:
                raise ProtocolError(BAD_RESPONSE, "REC without integer %s" % name)
        return REC, None, d
    if kind == FRM:
        parts = rest.split(" ")
        if len(parts) != len(FRAME_FIELDS):
            raise ProtocolError(BAD_RESPONSE, "FRM has %d values, not %d"
                                % (len(parts), len(FRAME_FIELDS)))
        d = {}
        try:
            for i in range(len(parts)):
                d[FRAME_FIELDS[i]] = int(parts[i])
        except ValueError:
            raise ProtocolError(BAD_RESPONSE, "FRM values are integers") from None
        return FRM, None, d
    if kind == EVT:
        d = _json_object(rest, None)
        if type(d.get("ev")) is not str:
            raise ProtocolError(BAD_RESPONSE, "EVT without a string 'ev'")
        return EVT, None, d
    return None, None, text


def _json_object(text, rid):
    try:
        d = json.loads(text)
    except ValueError:
        raise ProtocolError(BAD_RESPONSE, "not JSON: %s" % clip(text), rid) from None
    except (RuntimeError, MemoryError):  # RecursionError: JSON nested thousands deep
        raise ProtocolError(BAD_RESPONSE, "JSON nested too deep or too large to read",
                            rid) from None
    if type(d) is not dict:
        raise ProtocolError(BAD_RESPONSE, "not a JSON object: %s" % clip(text), rid)
    return d


def check_reply(cmd, obj):
    """Raise ProtocolError(BAD_RESPONSE) unless reply `obj` has every field of `cmd`'s row
    with the right kind (extra fields are allowed)."""
    for field, kind in command(cmd)[2]:
        if field not in obj:
            raise ProtocolError(BAD_RESPONSE, "%s reply without '%s'" % (cmd, field))
        v = obj[field]
        if kind[-1] == "?":
            if v is None:
                continue
            kind = kind[:-1]
        if kind == "int":
            ok = type(v) is int
        elif kind == "str":
            ok = type(v) is str
        elif kind == "bool":
            ok = v is True or v is False
        elif kind == "obj":
            ok = type(v) is dict
        else:
            ok = type(v) is list
        if not ok:
            raise ProtocolError(BAD_RESPONSE, "%s reply: '%s' is %s, not %s"
                                % (cmd, field, type_name(v), kind))


# ---------------------------------------------------------------------------- chunks


def chunk_data(reply, offset):
    """The host's side: the bytes of a get_session reply asked at `offset`, checked
    (offset, length, crc32). Raises ProtocolError(CRC) when they do not match."""
    if reply["offset"] != offset:
        raise ProtocolError(CRC, "chunk at offset %d, asked for %d" % (reply["offset"], offset))
    try:
        data = b64decode(reply["data"])
    except ValueError:
        raise ProtocolError(CRC, "chunk at offset %d: data is not base64" % offset) from None
    if len(data) != reply["len"]:
        raise ProtocolError(CRC, "chunk at offset %d: %d bytes, reply says %d"
                            % (offset, len(data), reply["len"]))
    if crc32(data) != reply["crc32"]:
        raise ProtocolError(CRC, "chunk at offset %d: crc32 %08x, reply says %08x"
                            % (offset, crc32(data), reply["crc32"]))
    return data


# ---------------------------------------------------------------------------- replay PCM


def encode_pcm(rep, cust):
    """One replay frame pair (PCM_FRAME int16 samples per channel) -> base64 str of
    PCM_BYTES: the rep's 80 samples, then the customer's, each int16 little-endian."""
    if len(rep) != PCM_FRAME or len(cust) != PCM_FRAME:
        raise ValueError("a replay frame is %d samples per channel" % PCM_FRAME)
    buf = bytearray(PCM_BYTES)
    j = 0
    for ch in (rep, cust):
        for v in ch:
            v = int(v)
            if v < -32768 or v > 32767:
                raise ValueError("sample %d is outside int16" % v)
            v &= 0xFFFF
            buf[j] = v & 0xFF
            buf[j + 1] = v >> 8
            j += 2
    return b64encode(buf)
