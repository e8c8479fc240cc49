"""The app's commands in every state that matters to them, on the simulated board.

    micropython app_commands.py REPO FRAMES.raw

FRAMES.raw: 2 s of silence, then a long call (voices every few seconds), then silence
long enough for the call to end (call_end_ms). One App on a RAM LittleFS; the loop is
App.run's, frame by frame; commands go through the real link (Link.dispatch) between
frames, as a poll would deliver them. The app's clock for the replay timeout is the
audio's (10 ms a frame), so 10 s without a `replay` line is 1000 frames.

Prints "check NAME ok" or "check NAME FAIL why" per check, then "checks N failed F".
States: idle (no session), in call (a session open), replay, calibration.
"""

import sys

sys.path.insert(0, sys.argv[1])

import json  # noqa: E402

sys.path.insert(0, sys.argv[1] + "/host/callcue/sim/board")  # hal_sim: the simulated board
sys.path.insert(0, sys.argv[1] + "/host")  # callcue.device.wire: the host's encode_pcm

import hal_sim  # noqa: E402

from callcue.device.wire import encode_pcm  # noqa: E402
from firmware import protocol  # noqa: E402
from firmware.app import REPLAY_IDLE_MS, App  # noqa: E402
from firmware.config import Config  # noqa: E402
from firmware.link import Link  # noqa: E402
from firmware.logformat import decode_log  # noqa: E402
from firmware.sessionlog import SessionLog  # noqa: E402


class Quiet:
    def readinto(self, buf):
        return 0


out = []
root = hal_sim.mount_storage("ram", size=262144)
clock = hal_sim.SimClock()
cap = hal_sim.FileCapture(sys.argv[2], clock)
config = Config(root + "/config.json").load()
store = SessionLog(root + "/logs", "cc-test", "0.1.0", config.cal_hash())
link = Link(Quiet(), out.append)
app = App(cap, hal_sim.LedRecorder(clock), clock, store, link, config, hal_sim.WDT())
app.ticks_ms = lambda: clock.frames * 10       # audio time: 10 ms a frame
failed = []
n_checks = [0]
rid = [0]


def check(name, cond, why=""):
    n_checks[0] += 1
    if cond:
        print("check", name, "ok")
    else:
        failed.append(name)
        print("check", name, "FAIL", why)


def cmd(name, args=None):
    """(code, payload): ("OK", dict) or (error code, message)."""
    rid[0] += 1
    line = "%d %s" % (rid[0], name)
    if args is not None:
        line += " " + protocol.dumps(args)
    reply = link.dispatch(line.encode()).decode().rstrip("\n")
    kind, _, rest = reply.partition(" ")
    _, _, rest = rest.partition(" ")
    if kind == "OK":
        return "OK", json.loads(rest)
    code, _, msg = rest.partition(" ")
    return code, msg


def frames(k, until=None):
    """App.run's loop for k frames (or until until() is true); returns frames read."""
    done = 0
    while done < k and not cap.done:
        if until is not None and until():
            break
        if cap.read(app.rep, app.cust):
            if app.replay_engine is None:
                app.step()
                if app.chores_due:
                    app.chores()
            else:
                app.replay_wait()
            done += 1
    return done


def t_s_of(sid):
    raw = open(root + "/logs/s%06d.log" % sid, "rb").read()
    hdr, secs, evs = decode_log(raw)
    return [r["t_s"] for r in secs]


def strictly_rising(xs):
    return all(b > a for a, b in zip(xs, xs[1:]))


SILENT_PCM = encode_pcm([0] * 80, [0] * 80)

# ---------------------------------------------------------------- idle
frames(100)
# every command of the protocol's table is answered: by the link itself (BUILTIN) or by
# the handler commands.py registered from the table
check("every_command_handled", sorted(list(link.handlers) + list(protocol.BUILTIN))
      == sorted(protocol.COMMAND_NAMES), sorted(link.handlers))
code, r = cmd("help")
check("help_lists_the_table", code == "OK" and r["commands"] == list(protocol.COMMAND_NAMES),
      (code, r))
