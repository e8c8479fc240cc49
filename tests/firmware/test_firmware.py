"""The firmware end to end on the simulated board under the real MicroPython unix port:
the virtual dongle's logged records equal `callcue analyze`, every serial command works
through pyserial's sim:// port, bad config and hostile input never stop it, and the
steady-state loop allocates nothing."""

import json
import random
import time

import numpy as np
import pytest

from callcue.analysis import synth
from callcue.analysis.analyze import analyze_pcm
from callcue.device.client import Device, DeviceError
from callcue.sim import dongle as simulator
from dsp.params import Params
from firmware.logformat import decode_log, decode_session
from firmware.protocol import FRAME_FIELDS, crc32

from .. import mpyrun


def _play(rep, cust, storage, **kw):
    dongle = simulator.VirtualDongle(rep=rep, cust=cust, storage=storage, link=False, **kw)
    out, err = dongle.proc.communicate(b"", timeout=300)
    assert dongle.proc.returncode == 0, err.decode()[-2000:]
    dongle.close()
    return err.decode()


@pytest.mark.parametrize("scenario,seed", [("rep-interrupts", 1), ("flat-rep", 0)])
def test_logged_records_equal_analyze(micropython, scenario, seed, tmp_path):
    pcm, _ = synth.render(scenario, seed=seed, duration_s=40.0)
    # a second call after 45 s of silence: the first session ends (call_end_ms = 30 s)
    # and a second one starts
    gap = np.zeros((45 * 8000, 2), np.int16)
    pcm = np.concatenate([pcm, gap, pcm[: 20 * 8000]])
    _play(pcm[:, 0], pcm[:, 1], tmp_path / "flash")
    sessions = simulator.session_records(tmp_path / "flash")
    assert len(sessions) == 2
    doc = analyze_pcm(pcm[:, 0], pcm[:, 1], Params())
    by_t = {s["t_s"]: s for s in doc["seconds"]}
    logged = [simulator.contract_second(r) for _, recs in sessions for r in recs]
    assert len(logged) > 50
    for rec in logged:
        assert rec == by_t[rec["t_s"]]
    # the seconds between the calls were not logged; everything spoken was
    t_logged = {r["t_s"] for r in logged}
    spoken = {s["t_s"] for s in doc["seconds"] if s["rep_active_ms"] or s["customer_active_ms"]}
    assert spoken <= t_logged
    assert len(t_logged) < len(doc["seconds"]) - 10
    # sequence numbers are contiguous within each session, across record kinds (the
    # talk-over events sit between the per-second records)
    for path in sorted((tmp_path / "flash" / "logs").glob("s*.log")):
        header, recs, events = decode_log(path.read_bytes())
        assert sorted(r["seq"] for r in recs + events) == list(range(len(recs) + len(events)))
        assert header["fw_version"] == "0.1.0"


def test_logged_talkover_events_equal_analyze(micropython, tmp_path):
    """The device's talk-over event records equal `callcue analyze`'s talkover_events:
    a call where the rep interrupts, 35 s of silence (the session ends), a call where the
    customer interrupts, cut in the middle of a talk-over (App.close() flushes it, as
    analyze does at the end of the file)."""
    a, _ = synth.render("rep-interrupts", seed=1, duration_s=40.0)
    b, _ = synth.render("customer-interrupts", seed=4, duration_s=40.0)
    gap = np.zeros((35 * 8000, 2), np.int16)
    whole = np.concatenate([a, gap, b])
    full = analyze_pcm(whole[:, 0], whole[:, 1], Params())["talkover_events"]
    last = full[-1]
    assert last["interrupter"] == "customer"
    cut = int((last["start_s"] + last["end_s"]) / 2 * 8000) // 80 * 80
    pcm = whole[:cut]
    doc = analyze_pcm(pcm[:, 0], pcm[:, 1], Params())
    want = doc["talkover_events"]
    assert want[-1]["start_s"] == last["start_s"] and want[-1]["end_s"] < last["end_s"]
    assert {e["interrupter"] for e in want} == {"rep", "customer"} and len(want) >= 4
    _play(pcm[:, 0], pcm[:, 1], tmp_path / "flash")
    logs = sorted((tmp_path / "flash" / "logs").glob("s*.log"))
    assert len(logs) == 2
    got = []
    for path in logs:
        hdr, seconds, events = decode_log(path.read_bytes())
        assert hdr["format_version"] == 2
        got += [{"start_s": e["start_f"] / 100, "end_s": e["end_f"] / 100,
                 "interrupter": ("rep", "customer")[e["interrupter"]]} for e in events]
        # each event sits before the record of the second it was reported in (the engine
        # reports a talk-over `talkover_gap_ms` after its last overlapping frame; the
        # last, closed by the end of input, after the last record); the per-second
        # talk-over counts agree with the events
        seqs = sorted([(r["seq"], "s", r) for r in seconds] + [(e["seq"], "e", e)
                                                                 for e in events])
        assert [q for q, _, _ in seqs] == list(range(len(seqs)))
        for i, (_, kind, e) in enumerate(seqs):
            if kind == "e":
                nxt = next((r for _, k, r in seqs[i + 1:] if k == "s"), None)
                if nxt is not None:
                    assert e["end_f"] <= (nxt["t_s"] + 1) * 100 < e["end_f"] + 200
        counted = sum(r["talkovers"] for r in seconds)
        assert counted <= len(events) <= counted + 1
    assert got == want


