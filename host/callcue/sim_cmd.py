"""`callcue sim`: run a call through the virtual dongle (the real firmware on the simulated
board under MicroPython's unix port).

Three ways to use it:
- serve (default): the firmware's serial link on a pseudo-terminal whose path is printed;
  every `--port` also accepts `sim://CALL.wav` directly;
- `--records OUT.jsonl`: play the call through and write the per-second records the
  firmware logged (the contract's `seconds` fields), to compare with `callcue analyze`;
- `--pull DIR`: play the call (LED drawn live with --led), then pull its session logs
  over the serial protocol like a supervisor would, and summarise them.

`--repl` serves something else: a simulated board running stock MicroPython (its REPL, as
mpremote sees an RP2040; a LittleFS filesystem in RAM or in --storage IMAGE.lfs), with
nothing of callcue on it yet, for `callcue flash --port PTY` and mpremote.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from callcue import simulator, wavio
from callcue.dsp.cues import CUE_NAMES


def run(args, fail):
    if args.repl:
        return _repl(args, fail)
    if args.call is None:
        return fail("sim", "give CALL.wav (or --repl for a bare MicroPython board)")
    wav = args.call
    try:
        if args.records:
            return _records(args, fail)
        if args.pull:
            return _pull(args, fail)
        dongle = simulator.VirtualDongle(wav, storage=args.storage or "ram", speed=args.speed,
                                         loop=args.loop, led=args.led, stay=True)
    except wavio.InputError as e:
        return fail(e.path, e.reason)
    except simulator.SimError as e:
        return fail("sim", str(e))
    try:
        dongle.serve_pty(lambda path: print("virtual dongle on %s (Ctrl-C stops it)" % path,
                                            flush=True))
    except KeyboardInterrupt:
        pass
    finally:
        dongle.close()
    return 0


def _repl(args, fail):
    from callcue import replsim

    if args.storage and not (args.storage == "ram" or args.storage.endswith(".lfs")):
        return fail("--storage", "the REPL board keeps a LittleFS image: give IMAGE.lfs")
    try:
        board = replsim.SimBoard(storage=args.storage or "ram", mpy=args.mpy,
                                 size_kb=args.size_kb, raw_paste=not args.no_raw_paste,
                                 micropython=not args.not_micropython,
                                 app_wdt_ms=args.app_wdt)
    except simulator.SimError as e:
        return fail("sim", str(e))
    try:
        board.serve_pty(lambda path: print("simulated MicroPython board on %s (Ctrl-C stops it)"
                                           % path, flush=True))
    except KeyboardInterrupt:
        pass
    finally:
        board.close()
    return 0


def _records(args, fail):
    storage = tempfile.mkdtemp(prefix="callcue-flash-")
    try:
        dongle = simulator.VirtualDongle(args.call, storage=storage, speed=args.speed,
                                         led=args.led, link=False)
        out, err = dongle.proc.communicate(b"")
        if dongle.proc.returncode != 0:
            return fail("sim", "firmware stopped: %s" % (err or b"").decode(errors="replace")
                        .strip().splitlines()[-1:])
        dongle.close()
        lines = [json.dumps(simulator.contract_second(rec))
                 for _, recs in simulator.session_records(storage) for rec in recs]
    finally:
        shutil.rmtree(storage, ignore_errors=True)
    target = Path(args.records)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text("".join(line + "\n" for line in lines))
    os.replace(tmp, target)
    print("%d per-second records logged by the firmware: %s" % (len(lines), target))
    return 0


def _pull(args, fail):
    from callcue.archive import id_problem
    from callcue.device import Device
    from callcue.firmware.protocol import crc32
    from callcue.firmware.sessionlog import decode_session

    url = "sim://%s?speed=%d%s" % (Path(args.call).resolve(), args.speed,
                                  "&led" if args.led else "")
    out_dir = Path(args.pull)
    out_dir.mkdir(parents=True, exist_ok=True)
    with Device.open(url) as dev:
        info = dev.info()
        why = id_problem(info["device_id"])   # it names the files written below
        if why is not None:
            return fail(url, why)
        print("virtual dongle %s, firmware %s: playing %s" % (
            info["device_id"], info["firmware"], args.call), flush=True)
        while not dev.info()["capture_done"]:
            time.sleep(0.2)
        for s in dev.sessions():
            data = dev.pull_session(s["id"])
            path = out_dir / ("%s-s%06d.log" % (info["device_id"], s["id"]))
            path.write_bytes(data)
            header, recs = decode_session(data)
            dev.delete_session(s["id"], crc32(data))
            print("pulled session %d: %d bytes, %d records -> %s" % (
                s["id"], len(data), len(recs), path), flush=True)
            print(_summary(header, recs), flush=True)
        dev.reboot()
    return 0


def _summary(header, recs):
    n = len(recs)
    rep = sum(r["rep_active_ms"] for r in recs) / 1000
    cust = sum(r["customer_active_ms"] for r in recs) / 1000
    overlap = sum(r["overlap_ms"] for r in recs) / 1000
    talkovers = sum(r["talkovers"] for r in recs)
    cue_s = {}
    for r in recs:
        if r["cue"]:
            name = CUE_NAMES[r["cue"]]
            cue_s[name] = cue_s.get(name, 0) + 1
    rates = [r["rate_csps"] / 100 for r in recs if r["rate_csps"] >= 0]
    sds = [r["pitch_sd_cents"] / 100 for r in recs if r["pitch_sd_cents"] >= 0]
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(header["start_time"]))
    lines = [
        "  started %s, %d s logged, overruns %d" % (started, n, recs[-1]["overruns"] if n else 0),
        "  talk     rep %.1f s, customer %.1f s, overlap %.1f s" % (rep, cust, overlap),
        "  talk-overs %d; last rate %s syl/s; last pitch SD %s st" % (
            talkovers, "%.2f" % rates[-1] if rates else "-", "%.2f" % sds[-1] if sds else "-"),
        "  cue seconds " + (", ".join("%s %d" % kv for kv in cue_s.items()) or "none"),
    ]
    return "\n".join(lines)


def add_args(p):
    p.epilog = ("examples: callcue sim call.wav --led\n"
                "          callcue sim --repl --storage board.lfs   "
                "(then: callcue flash --port PTY)")
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("call", nargs="?", metavar="CALL.wav",
                   help="the call to play (stereo WAV, as analyze)")
    p.add_argument("--speed", type=int, default=None, metavar="N",
                   help="pace the capture at N times real time (0: as fast as possible; "
                   "default: 1 when serving, 0 with --records, 10 with --pull)")
    p.add_argument("--realtime", action="store_true", help="same as --speed 1")
    p.add_argument("--storage", metavar="DIR|IMAGE.lfs",
                   help="where the firmware keeps logs and config (default: LittleFS in RAM)")
    p.add_argument("--loop", action="store_true", help="play the call again and again")
    p.add_argument("--led", action="store_true", help="draw the cue LED in the terminal")
    p.add_argument("--records", metavar="OUT.jsonl",
                   help="play the call through and write the records the firmware logged")
    p.add_argument("--pull", metavar="DIR",
                   help="play the call, then pull its session logs into DIR and summarise")
    g = p.add_argument_group("a bare MicroPython board instead (--repl), for callcue flash")
    g.add_argument("--repl", action="store_true",
                   help="serve a simulated RP2040 running stock MicroPython (its REPL, as "
                   "mpremote sees it) on a pty; --storage IMAGE.lfs keeps its filesystem")
    g.add_argument("--mpy", metavar="MAJOR.MINOR",
                   help="the .mpy version the board reports (default: this MicroPython's)")
    g.add_argument("--size-kb", type=int, metavar="KB",
                   help="size of a new filesystem (default 1408, as the Pico's)")
    g.add_argument("--no-raw-paste", action="store_true",
                   help="refuse raw-paste mode (as older MicroPython releases do)")
    g.add_argument("--app-wdt", type=int, metavar="MS",
                   help="a /main.py at boot stands for the callcue app: it arms the watchdog, "
                   "which resets the board MS ms after the app is stopped (Ctrl-C)")
    g.add_argument("--not-micropython", action="store_true",
                   help="answer like something that is not MicroPython (to test errors)")


def default_speed(args):
    if args.realtime:
        return 1
    if args.speed is not None:
        return args.speed
    return 0 if args.records else 10 if args.pull else 1


def main_for_tests(argv):  # pragma: no cover - convenience
    from callcue.cli import main
    return main(["sim", *argv])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main_for_tests(sys.argv[1:]))