check("idle_state", app.session == -1 and not app.engine.dead.in_call, "session %d" % app.session)
code, r = cmd("calibrate", {"step": "silence", "seconds": 1})
check("idle_calibrate_ok", code == "OK" and r["frames"] == 100, (code, r))
code, r = cmd("replay_start")
check("calibration_replay_start_busy", code == "BUSY", (code, r))
check("calibration_replay_start_changed_nothing", app.replay_engine is None)
code, r = cmd("cal_save")
check("calibration_cal_save_busy", code == "BUSY", (code, r))
code, r = cmd("calibrate", {"step": "silence", "seconds": 1})
check("calibration_calibrate_restarts", code == "OK" and app.cal.step == "silence", (code, r))
frames(150)
code, r = cmd("calibration")
check("calibration_ends", code == "OK" and not r["running"] and r["result"]["frames"] == 100,
      (code, r))
code, r = cmd("replay_start")
check("idle_replay_start_ok", code == "OK" and app.replay_engine is not None, (code, r))
code, r = cmd("calibrate", {"step": "silence"})
check("replay_calibrate_busy", code == "BUSY" and app.cal.step is None, (code, r))
code, r = cmd("replay_start")
check("replay_replay_start_restarts", code == "OK", (code, r))
code, r = cmd("replay", {"pcm": SILENT_PCM})
check("replay_replay_ok", code == "OK" and r["frm"][0] == 1, (code, r))
code, r = cmd("info")
check("replay_info", code == "OK" and r["replay"] and not r["calibrating"], (code, r))
code, r = cmd("replay_end")
check("replay_replay_end_ok", code == "OK" and r["frames"] == 1, (code, r))
code, r = cmd("replay_end")
check("idle_replay_end_busy", code == "BUSY", (code, r))
code, r = cmd("replay", {"pcm": SILENT_PCM})
check("idle_replay_busy", code == "BUSY", (code, r))

# set_config while idle: applied after the frame, no session made for it
old = app.engine
code, r = cmd("set_config", {"params": {"talkover_min_ms": 600}})
check("idle_set_config_ok", code == "OK" and r["params"] == {"talkover_min_ms": 600}, (code, r))
code, r = cmd("info")
check("idle_set_config_pending", r["config_pending"] and app.engine is old, r)
frames(1)
check("idle_set_config_applied", app.engine is not old
      and app.engine.params.talkover_min_ms == 600 and app.session == -1
      and store.sessions() == [], (app.session, store.sessions()))
code, r = cmd("set_config", {"params": {"vad_off_db": 99}})
check("idle_set_config_bad_args", code == "BAD_ARGS" and not app.reconfig_due
      and config.overrides == {"talkover_min_ms": 600}, (code, r))

# ---------------------------------------------------------------- in call
frames(3000, until=lambda: app.session >= 0)
sid1 = app.session
check("call_opens", sid1 >= 1, "session %d" % sid1)
frames(1200)                                 # 12 s into the call, one commit at least
code, r = cmd("stat_session", {"id": sid1})
check("call_stat_session_ok", code == "OK" and r["open"] and r["bytes"] >= 64, (code, r))
code, r = cmd("get_session", {"id": sid1, "offset": 0})
check("call_get_session_busy", code == "BUSY", (code, r))
code, r = cmd("delete_session", {"id": sid1, "crc32": 0})
check("call_delete_session_busy", code == "BUSY", (code, r))
code, r = cmd("get_session", {"id": 999, "offset": 0})
check("get_session_not_found", code == "NOT_FOUND", (code, r))

