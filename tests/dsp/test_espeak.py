"""Accuracy against real speech tools: calls built from espeak-ng speech (tests/espeak_calls.py).

- Speaking rate: the rep reads the same passage at RATES_WPM with each of VOICES; the
  engine's rate (syllables per second of rep talk time) must rise with the set rate
  (Spearman rank correlation >= 0.9 per voice) and, between two rates, scale with them
  (relative error of the ratio <= 10 %).
- Pitch: the engine's F0 track on the rep channel against Praat's (praat-parselmouth,
  autocorrelation, 60-400 Hz, 10 ms steps, on the same channel), on frames both call
  voiced: median |error| <= 50 cents, gross errors (> 20 % off) <= 5 %.
- Talk-over: two-party calls with known overlaps (either party interrupting, clean and
  noisy line): the engine's events match them (count, interrupter, start within 0.5 s).
- The same calls pass `callcue verify` (fixed-point engine vs float reference).

espeak-ng output is cached per session in a temporary folder. Outside CI the tests skip
when espeak-ng (Debian package `espeak-ng`) or parselmouth is missing; in CI (CI=true)
that is a failure.
"""

import math
import os

import numpy as np
import pytest
from scipy.stats import spearmanr

from callcue.analysis.analyze import analyze_pcm
from callcue.analysis.verify import verify_pcm
from dsp.params import Params

from .. import espeak_calls as E
from ..conftest import IN_CI

RATES_WPM = (120, 150, 180, 210, 240)
VOICES = (("en-us", 50), ("en-us+f3", 60), ("en-gb+m3", 35), ("en-us+m7", 45))
RANK_MIN = 0.9            # with five rates: at most one adjacent pair out of order
RATIO_PAIR = (120, 240)
RATIO_TOL = 0.10
PITCH_VOICES = (("en-us", 30), ("en-us", 70), ("en-us+f3", 50), ("en-gb+m3", 35),
                ("en-us+m7", 60), ("en-us+f2", 80))
PITCH_WPM = 160
PRAAT_MEDIAN_CENTS = 50
PRAAT_GROSS = 0.05
ONSET_TOL_S = 0.5


