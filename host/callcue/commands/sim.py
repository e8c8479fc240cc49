"""`callcue sim`: the virtual dongle (the real firmware on the simulated board under
MicroPython's unix port).

- `--dongle DIR`: play one or more calls into a virtual dongle kept in the folder DIR
  (made on first use; its id, its flash and its clock live there), one after another,
  each a separate session with its own start on the dongle's clock, as fast as the host
  can; one line per call. Several folders, several dongles: a team. Then plug it in:
  `--port sim://DIR` anywhere (or `callcue sim --dongle DIR` for a pty) boots the
  firmware on that flash with no call playing; `callcue logs pull --port sim://DIR
  --archive ARCH --rep NAME` archives its calls, and it keeps what it is told (config,
  clock, key, deletions) in DIR.
- serve (default): a live call, the firmware's serial link on a pseudo-terminal whose
  path is printed (every `--port` also accepts `sim://CALL.wav` directly);
- `--records OUT.jsonl`: play the call through and write the per-second records the
  firmware logged (the contract's `seconds` fields), to compare with `callcue analyze`;
- `--pull ARCH`: play the call (LED drawn live with --led), then pull its sessions over
  the serial protocol into the archive ARCH (ARCH/callcue.sqlite, as `logs pull`) and
  summarise them: `callcue report --archive ARCH` reads it.

A paced call (--speed N) never loses audio because the host is busy: the virtual dongle
slows down instead, and says by how much.

`--repl` serves something else: a simulated board running stock MicroPython (its REPL, as
mpremote sees an RP2040; a LittleFS filesystem in RAM or in --storage IMAGE.lfs), for
`callcue flash --port PTY` and mpremote. Once flashed it boots the app from its image on
every reset, like a real board, and answers the callcue protocol on the same pty.
"""

import argparse
import datetime as dt
import json
import os
import shutil
import tempfile
import time
import urllib.parse
from pathlib import Path

from callcue.analysis import wavio
from callcue.errors import BAD_INPUT, CommandError, bad_input
from callcue.sim import dongle as simulator


def run(args):
    """Run calls through the virtual dongle: the real firmware under MicroPython's unix
    port on a simulated board. Plays calls into a dongle kept in a folder (--dongle DIR;
    then `--port sim://DIR` anywhere, like a real dongle plugged in), or serves a live
    call's serial link on a pseudo-terminal (or `--port sim://CALL.wav`), or writes the
    records it logged (--records), or pulls its sessions into an archive like a
    supervisor (--pull ARCH). With --repl, a bare simulated RP2040 running stock
    MicroPython instead, to flash (`callcue flash --port PTY`)."""
    if args.realtime and args.speed not in (None, 1):
        raise bad_input("--realtime", "is --speed 1: cannot go with --speed %d" % args.speed)
    args.speed = default_speed(args)
    why = simulator.speed_problem(args.speed)   # said before a dongle folder is made
    if why is not None:
        raise bad_input("--speed", why)
    if args.repl:
        extra = [name for name, on in (("CALL.wav", args.calls), ("--dongle", args.dongle),
                                       ("--records", args.records), ("--pull", args.pull),
                                       ("--id", args.id)) if on]
        if extra:
            raise bad_input("--repl", "serves a bare MicroPython board: %s cannot go with it"
                            % extra[0])
        return _repl(args)
    calls = args.calls
    why = _conflict(args)
    if why is not None:
        raise bad_input(*why)
    if args.id is not None and not args.dongle:
        # said now, not after the call has played (--pull would then refuse to archive it)
        why = simulator.id_problem(args.id)
        if why is not None:
            raise bad_input("--id", why)
    if args.storage and args.storage != "ram" and not os.path.exists(args.storage):
        why = _unmakeable(args.storage)
        if why is not None:
            raise bad_input(args.storage, why)
    try:
        if args.dongle:
            return _dongle(args)
        if args.records:
            return _records(args)
        if args.pull:
            return _pull(args)
        storage, kw = _storage(args.storage)
        dongle = simulator.VirtualDongle(calls[0], storage=storage, speed=args.speed,
                                         loop=args.loop, led=args.led, stay=True,
                                         device_id=args.id, **kw)
    except wavio.InputError as e:
        raise bad_input(e.path, e.reason) from None
    except simulator.SimError as e:
        raise bad_input(*_what_reason(e)) from None
    except CommandError as e:
        e.code = BAD_INPUT  # sim's every failure is its input's (exit 2), as always
        raise
    return _serve(dongle, "virtual dongle")


