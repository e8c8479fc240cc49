"""Speaking rate: syllable nuclei on the rep's channel and a rolling syllables-per-
second of the rep's own speech.

Nuclei are peaks of the rep's level envelope: the energy of the last two frames
(20 ms) after a second-order high-pass (kernels.highpass_energy: -3 dB at 250 Hz,
-12 dB at 100 Hz), in dB Q8. Nasal murmur and voiced closures carry their energy
low and vowels above it, so on this envelope a nasal next to a vowel less often
makes a peak of its own, and a dip of `syl_dip_db` (5 dB; on recorded voices 4 dB
split the long vowels of slow speech, tests/realspeech) rarely splits a long vowel.
A peak counts when it rises at least `syl_dip_db` above the preceding valley
and is followed by a dip of `syl_dip_db`, at a frame where the rep is active, no
more than `syl_peak_db` below the loudest recent peak (a reference that decays
10 dB/s), so consonant bursts and breaths between vowels are not counted. It must
also be voiced: a pitch between the preceding valley and the dip, or at the peak at
least `syl_low_pct` % of the 20 ms band-passed energy below 600 Hz (the pitch
low-pass). The pitch search misses many short vowels of fast speech (it runs every
other frame over 27 ms, and a vowel that starts abruptly or glides gives no clean
period); the low-band share keeps them and still turns away fricatives and bursts,
whose energy lies above 1 kHz. The count is made when the dip after the peak
confirms it, so a nucleus is counted 1-3 frames after its peak.

The rate is kept per second in a ring of `rate_window_s` seconds: syllables and
rep-active frames. rate_csps = 100 * syllables / active seconds
= syllables * 10000 // active_frames, defined once the window holds
`rate_min_speech_ms` of rep speech (else -1).

Scaling: levels < 2**15; the 20 ms energies < 2**29.33, so (e >> 7) * 100 < 2**29;
ring sums < 30 * 100 frames; syllables * 10000 < 2**30 for fewer than 107,000
syllables in the window.
"""

from array import array

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

_REF_DECAY_Q8 = const(26)   # 0.1 dB per 10 ms frame


class Syllables:
    def __init__(self, p):
        self.dip_q8 = p.syl_dip_db << 8
        self.peak_q8 = p.syl_peak_db << 8
        self.low_pct = p.syl_low_pct
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

    def step(self, env_q8, e_low, e_all, voiced, active):
        """One frame: the envelope, the 20 ms energies below 600 Hz and of the whole
        band, F0 (0 unvoiced) and rep activity; returns 1 when a nucleus is counted."""
        self.nucleus = 0
        if voiced:
            self.voiced_seen = 1
        ref = self.ref - _REF_DECAY_Q8
        if env_q8 > ref:
            ref = env_q8
        self.ref = ref
        if self.seek_peak:
            if env_q8 > self.peak:
                self.peak = env_q8
                self.peak_ok = active
                self.peak_low = (e_low >> 7) * 100 >= (e_all >> 7) * self.low_pct
            elif env_q8 < self.peak - self.dip_q8:
                if (self.peak_ok and (self.voiced_seen or self.peak_low)
                        and self.peak >= ref - self.peak_q8):
                    self.nucleus = 1
                self.seek_peak = 0
                self.valley = env_q8
        else:
            if env_q8 < self.valley:
                self.valley = env_q8
            elif env_q8 > self.valley + self.dip_q8:
                self.seek_peak = 1
                self.voiced_seen = 0
                self.peak = env_q8
                self.peak_ok = active
                self.peak_low = (e_low >> 7) * 100 >= (e_all >> 7) * self.low_pct
        return self.nucleus


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
