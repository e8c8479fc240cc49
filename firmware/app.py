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

The serial commands are commands.py (registered from protocol.COMMANDS), the calibration
steps' sums calibration.py; this module keeps the loop, the sessions and what the
commands leave for it. Commands in a call: `set_config` takes effect at a session
boundary (the chore closes the open session, then the new engine starts); a replay
pauses live coaching for at most REPLAY_IDLE_MS after its last `replay` line
(replay_wait). PROTOCOL.md.

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
from .calibration import Calibration

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
        self.cal = Calibration()     # the `calibrate` step measured, frame by frame
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
        # the serial commands, registered from the protocol's table (commands.py)
        from .commands import Commands
        self.commands = Commands(self)
        if link is not None:
            self.commands.register(link)
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
        cal = self.cal
        if cal.step is not None:
            cal.frame(eng)
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
                self.call_learn = self.cal.step is None and self.replay_engine is None
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
        if not learn or self.replay_engine is not None or self.cal.step is not None:
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

    # ------------------------------------------------------------------ replay, key
    # The commands themselves are commands.py; what the loop needs of them is here.

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

    def key_id(self):
        """The id of the key that seals the logs (hex), None without one."""
        if self.key is None:
            return None
        from binascii import hexlify

        from .seal import key_id
        return hexlify(key_id(self.key)).decode()
