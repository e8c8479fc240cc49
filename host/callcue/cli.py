"""The `callcue` command: one table of subcommands, one module per job.

Each subcommand has an argument builder and a `do_<name>(args)` handler that returns the
exit code. Handlers import their job module when they run, so `callcue --help` stays fast
and one subcommand's missing piece does not break the others. Bad input is reported as
exactly one line, `callcue: error: <file>: <reason>`, with exit code 2.
"""

import argparse
import json
import os
import sys
import tempfile

from callcue import __version__

EXIT_OK = 0
EXIT_BAD_INPUT = 2


def fail(what, reason):
    """Print the one-line error for `what` (a file, or an option) and return exit code 2."""
    print(f"callcue: error: {what}: {reason}", file=sys.stderr)
    return EXIT_BAD_INPUT


def params_from_args(items):
    """Engine Params from --param NAME=VALUE items, or the one-line reason they are bad."""
    from callcue.analysis import analyze

    pairs = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            return f"{item!r} is not NAME=VALUE"
        pairs.append((name.strip(), value.strip()))
    try:
        return analyze.make_params(pairs)
    except ValueError as e:
        return str(e)


# ---------------------------------------------------------------------------- synth


SYNTH_SEED = 1


def args_synth(p):
    # synth.MIN_DURATION_S, MAX_DURATION_S and MAX_SAMPLES, written out: importing synth
    # (numpy, scipy) would slow every callcue command (tests/test_synth.py checks them)
    MIN_DURATION_S, MAX_DURATION_S, MAX_SAMPLES = 20, 3600, 57_600_000
    p.epilog = ("example: callcue synth call.wav --scenario rep-interrupts\n"
                "         callcue synth cal.wav --scenario calibration && "
                "callcue calibrate --port sim://cal.wav --yes")
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("out", nargs="?", metavar="OUT.wav", help="stereo WAV to write")
    p.add_argument("--scenario", metavar="NAME", help="scenario to render (see --list)")
    p.add_argument("--seed", type=int, default=SYNTH_SEED, metavar="N",
                   help=f"random seed: same seed, same file (default {SYNTH_SEED})")
    p.add_argument("--duration", type=float, metavar="S",
                   help=f"length in seconds, {MIN_DURATION_S:g}-{MAX_DURATION_S:g} "
                   f"(default 60; at most {MAX_SAMPLES:,} samples: above 16 kHz, less)")
    p.add_argument("--rate", type=int, metavar="HZ",
                   help="sample rate of the WAV, 8000-96000 (default 8000)")
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")


def do_synth(args):
    """Write a synthetic call (stereo WAV) and its ground truth (JSON) next to it."""
    from callcue.analysis import synth

    scenarios = _scenario_table(synth.SCENARIOS)
    if args.list:
        width = max(len(name) for name, _ in scenarios)
        for name, description in scenarios:
            print(f"{name:<{width}}  {description}")
        return EXIT_OK
    if args.out is None or args.scenario is None:
        return fail("synth", "give OUT.wav --scenario NAME [--seed N] (or --list)")
    names = [name for name, _ in scenarios]
    if args.scenario not in names:
        return fail(
            "--scenario", f"unknown scenario {args.scenario!r}; one of: {', '.join(names)}"
        )
    kw = {}
    if args.duration is not None:
        kw["duration_s"] = args.duration
    if args.rate is not None:
        kw["rate_hz"] = args.rate
    try:
        truth = synth.write(args.out, args.scenario, args.seed, **kw)
    except ValueError as e:
        return fail(args.out, str(e))
    except OSError as e:
        return fail(args.out, e.strerror or str(e))
    print(f"wrote {args.out}")
    print(f"wrote {truth}")
    return EXIT_OK


def _scenario_table(scenarios):
    """SCENARIOS as (name, description) pairs, whether a dict or a sequence of pairs."""
    items = scenarios.items() if hasattr(scenarios, "items") else scenarios
    return [(str(name), str(desc)) for name, desc in items]


# -------------------------------------------------------------------------- analyze


def args_analyze(p):
    p.add_argument(
        "call",
        nargs="?",
        metavar="CALL.wav",
        help="stereo WAV: channel 0 = rep (headset mic), channel 1 = customer (earpiece)",
    )
    p.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="OUT",
        help="the analysis JSON (schema callcue.analysis/1): alone (or '-'), on stdout "
        "instead of the summary; with OUT, written to OUT after the summary",
    )
    p.add_argument("--rep", metavar="A.wav", help="the rep's channel as a mono WAV")
    p.add_argument("--customer", metavar="B.wav", help="the customer's channel as a mono WAV")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override one engine parameter (integer); may be repeated",
    )


