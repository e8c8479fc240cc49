"""Worst figure of every `callcue verify` check over many calls, beside its tolerance: the
measurement the tolerances in callcue/analysis/verify.py were set from.

    .venv/bin/python bench/verify_margins.py [--seeds N] [--espeak]

Calls: every synthetic scenario (60 s, seeds 0..N-1), the worst-case inputs of
tests/signals.py, full-scale chirps and, with --espeak, the espeak-ng calls of
tests/dsp/test_espeak.py (needs espeak-ng). Prints a markdown table.
"""

import argparse
import os
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from scipy import signal

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from callcue.analysis import synth, verify  # noqa: E402
from tests import signals  # noqa: E402


def chirps():
    t = np.arange(8000 * 6) / 8000
    out = {}
    for amp in (0.5, 0.99):
        x = amp * 32767 * signal.chirp(t, 50, t[-1], 3900, method="logarithmic")
        x = np.rint(x).astype(np.int16)
        out["chirp %.2f FS" % amp] = (x, x[::-1].copy())
    return out


def job(case):
    kind, name, seed = case
    if kind == "synth":
        pcm, _ = synth.render(name, seed=seed, duration_s=60.0)
        rep, cust = pcm[:, 0], pcm[:, 1]
        label = "%s/%d" % (name, seed)
    elif kind == "worst":
        rep, cust = signals.worst_cases()[name]
        label = name
    elif kind == "chirp":
        rep, cust = chirps()[name]
        label = name
    else:
        from tests.dsp import test_espeak
        pcm = test_espeak.CALLS[name]()[0]
        rep, cust = pcm[:, 0], pcm[:, 1]
        label = "espeak " + name
    res = verify.verify_pcm(rep, cust)
    return label, [(c.id, c.value) for c in res.checks]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--espeak", action="store_true")
    args = ap.parse_args()
    cases = [("synth", s, seed) for s in synth.SCENARIOS for seed in range(args.seeds)]
    cases += [("worst", n, 0) for n in signals.worst_cases()]
    cases += [("chirp", n, 0) for n in chirps()]
    if args.espeak:
        os.environ.setdefault("CALLCUE_ESPEAK_CACHE", tempfile.mkdtemp(prefix="espeak-"))
        from tests.dsp import test_espeak
        cases += [("espeak", n, 0) for n in test_espeak.CALLS]
    worst = {}
    with ProcessPoolExecutor(max_workers=2) as pool:
        for label, rows in pool.map(job, cases):
            for cid, value in rows:
                if value is None:
                    continue
                op = verify.TOLERANCES[cid].op
                old = worst.get(cid, (None,))[0]
                if old is None or (value < old if op == ">=" else value > old):
                    worst[cid] = (value, label)
    print("| check | worst | where | tolerance |")
    print("|---|---:|---|---|")
    for cid, tol in verify.TOLERANCES.items():
        if cid in worst:
            v, where = worst[cid]
            print("| %s | %.4g %s | %s | %s %g |" % (cid, v, tol.unit, where, tol.op, tol.limit))
        else:
            print("| %s | - | - | %s %g |" % (cid, tol.op, tol.limit))


if __name__ == "__main__":
    main()
