"""The float reference (callcue.analysis.reference) does what its definitions say, stage by stage,
on hand-made inputs, and reads the engine's own designs and parameters."""

import inspect

import numpy as np
import pytest
from scipy import signal

from callcue.analysis import design, reference
from dsp.cues import DEAD_AIR, FAST, FLAT, NONE, TALKOVER
from dsp.params import NAMES, Params
from dsp.talkover import CUSTOMER, REP

P = Params()
RATE = 8000


def test_reads_every_parameter_of_the_shared_table():
    """A change of any default moves the reference as well as the engine."""
    source = inspect.getsource(reference)
    for name in NAMES:
        assert "p." + name in source, name


def test_filters_are_the_shared_scipy_designs():
    x = np.random.default_rng(0).integers(-20000, 20000, 1600).astype(np.int16)
    np.testing.assert_array_equal(reference.bandpass(x),
                                  signal.sosfilt(design.bandpass_sos(), x.astype(float)))
    np.testing.assert_array_equal(reference.lowpass(x),
                                  signal.sosfilt(design.lowpass_sos(), x.astype(float)))
    assert len(reference.bandpass(x[:-7])) == 1520      # whole frames only


def test_level_of_full_scale_square_and_silence():
    square = np.where(np.arange(80) % 2, 32767.0, -32767.0)
    assert reference.level_db(reference.frame_energy(square))[0] == pytest.approx(
        reference.FS_DB)
    assert reference.FS_DB == pytest.approx(85.26, abs=0.01)
    assert list(reference.level_db([0.0, 1.0, 10.0])) == [0.0, 0.0, 10.0]


def test_noise_floor_falls_fast_and_rises_slowly():
    level = np.array([60.0] + [20.0] * 40 + [60.0] * 100)
    floor = reference.noise_floor(level, P)
    assert floor[0] == 60.0
    assert floor[1] == pytest.approx(60 - 40 / 8)
    assert floor[40] == pytest.approx(20.0, abs=0.2)
    rise = P.floor_rise_db_per_min / 6000
    assert floor[140] - floor[41] == pytest.approx(99 * rise)


def test_crosstalk_gate():
    # sidetone 12 dB - margin 4: the customer must come within 8 dB of the mic level
    rep_ok, cust_ok = reference.crosstalk(np.array([70.0, 70.0, 40.0]),
                                          np.array([58.0, 63.0, 70.0]), P)
    assert list(cust_ok) == [False, True, True]
    assert list(rep_ok) == [True, True, False]   # echo 25 - 4: within 21 dB


def _vad(pattern):
    level = np.where(np.asarray(pattern, bool), 60.0, 20.0)
    return reference.vad(level, np.full(len(level), 20.0), np.ones(len(level), bool), P)


def test_vad_onset_hangover_and_talk_credit():
    onset = P.vad_onset_ms // 10
    hang = P.vad_hangover_ms // 10
    a = _vad([0] * 5 + [1] * 30 + [0] * 3 + [1] * 20 + [0] * 50)
    first = 5 + onset - 1
    assert not a.active[:first].any() and a.active[first]
    assert a.active[35:38].all()                      # a short dip is bridged
    end = 58 + hang                                   # active through the hangover
    assert a.active[:end].sum() == end - first and not a.active[end:].any()
    assert a.start[40] == first
    assert a.talk[35:38].all()                        # the bridged gap is talk time
    assert not a.talk[58:].any()                      # the closing hangover is not
    assert a.speech.sum() == 30 - (onset - 1) + 20


def test_vad_threshold_has_hysteresis_and_a_minimum():
    n = 60
    floor = np.full(n, 40.0)
    ok = np.ones(n, bool)
    level = np.full(n, 40.0 + P.vad_on_db + 1)
    level[30:] = 40.0 + (P.vad_off_db + P.vad_on_db) / 2   # between off and on: stays on
    assert reference.vad(level, floor, ok, P).active[5:].all()
    quiet = np.full(n, reference.FS_DB + P.vad_min_dbfs - 1)   # below vad_min_dbfs
    assert not reference.vad(quiet, quiet - 30, ok, P).active.any()
    assert not reference.vad(level, floor, np.zeros(n, bool), P).active.any()   # gated


