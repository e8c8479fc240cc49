"""The virtual dongle's main: the firmware on the simulated board, under the unix port.

    micropython sim.py FRAMES.raw|- [--storage ram|IMAGE.lfs|DIR] [--realtime]
                                [--speed N] [--drop-late] [--loop] [--led] [--stay]
                                [--no-link] [--finish] [--config PATH] [--time UNIX_S]
                                [--id DEVICE_ID] [--clock-file PATH] [--result PATH]
                                [--one-core]

FRAMES.raw is the call (`-`: none: a dongle plugged in only to be read; its clock runs
with the host's). --speed N paces the capture at N times real time (--realtime = --speed
1); a host too busy for that pace slows the call down and nothing is lost, unless
--drop-late (then the frames the loop was late for are lost and counted as overruns, as
on the device). --stay keeps serving the link after the call has been played, until
`reboot`. --finish: when the host goes away (stdin closed) during the call, play the
rest at full speed without the link, so a flash that outlives the process keeps the
call whole rather than half of it. --id names a board whose /config.json is missing
(written as `callcue flash` would). --clock-file: a host file keeping the offset of the
clock the host set (`set_time`) from this host's clock, read at boot: the dongle's clock
keeps running while it is unplugged. Like the device, the pitch stage runs on a second
thread (core 1); --one-core keeps it in the main loop. --result PATH: a JSON file
written at the end for the host (frames, records, overruns, lag, the sessions this run
made).

Run with MICROPYPATH set to a folder holding `dsp` and `firmware` (so they import as on
the device) and to this folder (hal_sim; never flashed). The serial link is
stdin/stdout; `callcue sim` bridges it to a pseudo-terminal. LED drawing (--led) goes to
stderr, and a summary line at the end. Like main.py, this only wires.
"""

import sys

import hal_sim

from firmware.app import FW_VERSION, App
from firmware.config import Config
from firmware.sessionlog import SessionLog


def _opt(opts, name, default=None):
    return opts[opts.index(name) + 1] if name in opts else default


def main(argv):
    if len(argv) < 2:
        sys.stderr.write("usage: sim.py FRAMES.raw|- [--storage S] [--realtime] [--loop] "
                         "[--led]\n")
        return 2
    import json
    import time

    raw = argv[1]
    opts = argv[2:]
    storage = _opt(opts, "--storage", "ram")
    config_path = _opt(opts, "--config")
    try:
        root = hal_sim.mount_storage(storage)
    except OSError as e:
        sys.stderr.write("sim: %s\n" % e)
        return 2
    clock = hal_sim.SimClock() if raw != "-" else hal_sim.TicksClock()
    clock_file = _opt(opts, "--clock-file")
    if "--time" in opts:          # as if the host had set the clock at plug-in
        clock.set_time(int(_opt(opts, "--time")))
    elif clock_file is not None:  # the clock the host set last, still running
        try:
            with open(clock_file) as f:
                clock.set_time(int(time.time()) + int(f.read()))
        except (OSError, ValueError):
            pass
    speed = 1 if "--realtime" in opts else 0
    if "--speed" in opts:
        speed = int(_opt(opts, "--speed"))
    if raw == "-":
        capture = hal_sim.IdleCapture()
    else:
        capture = hal_sim.FileCapture(raw, clock, speed=speed, loop="--loop" in opts,
                                      drop_late="--drop-late" in opts)
    led = hal_sim.LedRecorder(clock, draw="--led" in opts)
    config = Config(config_path or root + "/config.json", device_id="cc-sim-0001").load()
    if config.status == "missing" and "--id" in opts:
        config.device_id = _opt(opts, "--id")
        config.save()
    store = SessionLog(root + "/logs", config.device_id, FW_VERSION, config.cal_hash())
    link = None
    reader = None
    if "--no-link" not in opts:
        from firmware.link import Link, PollReader
        reader = PollReader(sys.stdin)
        out = sys.stdout.buffer if hasattr(sys.stdout, "buffer") else sys.stdout
        link = Link(reader, out.write)
    app = App(capture, led, clock, store, link, config, hal_sim.WDT(),
              cores=1 if "--one-core" in opts else 2, key_path=root + "/key.bin")
    before = set(s[0] for s in store.sessions())
    if link is not None:
        _sim_commands(app, link, capture, clock, clock_file)
    finishing = []
    if reader is not None:
        finish = "--finish" in opts

        def host_gone():
            if not reader.eof:
                return False
            if finish and not capture.done:
                if not finishing:          # the rest of the call, fast, with no link
                    finishing.append(1)
                    app.link = None
                    capture.stop_pacing()
                return False
            return True
        app.host_gone = host_gone
    t0 = time.ticks_us()
    frames = app.run()
    loop_us = time.ticks_diff(time.ticks_us(), t0)
    if link is not None and "--stay" in opts and not finishing and not reader.eof:
        app.serve()
    hal_sim.sync_storage()
    made = [{"id": s[0], "bytes": s[1], "records": s[2], "start": s[3]}
            for s in store.sessions() if s[0] not in before]
    sys.stderr.write("sim: %d frames, %d records logged, %d overruns, %d LED changes, "
                     "loop %d us per 10 ms frame\n" % (frames, app.records_logged,
                                                      capture.overruns, led.changes,
                                                      loop_us // max(frames, 1)))
    result = _opt(opts, "--result")
    if result is not None:
        with open(result, "w") as f:
            json.dump({"device_id": config.device_id, "frames": frames,
                       "records": app.records_logged, "overruns": capture.overruns,
                       "lag_ms": capture.lag_ms, "finished": bool(finishing),
                       "loop_us": loop_us, "sessions": made}, f)
    return 0


def _sim_commands(app, link, capture, clock, clock_file):
    """What only the simulated board adds to two commands: `info` tells how the call is
    being played (`sim`: its speed, and how far a busy host slowed it: lag_ms), and
    `set_time` is kept in --clock-file."""
    import time

    info = app.commands.cmd_info

    def cmd_info(args):
        reply = info(args)
        reply["sim"] = {"speed": capture.speed, "lag_ms": capture.lag_ms,
                        "frames_played": capture.delivered}
        return reply
    link.handle("info", cmd_info)
    if clock_file is None:
        return
    set_time = app.commands.cmd_set_time

    def cmd_set_time(args):
        reply = set_time(args)
        try:
            with open(clock_file, "w") as f:
                f.write(str(args["time"] - int(time.time())))
        except OSError:
            pass
        return reply
    link.handle("set_time", cmd_set_time)


sys.exit(main(sys.argv))
