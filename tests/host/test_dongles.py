"""Virtual dongles kept in folders, pulled like real ones, end to end with the real
`micropython`: `callcue sim CALL.wav ... --dongle DIR` plays calls into a dongle's flash
(each a session with its own start, 0 overruns), `--port sim://DIR` plugs it in (no call
playing) and keeps what it is told, `logs pull --rep --team` archives its calls with the
rep's assignment, a paced call never loses audio to a busy host, and bad input is one
line."""

import datetime as dt
import json
import subprocess
import sys

import pytest

from callcue.archive.store import Archive
from callcue.device.client import Device
from callcue.sim import dongle as simulator
from firmware.logformat import decode_log

from .. import mpyrun
from ..conftest import one_line_error, run_callcue
from ..host_sim import write_call


def _ok(r):
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


@pytest.fixture(scope="module")
def calls(tmp_path_factory, micropython):
    """Two short synthetic calls and a third for a second rep."""
    folder = tmp_path_factory.mktemp("calls")
    return {
        "a": write_call(folder / "a.wav", 25.0, "rep-interrupts", 1),
        "b": write_call(folder / "b.wav", 20.0, "fast-rep", 2),
        "c": write_call(folder / "c.wav", 20.0, "customer-interrupts", 3),
    }


def _local(ts):
    return dt.datetime.fromtimestamp(ts)


def test_team_of_dongles_into_one_archive(calls, tmp_path):
    """Two calls into one dongle (on two dates), one into another; each pulled over
    sim://DIR with its rep: 3 sessions with distinct ids and starts, the assignments,
    0 overruns; a second pull adds nothing."""
    d1, d2, arch = tmp_path / "d1", tmp_path / "d2", tmp_path / "arch"
    out = _ok(run_callcue("sim", calls["a"], calls["b"], "--dongle", d1, "--id", "cc-0042",
                          "--start", "2026-11-02T09:00", "--gap", "1d"))
    lines = out.strip().splitlines()
    assert len(lines) == 3, out
    assert lines[0].startswith("cc-0042 call 1/2 a.wav: session 1 ")
    assert lines[1].startswith("cc-0042 call 2/2 b.wav: session 2 ")
    assert "2026-11-02 09:00" in lines[0] and "2026-11-03 09:" in lines[1]
    assert all("0 overruns" in x for x in lines)
    assert json.loads((d1 / "dongle.json").read_text())["device_id"] == "cc-0042"
    out = _ok(run_callcue("sim", calls["c"], "--dongle", d2, "--start", "2026-11-02T14:30"))
    d2_id = json.loads((d2 / "dongle.json").read_text())["device_id"]
    assert d2_id.startswith("cc-sim-") and d2_id != "cc-0042"
    assert out.startswith(d2_id + " call 1/1 c.wav: session 1 ")

    out = _ok(run_callcue("logs", "pull", "--port", f"sim://{d1}", "--archive", arch,
                          "--rep", "Ana Silva", "--team", "north"))
    assert "2 new, 0 already archived" in out
    assert "cc-0042: Ana Silva's calls from 2026-11-02 09:00 (team north)" in out
    _ok(run_callcue("logs", "pull", "--port", f"sim://{d2}", "--archive", arch,
                    "--rep", "Bruno Costa", "--team", "north"))
    with Archive(arch, create=False) as ar:
        sessions = ar.sessions()
        assert len(sessions) == 3
        by_dev = {}
        for s in sessions:
            by_dev.setdefault(s["device_id"], []).append(s)
            assert all(r["overruns"] == 0 for r in ar.records(s["pk"]))
        ana = sorted(by_dev["cc-0042"], key=lambda s: s["start_time"])
        assert [s["session_id"] for s in ana] == [1, 2]
        starts = [_local(s["start_time"]) for s in ana]
        assert starts[0].date() == dt.date(2026, 11, 2) and starts[0].hour == 9
        assert starts[1].date() == dt.date(2026, 11, 3)
        assert [r["n_records"] for r in ana][0] >= 25
        assert _local(by_dev[d2_id][0]["start_time"]).strftime("%Y-%m-%d %H") == \
            "2026-11-02 14"
        reps = {a["device_id"]: a for a in ar.assignments()}
        assert reps["cc-0042"]["rep_id"] == "Ana Silva" and reps["cc-0042"]["team"] == "north"
        assert reps["cc-0042"]["since"] == ana[0]["start_time"]
        assert reps[d2_id]["rep_id"] == "Bruno Costa"
        counts = ar.counts()
    # the same pull again: nothing new, no second assignment
    out = _ok(run_callcue("logs", "pull", "--port", f"sim://{d1}", "--archive", arch,
                          "--rep", "Ana Silva", "--team", "north"))
    assert "0 new, 2 already archived" in out
    with Archive(arch, create=False) as ar:
        assert ar.counts() == counts
        assert len(ar.assignments()) == 2

    # later calls into the same dongle start after its last one, never at the same time
    _ok(run_callcue("sim", calls["c"], "--dongle", d1))
    out = _ok(run_callcue("logs", "pull", "--port", f"sim://{d1}", "--archive", arch))
    assert "1 new, 2 already archived" in out
    with Archive(arch, create=False) as ar:
        ana = sorted((s for s in ar.sessions() if s["device_id"] == "cc-0042"),
                     key=lambda s: s["start_time"])
        assert [s["session_id"] for s in ana] == [1, 2, 3]
        assert ana[2]["start_time"] > ana[1]["start_time"] + 20


