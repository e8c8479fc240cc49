"""Unit checks of the integer helpers, the parameter table and the filter design."""

import math
import random
import statistics
from array import array
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from callcue.analysis import design
from dsp import coeffs, fixmath
from dsp.params import NAMES, TABLE, Params

LOG2_MAX_ERR_CENTS = 0.6


def test_log2_q12_accuracy():
    rng = random.Random(1)
    xs = [2, 3, 5, 255, 256, 257, 4095, 65537, (1 << 30) - 1]
    xs += [rng.randrange(2, 1 << 30) for _ in range(20000)]
    worst = max(abs(fixmath.log2_q12(x) / 4096 - math.log2(x)) for x in xs)
    assert worst * 1200 < LOG2_MAX_ERR_CENTS
    assert fixmath.log2_q12(1) == 0 and fixmath.log2_q12(0) == 0


def test_isqrt_exact():
    rng = random.Random(2)
    xs = list(range(0, 5000)) + [(1 << 30) - 1] + [rng.randrange(1 << 30) for _ in range(20000)]
    for x in xs:
        assert fixmath.isqrt(x) == math.isqrt(x), x


def test_db_q8_matches_float():
    for e in (2, 10, 1000, 10**6, 335523840):
        assert abs(fixmath.db_q8(e) / 256 - 10 * math.log10(e)) < 0.02


def test_sat16():
    assert [fixmath.sat16(v) for v in (-40000, -32768, 0, 32767, 40000)] == [
        -32768, -32768, 0, 32767, 32767]


