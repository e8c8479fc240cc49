"""`callcue stream`: a live dashboard of the dongle's per-second records (rich), optionally
recorded to CSV / JSON lines in the columns and units of `callcue logs export`
(callcue.device.human): one row per second and one per talk-over, each second stamped with this
host's local time when it began (it arrives as it ends).

The device sends one `REC` line per second and an `EVT talkover` line per finished
talk-over (with its interrupter) while streaming. If the port goes away (unplug, reset)
the dashboard says so and reopens it every second until the device is back; Ctrl-C stops
streaming and exits cleanly (exit 0). On a non-terminal it prints one line per second.
"""

import argparse
import contextlib
import os
import time

from callcue.device import human
from callcue.device.ports import open_device
from callcue.errors import CommandError, bad_input

QUIET_S = 3.0      # no stream line for this long: check the device still answers


def add_args(p):
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = ("examples: callcue stream --port /dev/ttyACM0\n"
                "          callcue stream --port /dev/ttyACM0 --jsonl call.jsonl --seconds 600")
    p.add_argument("--port", required=True, metavar="P",
                   help="serial port or URL of the dongle (see `callcue devices`)")
    p.add_argument("--csv", metavar="FILE", help="also write every second and talk-over "
                   "to a CSV file (the columns of `callcue logs export`)")
    p.add_argument("--jsonl", metavar="FILE", help="the same rows as JSON lines")
    p.add_argument("--seconds", type=int, metavar="N", help="stop after N records")
    p.add_argument("--give-up", type=float, default=None, metavar="S",
                   help="when the device is gone, stop after S seconds (default: wait on)")


class Tally:
    def __init__(self):
        self.records = 0
        self.talkovers = {"rep": 0, "customer": 0}
        self.last = None
        self.status = ""

    def add_event(self, evt):
        if evt.get("ev") == "talkover":
            who = ("rep", "customer")[evt.get("interrupter", 0) == 1]
            self.talkovers[who] += 1

    def line(self):
        r = self.last
        if r is None:
            return "waiting for records... " + self.status
        rate, sd = _num(human.rate_syl_s(r.get("rate_csps"))), \
            _num(human.semitones(r.get("pitch_sd_cents")))
        return ("t=%5ds rep %4dms cust %4dms overlap %4dms | talk-overs rep %d cust %d | "
                "rate %s syl/s | pitch SD %s st | cue %-8s | overruns %d" % (
                    r["t_s"], r["rep_active_ms"], r["customer_active_ms"], r["overlap_ms"],
                    self.talkovers["rep"], self.talkovers["customer"], rate, sd,
                    human.cue_name(r.get("cue")), r.get("overruns", 0)))

    def table(self, port):
        from rich.table import Table

        t = Table(title=f"callcue stream: {port}", show_header=False, min_width=60)
        r = self.last or {}

        def bar(ms):
            n = int(ms or 0) // 50
            return "#" * n + "." * (20 - n)

        t.add_row("rep activity", bar(r.get("rep_active_ms")))
        t.add_row("customer activity", bar(r.get("customer_active_ms")))
        t.add_row("overlap ms", str(r.get("overlap_ms", "-")))
        t.add_row("talk-overs", "rep %d, customer %d" % (
            self.talkovers["rep"], self.talkovers["customer"]))
        rate = human.rate_syl_s(r.get("rate_csps"))
        sd = human.semitones(r.get("pitch_sd_cents"))
        hz = human.pitch_hz(r.get("pitch_cents"))
        t.add_row("speaking rate", "%.2f syl/s" % rate if rate is not None else "-")
        t.add_row("pitch", "%.0f Hz" % hz if hz is not None else "-")
        t.add_row("pitch SD", "%.2f st" % sd if sd is not None else "-")
        cue = human.cue_name(r.get("cue", 0)) or "none"
        t.add_row("cue", "[bold red]%s[/]" % cue if cue != "none" else "none")
        t.add_row("overruns", str(r.get("overruns", 0)))
        t.add_row("records", "%d (t=%s s)" % (self.records, r.get("t_s", "-")))
        if self.status:
            t.add_row("status", "[yellow]%s[/]" % self.status)
        return t


def _num(x):
    return "-" if x is None else "%.2f" % x


