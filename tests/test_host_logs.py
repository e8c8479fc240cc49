"""`callcue devices`, `device`, `logs list|pull|export` end to end against the virtual dongle
over a pseudo-terminal: an interrupted pull resumes, a second pull adds nothing, --delete
deletes only what the archive verifiably holds, and errors are one line naming the port."""

import csv
import json
import os
import sqlite3

import numpy as np
import pytest
import serial
import soundfile
from callcue import synth
from callcue.archive import Archive
from callcue.device import Device
from callcue.firmware.sessionlog import decode_session

from .host_sim import PtySim


@pytest.fixture(scope="module")
def dongle(tmp_path_factory, micropython):
    """Two calls (a 20 s one, 35 s of silence that ends it, a 15 s one) played through the
    virtual dongle; its two session logs wait on the pty to be pulled."""
    folder = tmp_path_factory.mktemp("dongle")
    pcm, _ = synth.render("rep-interrupts", seed=2, duration_s=20.0)
    gap = np.zeros((35 * 8000, 2), np.int16)
    pcm = np.concatenate([pcm, gap, pcm[: 15 * 8000], gap[: 8000 * 32]])
    wav = folder / "two-calls.wav"
    soundfile.write(wav, pcm, 8000, subtype="PCM_16")
    sim = PtySim(wav, "--speed", "0", "--storage", folder / "flash")
    try:
        sim.wait_done()
        yield sim
    finally:
        sim.close()


def _one_line_error(r, *words):
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("callcue: error: "), r.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_devices_and_device_commands(dongle, callcue):
    r = callcue("devices", "--port", dongle.port)
    assert r.returncode == 0, r.stderr
    assert dongle.port in r.stdout and "cc-sim-0001" in r.stdout and "0.1.0" in r.stdout

    r = callcue("device", "info", "--port", dongle.port, "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["device_id"] == "cc-sim-0001" and info["capture_done"]

    r = callcue("device", "config", "set", "fast_on_csps=520", "--port", dongle.port, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["params"] == {"fast_on_csps": 520}
    r = callcue("device", "config", "get", "--port", dongle.port, "--json")
    assert json.loads(r.stdout)["effective"]["fast_on_csps"] == 520
    r = callcue("device", "config", "set", "fast_on_csps=default", "--port", dongle.port,
                "--json")
    assert json.loads(r.stdout)["params"] == {}

    r = callcue("device", "time", "set", "--unix", "1800000000", "--port", dongle.port,
                "--json")
    assert r.returncode == 0, r.stderr
    assert abs(json.loads(r.stdout)["time"] - 1800000000) <= 2

    _one_line_error(callcue("device", "config", "set", "nonsense=1", "--port", dongle.port),
                    dongle.port, "nonsense")
    _one_line_error(callcue("device", "config", "set", "fast_on_csps=fast",
                            "--port", dongle.port), "integer")


def test_errors_name_the_port_and_never_hang(tmp_path, callcue):
    _one_line_error(callcue("device", "info", "--port", tmp_path / "ttyACM9"),
                    "ttyACM9", "callcue devices")
    # a port where something answers garbage: a clear error within the request timeout
    master, slave = os.openpty()
    try:
        os.write(master, b"\x00\xffgarbage\r\nmore garbage\n" * 50)
        r = callcue("logs", "list", "--port", os.ttyname(slave), timeout=60)
        _one_line_error(r, os.ttyname(slave), "callcue flash")
    finally:
        os.close(master)
        os.close(slave)
    _one_line_error(callcue("logs", "export", "--archive", tmp_path / "none"), "logs pull")


class _Unplugged(Exception):
    pass


class FlakyPort:
    """A serial port that 'vanishes' after `writes` requests (as a yanked USB cable)."""

    def __init__(self, port, writes):
        self.port, self.left = port, writes

    def __getattr__(self, name):
        return getattr(self.port, name)

    def __setattr__(self, name, value):
        if name in ("port", "left"):
            object.__setattr__(self, name, value)
        else:
            setattr(self.port, name, value)

    def write(self, data):
        if b"get_session" in data:
            self.left -= 1
            if self.left < 0:
                raise serial.SerialException("device reports readiness to read but "
                                             "returned no data (unplugged?)")
        return self.port.write(data)


def test_pull_resume_idempotent_delete_export(dongle, tmp_path, callcue):
    from callcue import logs

    port = dongle.port
    r = callcue("logs", "list", "--port", port, "--json")
    assert r.returncode == 0, r.stderr
    on_device = json.loads(r.stdout)
    assert len(on_device) == 2
    total_records = sum(s["records"] for s in on_device)

    archive = tmp_path / "archive"
    # 1. interrupted: the link goes away after a few chunks of the first session
    with Device(FlakyPort(serial.serial_for_url(port, timeout=0.05), writes=4)) as dev, \
            Archive(archive) as ar:
        with pytest.raises(serial.SerialException):
            logs.pull_all(dev, ar, chunk=64, say=lambda msg: None)
        parts = list((archive / "partial").iterdir())
        assert len(parts) == 1 and parts[0].stat().st_size == 4 * 64
        assert ar.counts()["sessions"] == 0

    # 2. resumed by the command: continues at byte 256, imports both sessions
    r = callcue("logs", "pull", "--port", port, "--archive", archive, "--chunk", "64")
    assert r.returncode == 0, r.stderr
    assert "resuming at byte 256" in r.stdout
    assert "2 new, 0 already archived, 0 deleted" in r.stdout
    assert not list((archive / "partial").iterdir())

    db = sqlite3.connect(archive / "callcue.sqlite")
    counts = [db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
              for t in ("devices", "sessions", "records")]
    assert counts == [1, 2, total_records]
    # the archived records are the device's log, decoded by the device's own format
    for (raw,) in db.execute("SELECT raw FROM sessions"):
        _, recs = decode_session(raw)
        assert len(recs) > 10

    # 3. pulled again: adds nothing
    r = callcue("logs", "pull", "--port", port, "--archive", archive)
    assert r.returncode == 0, r.stderr
    assert "0 new, 2 already archived, 0 deleted" in r.stdout
    assert [db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("devices", "sessions", "records")] == counts

    # 4. exports
    out = tmp_path / "calls.csv"
    r = callcue("logs", "export", "--archive", archive, "--format", "csv", "--out", out)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == total_records and rows[0]["device_id"] == "cc-sim-0001"
    r = callcue("logs", "export", "--archive", archive, "--format", "jsonl")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(lines) == total_records and {x["session_id"] for x in lines} == {
        s["id"] for s in on_device}
    r = callcue("logs", "export", "--archive", archive, "--format", "parquet", "--out",
                tmp_path / "calls.parquet")
    try:
        import pyarrow  # noqa: F401
        assert r.returncode == 0, r.stderr
    except ImportError:
        _one_line_error(r, "pyarrow")

    # 5. --delete: the device deletes what the archive verifiably holds; nothing is left
    r = callcue("logs", "pull", "--port", port, "--archive", archive, "--delete")
    assert r.returncode == 0, r.stderr
    assert "2 deleted from the device" in r.stdout
    r = callcue("logs", "list", "--port", port, "--json")
    assert json.loads(r.stdout) == []
    assert db.execute("SELECT COUNT(*) FROM records").fetchone()[0] == total_records
    db.close()
