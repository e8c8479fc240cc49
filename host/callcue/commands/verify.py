"""`callcue verify`: the fixed-point engine against the float reference, stage by stage
(callcue.analysis.verify compares them)."""

import json
import os
import sys

from callcue.errors import bad_input


def add_args(p):
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


def run(args):
    """Run the fixed-point engine and the float reference (numpy/scipy) on the same call and
    compare them stage by stage: filter SNR and max error in LSB, frame level, voice
    activity, talk-over events, dead air, pitch, syllables, rolling rate and pitch SD,
    cues. Each figure has a documented tolerance (callcue/analysis/verify.py); the exit code is 1
    when any is exceeded, 2 for input that cannot be read."""
    if args.rep is not None:
        if args.calls:
            raise bad_input("verify", "give either CALL.wav or --rep A.wav --customer B.wav, "
                            "not both")
        args.calls = [args.rep]
    if not args.calls:
        raise bad_input("verify", "give one or more CALL.wav, or --rep A.wav --customer B.wav")
    if args.customer is not None and len(args.calls) > 1:
        raise bad_input("--customer", "goes with one call: the rep's mono WAV and the "
                        "customer's")

    from callcue.analysis import analyze, wavio

    try:
        params = analyze.params_from_items(args.param)
    except ValueError as e:
        raise bad_input("--param", str(e)) from None

    calls = []
    for path in args.calls:
        try:
            rep, cust, _info = wavio.read_call(path, args.customer)
        except wavio.InputError as e:
            raise bad_input(e.path, e.reason) from None
        calls.append((path, rep, cust))

    from callcue.analysis import verify  # scipy: a second to import, after the input is read

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
                raise bad_input(out, e.strerror or str(e)) from None
            except ValueError as e:  # e.g. an image format matplotlib does not write
                raise bad_input(out, str(e)) from None
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
    return 0 if all_ok else verify.EXIT_OUT_OF_TOLERANCE
