"""Float reference of the DSP engine: every stage in numpy/scipy, written as the definition
that the fixed-point core (dsp) approximates.

One function per engine stage, with the engine's stage names (dsp/README.md), in the
engine's order:

    bandpass -> level -> noise_floor -> crosstalk -> vad -> talkover -> dead_air
    -> lowpass -> pitch -> pitch_spread -> syllable_highpass -> syllable_envelope
    -> syllable_low -> syllables
    -> rolling_rate -> cue_policy

`run(rep, cust, params)` chains them into a `Trace`. Every stage takes plain arrays, so
`callcue verify` can also feed one stage the fixed-point engine's upstream outputs and
compare that stage alone (e.g. talk-over logic given identical voice activity).

The parameters are `dsp.params.Params`, the engine's own, and the filters are
`callcue.analysis.design`'s scipy designs in double precision (the engine runs the same designs
quantised by `design.quantise_sos`), so a change of default or of a design moves both.

Units (the engine's, in float):
- samples: int16 scale (full scale 32768), input quantised to int16 first;
- frames: 10 ms (FRAME = 80 samples at 8000 Hz); per-second values close every 100;
- level: 10*log10(sum(x**2) / 256) over a frame ("dB"), 0 for an energy <= 1; a
  full-scale square wave is FS_DB (85.3 dB), so dBFS = level - FS_DB;
- pitch: cents re 55 Hz (`CENTS_REF_HZ`), 0 = unvoiced; spread in cents;
- rate: syllables per second; NaN = not defined yet (the engine's -1).

Where the engine is an approximation of these definitions (integer rounding, a 33-entry
log table, Q-format state), `callcue verify` measures the difference and holds it to a
documented tolerance. One deliberate difference: a bridged gap in talk time counts in the
second it lies in; the engine, whose record for an earlier second is already out,
credits only the part inside the current second (dsp/engine.py).
"""

from dataclasses import dataclass, field

import numpy as np

from callcue.analysis import design
from dsp.crosstalk import ECHO_FRAMES
from dsp.cues import DEAD_AIR, FAST, FLAT, LISTEN_S, NONE, TALKOVER
from dsp.engine import FRAME, FRAMES_PER_S, RATE_HZ
from dsp.params import Params
from dsp.pitch import CENTS_REF_HZ
from dsp.talkover import CUSTOMER, REP
from dsp.vad import TURN_GAP

FRAME_MS = 1000 * FRAME // RATE_HZ  # 10
# energy units: sum(x**2) / 256 (the engine's (x*x) >> 8), so a frame level is in
# "dB re 256 LSB**2"; a full-scale square wave over a frame:
ENERGY_SCALE = 256.0
FS_DB = float(10 * np.log10(FRAME * 32767.0**2 / ENERGY_SCALE))

# pitch: normalised square difference on the low-passed rep channel decimated to 4 kHz
DEC_RATE_HZ = RATE_HZ // design.DECIMATE
PITCH_WINDOW = 120  # 30 ms at 4 kHz (60 samples at 2 kHz for the coarse search)
PITCH_BLOCK = 192   # the history searched every other frame, ending with the frame
PITCH_NCAND = 5     # voiced candidates per search
PITCH_FLOOR = 0.3   # a local maximum below this is no candidate
PITCH_VU_COST = 0.14  # voiced <-> unvoiced step of the path
PITCH_OCTAVE_COST = 0.05  # per octave below the search's highest candidate
PITCH_DELAY = 5     # searches between a search and the path's decision for it
PITCH_RAW = 717 / 1024  # raw (syllable) voicing: the strongest candidate's periodicity
MIN_PEAK = 8  # a block whose peak is below 8 LSB (-72 dBFS) carries no period
GROSS_RATIO = 1.2  # pitch estimates more than 20 % apart are a gross error

SYL_REF_DECAY_DB = 10.0 / FRAMES_PER_S  # the loudest recent nucleus decays 10 dB/s
# the syllable period (frames x 16) and what follows it (dsp/syllables.py)
SYL_PERIOD_INIT_Q4 = 352     # 22 frames, 4.5 syllables/s
SYL_PERIOD_MIN_Q4 = 160      # 100 ms
SYL_PERIOD_MAX_Q4 = 800      # 500 ms
SYL_PAUSE_PERIODS = 3        # a longer gap between nuclei is a pause
SYL_WIN_PER_PERIOD = 46 / 256  # envelope window + 1 frame per frame of period
SYL_DIP_PERIOD = 27.0        # frames: the period at which the dip is syl_dip_db
SYL_RING = 8                 # the window holds at most 7.99 frames
# the syllable envelope's high-pass, one of its two first-order sections
SYL_HP_B = (1.0, -1.0)
SYL_HP_A = (1.0, -7.0 / 8.0)


