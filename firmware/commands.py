"""The dongle's serial commands: one handler per row of protocol.COMMANDS (PROTOCOL.md).

    Commands(app).register(link)    # every command of the table the app answers

The table is the protocol's: a row gets the handler named cmd_<name> here, so a command
added to protocol.COMMANDS without one is answered UNSUPPORTED by the link (and `help`
leaves it out), never silently. `ping`, `help` and `stream` (protocol.BUILTIN) are the
link's own. Handlers run between frames, from Link.poll: they may allocate; what they
change in the app the loop picks up (a chore, the replay engine, a calibration step).
"""

from dsp.engine import Engine

from . import protocol
from .app import FW_VERSION
from .logformat import FORMAT_VERSION


class Commands:
    def __init__(self, app):
        self.app = app

    def register(self, link):
        for row in protocol.COMMANDS:
            name = row[0]
            fn = getattr(self, "cmd_" + name, None)
            if fn is not None and name not in protocol.BUILTIN:
                link.handle(name, fn)

    def cmd_info(self, args):
        app = self.app
        store = app.store
        config = app.config
        return {
            "device_id": config.device_id,
            "firmware": FW_VERSION,
            "log_format": FORMAT_VERSION,
            "calibration": config.calibration or None,
            "config_status": config.status,
            "cal_hash": config.cal_hash(),
            "params": config.overrides,
            "free_bytes": store.free_bytes(),
            "uptime_s": app.clock.uptime_s(),
            "time": app.clock.now(),
            "overruns": app.capture.overruns,
            "frames": app.engine.frame,
            # the file being recorded (a long call continues in new ones: parts)
            "session": store.session_id if app.session >= 0 else None,
            "records_logged": app.records_logged,
            "records_pending": store.pending,
            "sessions_removed_for_space": store.removed_for_space,
            "records_dropped": store.dropped_records,
            # what boot recovery had to drop (LOGFORMAT.md, "Torn records, corrupt
            # files and recovery")
            "recovery_records_dropped": store.dropped_torn,
            "recovery_sessions_dropped": store.deleted_files,
            "recovery_headers_rebuilt": store.headers_rebuilt,
            "recovery_segments_resealed": store.resealed,
            # whether session logs are sealed, and under which key (never the key)
            "key_set": app.key is not None,
            "key_id": app.key_id(),
            # a full flash: the oldest parts of a call in progress removed, and their
            # records (LOGFORMAT.md, "Space policy")
            "call_parts": store.parts,
            "call_records_removed": store.call_records_removed,
            "talkovers": app.talkovers_total,
            "events_logged": app.events_logged,
            "events_dropped": app.events_dropped,
            "memory_errors": app.memory_errors,
            "capture_done": app.capture.done,
            "replay": app.replay_engine is not None,
            "replays_timed_out": app.replays_timed_out,
            "calibrating": app.cal.step is not None,
            "config_pending": app.reconfig_due,
        }

    # ------------------------------------------------------------------ sessions

    def cmd_sessions(self, args):
        return {"sessions": [{"id": s[0], "bytes": s[1], "records": s[2], "start": s[3]}
                             for s in self.app.store.sessions()]}

    def cmd_stat_session(self, args):
        size, crc, is_open = self.app.store.stat(args["id"])
        return {"id": args["id"], "bytes": size, "crc32": crc & 0xFFFFFFFF, "open": is_open}

    def cmd_get_session(self, args):
        store = self.app.store
        sid = args["id"]
        offset = args["offset"]
        size, _, is_open = store.stat(sid)
        if is_open:                        # it grows: its bytes and crc32 would not hold
            raise protocol.ProtocolError(protocol.BUSY, "session %d is still recording; "
                                         "pull it after the call ends" % sid)
        if offset > size:
            raise protocol.ProtocolError(protocol.BAD_ARGS, "offset: %d is past the end of "
                                         "session %d (%d bytes)" % (offset, sid, size))
        data = store.read(sid, offset, args["len"])
        return protocol.chunk_reply(sid, offset, size, data)

    def cmd_delete_session(self, args):
        store = self.app.store
        sid = args["id"]
        size, crc, is_open = store.stat(sid)
        if is_open:
            raise protocol.ProtocolError(protocol.BUSY, "session %d is still recording" % sid)
        if crc & 0xFFFFFFFF != args["crc32"]:
            raise protocol.ProtocolError(protocol.MISMATCH,
                                         "crc32 does not match session %d: pull it again" % sid)
        if not store.delete(sid):
            raise protocol.ProtocolError(protocol.STORAGE, "could not delete session %d" % sid)
        return {"deleted": sid}

    # ------------------------------------------------------------------ config, clock

    def cmd_get_config(self, args):
        config = self.app.config
        return {"params": config.overrides, "calibration": config.calibration,
                "status": config.status, "effective": config.params.as_dict()}

    def cmd_set_config(self, args):
        """Stored at once; the engine restarts with it after this frame (a chore),
        closing the open session first: the rest of the call goes into a new session
        when the next voice opens one (PROTOCOL.md)."""
        app = self.app
        app.config.set(args["params"])     # ValueError (BAD_ARGS): nothing changed
        app.call_learn = False             # the new engine's counters start again
        app.reconfig_due = True
        app.chores_due = True
        return self.cmd_get_config({})

    def cmd_set_time(self, args):
        clock = self.app.clock
        clock.set_time(args["time"])
        return {"time": clock.now()}

    # ------------------------------------------------------------------ calibration

    def cmd_calibrate(self, args):
        app = self.app
        if app.replay_engine is not None:      # it measures the live capture, paused now
            raise protocol.ProtocolError(protocol.BUSY, "replay running; replay_end first")
        app.call_learn = False
        app.cal.start(args["step"], args["seconds"])
        return {"step": app.cal.step, "frames": app.cal.left}

    def cmd_calibration(self, args):
        cal = self.app.cal
        running = cal.step is not None
        return {"running": running, "result": {} if running else cal.reply()}

    def cmd_cal_save(self, args):
        """Keep every step finished since the last cal_save (the latest of each), so a
        host can measure all three, check them, and only then keep them."""
        app = self.app
        cal = app.cal
        if cal.step is not None:
            raise protocol.ProtocolError(protocol.BUSY, "calibration running; poll "
                                         "`calibration` until it ends")
        cal.reply()
        if not cal.done:
            raise protocol.ProtocolError(protocol.BUSY, "no finished measurement to save")
        kept = dict(app.config.calibration)
        kept.update(cal.done)
        app.config.set_calibration(kept)   # OSError (STORAGE): nothing changed, kept
        cal.done = {}
        return {"calibration": kept}

    # ------------------------------------------------------------------ replay

    def cmd_replay_start(self, args):
        """Replay: the host's PCM through a fresh engine; live capture is discarded and
        nothing is logged until replay_end, or until REPLAY_IDLE_MS pass without a
        `replay` line (App.replay_wait)."""
        app = self.app
        if app.cal.step is not None:           # it would stop the measurement's audio
            raise protocol.ProtocolError(protocol.BUSY, "calibration running; poll "
                                         "`calibration` until it ends")
        params = app.config.params
        if args.get("params"):
            from dsp.params import Params
            merged = dict(app.config.overrides)
            merged.update(args["params"])
            params = Params(**merged)
        app.replay_engine = Engine(params)
        app.replay_seen = app.ticks_ms()
        app.call_learn = False
        return {"frame": 0}

    def cmd_replay(self, args):
        app = self.app
        eng = app.replay_engine
        if eng is None:
            raise protocol.ProtocolError(protocol.BUSY, "replay_start first")
        app.replay_seen = app.ticks_ms()
        rep, cust = args["pcm"]
        ready = eng.process(rep, cust)
        return protocol.replay_reply(eng, ready)

    def cmd_replay_end(self, args):
        app = self.app
        eng = app.replay_engine
        if eng is None:
            raise protocol.ProtocolError(protocol.BUSY, "no replay in progress")
        eng.flush()
        app.replay_engine = None
        return {"frames": eng.frame, "evt": protocol.talkover_event(eng)}

    # ------------------------------------------------------------------ key, reboot

    def cmd_set_key(self, args):
        """Provision the key that seals the session logs: accepted while none is set,
        else only with proof of the current one (seal.rekey_proof), so whoever holds
        the port cannot swap the key under the host that provisioned it. Kept in its
        own file, never sent back (info shows its id). Sessions started from now on are
        sealed under it; the open one keeps its key."""
        from .seal import equal, rekey_proof, save_key
        app = self.app
        if app.key_path is None:
            raise protocol.ProtocolError(protocol.STORAGE, "this board keeps no key file")
        key = args["key"]
        if app.key is not None:
            proof = args["proof"]
            if proof is None or not equal(proof, rekey_proof(app.key, key)):
                raise protocol.ProtocolError(protocol.MISMATCH, "a key is set: replacing it "
                                             "takes proof of it (PROTOCOL.md, set_key)")
        save_key(app.key_path, key)        # OSError: STORAGE, nothing changed
        app.key = key
        app.store.set_key(key)
        return {"key_set": True, "key_id": app.key_id()}

    def cmd_reboot(self, args):
        app = self.app
        app.reboot_mode = args["mode"]

        def stop():
            app.reboot_requested = True
        app.link.after = stop
        return {"mode": args["mode"]}
