"""The host's end of the serial protocol: a client for the dongle (or the virtual dongle).

    dev = Device.open("/dev/ttyACM0")          # or Device(any pyserial-like object)
    print(dev.info()["firmware"])
    data = dev.pull_session(3)                 # chunked, crc-checked, resumable
    dev.delete_session(3, crc32(data))         # the device checks the crc32 first
    dev.stream("on")
    for rec in dev.records(timeout=5):         # per-second records, device units
        ...

Requests carry increasing ids (starting at a random value, so that a stale reply from an
earlier session cannot match); responses are matched by id. Stream lines (REC, FRM, EVT)
that arrive while waiting are queued for records()/stream_lines(); other text (the REPL
banner, a traceback) is skipped. Arguments are checked against the same command table the
device uses (firmware.protocol) before anything is sent. Nothing the device sends
is trusted: a line longer than the protocol's MAX_REPLY fails the request it answers at
once (BAD_RESPONSE, not a wait for a timeout), and session lists, sizes and chunks are
checked for type and range before anyone uses them. Failures raise
DeviceError(code, message): the device's error codes, or TIMEOUT, BAD_RESPONSE, CRC.
"""

import random
import time
from collections import deque

from callcue.device import wire
from callcue.device.wire import BAD_RESPONSE, CRC, TIMEOUT
from firmware import protocol
from firmware.protocol import (
    BAD_ARGS,
    CHUNK_MAX,
    ERR,
    EVT,
    FRM,
    MAX_INT30,
    MAX_REPLY,
    OK,
    PCM_FRAME,
    REC,
    ProtocolError,
    crc32,
)

MAX_SESSION_BYTES = 1 << 26  # a session log is far smaller than the RP2040's 16 MB flash
POLL_S = 0.05          # serial read timeout: how often waiting loops look at the clock
DEFAULT_TIMEOUT = 5.0  # seconds for one response (flash writes can take a while)
REPLAY_WINDOW = 8      # replay requests in flight (the device queues them in USB buffers)


_OVERLONG = b"\x00overlong "  # _readline's marker for a line it dropped (no real line has NUL)


class DeviceError(Exception):
    """A request failed: `code` is a protocol error code (PROTOCOL.md) or a host-side one
    (TIMEOUT, BAD_RESPONSE, CRC); `message` says what to do."""

    def __init__(self, code, message, rid=None):
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.rid = rid

    def __str__(self):
        return f"{self.code}: {self.message}"