def _what_reason(e):
    """A SimError's "WHAT: reason" as its two parts."""
    what, sep, reason = str(e).partition(": ")
    return (what, reason) if sep else ("sim", str(e))


def _conflict(args):
    """(option, reason) when the options cannot go together, else None: nothing asked
    for is ever silently ignored."""
    calls = args.calls
    modes = [name for name, on in (("--records", args.records), ("--pull", args.pull))
             if on]
    if args.dongle:
        for name, on in (("--records", args.records), ("--pull", args.pull),
                         ("--storage", args.storage), ("--loop", args.loop)):
            if on:
                return name, ("cannot combine with --dongle (the dongle folder is the "
                              "storage; pull it with: callcue logs pull --port "
                              "sim://%s --archive ARCH)" % args.dongle)
        if not calls and (args.start or args.gap):
            return "--start" if args.start else "--gap", "give the calls to play (CALL.wav ...)"
        return None
    for name, on in (("--start", args.start), ("--gap", args.gap)):
        if on:
            return name, "only with --dongle DIR (the calls played into a dongle folder)"
    if not calls:
        return "sim", "give CALL.wav, or --dongle DIR (or --repl for a bare MicroPython board)"
    if len(calls) > 1:
        return "sim", ("several calls go into a dongle folder: add --dongle DIR (then "
                       "--port sim://DIR)")
    if len(modes) > 1:
        return modes[1], "cannot combine with %s" % modes[0]
    if args.records and args.storage:
        return "--storage", ("--records plays into a fresh flash and reads only that call; "
                             "to keep calls on a flash use --dongle DIR")
    if (args.records or args.pull) and args.loop:
        return "--loop", "%s plays the call once" % modes[0]
    if args.records and args.id:
        return "--id", "--records plays into a fresh flash that is not kept"
    return None


def _storage(spec):
    """(storage, VirtualDongle keywords) for --storage: a dongle folder means its flash,
    its id and its lock."""
    if spec and simulator.is_dongle(spec):
        d = simulator.Dongle.open(spec)
        return d.flash, {"device_id": d.device_id, "lock": d.lock()}
    if spec and spec.endswith(".lfs") and os.path.exists(spec) \
            and not simulator.is_littlefs(spec):
        raise simulator.SimError("%s: not a LittleFS image" % spec)
    return spec or "ram", {}


def _serve(dongle, what):
    import signal

    def stop(signum, frame):
        raise KeyboardInterrupt

    # terminated like Ctrl-C: close() still runs (a call on a lasting flash is finished,
    # the dongle folder's lock is let go)
    signal.signal(signal.SIGTERM, stop)
    try:
        dongle.serve_pty(lambda path: print("%s on %s (Ctrl-C stops it)" % (what, path),
                                            flush=True))
    except KeyboardInterrupt:
        pass
    finally:
        dongle.close()
    return 0


def _dongle(args):
    """Play the calls into the dongle folder, or, with none, plug it in on a pty."""
    start = _parse_start(args.start) if args.start else None
    gap = 120
    if args.gap:
        try:
            gap = simulator.parse_duration(args.gap)
        except ValueError as e:
            raise bad_input("--gap", str(e)) from None
    if not args.calls:
        if args.id:
            raise bad_input("--id", "names a new dongle: give the calls to play into it")
        folder = simulator.Dongle.open(args.dongle)
        return _serve(folder.plug_in(), "virtual dongle %s (%s), plugged in," % (
            folder.device_id, args.dongle))
    for wav in args.calls:           # every call readable before the folder is made
        wavio.read_call(wav)
    dongle = simulator.Dongle.open(args.dongle, create=True, device_id=args.id)
    t0 = time.monotonic()
    results = simulator.play_calls(dongle, args.calls, start=start, gap=gap,
                                   speed=args.speed, led=args.led,
                                   say=lambda line: print(line, flush=True))
    sessions = sum(len(r["sessions"]) for r in results)
    print("%s: %d call(s) played in %.1f s, %d session(s) on its flash, %d overruns; "
          "pull them with: callcue logs pull --port sim://%s --archive ARCH" % (
              dongle.device_id, len(results), time.monotonic() - t0, sessions,
              sum(r["overruns"] for r in results), args.dongle))
    return 0


