"""Pitch of the rep: F0 candidates by normalised square difference, a path through them.

Front end. The band-passed mic signal is low-passed (4th-order Butterworth at
600 Hz, two Q13 biquads) and every 2nd sample kept (4 kHz), into a ring of the last
240; a search takes the last 192 of them (48 ms), normalised to a peak in
[2**12, 2**13).

Candidates, every other frame (20 ms hop) while the rep is active. The measure is
McLeod's normalised square difference n(tau) = 2 c(tau) / (e(0) + e(tau)) over a
30 ms window (kernels.nsdf_q10): 1 for a perfectly periodic signal at lag tau, and
long enough to hold two periods of a 70 Hz voice. It is computed coarse first,
on every other sample (2 kHz, 15 ms of products per lag) for every lag of the
range, and its five strongest local maxima above 0.3 are refined at 4 kHz (three
lags around each, one more past an edge that holds the best, and a parabola through
the best and its neighbours). Harmonics alone
give the period, so the telephone band's missing fundamental does not matter.

Path. Each search gives up to five voiced candidates and the unvoiced state. A
Viterbi search in the manner of Praat's path finder picks one per search: a
candidate costs 1 - n(tau), the unvoiced state 1 - `pitch_voicing_pct` %, a change
between voiced and unvoiced `_VU_Q10`, a step between two voiced candidates
`pitch_jump_pct` % per octave, a candidate 0.05 per octave below the search's
highest (as Praat's octave cost: a period and its multiples all fit a periodic
signal), and a candidate farther from the rep's recent median
F0 (set once a second by the spread stage) than the nearest one costs
`pitch_prior_pct` % per octave more. A subharmonic (twice the period) or a
strong harmonic (half) of a voice scores almost as well as the period in one
search; across a few searches and against the speaker's register they do not. The
path is decided `_DELAY` searches (100 ms) late: `f0_cents` is the F0 of the frame
pair 100 ms back. `raw_cents`, the strongest candidate of this search if its
periodicity reaches 0.7 (`_RAW_Q10`, stricter than the path's voicing: counted on the
real-speech set, a looser level lets more envelope peaks pass as voiced and
overcounts syllables), is the immediate voicing the syllable stage uses.

F0 is reported in integer cents re CENTS_REF_HZ (55 Hz): 60 Hz = 151,
400 Hz = 3437; 0 means unvoiced. Hz = 55 * 2**(cents / 1200).

Scaling: see kernels.nsdf_q10 (n in Q10, 0..about 1024). Interpolation: at a
local maximum b >= a, c of n, den = 2b - a - c >= |c - a|, both < 2**11, so the
offset ((c - a) << 7) // den lies within +-128 (half a lag) in Q8. period_q8 <
72 * 256; log2 values < 2**17; cents < 2**12. Path costs are Q10 (kernels.path_step): a local cost
<= 2048 + octave (< 2**9) + prior (< 2**13), a step <= pitch_jump (<= 2048) * 4096 /
1200 < 2**13; costs are re-based to their minimum every search, so every cost stays
below 2**15.
"""

from array import array

from .coeffs import DECIMATE, LOWPASS_Q13
from .fixmath import log2_q12

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

CENTS_REF_HZ = 55
DEC_RATE_HZ = 8000 // DECIMATE       # 4000
_W4 = const(120)                     # window at 4 kHz (30 ms)
_W2 = const(60)                      # the same window at 2 kHz (coarse search)
_HIST = const(192)                   # history, decimated samples (48 ms)
_FRAME_DEC = 80 // DECIMATE          # 40 decimated samples per frame
_RING = const(240)                   # the history's ring: 6 frames, >= _HIST
_NCAND = const(5)                    # voiced candidates per search
_FLOOR_Q10 = const(307)              # a local maximum below n = 0.3 is no candidate
_VU_Q10 = const(143)                 # voiced <-> unvoiced step: 0.14, Praat's default
_OCTAVE_Q10 = const(51)              # 0.05 per octave below the highest candidate
_RAW_Q10 = const(717)                # raw_cents: periodicity >= 0.7 (syllable voicing)
_DELAY = const(5)                    # searches between a search and its decision
_SLOTS = const(6)                    # _DELAY + 1 searches kept for the backtrace
_STATES = const(6)                   # unvoiced + _NCAND
# log2 of (4000 Hz * 256 / 55 Hz) in Q12: f0 cents = cents(_K - log2(period_q8))
_K_Q12 = log2_q12(DEC_RATE_HZ * 256) - log2_q12(CENTS_REF_HZ)


