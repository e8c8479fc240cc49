"""The same dsp/ source gives identical results on CPython and MicroPython, and the
viper twins agree with the plain kernels bit for bit, also with the pitch stage on a
second thread (firmware/core1.py, as on the RP2040's second core).

Each call goes through tests/firmware/mpy/run_engine.py under CPython (plain kernels), the
real `micropython` unix port with plain kernels, and with the viper kernels; the
per-frame traces (levels, activity, F0, syllables, cue, events) and every
per-second record must be equal line for line (and with the viper kernels and the pitch
stage on a second thread).
"""

import numpy as np
import pytest

from callcue.analysis import synth

from .. import mpyrun
from ..signals import worst_cases

SCENARIOS = ("rep-interrupts", "backchannels", "noisy-line")


def _compare(micropython, rep, cust, tmp_path):
    ref = mpyrun.run_engine(mpyrun.cpython(), rep, cust, tmp_path, "plain")
    assert ref.count("\nR ") >= len(rep) // 8000 - 1
    for kernels in ("plain", "viper", "core1"):
        out = mpyrun.run_engine(micropython, rep, cust, tmp_path, kernels)
        a = ref.splitlines()
        b = out.splitlines()
        assert len(a) == len(b), kernels
        for i, (x, y) in enumerate(zip(a, b)):
            assert x == y, "%s differs at line %d: %r != %r" % (kernels, i, x, y)
    return ref


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario_identical_on_both_interpreters(micropython, scenario, tmp_path):
    pcm, truth = synth.render(scenario, seed=3, duration_s=20.0)
    ref = _compare(micropython, pcm[:, 0], pcm[:, 1], tmp_path)
    # the comparison covered real work: speech, pitch and syllables were found
    frames = [line.split() for line in ref.splitlines() if line.startswith("F ")]
    assert sum(int(f[4]) for f in frames) > 200        # rep active frames
    assert sum(int(f[6]) > 0 for f in frames) > 100    # voiced frames
    assert sum(int(f[7]) for f in frames) > 20         # syllables


def test_worst_cases_identical_on_both_interpreters(micropython, tmp_path):
    cases = worst_cases(seconds=2.0)
    rep = np.concatenate([c[0] for c in cases.values()])
    cust = np.concatenate([c[1] for c in cases.values()])
    _compare(micropython, rep, cust, tmp_path)


