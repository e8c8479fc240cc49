"""The callcue command end to end, as a user runs it (a subprocess of `python -m callcue`).

Covers `synth` (scenarios, WAV + truth), `analyze` against the analysis-JSON contract
(schema callcue.analysis/1, host/callcue/analysis/ANALYSIS.md), the accepted input
encodings and rates, the two-mono-file form, and every kind of bad input: one stderr
line naming the file, exit code 2, no traceback, and no output file left behind.
"""

import json
import math

import numpy as np
import pytest
import soundfile as sf

SCENARIO_COUNT = 10  # at least: the ten call scenarios (helpers such as calibration may add)
CUES = {"talkover", "fast", "flat", "dead_air"}
SECOND_CUES = CUES | {"none"}


# ------------------------------------------------------------------------ contract check


def _num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _num_or_null(x):
    return x is None or _num(x)


def check_contract(doc, duration_s):
    """Assert every key and type of schema callcue.analysis/1 (extra keys are allowed)."""
    assert doc["schema"] == "callcue.analysis/1"
    assert _num(doc["duration_s"]) and doc["duration_s"] == pytest.approx(duration_s, abs=1e-3)
    assert doc["dsp_rate_hz"] == 8000

    talk = doc["talk"]
    for key in ("rep_s", "customer_s", "overlap_s", "silence_s"):
        assert _num(talk[key]) and talk[key] >= 0, key
    assert talk["overlap_s"] <= min(talk["rep_s"], talk["customer_s"]) + 1e-9
    covered = talk["rep_s"] + talk["customer_s"] - talk["overlap_s"] + talk["silence_s"]
    assert covered == pytest.approx(duration_s, abs=0.011)  # the final partial frame

    assert isinstance(doc["talkover_events"], list)
    for ev in doc["talkover_events"]:
        assert _num(ev["start_s"]) and _num(ev["end_s"])
        assert 0 <= ev["start_s"] < ev["end_s"] <= duration_s + 1e-9
        assert ev["interrupter"] in ("rep", "customer")

    rate = doc["rate"]
    assert isinstance(rate["syllables"], int) and rate["syllables"] >= 0
    assert _num(rate["rep_speaking_s"]) and rate["rep_speaking_s"] == talk["rep_s"]
    if rate["rep_speaking_s"] > 0:
        expect = rate["syllables"] / rate["rep_speaking_s"]
        assert rate["articulation_rate_sps"] == pytest.approx(expect, abs=1e-3)
    else:
        assert rate["articulation_rate_sps"] is None

    pitch = doc["pitch"]
    assert _num(pitch["voiced_s"]) and 0 <= pitch["voiced_s"] <= duration_s
    if pitch["voiced_s"] > 0:
        assert _num(pitch["median_hz"]) and 55 <= pitch["median_hz"] <= 500
        assert _num(pitch["sd_semitones"]) and pitch["sd_semitones"] >= 0
    else:
        assert pitch["median_hz"] is None and pitch["sd_semitones"] is None

    assert isinstance(doc["cues"], list)
    last_end = {}
    for cue in doc["cues"]:
        assert cue["cue"] in CUES
        assert _num(cue["start_s"]) and _num(cue["end_s"])
        assert 0 <= cue["start_s"] < cue["end_s"] <= duration_s + 1e-9
        # intervals of one kind do not overlap each other
        assert cue["start_s"] >= last_end.get(cue["cue"], 0.0)
        last_end[cue["cue"]] = cue["end_s"]

    seconds = doc["seconds"]
    assert isinstance(seconds, list) and len(seconds) == math.floor(duration_s)
    for i, rec in enumerate(seconds):
        assert rec["t_s"] == i
        for key in ("rep_active_ms", "customer_active_ms", "overlap_ms"):
            assert isinstance(rec[key], int) and 0 <= rec[key] <= 1000, key
        assert rec["overlap_ms"] <= min(rec["rep_active_ms"], rec["customer_active_ms"])
        assert isinstance(rec["syllables"], int) and rec["syllables"] >= 0
        for key in ("rate_sps", "pitch_hz", "pitch_sd_st"):
            assert _num_or_null(rec[key]), key
        assert rec["cue"] in SECOND_CUES
    # The per-second records and the call totals count the same talk: the totals hold
    # the records plus at most the final partial second.
    tail_s = duration_s - math.floor(duration_s)
    for total, field in (
        ("rep_s", "rep_active_ms"),
        ("customer_s", "customer_active_ms"),
        ("overlap_s", "overlap_ms"),
    ):
        in_records = sum(rec[field] for rec in seconds) / 1000
        assert -1e-6 <= talk[total] - in_records <= tail_s + 1e-6, total

    assert isinstance(doc["params"], dict) and doc["params"]
    assert all(isinstance(v, int) for v in doc["params"].values())