def _require(ok, reason):
    if not ok:
        if IN_CI:
            pytest.fail(reason + " - CI must run these tests", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def espeak(tmp_path_factory):
    """espeak-ng present, and its audio cached in a folder for this session."""
    _require(E.ESPEAK is not None,
             "espeak-ng not found on PATH (Debian: apt-get install espeak-ng)")
    old = os.environ.get("CALLCUE_ESPEAK_CACHE")
    os.environ["CALLCUE_ESPEAK_CACHE"] = str(tmp_path_factory.mktemp("espeak"))
    yield E
    if old is None:
        os.environ.pop("CALLCUE_ESPEAK_CACHE", None)
    else:
        os.environ["CALLCUE_ESPEAK_CACHE"] = old


@pytest.fixture(scope="session")
def parselmouth():
    try:
        import parselmouth as pm
    except ImportError:
        pm = None
    _require(pm is not None, "praat-parselmouth not installed (pip install -e '.[dev]')")
    return pm


# ------------------------------------------------------------------------------- calls


def reading_call(voice, pitch, wpm):
    """The customer asks, then the rep reads the passage; no overlap."""
    cust = E.say(E.CUSTOMER_LINES, "en-gb+f2", 160, 60)
    rep = E.say(E.REP_LINES, voice, wpm, pitch)
    start = 0.5 + len(cust) / E.RATE + 0.6
    return E.build_call([E.Part("customer", 0.5, cust), E.Part("rep", start, rep)])


def talkover_call(snr_db=None, seed=0):
    """Four turns with two talk-overs: the rep cuts into the customer's question, and the
    customer cuts into the rep's explanation, each where the other is plainly speaking
    (not in a lull between words, where who started first would be a coin toss)."""
    q = E.say(E.CUSTOMER_LINES, "en-gb+f2", 160, 60)
    a = E.say(E.REP_CUTS_IN, "en-us", 170, 45)
    b = E.say(E.CUSTOMER_REPLY, "en-gb+f2", 170, 60)
    c = E.say(E.REP_LINES, "en-us", 170, 45)
    d = E.say(E.CUSTOMER_CUTS_IN, "en-gb+f2", 180, 60)
    t_q = 0.5
    t_a = t_q + E.steady_time(q, 0.7 * len(q) / E.RATE, len(a) / E.RATE)  # rep cuts in
    t_b = t_a + len(a) / E.RATE + 0.6
    t_c = t_b + len(b) / E.RATE + 0.5
    t_d = t_c + E.steady_time(c, 0.55 * len(c) / E.RATE, len(d) / E.RATE)  # customer
    parts = [E.Part("customer", t_q, q), E.Part("rep", t_a, a), E.Part("customer", t_b, b),
             E.Part("rep", t_c, c), E.Part("customer", t_d, d)]
    return E.build_call(parts, snr_db=snr_db, seed=seed)


# name -> builder (also used by bench/verify_margins.py)
CALLS = {
    "talkover-clean": lambda: talkover_call(),
    "talkover-noisy": lambda: talkover_call(snr_db=15.0, seed=1),
    "reading-fast": lambda: reading_call("en-us+m7", 45, 240),
    "reading-slow-female": lambda: reading_call("en-us+f3", 60, 120),
}


@pytest.fixture(scope="session")
def rate_table(espeak):
    """voice -> list of the engine's rate (syllables/s) at RATES_WPM."""
    out = {}
    for voice, pitch in VOICES:
        row = []
        for wpm in RATES_WPM:
            pcm, _ = reading_call(voice, pitch, wpm)
            res = analyze_pcm(pcm[:, 0], pcm[:, 1], Params())
            row.append(res["rate"]["articulation_rate_sps"])
        out[voice] = row
    print("rate (syl/s) at %s wpm:" % (RATES_WPM,))
    for voice, row in out.items():
        print("  %-10s %s" % (voice, " ".join("%.2f" % r for r in row)))
    return out


# ------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("voice", [v for v, _ in VOICES])
def test_rate_rises_with_set_rate(rate_table, voice):
    rho = spearmanr(RATES_WPM, rate_table[voice])[0]
    assert rho >= RANK_MIN - 1e-9, (voice, rate_table[voice], rho)


# From 120 to 240 wpm the engine's rate rises 1.83-1.89x, not 2x. The syllable counts
# stay at 75-80 for the passage's 76 vowels at every rate; most of the gap is talk
# time, which grows 1.86-1.91x, not 2x (the VAD's onset and hangover are fixed per
# speech run), so even an exact count lands 4.5-7 % low.
@pytest.mark.parametrize("voice", [v for v, _ in VOICES])
def test_rate_ratio_matches_set_ratio(rate_table, voice):
    lo, hi = (RATES_WPM.index(w) for w in RATIO_PAIR)
    got = rate_table[voice][hi] / rate_table[voice][lo]
    want = RATIO_PAIR[1] / RATIO_PAIR[0]
    assert abs(got / want - 1) <= RATIO_TOL, (voice, got, want)


def praat_comparison(pm, pcm, fixed_f0):
    """(median |error| cents, gross fraction, frames) of the engine's F0 (cents re 55 Hz,
    per frame) against Praat's pitch of the same channel, on frames both call voiced.

    The engine searches on even frames over a 48 ms block ending with the frame, whose
    30 ms window and lag centre about 28 ms before its end, and the pitch path decides
    5 searches (10 frames) late, holding each estimate for two frames: frame i describes
    the time (j - 9) * 10 ms - 28 ms, j = i rounded down to even; Praat's nearest frame
    is used.
    """
    snd = pm.Sound(pcm.astype(np.float64) / 32768.0, sampling_frequency=E.RATE)
    pitch = snd.to_pitch_ac(time_step=0.01, pitch_floor=60.0, pitch_ceiling=400.0)
    hz = pitch.selected_array["frequency"]
    ts = pitch.xs()
    i = np.arange(len(fixed_f0))
    t = (i - i % 2 - 9) * 0.01 - 0.028
    k = np.clip(np.round((t - ts[0]) / 0.01).astype(int), 0, len(ts) - 1)
    near = np.abs(ts[k] - t) < 0.006
    praat = np.where(near, hz[k], 0.0)
    both = (fixed_f0 > 0) & (praat > 0)
    err = np.abs(fixed_f0[both] - 1200 * np.log2(praat[both] / 55.0))
    return float(np.median(err)), float(np.mean(err > 1200 * math.log2(1.2))), int(both.sum())


def engine_f0(pcm):
    from callcue.analysis.verify import fixed_trace

    return fixed_trace(pcm[:, 0], pcm[:, 1]).f0_cents


@pytest.mark.parametrize("voice,pitch", PITCH_VOICES)
def test_pitch_agrees_with_praat(espeak, parselmouth, voice, pitch):
    pcm, _ = reading_call(voice, pitch, PITCH_WPM)
    median, gross, n = praat_comparison(parselmouth, pcm[:, 0], engine_f0(pcm))
    print("%s -p %d: median |error| %.1f cents, gross %.2f %% over %d frames"
          % (voice, pitch, median, 100 * gross, n))
    assert n > 500
    assert median <= PRAAT_MEDIAN_CENTS
    assert gross <= PRAAT_GROSS


@pytest.mark.parametrize("name", ["talkover-clean", "talkover-noisy"])
def test_talkover_events_match_overlaps(espeak, name):
    pcm, truth = CALLS[name]()
    found = analyze_pcm(pcm[:, 0], pcm[:, 1], Params())["talkover_events"]
    want = truth["overlaps"]
    # the material is what it claims: two talk-overs, no pause inside either that could
    # end it (the engine bridges talkover_gap_ms)
    assert [o["interrupter"] for o in want] == ["rep", "customer"]
    assert all(o["end_s"] - o["start_s"] > 1.0 for o in want), want
    assert all(o["longest_pause_s"] < 0.25 for o in want), want
    assert len(found) == len(want), (found, want)
    for got, true in zip(found, want, strict=True):
        assert got["interrupter"] == true["interrupter"], (got, true)
        assert abs(got["start_s"] - true["start_s"]) <= ONSET_TOL_S, (got, true)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_verify_passes_on_espeak_calls(espeak, name):
    pcm, _ = CALLS[name]()
    res = verify_pcm(pcm[:, 0], pcm[:, 1])
    bad = [(c.id, c.upstream, c.value) for c in res.checks if not c.ok]
    assert not bad, bad
