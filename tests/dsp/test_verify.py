"""`callcue verify`: the fixed-point engine within its documented tolerances of the float
reference on every synthetic scenario and on worst-case inputs; verify catches a broken
stage; the command's output, JSON, plot, exit codes and bad-input handling."""

import json
from array import array

import numpy as np
import pytest
import soundfile as sf
from scipy import signal

from callcue import cli
from callcue.analysis import synth, verify
from dsp.engine import Engine
from dsp.params import Params

from ..signals import worst_cases

_cache = {}


def synth_call(scenario, seed=0, seconds=60.0):
    key = (scenario, seed, seconds)
    if key not in _cache:
        _cache[key] = synth.render(scenario, seed=seed, duration_s=seconds)[0]
    return _cache[key]


def _assert_within(res):
    bad = ["%s (%s): %s %s %s" % (c.id, c.upstream, c.value, c.tolerance.op,
                                  c.tolerance.limit) for c in res.checks if not c.ok]
    assert not bad, bad


@pytest.mark.parametrize("scenario", list(synth.SCENARIOS))
def test_every_scenario_within_tolerance(scenario):
    pcm = synth_call(scenario)
    res = verify.verify_pcm(pcm[:, 0], pcm[:, 1])
    _assert_within(res)
    by = {(c.id, c.upstream): c.value for c in res.checks}
    # the figures are measured, not skipped: speech at a normal level has them all
    assert all(v is not None for (cid, _), v in by.items() if cid.split(".")[0] in
               ("bandpass", "lowpass", "level", "pitch", "rate", "spread")), by


def _speech(gain):
    pcm = synth_call("rep-interrupts").astype(np.float64) * gain
    return np.clip(np.rint(pcm), -32768, 32767).astype(np.int16)


def _chirp(amp):
    t = np.arange(8000 * 6) / 8000
    x = np.rint(amp * 32767 * signal.chirp(t, 50, t[-1], 3900, method="logarithmic"))
    return x.astype(np.int16)


def worst_set():
    """tests/signals.py's worst cases plus speech turned down to -40 dBFS, speech turned
    up 12 dB into clipping, and a near-full-scale chirp through the whole band."""
    cases = dict(worst_cases())
    cases["speech -40 dBFS"] = (_speech(0.1)[:, 0], _speech(0.1)[:, 1])
    cases["speech clipping"] = (_speech(4.0)[:, 0], _speech(4.0)[:, 1])
    c = _chirp(0.99)
    cases["chirp 0.99 FS"] = (c, c[::-1].copy())
    return cases


@pytest.mark.parametrize("name", list(worst_set()))
def test_worst_cases_within_tolerance(name):
    rep, cust = worst_set()[name]
    res = verify.verify_pcm(rep, cust)
    _assert_within(res)
    if name in ("square", "steps", "clipped", "speech clipping"):
        assert res.overload["rep"] > 0          # the band-pass saturates, and is told so
    if name == "silence":
        assert res.overload == {"rep": 0, "customer": 0, "pitch low-pass": 0}


def test_every_check_has_a_documented_tolerance():
    pcm = synth_call("noisy-line")
    res = verify.verify_pcm(pcm[:30 * 8000, 0], pcm[:30 * 8000, 1])
    ids = {c.id for c in res.checks}
    assert ids == set(verify.TOLERANCES)
    for cid, tol in verify.TOLERANCES.items():
        assert tol.op in (">=", "<=") and tol.unit and len(tol.reason) > 30, cid
    stages = {c.stage for c in res.checks}
    assert stages == {"bandpass", "lowpass", "level", "crosstalk", "vad", "talkover",
                      "dead_air", "pitch", "syllables", "rate", "spread", "cues"}


# -------------------------------------------------------------- verify catches a bug


def _breaks(change):
    class Broken(Engine):
        def __init__(self, params, viper=True):
            super().__init__(params, viper)
            change(self)

    return Broken


def _gain_error(eng):                 # band-pass numerators 3 % high
    eng.bp[0] = eng.bp[0] * 103 // 100
    eng.bp[2] = -eng.bp[0]


def _talkover_min(eng):               # talk-over minimum 100 ms short
    eng.talkover.min_frames -= 10


def _pitch_threshold(eng):            # voicing level 40 points stricter
    eng.pitch.cfg[0] += 410


def _cue_max_on(eng):                 # cues go dark 1 s early
    eng.cues.max_on -= 100


def _hangover(eng):                   # 50 ms more hangover on the customer
    eng.vad_cust.hangover += 5


