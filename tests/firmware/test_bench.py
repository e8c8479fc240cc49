"""The benchmark runs: `make bench` (bench/run_bench.py) on a short input writes a
well-formed results file, and bench/pico/bench.py runs under the unix port and ends with its
device_bench line. No timing is asserted: the figures are measurements, not pass/fail."""

import json
import os
import re
import subprocess
import sys

import pytest

from .. import mpyrun

ROOT = mpyrun.ROOT


def test_firmware_bench_runs_under_unix_port(micropython):
    env = dict(os.environ, MICROPYPATH=str(ROOT))
    for extra in ([], ["--plain"]):
        p = subprocess.run(
            [micropython, str(ROOT / "bench" / "pico" / "bench.py"), "--seconds", "3", *extra],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        assert p.returncode == 0, p.stderr
        lines = p.stdout.strip().splitlines()
        assert re.fullmatch(
            r"device_bench: engine_us_per_audio_s=\d+ cpu_pct=\d+\.\d\d "
            r"alloc_per_frame=0 heap_free=\d+ heap_frames_us_per_audio_s=\d+ "
            r"pitch_pct=\d+\.\d\d core0_pct=\d+\.\d\d core1_pct=\d+\.\d\d",
            lines[-1],
        ), lines[-1]
        # records equal with frames on the heap, heap locked, and stage by stage
        assert "bench: stages_match=1" in lines
        # the C stack the locked frame path needs: real bytes, below what the thread has,
        # and the pitch step (core 1's part) within the whole engine's
        stack = [ln for ln in lines if ln.startswith("bench: stack ")]
        st = dict(w.split("=") for w in stack[0].split()[2:])
        st = {k: int(v) for k, v in st.items()}
        assert 0 < st["pitch_step"] <= st["process"] < st["usable"], st
        two = [ln for ln in lines if ln.startswith("bench: two_cores")]
        assert two and two[0].endswith("records_match=1"), two   # pitch on a second thread
        stages = [ln.split()[1] for ln in lines if ln.startswith("stage:")]
        assert stages == ["filters", "energy_vad", "pitch", "syllables", "cue"]


def test_frame_loop_bench_runs_under_unix_port(micropython):
    """bench/pico/bench_loop.py: App.step with the session log on a LittleFS in RAM; the
    session opens on the first second with voice and gets a record every second."""
    env = dict(os.environ, MICROPYPATH=str(ROOT))
    p = subprocess.run([micropython, str(ROOT / "bench" / "pico" / "bench_loop.py"), "--seconds",
                        "4"], capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr
    d = {}
    for line in p.stdout.splitlines():
        assert line.startswith("loop: "), line
        d.update((k, int(v)) for k, v in (w.split("=") for w in line.split()[1:]))
    assert d["frames"] == 400 and d["second_frames"] == 4
    assert d["session"] == 1 and d["records"] == 4 and d["session_open_frame"] == 99
    assert 0 < d["mean_us"] <= d["worst_us"] and d["append_mean_us"] > 0


def test_make_bench_quick_writes_results(micropython, tmp_path):
    p = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run_bench.py"),
            "--quick",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    res = json.loads((tmp_path / "results.json").read_text())
    for key in (
        "engine",
        "stages",
        "ops",
        "rp2040",
        "mpy_bytes",
        "memory",
        "analyze",
        "firmware",
        "latency",
        "log",
        "goals",
        "device_bench",
    ):
        assert key in res, key
    e = res["engine"]
    assert e["plain_us_per_audio_s"] > 0 and e["viper_us_per_audio_s"] > 0
    assert e["alloc_per_frame"] == {"plain": 0, "viper": 0}
    assert set(res["stages"]["viper"]["us_per_audio_s"]) == {
        "filters",
        "energy_vad",
        "pitch",
        "syllables",
        "cue",
    }
    assert res["stages"]["viper"]["stages_match"] == 1
    assert res["ops"]["python_calls_per_audio_s"] > 0
    assert res["ops"]["viper_iterations_per_audio_s"]["biquad_q13"] > 0
    assert 0 < res["rp2040"]["cpu_pct"] < 100 and res["rp2040"]["assumptions"]
    tc = res["rp2040"]["two_cores"]
    assert 0 < tc["core1_pct"] and 0 < tc["core0_pct"] < res["rp2040"]["cpu_pct"]
    assert res["stages"]["viper"]["two_cores"]["records_match"] is True
    assert all(v > 0 for v in res["mpy_bytes"].values())
    assert "dsp/engine.mpy" in res["mpy_bytes"]
    assert res["analyze"]["fast_equals_cpython"] is True
    assert res["firmware"]["records_equal_analyze"] is True
    for cue in ("talkover", "dead_air", "fast", "flat"):
        assert {"onsets", "cued", "median_ms", "p90_ms"} <= set(res["latency"][cue])
    assert res["log"]["record_bytes_per_s"] == 32
    assert [g["met"] in (True, False) for g in res["goals"]] == [True] * 4
    md = (tmp_path / "results.md").read_text()
    assert md.startswith("# callcue benchmark results")
    for heading in (
        "## Goals",
        "## Engine time per second",
        "### Per stage",
        "## Operation counts",
        "### RP2040 estimate",
        "## Memory",
        "## Host `callcue analyze`",
        "## Cue latency",
        "## Log size",
    ):
        assert heading in md, heading
    assert "device_bench: engine_us_per_audio_s=" in md


def test_analyze_fast_path_identical_to_cpython(monkeypatch):
    """analyze_pcm gives the same document on the micropython+viper path as on CPython,
    with non-default params and channels of unequal length (padding)."""
    from callcue.analysis import analyze, synth
    from dsp.params import Params

    if analyze.micropython_engine() is None:
        pytest.skip("no micropython")
    pcm, _ = synth.render("rep-interrupts", 3, 20.0)
    rep, cust = pcm[:, 0], pcm[: len(pcm) - 123, 1]
    p = Params(talkover_min_ms=300, pitch_min_hz=80)
    fast = analyze.analyze_pcm(rep, cust, p)
    monkeypatch.setenv("CALLCUE_ENGINE", "cpython")
    assert analyze.micropython_engine() is None
    ref = analyze.analyze_pcm(rep, cust, p)
    assert json.dumps(fast) == json.dumps(ref)
    assert ref["seconds"] and ref["talkover_events"]
