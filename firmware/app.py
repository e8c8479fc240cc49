"""The dongle's application: capture -> engine -> cue LED, session logs and the serial link.

App(capture, led, clock, store, link, config, wdt, cores) gets every piece of hardware
from a HAL (hal_rp2 on the device, hal_sim under the unix port), so the same code runs
in both; with cores=2 the engine's pitch stage runs on the second core. One frame:
take a frame pair, run the engine, set the LED; once per second append the record to
the session log and, if streaming, send it; poll the link without blocking; feed the
watchdog.

Sessions: a session (one log file) opens on the first voice activity while idle and
closes when the engine's dead-air stage says the call has ended (`call_end_ms` of
silence). Records are committed to flash after a silent second, at the latest every
SYNC_MAX_S seconds, and at call end (see SYNC_MAX_S). Everything that touches flash
(making the session's file, a commit, closing the call and saving what it taught) is
a chore: the frame that needs one only asks for it (`chores_due`), and the loop does
it after that frame (`chores()`), so a frame is audio work and RAM only; the
capture's buffer holds the audio meanwhile (on the RP2040 100 ms, hal_rp2).
Overruns (frames the capture lost: the loop fell behind, or the I2S port dropped
them) are counted by the capture, logged in every record and shown by `info`.

Commands in a call: `set_config` takes effect at a session boundary (the chore closes
the open session, then the new engine starts); a replay pauses live coaching for at
most REPLAY_IDLE_MS after its last `replay` line (replay_wait). PROTOCOL.md.

Talk-over events: each one the engine finishes (`event_ready`) is kept in a small
preallocated buffer and logged with the next second's record, in the same write and
flush (LOGFORMAT.md); at the end of input (`close()`) the engine is flushed, as
`callcue analyze` does, so a talk-over still open is logged too.

The rep's usual rate: when a session closes (the call has ended, or at `close()`), a
call in which the rep spoke at least LEARN_MIN_REP_S gives its articulation rate,
syllables * 10000 // rep frames (csps, from the engine's total_syl / total_rep since
the session opened, its first second included). It moves the learned baseline
`rate_baseline_csps` B a quarter of the way (the first call sets it): an average
over about four calls, kept in /config.json with the other overrides and applied to
the running engine's fast cue (dsp/cues.py). Calls with a host replay, a calibration
or a config change in them, rates below 100 csps and a config file in a bad state
teach nothing; a full flash never stops the dongle. Only at call end: the per-frame
path still allocates nothing.
"""

import gc
import time
from array import array

from micropython import heap_lock, heap_unlock

from dsp.engine import FRAME, Engine

from . import protocol

FW_VERSION = "0.1.0"
# talk-overs held for the next record: one lasts >= talkover_min_ms plus a gap, so only
# a few can end in one second; more are counted in events_dropped
EVENTS_MAX = 8
# the rep's speech in a call before its rate moves the learned baseline
LEARN_MIN_REP_S = 30
# The session log commits to flash (on LittleFS a 4 KB erase, with interrupts off:
# both cores stall and the audio of that moment is lost, and counted) after a second
# in which nobody spoke, else at the latest every SYNC_MAX_S seconds, and at call end;
# the loop does it after that frame (chores), not inside it. A power cut loses at
# most the records since the last commit.
SYNC_MAX_S = 30
# Between frames the loop leaves a little garbage (on the RP2040 binascii.crc32
# returns a big int, and the link and the file calls allocate): about 32 bytes a
# second during a call, on the emulated Pico. Left alone, the GC would run when an
# allocation finds the heap full, inside whatever frame that is (one collection takes
# 8-22 ms there). A chore collects instead, at call end and otherwise once GC_EVERY_S
# seconds have passed since the last collection: at that rate a minute leaves about
# 2 KB of the 86 KB free. (Not by bytes: gc.mem_alloc() scans the whole heap's block
# table, about 8 ms on the emulated Pico.)
GC_EVERY_S = 60
# A replay ends by itself once this long has passed without a `replay` line, as
# replay_end would (a host that died mid-replay must not leave the dongle deaf): live
# coaching and logging resume. PROTOCOL.md, replay_end.
REPLAY_IDLE_MS = 10000
# Calibration (see _calibrate_frame): the rep and customer steps histogram, in CAL_BINS
# bins of 2 dB from 0 dB up, how far the other channel sits below the speaker's, over
# the frames where the other channel is at least CAL_ABOVE_FLOOR_Q8 (10 dB) above its
# noise floor: a leak (sidetone, echo) keeps that distance steady, the other party
# speaking makes it shrink, and a leak within 10 dB of the noise would read too loud.
CAL_BINS = 32
CAL_ABOVE_FLOOR_Q8 = 10 << 8