def analyze_json(callcue, tmp_path, *inputs, name="out.json"):
    out = tmp_path / name
    proc = callcue("analyze", *inputs, "--json", out)
    assert proc.returncode == 0, proc.stderr
    assert "analysis JSON" in proc.stdout
    return json.loads(out.read_text())


# ------------------------------------------------------------------------------- synth


def test_help_lists_subcommands(callcue):
    proc = callcue("--help")
    assert proc.returncode == 0
    assert "synth" in proc.stdout and "analyze" in proc.stdout


def test_synth_list_shows_the_scenarios(callcue):
    from callcue.analysis.synth import SCENARIOS

    proc = callcue("synth", "--list")
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    names = [ln.split()[0] for ln in lines]
    expected = [n for n, _ in (SCENARIOS.items() if hasattr(SCENARIOS, "items") else SCENARIOS)]
    assert len(names) == len(expected) >= SCENARIO_COUNT
    assert names == list(expected)
    assert "rep-interrupts" in names  # the `make run` demo


def test_synth_writes_wav_and_truth(callcue, tmp_path):
    wav = tmp_path / "call.wav"
    proc = callcue("synth", wav, "--scenario", "rep-interrupts", "--seed", "1", "--duration", "20")
    assert proc.returncode == 0, proc.stderr
    assert wav.is_file()
    info = sf.info(str(wav))
    assert info.channels == 2 and info.format == "WAV"
    assert info.frames / info.samplerate == pytest.approx(20, abs=0.01)
    printed = proc.stdout.split()
    truth = [p for p in printed if p.endswith(".json")]
    assert truth and str(wav) in printed
    assert json.loads(open(truth[0]).read())  # the ground truth parses


def test_synth_same_seed_same_file(callcue, tmp_path):
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    for p in (a, b):
        proc = callcue(
            "synth", p, "--scenario", "rep-interrupts", "--seed", "7", "--duration", "20"
        )
        assert proc.returncode == 0, proc.stderr
    assert np.array_equal(sf.read(str(a))[0], sf.read(str(b))[0])


def test_synth_unknown_scenario(callcue, tmp_path):
    out = tmp_path / "x.wav"
    proc = callcue("synth", out, "--scenario", "no-such-thing", "--seed", "1")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "no-such-thing" in proc.stderr
    assert not out.exists()


def test_analyze_synth_call_is_contract_complete(callcue, tmp_path):
    wav = tmp_path / "call.wav"
    proc = callcue(
        "synth", wav, "--scenario", "rep-interrupts", "--seed", "1", "--duration", "20.5"
    )
    assert proc.returncode == 0, proc.stderr
    info = sf.info(str(wav))
    doc = analyze_json(callcue, tmp_path, wav)
    check_contract(doc, info.frames / info.samplerate)


# ----------------------------------------------------------------------------- analyze


@pytest.fixture(scope="module")
def base_call(tmp_path_factory, make_speech_call):
    """A 3.55 s speech-like call at 8 kHz, 16-bit, and its analysis."""
    from callcue.cli import main

    folder = tmp_path_factory.mktemp("base")
    wav = folder / "call.wav"
    sf.write(str(wav), make_speech_call(8000, 3.55), 8000, subtype="PCM_16")
    out = folder / "call.json"
    assert main(["analyze", str(wav), "--json", str(out)]) == 0
    return wav, json.loads(out.read_text())


def test_analyze_summary(callcue, base_call):
    wav, _ = base_call
    proc = callcue("analyze", wav)
    assert proc.returncode == 0, proc.stderr
    for word in ("talk", "overlap", "talk-over", "rate", "pitch", "cues"):
        assert word in proc.stdout
    assert proc.stderr == ""


def test_analyze_json_to_stdout(callcue, base_call):
    wav, doc = base_call
    proc = callcue("analyze", wav, "--json", "-")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == doc


