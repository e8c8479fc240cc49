"""A protocol-only fake dongle for the host client's tests: firmware.link on stdin/stdout.

    micropython protocol_device.py REPO [corrupt=OFFSET] [drop=OFFSET] [tick_ms=N]

Answers every command of the table with in-memory state: four sessions (1: 5000
pseudo-random bytes, 2: one byte, 3: empty, 4: still recording), a config validated by
dsp.params.Params, a clock, a calibration stub, and replay through the real dsp engine.
corrupt=OFFSET flips one data byte of the first get_session reply at OFFSET (its crc32
stays that of the true bytes); drop=OFFSET leaves the first such reply unsent. While
streaming, a REC line goes out every tick_ms (default 20), a FRM line too in frames mode,
and an EVT talkover every third tick. `reboot` exits 1 s after its reply. Not the firmware's
app: that is firmware/app.py; this exercises the link and the host client alone.
"""

import sys

sys.path.insert(0, sys.argv[1])

import time  # noqa: E402

from dsp.engine import Engine  # noqa: E402
from dsp.params import NAMES, Params  # noqa: E402
from firmware import protocol  # noqa: E402
from firmware.link import Link, PollReader  # noqa: E402
from firmware.protocol import BUSY, MISMATCH, NOT_FOUND, ProtocolError  # noqa: E402


def session_bytes(n, seed):
    """n pseudo-random bytes (an LCG that the test repeats in CPython)."""
    out = bytearray(n)
    x = seed
    for i in range(n):
        x = (1103515245 * x + 12345) & 0x7FFFFFFF
        out[i] = (x >> 16) & 0xFF
    return bytes(out)


