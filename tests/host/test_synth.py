"""Tests for callcue.analysis.synth: determinism, truth consistency and measured signal
properties."""

import functools
import json

import numpy as np
import pytest
import soundfile
from scipy import signal

from callcue.analysis import synth

FS = 8000
INTERRUPTS = {"rep-interrupts": "rep", "customer-interrupts": "customer", "noisy-line": "rep"}
# Engine defaults the expected cues are derived from.
TALKOVER_MIN_S, FAST_SPS, FLAT_ST, DEAD_AIR_S = 0.4, 5.5, 1.0, 5.0


@functools.cache
def call(scenario, seed=0, duration_s=60.0, rate_hz=FS, **overrides):
    pcm, truth = synth.render(scenario, seed, duration_s, rate_hz, **overrides)
    pcm.flags.writeable = False
    return pcm, truth


def mask_of(intervals, n, fs=FS, pad_s=0.0):
    m = np.zeros(n, bool)
    for s, e in intervals:
        m[max(0, round((s - pad_s) * fs)) : round((e + pad_s) * fs)] = True
    return m


def solo_mask(truth, who, n, fs=FS):
    """Samples where `who` speaks and the other party is at least 100 ms away."""
    other = "customer" if who == "rep" else "rep"
    return mask_of(truth[who]["intervals"], n, fs) & ~mask_of(
        truth[other]["intervals"], n, fs, pad_s=0.1
    )


def db_rms(x):
    return 10.0 * np.log10(np.mean(np.square(x, dtype=float)))


# -- API ---------------------------------------------------------------------


def test_scenario_names_in_order():
    assert list(synth.SCENARIOS) == [
        "turn-taking", "rep-interrupts", "customer-interrupts", "backchannels", "fast-rep",
        "slow-rep", "flat-rep", "expressive-rep", "dead-air", "noisy-line", "calibration",
    ]
    assert all(isinstance(d, str) and d for d in synth.SCENARIOS.values())


def test_unknown_scenario_lists_valid_names(tmp_path):
    with pytest.raises(ValueError, match="turn-taking.*noisy-line"):
        synth.write(tmp_path / "x.wav", "no-such-call")
    with pytest.raises(ValueError, match="dead-air"):
        synth.render("Turn-Taking")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("kwargs,says", [
    ({"duration_s": 5.0}, "20-3600 s"), ({"duration_s": 3601.0}, "20-3600 s"),
    ({"rate_hz": 4000}, "8000-96000 Hz"),
    ({"duration_s": 601.0, "rate_hz": 96000}, "at 96000 Hz at most 600 s")])
def test_bad_duration_or_rate(kwargs, says):
    with pytest.raises(ValueError, match=says):
        synth.render("turn-taking", **kwargs)


def test_an_hour_is_allowed():
    # rendering it takes about 22 s and 2.2 GB (synth.MAX_SAMPLES): only the limits here
    synth._check("turn-taking", 3600.0, 8000)
    synth._check("turn-taking", 3600.0, 16000)
    with pytest.raises(ValueError, match="at 16001 Hz at most 3,599 s"):
        synth._check("turn-taking", 3600.0, 16001)


def test_cli_seed_defaults_to_1_and_limits_are_stated(tmp_path):
    from ..conftest import run_callcue

    proc = run_callcue("synth", "--help")
    text = " ".join(proc.stdout.split())
    assert "(default 1)" in text and "57,600,000 samples" in text
    assert f"{synth.MIN_DURATION_S:g}-{synth.MAX_DURATION_S:g}" == "20-3600"   # as cli.py
    assert "20-3600" in text
    assert synth.MAX_SAMPLES == 57_600_000
    wav = tmp_path / "c.wav"
    proc = run_callcue("synth", wav, "--scenario", "dead-air", "--duration", "20")
    assert proc.returncode == 0, proc.stderr
    data, _ = soundfile.read(wav, dtype="int16")
    assert np.array_equal(data, synth.render("dead-air", 1, 20.0)[0])
    assert json.loads((tmp_path / "c.truth.json").read_text())["seed"] == 1
    proc = run_callcue("synth", wav, "--scenario", "dead-air", "--duration", "5000")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "the duration must be 20-3600 s" in proc.stderr