class App:
    def __init__(self, capture, led, clock, store, link, config, wdt=None, cores=1,
                 key_path=None):
        self.capture = capture
        self.led = led
        self.clock = clock
        self.store = store
        self.link = link
        self.config = config
        self.wdt = wdt
        self.engine = Engine(config.params)
        # cores=2: the pitch stage runs on the second core (firmware/core1.py)
        self.core1 = None
        if cores == 2:
            from .core1 import PitchOnCore1
            self.core1 = PitchOnCore1(self.engine)
        self.rep = array("h", bytes(2 * FRAME))
        self.cust = array("h", bytes(2 * FRAME))
        self.replay_engine = None    # the engine of a host replay, while one runs
        self.replay_seen = 0         # ticks_ms of replay_start or the last `replay`
        self.replays_timed_out = 0
        # time.ticks_ms; a test may put a clock of its own here
        self.ticks_ms = time.ticks_ms
        self.reboot_mode = "normal"
        self.session = -1            # open session id, -1 when idle
        self.talkovers = 0           # talk-over events ended this second
        self.talkovers_total = 0
        self.records_logged = 0
        self.unsynced_s = 0          # seconds logged since the log's last commit
        # chores for after the frame (chores()): make the session's file and log the
        # second that opened it, commit the log, close the call
        self.open_due = False
        self.sync_due = False
        self.end_due = False
        self.reconfig_due = False    # set_config: close the session, then a new engine
        self.chores_due = False
        self.memory_errors = 0           # chores that found no heap (see chores())
        self.gc_frame = 0                # the engine's frame at the last collection
        # talk-overs not yet logged: (start_f, end_f, interrupter) triples
        self.events = array("i", bytes(12 * EVENTS_MAX))
        self.events_n = 0
        self.events_logged = 0
        self.events_dropped = 0
        # the engine's total_rep / total_syl when the open session started, and whether
        # the call may teach the rep's usual rate (no replay, calibration, config change)
        self.call_rep0 = 0
        self.call_syl0 = 0
        self.call_learn = False
        self.cal_step = None         # the step being measured, None when none runs
        self.cal_last = None         # the step measured last
        self.cal_left = 0            # frames asked
        # rep level, cust level (dB Q8 sums over the used frames), frames, used frames,
        # frames in which the VAD calls the rep / the customer speaking
        self.cal_sum = array("i", bytes(24))
        # energy sums of the used frames as (sum, shift) per channel: sum << shift
        self.cal_pow = array("i", bytes(16))
        self.cal_hist = array("i", bytes(4 * CAL_BINS))
        self.cal_floor = array("i", bytes(8))  # both noise floors when the step ended
        # the last step's reply: {} before one ends; None: ended, built when asked for
        # (out of the frame: the frame allocates nothing)
        self.cal_result = {}
        self.cal_done = {}           # finished steps' replies not yet kept (cal_save)
        self.reboot_requested = False
        # simulated board only: a function telling that the host has gone (stdin closed),
        # so a virtual dongle never outlives the tool that started it
        self.host_gone = None
        # the key that seals session logs (set_key), in its own file; loaded before
        # recovery, which seals again what it rewrites
        self.key_path = key_path
        self.key = None
        if key_path is not None:
            from .seal import load_key
            self.key = load_key(key_path)
            self.store.set_key(self.key)
        self.store.recover(feed=wdt.feed if wdt is not None else None)
        if link is not None:
            self._register(link)
            link.send_event("boot", {"firmware": FW_VERSION})

    # ------------------------------------------------------------------ the loop

    def run(self, max_frames=-1):
        """Run until the capture ends (simulated board) or max_frames frames."""
        cap = self.capture
        n = 0
        gone = self.host_gone
        while not cap.done and n != max_frames and not self.reboot_requested:
            if gone is not None and gone():
                break
            if cap.read(self.rep, self.cust):
                if self.replay_engine is None:
                    self.step()
                    if self.chores_due:            # flash work, out of the frame
                        self.chores()
                else:                              # during a replay, live audio waits
                    self.replay_wait()
                n += 1
            elif self.link is not None:
                self.link.poll()
        self.close()
        return n

    def serve(self):
        """Keep answering the link without audio (the simulated call has ended)."""
        import time
        gone = self.host_gone
        while not self.reboot_requested and not (gone is not None and gone()):
            self.link.poll()
            if self.replay_engine is not None:
                self.replay_wait()
            if self.chores_due:
                self.chores()
            if self.wdt is not None:
                self.wdt.feed()
            time.sleep_ms(1)

    def step(self):
        """One frame pair (already in self.rep / self.cust). The engine runs with the
        heap locked: it allocates nothing, and a locked heap keeps MicroPython from
        putting its bigger functions' frames on the GC heap (their first-fit search
        there costs more the more garbage the rest of the loop has left; on the C
        stack they cost nothing). An allocation slipping into dsp/ raises MemoryError
        here rather than slowing every frame."""
        eng = self.engine
        heap_lock()
        try:
            ready = eng.process(self.rep, self.cust)
        finally:
            heap_unlock()
        self.led.show(eng.cue)
        if eng.event_ready:
            self.talkovers += 1
            self.talkovers_total += 1
            self._keep_event(eng)
            if self.link is not None and self.link.stream != protocol.STREAM_OFF:
                self.link.send_event("talkover", protocol.talkover_event(eng))
        if self.cal_step is not None:
            self._calibrate_frame()
        if ready:
            self._second()
        if self.link is not None:
            self.link.send_frame(eng)
            self.link.poll()
        if self.wdt is not None:
            self.wdt.feed()

    def _second(self):
        eng = self.engine
        if self.link is not None:
            self.link.send_record(eng.record, self.capture.overruns, self.talkovers)
        if self.session < 0 and eng.dead.in_call:
            # a call begins: its file is made after the frame (chores), which then logs
            # this second's record (the engine's, unchanged until the next frame)
            self.open_due = True
            self.chores_due = True
            return
        self._log_second()

    def _log_second(self):
        """Append the second's record, with the talk-overs held, to the open session
        (into RAM: the commit is a chore); at call end ask for the session's close."""
        eng = self.engine
        if self.session >= 0:
            n = self.events_n
            r = eng.record
            self.unsynced_s += 1
            if r[1] == 0 and r[2] == 0 or self.unsynced_s >= SYNC_MAX_S:
                self.unsynced_s = 0
                self.sync_due = True
                self.chores_due = True
            if self.store.append(r, self.capture.overruns, self.talkovers,
                                 self.events, n, False):
                self.records_logged += 1
                self.events_logged += n
            else:
                self.events_dropped += n
            self.events_n = 0
            if not eng.dead.in_call:
                self.end_due = True
                self.chores_due = True
        self.talkovers = 0
        if self.events_n:                  # no session to log them in
            self.events_dropped += self.events_n
            self.events_n = 0

    def chores(self):
        """The flash work a frame asked for, after it (the loop calls this when
        chores_due): make the session's file and log the second that opened it; close
        the call (commit, close, learn the rep's rate into /config.json); else commit
        the records waiting in RAM. A config change (set_config) closes the open
        session here and only then starts the new engine, so one log never holds two
        engines' seconds (t_s starting again at 0). And collect the garbage at call
        end or once GC_EVERY_S have passed, so that the GC never runs inside a frame.

        A chore that finds no heap (MemoryError: a fragmented heap, or garbage not yet
        collected) never stops the loop: it is counted (memory_errors), the garbage is
        collected, and what the chore had not done yet is tried after the next frame."""
        try:
            self._chores()
        except MemoryError:
            self.memory_errors += 1
            gc.collect()
            self.gc_frame = self.engine.frame
            self.chores_due = self.open_due or self.sync_due or self.end_due or \
                self.reconfig_due

    def _chores(self):
        if self.open_due:
            self.open_due = False
            eng = self.engine
            self.session = self.store.start(self.clock.now())
            if self.session < 0:           # storage unusable: coach on, count the loss
                self.store.dropped_records += 1
            else:                          # the call from this second (just closed) on
                self.call_rep0 = eng.total_rep - eng.record[1] // 10
                self.call_syl0 = eng.total_syl - eng.record[4]
                self.call_learn = self.cal_step is None and self.replay_engine is None
            self._log_second()
        ended = self.end_due
        reconfig = self.reconfig_due
        if ended or reconfig:
            self.end_due = False
            self.sync_due = False
            if self.session >= 0:
                if reconfig:               # the call goes on: close its talk-over too
                    self._flush_events()
                self.store.end()           # commits what waits
                self.session = -1
                self._learn_rate()         # nothing when the config changed (call_learn)
            if reconfig:
                self._new_engine()
                self.reconfig_due = False  # after: a MemoryError retries it (chores())
                ended = True               # the old engine is garbage: collect it
        elif self.sync_due:
            self.sync_due = False
            self.store.sync()
        f = self.engine.frame
        if ended or f - self.gc_frame >= GC_EVERY_S * 100:     # see GC_EVERY_S
            gc.collect()
            self.gc_frame = f
        self.chores_due = False

    def _keep_event(self, eng):
        """Hold the talk-over the engine just finished for the next append (no
        allocation: three ints into the preallocated buffer)."""
        n = self.events_n
        if n >= EVENTS_MAX:
            self.events_dropped += 1
            return
        ev = self.events
        i = 3 * n
        ev[i] = eng.event_start
        ev[i + 1] = eng.event_end
        ev[i + 2] = eng.event_interrupter
        self.events_n = n + 1

    def close(self):
        """End of input: close a talk-over still open (as analyze does), log what is held
        and close the session."""
        self._flush_events()
        if self.session >= 0:
            self.store.end()
            self.session = -1
            self._learn_rate()

    def _flush_events(self):
        """Close the engine's open talk-over (Engine.flush) and log every talk-over
        held, on its own, in the open session (dropped and counted without one)."""
        eng = self.engine
        eng.flush()
        if eng.event_ready:
            self.talkovers_total += 1
            self._keep_event(eng)
        n = self.events_n
        if self.session >= 0 and n:
            if self.store.append(None, 0, 0, self.events, n):
                self.events_logged += n
            else:
                self.events_dropped += n
            n = 0
        self.events_dropped += n           # held with no session to log them in
        self.events_n = 0

    def _new_engine(self):
        """The engine for the stored config (set_config, at a session boundary): from
        the next frame, and the next session's header carries its calibration hash."""
        self.engine = Engine(self.config.params)
        if self.core1 is not None:
            self.core1.attach(self.engine)
        self.store.cal_hash = self.config.cal_hash()
        self.talkovers = 0

    def _learn_rate(self):
        """A call has ended: move the rep's usual rate toward this call's, save it and
        apply it to the fast cue (see the module docstring). Returns the new baseline in
        csps, or None when the call taught nothing."""
        learn = self.call_learn
        self.call_learn = False
        if not learn or self.replay_engine is not None or self.cal_step is not None:
            return None
        if self.config.status.startswith("bad"):    # fix the file first: never overwrite it
            return None
        eng = self.engine
        rep = eng.total_rep - self.call_rep0
        syl = eng.total_syl - self.call_syl0
        if rep < LEARN_MIN_REP_S * 100 or syl < 0:
            return None
        while syl >= 100000:               # syl * 10000 stays below 2**30
            syl >>= 1
            rep >>= 1
        rate = syl * 10000 // rep
        if rate < 100:                     # no syllables found: not a speaking rate
            return None
        b = self.config.params.rate_baseline_csps
        b = rate if b == 0 else b + (rate - b) // 4
        if b > 1500:
            b = 1500
        elif b < 1:
            b = 1
        try:
            self.config.set({"rate_baseline_csps": b})
        except (OSError, ValueError):      # a full flash: coach on, learn next call
            pass
        eng.cues.set_baseline(b)
        return b

    # ------------------------------------------------------------------ calibration

    def _calibrate_frame(self):
        """One frame of a calibration step; integers into preallocated arrays only.

        silence: `seconds` of audio; its noise (levels, energies) is taken over the frames
        in which neither party is active (hangover included), so a cough does not pass
        for noise; the VAD's speech frames are counted so the host can refuse a step that
        was not silent. rep / customer: only frames where that party is speaking, until
        `seconds` of them (or six times that of audio, so a step nobody speaks in still
        ends). The levels are dB Q8; their mean difference is the coupling: sidetone (rep
        step) or echo (customer step). The frames' energies are summed too, so the host
        can take the coupling as a power ratio with the silence step's noise subtracted
        (a leak near the noise floor reads too loud in mean dB), and the distance between
        the channels goes into cal_hist (CAL_BINS): the host tells a steady leak from the
        other party speaking by it. The reply is built when asked for (_cal_reply)."""
        eng = self.engine
        s = self.cal_sum
        step = self.cal_step
        rs = eng.rep_speech
        cs = eng.cust_speech
        s[4] += rs
        s[5] += cs
        lr = eng.level_rep
        lc = eng.level_cust
        if step == "silence":
            use = not (eng.rep_active or eng.cust_active)
            other = 0
        elif step == "rep":
            use = rs
            d = lr - lc                                 # sidetone: immediate
            other = lc - eng.vad_cust.floor_q8() >= CAL_ABOVE_FLOOR_Q8
        else:
            use = cs
            d = lc - lr
            other = lr - eng.vad_rep.floor_q8() >= CAL_ABOVE_FLOOR_Q8
        if use:
            s[0] += lr
            s[1] += lc
            s[3] += 1
            self._add_energy(0, eng.energy_rep)
            self._add_energy(2, eng.energy_cust)
            if other:
                b = d >> 9                              # 2 dB bins (Q8)
                if b < 0:
                    b = 0
                elif b >= CAL_BINS:
                    b = CAL_BINS - 1
                self.cal_hist[b] += 1
        s[2] += 1
        if (s[2] if step == "silence" else s[3]) >= self.cal_left \
                or s[2] >= 6 * self.cal_left:
            self.cal_floor[0] = eng.vad_rep.floor_q8()
            self.cal_floor[1] = eng.vad_cust.floor_q8()
            self.cal_last = step
            self.cal_result = None
            self.cal_step = None

    def _cal_reply(self):
        """The last step's result (PROTOCOL.md, `calibration`), built once after it ends."""
        if self.cal_result is None:
            s = self.cal_sum
            n = s[3]
            w = self.cal_pow
            res = {"step": self.cal_last, "frames": s[2], "used_frames": n,
                   "asked_frames": self.cal_left,
                   "rep_speech_frames": s[4], "customer_speech_frames": s[5],
                   "rep_floor_db_q8": self.cal_floor[0],
                   "customer_floor_db_q8": self.cal_floor[1]}
            if n:
                res["rep_level_db_q8"] = s[0] // n
                res["customer_level_db_q8"] = s[1] // n
                # how far the other channel sits below the speaking one
                res["difference_db_q8"] = (s[0] - s[1]) // n
                # mean frame energy = sum * 2**shift / used_frames (kernels.energy units)
                res["rep_energy"] = [w[0], w[1]]
                res["customer_energy"] = [w[2], w[3]]
            if self.cal_last != "silence":
                res["diff_hist"] = list(self.cal_hist)
            self.cal_result = res
            self.cal_done[self.cal_last] = res
        return self.cal_result

    def _add_energy(self, i, e):
        """cal_pow[i] += e >> cal_pow[i + 1], halving the sum (and raising the shift) to
        stay below 2**29: e < 2**28.33 (kernels.energy), so every value is a small int
        and nothing allocates, however long the step."""
        w = self.cal_pow
        v = w[i] + (e >> w[i + 1])
        while v >= 0x20000000:
            v >>= 1
            w[i + 1] += 1
        w[i] = v

    # ------------------------------------------------------------------ commands
    # One handler per command of protocol.COMMANDS (see PROTOCOL.md); `ping`, `help`
    # and `stream` are answered by the link itself.

    def _register(self, link):
        for name in ("info", "sessions", "stat_session", "get_session", "delete_session",
                     "get_config", "set_config", "set_time", "calibrate", "calibration",
                     "cal_save", "replay_start", "replay", "replay_end", "set_key",
                     "reboot"):
            link.handle(name, getattr(self, "cmd_" + name))

    def cmd_info(self, args):
        from .sessionlog import FORMAT_VERSION
        return {
            "device_id": self.config.device_id,
            "firmware": FW_VERSION,
            "log_format": FORMAT_VERSION,
            "calibration": self.config.calibration or None,
            "config_status": self.config.status,
            "cal_hash": self.config.cal_hash(),
            "params": self.config.overrides,
            "free_bytes": self.store.free_bytes(),
            "uptime_s": self.clock.uptime_s(),
            "time": self.clock.now(),
            "overruns": self.capture.overruns,
            "frames": self.engine.frame,
            # the file being recorded (a long call continues in new ones: parts)
            "session": self.store.session_id if self.session >= 0 else None,
            "records_logged": self.records_logged,
            "records_pending": self.store.pending,
            "sessions_removed_for_space": self.store.removed_for_space,
            "records_dropped": self.store.dropped_records,
            # what boot recovery had to drop (LOGFORMAT.md, "Torn records, corrupt
            # files and recovery")
            "recovery_records_dropped": self.store.dropped_torn,
            "recovery_sessions_dropped": self.store.deleted_files,
            "recovery_headers_rebuilt": self.store.headers_rebuilt,
            "recovery_segments_resealed": self.store.resealed,
            # whether session logs are sealed, and under which key (never the key)
            "key_set": self.key is not None,
            "key_id": self._key_id(),
            # a full flash: the oldest parts of a call in progress removed, and their
            # records (LOGFORMAT.md, "Space policy")
            "call_parts": self.store.parts,
            "call_records_removed": self.store.call_records_removed,
            "talkovers": self.talkovers_total,
            "events_logged": self.events_logged,
            "events_dropped": self.events_dropped,
            "memory_errors": self.memory_errors,
            "capture_done": self.capture.done,
            "replay": self.replay_engine is not None,
            "replays_timed_out": self.replays_timed_out,
            "calibrating": self.cal_step is not None,
            "config_pending": self.reconfig_due,
        }

    def cmd_sessions(self, args):
        return {"sessions": [{"id": s[0], "bytes": s[1], "records": s[2], "start": s[3]}
                             for s in self.store.sessions()]}

    def cmd_stat_session(self, args):
        size, crc, is_open = self.store.stat(args["id"])
        return {"id": args["id"], "bytes": size, "crc32": crc & 0xFFFFFFFF, "open": is_open}

    def cmd_get_session(self, args):
        sid = args["id"]
        offset = args["offset"]
        size, _, is_open = self.store.stat(sid)
        if is_open:                        # it grows: its bytes and crc32 would not hold
            raise protocol.ProtocolError(protocol.BUSY, "session %d is still recording; "
                                         "pull it after the call ends" % sid)
        if offset > size:
            raise protocol.ProtocolError(protocol.BAD_ARGS, "offset: %d is past the end of "
                                         "session %d (%d bytes)" % (offset, sid, size))
        data = self.store.read(sid, offset, args["len"])
        return protocol.chunk_reply(sid, offset, size, data)

    def cmd_delete_session(self, args):
        sid = args["id"]
        size, crc, is_open = self.store.stat(sid)
        if is_open:
            raise protocol.ProtocolError(protocol.BUSY, "session %d is still recording" % sid)
        if crc & 0xFFFFFFFF != args["crc32"]:
            raise protocol.ProtocolError(protocol.MISMATCH,
                                         "crc32 does not match session %d: pull it again" % sid)
        if not self.store.delete(sid):
            raise protocol.ProtocolError(protocol.STORAGE, "could not delete session %d" % sid)
        return {"deleted": sid}

    def cmd_get_config(self, args):
        return {"params": self.config.overrides, "calibration": self.config.calibration,
                "status": self.config.status, "effective": self.config.params.as_dict()}

    def cmd_set_config(self, args):
        """Stored at once; the engine restarts with it after this frame (a chore),
        closing the open session first: the rest of the call goes into a new session
        when the next voice opens one (PROTOCOL.md)."""
        self.config.set(args["params"])    # ValueError (BAD_ARGS): nothing changed
        self.call_learn = False            # the new engine's counters start again
        self.reconfig_due = True
        self.chores_due = True
        return self.cmd_get_config({})

    def cmd_set_time(self, args):
        self.clock.set_time(args["time"])
        return {"time": self.clock.now()}

    def cmd_calibrate(self, args):
        if self.replay_engine is not None:     # it measures the live capture, paused now
            raise protocol.ProtocolError(protocol.BUSY, "replay running; replay_end first")
        self.call_learn = False
        if self.cal_step is None:
            self._cal_reply()              # the step that ended: kept for cal_save
        self.cal_left = args["seconds"] * 100
        for a in (self.cal_sum, self.cal_pow, self.cal_hist):
            for i in range(len(a)):
                a[i] = 0
        self.cal_result = {}
        self.cal_step = args["step"]       # last: the frame reads the arrays from now
        return {"step": self.cal_step, "frames": self.cal_left}

    def cmd_calibration(self, args):
        running = self.cal_step is not None
        return {"running": running, "result": {} if running else self._cal_reply()}

    def cmd_cal_save(self, args):
        """Keep every step finished since the last cal_save (the latest of each), so a
        host can measure all three, check them, and only then keep them."""
        if self.cal_step is not None:
            raise protocol.ProtocolError(protocol.BUSY, "calibration running; poll "
                                         "`calibration` until it ends")
        self._cal_reply()
        if not self.cal_done:
            raise protocol.ProtocolError(protocol.BUSY, "no finished measurement to save")
        cal = dict(self.config.calibration)
        cal.update(self.cal_done)
        self.config.set_calibration(cal)   # OSError (STORAGE): nothing changed, kept
        self.cal_done = {}
        return {"calibration": cal}

    def cmd_replay_start(self, args):
        """Replay: the host's PCM through a fresh engine; live capture is discarded and
        nothing is logged until replay_end, or until REPLAY_IDLE_MS pass without a
        `replay` line (replay_wait)."""
        if self.cal_step is not None:          # it would stop the measurement's audio
            raise protocol.ProtocolError(protocol.BUSY, "calibration running; poll "
                                         "`calibration` until it ends")
        params = self.config.params
        if args.get("params"):
            from dsp.params import Params
            merged = dict(self.config.overrides)
            merged.update(args["params"])
            params = Params(**merged)
        self.replay_engine = Engine(params)
        self.replay_seen = self.ticks_ms()
        self.call_learn = False
        return {"frame": 0}

    def replay_wait(self):
        """The loop during a replay (the live frame just read is dropped): feed the
        watchdog, and end a replay that has had no `replay` line for REPLAY_IDLE_MS,
        as replay_end would, so coaching and logging resume."""
        if self.wdt is not None:
            self.wdt.feed()
        if time.ticks_diff(self.ticks_ms(), self.replay_seen) >= REPLAY_IDLE_MS:
            eng = self.replay_engine
            self.replay_engine = None
            self.replays_timed_out += 1
            if self.link is not None:
                self.link.send_event("replay_end", {"reason": "idle", "frames": eng.frame})

    def cmd_replay(self, args):
        eng = self.replay_engine
        if eng is None:
            raise protocol.ProtocolError(protocol.BUSY, "replay_start first")
        self.replay_seen = self.ticks_ms()
        rep, cust = args["pcm"]
        ready = eng.process(rep, cust)
        return protocol.replay_reply(eng, ready)

    def cmd_replay_end(self, args):
        eng = self.replay_engine
        if eng is None:
            raise protocol.ProtocolError(protocol.BUSY, "no replay in progress")
        eng.flush()
        self.replay_engine = None
        return {"frames": eng.frame, "evt": protocol.talkover_event(eng)}

    def _key_id(self):
        if self.key is None:
            return None
        from binascii import hexlify

        from .seal import key_id
        return hexlify(key_id(self.key)).decode()

    def cmd_set_key(self, args):
        """Provision the key that seals the session logs: accepted while none is set,
        else only with proof of the current one (seal.rekey_proof), so whoever holds
        the port cannot swap the key under the host that provisioned it. Kept in its
        own file, never sent back (info shows its id). Sessions started from now on are
        sealed under it; the open one keeps its key."""
        from .seal import equal, rekey_proof, save_key
        if self.key_path is None:
            raise protocol.ProtocolError(protocol.STORAGE, "this board keeps no key file")
        key = args["key"]
        if self.key is not None:
            proof = args["proof"]
            if proof is None or not equal(proof, rekey_proof(self.key, key)):
                raise protocol.ProtocolError(protocol.MISMATCH, "a key is set: replacing it "
                                             "takes proof of it (PROTOCOL.md, set_key)")
        save_key(self.key_path, key)       # OSError: STORAGE, nothing changed
        self.key = key
        self.store.set_key(key)
        return {"key_set": True, "key_id": self._key_id()}

    def cmd_reboot(self, args):
        self.reboot_mode = args["mode"]

        def stop():
            self.reboot_requested = True
        self.link.after = stop
        return {"mode": args["mode"]}
