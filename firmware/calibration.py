"""Calibration: what the frames of one step add up to (PROTOCOL.md, `calibrate`).

    cal = Calibration()
    cal.start("rep", seconds)          # the `calibrate` command
    if cal.step is not None:           # each frame, after the engine
        cal.frame(engine)              # integers into preallocated arrays only
    cal.reply()                        # the last step's result, built once it ended
    cal.done                           # every step finished since (cal_save keeps them)

The rep and customer steps histogram, in CAL_BINS bins of 2 dB from 0 dB up, how far the
other channel sits below the speaker's, over the frames where the other channel is at
least CAL_ABOVE_FLOOR_Q8 (10 dB) above its noise floor: a leak (sidetone, echo) keeps
that distance steady, the other party speaking makes it shrink, and a leak within 10 dB
of the noise would read too loud. The host (callcue calibrate) checks the steps and
turns them into parameters.
"""

from array import array

CAL_BINS = 32
CAL_ABOVE_FLOOR_Q8 = 10 << 8


class Calibration:
    def __init__(self):
        self.step = None             # the step being measured, None when none runs
        self.last = None             # the step measured last
        self.left = 0                # frames asked
        # rep level, cust level (dB Q8 sums over the used frames), frames, used frames,
        # frames in which the VAD calls the rep / the customer speaking
        self.sum = array("i", bytes(24))
        # energy sums of the used frames as (sum, shift) per channel: sum << shift
        self.pow = array("i", bytes(16))
        self.hist = array("i", bytes(4 * CAL_BINS))
        self.floor = array("i", bytes(8))  # both noise floors when the step ended
        # the last step's reply: {} before one ends; None: ended, built when asked for
        # (out of the frame: the frame allocates nothing)
        self.result = {}
        self.done = {}               # finished steps' replies not yet kept (cal_save)

    def start(self, step, seconds):
        """Measure `step` ("silence", "rep", "customer") for `seconds`; the step that
        ended before is kept for take()."""
        if self.step is None:
            self.reply()
        self.left = seconds * 100
        for a in (self.sum, self.pow, self.hist):
            for i in range(len(a)):
                a[i] = 0
        self.result = {}
        self.step = step             # last: the frame reads the arrays from now

    def frame(self, eng):
        """One frame of the step; integers into preallocated arrays only.

        silence: `seconds` of audio; its noise (levels, energies) is taken over the frames
        in which neither party is active (hangover included), so a cough does not pass
        for noise; the VAD's speech frames are counted so the host can refuse a step that
        was not silent. rep / customer: only frames where that party is speaking, until
        `seconds` of them (or six times that of audio, so a step nobody speaks in still
        ends). The levels are dB Q8; their mean difference is the coupling: sidetone (rep
        step) or echo (customer step). The frames' energies are summed too, so the host
        can take the coupling as a power ratio with the silence step's noise subtracted
        (a leak near the noise floor reads too loud in mean dB), and the distance between
        the channels goes into hist (CAL_BINS): the host tells a steady leak from the
        other party speaking by it. The reply is built when asked for (reply())."""
        s = self.sum
        step = self.step
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
                self.hist[b] += 1
        s[2] += 1
        if (s[2] if step == "silence" else s[3]) >= self.left \
                or s[2] >= 6 * self.left:
            self.floor[0] = eng.vad_rep.floor_q8()
            self.floor[1] = eng.vad_cust.floor_q8()
            self.last = step
            self.result = None
            self.step = None

    def reply(self):
        """The last step's result (PROTOCOL.md, `calibration`), built once after it ends."""
        if self.result is None:
            s = self.sum
            n = s[3]
            w = self.pow
            res = {"step": self.last, "frames": s[2], "used_frames": n,
                   "asked_frames": self.left,
                   "rep_speech_frames": s[4], "customer_speech_frames": s[5],
                   "rep_floor_db_q8": self.floor[0],
                   "customer_floor_db_q8": self.floor[1]}
            if n:
                res["rep_level_db_q8"] = s[0] // n
                res["customer_level_db_q8"] = s[1] // n
                # how far the other channel sits below the speaking one
                res["difference_db_q8"] = (s[0] - s[1]) // n
                # mean frame energy = sum * 2**shift / used_frames (kernels.energy units)
                res["rep_energy"] = [w[0], w[1]]
                res["customer_energy"] = [w[2], w[3]]
            if self.last != "silence":
                res["diff_hist"] = list(self.hist)
            self.result = res
            self.done[self.last] = res
        return self.result

    def _add_energy(self, i, e):
        """pow[i] += e >> pow[i + 1], halving the sum (and raising the shift) to stay
        below 2**29: e < 2**28.33 (kernels.energy), so every value is a small int and
        nothing allocates, however long the step."""
        w = self.pow
        v = w[i] + (e >> w[i + 1])
        while v >= 0x20000000:
            v >>= 1
            w[i + 1] += 1
        w[i] = v