@dataclass
class Trace:
    """Everything one run of the chain produces, the same fields for the fixed-point
    engine (callcue.analysis.verify.fixed_trace) and the float reference (`run`).

    Per sample (8 kHz): x_rep, x_cust (band-passed), lp_rep (rep low-passed for pitch).
    Per frame: energy_*, level_* (dB), floor_* (dB), *_ok (crosstalk gate), *_active
    (with hangover), *_speech (speaking this frame), *_start (frame the current active
    run began), *_talk (talk-time frames credited), talkover (a confirmed talk-over
    runs), dead_air, f0_cents (the pitch path's, 100 ms late), raw_cents (this
    search's voicing, for the syllables), energy_hp (the rep's high-passed energy) and
    energy_low (of its pitch low-pass), envelope (dB, syllable envelope), syllable (1 on the frame
    a nucleus is counted), cue. Per second: rate_sps, sd_cents, pitch_cents (NaN where
    not defined). events: (start frame, end frame exclusive, interrupter 0 rep 1 cust).
    """

    x_rep: np.ndarray = None
    x_cust: np.ndarray = None
    lp_rep: np.ndarray = None
    energy_rep: np.ndarray = None
    energy_cust: np.ndarray = None
    level_rep: np.ndarray = None
    level_cust: np.ndarray = None
    floor_rep: np.ndarray = None
    floor_cust: np.ndarray = None
    rep_ok: np.ndarray = None
    cust_ok: np.ndarray = None
    rep_active: np.ndarray = None
    cust_active: np.ndarray = None
    rep_speech: np.ndarray = None
    cust_speech: np.ndarray = None
    rep_start: np.ndarray = None
    cust_start: np.ndarray = None
    rep_talk: np.ndarray = None
    cust_talk: np.ndarray = None
    talkover: np.ndarray = None
    dead_air: np.ndarray = None
    f0_cents: np.ndarray = None
    raw_cents: np.ndarray = None
    energy_hp: np.ndarray = None
    energy_low: np.ndarray = None
    envelope: np.ndarray = None
    syllable: np.ndarray = None
    cue: np.ndarray = None
    rate_sps: np.ndarray = None
    sd_cents: np.ndarray = None
    pitch_cents: np.ndarray = None
    events: list = field(default_factory=list)

    @property
    def frames(self):
        return len(self.level_rep)