def do_analyze(args):
    """Run the DSP engine over a call; print a summary and/or write the analysis JSON."""
    if args.json is not None and args.json.lower().endswith((".wav", ".wave")):
        # `analyze --json CALL.wav`: argparse gave the call to --json; never write over it
        if args.call is not None or args.rep is not None:
            return fail("--json", f"{args.json} is a WAV, not where to write the JSON; "
                        "give --json OUT.json, or --json alone for stdout")
        args.call, args.json = args.json, "-"
    if args.call is not None and args.rep is not None:
        return fail("analyze", "give either CALL.wav or --rep A.wav --customer B.wav, not both")
    rep_path = args.call if args.call is not None else args.rep
    if rep_path is None:
        return fail("analyze", "give CALL.wav, or --rep A.wav --customer B.wav")

    from callcue.analysis import analyze, wavio

    params = params_from_args(args.param)
    if isinstance(params, str):
        return fail("--param", params)

    try:
        rep, cust, _info = wavio.read_call(rep_path, args.customer)
    except wavio.InputError as e:
        return fail(e.path, e.reason)

    doc = analyze.analyze_pcm(rep, cust, params)

    if args.json == "-":
        json.dump(doc, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return EXIT_OK
    if args.json is not None:
        try:
            write_json_atomic(args.json, doc)
        except OSError as e:
            return fail(args.json, e.strerror or str(e))
    name = os.path.basename(rep_path) + (
        f" + {os.path.basename(args.customer)}" if args.customer else ""
    )
    for line in analyze.summary(doc, name):
        print(line)
    if args.json is not None:
        print(f"analysis JSON: {args.json}")
    return EXIT_OK


def write_json_atomic(path, doc):
    """Write `doc` as JSON to `path` all at once: temp file in the same folder, then rename.

    A reader never sees a half-written file, and a failure leaves no file behind.
    """
    text = json.dumps(doc, indent=1) + "\n"
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp"
    )
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# ---------------------------------------------------------------------------- params


def args_params(p):
    p.add_argument("--json", action="store_true", help="print the table as JSON")


def do_params(args):
    """List every engine parameter: name, default, allowed range and meaning. Any of them
    can be given to `analyze --param NAME=VALUE` (and, later, set on the dongle)."""
    from dsp.params import TABLE

    if args.json:
        rows = [{"name": n, "default": d, "min": lo, "max": hi, "meaning": m}
                for n, d, lo, hi, m in TABLE]
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    width = max(len(row[0]) for row in TABLE)
    for name, default, lo, hi, meaning in TABLE:
        print(f"{name:<{width}}  {default:>6}  {lo:>6}..{hi:<6}  {meaning}")
    return EXIT_OK


# ---------------------------------------------------------------------------- verify


def args_verify(p):
    p.add_argument(
        "calls",
        nargs="*",
        metavar="CALL.wav",
        help="stereo WAV(s): channel 0 = rep (headset mic), channel 1 = customer (earpiece)",
    )
    p.add_argument("--rep", metavar="A.wav", help="the rep's channel as a mono WAV (with "
                   "--customer), as in `analyze`")
    p.add_argument("--customer", metavar="B.wav",
                   help="the customer's channel as a mono WAV; CALL.wav (or --rep) is then "
                   "the rep's")
    p.add_argument("--json", action="store_true",
                   help="print the figures as JSON (schema callcue.verify/1) instead: one "
                   "object, or {schema, calls: [...]} for several calls")
    p.add_argument("--plot", metavar="OUT.png",
                   help="draw waveform, voice activity, pitch and cues, fixed vs float; with "
                   "several calls, OUT-<call>.png each")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="override one engine parameter (integer) in both; may be repeated")


