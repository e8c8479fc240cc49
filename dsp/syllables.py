"""Speaking rate: syllable nuclei on the rep's channel and a rolling syllables-per-
second of the rep's own speech.

Nuclei are peaks of the rep's level envelope: the energy of the last two frames
(20 ms) after a second-order high-pass (kernels.highpass_energy: -3 dB at 250 Hz,
-12 dB at 100 Hz), in dB Q8. Nasal murmur and voiced closures carry their energy
low and vowels above it, so on this envelope a nasal next to a vowel less often
makes a peak of its own.

The envelope is then averaged over a window that follows the rep's syllable period,
and the dip that separates two nuclei grows with its square root. With a fixed
window and dip the count is not tempo-invariant: slow speech shows the amplitude
ripple of its long vowels as dips (+10..+18 % at 0.7 x tempo on recorded voices),
and in fast speech the consonants between vowels are too short to make a dip
(-10..-15 % at 1.4 x; tests/realspeech). Scaled to the period, the analysis sees a
slowed or hurried voice as it sees the same voice at its usual pace. The period is
a running median of the gaps between counted nuclei (each counted nucleus steps it
1/16 towards its gap; a gap of more than 3 periods is a pause and leaves it alone),
22 frames (4.5 syllables/s) at reset and kept within 100-500 ms. The window is
0.18 period - 1 frames of the 20 ms envelope (1 to 7.99 frames: the newest
whole frames and a share of the next older one, a running sum); the dip is
`syl_dip_db` at a period of 27 frames (3.7 syllables/s) times sqrt(period / 27).

A peak counts when it rises at least the dip above the preceding valley and is
followed by a dip as deep, at a frame where the rep is active, no more than
`syl_peak_db` below the loudest recent peak (a reference that decays 10 dB/s), so
consonant bursts and breaths between vowels are not counted; the averaged envelope
flattens short unstressed vowels against the long stressed ones, so this limit is
18 dB. It must also be voiced: a pitch between the preceding valley and the dip, or
at the peak at least `syl_low_pct` % of the 20 ms band-passed energy below 600 Hz
(the pitch low-pass). The pitch search misses many short vowels of fast speech (it
runs every other frame over 27 ms, and a vowel that starts abruptly or glides gives
no clean period); the low-band share keeps them and still turns away fricatives and
bursts, whose energy lies above 1 kHz. The count is made when the dip after the
peak confirms it, so a nucleus is counted a few frames after its peak.

The rate is kept per second in a ring of `rate_window_s` seconds: syllables and
rep-active frames. rate_csps = 100 * syllables / active seconds
= syllables * 10000 // active_frames, defined once the window holds
`rate_min_speech_ms` of rep speech (else -1).

Scaling: levels < 2**15 (dB Q8); the window sum of at most 7 levels < 2**18, times
256 < 2**26, plus the older level times its share (< 2**23), divided by the window
in frames Q8 (256..2047); the period in frames Q4 (160..800), so the window
((period * 46) >> 4) - 256 < 2**12 and period * 152 < 2**17 under isqrt (<= 348),
times the dip (<= 5120) < 2**21; the frames since the last nucleus <= 4095; the
20 ms energies < 2**29.33, so (e >> 7) * 100 < 2**29; ring sums < 30 * 100 frames;
syllables * 10000 < 2**30 for fewer than 107,000 syllables in the window. Per
frame it adds a ring write, two reads and a division to the peak logic; the window
and dip are recomputed only when the period steps (at most once per nucleus).
"""

from array import array

from . import fixmath

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

_REF_DECAY_Q8 = const(26)   # 0.1 dB per 10 ms frame
_RING = const(8)            # envelope values kept for the average (up to 7.99 of them)
_PERIOD_INIT_Q4 = const(352)   # 22 frames (4.5 syllables/s) until nuclei say otherwise
_PERIOD_MIN_Q4 = const(160)    # 100 ms
_PERIOD_MAX_Q4 = const(800)    # 500 ms
_PERIOD_GAP = const(3)      # a gap of more than 3 periods is a pause, not a period
_WIN_MUL = const(46)        # window + 1 = 46/16 * period_q4 / 256 frames = 0.18 period
_DIP_SQRT_MUL = const(152)  # isqrt(period_q4 * 152) = 256 * sqrt(period / 27 frames)
_AGE_MAX = const(4095)