def test_contract_document_matches_the_output(base_call):
    """ANALYSIS.md's example has every key a real analysis has, at every level, and no
    other (params aside: the example shows two of them)."""
    import re
    from pathlib import Path

    import callcue.analysis

    text = (Path(callcue.analysis.__file__).parent / "ANALYSIS.md").read_text()
    example = json.loads(re.search(r"```json\n(.*?)```", text, re.S).group(1))
    _, doc = base_call

    def shape(x):
        if isinstance(x, dict):
            return {k: shape(v) for k, v in x.items()}
        if isinstance(x, list):
            return [shape(x[0])] if x else []
        return None

    real, documented = shape(doc), shape(example)
    assert set(documented["params"]) <= set(real.pop("params"))
    documented.pop("params")
    for key in ("talkover_events", "cues"):   # the short call may have none
        if not real[key]:
            real[key] = documented[key]
    assert documented == real


def test_analyze_contract_and_partial_second(base_call):
    _, doc = base_call
    check_contract(doc, 3.55)
    assert len(doc["seconds"]) == 3
    # the call has speech on both sides and a planted overlap
    assert doc["talk"]["rep_s"] > 1.0 and doc["talk"]["customer_s"] > 1.0


@pytest.mark.parametrize(
    "rate_hz, subtype",
    [
        (16000, "PCM_16"),
        (44100, "PCM_24"),
        (8000, "PCM_24"),
        (8000, "PCM_32"),
        (48000, "FLOAT"),
        (8000, "FLOAT"),
        (11025, "DOUBLE"),
    ],
)
def test_analyze_rates_and_encodings(
    callcue, tmp_path, make_speech_call, base_call, rate_hz, subtype
):
    wav = tmp_path / f"call_{rate_hz}_{subtype}.wav"
    sf.write(str(wav), make_speech_call(rate_hz, 3.55), rate_hz, subtype=subtype)
    doc = analyze_json(callcue, tmp_path, wav)
    check_contract(doc, sf.info(str(wav)).frames / rate_hz)
    # The same speech at another rate or encoding is heard much the same by the engine.
    _, ref = base_call
    for key in ("rep_s", "customer_s"):
        assert doc["talk"][key] == pytest.approx(ref["talk"][key], abs=0.15), key


def test_wavio_16bit_8k_is_bit_exact(tmp_path):
    from callcue.analysis import wavio

    rng = np.random.default_rng(3)
    pcm = rng.integers(-32768, 32768, size=(1000, 2), dtype=np.int16)
    wav = tmp_path / "exact.wav"
    sf.write(str(wav), pcm, 8000, subtype="PCM_16")
    rep, cust, info = wavio.read_call(wav)
    assert rep.dtype == np.int16 and cust.dtype == np.int16
    assert np.array_equal(rep, pcm[:, 0]) and np.array_equal(cust, pcm[:, 1])
    assert info["rate_hz"] == 8000 and info["frames"] == 1000


def test_wavio_float_clips_to_int16():
    from callcue.analysis import wavio

    y = wavio.to_dsp_int16(np.array([-2.0, -1.0, -0.5, 0.0, 0.5, 0.99999, 1.0, 2.0]), 8000)
    assert y.tolist() == [-32768, -32768, -16384, 0, 16384, 32767, 32767, 32767]


def test_analyze_rep_customer_mono_pair(callcue, tmp_path, base_call):
    wav, doc = base_call
    x, rate = sf.read(str(wav), dtype="int16")
    a, b = tmp_path / "rep.wav", tmp_path / "cust.wav"
    sf.write(str(a), x[:, 0], rate, subtype="PCM_16")
    sf.write(str(b), x[:, 1], rate, subtype="PCM_16")
    pair = analyze_json(callcue, tmp_path, "--rep", a, "--customer", b)
    assert pair == doc
    # a mono rep file given as CALL.wav with --customer is the same call
    assert analyze_json(callcue, tmp_path, a, "--customer", b, name="o2.json") == doc


def test_analyze_param_override(callcue, tmp_path, base_call):
    wav, doc = base_call
    name = next(iter(doc["params"]))
    value = doc["params"][name]
    out = analyze_json(callcue, tmp_path, wav, "--param", f"{name}={value}")
    assert out["params"][name] == value
    proc = callcue("analyze", wav, "--param", "no_such_param=1")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "no_such_param" in proc.stderr


# ------------------------------------------------------------------------- bad input


def _bad_missing(d, call):
    return [d / "missing.wav"], "missing.wav"


def _bad_text(d, call):
    p = d / "notes.wav"
    p.write_text("this is not audio\n")
    return [p], "notes.wav"


