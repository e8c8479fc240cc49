"""`callcue params`: every engine parameter with its default, range and meaning."""

import json


def add_args(p):
    p.add_argument("--json", action="store_true", help="print the table as JSON")


def run(args):
    """List every engine parameter: name, default, allowed range and meaning. Any of them
    can be given to `analyze --param NAME=VALUE` (and, later, set on the dongle)."""
    from dsp.params import TABLE

    if args.json:
        rows = [{"name": n, "default": d, "min": lo, "max": hi, "meaning": m}
                for n, d, lo, hi, m in TABLE]
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(row[0]) for row in TABLE)
    for name, default, lo, hi, meaning in TABLE:
        print(f"{name:<{width}}  {default:>6}  {lo:>6}..{hi:<6}  {meaning}")
    return 0
