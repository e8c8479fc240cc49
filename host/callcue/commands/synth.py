"""`callcue synth`: write a synthetic call (stereo WAV) and its ground truth (JSON) next to
it; the calls themselves are callcue.analysis.synth's."""

import argparse

from callcue.errors import bad_input

SYNTH_SEED = 1


def add_args(p):
    # synth.MIN_DURATION_S, MAX_DURATION_S and MAX_SAMPLES, written out: importing synth
    # (numpy, scipy) would slow every callcue command (tests/host/test_synth.py checks them)
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


def run(args):
    """Write a synthetic call (stereo WAV) and its ground truth (JSON) next to it."""
    from callcue.analysis import synth

    scenarios = _scenario_table(synth.SCENARIOS)
    if args.list:
        width = max(len(name) for name, _ in scenarios)
        for name, description in scenarios:
            print(f"{name:<{width}}  {description}")
        return 0
    if args.out is None or args.scenario is None:
        raise bad_input("synth", "give OUT.wav --scenario NAME [--seed N] (or --list)")
    names = [name for name, _ in scenarios]
    if args.scenario not in names:
        raise bad_input(
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
        raise bad_input(args.out, str(e)) from None
    except OSError as e:
        raise bad_input(args.out, e.strerror or str(e)) from None
    print(f"wrote {args.out}")
    print(f"wrote {truth}")
    return 0


def _scenario_table(scenarios):
    """SCENARIOS as (name, description) pairs, whether a dict or a sequence of pairs."""
    items = scenarios.items() if hasattr(scenarios, "items") else scenarios
    return [(str(name), str(desc)) for name, desc in items]