def do_verify(args):
    """Run the fixed-point engine and the float reference (numpy/scipy) on the same call and
    compare them stage by stage: filter SNR and max error in LSB, frame level, voice
    activity, talk-over events, dead air, pitch, syllables, rolling rate and pitch SD,
    cues. Each figure has a documented tolerance (callcue/analysis/verify.py); the exit code is 1
    when any is exceeded, 2 for input that cannot be read."""
    if args.rep is not None:
        if args.calls:
            return fail("verify", "give either CALL.wav or --rep A.wav --customer B.wav, "
                        "not both")
        args.calls = [args.rep]
    if not args.calls:
        return fail("verify", "give one or more CALL.wav, or --rep A.wav --customer B.wav")
    if args.customer is not None and len(args.calls) > 1:
        return fail("--customer", "goes with one call: the rep's mono WAV and the "
                    "customer's")

    from callcue.analysis import verify, wavio

    params = params_from_args(args.param)
    if isinstance(params, str):
        return fail("--param", params)

    calls = []
    for path in args.calls:
        try:
            rep, cust, _info = wavio.read_call(path, args.customer)
        except wavio.InputError as e:
            return fail(e.path, e.reason)
        calls.append((path, rep, cust))

    docs = []
    all_ok = True
    for k, (path, rep, cust) in enumerate(calls):
        name = os.path.basename(path) + (
            f" + {os.path.basename(args.customer)}" if args.customer else "")
        seconds = max(rep.size, cust.size) / wavio.DSP_RATE_HZ
        result = verify.verify_pcm(rep, cust, params)
        all_ok &= result.ok
        if args.plot:
            out = args.plot
            if len(calls) > 1:
                stem, ext = os.path.splitext(args.plot)
                out = f"{stem}-{os.path.splitext(name)[0]}{ext or '.png'}"
            try:
                verify.plot(result, rep, cust, out, name)
            except OSError as e:
                return fail(out, e.strerror or str(e))
            except ValueError as e:  # e.g. an image format matplotlib does not write
                return fail(out, str(e))
        if args.json:
            docs.append(verify.as_dict(result, path, seconds))
            continue
        if k:
            print()
        for line in verify.table(result, name, seconds):
            print(line)
        if args.plot:
            print(f"plot: {out}")
    if args.json:
        json.dump(docs[0] if len(docs) == 1 else {"schema": verify.SCHEMA, "calls": docs},
                  sys.stdout, indent=1)
        sys.stdout.write("\n")
    return EXIT_OK if all_ok else verify.EXIT_OUT_OF_TOLERANCE


# ---------------------------------------------------------------------------- sim


def args_sim(p):
    from callcue.commands import sim as sim_cmd

    sim_cmd.add_args(p)


def do_sim(args):
    """Run calls through the virtual dongle: the real firmware under MicroPython's unix
    port on a simulated board. Plays calls into a dongle kept in a folder (--dongle DIR;
    then `--port sim://DIR` anywhere, like a real dongle plugged in), or serves a live
    call's serial link on a pseudo-terminal (or `--port sim://CALL.wav`), or writes the
    records it logged (--records), or pulls its sessions into an archive like a
    supervisor (--pull ARCH). With --repl, a bare simulated RP2040 running stock
    MicroPython instead, to flash (`callcue flash --port PTY`)."""
    from callcue.commands import sim as sim_cmd

    args.speed = sim_cmd.default_speed(args)
    return sim_cmd.run(args, fail)


# ---------------------------------------------------------------- host tools (dongle)
# Each job lives in its own module with add_args(p) and run(args); run raises
# callcue.device.ports.HostError(what, reason) for the one-line error.


def _host_args(module):
    def add(p):
        import importlib

        p.formatter_class = argparse.RawDescriptionHelpFormatter
        importlib.import_module("callcue." + module).add_args(p)

    return add


def _host_run(module, doc):
    def run(args):
        import importlib

        from callcue.archive.store import ArchiveError
        from callcue.device.ports import HostError

        try:
            return importlib.import_module("callcue." + module).run(args)
        except HostError as e:
            print(f"callcue: error: {e.what}: {e.reason}", file=sys.stderr)
            return e.code
        except ArchiveError as e:  # an archive that failed half-way (the server went away)
            from callcue.archive.store import error_name

            target = getattr(args, "archive", None)
            what = error_name(target) if target else "archive"
            print(f"callcue: error: {what}: {e}", file=sys.stderr)
            return 1

    run.__doc__ = doc
    return run


args_devices, do_devices = _host_args("device.ports"), _host_run(
    "device.ports", "List attached dongles: USB serial ports whose device answers `info`.")