class Syllables:
    def __init__(self, p, k=fixmath):
        self.isqrt = k.isqrt     # the kernels' (viper on the device), fixmath's by default
        self.dip0_q8 = p.syl_dip_db << 8
        self.peak_q8 = p.syl_peak_db << 8
        self.low_pct = p.syl_low_pct
        self.ring = array("i", bytes(4 * _RING))
        self.reset()

    def reset(self):
        self.seek_peak = 1
        self.peak = 0
        self.peak_ok = 0
        self.peak_low = 0        # the peak's low-band share reaches syl_low_pct
        self.valley = 0
        self.ref = 0             # loudest recent envelope, decaying
        self.voiced_seen = 0     # a voiced frame since the last valley
        self.nucleus = 0         # 1 on the frame a nucleus is counted
        for i in range(_RING):
            self.ring[i] = 0
        self.pos = 0             # the newest envelope value in ring
        self.win_sum = 0         # the newest n_win envelope values, summed
        self.since = _AGE_MAX    # frames since the last counted nucleus's peak
        self.peak_gap = _AGE_MAX  # `since` at the current peak
        self.period_q4 = _PERIOD_INIT_Q4
        self.n_win = 0
        self.win_q8 = 256
        self._period()           # n_win 0 -> its window over the zeroed ring
        self.smooth = 0          # the averaged envelope, dB Q8

    def _period(self):
        """Window and dip for the current syllable period (on a change only). A step
        of the period moves the window by a frame at most, so its sum takes in or
        gives back the values at its old end (the same sum as one made afresh, and
        this runs inside a frame: on the RP2040 a fresh sum and fixmath's isqrt made
        the frame that counts a nucleus 0.8 ms slower)."""
        w = ((self.period_q4 * _WIN_MUL) >> 4) - 256     # frames in Q8, 0.18 period - 1
        if w < 256:
            w = 256
        elif w > (_RING - 1) * 256 + 255:
            w = (_RING - 1) * 256 + 255
        self.win_q8 = w
        n = w >> 8
        m = self.n_win                    # the sum covers ring[pos], ..., ring[pos - m + 1]
        s = self.win_sum
        ring = self.ring
        pos = self.pos
        while m < n:                      # one older value in
            j = pos - m
            s += ring[j if j >= 0 else j + _RING]
            m += 1
        while m > n:                      # the oldest out
            m -= 1
            j = pos - m
            s -= ring[j if j >= 0 else j + _RING]
        self.n_win = n
        self.win_sum = s
        self.dip_q8 = (self.dip0_q8 * self.isqrt(self.period_q4 * _DIP_SQRT_MUL)) >> 8

    def step(self, env_q8, e_low, e_all, voiced, active):
        """One frame: the 20 ms envelope (dB Q8), the 20 ms energies below 600 Hz and of
        the whole band, F0 (0 unvoiced) and rep activity; returns 1 when a nucleus is
        counted."""
        self.nucleus = 0
        # the envelope averaged over win_q8 / 256 frames: n_win whole, one in part
        ring = self.ring
        i = self.pos + 1
        if i == _RING:
            i = 0
        self.pos = i
        n = self.n_win
        j = i - n
        if j < 0:
            j += _RING
        old = ring[j]                     # leaves the whole frames, keeps a share
        s = self.win_sum + env_q8 - old   # <= 7 levels < 2**18
        self.win_sum = s
        ring[i] = env_q8
        w = self.win_q8
        t = s << 8                        # < 2**26
        t += old * (w & 255)              # < 2**26 + 2**23
        env_q8 = t // w
        self.smooth = env_q8
        if voiced:
            self.voiced_seen = 1
        since = self.since + 1
        if since > _AGE_MAX:
            since = _AGE_MAX
        self.since = since
        ref = self.ref - _REF_DECAY_Q8
        if env_q8 > ref:
            ref = env_q8
        self.ref = ref
        dip = self.dip_q8
        if self.seek_peak:
            if env_q8 > self.peak:
                self.peak = env_q8
                self.peak_gap = since
                self.peak_ok = active
                self.peak_low = (e_low >> 7) * 100 >= (e_all >> 7) * self.low_pct
            elif env_q8 < self.peak - dip:
                if (self.peak_ok and (self.voiced_seen or self.peak_low)
                        and self.peak >= ref - self.peak_q8):
                    self.nucleus = 1
                    self._counted(self.peak_gap)
                self.seek_peak = 0
                self.valley = env_q8
        else:
            if env_q8 < self.valley:
                self.valley = env_q8
            elif env_q8 > self.valley + dip:
                self.seek_peak = 1
                self.voiced_seen = 0
                self.peak = env_q8
                self.peak_gap = since
                self.peak_ok = active
                self.peak_low = (e_low >> 7) * 100 >= (e_all >> 7) * self.low_pct
        return self.nucleus

    def _counted(self, gap):
        """A nucleus counted whose peak came `gap` frames after the last one's: the
        period steps 1/16 towards it (a running median), unless the gap is a pause."""
        self.since -= gap
        g = gap << 4
        q = self.period_q4
        if g >= _PERIOD_GAP * q:
            return
        if g > q:
            q += q >> 4
            if q > _PERIOD_MAX_Q4:
                q = _PERIOD_MAX_Q4
        else:
            q -= q >> 4
            if q < _PERIOD_MIN_Q4:
                q = _PERIOD_MIN_Q4
        if q != self.period_q4:
            self.period_q4 = q
            self._period()


class RollingRate:
    def __init__(self, p):
        n = p.rate_window_s
        self.syl = array("h", bytes(2 * n))
        self.act = array("h", bytes(2 * n))
        self.min_frames = p.rate_min_speech_ms // 10
        self.reset()

    def reset(self):
        n = len(self.syl)
        for i in range(n):
            self.syl[i] = 0
            self.act[i] = 0
        self.pos = 0
        self.rate_csps = -1

    def push_second(self, syllables, active_frames):
        """Add one second; returns the rolling rate in syllables/s x 100, or -1."""
        i = self.pos
        self.syl[i] = syllables
        self.act[i] = active_frames
        i += 1
        self.pos = 0 if i == len(self.syl) else i
        s = 0
        a = 0
        for k in range(len(self.syl)):
            s += self.syl[k]
            a += self.act[k]
        self.rate_csps = (s * 10000) // a if a >= self.min_frames else -1
        return self.rate_csps