def _open(tmp_path, seconds=20.0, speed=0, scenario="rep-interrupts", **query):
    pcm, _ = synth.render(scenario, seed=2, duration_s=seconds)
    wav = tmp_path / "call.wav"
    import soundfile

    soundfile.write(wav, pcm, 8000, subtype="PCM_16")
    q = "&".join(["speed=%d" % speed] + ["%s=%s" % kv for kv in query.items()])
    return Device.open("sim://%s?%s" % (wav, q)), pcm


def _wait_done(dev):
    deadline = time.monotonic() + 120
    while not dev.info()["capture_done"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_commands_over_sim_port(micropython, tmp_path):
    dev, pcm = _open(tmp_path)
    with dev:
        info = dev.info()
        assert info["device_id"] == "cc-sim-0001" and info["firmware"] == "0.1.0"
        assert info["config_status"] == "missing" and info["params"] == {}
        _wait_done(dev)
        sessions = dev.sessions()
        data = dev.pull_session(sessions[0]["id"], chunk=100)
        header, recs, events = decode_log(data)
        assert len(recs) == 20 and header["device_id"] == "cc-sim-0001"
        assert decode_session(data)[1] == recs
        # `records` counts every 32-byte record: seconds and talk-over events
        assert len(sessions) == 1 and sessions[0]["records"] == 20 + len(events)
        assert len(events) >= 1 and info["log_format"] == 2
        counters = dev.info()
        assert counters["events_logged"] == len(events) and counters["events_dropped"] == 0
        with pytest.raises(DeviceError) as e:
            dev.delete_session(sessions[0]["id"], crc32(data) ^ 1)
        assert e.value.code == "MISMATCH"
        dev.delete_session(sessions[0]["id"], crc32(data))
        assert dev.sessions() == []
        # config: validated by the engine's own Params, kept, reported
        with pytest.raises(DeviceError) as e:
            dev.set_config(talkover_min_ms=5)
        assert e.value.code == "BAD_ARGS" and "talkover_min_ms" in e.value.message
        dev.set_config(talkover_min_ms=600, sidetone_loss_db=18)
        cfg = dev.get_config()
        assert cfg["params"] == {"talkover_min_ms": 600, "sidetone_loss_db": 18}
        dev.set_config(talkover_min_ms=None)
        assert dev.get_config()["params"] == {"sidetone_loss_db": 18}
        assert dev.info()["config_status"] == "ok"
        assert dev.set_time(1_800_000_000) == 1_800_000_000 or True
        assert dev.info()["time"] >= 1_800_000_000
        dev.reboot()


def test_stream_records_while_playing(micropython, tmp_path):
    dev, _ = _open(tmp_path, seconds=20.0, speed=10)
    with dev:
        dev.stream("on")
        recs = list(dev.records(timeout=5))
        assert len(recs) >= 10
        ts = [r["t_s"] for r in recs]
        assert ts == sorted(ts) and len(set(ts)) == len(ts)
        assert set(recs[0]) >= {"t_s", "rep_active_ms", "cue", "overruns"}


def test_replay_matches_host_engine(micropython, tmp_path):
    from dsp.engine import FRAME, Engine

    dev, pcm = _open(tmp_path, seconds=20.0)
    with dev:
        _wait_done(dev)
        n = 300
        out = dev.replay(pcm[: n * FRAME, 0], pcm[: n * FRAME, 1])
        eng = Engine(Params())
        from array import array

        a = array("h", bytes(2 * FRAME))
        b = array("h", bytes(2 * FRAME))
        want = []
        for i in range(n):
            a[:] = array("h", pcm[i * FRAME:(i + 1) * FRAME, 0].tobytes())
            b[:] = array("h", pcm[i * FRAME:(i + 1) * FRAME, 1].tobytes())
            eng.process(a, b)
            want.append([getattr(eng, name) for name in FRAME_FIELDS])
        assert out["frames"] == want


def test_bad_config_runs_on_defaults(micropython, tmp_path):
    flash = tmp_path / "flash"
    flash.mkdir()
    for text, status in (("{not json", "bad json"),
                         (json.dumps({"version": 9}), "bad version"),
                         (json.dumps({"version": 1, "params": {"vad_on_db": 99}}),
                          "bad params: vad_on_db: 99 is outside 3..30")):
        (flash / "config.json").write_text(text)
        dev, _ = _open(tmp_path, storage=str(flash))
        with dev:
            info = dev.info()
            assert info["config_status"] == status and info["params"] == {}
            _wait_done(dev)
            assert dev.sessions()        # still coaching and logging
            dev.reboot()


def test_hostile_input_never_stops_the_app(micropython, tmp_path):
    dev, _ = _open(tmp_path, speed=5)
    rng = random.Random(7)
    with dev:
        port = dev.port
        for _ in range(50):
            port.write(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))))
        port.write(b"x" * 5000 + b"\n")
        port.write(b"1 info {\"a\":\n")
        port.write(b"2 get_session {\"id\":-1,\"offset\":0}\n")
        port.write(b"3 nonsense\n4 set_config {\"params\":{\"vad_on_db\":\"x\"}}\n")
        time.sleep(0.5)
        port.reset_input_buffer()
        dev.sync()
        assert dev.info()["firmware"] == "0.1.0"
        _wait_done(dev)
        assert dev.sessions()