def test_dongle_keeps_what_it_is_told(calls, tmp_path):
    """Config, clock, key and deletions reach the dongle folder's flash, as on a real
    dongle: each is there again when it is plugged in again."""
    d = tmp_path / "d"
    _ok(run_callcue("sim", calls["b"], "--dongle", d, "--id", "cc-0007"))
    with Device.open(f"sim://{d}") as dev:
        info = dev.info()
        assert info["device_id"] == "cc-0007" and info["capture_done"]
        assert info["time"] == 0               # a new dongle's clock is not set
        dev.set_config(talkover_min_ms=600)
        dev.set_time(1_800_000_000)
        assert [s["id"] for s in dev.sessions()] == [1]
    with Device.open(f"sim://{d}") as dev:
        assert dev.get_config()["params"] == {"talkover_min_ms": 600}
        assert 1_800_000_000 <= dev.info()["time"] <= 1_800_000_000 + 30
    keys = tmp_path / "keys"
    _ok(run_callcue("device", "key", "--port", f"sim://{d}", "--keys", keys))
    out = _ok(run_callcue("logs", "pull", "--port", f"sim://{d}", "--archive",
                          tmp_path / "arch", "--delete", "--keys", keys))
    assert "1 new" in out and "1 deleted from the device" in out
    with Device.open(f"sim://{d}") as dev:
        assert dev.sessions() == []
        info = dev.info()
        assert info["key_set"] and info["params"] == {"talkover_min_ms": 600}
    # a call played after: sealed under the key, with the config it was given
    _ok(run_callcue("sim", calls["a"], "--dongle", d))
    out = _ok(run_callcue("logs", "pull", "--port", f"sim://{d}", "--archive",
                          tmp_path / "arch", "--keys", keys))
    assert "seal: verified" in out, out
    # two processes never share one flash
    with Device.open(f"sim://{d}"):
        r = run_callcue("logs", "list", "--port", f"sim://{d}")
        one_line_error(r, "in use by another callcue")


def test_config_persists_on_an_lfs_image(calls, tmp_path):
    img = tmp_path / "board.lfs"
    url = f"sim://{calls['b']}?speed=0&storage={img}"
    with Device.open(url) as dev:
        dev.set_config(talkover_min_ms=650)
    with Device.open(url) as dev:
        assert dev.get_config()["params"] == {"talkover_min_ms": 650}
        assert dev.info()["config_status"] == "ok"


def test_live_call_is_never_pulled_as_a_fragment(calls, tmp_path):
    """sim://CALL.wav plays on open: a pull finds it recording, pulls nothing of it and
    says what to do; closing the port mid-call plays the rest, so the flash keeps the
    whole call (not a short session for the next pull)."""
    flash = tmp_path / "flash"
    r = run_callcue("logs", "pull", "--port", f"sim://{calls['a']}?speed=1&storage={flash}",
                    "--archive", tmp_path / "arch")
    out = _ok(r)
    assert "--dongle DIR" in out and "sim://DIR" in out and "0 new" in out
    logs = sorted((flash / "logs").glob("s*.log"))
    assert len(logs) == 1
    _, recs, _ = decode_log(logs[0].read_bytes())
    assert len(recs) == 25


