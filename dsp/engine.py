"""The engine: 10 ms frame pairs in, per-frame state and a per-second record out.

    eng = Engine(Params())
    if eng.process(rep_frame, cust_frame):   # array('h') of FRAME samples each
        use(eng.record)                      # array('i'), fields RECORD_FIELDS

Per frame, in order: band-pass both channels (coeffs.BANDPASS_Q13), frame
energy and level in dB Q8, noise floor and speech decision per channel (vad),
crosstalk gate, onset/hangover (vad), talk-over, dead air, cue policy, pitch of
the rep, syllable nuclei (on the rep's high-passed level, kernels.highpass_energy).
Once per second: rolling rate and pitch spread, and the record. The pitch stage
depends only on the band-passed rep frame and the rep's activity, and nothing
before the syllables depends on it, so a `pitch_worker` (firmware/core1.py: the
RP2040's second core) can run it while talk-over, dead air and the cue policy run
here, with the same results. All buffers are allocated here, so process()
allocates nothing.

Per frame: rep_active/cust_active (with hangover: what decisions use) and
rep_speech/cust_speech (speaking on this very frame). Talk time (records and
total_rep/total_cust/total_both, in frames) counts speech frames plus gaps
bridged by the hangover, credited when speech resumes (see vad.py); overlap
counts frames where both are speaking. total_syl counts the rep's syllable nuclei so
far; with total_rep it gives a call's articulation rate (firmware/app.py learns the
rep's baseline from it).

Record fields: t_s (second index), rep_active_ms, customer_active_ms, overlap_ms
(time speaking, from the *_speech flags),
syllables, rate_csps (rolling syllables/s x 100, -1 undefined), pitch_cents (mean
F0 of the second's voiced frames in cents re 55 Hz, -1 none), pitch_sd_cents
(rolling, -1 undefined), cue (index into cues.CUE_NAMES, shown at the end of
the second).

Scaling: energies < 2**28.33 and their 20 ms sums < 2**29.33 (kernels.energy,
kernels.highpass_energy);
levels < 2**15; counters < 2**30 for 62 days of audio (total_syl too: at most one
nucleus per frame).
"""

from array import array

from . import kernels
from .coeffs import BANDPASS_Q13
from .crosstalk import Crosstalk
from .cues import Cues
from .deadair import DeadAir
from .pitch import Pitch
from .pitchspread import PitchSpread
from .record import RECORD_FIELDS
from .syllables import RollingRate, Syllables
from .talkover import Talkover
from .vad import Vad

RATE_HZ = 8000
FRAME = 80
FRAMES_PER_S = 100
# process()'s stages in order, as its `stage` marks number them (0..5; the last, the
# per-second counts and record, runs from mark 5 to the return)
STAGES = ("front_end", "activity", "talkover_cues", "syllable_envelope", "pitch",
          "syllables", "per_second")