class Pitch:
    def __init__(self, p, k):
        self.k = k
        self.tau_min = DEC_RATE_HZ // p.pitch_max_hz                       # 10
        self.tau_max = (DEC_RATE_HZ + p.pitch_min_hz - 1) // p.pitch_min_hz  # <= 67
        self.lo2 = self.tau_min // 2                                       # coarse lags
        self.hi2 = (self.tau_max + 1) // 2
        self.voicing_q10 = (p.pitch_voicing_pct << 10) // 100
        self.jump_q10 = (p.pitch_jump_pct << 10) // 100
        self.prior_q10 = (p.pitch_prior_pct << 10) // 100
        # the low-pass: two sections' coefficients, and the input, middle and output
        # states (kernels.lowpass_decimate)
        self.sos = array("h", LOWPASS_Q13[0] + LOWPASS_Q13[1])
        self.state = array("h", bytes(12))
        self.lp = array("h", bytes(160))
        self.lp_energy = 0       # kernels.energy of this frame's lp
        # the last _RING decimated samples, a ring (each frame writes its 40 at `pos`:
        # nothing moves; normalize unwraps the last _HIST into `norm` for a search)
        self.hist = array("h", bytes(2 * _RING))
        self.norm = array("h", bytes(2 * _HIST))
        self.n2 = array("i", bytes(4 * (self.hi2 + 2)))
        self.n4 = array("i", bytes(4 * (2 * self.hi2 + 3)))
        # kernels.refine_q10's results: period (Q8 lags, -1 none) per candidate at
        # 1..5, its periodicity at 9..13
        self.res = array("i", bytes(4 * 16))
        # this search's candidates: cents and strength (Q10); slot 0 is unvoiced
        self.cand = array("h", bytes(2 * _STATES))
        self.strength = array("h", bytes(2 * _STATES))
        # the path: cents and backpointer per state for the last _SLOTS searches
        self.path_c = array("h", bytes(2 * _STATES * _SLOTS))
        self.path_b = array("b", bytes(_STATES * _SLOTS))
        self.cost = array("i", bytes(8 * _STATES))     # path costs, then scratch
        # kernels.path_step's settings and state (its docstring has the layout)
        self.cfg = array("i", bytes(4 * (10 + _SLOTS)))
        self.reset()

    def reset(self):
        for i in range(6):
            self.state[i] = 0
        for i in range(_RING):
            self.hist[i] = 0
        self.pos = 0
        for i in range(_STATES * _SLOTS):
            self.path_c[i] = 0
            self.path_b[i] = 0
        for i in range(2 * _STATES):
            self.cost[i] = 0
        cfg = self.cfg
        for i, v in enumerate((self.voicing_q10, self.jump_q10, self.prior_q10, 0, 0,
                               _STATES, _SLOTS, _DELAY, _OCTAVE_Q10, _VU_Q10)):
            cfg[i] = v
        for i in range(_SLOTS):
            cfg[10 + i] = 1          # the unvoiced state only, cents 0
        self.odd = 0
        self.center = 0          # the rep's recent median F0 in cents (0 unknown)
        self.raw_cents = 0
        self.f0_cents = 0

    def step(self, x, n, active):
        """Take this frame's band-passed rep samples; returns f0_cents (0 unvoiced),
        decided _DELAY searches (100 ms) late."""
        k = self.k
        pos = self.pos
        # low-pass, every 2nd sample into the ring (the kernel keeps odd samples:
        # DECIMATE is 2), and lp's energy, in one pass
        self.lp_energy = k.lowpass_decimate(x, n, self.sos, self.state, self.lp, self.hist,
                                            pos)
        pos += _FRAME_DEC
        self.pos = 0 if pos == _RING else pos
        self.odd ^= 1
        if self.odd:
            m = self.search() if active else 0
            self.f0_cents = self.track(m)
        if not active:
            self.raw_cents = 0
        return self.f0_cents

    def search(self):
        """Fill cand[1..m] and strength[1..m]; returns m, the number of candidates.
        Sets raw_cents."""
        k = self.k
        norm = self.norm
        n2 = self.n2
        cand = self.cand
        strength = self.strength
        self.raw_cents = 0
        # the window: the _HIST samples up to the newest (at pos - 1), unwrapped
        start = (self.pos + _RING - _HIST) % _RING
        if k.normalize(self.hist, start, _RING, norm, _HIST) < 8:
            return 0     # too quiet to carry a period
        lo2 = self.lo2
        hi2 = self.hi2
        k.nsdf_q10(norm, 2, _W2, lo2 - 1, hi2 + 1, n2)
        # the _NCAND strongest local maxima: coarse lags in cand[1..m]
        m = k.peaks_q10(n2, lo2, hi2, _FLOOR_Q10, cand, strength, _NCAND)
        # refine each at 4 kHz: lags 2t-1 .. 2t+1, one more beyond an edge that holds
        # the best, then a parabola through the best and its neighbours (one kernel
        # call for all: the per-candidate steps cost more as bytecode than the sums)
        res = self.res
        k.refine_q10(norm, _W4, cand, m, self.tau_min, self.tau_max, self.n4, res)
        out = 0
        best = 0
        for i in range(1, m + 1):
            period = res[i]
            if period < 0:
                continue
            # cents_of_log2, inline
            cents = ((_K_Q12 - k.log2_q12(period)) * 75) >> 8
            dup = 0
            for j in range(1, out + 1):
                if cand[j] == cents:
                    dup = 1
            if dup:
                continue
            out += 1
            cand[out] = cents      # out <= i: slots below i are already refined
            n = res[i + 8]
            strength[out] = n
            if n > best:
                best = n
                if best >= _RAW_Q10:
                    self.raw_cents = cents
        return out

    def track(self, m):
        """One step of the path with the unvoiced state and cand[1..m]; returns the
        F0 decided for the search _DELAY steps back (0 until there is one)."""
        cfg = self.cfg
        cfg[3] = self.center
        # until _DELAY searches have run, the trace reaches the unvoiced state reset()
        # left in every slot: 0
        return self.k.path_step(self.cand, self.strength, m, cfg, self.path_c, self.path_b,
                                self.cost)