def whole_frames(x):
    """x as float64, cut to whole 10 ms frames (the engine drops a final partial one)."""
    x = np.asarray(x, dtype=np.float64)
    return x[: len(x) // FRAME * FRAME]


# ------------------------------------------------------------------------ band limiting


def bandpass(x):
    """DC removal and telephone band: design.bandpass_sos() run by scipy in double."""
    from scipy import signal  # imported where used: `analyze` needs only spread_sd

    return signal.sosfilt(design.bandpass_sos(), whole_frames(x))


# ------------------------------------------------------------------------------- level


def frame_energy(x):
    """sum(x**2) / 256 per 10 ms frame."""
    x = whole_frames(x).reshape(-1, FRAME)
    return np.sum(x * x, axis=1) / ENERGY_SCALE


def level_db(energy):
    """10*log10(energy), 0 for an energy <= 1 (the engine's db_q8 of 0 or 1)."""
    e = np.asarray(energy, dtype=np.float64)
    return np.where(e > 1.0, 10.0 * np.log10(np.maximum(e, 1.0)), 0.0)


# ----------------------------------------------------------------------- voice activity


def noise_floor(level, p):
    """Adaptive noise floor per frame (dB): starts at the first level, follows the level
    down by 1/8 of the gap per frame and rises at most `floor_rise_db_per_min`."""
    rise = p.floor_rise_db_per_min / (60.0 * FRAMES_PER_S)
    out = np.empty(len(level))
    f = None
    for i, lv in enumerate(level):
        if f is None:
            f = lv
        elif lv < f:
            f -= (f - lv) / 8.0
        else:
            f = min(f + rise, lv)
        out[i] = f
    return out


def crosstalk(level_rep, level_cust, p):
    """The crosstalk gate: (rep_ok, cust_ok) per frame. A party counts only when its
    channel beats the leakage of the other's (loss less margin): the customer when
    L1 > L0 - (sidetone_loss - margin), the rep when L0 > max(L1 over the last
    ECHO_FRAMES frames) - (echo_loss - margin): echo comes back late."""
    lc = np.asarray(level_cust, dtype=np.float64)
    loud = lc.copy()
    for k in range(1, ECHO_FRAMES):
        loud[k:] = np.maximum(loud[k:], lc[:-k])
    rep_ok = level_rep + (p.echo_loss_db - p.xtalk_margin_db) > loud
    cust_ok = level_cust + (p.sidetone_loss_db - p.xtalk_margin_db) > level_rep
    return rep_ok, cust_ok


@dataclass
class Activity:
    """One party's voice activity per frame (see `vad`)."""

    active: np.ndarray
    speech: np.ndarray
    start: np.ndarray
    talk: np.ndarray


def vad(level, floor, ok, p):
    """Voice activity of one party from its levels, noise floor and crosstalk gate.

    A frame is speech-like when the level is above floor + `vad_on_db` (`vad_off_db`
    while the party is active) and above `vad_min_dbfs`, and the gate lets it through.
    The party becomes active after `vad_onset_ms` of consecutive speech-like frames and
    stays active `vad_hangover_ms` after the last one. speech = speech-like while active;
    talk = speech frames plus the gaps the hangover bridged (non-speech frames while
    active that speech followed); start = the frame the current turn began (activity
    after fewer than vad.TURN_GAP inactive frames continues the turn).
    """
    onset = p.vad_onset_ms // FRAME_MS
    hangover = p.vad_hangover_ms // FRAME_MS
    min_db = FS_DB + p.vad_min_dbfs
    n = len(level)
    active = np.zeros(n, bool)
    speech = np.zeros(n, bool)
    start = np.zeros(n, np.int64)
    talk = np.zeros(n, np.int64)
    on = False
    run = hold = begun = 0
    quiet = TURN_GAP
    for i in range(n):
        thr = p.vad_off_db if on else p.vad_on_db
        like = level[i] > floor[i] + thr and level[i] > min_db and bool(ok[i])
        if like:
            if on and hold:
                talk[i - hold : i] = 1   # the bridged gap
            run += 1
            hold = 0
            if not on and run >= onset:
                on = True
                if quiet >= TURN_GAP:
                    begun = i
        else:
            run = 0
            if on:
                hold += 1
                if hold > hangover:
                    on = False
        active[i] = on
        speech[i] = like and on
        start[i] = begun
        quiet = 0 if on else min(quiet + 1, TURN_GAP)
        talk[i] |= speech[i]
    return Activity(active, speech, start, talk)


# --------------------------------------------------------------------------- talk-over


def talkover(rep_active, cust_active, rep_start, cust_start, rep_speech, cust_speech, p):
    """Talk-overs: (confirmed per frame, events).

    Frames where both parties are active form overlap runs; a break of up to
    `talkover_gap_ms` does not end a run. The interrupter is the party whose turn began
    later (the rep on a tie; vad() start). A run holding `talkover_min_ms` of frames on which
    the interrupter is speaking (not only held by the hangover) is a talk-over:
    confirmed from the frame that completes that minimum until the run ends (its last
    overlapping frame plus the gap allowance). Events are (first, last + 1, interrupter),
    including a run still open at the end of the input.
    """
    min_frames = p.talkover_min_ms // FRAME_MS
    gap = p.talkover_gap_ms // FRAME_MS
    n = len(rep_active)
    confirmed = np.zeros(n, bool)
    events = []
    both = np.flatnonzero(np.asarray(rep_active, bool) & np.asarray(cust_active, bool))
    if both.size == 0:
        return confirmed, events
    breaks = np.flatnonzero(np.diff(both) - 1 > gap) + 1
    for run in np.split(both, breaks):
        first, last = int(run[0]), int(run[-1])
        who = CUSTOMER if cust_start[first] > rep_start[first] else REP
        speaking = np.asarray(cust_speech if who == CUSTOMER else rep_speech, bool)[run]
        if speaking.sum() < min_frames:
            continue
        done = run[np.flatnonzero(speaking)[min_frames - 1]]
        confirmed[done : last + gap + 1] = True
        events.append((first, last + 1, who))
    return confirmed, events


# ---------------------------------------------------------------------------- dead air


def dead_air(anyone, p):
    """Dead air per frame: once someone has spoken, a silence of both parties is dead air
    from its `dead_air_ms`-th frame on, until speech resumes or the silence reaches
    `call_end_ms` (the call has ended)."""
    limit = p.dead_air_ms // FRAME_MS
    call_end = p.call_end_ms // FRAME_MS
    anyone = np.asarray(anyone, bool)
    n = len(anyone)
    out = np.zeros(n, bool)
    spoke = np.flatnonzero(anyone)
    if spoke.size == 0:
        return out
    quiet = ~anyone
    quiet[: spoke[0]] = False   # before the call starts
    edges = np.diff(np.concatenate([[0], quiet.astype(np.int8), [0]]))
    for s, e in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        out[s + limit - 1 : min(e, s + call_end - 1)] = True
    return out


# ------------------------------------------------------------------------------- pitch


def lowpass(x):
    """The pitch front end's anti-alias low-pass, design.lowpass_sos() in double."""
    from scipy import signal

    return signal.sosfilt(design.lowpass_sos(), whole_frames(x))


def nsdf(x, w, lags):
    """McLeod's normalised square difference 2 sum(x[j] x[j+tau]) / sum(x[j]**2 +
    x[j+tau]**2), j < w, for each lag (negative values as 0)."""
    x = np.asarray(x, dtype=np.float64)
    a = x[:w]
    out = {}
    for tau in lags:
        b = x[tau : tau + w]
        den = a @ a + b @ b
        c = a @ b
        out[tau] = 2.0 * c / den if den > 0 and c > 0 else 0.0
    return out


def pitch_candidates(block, p):
    """Up to PITCH_NCAND (cents, strength) of one block (PITCH_BLOCK samples at 4 kHz).

    Coarse: the normalised square difference on every other sample (2 kHz, window
    PITCH_WINDOW / 2) at every lag of the range; its strongest local maxima above
    PITCH_FLOOR are refined at 4 kHz over lags 2t-1..2t+1, one lag further when the
    best is at an edge: the best of them in the range, a parabola through it and its
    neighbours (when both were computed)."""
    block = np.asarray(block, dtype=np.float64)
    if np.max(np.abs(block)) < MIN_PEAK:
        return []
    tau_min = DEC_RATE_HZ // p.pitch_max_hz
    tau_max = -(-DEC_RATE_HZ // p.pitch_min_hz)
    lo2, hi2 = tau_min // 2, (tau_max + 1) // 2
    n2 = nsdf(block[::2], PITCH_WINDOW // 2, range(lo2 - 1, hi2 + 2))
    peaks = [(n2[t], t) for t in range(lo2, hi2 + 1)
             if n2[t] >= PITCH_FLOOR and n2[t] > n2[t - 1] and n2[t] >= n2[t + 1]]
    peaks.sort(key=lambda v: -v[0])     # stable: equal strengths keep the shorter lag
    out = []
    for _, t in peaks[:PITCH_NCAND]:
        c = 2 * t
        lo, hi = c - 1, c + 1
        n4 = nsdf(block, PITCH_WINDOW, range(lo, hi + 1))
        u = max(range(lo, hi + 1), key=lambda v: (n4[v], -v))     # the first best
        if u == hi and hi < tau_max + 1:
            hi += 1
            n4.update(nsdf(block, PITCH_WINDOW, [hi]))
            u = hi if n4[hi] > n4[u] else u
        elif u == lo and lo > tau_min - 1:
            lo -= 1
            n4.update(nsdf(block, PITCH_WINDOW, [lo]))
            u = lo if n4[lo] > n4[u] else u
        if u < tau_min or u > tau_max:
            continue
        off = 0.0
        if lo < u < hi:
            a, b, cc = n4[u - 1], n4[u], n4[u + 1]
            den = 2 * b - a - cc
            if den > 0:
                off = 0.5 * (cc - a) / den
        cents = 1200.0 * np.log2(DEC_RATE_HZ / (u + off) / CENTS_REF_HZ)
        if any(abs(cents - o[0]) < 1.0 for o in out):
            continue
        out.append((cents, n4[u]))
    return out


def pitch(lp, rep_active, p):
    """F0 of the rep per frame in cents re 55 Hz (0 unvoiced), and the immediate voicing.

    Returns (f0, raw): every other frame (the 1st, 3rd, ...) where the rep is active,
    pitch_candidates() on the last PITCH_BLOCK decimated samples (each pair's last
    sample, silence before the input); a path through the candidates and the unvoiced
    state (costs: 1 - strength plus PITCH_OCTAVE_COST per octave below the search's
    highest candidate, 1 - pitch_voicing_pct % unvoiced, PITCH_VU_COST
    to change voicing, pitch_jump_pct % per octave of a step, pitch_prior_pct % per
    octave farther from the recent median F0 than the nearest candidate) decided
    PITCH_DELAY searches late; f0 holds for both frames of a search. raw: the strongest
    candidate of the search when its strength reaches PITCH_RAW (else 0). The median
    is that of the path's own output over the pitch_spread window, taken at each
    second's end once pitch_min_voiced_ms are voiced (kept while fewer, 0 with none)."""
    dec = whole_frames(lp)[design.DECIMATE - 1 :: design.DECIMATE]
    per_frame = FRAME // design.DECIMATE
    n = len(dec) // per_frame
    hist = np.concatenate([np.zeros(PITCH_BLOCK), dec])
    active = np.asarray(rep_active, bool)
    voicing = p.pitch_voicing_pct / 100.0
    jump = p.pitch_jump_pct / 100.0
    prior = p.pitch_prior_pct / 100.0
    window = p.pitch_window_s * FRAMES_PER_S
    min_voiced = p.pitch_min_voiced_ms // FRAME_MS
    f0 = np.zeros(n)
    raw = np.zeros(n)
    center = 0.0
    states = []       # per search: list of cents (0 = unvoiced), backpointers
    cost = np.zeros(1)
    prev = [0.0]
    held = 0.0
    for i in range(n):
        if i % 2 == 0:
            cands = []
            if active[i]:
                end = PITCH_BLOCK + (i + 1) * per_frame
                cands = pitch_candidates(hist[end - PITCH_BLOCK : end], p)
                best = max(cands, key=lambda c: c[1], default=None)
                if best is not None and best[1] >= PITCH_RAW:
                    raw[i] = best[0]
            cents = [0.0] + [c for c, _ in cands]
            top = max((c for c, _ in cands), default=0.0)
            local = [1.0 - voicing] + [1.0 - s + PITCH_OCTAVE_COST * (top - c) / 1200.0
                                       for c, s in cands]
            if center > 0 and cands:
                near = min(abs(c - center) for c, _ in cands)
                for k in range(1, len(cents)):
                    local[k] += prior * (abs(cents[k] - center) - near) / 1200.0
            new = np.zeros(len(cents))
            back = np.zeros(len(cents), int)
            for k, ck in enumerate(cents):
                steps = []
                for j, cj in enumerate(prev):
                    if j == 0 and k == 0:
                        steps.append(cost[j])
                    elif j == 0 or k == 0:
                        steps.append(cost[j] + PITCH_VU_COST)
                    else:
                        steps.append(cost[j] + jump * abs(ck - cj) / 1200.0)
                back[k] = int(np.argmin(steps))
                new[k] = steps[back[k]] + local[k]
            cost = new - new.min()
            states.append((cents, back))
            prev = cents
            held = 0.0
            if len(states) > PITCH_DELAY:
                k = int(np.flatnonzero(cost == 0)[-1])   # the last of equal bests
                for m in range(len(states) - 1, len(states) - 1 - PITCH_DELAY, -1):
                    k = states[m][1][k]
                held = states[len(states) - 1 - PITCH_DELAY][0][k]
        elif active[i]:
            raw[i] = raw[i - 1]
        f0[i] = held
        if (i + 1) % FRAMES_PER_S == 0:
            win = f0[max(0, i + 1 - window) : i + 1]
            v = win[win > 0]
            if v.size >= min_voiced:
                center = float(np.median(v))
            elif v.size == 0:
                center = 0.0
    return f0, raw


def spread_sd(v):
    """The robust SD of F0 values (cents): deviations from the median clipped at 2.5 x
    the interquartile range / 1.349 (at least 150, at most 1200 cents)."""
    v = np.asarray(v, dtype=np.float64)
    q25, med, q75 = np.percentile(v, [25, 50, 75])
    lim = float(np.clip(2.5 * (q75 - q25) / 1.349, 150.0, 1200.0))
    return float(np.std(np.clip(v - med, -lim, lim)))


def pitch_spread(f0_cents, p):
    """Per second: (sd_cents, mean_cents). sd = spread_sd() of the voiced frames' F0 over
    the last `pitch_window_s` seconds, defined once `pitch_min_voiced_ms` are voiced;
    mean = mean F0 of the second's voiced frames. NaN where not defined."""
    f0 = np.asarray(f0_cents, dtype=np.float64)
    window = p.pitch_window_s * FRAMES_PER_S
    min_voiced = p.pitch_min_voiced_ms // FRAME_MS
    seconds = len(f0) // FRAMES_PER_S
    sd = np.full(seconds, np.nan)
    mean = np.full(seconds, np.nan)
    for s in range(seconds):
        end = (s + 1) * FRAMES_PER_S
        sec = f0[end - FRAMES_PER_S : end]
        if np.any(sec > 0):
            mean[s] = sec[sec > 0].mean()
        win = f0[max(0, end - window) : end]
        v = win[win > 0]
        if v.size >= min_voiced:
            sd[s] = spread_sd(v)
    return sd, mean


# ---------------------------------------------------------------------- speaking rate


def syllable_highpass(x_rep):
    """Energy per frame of the band-passed rep through the syllable envelope's high-pass
    (kernels.highpass_energy): two sections (1 - z**-1) / (1 - 7/8 z**-1), output / 4."""
    from scipy import signal

    y = signal.lfilter(SYL_HP_B, SYL_HP_A, whole_frames(x_rep))
    y = signal.lfilter(SYL_HP_B, SYL_HP_A, y)
    return frame_energy(y / 4.0)


def syllable_envelope(energy):
    """The level over the last two frames (20 ms), dB, of per-frame energies (the
    engine's: the high-passed rep's, syllable_highpass)."""
    e = np.asarray(energy, dtype=np.float64)
    return level_db(e + np.concatenate([[0.0], e[:-1]]))


def _last_20ms(e):
    e = np.asarray(e, dtype=np.float64)
    return e + np.concatenate([[0.0], e[:-1]])


def syllable_low(energy_low, energy_rep, p):
    """Per frame: the last 20 ms hold at least `syl_low_pct` % of the band-passed rep's
    energy (energy_rep) below 600 Hz (energy_low, of the pitch low-pass)."""
    return _last_20ms(energy_low) * 100.0 >= _last_20ms(energy_rep) * p.syl_low_pct


def syllables(envelope, f0_cents, rep_active, p, low=None):
    """Syllable nuclei: (count per frame, peak frames).

    The envelope is first averaged over a window that follows the syllable period
    (syllable_window): period - the running median of the gaps between counted
    nuclei, each stepping it 1/16 towards the gap unless the gap is more than
    SYL_PAUSE_PERIODS periods (a pause), 22 frames at the start, within 10..50 frames;
    window 0.18 period - 1 frames (1 to 7.99: the newest whole frames and a share of the
    next older one); dip `syl_dip_db` * sqrt(period / 27 frames).

    Nuclei are then peaks of the averaged envelope that rise more than the dip above
    the preceding valley and are confirmed by a fall of more than the dip (hysteresis),
    on a frame where the rep is active, voiced: a voiced frame (an F0) from the rise
    out of the preceding valley up to the confirming dip, or `low` (syllable_low; None:
    all False) on the peak frame, and no more than `syl_peak_db` below the loudest
    recent averaged envelope (a peak hold decaying 10 dB/s) when the dip confirms it. A
    nucleus is counted on that confirming frame. A flat peak is at its first frame.
    The period's bookkeeping (integer steps) is the engine's, so the two follow the
    same period.
    """
    env = np.asarray(envelope, dtype=np.float64)
    n = len(env)
    count = np.zeros(n, np.int64)
    voiced = np.asarray(f0_cents) > 0
    low = np.zeros(n, bool) if low is None else np.asarray(low, bool)
    active = np.asarray(rep_active, bool)
    kept = []
    q = SYL_PERIOD_INIT_Q4
    win, dip = syllable_window(q, p)
    hist = np.zeros(SYL_RING)   # newest first
    seek = True
    peak = valley = 0.0
    peak_ok = peak_low = voiced_seen = False
    peak_at = 0
    last = None                 # the last counted nucleus's peak frame
    ref = 0.0
    for i in range(n):
        hist[1:] = hist[:-1]
        hist[0] = env[i]
        whole = int(win)
        e = (hist[:whole].sum() + (win - whole) * hist[whole]) / win
        if voiced[i]:
            voiced_seen = True
        ref = max(ref - SYL_REF_DECAY_DB, e)
        if seek:
            if e > peak:
                peak, peak_at, peak_ok, peak_low = e, i, active[i], low[i]
            elif e < peak - dip:
                if peak_ok and (voiced_seen or peak_low) and peak >= ref - p.syl_peak_db:
                    count[i] += 1
                    kept.append(peak_at)
                    if last is not None and 16 * (peak_at - last) < SYL_PAUSE_PERIODS * q:
                        step = q >> 4
                        q2 = q + step if 16 * (peak_at - last) > q else q - step
                        q2 = min(max(q2, SYL_PERIOD_MIN_Q4), SYL_PERIOD_MAX_Q4)
                        if q2 != q:
                            q = q2
                            win, dip = syllable_window(q, p)
                    last = peak_at
                seek = False
                valley = e
        else:
            if e < valley:
                valley = e
            elif e > valley + dip:
                seek = True
                voiced_seen = False
                peak, peak_at, peak_ok, peak_low = e, i, active[i], low[i]
    return count, np.asarray(kept, np.int64)


def syllable_window(period_q4, p):
    """(window in frames, dip in dB) for a syllable period in frames x 16."""
    win = min(max(period_q4 / 16.0 * SYL_WIN_PER_PERIOD - 1.0, 1.0), SYL_RING - 1 + 255 / 256)
    return win, p.syl_dip_db * np.sqrt(period_q4 / 16.0 / SYL_DIP_PERIOD)


def rolling_rate(syllable, talk, p):
    """Per second: syllables per second of the rep's talk time over the last
    `rate_window_s` seconds, defined once the window holds `rate_min_speech_ms` of talk
    (NaN before)."""
    seconds = len(syllable) // FRAMES_PER_S
    m = seconds * FRAMES_PER_S
    syl = np.asarray(syllable[:m]).reshape(seconds, FRAMES_PER_S).sum(axis=1)
    act = np.asarray(talk[:m]).reshape(seconds, FRAMES_PER_S).sum(axis=1)
    win = p.rate_window_s
    min_frames = p.rate_min_speech_ms // FRAME_MS
    rate = np.full(seconds, np.nan)
    for s in range(seconds):
        a = act[max(0, s - win + 1) : s + 1].sum()
        if a >= min_frames:
            rate[s] = syl[max(0, s - win + 1) : s + 1].sum() * FRAMES_PER_S / a
    return rate


# --------------------------------------------------------------------------- cue policy


def fast_baseline(syllable, rep_talk, p):
    """Per second: the rate (csps, integer) the fast cue is judged against, 0 for none:
    `rate_baseline_csps` when learned, else the rep's average so far (syllables * 100 //
    whole seconds of talk) once they have talked LISTEN_S (30 s)."""
    n = len(syllable) // FRAMES_PER_S
    if p.rate_baseline_csps > 0:
        return np.full(n, p.rate_baseline_csps, dtype=np.int64)
    syl = np.cumsum(np.asarray(syllable, np.int64))
    talk = np.cumsum(np.asarray(rep_talk, np.int64))
    out = np.zeros(n, np.int64)
    for s in range(n):
        secs = int(talk[(s + 1) * FRAMES_PER_S - 1]) // 100
        if secs >= LISTEN_S:
            out[s] = int(syl[(s + 1) * FRAMES_PER_S - 1]) * 100 // secs
    return out


def cue_policy(talkover_on, dead_on, rate_sps, sd_cents, p, baseline=None):
    """The cue shown per frame (dsp.cues numbering).

    Conditions: talk-over and dead air per frame; fast (rate above B * (100 +
    `fast_rel_pct`) // 100 and `fast_on_csps`, off below B * (90 + `fast_rel_pct`) //
    100 or `fast_off_csps`, all / 100; B from fast_baseline(), none while it is 0)
    and flat (SD below `flat_on_cents`, off above `flat_off_cents`) from each second's
    rolling values, from the next frame on (off while undefined). One cue at a time,
    priority talkover > fast > flat > dead_air, a higher one taking over at once (fast
    and flat not wanted during dead air); a
    cue stays lit at least `cue_min_on_ms`, goes dark when its condition ends or after
    `cue_max_on_ms`, and cannot light again within its `*_repeat_ms` of going dark.
    """
    n = len(talkover_on)
    fast = np.zeros(n, bool)
    flat = np.zeros(n, bool)
    f_on = s_on = False
    if baseline is None:
        baseline = np.full(len(rate_sps), p.rate_baseline_csps)
    for s, (rate, sd) in enumerate(zip(rate_sps, sd_cents, strict=True)):
        b = int(baseline[s])
        on = max(b * (100 + p.fast_rel_pct) // 100, p.fast_on_csps) / 100.0
        off = max(b * (90 + p.fast_rel_pct) // 100, p.fast_off_csps) / 100.0
        if np.isnan(rate) or b <= 0:
            f_on = False
        elif rate > on:
            f_on = True
        elif rate < off:
            f_on = False
        if np.isnan(sd):
            s_on = False
        elif sd < p.flat_on_cents:
            s_on = True
        elif sd > p.flat_off_cents:
            s_on = False
        fast[(s + 1) * FRAMES_PER_S :] = f_on
        flat[(s + 1) * FRAMES_PER_S :] = s_on
    dead = np.asarray(dead_on, bool)
    # in dead air nobody speaks: pace and pitch cues are not wanted then
    wants = {TALKOVER: np.asarray(talkover_on, bool), FAST: fast & ~dead, FLAT: flat & ~dead,
             DEAD_AIR: dead}
    repeat = {TALKOVER: p.talkover_repeat_ms, FAST: p.fast_repeat_ms,
              FLAT: p.flat_repeat_ms, DEAD_AIR: p.dead_air_repeat_ms}
    repeat = {c: ms // FRAME_MS for c, ms in repeat.items()}
    min_on = p.cue_min_on_ms // FRAME_MS
    max_on = p.cue_max_on_ms // FRAME_MS
    last_end = {c: -np.inf for c in wants}
    out = np.zeros(n, np.int64)
    cue = NONE
    since = 0
    for i in range(n):
        if cue != NONE:
            on = i - since
            if on >= min_on and (not wants[cue][i] or on >= max_on):
                last_end[cue] = i
                cue = NONE
        for c in (TALKOVER, FAST, FLAT, DEAD_AIR):   # by priority
            if cue != NONE and c >= cue:
                break
            if wants[c][i] and i - last_end[c] >= repeat[c]:
                if cue != NONE:
                    last_end[cue] = i
                cue, since = c, i
                break
        out[i] = cue
    return out


# -------------------------------------------------------------------------- the chain


def run(rep, cust, params=None):
    """The whole reference chain on int16 rep/customer arrays at 8000 Hz -> Trace."""
    p = params if params is not None else Params()
    n = max(len(rep), len(cust))
    a = np.zeros(n)
    b = np.zeros(n)
    a[: len(rep)] = rep
    b[: len(cust)] = cust
    t = Trace()
    t.x_rep = bandpass(a)
    t.x_cust = bandpass(b)
    t.energy_rep = frame_energy(t.x_rep)
    t.energy_cust = frame_energy(t.x_cust)
    t.level_rep = level_db(t.energy_rep)
    t.level_cust = level_db(t.energy_cust)
    t.floor_rep = noise_floor(t.level_rep, p)
    t.floor_cust = noise_floor(t.level_cust, p)
    t.rep_ok, t.cust_ok = crosstalk(t.level_rep, t.level_cust, p)
    r = vad(t.level_rep, t.floor_rep, t.rep_ok, p)
    c = vad(t.level_cust, t.floor_cust, t.cust_ok, p)
    t.rep_active, t.rep_speech, t.rep_start, t.rep_talk = r.active, r.speech, r.start, r.talk
    t.cust_active, t.cust_speech, t.cust_start, t.cust_talk = (
        c.active, c.speech, c.start, c.talk)
    t.talkover, t.events = talkover(r.active, c.active, r.start, c.start, r.speech,
                                     c.speech, p)
    t.dead_air = dead_air(r.active | c.active, p)
    t.lp_rep = lowpass(t.x_rep)
    t.f0_cents, t.raw_cents = pitch(t.lp_rep, r.active, p)
    t.sd_cents, t.pitch_cents = pitch_spread(t.f0_cents, p)
    t.energy_hp = syllable_highpass(t.x_rep)
    t.energy_low = frame_energy(t.lp_rep)
    t.envelope = syllable_envelope(t.energy_hp)
    low = syllable_low(t.energy_low, t.energy_rep, p)
    t.syllable, _ = syllables(t.envelope, t.raw_cents, r.active, p, low)
    t.rate_sps = rolling_rate(t.syllable, r.talk, p)
    t.cue = cue_policy(t.talkover, t.dead_air, t.rate_sps, t.sd_cents, p,
                       fast_baseline(t.syllable, r.talk, p))
    return t