def _parse_start(text):
    """Local time YYYY-MM-DDTHH:MM (or a space for the T; a date alone: 09:00) as unix
    seconds; CommandError otherwise."""
    t = text.strip()
    try:
        if len(t) == 10:
            when = dt.datetime.strptime(t, "%Y-%m-%d").replace(hour=9)
        else:
            when = dt.datetime.strptime(t.replace(" ", "T"), "%Y-%m-%dT%H:%M")
    except ValueError:
        raise CommandError("--start", "%r is not YYYY-MM-DDTHH:MM (local time)" % text,
                           code=2) from None
    if not 2020 <= when.year <= 2099:
        raise CommandError("--start", "%r is outside 2020-2099" % text, code=2)
    return int(when.timestamp())


def _repl(args):
    from callcue.sim import repl as replsim

    if args.storage and not (args.storage == "ram" or args.storage.endswith(".lfs")):
        raise bad_input("--storage", "the REPL board keeps a LittleFS image: give IMAGE.lfs")
    _check_repl_options(args)
    try:
        board = replsim.SimBoard(storage=args.storage or "ram", mpy=args.mpy,
                                 size_kb=args.size_kb, raw_paste=not args.no_raw_paste,
                                 micropython=not args.not_micropython,
                                 app_wdt_ms=args.app_wdt)
    except simulator.SimError as e:
        raise bad_input("sim", str(e)) from None
    try:
        board.serve_pty(lambda path: print("simulated MicroPython board on %s (Ctrl-C stops it)"
                                           % path, flush=True))
    except KeyboardInterrupt:
        return 0
    finally:
        board.close()
    if board.proc.returncode not in (0, None):
        # it stopped by itself (its traceback went to the pty): not a board to flash
        raise bad_input("sim", "the simulated board stopped (exit %d)"
                        % board.proc.returncode)
    return 0


REPL_SIZE_KB = (8, 4096)   # LittleFS needs 2 blocks; the board's heap holds 4 MB in RAM


def _check_repl_options(args):
    """The --repl board's options, checked here: the board itself would die at boot with
    its traceback on the pty, after the pty was announced."""
    lo, hi = REPL_SIZE_KB
    if args.size_kb is not None and not lo <= args.size_kb <= hi:
        raise bad_input("--size-kb", "%d is outside %d-%d" % (args.size_kb, lo, hi))
    if args.mpy is not None:
        major, dot, minor = args.mpy.partition(".")
        if not (dot and major.isdigit() and minor.isdigit() and int(major) <= 255
                and int(minor) <= 3):
            raise bad_input("--mpy", "%r is not MAJOR.MINOR (e.g. 6.3; MINOR 0-3)" % args.mpy)
    if args.app_wdt is not None and args.app_wdt < 1:
        raise bad_input("--app-wdt", "%d: give the watchdog's timeout in ms, 1 or more"
                        % args.app_wdt)
    if args.storage and args.storage != "ram":
        image = args.storage
        if not os.path.exists(image):
            why = _unmakeable(image)
        elif not (os.path.isfile(image) and os.access(image, os.R_OK | os.W_OK)):
            why = "cannot write it"
        else:
            why = None
        if why is not None:
            raise bad_input(image, why)