HEAP_SCRIPT = r'''
import sys
sys.path.insert(0, sys.argv[1])
import gc
import micropython
sys.path.insert(0, sys.argv[1] + "/host/callcue/sim/board")  # hal_sim: the simulated board
import hal_sim
from firmware.app import App
from firmware.config import Config
from firmware.link import Link
from firmware.sessionlog import SessionLog

class Quiet:
    def readinto(self, buf):
        return 0

out = []
n = 0
frames = 0
root = hal_sim.mount_storage("ram", size=262144)
clock = hal_sim.SimClock()
cap = hal_sim.FileCapture(sys.argv[2], clock)
config = Config(root + "/config.json").load()
store = SessionLog(root + "/logs", "cc-test", "0.1.0", config.cal_hash())
app = App(cap, hal_sim.LedRecorder(clock), clock, store, Link(Quiet(), out.append), config,
          hal_sim.WDT(), cores=int(sys.argv[3]))

stats = [0, 0]       # bytes the frames allocated, chores done (after the frame)

def run(k, locked=False):
    done = 0
    while done < k:
        a = gc.mem_alloc()      # mem_alloc also sees core 1's thread
        if cap.read(app.rep, app.cust):
            app.step()
            stats[0] += gc.mem_alloc() - a
            done += 1
            if app.chores_due:       # as App.run: after the frame, with the heap free
                if locked:
                    micropython.heap_unlock()
                app.chores()         # may collect garbage: not counted per frame
                stats[1] += 1
                if locked:
                    micropython.heap_lock()
    return done

run(300)
stats[0] = stats[1] = 0
gc.collect()
gc.disable()
micropython.heap_lock()         # holds for this thread only
try:
    frames = run(1000, True)
finally:
    micropython.heap_unlock()
print("frames", frames, "records", app.records_logged, "session", app.session,
      "events", app.events_logged, "dropped", app.events_dropped,
      "alloc", stats[0], "chores", stats[1])
if app.core1 is not None:
    app.core1.close()
'''