@pytest.mark.parametrize("change,caught,scenario", [
    (_gain_error, "bandpass.snr", "turn-taking"),
    (_talkover_min, "talkover.agree_engine", "rep-interrupts"),
    (_pitch_threshold, "pitch.voicing_engine", "turn-taking"),
    (_cue_max_on, "cues.agree_engine", "dead-air"),
    (_hangover, "vad.agree_engine", "turn-taking"),
])
def test_a_broken_stage_is_caught(monkeypatch, change, caught, scenario):
    monkeypatch.setattr(verify, "Engine", _breaks(change))
    pcm = synth_call(scenario)
    res = verify.verify_pcm(pcm[:, 0], pcm[:, 1])
    failed = {c.id for c in res.checks if not c.ok}
    assert caught in failed, (caught, failed)


def test_fixed_trace_is_what_analyze_sees():
    """The trace verify keeps is the engine's own output, frame for frame."""
    from callcue.analysis.analyze import analyze_pcm

    pcm = synth_call("rep-interrupts", seconds=30.0)
    fx = verify.fixed_trace(pcm[:, 0], pcm[:, 1])
    doc = analyze_pcm(pcm[:, 0], pcm[:, 1], Params())
    assert fx.syllable.sum() == doc["rate"]["syllables"]
    assert [(round(s / 100, 2), round(e / 100, 2)) for s, e, _ in fx.events] == [
        (ev["start_s"], ev["end_s"]) for ev in doc["talkover_events"]]
    eng = Engine(Params())
    a = array("h", pcm[:80, 0].tobytes())
    b = array("h", pcm[:80, 1].tobytes())
    eng.process(a, b)
    assert list(eng.x[0]) == list(fx.x_rep[:80])


# ------------------------------------------------------------------------ the command


@pytest.fixture(scope="module")
def call_wav(tmp_path_factory):
    path = tmp_path_factory.mktemp("verify") / "call.wav"
    sf.write(str(path), synth_call("noisy-line", seed=2, seconds=30.0), 8000,
             subtype="PCM_16")
    return path


def test_command_prints_every_stage_and_passes(callcue, call_wav, tmp_path):
    png = tmp_path / "out.png"
    r = callcue("verify", call_wav, "--plot", png)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for stage in ("bandpass", "lowpass", "level", "crosstalk", "vad", "talkover",
                  "dead_air", "pitch", "syllables", "rate", "spread", "cues"):
        assert "\n" + stage + " " in out, stage
    assert "SNR" in out and "LSB" in out and "cents" in out
    assert "verify: %d checks, all within tolerance" % len(verify.TOLERANCES) in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20000
    assert "plot: " + str(png) in out


def test_command_json(callcue, call_wav):
    r = callcue("verify", call_wav, "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["schema"] == "callcue.verify/1" and doc["ok"] is True
    assert doc["frames"] == 3000 and doc["duration_s"] == 30.0
    assert {c["id"] for c in doc["checks"]} == set(verify.TOLERANCES)
    for c in doc["checks"]:
        assert set(c) >= {"stage", "check", "upstream", "value", "unit", "op", "limit", "ok",
                          "reason"}
        assert c["ok"] is True


def test_command_several_calls(callcue, call_wav, tmp_path):
    other = tmp_path / "other.wav"
    sf.write(str(other), synth_call("dead-air", seconds=30.0), 8000, subtype="PCM_16")
    r = callcue("verify", call_wav, other, "--json", "--plot", tmp_path / "p.png")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [c["file"] for c in doc["calls"]] == [str(call_wav), str(other)]
    assert (tmp_path / "p-call.png").exists() and (tmp_path / "p-other.png").exists()


def test_out_of_tolerance_exits_1(monkeypatch, capsys, call_wav):
    monkeypatch.setitem(verify.TOLERANCES, "bandpass.max_err",
                        verify.Tolerance("<=", 0.01, "LSB", "impossible, for this test"))
    assert cli.main(["verify", str(call_wav)]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "1 outside tolerance: bandpass.max_err" in out


@pytest.mark.parametrize("make,reason", [
    (lambda d: d / "missing.wav", "no such file"),
    (lambda d: (d / "text.wav").write_text("hello") and d / "text.wav", "not a WAV"),
])
def test_bad_input_is_one_line(callcue, tmp_path, make, reason):
    path = make(tmp_path)
    r = callcue("verify", path)
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("callcue: error: %s: " % path), r.stderr
    assert reason in lines[0]


def test_mono_and_bad_plot_path_are_one_line(callcue, tmp_path, call_wav):
    mono = tmp_path / "mono.wav"
    sf.write(str(mono), synth_call("turn-taking", seconds=30.0)[:, 0], 8000)
    r = callcue("verify", mono)
    assert r.returncode == 2 and "mono WAV" in r.stderr and len(r.stderr.splitlines()) == 1
    r = callcue("verify", call_wav, "--plot", tmp_path / "no" / "such" / "p.png")
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1
    assert r.stderr.startswith("callcue: error: ")
    r = callcue("verify")
    assert r.returncode == 2 and "give one or more CALL.wav" in r.stderr
    r = callcue("verify", call_wav, "--param", "talkover_min_ms=5")
    assert r.returncode == 2 and "talkover_min_ms: 5 is outside" in r.stderr