KERNEL_SCRIPT = r'''
import sys
sys.path.insert(0, sys.argv[1])
from array import array
from dsp import kernels as P
from dsp import kernels_viper as V
from dsp.coeffs import BANDPASS_Q13, LOWPASS_Q13

seed = 12345
def rnd():
    global seed
    seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
    return seed

def signal(n, kind):
    a = array("h", bytes(2 * n))
    for i in range(n):
        if kind == 0:
            a[i] = (rnd() >> 8) % 65536 - 32768
        elif kind == 1:
            a[i] = 32767 if (i // 7) % 2 else -32768
        elif kind == 2:
            a[i] = ((rnd() >> 8) % 201) - 100
        else:
            a[i] = 0
    return a

for n in (1, 2, 7, 40, 80, 108, 192):
    for kind in range(4):
        x = signal(n, kind)
        outs = []
        for K in (P, V):
            o = []
            for c in (BANDPASS_Q13[0],) + LOWPASS_Q13:
                s = array("h", bytes(8))
                y = array("h", bytes(2 * n))
                K.biquad_q13(x, y, n, array("h", c), s)
                K.biquad_q13(y, y, n, array("h", c), s)
                o.append(list(y) + list(s))
            o.append(K.energy(x, n))
            # the pitch front end in one pass; equal to its parts (below)
            if n % 2 == 0:
                st6 = array("h", bytes(12))
                lp = array("h", bytes(2 * n))
                ring = array("h", bytes(2 * (n // 2 + 3)))
                c10 = array("h", LOWPASS_Q13[0] + LOWPASS_Q13[1])
                o.append(K.lowpass_decimate(x, n, c10, st6, lp, ring, 3))
                o.append(K.lowpass_decimate(x, n, c10, st6, lp, ring, 3))   # state on
                o.append(list(lp) + list(ring) + list(st6))
            hs = array("i", [P.HP_BIAS] * 3)
            o.append(K.highpass_energy(x, n, hs))
            o.append(K.highpass_energy(x, n, hs))     # carrying the state on
            o.append(list(hs))
            d = array("h", bytes(2 * n))
            K.decimate(x, 1, n, 2, d, 0)
            o.append(list(d))
            z = array("h", bytes(2 * n))
            o.append(K.normalize(x, 0, n, z, n))
            o.append(list(z))
            w = array("h", bytes(2 * n))             # from the middle of a ring, wrapping
            o.append(K.normalize(x, n // 3, n, w, n))
            o.append(list(w))
            if n >= 192:
                # the pitch search's two calls: coarse (stride 2) and fine
                nd = array("i", bytes(4 * 72))
                K.nsdf_q10(z, 2, 60, 4, 35, nd)
                K.nsdf_q10(z, 1, 120, 1, 71, nd)
                o.append(list(nd))
                # peak picking and the path over a few steps
                cand = array("h", bytes(12))
                st = array("h", bytes(12))
                cfg = array("i", [700, 358, 409, 0, 0, 6, 6, 5, 102, 143] + [1] * 6)
                pc = array("h", bytes(72))
                pb = array("b", bytes(36))
                cost = array("i", bytes(48))
                for step in range(9):
                    m = K.peaks_q10(nd, 2 + step, 70, 300, cand, st, 5)
                    for i in range(1, m + 1):
                        cand[i] = 1500 + 37 * cand[i] + 11 * step
                    cfg[3] = 0 if step < 4 else 2600
                    o.append((m, K.path_step(cand, st, m, cfg, pc, pb, cost)))
                o.append(list(cfg) + list(pc) + list(pb) + list(cost))
            out = array("i", bytes(12))
            ring = array("h", bytes(2 * n))
            for i in range(n):
                ring[i] = (x[i] & 4095) if i % 3 else 0
            hist = array("h", bytes(2 * 256))
            cnt = 0
            for c in ring:                       # as pitchspread.py keeps it
                if c > 0:
                    hist[min(c >> 4, 255)] += 1
                    cnt += 1
            q = array("i", bytes(12))
            K.quartiles(hist, 256, cnt, q)
            o.append(list(q))
            K.spread_hist(hist, 256, 2000, 700, out)
            o.append(list(out))
            K.spread_hist(hist, 256, 4088, 1200, out)     # deviations all negative
            o.append(list(out))
            outs.append(o)
        print(n, kind, "same" if outs[0] == outs[1] else "DIFF", outs[0] == outs[1] or outs)

# lowpass_decimate is biquad_q13 twice, decimate and energy, value for value
fused_ok = True
for n in (2, 40, 80):
    for kind in range(4):
        x = signal(n, kind)
        parts = [array("h", bytes(8)) for _ in LOWPASS_Q13]
        st6 = array("h", bytes(12))
        c10 = array("h", LOWPASS_Q13[0] + LOWPASS_Q13[1])
        for rep in range(3):
            y = array("h", bytes(2 * n))
            ring_a = array("h", bytes(n))
            ring_b = array("h", bytes(n))
            lp = array("h", bytes(2 * n))
            P.biquad_q13(x, y, n, array("h", LOWPASS_Q13[0]), parts[0])
            P.biquad_q13(y, y, n, array("h", LOWPASS_Q13[1]), parts[1])
            P.decimate(y, 1, n, 2, ring_a, 0)
            e = P.lowpass_decimate(x, n, c10, st6, lp, ring_b, 0)
            fused_ok = fused_ok and e == P.energy(y, n) and list(lp) == list(y)
            fused_ok = fused_ok and list(ring_a) == list(ring_b)
            fused_ok = fused_ok and list(st6) == list(parts[0]) + list(parts[1][2:])
print("fused", "same" if fused_ok else "DIFF", fused_ok)

# log2_q12 and db_q8 over their whole domain's edges, every power of two and its
# neighbours, and random values of every magnitude
xs = [-5, 0, 1, 2, 3, 255, 256, 257, 16383, 16384, 16385, 335523840, 2**30 - 1]
for b in range(30):
    xs += [(1 << b) - 1, 1 << b, (1 << b) + 1]
for _ in range(3000):
    xs.append(rnd() >> (rnd() % 31))
diff = [x for x in xs if P.log2_q12(x) != V.log2_q12(x) or P.db_q8(x) != V.db_q8(x)
        or x < 2**30 and P.isqrt(x) != V.isqrt(x)]
print("log2", len(xs), "same" if not diff else "DIFF", diff[:5])
'''


def test_viper_twins_match_plain_kernels(micropython, tmp_path):
    script = tmp_path / "kernels_check.py"
    script.write_text(KERNEL_SCRIPT)
    out = mpyrun.run(micropython, script, mpyrun.ROOT)
    lines = out.splitlines()
    assert len(lines) == 30
    assert all(" same " in line for line in lines), out[-2000:]
