"""Speaking rate: syllable nuclei on the rep's channel and a rolling syllables-per-
second of the rep's own speech.

Nuclei are peaks of the rep's level envelope (energy of the last two frames, 20 ms,
in dB Q8) that rise at least `syl_dip_db` above the preceding valley and are
followed by a dip of `syl_dip_db`, with a voiced frame (a pitch) between the
preceding valley and the dip (short fast vowels may get only one pitch estimate), at
a frame where the rep is active, and no more than `syl_peak_db`
below the loudest recent peak (a reference that decays 10 dB/s), so consonant
bursts and breaths between vowels are not counted. The count is made when the dip
after the peak confirms it, so a nucleus is counted 1-3 frames after its peak.

The rate is kept per second in a ring of `rate_window_s` seconds: syllables and
rep-active frames. rate_csps = 100 * syllables / active seconds
= syllables * 10000 // active_frames, defined once the window holds
`rate_min_speech_ms` of rep speech (else -1).

Scaling: levels < 2**15; ring sums < 30 * 100 frames; syllables * 10000 < 2**30
for fewer than 107,000 syllables in the window.
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
        self.reset()

    def reset(self):
        self.seek_peak = 1
        self.peak = 0
        self.peak_ok = 0
        self.valley = 0
        self.ref = 0             # loudest recent envelope, decaying
        self.voiced_seen = 0     # a voiced frame since the last valley
        self.nucleus = 0         # 1 on the frame a nucleus is counted

    def step(self, env_q8, voiced, active):
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
            elif env_q8 < self.peak - self.dip_q8:
                if self.peak_ok and self.voiced_seen and self.peak >= ref - self.peak_q8:
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