def _bad_flac(d, call):
    p = d / "call.flac"
    sf.write(str(p), sf.read(str(call))[0], 8000, format="FLAC")
    return [p], "call.flac"


def _bad_empty_file(d, call):
    p = d / "empty.wav"
    p.write_bytes(b"")
    return [p], "empty.wav"


def _bad_zero_frames(d, call):
    p = d / "zero.wav"
    sf.write(str(p), np.zeros((0, 2)), 8000, subtype="PCM_16")
    return [p], "zero.wav"


def _bad_mono(d, call):
    p = d / "mono.wav"
    sf.write(str(p), sf.read(str(call))[0][:, 0], 8000, subtype="PCM_16")
    return [p], "mono.wav"


def _bad_truncated(d, call):
    p = d / "cut.wav"
    data = call.read_bytes()
    p.write_bytes(data[: len(data) // 2])  # header still promises every frame
    return [p], "cut.wav"


def _bad_header_only(d, call):
    p = d / "head.wav"
    p.write_bytes(call.read_bytes()[:30])
    return [p], "head.wav"


def _bad_encoding(d, call):
    p = d / "ulaw.wav"
    sf.write(str(p), sf.read(str(call))[0], 8000, subtype="ULAW")
    return [p], "ulaw.wav"


def _bad_adpcm(d, call):
    p = d / "adpcm.wav"
    sf.write(str(p), sf.read(str(call))[0], 8000, subtype="IMA_ADPCM")
    return [p], "adpcm.wav"


def _bad_pair_rates(d, call):
    x = sf.read(str(call))[0]
    a, b = d / "rep.wav", d / "cust16k.wav"
    sf.write(str(a), x[:, 0], 8000, subtype="PCM_16")
    sf.write(str(b), np.repeat(x[:, 1], 2), 16000, subtype="PCM_16")
    return ["--rep", a, "--customer", b], "cust16k.wav"


def _bad_pair_stereo(d, call):
    x = sf.read(str(call))[0]
    b = d / "cust.wav"
    sf.write(str(b), x[:, 1], 8000, subtype="PCM_16")
    return ["--rep", call, "--customer", b], call.name


def _bad_three_channels(d, call):
    p = d / "three.wav"
    sf.write(str(p), np.zeros((8000, 3)), 8000, subtype="PCM_16")
    return [p], "three.wav"


BAD_INPUTS = {
    "missing-file": _bad_missing,
    "not-a-wav": _bad_text,
    "flac-not-wav": _bad_flac,
    "empty-file": _bad_empty_file,
    "zero-frames": _bad_zero_frames,
    "mono-without-customer": _bad_mono,
    "truncated-data": _bad_truncated,
    "truncated-header": _bad_header_only,
    "ulaw-encoding": _bad_encoding,
    "adpcm-encoding": _bad_adpcm,
    "pair-different-rates": _bad_pair_rates,
    "pair-stereo-rep": _bad_pair_stereo,
    "three-channels": _bad_three_channels,
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_analyze_bad_input(callcue, tmp_path, base_call, case):
    inputs, named = BAD_INPUTS[case](tmp_path, base_call[0])
    outdir = tmp_path / "out"
    outdir.mkdir()
    out = outdir / "result.json"
    proc = callcue("analyze", *inputs, "--json", out)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stderr.endswith("\n") and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("callcue: error: ")
    assert named in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    assert list(outdir.iterdir()) == []  # neither the JSON nor a temp file


def test_analyze_bad_output_folder(callcue, tmp_path, base_call):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = blocker / "result.json"  # a "folder" that is a file
    proc = callcue("analyze", base_call[0], "--json", out)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "result.json" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stderr.endswith(f": {blocker} is not a folder\n"), proc.stderr  # not "File exists"
    assert proc.stdout == ""


def test_params_lists_every_parameter(callcue):
    from dsp.params import TABLE

    proc = callcue("params")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert len(lines) == len(TABLE)
    for line, (name, default, lo, hi, _) in zip(lines, TABLE):
        assert line.split()[:3] == [name, str(default), "%d..%d" % (lo, hi)]
    rows = json.loads(callcue("params", "--json").stdout)
    assert [r["name"] for r in rows] == [row[0] for row in TABLE]


# -------------------------------------------------------------- the command's rough edges


HEAVY = ("numpy", "scipy", "matplotlib", "soundfile", "pyarrow", "psycopg", "rich")


@pytest.mark.parametrize("argv", [["--help"], ["--version"], []], ids=["help", "version",
                                                                        "none"])
def test_top_level_imports_nothing_heavy(argv):
    """`callcue --help`, `--version` (and a bare `callcue`, which says what is missing)
    build the subcommand table without the modules behind it: no numpy, scipy,
    matplotlib, ... (pyserial is light and registered by the package for sim:// URLs)."""
    import subprocess
    import sys

    code = ("import json, sys\n"
            "from callcue.cli import main\n"
            "try:\n"
            f"    main({argv!r})\n"
            "except SystemExit:\n"
            "    pass\n"
            "sys.stderr.write(json.dumps(sorted(sys.modules)))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=60)
    modules = json.loads(r.stderr.splitlines()[-1])
    assert "callcue.cli" in modules
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert heavy == [], heavy
    if argv == ["--help"]:
        assert "analyze" in r.stdout and "logs" in r.stdout
    if argv == ["--version"]:
        assert r.stdout.startswith("callcue ")


def test_a_subcommand_still_builds_its_own_arguments(callcue):
    for argv, word in ((["sim", "--help"], "--records"), (["logs", "export", "--help"],
                                                          "parquet (needs pyarrow)")):
        r = callcue(*argv)
        assert r.returncode == 0 and word in r.stdout, r.stderr


def test_analyze_json_as_a_flag(callcue, tmp_path, base_call):
    """`--json` alone prints the analysis JSON on stdout as elsewhere in callcue, before or
    after CALL.wav; --json FILE and --json - still work; a WAV is never written over."""
    wav, doc = base_call
    for argv in ((wav, "--json"), ("--json", wav)):
        r = callcue("analyze", *argv)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout) == doc
    other = tmp_path / "other.wav"
    other.write_bytes(wav.read_bytes())
    r = callcue("analyze", "--json", other, wav)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--json" in r.stderr
    assert other.read_bytes() == wav.read_bytes()


def test_verify_takes_the_two_sides_as_analyze_does(callcue, tmp_path, base_call):
    """`verify mono.wav` suggests --customer: verify takes it (and --rep) like analyze,
    and gives the same figures as for the stereo file."""
    wav, _ = base_call
    x, rate = sf.read(str(wav), dtype="int16")
    a, b = tmp_path / "rep.wav", tmp_path / "cust.wav"
    sf.write(str(a), x[:, 0], rate, subtype="PCM_16")
    sf.write(str(b), x[:, 1], rate, subtype="PCM_16")
    r = callcue("verify", a)
    assert r.returncode == 2 and "--customer B.wav" in r.stderr
    stereo = json.loads(callcue("verify", wav, "--json").stdout)
    for argv in ((a, "--customer", b), ("--rep", a, "--customer", b)):
        r = callcue("verify", *argv, "--json")
        assert r.returncode in (0, 1), r.stderr
        doc = json.loads(r.stdout)
        assert doc["checks"] == stereo["checks"] and doc["ok"] == stereo["ok"]
    r = callcue("verify", wav, wav, "--customer", b)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--customer" in r.stderr


def test_only_resampling_and_the_reference_import_scipy(tmp_path):
    """scipy.signal costs about a second of start-up: the modules behind the device
    commands, the virtual dongle and `analyze` leave it out, and reading an 8 kHz WAV does
    too; a 16 kHz WAV, which needs resampling, brings it in."""
    import subprocess
    import sys

    wav8, wav16 = tmp_path / "8k.wav", tmp_path / "16k.wav"
    sf.write(wav8, np.zeros((800, 2), np.int16), 8000, subtype="PCM_16")
    sf.write(wav16, np.zeros((1600, 2), np.int16), 16000, subtype="PCM_16")
    code = ("import sys\n"
            "import callcue.commands.logs, callcue.commands.device, callcue.sim.dongle\n"
            "import callcue.sim.protocol_sim, callcue.analysis.analyze\n"
            "from callcue.analysis import wavio\n"
            "wavio.read_call(sys.argv[1])\n"
            "print('scipy' in sys.modules)\n"
            "wavio.read_call(sys.argv[2])\n"
            "print('scipy' in sys.modules)\n")
    r = subprocess.run([sys.executable, "-c", code, str(wav8), str(wav16)],
                       capture_output=True, text=True, timeout=60)
    assert r.stdout.split() == ["False", "True"], r.stderr
