"""`callcue analyze`: run the DSP engine over a call; print a summary and/or write the
analysis JSON (callcue.analysis.analyze builds it)."""

import json
import os
import sys
import tempfile

from callcue.errors import bad_input


def add_args(p):
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


def run(args):
    """Run the DSP engine over a call; print a summary and/or write the analysis JSON."""
    if args.json is not None and args.json.lower().endswith((".wav", ".wave")):
        # `analyze --json CALL.wav`: argparse gave the call to --json; never write over it
        if args.call is not None or args.rep is not None:
            raise bad_input("--json", f"{args.json} is a WAV, not where to write the JSON; "
                            "give --json OUT.json, or --json alone for stdout")
        args.call, args.json = args.json, "-"
    if args.call is not None and args.rep is not None:
        raise bad_input("analyze", "give either CALL.wav or --rep A.wav --customer B.wav, "
                        "not both")
    rep_path = args.call if args.call is not None else args.rep
    if rep_path is None:
        raise bad_input("analyze", "give CALL.wav, or --rep A.wav --customer B.wav")

    from callcue.analysis import analyze, wavio

    try:
        params = analyze.params_from_items(args.param)
    except ValueError as e:
        raise bad_input("--param", str(e)) from None

    try:
        rep, cust, _info = wavio.read_call(rep_path, args.customer)
    except wavio.InputError as e:
        raise bad_input(e.path, e.reason) from None

    doc = analyze.analyze_pcm(rep, cust, params)

    if args.json == "-":
        json.dump(doc, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    if args.json is not None:
        try:
            write_json_atomic(args.json, doc)
        except FileExistsError as e:   # makedirs met a file where a folder should be
            raise bad_input(args.json, "%s is not a folder" % e.filename) from None
        except OSError as e:
            raise bad_input(args.json, e.strerror or str(e)) from None
    name = os.path.basename(rep_path) + (
        f" + {os.path.basename(args.customer)}" if args.customer else ""
    )
    for line in analyze.summary(doc, name):
        print(line)
    if args.json is not None:
        print(f"analysis JSON: {args.json}")
    return 0


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