def test_talkover_minimum_gap_and_interrupter():
    n = 300
    rep = np.zeros(n, bool)
    cust = np.zeros(n, bool)
    cust[10:200] = True
    rep[100:120] = True           # 200 ms overlap: not a talk-over
    rep[145:175] = True           # 300 ms more after a 250 ms break (< the gap): one run
    start_r = np.where(rep, np.maximum.accumulate(np.where(rep & ~np.roll(rep, 1),
                                                           np.arange(n), 0)), 0)
    start_c = np.full(n, 10)
    speaking = np.ones(n, bool)
    confirmed, events = reference.talkover(rep, cust, start_r, start_c, speaking, speaking, P)
    assert P.talkover_min_ms == 300
    assert events == [(100, 175, REP)]
    assert confirmed[154] and not confirmed[153]       # the 30th overlapping frame
    assert confirmed[175 + 29] and not confirmed[175 + 30]   # gap allowance after
    # only frames the interrupter speaks on count: the hangover's do not
    held = speaking.copy()
    held[150:175] = False         # the rep is only held active (hangover) from 150
    assert reference.talkover(rep, cust, start_r, start_c, held, speaking, P)[1] == []
    # ... but the other party's hangover does
    assert reference.talkover(rep, cust, start_r, start_c, speaking, held, P)[1] == events
    # the customer starting later is the interrupter
    _, events = reference.talkover(rep, cust, np.zeros(n), np.full(n, 5), speaking, speaking, P)
    assert events[0][2] == CUSTOMER
    # a short overlap alone is nothing
    rep[145:] = False
    assert reference.talkover(rep, cust, start_r, start_c, speaking, speaking, P)[1] == []


def test_dead_air_after_the_limit_until_speech_or_call_end():
    limit = P.dead_air_ms // 10
    n = 5000
    anyone = np.zeros(n, bool)
    anyone[100:200] = True
    anyone[900:1000] = True
    dead = reference.dead_air(anyone, P)
    assert not dead[:100].any()                        # no call yet
    assert dead[200 + limit - 1 : 900].all() and not dead[200 + limit - 2]
    call_end = P.call_end_ms // 10        # then the call has ended: no more dead air
    assert dead[1000 + limit - 1 : 1000 + call_end - 1].all()
    assert not dead[1000 + call_end - 1 :].any()
    short = Params(dead_air_ms=1000, call_end_ms=5000)
    dead = reference.dead_air(anyone, short)
    assert dead[1000 + 99] and dead[1000 + 498] and not dead[1000 + 499]


def _harmonic(f0, seconds=1.0, amp=8000.0):
    t = np.arange(int(seconds * RATE)) / RATE
    x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6))
    return np.rint(amp * x / np.max(np.abs(x)))