def test_sim_pull_archives(calls, tmp_path):
    """`sim CALL --pull ARCH` archives (no raw .log files), and a second run adds a
    second session instead of overwriting the first; --storage is honoured."""
    arch = tmp_path / "arch"
    for _ in range(2):
        out = _ok(run_callcue("sim", calls["b"], "--speed", "0", "--pull", arch,
                              "--storage", tmp_path / "flash"))
        assert "overruns 0" in out and "records, 0 talk-over events imported" in out, out
    assert sorted(p.name for p in arch.iterdir() if p.is_file()) == ["callcue.sqlite"]
    with Archive(arch, create=False) as ar:
        ss = ar.sessions()
        assert len(ss) == 2 and ss[0]["session_id"] != ss[1]["session_id"]
    assert list((tmp_path / "flash" / "logs").glob("s*.log")) == []    # pulled, deleted


def test_bad_input_is_one_line(calls, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "x").write_text("x")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a wav")
    one_line_error(run_callcue("logs", "list", "--port", f"sim://{plain}"),
                    "not a virtual dongle folder", "--dongle")
    one_line_error(run_callcue("logs", "list", "--port", f"sim://{tmp_path / 'none'}"),
                    "no such WAV file or dongle folder")
    one_line_error(run_callcue("sim", calls["a"], "--dongle", plain), "not empty")
    one_line_error(run_callcue("sim", calls["a"], bad, "--dongle", tmp_path / "new"),
                    "bad.wav")
    assert not (tmp_path / "new").exists()          # nothing half-made
    d = tmp_path / "d"
    _ok(run_callcue("sim", calls["b"], "--dongle", d, "--id", "cc-1"))
    one_line_error(run_callcue("sim", calls["b"], "--dongle", d, "--id", "cc-2"),
                    "this dongle is cc-1")
    one_line_error(run_callcue("sim", calls["b"], "--dongle", tmp_path / "e", "--id",
                                "../x"), "--id", "not a safe name")
    (d / "dongle.json").write_text("{")
    one_line_error(run_callcue("logs", "list", "--port", f"sim://{d}"), "damaged")
    one_line_error(run_callcue("sim", calls["b"], "--records", tmp_path / "r.jsonl",
                                "--storage", tmp_path / "s"), "--storage")
    one_line_error(run_callcue("sim", calls["a"], calls["b"]), "--dongle")
    one_line_error(run_callcue("sim", calls["a"], "--loop", "--pull", tmp_path / "a"),
                    "--loop")
    one_line_error(run_callcue("sim", "--repl", "--dongle", d), "--repl")
    one_line_error(run_callcue("sim", calls["a"], "--dongle", d, "--storage", plain),
                    "--storage")
    one_line_error(run_callcue("sim", calls["a"], "--start", "2026-11-02"), "--start")
    one_line_error(run_callcue("sim", calls["a"], "--dongle", tmp_path / "f", "--start",
                                "yesterday"), "--start")
    one_line_error(run_callcue("sim", calls["a"], "--dongle", tmp_path / "g", "--gap",
                                "400d"), "--gap", "longer than a year")
    assert not (tmp_path / "g").exists()
    img = tmp_path / "junk.lfs"
    img.write_bytes(b"\0" * 8192)
    one_line_error(run_callcue("device", "info", "--port",
                                f"sim://{calls['a']}?storage={img}"), "not a LittleFS image")
    one_line_error(run_callcue("logs", "pull", "--port", f"sim://{d}", "--archive",
                                tmp_path / "a", "--team", "north"), "--team")



def test_records_led_and_bad_pace(calls, tmp_path):
    """--led draws each cue change of the call (on stderr) and changes no record; --records
    into a folder it cannot make, a pace below 0 (which spun the board forever) and
    --realtime with another --speed are each one line, before anything is played or
    written."""
    out = tmp_path / "new" / "a.jsonl"
    r = run_callcue("sim", calls["a"], "--led", "--records", out, timeout=60)
    _ok(r)
    led = [line for line in r.stderr.splitlines() if "] LED " in line]
    assert any("talkover" in line for line in led) and led[-1].endswith("none"), r.stderr
    _ok(run_callcue("sim", calls["a"], "--records", tmp_path / "plain.jsonl", timeout=60))
    assert out.read_text() == (tmp_path / "plain.jsonl").read_text()
    afile = tmp_path / "afile"
    afile.write_text("")
    one_line_error(run_callcue("sim", calls["a"], "--records", afile / "r.jsonl",
                                timeout=30), "afile is not a folder")
    one_line_error(run_callcue("sim", calls["a"], "--speed", "-1", "--records",
                                tmp_path / "x.jsonl", timeout=30), "--speed", "below 0")
    one_line_error(run_callcue("device", "info", "--port",
                                f"sim://{calls['a']}?speed=-1", timeout=30), "below 0")
    one_line_error(run_callcue("sim", calls["a"], "--realtime", "--speed", "5", "--records",
                                tmp_path / "x.jsonl", timeout=30), "--realtime", "--speed 5")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "new", "plain.jsonl"]
    assert [p.name for p in out.parent.iterdir()] == ["a.jsonl"]