def test_cli_rate_and_paths_it_cannot_write(tmp_path):
    """--rate writes the WAV at that rate, as render() makes it; an OUT.wav that cannot be
    written is one line, exit 2, and leaves neither the WAV nor its truth."""
    from ..conftest import run_callcue

    wav = tmp_path / "c16.wav"
    proc = run_callcue("synth", wav, "--scenario", "dead-air", "--duration", "20",
                       "--rate", "16000")
    assert proc.returncode == 0, proc.stderr
    data, rate = soundfile.read(wav, dtype="int16")
    assert rate == 16000 and data.shape == (320_000, 2)
    assert np.array_equal(data, synth.render("dead-air", 1, 20.0, 16000)[0])
    assert json.loads((tmp_path / "c16.truth.json").read_text())["rate_hz"] == 16000
    (tmp_path / "afile").write_text("")
    for out, why in ((tmp_path / "afile" / "c.wav", "Not a directory"),
                     (tmp_path / "nofolder" / "c.wav", "No such file or directory")):
        proc = run_callcue("synth", out, "--scenario", "dead-air", "--duration", "20")
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr == f"callcue: error: {out}: {why}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "c16.truth.json",
                                                           "c16.wav"]

def test_deterministic():
    pcm, truth = call("rep-interrupts", 3)
    pcm2, truth2 = synth.render("rep-interrupts", 3)
    assert pcm.tobytes() == pcm2.tobytes()
    assert json.dumps(truth) == json.dumps(truth2)
    other, truth3 = synth.render("rep-interrupts", 4)
    assert other.tobytes() != pcm.tobytes()
    assert truth3["rep"]["intervals"] != truth["rep"]["intervals"]


def test_write_wav_and_truth(tmp_path):
    truth_path = synth.write(tmp_path / "call.wav", "dead-air", seed=2, duration_s=20.0)
    assert truth_path == tmp_path / "call.truth.json"
    data, fs = soundfile.read(tmp_path / "call.wav", dtype="int16")
    info = soundfile.info(tmp_path / "call.wav")
    assert (fs, info.channels, info.subtype, info.format) == (FS, 2, "PCM_16", "WAV")
    pcm, truth = synth.render("dead-air", 2, 20.0)
    assert np.array_equal(data, pcm)
    assert json.loads(truth_path.read_text()) == truth


# -- every scenario ------------------------------------------------------------


@pytest.mark.parametrize("scenario", list(synth.SCENARIOS))
def test_scenario_renders_and_truth_is_consistent(scenario):
    pcm, truth = call(scenario)
    assert pcm.dtype == np.int16 and pcm.shape == (60 * FS, 2)
    assert np.abs(pcm.astype(int)).max() < 32000  # no clipping, with headroom
    assert list(truth) == [
        "schema", "scenario", "seed", "rate_hz", "duration_s", "mix", "rep", "customer",
        "overlaps", "dead_air", "expected_cues",
    ] + (["calibration"] if scenario == "calibration" else [])
    assert (truth["schema"], truth["scenario"], truth["seed"]) == ("callcue.truth/1", scenario, 0)
    assert (truth["rate_hz"], truth["duration_s"]) == (FS, 60.0)
    for who in ("rep", "customer"):
        t = truth[who]
        ivals = t["intervals"]
        assert ivals == sorted(ivals) and all(0 <= s < e <= 60.0 for s, e in ivals)
        assert all(e1 < s2 for (_, e1), (s2, _) in zip(ivals, ivals[1:]))
        assert t["syllables"] == len(t["syllable_times"]) > 20
        assert t["speaking_s"] == pytest.approx(sum(e - s for s, e in ivals), abs=1e-3)
        assert t["rate_sps"] == pytest.approx(t["syllables"] / t["speaking_s"], rel=1e-3)
        inside = mask_of(ivals, 60 * FS)
        assert inside[np.round(np.array(t["syllable_times"]) * FS).astype(int)].all()
        track = np.array(t["f0_track"])
        assert inside[np.round(track[:, 0] * FS).astype(int)].all()
        st = 12 * np.log2(track[:, 1] / t["f0_median_hz"])
        assert np.std(st) == pytest.approx(t["f0_sd_semitones"], abs=0.1)
        assert 60 <= track[:, 1].min() and track[:, 1].max() <= 400
    cues = truth["expected_cues"]
    assert sorted(cues["present"] + cues["absent"]) == ["dead_air", "fast", "flat", "talkover"]