def test_highpass_energy_matches_float():
    """The syllable envelope's high-pass, frame by frame with its state carried, against
    the float definition: within 0.05 dB on every frame above -55 dBFS (its rounding
    adds ~0.1 dB at -60 dBFS); full-scale extremes stay within energy()'s bound and
    the state stays positive."""
    from array import array

    from callcue.analysis import reference
    from dsp import kernels

    rng = np.random.default_rng(3)
    t = np.arange(8000 * 3) / 8000.0
    amp = 10 ** (rng.uniform(-3, 0, len(t) // 800).repeat(800))
    x = amp * (8000 * np.sin(2 * np.pi * 120 * t) + 6000 * np.sin(2 * np.pi * 900 * t)
               + 3000 * rng.standard_normal(len(t)))
    x = np.clip(np.round(x), -32768, 32767).astype(np.int16)
    s = array("i", [kernels.HP_BIAS] * 3)
    got = np.array([kernels.highpass_energy(array("h", x[i:i + 80].tobytes()), 80, s)
                    for i in range(0, len(x), 80)], np.float64)
    want = reference.syllable_highpass(x)
    loud = want > 80 * (32767 * 10 ** (-55 / 20)) ** 2 / 256
    err = np.abs(10 * np.log10(got[loud] / want[loud]))
    assert loud.sum() > 100 and err.max() < 0.05, err.max()
    # full-scale extremes: Nyquist squares, and steps after long runs at the other rail
    cap = 80 * ((32767 * 32767 + 128) >> 8)
    for pattern in ([32767, -32768], [-32768] * 40 + [32767] * 40):
        x = array("h", (pattern * (800 // len(pattern)))[:800])
        s = array("i", [kernels.HP_BIAS] * 3)
        for i in range(0, 800, 80):
            e = kernels.highpass_energy(x[i:i + 80], 80, s)
            assert 1 << 20 < e <= cap
            assert all(0 < v < 2 * kernels.HP_BIAS for v in s)


def test_params_defaults_in_range_and_named():
    p = Params()
    assert set(p.as_dict()) == set(NAMES)
    for name, default, lo, hi, meaning in TABLE:
        assert lo <= default <= hi and meaning, name


@pytest.mark.parametrize("kw,msg", [
    ({"nope": 1}, "nope: unknown parameter"),
    ({"vad_on_db": 2}, "vad_on_db: 2 is outside 3..30"),
    ({"vad_on_db": 9.5}, "vad_on_db: must be an integer"),
    ({"vad_on_db": True}, "vad_on_db: must be an integer"),
    ({"fast_on_csps": 400, "fast_off_csps": 450}, "fast_off_csps: must not exceed"),
    ({"flat_on_cents": 200, "flat_off_cents": 150}, "flat_off_cents: must not be below"),
    ({"pitch_min_hz": 300, "pitch_max_hz": 200}, "pitch_min_hz: must be below"),
])
def test_params_reject_bad_values(kw, msg):
    with pytest.raises(ValueError, match="^" + msg):
        Params(**kw)


def test_coeffs_file_is_current(tmp_path):
    """dsp/coeffs.py is exactly what the scipy design quantises to."""
    assert coeffs.__file__.endswith("coeffs.py")
    with open(coeffs.__file__) as f:
        assert f.read() == design.coeffs_source()


def test_quantised_filters_match_design():
    for sos, q in ((design.bandpass_sos(), coeffs.BANDPASS_Q13),
                   (design.lowpass_sos(), coeffs.LOWPASS_Q13)):
        qf = np.array([[c[0], c[1], c[2], 8192, c[3], c[4]] for c in q]) / 8192
        w, h = signal.sosfreqz(sos, worN=256, fs=8000)
        _, hq = signal.sosfreqz(qf, worN=256, fs=8000)
        band = np.abs(h) > 0.1
        assert np.max(np.abs(20 * np.log10(np.abs(hq[band]) / np.abs(h[band])))) < 0.1
        for c in q:
            # the accumulator bound of kernels.biquad_q13
            assert sum(abs(v) for v in c) * 32768 < 1 << 30


def test_quantise_rejects_unsafe_section():
    with pytest.raises(ValueError, match="sum of"):
        design.quantise_sos([[1.0, 2.0, 1.0, 1.0, -1.9, 0.95]])


def test_readme_lists_every_parameter():
    readme = (Path(coeffs.__file__).parent / "README.md").read_text()
    for name, default, lo, hi, meaning in TABLE:
        assert "| `%s` | %d | %d..%d | %s |" % (name, default, lo, hi, meaning) in readme, name


def test_dsp_code_is_integer_only():
    """No float literal, float(), true division, math or numpy in dsp/ code (comments and
    docstrings may speak of fractions)."""
    import io
    import tokenize

    for path in sorted(Path(coeffs.__file__).parent.glob("*.py")):
        toks = list(tokenize.generate_tokens(io.StringIO(path.read_text()).readline))
        for tok in toks:
            where = "%s:%d" % (path.name, tok.start[0])
            if tok.type == tokenize.NUMBER:
                s = tok.string.lower()
                assert s.startswith(("0x", "0b", "0o")) or not any(c in s for c in ".ej"), where
            elif tok.type == tokenize.NAME:
                assert tok.string not in ("float", "math", "numpy", "complex"), where
            elif tok.type == tokenize.OP:
                assert tok.string not in ("/", "/="), where


def _fast_wanted(cues, rates, syllables=0, talk_frames=0):
    """The fast condition after each rolling rate in turn (the rep's totals so far fixed)."""
    from dsp.cues import FAST

    out = []
    for r in rates:
        cues.levels(r, -1, syllables, talk_frames)
        out.append(cues.want[FAST])
    return out


def test_fast_cue_against_the_reps_own_pace():
    """The fast cue turns on above B * (100 + fast_rel_pct) // 100 and off below
    B * (90 + fast_rel_pct) // 100, never below the absolute fast_on/off_csps. B is the
    learned baseline; without one, the rep's average so far once they have talked 30 s,
    and no fast cue before that."""
    from dsp.cues import Cues

    c = Cues(Params(rate_baseline_csps=450, fast_rel_pct=30))
    assert (c.fast_on, c.fast_off) == (585, 540)
    # not at the threshold, on just above; hysteresis down to 540; off just below
    assert _fast_wanted(c, [560, 585, 586, 560, 540, 539, 560, 585]) == [0, 0, 1, 1, 1, 0, 0, 0]
    assert _fast_wanted(c, [-1]) == [0]                      # undefined: off
    # a slow rep is held to the absolute floor (550 on, 500 off), a fast rep to their own
    slow = Cues(Params(rate_baseline_csps=300))
    assert (slow.fast_on, slow.fast_off) == (550, 500)
    assert _fast_wanted(slow, [400, 549, 551, 501, 499]) == [0, 0, 1, 1, 0]
    quick = Cues(Params(rate_baseline_csps=520, fast_rel_pct=20))
    assert (quick.fast_on, quick.fast_off) == (624, 572)
    assert _fast_wanted(quick, [600, 610, 625, 580, 571]) == [0, 0, 1, 1, 0]
    # no baseline: nothing until the rep has talked 30 s, then their own average
    a = Cues(Params())
    assert _fast_wanted(a, [900, 900], syllables=140, talk_frames=2999) == [0, 0]
    # 150 syllables in 30 s = 500 csps -> on above 650, off below 600
    assert _fast_wanted(a, [640, 651, 610, 599], syllables=150, talk_frames=3000) == [0, 1, 1, 0]
    assert (a.fast_on, a.fast_off) == (650, 600)
    # a slow talker's own average below the floor: the absolute thresholds
    assert _fast_wanted(a, [549, 551], syllables=90, talk_frames=3000) == [0, 1]
    a.set_baseline(1500)                   # the extremes stay small ints
    a2 = Cues(Params(rate_baseline_csps=1500, fast_rel_pct=200))
    assert (a.fast_on, a2.fast_on, a2.fast_off) == (1950, 4500, 4350)
    a.set_baseline(0)
    assert _fast_wanted(a, [0], syllables=150, talk_frames=3000) == [0]
    assert (a.fast_on, a.fast_off) == (650, 600)


def test_crosstalk_judges_the_rep_against_the_late_echo():
    """The rep's gate compares with the loudest earpiece level of the last ECHO_FRAMES
    frames (gate() is unrolled for exactly 6): the echo of a word the customer has just
    finished does not pass for the rep."""
    from dsp.crosstalk import ECHO_FRAMES, Crosstalk

    assert ECHO_FRAMES == 6
    xt = Crosstalk(Params(echo_loss_db=25, xtalk_margin_db=4))     # 21 dB
    q = 256
    xt.gate(30 * q, 70 * q)                  # customer loud, mic at echo level
    assert xt.rep_ok == 0
    for _ in range(5):                       # the customer stops; 50 ms of echo tail
        xt.gate(45 * q, 20 * q)
        assert xt.rep_ok == 0                # 45 + 21 dB < 70: still the echo
    xt.gate(45 * q, 20 * q)                  # 60 ms on: the loud frame has left
    assert xt.rep_ok == 1


def test_spread_hist_worst_case_and_sheppard():
    """kernels.spread_hist at its worst: a full window (3000 frames) all at the clip
    limit keeps every sum within its stated bound (< 2**28.1, a small int); and on a
    smooth distribution the spread over the 16-cent histogram, with Sheppard's
    correction, reads the clipped SD of the exact values within isqrt's floor."""
    from dsp import kernels
    from dsp.pitchspread import PitchSpread

    out = array("i", bytes(12))
    for center, b in ((8, 255), (4088, 0)):          # every frame 4080 cents away
        hist = array("h", bytes(512))
        hist[b] = 3000
        kernels.spread_hist(hist, 256, center, 1200, out)
        assert out[0] == 3000
        assert abs(out[1] - (1 << 24)) == 3000 * 1200 < 2 ** 21.8
        assert out[2] == 3000 * ((1200 * 1200) >> 4) < 2 ** 28.1

    rng = random.Random(3)
    for sd in (25, 60, 300):
        p = Params()
        sp = PitchSpread(p, kernels)
        values = [max(1, int(round(rng.gauss(2600, sd)))) for _ in range(len(sp.ring))]
        for v in values:
            sp.push(v)
        sp.second()
        q1, med, q3 = sp.quart
        lim = min(max(((q3 - q1) * 1853) >> 10, 150), 1200)
        exact = statistics.pstdev([min(max(v - med, -lim), lim) for v in values])
        # isqrt floors: up to 1 cent below
        assert -1.5 <= sp.sd_cents - exact <= 0.5, (sd, sp.sd_cents, exact)


def test_pitch_spread_histogram_follows_the_ring():
    """PitchSpread keeps its histogram frame by frame (the value leaving the window
    out, the new one in): after many seconds of voiced, unvoiced and out-of-range F0
    it equals a count over the ring, and the spread equals a fresh tracker's that saw
    only the window."""
    from dsp import kernels
    from dsp.pitchspread import PitchSpread

    p = Params()
    sp = PitchSpread(p, kernels)
    rng = random.Random(5)
    values = [0 if rng.random() < 0.3 else rng.choice((rng.randint(1, 5000), 1900, 2400))
              for _ in range(len(sp.ring) * 3 + 137)]
    for i, v in enumerate(values):
        sp.push(v)
        if i % 100 == 99:
            sp.second()
    hist = [0] * len(sp.hist)
    for c in sp.ring:
        if c > 0:
            hist[min(c >> 4, len(hist) - 1)] += 1
    assert list(sp.hist) == hist and sp.voiced == sum(hist) > 0
    fresh = PitchSpread(p, kernels)
    for v in values[-len(sp.ring):]:
        fresh.push(v)
    sp.second()
    fresh.second()
    assert (sp.sd_cents, sp.median_cents) == (fresh.sd_cents, fresh.median_cents)
    assert sp.sd_cents > 0
