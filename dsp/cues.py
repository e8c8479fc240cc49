"""Cue policy: which single cue the LED shows, chosen so it helps rather than nags.

Conditions (each with its own hysteresis where it has a level): talk-over while
a confirmed talk-over runs; fast while the rolling rate is above B * (100 +
`fast_rel_pct`) // 100 (until below B * (90 + `fast_rel_pct`) // 100), B being the
rep's usual rate, and never below `fast_on_csps` (`fast_off_csps` to turn off): a
rep is fast against their own pace, not against everyone's. B is the rate the
dongle learned across calls, `rate_baseline_csps` (`set_baseline` changes it
between calls, firmware/app.py learns it); before it has learned one, the rep's
average since the engine started, once they have spoken `LISTEN_S` (30 s): a new
dongle listens before it judges pace, and gives no fast cue until then. Flat while
the pitch SD is below `flat_on_cents` (until above `flat_off_cents`); dead air while
it lasts. One cue at a time, by priority talkover > fast > flat > dead_air: a
higher-priority cue takes over at once; during dead air fast and flat are not
wanted (nobody is speaking), so a lit one goes dark after its minimum on-time and
the dead-air cue can show. A cue stays lit at least `cue_min_on_ms`,
goes dark when its condition ends or after `cue_max_on_ms`, and the same cue cannot
light again within its `*_repeat_ms` of going dark.

Scaling: frame counters; the relative fast thresholds' products B * (100 + pct)
< 1500 * 300; the running average is syllables * 100 // seconds, < 2**30 for fewer
than 10 million syllables.
"""

from array import array

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

LISTEN_S = const(30)      # rep speech before a new dongle's own average is the baseline

NONE = 0
TALKOVER = 1
FAST = 2
FLAT = 3
DEAD_AIR = 4
CUE_NAMES = ("none", "talkover", "fast", "flat", "dead_air")


class Cues:
    def __init__(self, p):
        self.min_on = p.cue_min_on_ms // 10
        self.max_on = p.cue_max_on_ms // 10
        self.repeat = array("i", (0, p.talkover_repeat_ms // 10, p.fast_repeat_ms // 10,
                                  p.flat_repeat_ms // 10, p.dead_air_repeat_ms // 10))
        self.fast_abs_on = p.fast_on_csps
        self.fast_abs_off = p.fast_off_csps
        self.fast_rel_pct = p.fast_rel_pct
        self.set_baseline(p.rate_baseline_csps)
        self.flat_on = p.flat_on_cents
        self.flat_off = p.flat_off_cents
        self.want = array("b", bytes(5))
        self.last_end = array("i", bytes(20))
        self.reset()

    def set_baseline(self, b_csps):
        """The rep's usual rate in csps learned across calls (0: none yet, the running
        average is used); takes effect at the next levels() (no allocation)."""
        self.baseline = b_csps
        self._thresholds(b_csps)

    def _thresholds(self, b_csps):
        on = b_csps * (100 + self.fast_rel_pct) // 100
        off = b_csps * (90 + self.fast_rel_pct) // 100
        self.fast_on = on if on > self.fast_abs_on else self.fast_abs_on
        self.fast_off = off if off > self.fast_abs_off else self.fast_abs_off

    def reset(self):
        for i in range(5):
            self.want[i] = 0
            self.last_end[i] = -(1 << 29)   # never lit
        self.cue = NONE
        self.since = 0

    def levels(self, rate_csps, sd_cents, syllables, talk_frames):
        """Update the fast and flat conditions from the rolling values (-1 = undefined)
        and the rep's syllables and talk frames since the engine started."""
        w = self.want
        base = self.baseline
        if base <= 0:
            s = talk_frames // 100
            base = (syllables * 100) // s if s >= LISTEN_S else 0
            self._thresholds(base)
        if rate_csps < 0 or base <= 0:
            w[FAST] = 0
        elif rate_csps > self.fast_on:
            w[FAST] = 1
        elif rate_csps < self.fast_off:
            w[FAST] = 0
        if sd_cents < 0:
            w[FLAT] = 0
        elif sd_cents < self.flat_on:
            w[FLAT] = 1
        elif sd_cents > self.flat_off:
            w[FLAT] = 0

    def step(self, frame, talkover, dead_air):
        """Decide the cue shown on this frame; returns it."""
        w = self.want
        w[TALKOVER] = talkover
        w[DEAD_AIR] = dead_air
        cue = self.cue
        # in dead air nobody speaks: the pace and pitch cues have nothing to say (their
        # conditions, and hysteresis, are kept for when speech resumes)
        trend = 0 if dead_air else 1
        if cue != NONE:
            on = frame - self.since
            want = w[cue] if cue != FAST and cue != FLAT else w[cue] & trend
            if on >= self.min_on and (not want or on >= self.max_on):
                self.last_end[cue] = frame
                cue = NONE
        # the best cue allowed to light now, if it outranks what is shown
        for c in range(1, 5):
            if cue != NONE and c >= cue:
                break
            want = w[c] if c != FAST and c != FLAT else w[c] & trend
            if want and frame - self.last_end[c] >= self.repeat[c]:
                if cue != NONE:
                    self.last_end[cue] = frame
                cue = c
                self.since = frame
                break
        self.cue = cue
        return cue
