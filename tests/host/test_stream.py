"""`callcue stream` end to end against the virtual dongle over a pseudo-terminal: records to
CSV and JSON lines, survives the device going away and coming back, and exits cleanly."""

import csv
import datetime as dt
import json
import signal
import subprocess
import sys
import time

from callcue.device import human

from ..host_sim import PtySim, write_call


def test_stream_records_csv_and_jsonl(micropython, tmp_path, callcue):
    wav = write_call(tmp_path / "call.wav", seconds=20.0)
    sim = PtySim(wav, "--speed", "5", "--loop")
    t0 = time.time()
    try:
        r = callcue("stream", "--port", sim.port, "--seconds", "10", "--csv",
                    tmp_path / "s.csv", "--jsonl", tmp_path / "s.jsonl", timeout=60)
    finally:
        sim.close()
    assert r.returncode == 0, r.stderr
    recs = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    with (tmp_path / "s.csv").open(newline="") as f:
        reader = csv.DictReader(f)
        # the columns of `logs export`: one set, in people's units
        assert tuple(reader.fieldnames) == human.NAMES
        rows = list(reader)
    assert rows == [{k: "" if v is None else str(v) for k, v in rec.items()} for rec in recs]
    secs = [rec for rec in recs if rec["kind"] == "second"]
    assert len(secs) == 10
    assert all(b["t_s"] == a["t_s"] + 1 for a, b in zip(secs, secs[1:]))
    for rec in secs:
        assert rec["device"] == "cc-sim-0001" and rec["session"] is None
        assert rec["cue"] in ("none", "talkover", "fast", "flat", "dead_air")
        assert rec["rate_syl_s"] is None or 0 < rec["rate_syl_s"] < 15
        assert rec["pitch_hz"] is None or 55 <= rec["pitch_hz"] <= 500
        assert rec["pitch_sd_st"] is None or 0 <= rec["pitch_sd_st"] <= 12
        assert 0 <= rec["overlap_ms"] <= min(rec["rep_talk_ms"], rec["customer_talk_ms"])
        # this host's local time the second began: now-ish, with the UTC offset
        when = dt.datetime.fromisoformat(rec["time"])
        assert when.utcoffset() is not None and abs(when.timestamp() - t0) < 120
    assert any(rec["pitch_hz"] for rec in secs), secs
    for rec in recs:
        if rec["kind"] == "talkover":
            assert rec["interrupter"] in ("rep", "customer") and rec["end_s"] > rec["start_s"]
            assert rec["rate_syl_s"] is None and rec["cue"] is None
    assert "rate" in r.stdout and "cue" in r.stdout and "recorded 10 records" in r.stdout


def test_stream_survives_replug_and_ctrl_c(micropython, tmp_path):
    """The device 'unplugged' (its pty stops answering) and back on the same path: the
    stream says so, carries on, and Ctrl-C ends it with exit 0."""
    wav = write_call(tmp_path / "call.wav", seconds=20.0)
    sim = PtySim(wav, "--speed", "5", "--loop")
    proc = subprocess.Popen(
        [sys.executable, "-m", "callcue", "stream", "--port", sim.port, "--jsonl",
         tmp_path / "s.jsonl"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # as at a terminal: a test runner started in the background (`pytest &` without job
        # control) has SIGINT ignored, the child would inherit that, and Ctrl-C do nothing
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        jsonl = tmp_path / "s.jsonl"
        deadline = time.monotonic() + 30
        while not (jsonl.exists() and jsonl.read_text().count("\n") >= 2):
            assert time.monotonic() < deadline, "no records streamed"
            time.sleep(0.2)
        sim.proc.send_signal(signal.SIGSTOP)       # the dongle stops answering
        time.sleep(10)                             # > 3 s quiet + 2 s ping timeout
        sim.proc.send_signal(signal.SIGCONT)       # ... and is back
        n = jsonl.read_text().count("\n")
        deadline = time.monotonic() + 30
        while jsonl.read_text().count("\n") < n + 3:
            assert time.monotonic() < deadline, "no records after the device came back"
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
        sim.proc.send_signal(signal.SIGCONT)
        sim.close()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "connection lost" in out and "reconnected" in out
    lines = (tmp_path / "s.jsonl").read_text().splitlines()
    assert len(lines) >= 5



def test_stream_gives_up_when_the_device_stays_gone(micropython, tmp_path):
    """--give-up S: the device gone (its pty closed) for S seconds ends the stream with one
    line and exit 1; what was streamed stays recorded."""
    wav = write_call(tmp_path / "call.wav", seconds=20.0)
    sim = PtySim(wav, "--speed", "5", "--loop")
    jsonl = tmp_path / "s.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "callcue", "stream", "--port", sim.port, "--give-up", "1",
         "--jsonl", jsonl], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not (jsonl.exists() and jsonl.read_text().count("\n") >= 2):
            assert time.monotonic() < deadline, "no records streamed"
            time.sleep(0.1)
    finally:
        sim.close()
    try:
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    assert err.startswith(f"callcue: error: {sim.port}: gone for ") and err.count("\n") == 1
    assert "connection lost" in out
    assert len(jsonl.read_text().splitlines()) >= 2


def test_stream_bad_input_leaves_no_files(tmp_path, callcue):
    """A port that is not there, a --jsonl it cannot write, --seconds 0, --give-up below 0:
    one line each, and no empty --csv/--jsonl files left behind."""
    csv_path, jsonl = tmp_path / "s.csv", tmp_path / "s.jsonl"
    r = callcue("stream", "--port", tmp_path / "ttyNOPE", "--csv", csv_path, "--jsonl",
                jsonl, timeout=30)
    assert r.returncode == 1 and r.stdout == "", r.stdout
    assert r.stderr.startswith(f"callcue: error: {tmp_path / 'ttyNOPE'}: no such port")
    r = callcue("stream", "--port", tmp_path / "ttyNOPE", "--csv", csv_path, "--jsonl",
                tmp_path / "none" / "s.jsonl", timeout=30)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "none/s.jsonl: No such file or directory" in r.stderr
    for opt, value in (("--seconds", "0"), ("--give-up", "-1")):
        r = callcue("stream", "--port", tmp_path / "ttyNOPE", opt, value, "--csv", csv_path,
                    timeout=30)
        assert r.returncode == 2 and r.stderr.startswith(f"callcue: error: {opt}: "), r.stderr
        assert r.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []

def test_stream_counts_talkovers_by_interrupter():
    """The dashboard's talk-over counts come from the device's EVT talkover lines, by
    interrupter (the same three fields the session log's event records keep)."""
    from callcue.commands.stream import Tally

    t = Tally()
    for who in (0, 1, 1, 0, 1):
        t.add_event({"ev": "talkover", "start_f": 10, "end_f": 80, "interrupter": who})
    t.add_event({"ev": "boot", "firmware": "0.1.0"})
    assert t.talkovers == {"rep": 2, "customer": 3}
    t.last = {"t_s": 3, "rep_active_ms": 0, "customer_active_ms": 0, "overlap_ms": 0,
              "rate_csps": -1, "pitch_sd_cents": -1, "cue": 0}
    assert "talk-overs rep 2 cust 3" in t.line()
