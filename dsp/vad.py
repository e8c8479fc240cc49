"""Voice activity per channel: adaptive noise floor, threshold with hysteresis,
onset and hangover.

Levels are frame energies in dB Q8 (fixmath.db_q8 of kernels.energy; a full-scale
square wave is FS_DB_Q8, about 85.3 dB). The noise floor is tracked in dB Q16:
it follows the level down fast (1/8 of the gap per frame) and rises at most
`floor_rise_db_per_min`, so pauses between words pull it down and speech cannot
drag it up. A frame is speech-like when its level is above the floor by
`vad_on_db` (or `vad_off_db` once active) and above `vad_min_dbfs`, and when the
crosstalk gate lets it through. A party becomes active after `vad_onset_ms` of
consecutive speech-like frames and stays active for `vad_hangover_ms` after.
`active` (with hangover) drives decisions: talk-over, dead air, pitch. `start` is
the frame the party's current turn began: activity after a pause shorter than
TURN_GAP (700 ms) continues the turn. Talk time
counts `speech` frames (active and speech-like on this very frame) plus `credit`:
when speech resumes within the hangover, the bridged gap is credited then. So
the hangover that ends each talk spurt never inflates talk time (or deflates the
speaking rate), while short dips inside words still count.

Scaling: levels < 86 * 256; floor_q16 < 86 * 2**16 < 2**23; no product is formed.
"""

from .fixmath import db_q8

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

# A pause shorter than this inside a party's speech does not start a new turn: `start`
# (who began later decides who interrupted) is the start of the turn, not of the last
# run of activity, so a customer who cuts in during the rep's breath is the interrupter.
TURN_GAP = const(70)         # frames (700 ms)

# level of a full-scale square wave: 80 * ((32767**2) >> 8), in dB Q8
FS_DB_Q8 = db_q8(335523840)


class Vad:
    def __init__(self, p):
        self.on_q8 = p.vad_on_db << 8
        self.off_q8 = p.vad_off_db << 8
        self.min_q8 = FS_DB_Q8 + (p.vad_min_dbfs << 8)
        self.onset = p.vad_onset_ms // 10
        self.hangover = p.vad_hangover_ms // 10
        self.rise_q16 = (p.floor_rise_db_per_min << 16) // 6000   # per 10 ms frame
        self.reset()

    def reset(self):
        self.floor_q16 = -1      # -1: not yet seen a frame
        self.active = 0
        self.speech = 0
        self.credit = 0
        self.start = 0           # frame at which the current turn began
        self.quiet = TURN_GAP    # inactive frames since the last active one (capped)
        self.run = 0             # consecutive speech-like frames
        self.hold = 0            # frames since the last speech-like frame while active

    def floor_q8(self):
        return self.floor_q16 >> 8

    def speech_like(self, level_q8):
        """Threshold decision for this frame (before the crosstalk gate); also
        updates the noise floor."""
        f = self.floor_q16
        lv = level_q8 << 8
        if f < 0:
            f = lv
        elif lv < f:
            f -= (f - lv) >> 3
        else:
            f += self.rise_q16
            if f > lv:
                f = lv
        self.floor_q16 = f
        thr = self.off_q8 if self.active else self.on_q8
        return level_q8 > (f >> 8) + thr and level_q8 > self.min_q8

    def step(self, speech, frame):
        """Advance onset/hangover with this frame's gated decision; returns active."""
        self.credit = 0
        if speech:
            if self.active:
                self.credit = self.hold
            self.run += 1
            self.hold = 0
            if not self.active and self.run >= self.onset:
                self.active = 1
                if self.quiet >= TURN_GAP:
                    self.start = frame
        else:
            self.run = 0
            if self.active:
                self.hold += 1
                if self.hold > self.hangover:
                    self.active = 0
        self.speech = 1 if speech and self.active else 0
        if self.active:
            self.quiet = 0
        elif self.quiet < TURN_GAP:
            self.quiet += 1
        return self.active