class Sinks:
    """The --csv and --jsonl files: rows of callcue.device.human.NAMES, flushed as they come."""

    def __init__(self, csv_path, jsonl_path):
        self.files, self.writers, self.made = [], [], []
        try:
            for path, fmt in ((csv_path, "csv"), (jsonl_path, "jsonl")):
                if path:
                    new = not os.path.exists(path)
                    f = open(path, "w", newline="")  # noqa: SIM115 - closed by close()
                    if new:
                        self.made.append(path)
                    self.files.append(f)
                    self.writers.append(human.RowWriter(f, fmt))
        except OSError as e:
            self.discard()
            raise CommandError(e.filename or csv_path or jsonl_path, e.strerror or str(e),
                               code=2) from None

    def write(self, row):
        for w in self.writers:
            w.write(row)
        for f in self.files:
            f.flush()

    def close(self):
        for f in self.files:
            f.close()

    def discard(self):
        """Close, and remove the files this made: nothing was recorded into them."""
        self.close()
        for path in self.made:
            with contextlib.suppress(OSError):
                os.unlink(path)


def _session(port, tally, sinks, show, limit, opened):
    """Stream from one connection until `limit` records, or raise on a lost device."""
    import serial

    from callcue.device.client import DeviceError

    dev = open_device(port, timeout=2.0)
    opened()
    try:
        device_id = dev.info().get("device_id")
        ctx = {"device": device_id if isinstance(device_id, str) else None}
        clock = None    # (t_s, host time that second began): places talk-overs in time
        dev.stream("on")
        while True:
            got = False
            for kind, payload in dev.stream_lines(timeout=QUIET_S):
                got = True
                if kind == "EVT":
                    tally.add_event(payload)
                    if payload.get("ev") == "talkover":
                        start_f = payload.get("start_f")
                        when = None if clock is None or not isinstance(start_f, int) \
                            else clock[1] + start_f // 100 - clock[0]
                        sinks.write(human.talkover_row(payload, when, **ctx))
                elif kind == "REC":
                    tally.records += 1
                    tally.last = payload
                    # the record arrives as its second ends
                    began = int(time.time()) - 1
                    if isinstance(payload.get("t_s"), int):
                        clock = (payload["t_s"], began)
                    sinks.write(human.second_row(payload, began, **ctx))
                    show()
                    if limit is not None and tally.records >= limit:
                        with contextlib.suppress(Exception):
                            dev.stream("off")
                        return
            if not got:
                dev.ping()  # silent for QUIET_S: DeviceError if it is gone
    except (serial.SerialException, OSError, DeviceError) as e:
        raise ConnectionError(str(e)) from None
    finally:
        with contextlib.suppress(Exception):
            dev.stream("off")
        with contextlib.suppress(Exception):
            dev.close()


def run(args):
    """A live dashboard of the dongle's per-second records; --csv/--jsonl record them. Reconnects
    after unplug/replug; Ctrl-C exits."""
    from rich.console import Console
    from rich.live import Live

    if args.seconds is not None and args.seconds < 1:
        raise bad_input("--seconds", "%d: give 1 or more records" % args.seconds)
    if args.give_up is not None and args.give_up < 0:
        raise bad_input("--give-up", "%g is below 0 seconds" % args.give_up)
    console = Console()
    sinks = Sinks(args.csv, args.jsonl)
    tally = Tally()
    live = None
    if console.is_terminal:
        live = Live(tally.table(args.port), console=console, refresh_per_second=4)
        live.start()

    def say(msg):
        tally.status = msg
        if live is not None:
            live.update(tally.table(args.port))
        else:
            print(msg, flush=True)

    def show():
        tally.status = ""
        if live is not None:
            live.update(tally.table(args.port))
        else:
            print(tally.line(), flush=True)

    state = {"lost_at": None, "opened": False}

    def opened():
        state["opened"] = True
        if state["lost_at"] is not None:
            say(f"{args.port}: reconnected")
            state["lost_at"] = None

    try:
        while True:
            try:
                _session(args.port, tally, sinks, show, args.seconds, opened)
                return 0
            except CommandError as e:
                if state["lost_at"] is None:
                    raise  # never connected: say why and stop
                reason = e.reason
            except ConnectionError as e:
                reason = str(e)
                state["lost_at"] = state["lost_at"] or time.monotonic()
                say(f"{args.port}: connection lost ({reason}); waiting for the device to "
                    "come back (Ctrl-C stops)")
            gone = time.monotonic() - state["lost_at"]
            if args.give_up is not None and gone > args.give_up:
                raise CommandError(args.port, f"gone for {gone:.0f} s ({reason}); plug it back "
                                   "in and run the command again")
            time.sleep(1.0)
    except KeyboardInterrupt:
        return 0
    finally:
        if live is not None:
            live.stop()
        if not state["opened"]:
            sinks.discard()    # the device never answered: no empty files left behind
        else:
            sinks.close()
        if state["opened"] and (args.csv or args.jsonl):
            print("recorded %d records to %s" % (
                tally.records, " and ".join(p for p in (args.csv, args.jsonl) if p)))