class Fake:
    def __init__(self, argv):
        self.opts = {}
        for a in argv:
            k, _, v = a.partition("=")
            self.opts[k] = int(v)
        self.store = {1: session_bytes(5000, 1), 2: session_bytes(1, 2), 3: b"",
                         4: session_bytes(300, 4)}
        self.open_session = 4
        self.overrides = {}
        self.cal_saved = None
        self.cal_result = {}
        self.time = None
        self.eng = None
        self.replayed = 0
        self.t_s = 0
        self.swallow = False
        self.start = time.ticks_ms()

    def free(self):
        return 100000 - sum(len(v) for v in self.store.values())

    def session(self, sid):
        if sid not in self.store:
            raise ProtocolError(NOT_FOUND, "no session %d; `sessions` lists them" % sid)
        return self.store[sid]

    def info(self, args):
        p = Params(**self.overrides)
        return {"device_id": "e6614103e7452d2f", "firmware": "fake-0.1", "log_format": 1,
                "calibration": self.cal_saved,
                "params": dict((n, getattr(p, n)) for n in NAMES),
                "free_bytes": self.free(), "total_bytes": 100000,
                "uptime_s": time.ticks_diff(time.ticks_ms(), self.start) // 1000,
                "overruns": 0, "time": self.time, "session": self.open_session}

    def sessions(self, args):
        return {"sessions": [{"id": k, "bytes": len(v), "open": k == self.open_session}
                             for k, v in sorted(self.store.items())]}

    def stat_session(self, args):
        data = self.session(args["id"])
        return {"id": args["id"], "bytes": len(data), "crc32": protocol.crc32(data),
                "open": args["id"] == self.open_session}

    def get_session(self, args):
        sid, off, n = args["id"], args["offset"], args["len"]
        data = self.session(sid)
        if sid == self.open_session:
            raise ProtocolError(BUSY, "session %d is still recording; pull it after the call"
                                % sid)
        if off > len(data):
            raise ValueError("offset: %d is past the end (%d bytes)" % (off, len(data)))
        chunk = data[off:off + n]
        reply = protocol.chunk_reply(sid, off, len(data), chunk)
        if self.opts.get("corrupt") == off and chunk:
            del self.opts["corrupt"]
            bad = bytearray(chunk)
            bad[0] ^= 0x55
            reply["data"] = protocol.b64encode(bad)
        if self.opts.get("drop") == off:
            del self.opts["drop"]
            self.swallow = True  # write() drops the reply line
        return reply

    def delete_session(self, args):
        data = self.session(args["id"])
        if args["id"] == self.open_session:
            raise ProtocolError(BUSY, "session %d is still recording" % args["id"])
        if protocol.crc32(data) != args["crc32"]:
            raise ProtocolError(MISMATCH, "crc32 %08x is not session %d's; pull it again"
                                % (args["crc32"], args["id"]))
        del self.store[args["id"]]
        return {"deleted": args["id"], "free_bytes": self.free()}

    def get_config(self, args):
        return {"version": 1, "params": dict(self.overrides), "calibration": self.cal_saved}

    def set_config(self, args):
        merged = dict(self.overrides)
        for k, v in args["params"].items():
            if v is None:
                merged.pop(k, None)
            else:
                merged[k] = v
        Params(**merged)  # ValueError("name: reason") -> BAD_ARGS
        self.overrides = merged
        return self.get_config(args)

    def set_time(self, args):
        self.time = args["time"]
        return {"time": self.time}

    def calibrate(self, args):
        self.cal_result = {"step": args["step"], "frames": args["seconds"] * 100,
                           "rep_level_db_q8": -5120}
        return {"step": args["step"], "frames": args["seconds"] * 100}

    def calibration(self, args):
        return {"running": False, "result": self.cal_result}

    def cal_save(self, args):
        if not self.cal_result:
            raise ProtocolError(BUSY, "no finished measurement; run calibrate first")
        self.cal_saved = self.cal_result
        return {"calibration": self.cal_saved}

    def replay_start(self, args):
        merged = dict(self.overrides)
        merged.update(args["params"] or {})
        self.eng = Engine(Params(**merged))
        self.replayed = 0
        return {"frame": 0}

    def replay(self, args):
        if self.eng is None:
            raise ProtocolError(BUSY, "not replaying: send replay_start first")
        rep, cust = args["pcm"]
        ready = self.eng.process(rep, cust)
        self.replayed += 1
        return protocol.replay_reply(self.eng, ready)

    def replay_end(self, args):
        if self.eng is None:
            raise ProtocolError(BUSY, "not replaying")
        self.eng.flush()
        out = {"frames": self.replayed, "evt": protocol.talkover_event(self.eng)}
        self.eng = None
        return out

    def set_key(self, args):
        return {"key_set": True, "key_id": "00000000"}

    def reboot(self, args):
        link.after = _reset
        return {"mode": args["mode"]}

    def tick(self):
        if link.stream == protocol.STREAM_OFF or self.eng is not None:
            return
        self.t_s += 1
        rec = [self.t_s, 800, 0, 0, 4, -1, 2100, -1, 0]
        link.send_record(rec, overruns=0, talkovers=1 if self.t_s % 3 == 0 else 0)
        link.send_frame([self.t_s * 100, -2400, -3000, 1, 0, 1, 0, 2100, 0, 0])
        if self.t_s % 3 == 0:
            link.send_event("talkover", {"start_f": 10, "end_f": 90, "interrupter": 1})


def _reset():
    # exiting closes the pty's master, which hangs up the host's side: a reply the host
    # has not read by then is lost (a hung-up tty reads as end of file), and a busy
    # machine may not have read it. So linger, as a board's USB sends its reply before
    # the board resets.
    time.sleep_ms(1000)
    sys.exit(0)


def write(data):
    if fake.swallow:
        fake.swallow = False
        return
    out.write(data)


fake = Fake(sys.argv[2:])
reader = PollReader(sys.stdin)
out = sys.stdout.buffer
link = Link(reader, write)


def main():
    for name in protocol.COMMAND_NAMES:
        if name in protocol.BUILTIN:
            continue
        link.handle(name, getattr(fake, name))
    link.send_event("boot", {"protocol": protocol.PROTOCOL_VERSION, "firmware": "fake-0.1"})
    tick_ms = fake.opts.get("tick_ms", 20)
    next_tick = time.ticks_add(time.ticks_ms(), tick_ms)
    while not reader.eof:
        if not link.poll():
            time.sleep_ms(1)
        if time.ticks_diff(time.ticks_ms(), next_tick) >= 0:
            next_tick = time.ticks_add(next_tick, tick_ms)
            fake.tick()


main()