args_device, do_device = _host_args("commands.device"), _host_run(
    "commands.device", "One dongle's identity, engine parameter overrides and clock.")
args_logs, do_logs = _host_args("commands.logs"), _host_run(
    "commands.logs", "List a dongle's session logs, pull them into an archive (a folder's SQLite "
    "file or a PostgreSQL database; resumable, idempotent, --delete only after a verified "
    "import), export the archive.")
args_report, do_report = _host_args("report.page"), _host_run(
    "report.page", "A self-contained HTML report for a team lead: one row per rep against "
    "the team band (outliers marked), trends by date, then every call with a sentence, "
    "its length, data flags and timeline; with --summary, one row per rep and per team, "
    "computed in the database.")
args_archive, do_archive = _host_args("commands.archive"), _host_run(
    "commands.archive", "The archive itself: which rep (and team) wears which dongle, its "
    "size and schema, and copying one archive into another (a folder's SQLite file into "
    "a PostgreSQL database).")
args_flash, do_flash = _host_args("commands.flash"), _host_run(
    "commands.flash", "Compile dsp/ and firmware/ with mpy-cross and copy them to a MicroPython "
    "board with mpremote; --dry-run lists the commands.")
args_calibrate, do_calibrate = _host_args("commands.calibrate"), _host_run(
    "commands.calibrate", "Guided calibration with the headset on: silence, rep alone, customer "
    "alone; measures noise floors and sidetone/echo coupling, writes the implied "
    "thresholds to the dongle and reads them back.")
args_stream, do_stream = _host_args("commands.stream"), _host_run(
    "commands.stream", "A live dashboard of the dongle's per-second records; --csv/--jsonl record "
    "them. Reconnects after unplug/replug; Ctrl-C exits.")


# ---------------------------------------------------------------------------- table

# name, one-line help, argument builder, handler
COMMANDS = (
    ("synth", "synthesise a speech-like test call with exact ground truth", args_synth, do_synth),
    (
        "analyze",
        "run the DSP engine over a call WAV; summary or analysis JSON",
        args_analyze,
        do_analyze,
    ),
    ("sim", "run a call through the virtual dongle (the real firmware, simulated board)",
     args_sim, do_sim),
    ("params", "list the engine's parameters with defaults, ranges and meanings", args_params,
     do_params),
    ("verify", "check the fixed-point engine against the float reference, stage by stage",
     args_verify, do_verify),
    ("devices", "list attached dongles with id and firmware", args_devices, do_devices),
    ("device", "device info | config get | config set KEY=VALUE | time set", args_device,
     do_device),
    ("logs", "logs list | pull (into an archive) | export (csv, jsonl, parquet)",
     args_logs, do_logs),
    ("report", "HTML report with plots of archived calls, or per rep and team",
     args_report, do_report),
    ("archive", "archive assign | reps | info | copy SRC DST (SQLite to PostgreSQL)",
     args_archive, do_archive),
    ("stream", "live dashboard of the dongle's per-second records", args_stream, do_stream),
    ("calibrate", "measure noise floors and sidetone/echo coupling; store the thresholds",
     args_calibrate, do_calibrate),
    ("flash", "put the firmware on an RP2040 running MicroPython (mpy-cross + mpremote)",
     args_flash, do_flash),
)


ALL = object()


def build_parser(command=ALL):
    """The argument parser; with `command` (a name, or None for none) only that
    subcommand's arguments are built: building them imports its module (sim's pulls in
    numpy and scipy), which `callcue --help` and `--version` need not pay for."""
    parser = argparse.ArgumentParser(
        prog="callcue",
        description="callcue host tools: measure live-call habits (talk-over, speaking "
        "rate, flat pitch, dead air) with the dongle's own DSP engine.",
    )
    parser.add_argument("--version", action="version", version=f"callcue {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text, add_args, handler in COMMANDS:
        p = sub.add_parser(name, help=help_text, description=handler.__doc__)
        if command is ALL or command == name:
            add_args(p)
        p.set_defaults(handler=handler)
    return parser


def command_of(argv):
    """The subcommand `argv` names: its first word that is not an option (the top level
    has only --help and --version, which take no value), or None."""
    for word in argv:
        if word == "--":
            break
        if not word.startswith("-"):
            return word
    return None


def main(argv=None):
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    args = build_parser(command_of(argv)).parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: not an error of ours.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the exit flush
        except OSError:
            pass
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
