"""Pitch spread: a standard deviation of the rep's F0 that a few wrong frames cannot move.

Every frame's F0 (cents, 0 unvoiced) goes into a ring of `pitch_window_s`
seconds, and a histogram of the ring's voiced frames in 16-cent bins follows it
frame by frame (the frame that leaves the ring out, the new one in). Once a second,
the histogram gives the median and the quartiles (kernels.quartiles); the interquartile
range / 1.349 is the SD a normal distribution with those quartiles would have.
Deviations from the median are clipped at 2.5 times that (at least 150 cents, at
most 1200), and the spread is the standard deviation of the clipped deviations:
for a voice's own F0 distribution the clip changes almost nothing; an octave error
or a stray frame counts as 2.5 SD, not 12 semitones. Defined once
`pitch_min_voiced_ms` are voiced (else -1). The median (`median_cents`) is the
register the pitch path prefers.

The SD is taken over the histogram too (kernels.spread_hist: 256 bins, not the
3000 frames of the window; that pass cost 2.2 ms of the frame closing a second on
the RP2040), each value as its bin's centre. Rounding to a 16-cent grid adds
16**2 / 12 = 21.3 cents**2 to the variance of a smooth distribution; Sheppard's
correction takes 21 back (a flat voice's SD of 25 cents would otherwise read 25.4).

Scaling: bin counts < 3000; cents < 4096 (256 bins of 16; a value above goes into
the last bin); see kernels.spread_hist for the sums (< 2**28.1). var = s2 * 16 / n -
mean**2 with mean <= 1200, var < 2**21.
"""

from array import array

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

_NBINS = const(256)          # 16-cent bins up to 4096 cents (> 400 Hz)
_MIN_CLIP = const(150)       # cents
_MAX_CLIP = const(1200)
_BIAS = const(1 << 24)       # kernels.spread_hist's bias on the sum
_SHEPPARD = const(21)        # 16**2 / 12 cents**2: the 16-cent grid's own variance


class PitchSpread:
    def __init__(self, p, k):
        self.k = k
        self.ring = array("h", bytes(200 * p.pitch_window_s))
        self.hist = array("h", bytes(2 * _NBINS))
        self.out = array("i", bytes(12))
        self.quart = array("i", bytes(12))      # q1, median, q3 in cents
        self.min_voiced = p.pitch_min_voiced_ms // 10
        self.reset()

    def reset(self):
        for i in range(len(self.ring)):
            self.ring[i] = 0
        for i in range(_NBINS):
            self.hist[i] = 0
        self.voiced = 0          # voiced frames in the ring (the histogram's total)
        self.pos = 0
        self.sec_sum = 0
        self.sec_n = 0
        self.sd_cents = -1
        self.median_cents = 0

    def push(self, f0_cents):
        """One frame's F0 (0 unvoiced)."""
        ring = self.ring
        pos = self.pos
        old = ring[pos]
        if old > 0:                  # leaves the window: out of its bin
            b = old >> 4
            self.hist[b if b < _NBINS else _NBINS - 1] -= 1
            self.voiced -= 1
        ring[pos] = f0_cents
        if f0_cents > 0:
            b = f0_cents >> 4
            self.hist[b if b < _NBINS else _NBINS - 1] += 1
            self.voiced += 1
        pos += 1
        self.pos = 0 if pos == len(ring) else pos
        if f0_cents:
            self.sec_sum += f0_cents
            self.sec_n += 1

    def second(self):
        """Close a second: returns the mean F0 of its voiced frames (-1 if none) and
        updates sd_cents and median_cents over the window."""
        mean = self.sec_sum // self.sec_n if self.sec_n else -1
        self.sec_sum = 0
        self.sec_n = 0
        n = self.voiced
        if n < self.min_voiced:
            self.sd_cents = -1
            if n == 0:
                self.median_cents = 0
            return mean
        q = self.quart
        self.k.quartiles(self.hist, _NBINS, n, q)
        med = q[1]
        lim = ((q[2] - q[0]) * 1853) >> 10     # 2.5 / 1.349 = 1.853
        if lim < _MIN_CLIP:
            lim = _MIN_CLIP
        elif lim > _MAX_CLIP:
            lim = _MAX_CLIP
        out = self.out
        self.k.spread_hist(self.hist, _NBINS, med, lim, out)
        cnt = out[0]
        s1 = out[1] - _BIAS
        acc = out[2]
        var16 = acc // cnt                # mean of d*d/16, < 90,001
        var = (var16 << 4) + (((acc - var16 * cnt) << 4) // cnt)
        m = s1 // cnt
        var -= m * m + _SHEPPARD
        self.sd_cents = self.k.isqrt(var) if var > 0 else 0
        self.median_cents = med
        return mean