@pytest.mark.parametrize("duration_s", [60.0, 36.0])
def test_calibration_sections(duration_s):
    """Silence, then only the rep, then only the customer, each section as the truth says,
    and each party with more than `seconds` (the longest calibrate --seconds) of speech
    in its own section, also counting from the section's start plus `seconds` + 1 s (a
    step that started late)."""
    pcm, truth = call("calibration", 1, duration_s)
    cal = truth["calibration"]
    assert cal["seconds"] == int(duration_s // 12)
    assert cal["start_within_s"] == pytest.approx(0.2 * duration_s - cal["seconds"])
    steps = {s["step"]: (s["start_s"], s["end_s"]) for s in cal["steps"]}
    assert list(steps) == ["silence", "rep", "customer"]
    assert steps["silence"][0] == 0 and steps["customer"][1] == duration_s
    assert steps["silence"][1] == steps["rep"][0] and steps["rep"][1] == steps["customer"][0]
    for who in ("rep", "customer"):
        a, b = steps[who]
        ivals = truth[who]["intervals"]
        assert ivals and all(a < s and e < b for s, e in ivals), (who, ivals)
        assert truth[who]["speaking_s"] > 1.5 * cal["seconds"], truth[who]["speaking_s"]
    assert truth["overlaps"] == [] and truth["dead_air"] == []
    quiet = pcm[: round(steps["silence"][1] * FS)]
    assert db_rms(quiet / 32768) < -60                     # only the noise floor


@pytest.mark.parametrize("scenario", list(synth.SCENARIOS))
def test_expected_cues_match_the_material(scenario):
    _, truth = call(scenario)
    present = set(truth["expected_cues"]["present"])
    overlaps = truth["overlaps"]
    talkovers = [o for o in overlaps if o["kind"] == "talkover"]
    long_talk = [o for o in talkovers if o["end_s"] - o["start_s"] >= TALKOVER_MIN_S]
    assert ("talkover" in present) == bool(long_talk) == bool(talkovers)
    # every scenario keeps the rep at one pace all call: their own pace, so no fast cue
    # on a new dongle (dsp/cues.py); fast-rep's material is fast by the absolute measure
    assert "fast" not in present
    assert (scenario == "fast-rep") == (truth["rep"]["rate_sps"] > FAST_SPS)
    assert ("flat" in present) == (truth["rep"]["f0_sd_semitones"] < FLAT_ST)
    assert ("dead_air" in present) == bool(truth["dead_air"])
    if scenario in INTERRUPTS:
        assert len(talkovers) >= 2 and talkovers[0]["start_s"] > 5.0
        for o in talkovers:
            assert o["interrupter"] == INTERRUPTS[scenario]
            assert 1.0 <= o["end_s"] - o["start_s"] <= 2.0
    if scenario == "noisy-line":
        assert len(talkovers) == 2
    if scenario == "backchannels":
        assert len(overlaps) >= 6 and {o["interrupter"] for o in overlaps} == {"rep", "customer"}
        assert all(o["kind"] == "backchannel" for o in overlaps)
        assert all(o["end_s"] - o["start_s"] <= 0.3 for o in overlaps)
    elif scenario not in INTERRUPTS:
        assert overlaps == []
    if scenario == "dead-air":
        assert len(truth["dead_air"]) == 2
        assert all(8.0 <= e - s <= 10.0 for s, e in truth["dead_air"])
    else:
        assert truth["dead_air"] == []


def test_rates_and_pitch_targets():
    rates = {name: call(name)[1]["rep"]["rate_sps"] for name in synth.SCENARIOS}
    assert rates["fast-rep"] == pytest.approx(6.5, abs=0.3)
    assert rates["slow-rep"] == pytest.approx(2.8, abs=0.2)
    assert rates["turn-taking"] == pytest.approx(4.0, abs=0.3)
    assert call("turn-taking")[1]["customer"]["rate_sps"] == pytest.approx(4.5, abs=0.3)
    sd = {name: call(name)[1]["rep"]["f0_sd_semitones"] for name in synth.SCENARIOS}
    assert sd["flat-rep"] == pytest.approx(0.4, abs=0.05)
    assert sd["expressive-rep"] == pytest.approx(4.0, abs=0.3)
    assert 1.6 <= sd["turn-taking"] <= 2.5


@pytest.mark.parametrize("duration_s", [20.0, 120.0])
@pytest.mark.parametrize("scenario", ["rep-interrupts", "dead-air", "noisy-line"])
def test_events_scale_with_duration(scenario, duration_s):
    _, truth = call(scenario, 1, duration_s)
    n = len(truth["overlaps"]) if scenario != "dead-air" else len(truth["dead_air"])
    if duration_s == 20.0:
        assert n >= 1
    else:
        assert n >= (4 if scenario != "rep-interrupts" else 5)


@pytest.mark.parametrize("rate_hz", [16000, 44100])
def test_other_rates_same_plan(rate_hz):
    pcm, truth = call("customer-interrupts", 5, 20.0, rate_hz)
    _, ref = call("customer-interrupts", 5, 20.0)
    assert pcm.shape == (20 * rate_hz, 2) and np.abs(pcm.astype(int)).max() < 32000
    for who in ("rep", "customer"):
        a, b = np.array(truth[who]["intervals"]), np.array(ref[who]["intervals"])
        assert a.shape == b.shape and np.abs(a - b).max() <= 1.5 / FS
    assert [o["interrupter"] for o in truth["overlaps"]] == ["customer"]


# -- measured signal properties ----------------------------------------------------


@pytest.mark.parametrize("seed, loss", [(0, None), (1, None), (2, None), (3, 12.0), (4, 24.0)])
def test_sidetone_level(seed, loss):
    overrides = {} if loss is None else {"sidetone_loss_db": loss}
    pcm, truth = call("turn-taking", seed, **overrides)
    configured = truth["mix"]["sidetone_loss_db"]
    assert 12.0 <= configured <= 24.0 and (loss is None or configured == loss)
    solo = solo_mask(truth, "rep", len(pcm))
    measured = db_rms(pcm[solo, 0]) - db_rms(pcm[solo, 1])
    assert measured == pytest.approx(configured, abs=1.5)


def test_echo_level():
    pcm, truth = call("turn-taking", 1)
    solo = solo_mask(truth, "customer", len(pcm))
    measured = db_rms(pcm[solo, 1]) - db_rms(pcm[solo, 0])
    assert measured == pytest.approx(truth["mix"]["echo_loss_db"], abs=1.5)


@pytest.mark.parametrize("scenario", ["turn-taking", "noisy-line"])
def test_speech_and_noise_levels(scenario):
    pcm, truth = call(scenario)
    rep = db_rms(pcm[solo_mask(truth, "rep", len(pcm)), 0] / 32768)
    cust = db_rms(pcm[solo_mask(truth, "customer", len(pcm)), 1] / 32768)
    assert -21.5 <= rep <= -18.5 and -23.5 <= cust <= -20.5
    quiet = ~mask_of(truth["rep"]["intervals"] + truth["customer"]["intervals"], len(pcm),
                     pad_s=0.1)
    noise = [db_rms(pcm[quiet, ch] / 32768) for ch in (0, 1)]
    if scenario == "noisy-line":
        assert rep - noise[0] == pytest.approx(truth["mix"]["rep_snr_db"], abs=1.5)
        assert cust - noise[1] == pytest.approx(truth["mix"]["customer_snr_db"], abs=1.5)
    else:
        assert truth["mix"]["rep_snr_db"] is None and truth["mix"]["customer_snr_db"] is None
        assert all(-68 <= x <= -62 for x in noise)


def test_customer_channel_is_telephone_band():
    pcm, truth = call("turn-taking", 2)
    solo = solo_mask(truth, "customer", len(pcm))
    f, p_cust = signal.welch(pcm[solo, 1].astype(float), FS, nperseg=1024)
    _, p_rep = signal.welch(pcm[solo_mask(truth, "rep", len(pcm)), 0].astype(float), FS,
                            nperseg=1024)

    def low_vs_band(p):
        return 10 * np.log10(p[f < 200].sum() / p[(f >= 300) & (f <= 3400)].sum())

    assert low_vs_band(p_cust) < -25.0  # telephone band: little below 200 Hz
    assert low_vs_band(p_rep) > low_vs_band(p_cust) + 10.0  # the mic is not band-limited


def test_syllables_dip_between_nuclei():
    """Consecutive nuclei of a phrase are separated by a dip >= 10 dB (10 ms frames)."""
    pcm, truth = call("fast-rep")
    x = pcm[:, 0].astype(float)
    frame = np.sqrt(np.convolve(x * x, np.ones(80) / 80, mode="same")) + 1e-9
    times = truth["rep"]["syllable_times"]
    dips = []
    for a, b in zip(times, times[1:]):
        if any(s <= a and b <= e for s, e in truth["rep"]["intervals"]):  # same phrase
            ia, ib = round(a * FS), round(b * FS)
            peak = min(frame[ia], frame[ib])
            dips.append(20 * np.log10(peak / frame[ia:ib].min()))
    assert len(dips) > 100 and min(dips) >= 10.0


def test_f0_track_matches_the_waveform():
    """An autocorrelation pitch estimate on ch0 agrees with the truth near nucleus peaks."""
    pcm, truth = call("expressive-rep", 5)  # a female rep: F0 up to ~340 Hz
    x = pcm[:, 0].astype(float)
    track = np.array(truth["rep"]["f0_track"])
    peaks = np.array(truth["rep"]["syllable_times"])
    near = np.abs(track[:, 0][:, None] - peaks[None, :]).min(axis=1) < 0.02
    errors = []
    for t, hz in track[near][::3]:
        i = round(t * FS)
        w = x[i - 160 : i + 160] * np.hanning(320)
        ac = np.correlate(w, w, "full")[319:]
        ac /= np.correlate(np.ones(320), np.ones(320), "full")[319:] * ac[0] / 320
        lo, hi = FS // 400, FS // 60
        lag = lo + int(np.argmax(ac[lo:hi]))
        a, b, c = ac[lag - 1 : lag + 2]
        lag += 0.5 * (a - c) / (a - 2 * b + c)
        errors.append(abs(12 * np.log2(FS / lag / hz)))
    errors = np.array(errors)
    assert len(errors) > 50
    assert np.median(errors) < 0.1 and np.mean(errors < 0.5) > 0.95