def test_pull_refuses_a_bad_id_or_storage_before_playing(calls, tmp_path):
    """--pull with an --id the archive would refuse, or a --storage image it cannot make:
    one line before the call is played, and no archive made (the id was refused only after
    the call, leaving an empty archive; the image ended as "Broken pipe")."""
    afile = tmp_path / "afile"
    afile.write_text("")
    arch = tmp_path / "arch"
    one_line_error(run_callcue("sim", calls["b"], "--pull", arch, "--id", "../x",
                                timeout=30), "--id", "not a safe name")
    one_line_error(run_callcue("sim", calls["b"], "--pull", arch, "--id", "cc-" + "0" * 14,
                                timeout=30), "--id", "longer than 16")
    one_line_error(run_callcue("sim", calls["b"], "--pull", arch, "--storage",
                                afile / "s.lfs", timeout=30), "s.lfs: cannot make it in")
    assert [p.name for p in tmp_path.iterdir()] == ["afile"]

PACE_SCRIPT = r'''
import sys
sys.path.insert(0, sys.argv[1])
import time
from array import array
sys.path.insert(0, sys.argv[1] + "/host/callcue/sim/board")  # hal_sim: the simulated board
import hal_sim
cap = hal_sim.FileCapture(sys.argv[2], hal_sim.SimClock(), speed=10,
                          drop_late=sys.argv[3] == "drop")
rep = array("h", bytes(160))
cust = array("h", bytes(160))
n = 0
while not cap.done:
    if cap.read(rep, cust):
        n += 1
        if n % 100 == 0:
            time.sleep_ms(60)      # the host is busy: 60 frames late at 10x
print(n, cap.delivered, cap.overruns, cap.lag_ms)
'''


def test_a_busy_host_slows_the_call_down_never_drops(micropython, tmp_path):
    """Paced at 10x, a loop that stalls 60 ms every 100 frames: every frame is played and
    none counted lost (the pace slips instead, lag_ms); with drop_late the device's own
    overrun path is taken (the frames the loop was late for are lost and counted)."""
    raw = tmp_path / "frames.raw"
    raw.write_bytes(bytes(500 * 320))
    script = tmp_path / "pace.py"
    script.write_text(PACE_SCRIPT)
    n, delivered, overruns, lag = map(int, mpyrun.run(micropython, script, mpyrun.ROOT, raw,
                                                      "slow").split())
    assert (n, delivered, overruns) == (500, 500, 0) and lag >= 4 * 40
    n, delivered, overruns, lag = map(int, mpyrun.run(micropython, script, mpyrun.ROOT, raw,
                                                      "drop").split())
    assert overruns >= 2 * 40 and n + overruns == delivered == 500 and lag == 0


def test_plugged_in_on_a_pty(calls, tmp_path):
    """`callcue sim --dongle DIR` serves the dongle on a pseudo-terminal, as a real one on
    /dev/ttyACM*."""
    d = tmp_path / "d"
    _ok(run_callcue("sim", calls["b"], "--dongle", d, "--id", "cc-0009"))
    proc = subprocess.Popen([sys.executable, "-m", "callcue", "sim", "--dongle", str(d)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "plugged in, on /dev/" in line, line + proc.stderr.read()
        port = line.rsplit(" on ", 1)[1].split()[0]
        out = _ok(run_callcue("logs", "list", "--port", port))
        assert out.startswith("session 1 ")
    finally:
        proc.terminate()
        proc.wait(10)


def test_gap_durations_say_what_is_wrong():
    assert [simulator.parse_duration(t) for t in ("90", "90s", "5m", "2h", "1d", "0", "366d")] \
        == [90, 90, 300, 7200, 86400, 0, 366 * 86400]
    for text, why in (("soon", "not a duration like"), ("-1h", "of 0 or more"),
                      ("nan", "of 0 or more"), ("367d", "366d at most"), ("", "not a")):
        with pytest.raises(ValueError, match=why):
            simulator.parse_duration(text)