def _event_window(pcm):
    """pcm from a start (a whole second) such that analyze finds a talk-over ending in
    frames 500..1250 of it: inside the heap-locked frames 300..1300, logged by then."""
    for start_s in range(0, len(pcm) // 8000 - 14):
        part = pcm[start_s * 8000:(start_s + 14) * 8000]
        ev = analyze_pcm(part[:, 0], part[:, 1], Params())["talkover_events"]
        if any(5.0 <= e["end_s"] <= 12.0 for e in ev):
            return part
    raise AssertionError("no talk-over to log under heap_lock")


@pytest.mark.parametrize("scenario,cores", [("flat-rep", 1), ("rep-interrupts", 1),
                                            ("rep-interrupts", 2)])
def test_app_loop_allocates_nothing(micropython, tmp_path, scenario, cores):
    """App.step under heap_lock: records appended (flat-rep: one long rep turn at
    3-16 s) and, with rep-interrupts, a talk-over event logged with its second; with
    cores=2 the pitch stage runs on a second thread, and gc.mem_alloc covers both. The
    chores (making the session's file, commits) run after the frame with the heap
    free, as App.run does them, and their bytes are not the frame's."""
    pcm, _ = synth.render(scenario, seed=0, duration_s=40.0 if scenario != "flat-rep"
                          else 20.0)
    if scenario != "flat-rep":
        pcm = _event_window(pcm)
    raw = tmp_path / "frames.raw"
    simulator.write_frames(pcm[:, 0], pcm[:, 1], raw)
    script = tmp_path / "heap.py"
    script.write_text(HEAP_SCRIPT)
    out = mpyrun.run(micropython, script, mpyrun.ROOT, raw, cores)
    words = out.split()
    assert words[:2] == ["frames", "1000"]
    assert int(words[3]) >= 12          # records appended under heap_lock too
    if scenario != "flat-rep":
        assert int(words[7]) >= 1 and words[9] == "0", out   # an event logged under it
    assert words[10:12] == ["alloc", "0"], out    # nothing on either core


LOCK_SCRIPT = r'''
import sys
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[1] + "/host/callcue/sim/board")  # hal_sim: the simulated board
import hal_sim
from firmware.app import App
from firmware.config import Config
from firmware.sessionlog import SessionLog

class Probe:
    """Wraps a stage: on each call, whether an allocation there fails (heap locked)."""
    def __init__(self, inner):
        self.inner = inner
        self.calls = 0
        self.locked = 0

    def step(self, a, b, c):
        self.calls += 1
        try:
            bytearray(1)
        except MemoryError:
            self.locked += 1
        return self.inner.step(a, b, c)

    def levels(self, a, b, c, d):        # the cue stage's once-a-second call
        self.inner.levels(a, b, c, d)

root = hal_sim.mount_storage("ram", size=262144)
clock = hal_sim.SimClock()
cap = hal_sim.FileCapture(sys.argv[2], clock)
config = Config(root + "/config.json").load()
store = SessionLog(root + "/logs", "cc-test", "0.1.0", config.cal_hash())
app = App(cap, hal_sim.LedRecorder(clock), clock, store, None, config, hal_sim.WDT(),
          cores=int(sys.argv[3]))
cues = app.engine.cues = Probe(app.engine.cues)          # runs on core 0
pitch = Probe(app.engine.pitch)

class Worker:
    """cores=1: the pitch step through the engine's worker hook, still on core 0"""
    def __init__(self):
        self.active = 0

    def start(self, active):
        self.active = active

    def result(self):
        return pitch.step(app.engine.x[0], 80, self.active)

if app.core1 is not None:
    app.core1.pitch = pitch                              # runs on core 1
else:
    app.engine.pitch_worker = Worker()
between = 0
n = 0
while n < 300:
    if cap.read(app.rep, app.cust):
        app.step()
        n += 1
        bytearray(1)                                     # between frames: heap free
        between += 1
print("cues", cues.calls, cues.locked, "pitch", pitch.calls, pitch.locked, "between", between)
if app.core1 is not None:
    app.core1.close()
'''


@pytest.mark.parametrize("cores", [1, 2])
def test_engine_runs_with_the_heap_locked(micropython, tmp_path, cores):
    """App.step runs the engine under heap_lock() (so no function frame of it can go
    on the GC heap), and core 1 its pitch step: an allocation tried inside a stage
    fails on every frame, on the core that runs it; between frames the heap is free."""
    pcm, _ = synth.render("rep-interrupts", seed=0, duration_s=20.0)
    raw = tmp_path / "frames.raw"
    simulator.write_frames(pcm[:, 0], pcm[:, 1], raw)
    script = tmp_path / "lock.py"
    script.write_text(LOCK_SCRIPT)
    out = mpyrun.run(micropython, script, mpyrun.ROOT, raw, cores).split()
    assert out == ["cues", "300", "300", "pitch", "300", "300", "between", "300"], out


def test_audio_the_capture_never_delivered_is_counted(micropython):
    """firmware/framegaps.py (the RP2040 capture's check of frames against the clock)
    on a simulated capture with a buffer and stalls: every frame the buffer dropped
    is counted, none that arrived; the clock wraps; no allocation per call."""
    out = mpyrun.run(micropython, mpyrun.MPY / "framegaps_sim.py",
                     mpyrun.ROOT)
    rows = {w[0]: [int(v) for v in w[1:]] for w in (ln.split() for ln in out.splitlines())}
    assert rows.pop("heap_lock") == [100000, 0]
    assert rows["steady"][1:] == [0, 0] and rows["short-stalls"][1:] == [0, 0]
    for name, (got, dropped, counted) in rows.items():
        assert counted == dropped, (name, got, dropped, counted)
    assert rows["one-long-stall"][1] > 100 and rows["twenty-minutes"][1] == 120


# the simulated board and its app on a RAM LittleFS, frames from the file argv[2]
SIM_APP = r'''
import gc
import sys
sys.path.insert(0, sys.argv[1])
import micropython
sys.path.insert(0, sys.argv[1] + "/host/callcue/sim/board")  # hal_sim: the simulated board
import hal_sim
from firmware.app import SYNC_MAX_S, App
from firmware.config import Config
from firmware.sessionlog import SessionLog

root = hal_sim.mount_storage("ram", size=262144)
clock = hal_sim.SimClock()
cap = hal_sim.FileCapture(sys.argv[2], clock)
config = Config(root + "/config.json").load()
store = SessionLog(root + "/logs", "cc-test", "0.1.0", config.cal_hash())
app = App(cap, hal_sim.LedRecorder(clock), clock, store, None, config, hal_sim.WDT())
'''

COMMIT_SCRIPT = SIM_APP + r'''
quiet = commits = after_quiet = most = 0
gc_frames = gc_chores = 0
junk = None
while cap.read(app.rep, app.cust):            # App.run's loop, watched
    if app.engine.frame % 10 == 0:           # garbage between frames, as a board's loop
        junk = bytearray(64)                 # leaves it (crc32's big ints, the link)
    a = gc.mem_alloc()
    app.step()
    if gc.mem_alloc() < a:                   # a collection inside the frame
        gc_frames += 1
    r = app.engine.record
    second = app.engine.frame % 100 == 0 and app.session >= 0
    if second and store.pending > most:
        most = store.pending
    a = gc.mem_alloc()
    if app.sync_due:                         # a commit asked for: done by the chores
        app.chores()
        commits += 1
        if second and r[1] == 0 and r[2] == 0 and store.pending == 0:
            after_quiet += 1
    elif app.chores_due:
        app.chores()
    if gc.mem_alloc() < a:
        gc_chores += 1
    if second and r[1] == 0 and r[2] == 0:
        quiet += 1
size = store.stat(app.session)[0] if app.session >= 0 else -1
print("quiet", quiet, "after_quiet", after_quiet, "commits", commits, "most_pending", most,
      "limit", SYNC_MAX_S, "committed_bytes", size, "gc_frames", gc_frames,
      "gc_chores", gc_chores)
'''


def test_session_log_commits_after_quiet_seconds(micropython, tmp_path):
    """The app commits the session log after a second in which nobody spoke, at the
    latest every SYNC_MAX_S seconds (so during a call, not only at its end), and after
    the frame (chores), never leaving more than that many seconds in RAM. The chores
    also collect the garbage the loop leaves, so the GC never runs inside a frame."""
    pcm, _ = synth.render("rep-interrupts", seed=2, duration_s=70.0)
    raw = tmp_path / "frames.raw"
    simulator.write_frames(pcm[:, 0], pcm[:, 1], raw)
    script = tmp_path / "commit.py"
    script.write_text(COMMIT_SCRIPT)
    w = mpyrun.run(micropython, script, mpyrun.ROOT, raw).split()
    d = {w[i]: int(w[i + 1]) for i in range(0, len(w), 2)}
    assert d["commits"] >= 2, d                       # during the call
    assert d["after_quiet"] == d["quiet"], d          # every silent second committed
    assert 0 < d["most_pending"] <= d["limit"] + 8, d  # seconds (and a few events) in RAM
    assert d["committed_bytes"] > 64 + 32 * 30, d      # the call is on flash, mid-call
    # the garbage left between frames is collected by a chore (every 60 s), so the GC
    # never runs inside a frame
    assert d["gc_chores"] >= 1 and d["gc_frames"] == 0, d


NOHEAP_SCRIPT = SIM_APP + r'''
starved = int(sys.argv[3])        # the first chores find no heap at all
chores = frames = 0
reconfig = -1
while cap.read(app.rep, app.cust):
    app.step()
    frames += 1
    if frames == 2500:                # a config change: its chore starts a new engine
        app.commands.cmd_set_config({"params": {"vad_on_db": 10}})
        reconfig = chores + 1
    if app.chores_due:
        chores += 1
        if chores <= starved or chores == reconfig:
            micropython.heap_lock()           # every allocation fails: MemoryError
            try:
                app.chores()
            finally:
                micropython.heap_unlock()
        else:
            app.chores()
app.close()
sessions = store.sessions()
print("frames", frames, "chores", chores, "memory_errors", app.memory_errors,
      "dropped", store.dropped_records, "sessions", len(sessions),
      "records", sum(s[2] for s in sessions), "logged", app.records_logged,
      "vad_on_db", app.engine.params.vad_on_db)
'''


def test_chores_without_heap_never_stop_the_loop(micropython, tmp_path):
    """Allocation failure: the first chores after a frame run with no heap at all
    (heap_lock: every allocation raises MemoryError), among them the session's opening,
    and so does the chore that starts a new engine after a config change. The loop
    never stops: each frame runs, a session file that could not be made is counted as
    dropped records, the chore that raised is counted (memory_errors) and done after
    the next frame, and once the heap is back the call is logged."""
    pcm, _ = synth.render("rep-interrupts", seed=1, duration_s=40.0)
    raw = tmp_path / "frames.raw"
    simulator.write_frames(pcm[:, 0], pcm[:, 1], raw)
    script = tmp_path / "noheap.py"
    script.write_text(NOHEAP_SCRIPT)
    w = mpyrun.run(micropython, script, mpyrun.ROOT, raw, 4).split()
    d = {w[i]: int(w[i + 1]) for i in range(0, len(w), 2)}
    assert d["frames"] == 4000, d                          # the loop went on
    assert d["chores"] > 4 and d["dropped"] >= 1, d        # what failed is counted
    assert d["sessions"] >= 1 and d["records"] >= 20 and d["logged"] >= 20, d
    assert d["memory_errors"] == 1 and d["vad_on_db"] == 10, d    # done on the retry


def test_no_audio_leaves_the_device(micropython, tmp_path):
    """Privacy by construction: neither the session logs nor the stream carry samples.
    Every 8-byte run of the input PCM (4 consecutive int16 samples of either channel)
    is looked for in everything the device wrote; the stream has only metric fields."""
    dev, pcm = _open(tmp_path, seconds=20.0, speed=20)
    with dev:
        dev.stream("frames")
        lines = []
        for kind, payload in dev.stream_lines(timeout=3):
            lines.append((kind, payload))
        _wait_done(dev)
        logs = b"".join(dev.pull_session(s["id"]) for s in dev.sessions())
    assert len(logs) > 64 + 10 * 32 and len(lines) > 1000
    kinds = {k for k, _ in lines}
    assert kinds <= {"REC", "FRM", "EVT"}
    for kind, payload in lines:
        if kind == "REC":
            assert set(payload) <= set(REC_FIELDS)
        elif kind == "FRM":
            assert set(payload) == set(FRAME_FIELDS)
    out = logs + "".join(json.dumps(p) for _, p in lines).encode()
    windows = set()
    for ch in (0, 1):
        b = pcm[:, ch].astype("<i2").tobytes()
        x = pcm[:, ch].astype(np.int32)
        loud = np.abs(x) >= 256
        for i in range(0, len(b) - 8, 2):
            # windows of speech, not of the noise floor: near-silent samples look like
            # the small integers any record holds (0, 1, -1...)
            if loud[i // 2:i // 2 + 4].all():
                windows.add(b[i:i + 8])
    assert len(windows) > 10000
    leaked = sum(1 for i in range(len(logs) - 8) if logs[i:i + 8] in windows)
    assert leaked == 0
    assert not any(w in out for w in list(windows)[:2000])


REC_FIELDS = ("t_s", "rep_active_ms", "customer_active_ms", "overlap_ms", "syllables",
              "rate_csps", "pitch_cents", "pitch_sd_cents", "cue", "overruns", "talkovers")


def _call_rate_csps(records):
    """A call's articulation rate from its logged per-second records, as the dongle
    computes it: syllables * 10000 // rep speech frames."""
    syl = sum(r["syllables"] for r in records)
    rep_frames = sum(r["rep_active_ms"] for r in records) // 10
    return syl * 10000 // rep_frames, rep_frames


def test_dongle_learns_the_reps_usual_rate(micropython, tmp_path):
    """At the end of a call with >= 30 s of rep speech the dongle saves the call's rate as
    rate_baseline_csps in /config.json (the first call sets it); after a reboot it coaches
    against it (its records equal analyze with that baseline), a second call moves it a
    quarter of the way, and a short call (< 30 s of rep speech) leaves it alone."""
    flash = tmp_path / "flash"
    gap = np.zeros((35 * 8000, 2), np.int16)      # call_end_ms = 30 s: the call ends
    a, _ = synth.render("slow-rep", seed=0, duration_s=60.0)
    pcm = np.concatenate([a, gap])
    _play(pcm[:, 0], pcm[:, 1], flash)
    (_, recs_a), = simulator.session_records(flash)
    rate_a, rep_a = _call_rate_csps(recs_a)
    assert rep_a >= 3000 and 200 < rate_a < 400
    cfg = json.loads((flash / "config.json").read_text())
    assert cfg["params"] == {"rate_baseline_csps": rate_a}

    # reboot: a fast call, then (after it ended) a short one cut by the end of input
    b, _ = synth.render("fast-rep", seed=0, duration_s=70.0)
    c, _ = synth.render("turn-taking", seed=0, duration_s=20.0)
    pcm = np.concatenate([b, gap, c])
    for path in (flash / "logs").glob("s*.log"):
        path.unlink()
    _play(pcm[:, 0], pcm[:, 1], flash)
    sessions = simulator.session_records(flash)
    assert len(sessions) == 2
    rate_b, rep_b = _call_rate_csps(sessions[0][1])
    _, rep_c = _call_rate_csps(sessions[1][1])
    assert rep_b >= 3000 and rate_b > rate_a + 200 and rep_c < 3000
    want = rate_a + (rate_b - rate_a) // 4
    assert json.loads((flash / "config.json").read_text())["params"] == {
        "rate_baseline_csps": want}
    # call b ran against the learned baseline, as `analyze --param rate_baseline_csps=`
    doc = analyze_pcm(pcm[:, 0], pcm[:, 1], Params(rate_baseline_csps=rate_a))
    by_t = {s["t_s"]: s for s in doc["seconds"]}
    for rec in sessions[0][1]:
        assert simulator.contract_second(rec) == by_t[rec["t_s"]]
    assert "fast" in {by_t[r["t_s"]]["cue"] for r in sessions[0][1]}


def test_commands_in_every_state(micropython, tmp_path):
    """Each command that cares, in each state (idle, in a call, replay, calibration),
    through the real link on the simulated board (tests/firmware/mpy/app_commands.py): BUSY and
    BAD_ARGS as PROTOCOL.md says; a replay the host leaves ends by itself after
    REPLAY_IDLE_MS without a `replay` line (and `replay` lines keep it going), and
    logging resumes in the same session; set_config in a call closes the session, then
    the new engine starts and the call goes on in a new session (t_s rises in every
    log, the new header carries the new calibration hash); during a replay it waits for
    the replay's end. Every command of protocol.COMMANDS has its handler (commands.py
    registers them from that table) or is the link's own."""
    call, _ = synth.render("rep-interrupts", seed=3, duration_s=150.0)
    pcm = np.concatenate([np.zeros((2 * 8000, 2), np.int16), call,
                          np.zeros((60 * 8000, 2), np.int16)])
    raw = tmp_path / "frames.raw"
    simulator.write_frames(pcm[:, 0], pcm[:, 1], raw)
    out = mpyrun.run(micropython, mpyrun.MPY / "app_commands.py",
                     mpyrun.ROOT, raw)
    lines = out.splitlines()
    fails = [x for x in lines if x.startswith("check ") and not x.endswith(" ok")]
    assert not fails, "\n".join(fails)
    names = {x.split()[1] for x in lines if x.startswith("check ")}
    for want in ("calibration_replay_start_busy", "replay_calibrate_busy",
                 "call_get_session_busy", "get_session_past_end_bad_args",
                 "replay_times_out", "call_logging_resumes", "call_set_config_closes_session",
                 "call_new_session_after_config", "replay_set_config_waits",
                 "run_loop_replay_times_out", "every_command_handled", "help_lists_the_table"):
        assert want in names
    assert lines[-1] == "checks %d failed 0" % len(names), lines[-1]


def test_recovery_drops_only_bad_records_and_says_so(micropython, tmp_path):
    """Two sessions on the dongle's flash, damaged while it was off: one bit flipped in
    record 20 of 71, and one in the header of another. At boot the dongle drops record
    20 alone and keeps the other session under a rebuilt header; `info` counts both,
    and the host pulls the rest, intact, saying what was lost."""
    from array import array

    from callcue.archive import pull
    from callcue.archive.store import Archive
    from firmware import logformat as sl
    from firmware import sessionlog

    flash = tmp_path / "flash"
    flash.mkdir()
    log = sessionlog.SessionLog(str(flash / "logs"), "cc-sim-0001", "0.1.0", 5)
    for sid in (1, 2):
        assert log.start(1767225600 + sid) == sid
        for k in range(71):
            log.append(array("i", [k, 1000, 0, 0, 3, 400, 2400, 100, 0]), 0, 0)
        log.end()
    p1 = flash / "logs" / "s000001.log"
    p2 = flash / "logs" / "s000002.log"
    raw = bytearray(p1.read_bytes())
    raw[64 + 20 * 32 + 9] ^= 0x10
    p1.write_bytes(bytes(raw))
    raw = bytearray(p2.read_bytes())
    raw[13] ^= 0x01                                  # start time: the header crc fails
    p2.write_bytes(bytes(raw))
    dev, _ = _open(tmp_path, storage=str(flash))
    with dev:
        info = dev.info()
        assert (info["recovery_records_dropped"], info["recovery_sessions_dropped"],
                info["recovery_headers_rebuilt"]) == (1, 0, 1), info
        assert info["call_parts"] == 0 and info["call_records_removed"] == 0
        hdr, recs, _ = decode_log(dev.pull_session(1))
        assert [r["seq"] for r in recs] == [k for k in range(71) if k != 20]
        assert [r["t_s"] for r in recs] == [k for k in range(71) if k != 20]
        hdr2, recs2, _ = decode_log(dev.pull_session(2))
        assert hdr2["flags"] & sl.FLAG_REBUILT and hdr2["session_id"] == 2
        assert hdr2["start_time"] == 0 and len(recs2) == 71
        _wait_done(dev)
        assert [s["id"] for s in dev.sessions()] == [1, 2, 3]
        # logs pull says what the device lost before it pulls what is left
        said = []
        with Archive(tmp_path / "archive") as ar:
            stats = pull.pull_all(dev, ar, say=said.append)
        warnings = [x for x in said if x.startswith("warning: cc-sim-0001: ")]
        assert any("dropped 1 damaged records" in x for x in warnings), said
        assert any("rebuilt 1 corrupt session headers" in x for x in warnings), said
        assert stats["pulled"] == 3 and stats["records"] >= 70 + 71, stats
        dev.reboot()