@pytest.mark.parametrize("f0", [70.0, 110.0, 180.0, 260.0, 380.0])
def test_pitch_of_a_harmonic_tone(f0):
    lp = reference.lowpass(reference.bandpass(_harmonic(f0)))
    active = np.ones(len(lp) // 80, bool)
    cents, raw = reference.pitch(lp, active, P)
    want = 1200 * np.log2(f0 / 55.0)
    # the path decides 5 searches (10 frames) late; the block fills in 48 ms
    assert np.all(np.abs(cents[20:] - want) < 5), (cents[20:30], want)
    assert np.all(raw[10:] > 0)                  # voiced at once, for the syllables
    assert np.all(cents[21::2] == cents[20::2][: len(cents[21::2])])   # held a frame


def test_pitch_silent_inactive_and_out_of_range():
    lp = reference.lowpass(reference.bandpass(_harmonic(150.0)))
    n = len(lp) // 80
    assert not np.any(reference.pitch(lp, np.zeros(n, bool), P))
    assert not np.any(reference.pitch(np.zeros(8000), np.ones(100, bool), P))
    low = reference.lowpass(reference.bandpass(_harmonic(150.0)))
    narrow = Params(pitch_min_hz=200, pitch_max_hz=400)
    f0, raw = reference.pitch(low, np.ones(n, bool), narrow)
    # 150 Hz is out of range: nothing, or its octave (300 Hz, in range) - never 150
    assert not np.any(np.abs(f0[f0 > 0] - 1200 * np.log2(150 / 55.0)) < 600)


def test_pitch_spread_window_minimum_and_clip():
    f0 = np.zeros(3000)
    f0[:300] = 2000.0
    f0[300:600] = 2200.0
    sd, mean = reference.pitch_spread(f0, P)
    # 4000 ms voiced before an SD: seconds 0-2 have 100-300 voiced frames
    assert np.all(np.isnan(sd[:3])) and sd[3] == pytest.approx(reference.spread_sd(f0[:400]))
    assert sd[5] == pytest.approx(100.0)
    assert mean[0] == 2000.0 and mean[4] == 2200.0 and np.isnan(mean[7])
    f0[590:600] = 3400.0                                      # octave errors
    sd2, _ = reference.pitch_spread(f0, P)
    # clipped at 2.5 x IQR / 1.349 = 370 cents from the median: the ten wrong frames
    # move the SD by a few cents, not the ~94 an unclipped SD would show
    assert sd2[5] == pytest.approx(reference.spread_sd(f0[:600]))
    assert 100 < sd2[5] < 150
    assert np.std(f0[:600]) > sd2[5] + 60      # unclipped: 194


def _bumps(centres, heights, n, width=8, base=40.0):
    """An envelope (dB) of raised-cosine bumps `width` frames wide on a flat base."""
    env = np.full(n, base)
    k = np.arange(width)
    shape = 0.5 - 0.5 * np.cos(2 * np.pi * (k + 0.5) / width)
    for c, h in zip(centres, heights, strict=True):
        env[c - width // 2:c - width // 2 + width] = base + (h - base) * shape
    return env


def test_syllables_peaks_dips_gates_and_equal_peaks():
    """Nuclei of the averaged envelope, counted when the dip after them confirms them;
    the loudness, voicing and activity gates; a plateau is one nucleus."""
    env = _bumps([10, 30, 50, 70], [60.0, 60.0, 50.0, 60.0], 90)
    f0 = np.full(90, 2000.0)
    active = np.ones(90, bool)
    count, peaks = reference.syllables(env, f0, active, P)
    # the window (0.18 x 22 - 1 = 2.96 frames at the start) lags the envelope by a frame
    assert list(peaks) == [10, 30, 50, 70]
    assert count.sum() == 4 and all(count[p + 1:p + 6].sum() == 1 for p in peaks)
    # 50 is 10 dB below the loudest recent nucleus (within syl_peak_db = 18); 25 dB is not
    assert P.syl_peak_db == 18
    low_one = _bumps([10, 30, 50, 70], [60.0, 60.0, 35.0, 60.0], 90, base=10.0)
    assert list(reference.syllables(low_one, f0, active, P)[1]) == [10, 30, 70]
    f0[44:58] = 0.0            # unvoiced from its rise to its dip: no nucleus
    assert list(reference.syllables(env, f0, active, P)[1]) == [10, 30, 70]
    f0[:] = 2000.0
    active[48:54] = False      # the rep is not active at the peak: no nucleus
    assert list(reference.syllables(env, f0, active, P)[1]) == [10, 30, 70]
    # a plateau with no dip in it is one nucleus, at its first frame
    env2 = np.full(60, 40.0)
    env2[10:30] = 60.0
    count, peaks = reference.syllables(env2, np.full(60, 2000.0), np.ones(60, bool), P)
    assert list(peaks) == [12] and count.sum() == 1


def test_syllables_voiced_by_low_band_at_the_peak():
    """A peak with no F0 between its valley and its dip still counts when its 20 ms hold
    `syl_low_pct` % of the energy below 600 Hz at the peak frame, and only there."""
    env = _bumps([10, 30], [60.0, 58.0], 50)
    f0 = np.zeros(50)
    active = np.ones(50, bool)
    assert reference.syllables(env, f0, active, P)[0].sum() == 0
    low = np.zeros(50, bool)
    low[30] = True             # the second peak (of the averaged envelope)
    low[12] = True             # beside the first: no nucleus
    assert list(reference.syllables(env, f0, active, P, low)[1]) == [30]
    # the share: the last two frames' low-band energy against the whole band's
    e_all = np.full(4, 1000.0)
    e_low = np.array([0.0, 240.0, 0.0, 10.0])
    assert list(reference.syllable_low(e_low, e_all, P)) == [False, True, True, False]
    assert P.syl_low_pct == 12


def _spoken(tempo, n_syl=60, period=22.0):
    """Envelope of n_syl syllables at `period` frames / tempo: a vowel of 0.6 period
    with a 6 dB ripple (two halves of a long vowel) and a 15 dB consonant dip."""
    T = period / tempo
    n = int(n_syl * T) + 40
    t = np.arange(n, dtype=np.float64)
    ph = (t % T) / T
    vowel = 45.0 + 15.0 * np.sin(np.pi * np.clip(ph / 0.8, 0, 1)) ** 0.5
    ripple = -6.0 * np.exp(-0.5 * ((ph - 0.4) / 0.06) ** 2)
    env = np.where(t < n_syl * T, vowel + ripple, 40.0)
    return env


@pytest.mark.parametrize("tempo", [0.7, 1.0, 1.4])
def test_syllables_follow_the_period(tempo):
    """A voice slowed or hurried (the same envelope stretched in time) gives the same
    count: the window and dip follow the period the nuclei show, so a long vowel's
    ripple does not split it when slow and the consonant dips still part syllables
    when fast."""
    env = _spoken(tempo)
    n = len(env)
    count, _ = reference.syllables(env, np.full(n, 2000.0), np.ones(n, bool), P)
    assert count.sum() == pytest.approx(60, abs=2)


def test_syllable_window_and_dip():
    """The window is 0.18 period - 1 frames within 1..7.99, the dip grows with the
    square root of the period and is syl_dip_db at 27 frames."""
    win, dip = reference.syllable_window(27 * 16, P)
    assert win == pytest.approx(0.1797 * 27 - 1, abs=0.01) and dip == pytest.approx(5.0)
    assert reference.syllable_window(160, P)[0] == 1.0
    assert reference.syllable_window(800, P)[0] == pytest.approx(800 * 46 / 4096 - 1)
    assert reference.syllable_window(900, P)[0] == pytest.approx(8.0 - 1 / 256)
    assert reference.syllable_window(16 * 12, P)[1] == pytest.approx(5.0 * np.sqrt(12 / 27))


def test_rolling_rate_window_and_minimum():
    syl = np.zeros(2000, int)
    talk = np.zeros(2000, int)
    talk[:1500] = 1
    syl[:1500:25] = 1          # 4 per second of talk
    p10 = Params(rate_window_s=10)
    rate = reference.rolling_rate(syl, talk, p10)
    assert np.isnan(rate[:2]).all()                     # < 3 s of talk
    assert rate[2] == pytest.approx(4.0) and rate[14] == pytest.approx(4.0)
    assert rate[19] == pytest.approx(4.0)               # window holds 5 s of talk
    talk[1000:1500] = 0                                 # no talk in seconds 10..19
    assert np.isnan(reference.rolling_rate(syl, talk, p10)[19])


def test_cue_policy_priority_hysteresis_and_limits():
    n = 3000
    talk = np.zeros(n, bool)
    dead = np.zeros(n, bool)
    rate = np.full(30, np.nan)
    sd = np.full(30, np.nan)
    rate[2:10] = 6.0           # fast from second 3
    talk[500:520] = True       # a short talk-over during the fast cue: takes over
    dead[2000:2900] = True
    base = np.full(30, 400)    # the rep's pace: 5.2 on, but never below 5.5 (fast_on_csps)
    cue = reference.cue_policy(talk, dead, rate, sd, P, base)
    assert cue[299] == NONE and cue[300] == FAST
    assert cue[500] == TALKOVER
    assert np.all(cue[500:600] == TALKOVER)             # lit at least cue_min_on_ms
    assert cue[600] == NONE                             # fast may not relight for 20 s
    assert cue[2000] == DEAD_AIR and cue[2399] == DEAD_AIR and cue[2400] == NONE
    assert not np.any(reference.cue_policy(talk, dead, rate, sd, P) == FAST)   # no pace yet
    sd[12:] = 50.0             # flat from second 13: dead air is lower priority
    cue = reference.cue_policy(talk, dead, rate, sd, P, base)
    assert cue[1300] == FLAT and cue[1700] == NONE


def test_chain_on_a_synthetic_call():
    from callcue.analysis import synth

    pcm, truth = synth.render("rep-interrupts", seed=0, duration_s=30.0)
    t = reference.run(pcm[:, 0], pcm[:, 1], P)
    assert t.frames == 3000 and len(t.rate_sps) == 30
    true = [o for o in truth["overlaps"] if o["kind"] == "talkover"]
    assert [(round(s / 100), who) for s, _, who in t.events] == [
        (round(o["start_s"]), REP if o["interrupter"] == "rep" else CUSTOMER) for o in true]
    rate = t.syllable.sum() / (t.rep_talk.sum() / 100)
    assert rate == pytest.approx(truth["rep"]["rate_sps"], rel=0.1)