class Device:
    """A connected dongle. `port` is anything pyserial-like: read(n), write(b), a settable
    `timeout`, optionally `in_waiting` and `reset_input_buffer()` (serial.Serial,
    serial.serial_for_url(...), a pty opened with pyserial)."""

    def __init__(self, port, timeout=DEFAULT_TIMEOUT, sync=True):
        self.port = port
        self.timeout = timeout
        self.retries = 0  # chunks fetched again (crc, timeout, garbled reply), for reports
        self._rid = random.randrange(1, 10**8)
        self._rx = bytearray()
        self._lines = deque()
        self._stream = deque(maxlen=100_000)
        self._anonymous = None  # the last `ERR - ...` seen (a request it could not read)
        self._overlong = False  # dropping the rest of a line longer than MAX_REPLY
        port.timeout = POLL_S
        if sync:
            self.sync()

    @classmethod
    def open(cls, url, **kw):
        """Open a serial port (a device path or any pyserial URL) and connect."""
        import serial

        return cls(serial.serial_for_url(url, baudrate=115200, timeout=POLL_S), **kw)

    def close(self):
        self.port.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ lines

    def _readline(self, deadline):
        """The next line from the device (bytes, terminator stripped), or None at the
        deadline."""
        while True:
            if self._lines:
                return self._lines.popleft()
            nl = self._rx.find(b"\n")
            if nl >= 0:
                line = bytes(self._rx[:nl])
                del self._rx[:nl + 1]
                if self._overlong:      # the tail of an overlong line: already reported
                    self._overlong = False
                    continue
                self._lines.append(line.rstrip(b"\r"))
                continue
            if self._overlong:
                self._rx.clear()
            elif len(self._rx) >= MAX_REPLY:
                # longer than any reply may be: report it against the request whose id
                # it starts with (so that request fails now), then drop it to its end
                self._lines.append(_OVERLONG + bytes(self._rx[:24]))
                self._rx.clear()
                self._overlong = True
                continue
            if time.monotonic() >= deadline:
                return None
            waiting = getattr(self.port, "in_waiting", 0) or 1
            data = self.port.read(waiting)
            if data:
                self._rx += data

    def _next(self, deadline):
        """The next parsed line: (kind, rid, payload), or None at the deadline. Stream
        lines are queued and returned too; malformed lines come back as BAD_RESPONSE."""
        line = self._readline(deadline)
        if line is None:
            return None
        if line.startswith(_OVERLONG):
            head = line[len(_OVERLONG):].split(b" ")
            rid = int(head[1]) if len(head) > 2 and head[0] in (b"OK", b"ERR") \
                and head[1].isdigit() and len(head[1]) <= 9 else None
            return BAD_RESPONSE, rid, (f"a line longer than the protocol's {MAX_REPLY} "
                                       "bytes (dropped); the firmware breaks the protocol")
        try:
            kind, rid, payload = wire.parse_response(line)
        except ProtocolError as e:
            return BAD_RESPONSE, e.rid, e.message
        if kind in (REC, FRM, EVT):
            self._stream.append((kind, payload))
        return kind, rid, payload

    # ------------------------------------------------------------------ requests

    def send(self, cmd, **args):
        """Check and send one request; return its id (see wait())."""
        try:
            protocol.check_args(cmd, args)
        except ProtocolError as e:
            raise DeviceError(e.code, e.message) from None
        self._rid = self._rid % 999_999_999 + 1
        rid = self._rid
        try:
            line = wire.encode_request(rid, cmd, args)
        except ProtocolError as e:
            raise DeviceError(e.code, e.message, rid) from None
        self.port.write(line)
        return rid

    def wait(self, rid, cmd, timeout=None):
        """The reply (dict) to request `rid` of command `cmd`; DeviceError on ERR."""
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        self._anonymous = None
        while True:
            got = self._next(deadline)
            if got is None:
                hint = ""
                if self._anonymous is not None:
                    hint = f" (the device also sent 'ERR - {' '.join(self._anonymous)}')"
                raise DeviceError(TIMEOUT, f"no reply to {cmd} (id {rid}) within {limit:.1f} s;"
                                  f" is the firmware running?{hint}", rid)
            kind, got_rid, payload = got
            if kind == ERR and got_rid is None:
                self._anonymous = payload
            if got_rid != rid:
                continue  # a stream line, text, or a stale reply to an abandoned request
            if kind == OK:
                try:
                    wire.check_reply(cmd, payload)
                except ProtocolError as e:
                    raise DeviceError(e.code, e.message, rid) from None
                return payload
            if kind == BAD_RESPONSE:
                raise DeviceError(BAD_RESPONSE, payload, rid)
            code, message = payload
            raise DeviceError(code, message, rid)

    def request(self, cmd, timeout=None, **args):
        """Send `cmd` with `args` and return its reply (dict)."""
        return self.wait(self.send(cmd, **args), cmd, timeout)

    def sync(self):
        """End any partial line the device holds, drop stale input, check the link."""
        self.port.write(b"\n")
        if hasattr(self.port, "reset_input_buffer"):
            time.sleep(POLL_S)
            self.port.reset_input_buffer()
        self._rx.clear()
        self._lines.clear()
        return self.ping()

    # ------------------------------------------------------------------ commands

    def ping(self):
        return self.request("ping")

    def help(self):
        return self.request("help")["commands"]

    def info(self):
        return self.request("info")

    def stream(self, mode):
        """Stream per-second records ("on" or True), also frames ("frames"), or stop
        ("off" or False); returns the mode now in force."""
        if mode is True:
            mode = "on"
        elif mode is False or mode is None:
            mode = "off"
        return self.request("stream", mode=mode)["mode"]

    def stream_lines(self, timeout=None):
        """Yield every unsolicited line as (kind, dict): ("REC", record), ("FRM", frame),
        ("EVT", event); stop after `timeout` seconds without one (never when None)."""
        while True:
            if self._stream:
                yield self._stream.popleft()
                continue
            deadline = time.monotonic() + (1e9 if timeout is None else timeout)
            while not self._stream:
                if self._next(deadline) is None:
                    return

    def records(self, timeout=None):
        """Yield each per-second record (dict of RECORD_FIELDS, device units) as it
        arrives; stop after `timeout` seconds without any stream line."""
        for kind, payload in self.stream_lines(timeout):
            if kind == REC:
                yield payload

    def sessions(self):
        """The device's session list, each entry checked: a dict with an integer id (a
        protocol id, 0..2**30-1) and integer start, records and bytes where given."""
        out = self.request("sessions")["sessions"]
        for s in out:
            if not (type(s) is dict and type(s.get("id")) is int and 0 <= s["id"] <= MAX_INT30
                    and all(type(s[k]) is int for k in ("start", "records", "bytes")
                            if k in s)):
                raise DeviceError(BAD_RESPONSE, "sessions reply: an entry is not "
                                  f"{{id, start, records, bytes}} integers: {str(s)[:60]}")
        return out

    def stat_session(self, sid):
        st = self.request("stat_session", id=sid)
        if st["id"] != sid or not 0 <= st["bytes"] <= MAX_SESSION_BYTES \
                or not 0 <= st["crc32"] <= 0xFFFFFFFF:
            raise DeviceError(BAD_RESPONSE, f"stat_session {sid}: id {st['id']}, "
                              f"{st['bytes']} bytes, crc32 {st['crc32']}: out of range "
                              f"(a session log is at most {MAX_SESSION_BYTES} bytes)")
        return st

    def pull_session(self, sid, chunk=CHUNK_MAX, progress=None, partial=b"", retries=3):
        """The whole session log `sid` as bytes, in chunks of `chunk` bytes.

        Every chunk's crc32 is checked and a bad, lost or garbled chunk is asked for
        again (up to `retries` times); the whole file's crc32 is checked at the end.
        Resume an interrupted pull by passing the bytes already received as `partial`:
        the transfer continues at len(partial). progress(done, size) after each chunk."""
        st = self.stat_session(sid)
        size, want = st["bytes"], st["crc32"]
        buf = bytearray(partial)
        if len(buf) > size:
            raise DeviceError(CRC, f"session {sid}: {len(buf)} bytes already pulled but it "
                              f"has {size}; pull it again from the start")
        while len(buf) < size:
            offset = len(buf)
            n = min(chunk, size - offset)
            buf += self._chunk(sid, offset, n, retries)
            if progress is not None:
                progress(len(buf), size)
        if crc32(buf) != want:
            raise DeviceError(CRC, f"session {sid}: crc32 {crc32(buf):08x} of the pulled "
                              f"bytes is not the device's {want:08x}; pull it again from "
                              "the start")
        return bytes(buf)

    def _chunk(self, sid, offset, n, retries):
        for attempt in range(retries + 1):
            try:
                reply = self.request("get_session", id=sid, offset=offset, len=n)
                data = wire.chunk_data(reply, offset)
                if len(data) > n:
                    raise DeviceError(CRC, f"session {sid}: {len(data)} bytes at "
                                      f"{offset}, asked for {n}")
                if not data:
                    raise DeviceError(CRC, f"session {sid} ended at {offset}, before the "
                                      f"size it reported")
                return data
            except ProtocolError as e:
                last = DeviceError(e.code, e.message)
            except DeviceError as e:
                if e.code not in (TIMEOUT, BAD_RESPONSE, CRC):
                    raise
                last = e
            if attempt < retries:
                self.retries += 1
        raise DeviceError(last.code, f"session {sid} at offset {offset}: {last.message} "
                          f"({retries + 1} tries)")

    def delete_session(self, sid, crc):
        """Delete session `sid`; the device does so only if `crc` (crc32 of the pulled
        bytes) matches the stored file, otherwise DeviceError(MISMATCH)."""
        return self.request("delete_session", id=sid, crc32=crc)

    def get_config(self):
        return self.request("get_config")

    def set_config(self, **params):
        """Change parameter overrides (None restores a default); returns the config."""
        return self.request("set_config", params=params)

    def set_time(self, unix=None):
        """Set the device clock to `unix` seconds (default: now, by this host's clock)."""
        return self.request("set_time", time=int(time.time()) if unix is None else unix)

    def calibrate(self, step, seconds=5):
        """Start measuring: step "silence" (nobody speaks), "rep" (only the rep speaks)
        or "customer" (only the far end); poll calibration() for the result."""
        return self.request("calibrate", step=step, seconds=seconds)

    def calibration(self):
        return self.request("calibration")

    def cal_save(self):
        """Store the finished measurement as the unit's calibration; returns it."""
        return self.request("cal_save")["calibration"]

    def replay(self, rep, cust, params=None, window=REPLAY_WINDOW, progress=None):
        """Run int16 samples (two equal-length sequences at 8 kHz) through the device's
        engine, frame by frame, as the host engine would.

        Returns {"frames": [[FRAME_FIELDS ints]...], "records": [record dicts],
        "events": [talk-over event dicts]}; a trailing partial frame is dropped."""
        if len(rep) != len(cust):
            raise DeviceError(BAD_ARGS, "rep and cust differ in length")
        n = len(rep) // PCM_FRAME
        start = {} if not params else {"params": params}
        self.request("replay_start", **start)
        out = {"frames": [], "records": [], "events": []}
        pending = deque()
        i = 0
        try:
            while i < n or pending:
                while i < n and len(pending) < window:
                    a, b = i * PCM_FRAME, (i + 1) * PCM_FRAME
                    pcm = wire.encode_pcm(rep[a:b], cust[a:b])
                    pending.append(self.send("replay", pcm=pcm))
                    i += 1
                r = self.wait(pending.popleft(), "replay")
                out["frames"].append(r["frm"])
                if r["rec"] is not None:
                    out["records"].append(r["rec"])
                if r["evt"] is not None:
                    out["events"].append(r["evt"])
                if progress is not None:
                    progress(len(out["frames"]), n)
        except BaseException:
            # leave the device out of replay mode if it still answers; the first error wins
            try:
                for rid in pending:
                    self.wait(rid, "replay", timeout=1.0)
                self.request("replay_end", timeout=1.0)
            except DeviceError:
                pass
            raise
        end = self.request("replay_end")
        if end["evt"] is not None:
            out["events"].append(end["evt"])
        return out

    def reboot(self, mode="normal"):
        return self.request("reboot", mode=mode)
