"""Pitch of the rep: F0 by YIN on a 4 kHz decimated signal, and its rolling spread.

The band-passed mic signal is low-passed (4th-order Butterworth at 600 Hz, two
Q13 biquads) and every 2nd sample kept (4 kHz). Every other frame (20 ms hop)
the last 108 decimated samples (27 ms) are normalised to a peak in
[2**12, 2**13) and YIN's difference d(tau) and cumulative-mean-normalised
difference r(tau) (Q10) are computed over a 40-sample (10 ms) window for lags
1..tau_max + 1. The first lag in [tau_min, tau_max] with r below
`pitch_thresh_pct` %, walked down to its local minimum of r, is the period; a
parabola through d at its neighbours refines it to 1/256 sample. Harmonics alone
give the same period, so the telephone band's missing fundamental does not
matter. The 600 Hz low-pass also keeps the difference function smooth between
lags: at 4 kHz a period falls between two lags, and content near 1 kHz would
then hide the true period's dip and favour twice the period. Only frames where
the rep is active are searched; the estimate holds for both frames of the hop.

F0 is reported in integer cents re CENTS_REF_HZ (55 Hz): 60 Hz = 151,
400 Hz = 3437; 0 means unvoiced. Hz = 55 * 2**(cents / 1200).

The spread is the standard deviation of F0 in cents over the voiced frames of
the last `pitch_window_s` seconds (deviations clipped at 1200 cents so an octave
error cannot swamp it), defined once `pitch_min_voiced_ms` are voiced (else -1).

Scaling: see kernels.ndf_q10 and kernels.spread. Interpolation: at a local
minimum |d(t-1) - d(t+1)| <= den = d(t-1) - 2 d(t) + d(t+1) < 2**24.33; both are
halved until den < 2**22, so (a - c) << 7 < 2**29 and the offset is within
+-128 (half a sample) by construction. period_q8 < 69 * 256; log2 values
< 2**17; cents < 2**12.
"""

from array import array

from .coeffs import DECIMATE, LOWPASS_Q13
from .fixmath import cents_of_log2, isqrt, log2_q12

CENTS_REF_HZ = 55
DEC_RATE_HZ = 8000 // DECIMATE       # 4000
_W = 40                              # YIN window, decimated samples (10 ms)
_TAU_CAP = (DEC_RATE_HZ + 59) // 60  # 67: longest lag, for the lowest allowed F0
_HIST = _W + _TAU_CAP + 1            # 108: room for d(tau_max + 1)
_FRAME_DEC = 80 // DECIMATE          # 40 decimated samples per frame
# log2 of (4000 Hz * 256 / 55 Hz) in Q12: f0 cents = cents(_K - log2(period_q8))
_K_Q12 = log2_q12(DEC_RATE_HZ * 256) - log2_q12(CENTS_REF_HZ)


class Pitch:
    def __init__(self, p, k):
        self.k = k
        self.tau_min = DEC_RATE_HZ // p.pitch_max_hz
        self.tau_max = (DEC_RATE_HZ + p.pitch_min_hz - 1) // p.pitch_min_hz
        self.thresh_q10 = (p.pitch_thresh_pct << 10) // 100
        self.sos = [array("h", c) for c in LOWPASS_Q13]
        self.state = [array("h", bytes(8)) for _ in LOWPASS_Q13]
        self.lp = array("h", bytes(160))
        self.hist = array("h", bytes(2 * _HIST))
        self.norm = array("h", bytes(2 * _HIST))
        self.d = array("i", bytes(4 * (_TAU_CAP + 2)))
        self.r = array("i", bytes(4 * (_TAU_CAP + 2)))
        self.reset()

    def reset(self):
        for s in self.state:
            for i in range(4):
                s[i] = 0
        for i in range(_HIST):
            self.hist[i] = 0
        self.odd = 0
        self.f0_cents = 0

    def step(self, x, n, active):
        """Take this frame's band-passed rep samples; returns f0_cents (0 unvoiced)."""
        k = self.k
        k.biquad_q13(x, self.lp, n, self.sos[0], self.state[0])
        k.biquad_q13(self.lp, self.lp, n, self.sos[1], self.state[1])
        k.decimate(self.hist, _FRAME_DEC, _HIST, 1, self.hist, 0)
        k.decimate(self.lp, DECIMATE - 1, n, DECIMATE, self.hist, _HIST - _FRAME_DEC)
        self.odd ^= 1
        if not active:
            self.f0_cents = 0
        elif self.odd:
            self.f0_cents = self.search()
        return self.f0_cents

    def search(self):
        d = self.d
        r = self.r
        tau_max = self.tau_max
        if self.k.normalize(self.hist, self.norm, _HIST) < 8:
            return 0     # too quiet to carry a period
        if self.k.ndf_q10(self.norm, _W, tau_max + 1, d, r) == 0:
            return 0
        tau = self.tau_min
        thresh = self.thresh_q10
        while tau <= tau_max and r[tau] >= thresh:
            tau += 1
        if tau > tau_max:
            return 0
        while tau < tau_max and r[tau + 1] < r[tau]:
            tau += 1
        a = d[tau - 1]
        c = d[tau + 1]
        den = a - d[tau] - d[tau] + c
        off = 0
        if den > 0:
            ac = a - c
            while den >= 4194304:
                den >>= 1
                ac >>= 1
            off = (ac << 7) // den
            if off > 128:
                off = 128
            elif off < -128:
                off = -128
        return cents_of_log2(_K_Q12 - log2_q12((tau << 8) + off))


class PitchSpread:
    def __init__(self, p, k):
        self.k = k
        self.ring = array("h", bytes(200 * p.pitch_window_s))
        self.out = array("i", bytes(12))
        self.min_voiced = p.pitch_min_voiced_ms // 10
        self.reset()

    def reset(self):
        for i in range(len(self.ring)):
            self.ring[i] = 0
        self.pos = 0
        self.sec_sum = 0
        self.sec_n = 0
        self.sd_cents = -1

    def push(self, f0_cents):
        """One frame's F0 (0 unvoiced)."""
        self.ring[self.pos] = f0_cents
        self.pos += 1
        if self.pos == len(self.ring):
            self.pos = 0
        if f0_cents:
            self.sec_sum += f0_cents
            self.sec_n += 1

    def second(self):
        """Close a second: returns the mean F0 of its voiced frames (-1 if none) and
        updates sd_cents over the window."""
        mean = self.sec_sum // self.sec_n if self.sec_n else -1
        self.sec_sum = 0
        self.sec_n = 0
        out = self.out
        self.k.spread(self.ring, len(self.ring), out)
        n = out[0]
        if n < self.min_voiced:
            self.sd_cents = -1
        else:
            acc = out[2]
            var16 = acc // n                       # variance / 16, < 90,001
            var = (var16 << 4) + (((acc - var16 * n) << 4) // n)
            self.sd_cents = isqrt(var)
        return mean