def _unmakeable(path):
    """Why the board could not make its flash (an image or a folder) at `path`, or None:
    checked before it starts, as the board would die making it and a port say only
    "Broken pipe"."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(folder) and os.access(folder, os.W_OK):
        return None
    return "cannot make it in %s" % folder


def _records(args):
    wavio.read_call(args.calls[0])   # a bad WAV: its one line, before anything is made
    target = Path(args.records)
    tmp = target.with_name(target.name + ".tmp")
    try:
        # a file it cannot write is said before the call is played, not after
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text("")
    except FileExistsError as e:   # mkdir met a file where a folder should be
        raise bad_input(args.records, "%s is not a folder" % e.filename) from None
    except OSError as e:
        raise bad_input(args.records, e.strerror or str(e)) from None
    try:
        lines = _play_records(args)
        tmp.write_text("".join(line + "\n" for line in lines))
        os.replace(tmp, target)
    except OSError as e:
        raise bad_input(args.records, e.strerror or str(e)) from None
    finally:
        tmp.unlink(missing_ok=True)
    print("%d per-second records logged by the firmware: %s" % (len(lines), target))
    return 0


def _play_records(args):
    """Play the call into a fresh flash; the per-second records it logged, as JSON lines."""
    storage = tempfile.mkdtemp(prefix="callcue-flash-")
    try:
        dongle = simulator.VirtualDongle(args.calls[0], storage=storage, speed=args.speed,
                                         led=args.led, link=False)
        out, err = dongle.proc.communicate(b"")
        dongle.close()
        if dongle.proc.returncode != 0:
            tail = (err or b"").decode(errors="replace").strip().splitlines()[-1:]
            raise bad_input("sim", "firmware stopped: %s" % (tail[0] if tail else "no output"))
        return [json.dumps(simulator.contract_second(rec))
                for _, recs in simulator.session_records(storage) for rec in recs]
    finally:
        shutil.rmtree(storage, ignore_errors=True)


def sim_url(wav, speed=1, storage=None, led=False, device_id=None):
    """The sim:// URL of a live call (paths quoted)."""
    q = {"speed": str(speed)}
    if storage:
        q["storage"] = str(storage)
    if device_id:
        q["id"] = device_id
    url = "sim://%s?%s" % (urllib.parse.quote(str(Path(wav).resolve())),
                           urllib.parse.urlencode(q))
    return url + "&led" if led else url


def _pull(args):
    """Play the call on a live virtual dongle, wait for it to end, then pull its sessions
    into the archive as `logs pull --delete` does, and summarise each."""
    from callcue.archive.pull import pull_all
    from callcue.archive.store import ArchiveError, open_for_cli
    from callcue.device.ports import connect
    from firmware.logformat import decode_log

    wav = args.calls[0]
    wavio.read_call(wav)          # a bad WAV: its one line, before anything is made
    url = sim_url(wav, args.speed, args.storage, args.led, args.id)
    with connect(url, timeout=10) as dev:
        info = dev.info()
        print("virtual dongle %s, firmware %s: playing %s%s" % (
            info["device_id"], info["firmware"], wav,
            " at %dx real time" % args.speed if args.speed else ""), flush=True)
        while not info["capture_done"]:
            time.sleep(0.2)
            info = dev.info()
        lag = (info.get("sim") or {}).get("lag_ms") or 0
        if lag >= 100:
            print("the host was too busy for --speed %d: the call took %.1f s longer (the "
                  "virtual dongle slowed down; no audio lost)" % (args.speed, lag / 1000),
                  flush=True)
        with open_for_cli(args.pull) as ar:
            stats = pull_all(dev, ar, delete=True, say=lambda line: print(line, flush=True))
            try:
                for s in stats["sessions"]:
                    print(_summary(*decode_log(ar.raw(s["pk"]))), flush=True)
            except ArchiveError as e:
                raise CommandError(ar.name, str(e)) from None
            name = ar.name
        dev.reboot()
    print("archived %d session(s) into %s: callcue report --archive %s --out report.html" % (
        stats["pulled"], name, args.pull))
    return 0