# replay during the call: the session stays open; `replay` lines keep the replay on;
# then the host goes quiet: 10 s later the replay ends by itself and logging resumes
logged = app.records_logged
t_before = app.engine.record[0]
code, r = cmd("replay_start")
check("call_replay_start_ok", code == "OK" and app.session == sid1, (code, r))
for _ in range(4):                           # a replay line every 6 s: 24 s of replay
    frames(REPLAY_IDLE_MS // 10 - 400)
    code, r = cmd("replay", {"pcm": SILENT_PCM})
check("replay_kept_alive_by_replay_lines", app.replay_engine is not None and code == "OK"
      and app.records_logged == logged, (code, app.records_logged, logged))
frames(REPLAY_IDLE_MS // 10 - 2)
check("replay_alive_just_before_timeout", app.replay_engine is not None)
out.clear()
frames(3)
check("replay_times_out", app.replay_engine is None and app.replays_timed_out == 1,
      app.replays_timed_out)
evt = [x for x in out if x.startswith(b"EVT ")]
check("replay_timeout_event", len(evt) == 1 and b'"ev":"replay_end"' in evt[0]
      and b'"reason":"idle"' in evt[0], evt)
frames(500)
check("call_logging_resumes", app.session == sid1 and app.records_logged >= logged + 4
      and app.engine.record[0] > t_before, (app.session, app.records_logged, logged))

# calibration during the call: accepted, and it measures
code, r = cmd("calibrate", {"step": "rep", "seconds": 1})
check("call_calibrate_ok", code == "OK", (code, r))
frames(700)
code, r = cmd("calibration")
check("call_calibration_ends", code == "OK" and not r["running"]
      and r["result"]["used_frames"] == 100, (code, r))

# set_config during the call: the open session closes at the next frame, the engine
# restarts with the new config, and the call goes on in a new session
code, r = cmd("set_config", {"params": {"talkover_min_ms": None}})
check("call_set_config_ok", code == "OK" and r["params"] == {}, (code, r))
check("call_set_config_session_still_open", app.session == sid1)
frames(1)
check("call_set_config_closes_session", app.session != sid1 and not app.reconfig_due
      and app.engine.params.talkover_min_ms == 300, app.session)
frames(3000, until=lambda: app.session >= 0)
sid2 = app.session
check("call_new_session_after_config", sid2 == sid1 + 1, "%d after %d" % (sid2, sid1))
t1 = t_s_of(sid1)
check("old_session_t_s_rising", len(t1) > 20 and strictly_rising(t1), t1)
hdr = decode_log(open(root + "/logs/s%06d.log" % sid2, "rb").read())[0]
check("new_session_cal_hash", hdr["cal_hash"] == config.cal_hash() % (1 << 32)
      and decode_log(open(root + "/logs/s%06d.log" % sid1, "rb").read())[0]["cal_hash"]
      != hdr["cal_hash"], hdr)

# set_config during a replay during the call: stored, applied after the replay
code, r = cmd("replay_start")
eng = app.engine
code, r = cmd("set_config", {"params": {"talkover_min_ms": 500}})
check("replay_set_config_ok", code == "OK" and app.reconfig_due, (code, r))
frames(50)
check("replay_set_config_waits", app.engine is eng and app.session == sid2)
code, r = cmd("replay_end")
frames(1)
check("replay_set_config_applied_after", app.engine is not eng
      and app.engine.params.talkover_min_ms == 500 and app.session != sid2,
      (code, r, app.session))

# ---------------------------------------------------------------- the call ends
frames(60000, until=lambda: app.session >= 0)
frames(60000, until=lambda: app.session < 0 and not app.engine.dead.in_call)
for sid in (sid1, sid2):
    t = t_s_of(sid)
    check("session_%d_t_s_rising" % sid, strictly_rising(t), t)
sessions = store.sessions()
last = sessions[-1]
check("call_ended", app.session == -1 and len(sessions) >= 3, sessions)
size = last[1]
code, r = cmd("get_session", {"id": last[0], "offset": 0, "len": 100})
check("idle_get_session_ok", code == "OK" and r["len"] == 100 and r["size"] == size, (code, r))
code, r = cmd("get_session", {"id": last[0], "offset": size})
check("get_session_at_end_empty", code == "OK" and r["len"] == 0, (code, r))
code, r = cmd("get_session", {"id": last[0], "offset": size + 1})
check("get_session_past_end_bad_args", code == "BAD_ARGS" and "offset" in r, (code, r))

# ---------------------------------------------------------------- App.run itself
# a replay left open: App.run's loop ends it after REPLAY_IDLE_MS of audio
code, r = cmd("replay_start")
app.run(max_frames=REPLAY_IDLE_MS // 10 + 5)
check("run_loop_replay_times_out", app.replay_engine is None and app.replays_timed_out == 2,
      app.replays_timed_out)
print("checks", n_checks[0], "failed", len(failed))
