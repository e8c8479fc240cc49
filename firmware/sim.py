"""The virtual dongle's main: the firmware on the simulated board, under the unix port.

    micropython firmware/sim.py FRAMES.raw [--storage ram|IMAGE.lfs|DIR] [--realtime]
                                [--speed N] [--loop] [--led] [--stay] [--no-link]
                                [--config PATH] [--time UNIX_S] [--one-core]

--speed N paces the capture at N times real time (--realtime = --speed 1); --stay
keeps serving the link after the call has been played, until `reboot`. Like the
device, the pitch stage runs on a second thread (core 1); --one-core keeps it in the
main loop.

Run with MICROPYPATH set to the repository root (so `dsp` and `firmware` import as on
the device). The serial link is stdin/stdout; `callcue sim` bridges it to a
pseudo-terminal. LED drawing (--led) goes to stderr. Like main.py, this only wires.
"""

import sys

from firmware import hal_sim
from firmware.app import FW_VERSION, App
from firmware.config import Config
from firmware.sessionlog import SessionLog


def main(argv):
    if len(argv) < 2:
        sys.stderr.write("usage: sim.py FRAMES.raw [--storage S] [--realtime] [--loop] [--led]\n")
        return 2
    raw = argv[1]
    opts = argv[2:]
    storage = "ram"
    config_path = None
    if "--storage" in opts:
        storage = opts[opts.index("--storage") + 1]
    if "--config" in opts:
        config_path = opts[opts.index("--config") + 1]
    root = hal_sim.mount_storage(storage)
    clock = hal_sim.SimClock()
    if "--time" in opts:          # as if the host had set the clock at plug-in
        clock.set_time(int(opts[opts.index("--time") + 1]))
    speed = 1 if "--realtime" in opts else 0
    if "--speed" in opts:
        speed = int(opts[opts.index("--speed") + 1])
    capture = hal_sim.FileCapture(raw, clock, speed=speed, loop="--loop" in opts)
    led = hal_sim.LedRecorder(clock, draw="--led" in opts)
    config = Config(config_path or root + "/config.json", device_id="cc-sim-0001").load()
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
    if reader is not None:
        app.host_gone = lambda: reader.eof
    import time
    t0 = time.ticks_us()
    frames = app.run()
    loop_us = time.ticks_diff(time.ticks_us(), t0)
    if link is not None and "--stay" in opts:
        app.serve()
    hal_sim.sync_storage()
    sys.stderr.write("sim: %d frames, %d records logged, %d overruns, %d LED changes, "
                     "loop %d us per 10 ms frame\n" % (frames, app.records_logged,
                                                      capture.overruns, led.changes,
                                                      loop_us // max(frames, 1)))
    return 0


sys.exit(main(sys.argv))