def _summary(header, recs, events):
    """A pulled session as indented lines: when it started and how much was logged, then
    the one call summary (callcue.analysis.summary) of its records and talk-overs."""
    from callcue.analysis.summary import call_metrics, summary_lines

    n = len(recs)
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(header["start_time"]))
    lines = ["started %s, %d s logged, overruns %d" % (
        started, n, recs[-1]["overruns"] if n else 0)]
    lines += summary_lines(call_metrics(recs, events))
    return "\n".join("  " + line for line in lines)


def add_args(p):
    import inspect

    if p.description:
        p.description = inspect.cleandoc(p.description)
    p.usage = ("callcue sim CALL.wav [CALL.wav ...] --dongle DIR [--id ID] [--start T] "
               "[--gap G]\n       callcue sim --dongle DIR\n"
               "       callcue sim CALL.wav [--speed N] [--led] [--storage S] "
               "[--records OUT.jsonl | --pull ARCH]\n"
               "       callcue sim --repl [--storage IMAGE.lfs] ...")
    p.epilog = ("examples:\n"
                "  a team of virtual dongles, pulled like real ones:\n"
                "    callcue sim a1.wav a2.wav --dongle d1 --id cc-0001 "
                "--start 2026-11-02T09:00 --gap 1d\n"
                "    callcue logs pull --port sim://d1 --archive arch --rep 'Ana Silva' "
                "--team north\n"
                "  a live call:  callcue sim call.wav --led            "
                "(or --port sim://call.wav)\n"
                "  play, pull, summarise:  callcue sim call.wav --led --pull arch\n"
                "  a bare board:  callcue sim --repl --storage board.lfs   "
                "(then: callcue flash --port PTY)")
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("calls", nargs="*", metavar="CALL.wav",
                   help="the call(s) to play (stereo WAV, as analyze); several with --dongle")
    d = p.add_argument_group("a virtual dongle kept in a folder (a team: one folder each)")
    d.add_argument("--dongle", metavar="DIR",
                   help="play the calls into the dongle whose flash lives in DIR (made on "
                   "first use), one after another, each its own session, as fast as the "
                   "host can; one line per call. Without calls: plug it in on a pty. "
                   "Anywhere else: --port sim://DIR")
    d.add_argument("--id", metavar="ID",
                   help="the id of a new dongle (default: cc-sim-XXXXXX, random; kept in "
                   "DIR; 1-16 of A-Z a-z 0-9 . _ -)")
    d.add_argument("--start", metavar="YYYY-MM-DDTHH:MM",
                   help="when the first call starts, local time (a date alone: 09:00); "
                   "default: the calls end about now, after the dongle's last one")
    d.add_argument("--gap", metavar="DURATION",
                   help="between one call's end and the next one's start: 90s, 5m, 2h, "
                   "1d (default 2m; 1d spreads the calls over days)")
    p.add_argument("--speed", type=int, default=None, metavar="N",
                   help="pace the capture at N times real time (0: as fast as possible; "
                   "default: 1 when serving, 10 with --pull, else 0). A host too busy for "
                   "the pace slows the call down (and says so) instead of losing audio")
    p.add_argument("--realtime", action="store_true", help="same as --speed 1")
    p.add_argument("--storage", metavar="DIR|IMAGE.lfs",
                   help="where the firmware keeps logs and config (default: LittleFS in "
                   "RAM); a dongle folder means its flash")
    p.add_argument("--loop", action="store_true", help="play the call again and again")
    p.add_argument("--led", action="store_true", help="draw the cue LED in the terminal")
    p.add_argument("--records", metavar="OUT.jsonl",
                   help="play the call through and write the records the firmware logged")
    p.add_argument("--pull", metavar="ARCH",
                   help="play the call, then pull its sessions into the archive ARCH "
                   "(ARCH/callcue.sqlite, as logs pull) and summarise them")
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
                   help="the watchdog the flashed app arms resets the board MS ms after its "
                   "last feed (default: the app's own 4000 ms)")
    g.add_argument("--not-micropython", action="store_true",
                   help="answer like something that is not MicroPython (to test errors)")


def default_speed(args):
    if args.realtime:
        return 1
    if args.speed is not None:
        return args.speed
    if args.dongle or args.records:
        return 0
    return 10 if args.pull else 1