class Engine:
    def __init__(self, params, viper=True):
        p = params
        k = kernels.select(viper)
        self.k = k
        self.params = p
        self.bp = array("h", BANDPASS_Q13[0])
        self.bp_state = (array("h", bytes(8)), array("h", bytes(8)))
        self.hp_state = array("i", bytes(12))    # syllable envelope's high-pass
        self.x = (array("h", bytes(2 * FRAME)), array("h", bytes(2 * FRAME)))
        self.vad_rep = Vad(p)
        self.vad_cust = Vad(p)
        self.xtalk = Crosstalk(p)
        self.talkover = Talkover(p)
        self.dead = DeadAir(p)
        self.pitch = Pitch(p, k)
        self.spread = PitchSpread(p, k)
        self.syl = Syllables(p, self.k)
        self.rate = RollingRate(p)
        self.cues = Cues(p)
        self.record = array("i", bytes(4 * len(RECORD_FIELDS)))
        self.pitch_worker = None     # or an object running Pitch.step elsewhere
        self.reset()

    def reset(self):
        for s in self.bp_state:
            for i in range(4):
                s[i] = 0
        for i in range(3):
            self.hp_state[i] = kernels.HP_BIAS
        for stage in (self.vad_rep, self.vad_cust, self.talkover, self.dead, self.pitch,
                      self.spread, self.syl, self.rate, self.cues):
            stage.reset()
        self.frame = 0
        self.e_prev = 0      # the rep's previous frame energies: band-passed,
        self.eh_prev = 0     # high-passed (syllable envelope) and low band (< 600 Hz)
        self.el_prev = 0
        # per-frame outputs
        self.energy_rep = 0
        self.energy_cust = 0
        self.level_rep = 0
        self.level_cust = 0
        self.rep_active = 0
        self.cust_active = 0
        self.rep_speech = 0
        self.cust_speech = 0
        self.f0_cents = 0
        self.syllable = 0
        self.cue = 0
        self.event_ready = 0
        self.event_start = 0
        self.event_end = 0
        self.event_interrupter = 0
        # talk time so far, in frames (speech frames plus bridged gaps)
        self.total_rep = 0
        self.total_cust = 0
        self.total_both = 0
        self.total_syl = 0   # the rep's syllable nuclei so far
        # this second's counts
        self.n_rep = 0
        self.n_cust = 0
        self.n_both = 0
        self.n_syl = 0

    # One body for every caller. The stages (named in STAGES) stay inline in process():
    # as methods of their own, the calls and the attribute round trips cost 5.8 % more
    # engine time on an emulated RP2040 (MicroPython 1.28, heap locked: 273.8 -> 289.8 ms
    # per audio second; 10 % with heap frames), too much for the dongle's budget. A bench
    # that times them (bench/pico/bench.py) passes `stage`, called with each stage's
    # index as it ends; the firmware passes nothing, and the six checks cost nothing
    # measurable there (273.5 ms). dsp/README.md, "Stage marks".
    def process(self, rep, cust, stage=None):
        """Run one frame pair (FRAME int16 samples each); True when a record is ready.
        stage: None, or a function called with STAGES' index of each stage as it ends
        (for timing: the frame's result is the same)."""
        k = self.k
        f = self.frame
        x0 = self.x[0]
        x1 = self.x[1]
        k.biquad_q13(rep, x0, FRAME, self.bp, self.bp_state[0])
        k.biquad_q13(cust, x1, FRAME, self.bp, self.bp_state[1])
        e0 = k.energy(x0, FRAME)
        e1 = k.energy(x1, FRAME)
        l0 = k.db_q8(e0)
        l1 = k.db_q8(e1)
        self.energy_rep = e0
        self.energy_cust = e1
        self.level_rep = l0
        self.level_cust = l1
        if stage is not None:
            stage(0)

        vr = self.vad_rep
        vc = self.vad_cust
        s0 = vr.speech_like(l0)
        s1 = vc.speech_like(l1)
        xt = self.xtalk
        xt.gate(l0, l1)
        a0 = vr.step(s0 and xt.rep_ok, f)
        a1 = vc.step(s1 and xt.cust_ok, f)
        self.rep_active = a0
        self.cust_active = a1
        self.rep_speech = vr.speech
        self.cust_speech = vc.speech

        # the pitch stage needs only the band-passed rep frame and the rep's activity:
        # with a worker (firmware/core1.py) it runs on core 1 until the syllables
        w = self.pitch_worker
        if w is not None:
            w.start(a0)
        if stage is not None:
            stage(1)

        to = self.talkover
        to.step(f, a0, a1, vr.start, vc.start, vr.speech, vc.speech)
        self.event_ready = to.ready
        if to.ready:
            self.event_start = to.start
            self.event_end = to.end
            self.event_interrupter = to.interrupter
        dead = self.dead.step(a0 or a1)
        self.cue = self.cues.step(f, to.confirmed, dead)
        if stage is not None:
            stage(2)

        # syllable envelope: the rep's high-passed energy over the last 20 ms, and
        # that of the pitch low-pass and the whole band for the voicing test; each
        # sum < 2**29.33
        eh = k.highpass_energy(x0, FRAME, self.hp_state)
        if stage is not None:
            stage(3)

        f0 = self.pitch.step(x0, FRAME, a0) if w is None else w.result()
        self.f0_cents = f0
        self.spread.push(f0)
        if stage is not None:
            stage(4)
        el = self.pitch.lp_energy     # the pitch stage's low band, this frame
        env = k.db_q8(eh + self.eh_prev)
        # the syllables take this search's voicing, not the path's (100 ms late)
        self.syllable = self.syl.step(env, el + self.el_prev, e0 + self.e_prev,
                                      self.pitch.raw_cents, a0)
        self.e_prev = e0
        self.eh_prev = eh
        self.el_prev = el
        if stage is not None:
            stage(5)

        # credit a bridged gap only within this second: the record of the last
        # second is already out (drops at most one hangover per second boundary)
        into = f % FRAMES_PER_S
        t0 = vr.speech + (vr.credit if vr.credit < into else into)
        t1 = vc.speech + (vc.credit if vc.credit < into else into)
        both = vr.speech & vc.speech
        self.n_rep += t0
        self.n_cust += t1
        self.n_both += both
        self.total_rep += t0
        self.total_cust += t1
        self.total_both += both
        self.n_syl += self.syllable
        self.total_syl += self.syllable
        f += 1
        self.frame = f
        if f % FRAMES_PER_S:
            return False
        self.close_second(f // FRAMES_PER_S - 1)
        return True     # `stage` sees no mark 6: it is the time from mark 5 to the return

    def close_second(self, t_s):
        rate = self.rate.push_second(self.n_syl, self.n_rep)
        mean = self.spread.second()
        self.pitch.center = self.spread.median_cents     # the path's register
        self.cues.levels(rate, self.spread.sd_cents, self.total_syl, self.total_rep)
        r = self.record
        r[0] = t_s
        r[1] = self.n_rep * 10
        r[2] = self.n_cust * 10
        r[3] = self.n_both * 10
        r[4] = self.n_syl
        r[5] = rate
        r[6] = mean
        r[7] = self.spread.sd_cents
        r[8] = self.cue
        self.n_rep = 0
        self.n_cust = 0
        self.n_both = 0
        self.n_syl = 0

    def flush(self):
        """End of input: close an open talk-over so it is reported (event_ready)."""
        to = self.talkover
        to.close()
        self.event_ready = to.ready
        if to.ready:
            self.event_start = to.start
            self.event_end = to.end
            self.event_interrupter = to.interrupter
