"""Synthetic two-channel phone calls with exact ground truth.

The signal is speech-like, not speech: every property that the callcue engine
measures (who is speaking when, syllable nuclei, F0, silences, channel
coupling) is chosen here, so the truth is known exactly.

Model
-----
*Talker.* A voice has a median F0 (male 105-135 Hz or female 185-225 Hz,
picked from the seed; rep and customer always differ by at least 1.5
semitones), a formant scale (1.0 male, 1.12 female), an active-speech level
(rep about -20 dBFS, customer about -22 dBFS) and a syllable rate (rep 4.0,
customer 4.5 syllables/s unless the scenario says otherwise).

*Phrase.* A talker speaks in phrases of 3-12 syllables, one syllable every
1/rate seconds with +-20 % jitter, phrases separated by 250-700 ms pauses
inside a turn and by 200-900 ms gaps between turns. A backchannel ("mm-hmm")
is a 1-2 syllable voiced phrase of 150-300 ms, 6 dB quieter.

*Syllable.* An optional unvoiced onset (band-passed noise, 20-50 ms, 15-20 dB
below the vowel) followed by a voiced nucleus: a Rosenberg glottal-flow pulse
train, generated from the integrated F0 contour on a >= 32 kHz grid and
decimated (so the pulse timing is exact and aliasing is negligible), lip
radiation (first difference), then a cascade of 3-4 formant resonators picked
per syllable from a small vowel table. The nucleus is shaped by a sine-power
envelope that is zero at both ends, so the level between consecutive
syllables dips far more than 10 dB below the peaks; the envelope peak is the
syllable's time in the truth.

*F0 contour.* Per phrase: a register offset, linear declination and
per-syllable accent bumps, in "shape" units. One scale per talker and call
maps the shape to semitones so that the standard deviation of
12*log2(f0/median) over all voiced nucleus samples of the call hits the
target (normal ~2 st, flat-rep 0.4 st, expressive-rep 4 st); F0 is clipped to
65-380 Hz. The truth reports the realised median and SD of the contour
actually used.

*Levels.* Full scale is 1.0 (= 32768 in int16); dBFS is RMS relative to
full scale, computed over the talker's phrase intervals (backchannels
excluded). Each nucleus is normalised before its envelope: the rep's over the
full band, the customer's in the telephone band (where /i/ and /u/ lose their
first formant). A syllable whose peak would exceed -3 dBFS is turned down as
a whole, so the mix never clips and waveforms, timing and F0 are untouched.

*Channels.*

    ch0 (rep headset mic) = rep + echo + mic noise
        echo = earpiece customer, echo_loss_db (30 dB) down, 0-10 ms late
    ch1 (earpiece)        = telephone_band(customer) + sidetone + line noise
        sidetone = rep, sidetone_loss_db down (seeded 12-24 dB), not filtered
        telephone band = Butterworth high-pass 300 Hz (order 6) and
        low-pass 3400 Hz (order 6), causal, at every sample rate

Noise floors are about -65 dBFS (white on the mic, pink and band-limited on
the line). The noisy-line scenario sets the noise relative to active speech:
20 dB below the rep on ch0, 12 dB below the customer on ch1.

*Calibration.* The ``calibration`` scenario is not a conversation but the three
steps of ``callcue calibrate``: silence (the first 20 % of the file), the rep alone
(the next 30 %), the customer alone (the last 50 %), with the same voices, couplings
and noise as a call. Its truth adds ``calibration``: the steps' start and end times;
``seconds``, the ``calibrate --seconds`` it is made for (a twelfth of the duration: 5
at the default 60 s); ``start_within_s``, how soon after the file starts (the virtual
dongle plays it from its start) calibrate must start its silence step with it (7 s).
Other --seconds line up too: at 60 s, 3-8 when calibrate starts within 4 s. See
CAL_SECTIONS.

*Determinism.* Everything comes from ``np.random.SeedSequence(seed)``: one
child stream for the voices, one for the call plan, one for rendering, one for
noise. The same (scenario, seed, duration, rate) gives bit-identical output
on a given platform, and the same seed gives the same voices in every
scenario and the same plan at every sample rate.

*Truth.* Times are those of the synthesised sources, quantised to samples. The
customer in ch1 (and the echo in ch0) also passes the causal telephone band,
which delays it by 0.2-1.7 ms in band. ``f0_track`` has one point per 10 ms
frame whose centre lies in a voiced nucleus, including the quiet edges of the
envelope where an estimator may reasonably call the frame unvoiced.
"""

from __future__ import annotations

import functools
import json
import math
import pathlib
from dataclasses import dataclass

import numpy as np
from scipy import signal

__all__ = ["SCENARIOS", "render", "write"]

SCHEMA = "callcue.truth/1"

SCENARIOS: dict[str, str] = {
    "turn-taking": "alternating 2-6 s turns, 200-900 ms gaps, no overlaps",
    "rep-interrupts": "turn-taking; every ~15-20 s the rep talks over the customer for 1-2 s",
    "customer-interrupts": "turn-taking; every ~15-20 s the customer talks over the rep for 1-2 s",
    "backchannels": "long turns; the listener says 'mm-hmm' every 2-4 s; no real talk-overs",
    "fast-rep": "rep speaks at 6.5 syllables/s in long turns, customer short turns",
    "slow-rep": "rep speaks at 2.8 syllables/s in long turns, customer short turns",
    "flat-rep": "rep long turns with a flat voice (F0 SD ~0.4 semitones)",
    "expressive-rep": "rep long turns with a lively voice (F0 SD ~4 semitones)",
    "dead-air": "turn-taking with 8-10 s silences (2 per minute, at least 1)",
    "noisy-line": "turn-taking with 2 rep talk-overs per minute on a noisy line (SNR 20/12 dB)",
    "calibration": "`callcue calibrate`'s three steps: silence (first 20 %), the rep alone "
                   "(next 30 %), the customer alone (last 50 %); the truth has the step times",
}

# Expected cues with the engine defaults: talkover = both speaking >= 0.4 s,
# fast = rate 30 % above the rep's own pace (a new dongle has none but the call's
# average, so a rep who is fast all call long is at their own pace: no fast cue;
# tests/dsp/test_scenarios.py shows it with a learned baseline), flat = pitch SD < 1.0 st,
# dead_air = silence >= 5 s.
_CUES = ("talkover", "fast", "flat", "dead_air")
_PRESENT: dict[str, tuple[str, ...]] = {
    "turn-taking": (),
    "rep-interrupts": ("talkover",),
    "customer-interrupts": ("talkover",),
    "backchannels": (),
    "fast-rep": (),
    "slow-rep": (),
    "flat-rep": ("flat",),
    "expressive-rep": (),
    "dead-air": ("dead_air",),
    "noisy-line": ("talkover",),
    "calibration": (),
}

MIN_DURATION_S = 20.0
MAX_DURATION_S = 3600.0
MIN_RATE_HZ = 8000
MAX_RATE_HZ = 96000
# Rendering holds about 72 bytes per output sample at its peak (float64 tracks of both
# talkers, their F0, the noise filters): MAX_SAMPLES (an hour at 16 kHz, 600 s at 96 kHz)
# is about 4 GB. An hour at 8 kHz took 22 s and 2.2 GB of RAM (render, one core).
MAX_SAMPLES = 57_600_000

# The calibration scenario: silence, the rep alone, the customer alone, as shares of the
# call; at the default 60 s, 12/18/30 s. `callcue calibrate --yes` runs its steps back
# to back: the silence step (`seconds` of audio) must end inside the first section, so
# calibrate must start within its length minus `seconds`; the rep and customer steps
# count only their party's speech frames, so each waits for its own section, but gives
# up after six times `seconds` of audio: the customer step, which starts once the rep
# has spoken `seconds`, must reach the customer section by then. At 60 s, --seconds 3-8
# line up (5, the default, with 7 s to start in); the truth says which (_cal_truth).
CAL_SECTIONS = (("silence", 0.2), ("rep", 0.3), ("customer", 0.5))

# Vowel formants in Hz (adult male); female voices scale them by 1.12.
_VOWELS = (
    (730.0, 1090.0, 2440.0),  # a
    (270.0, 2290.0, 3010.0),  # i
    (300.0, 870.0, 2240.0),  # u
    (530.0, 1840.0, 2480.0),  # e
    (570.0, 840.0, 2410.0),  # o
)
_MM = (280.0, 1150.0, 2300.0)  # nasal "mm" of a backchannel
_F4_HZ = 3500.0
_BANDWIDTHS_HZ = (80.0, 100.0, 140.0, 200.0)
_FEMALE_FORMANT_SCALE = 1.12

_F0_MIN_HZ = 65.0
_F0_MAX_HZ = 380.0
_OVERSAMPLE_HZ = 32000  # glottal source grid, decimated to the output rate
_ROSENBERG_OPEN = 0.40  # opening phase, fraction of a period
_ROSENBERG_CLOSE = 0.16  # closing phase, fraction of a period
_ENV_POWER = 1.5  # nucleus envelope = sin(pi x) ** _ENV_POWER
_BACKCHANNEL_DB = -6.0
_GAIN_SD_DB = 1.0  # syllable level spread
_ACCENT_DB = 1.5  # accented syllables are louder
_PEAK_CEILING_DBFS = -3.0  # per talker, before mixing
_NOISE_FLOOR_DBFS = -65.0
_DEAD_AIR_MIN_S = 5.0  # truth reports silences longer than this

# Pink-noise IIR (Paul Kellet's economy filter), about -3 dB/octave.
_PINK_B = (0.049922035, -0.095993537, 0.050612699, -0.004408786)
_PINK_A = (1.0, -2.494956002, 2.017265875, -0.522189400)

REP = "rep"
CUSTOMER = "customer"


def _other(who: str) -> str:
    return CUSTOMER if who == REP else REP


# ---------------------------------------------------------------------------
# Plan: voices, scenario parameters, phrases on a timeline


@dataclass
class Voice:
    median_hz: float
    formant_scale: float
    level_dbfs: float
    sd_target_st: float
    rate_sps: float


@dataclass
class Syllable:
    start: float  # onset of the syllable (s)
    dur: float  # whole syllable, onset included (s)
    onset: float  # unvoiced onset length, 0 for none (s)
    formants: tuple[float, ...]
    gain_db: float
    base: float  # F0 shape value at the nucleus start
    slope: float  # declination, shape units per second
    accent: float  # height of the sin(pi x) accent bump over the nucleus

    def shape(self, t: np.ndarray, nuc0: float, nuc1: float) -> np.ndarray:
        """F0 shape at times t, held constant outside [nuc0, nuc1]."""
        tc = np.clip(t, nuc0, nuc1)
        x = (tc - nuc0) / (nuc1 - nuc0)
        return self.base + self.slope * (tc - nuc0) + self.accent * np.sin(np.pi * x)


@dataclass
class Phrase:
    syllables: list[Syllable]
    backchannel: bool = False

    @property
    def start(self) -> float:
        return self.syllables[0].start

    @property
    def end(self) -> float:
        last = self.syllables[-1]
        return last.start + last.dur


@dataclass
class Scenario:
    rep_rate: float = 4.0
    customer_rate: float = 4.5
    rep_turn: tuple[float, float] = (2.0, 6.0)
    customer_turn: tuple[float, float] = (2.0, 6.0)
    rep_sd: tuple[float, float] = (1.8, 2.3)
    interrupter: str | None = None  # REP or CUSTOMER: talk-over events
    interrupt_spacing: str = "regular"  # "regular" (~15-20 s) or "twice" (2 per minute)
    backchannels: bool = False
    dead_air: bool = False
    noisy: bool = False
    calibration: bool = False  # solo sections (CAL_SECTIONS), not a conversation


def _scenario(name: str) -> Scenario:
    long_rep = {"rep_turn": (5.0, 10.0), "customer_turn": (2.0, 5.0)}
    short_customer = {"rep_turn": (5.0, 10.0), "customer_turn": (1.5, 3.0)}
    table = {
        "turn-taking": Scenario(),
        "rep-interrupts": Scenario(interrupter=REP),
        "customer-interrupts": Scenario(interrupter=CUSTOMER),
        "backchannels": Scenario(rep_turn=(6.0, 10.0), customer_turn=(6.0, 10.0),
                                 backchannels=True),
        "fast-rep": Scenario(rep_rate=6.5, **short_customer),
        "slow-rep": Scenario(rep_rate=2.8, **short_customer),
        "flat-rep": Scenario(rep_sd=(0.38, 0.42), **long_rep),
        "expressive-rep": Scenario(rep_sd=(3.8, 4.2), **long_rep),
        "dead-air": Scenario(dead_air=True),
        "noisy-line": Scenario(interrupter=REP, interrupt_spacing="twice", noisy=True),
        "calibration": Scenario(calibration=True),
    }
    return table[name]


def _voices(rng: np.random.Generator, sc: Scenario) -> dict[str, Voice]:
    """Pick both voices; the seed alone decides F0, formants and levels."""
    medians = []
    for _ in (REP, CUSTOMER):
        female = rng.random() < 0.5
        lo, hi = (185.0, 225.0) if female else (105.0, 135.0)
        medians.append((female, rng.uniform(lo, hi)))
    (rep_f, rep_hz), (cust_f, cust_hz) = medians
    if abs(12.0 * math.log2(cust_hz / rep_hz)) < 1.5:
        cust_hz = rep_hz * 2.0 ** ((1.5 if cust_hz >= rep_hz else -1.5) / 12.0)
    rep_level = rng.uniform(-21.0, -19.0)
    cust_level = rng.uniform(-23.0, -21.0)
    rep_sd = rng.uniform(*sc.rep_sd)
    cust_sd = rng.uniform(1.8, 2.8)
    scale = {True: _FEMALE_FORMANT_SCALE, False: 1.0}
    return {
        REP: Voice(rep_hz, scale[rep_f], rep_level, rep_sd, sc.rep_rate),
        CUSTOMER: Voice(cust_hz, scale[cust_f], cust_level, cust_sd, sc.customer_rate),
    }


@dataclass
class _Event:
    time: float
    kind: str  # "interrupt" or "dead-air"


def _plan_events(sc: Scenario, rng: np.random.Generator, duration: float) -> list[_Event]:
    events: list[_Event] = []
    if sc.interrupter and sc.interrupt_spacing == "regular":
        t = rng.uniform(7.0, 9.0)
        while t < duration - 8.5:
            events.append(_Event(t, "interrupt"))
            t += rng.uniform(15.0, 20.0)
    elif sc.interrupter:
        n = max(1, round(2.0 * duration / 60.0))
        events += [_Event(duration * (k + 0.4) / n, "interrupt") for k in range(n)]
    if sc.dead_air:
        n = max(1, round(2.0 * duration / 60.0))
        chunk = (duration - 1.1 - 10.0 * n) / (n + 1)  # speech between the silences
        events += [_Event(0.8 + (k + 1) * chunk + 10.0 * k, "dead-air") for k in range(n)]
    return events


class _Timeline:
    """Builds the phrases of both talkers for one call."""

    def __init__(self, rng: np.random.Generator, sc: Scenario, voices: dict[str, Voice]):
        self.rng = rng
        self.sc = sc
        self.voices = voices
        self.phrases: dict[str, list[Phrase]] = {REP: [], CUSTOMER: []}

    def durations(self, who: str, n: int) -> np.ndarray:
        """n syllable durations at the talker's rate, +-20 % jitter."""
        return self.rng.uniform(0.8, 1.2, n) / self.voices[who].rate_sps

    def turn_range(self, who: str) -> tuple[float, float]:
        return self.sc.rep_turn if who == REP else self.sc.customer_turn

    def phrase(self, who: str, t0: float, durs: np.ndarray, backchannel: bool = False) -> Phrase:
        """Lay syllables of the given durations from t0 and give them an F0 shape."""
        rng = self.rng
        scale = self.voices[who].formant_scale
        total = float(np.sum(durs))
        if backchannel:
            offset, decl = rng.normal(0.0, 0.4), 0.0
            accents = [0.0, 0.8] if len(durs) == 2 else [0.3]
        else:
            offset, decl = rng.normal(0.0, 0.5), rng.uniform(1.0, 2.5)
            accents = [
                rng.uniform(0.8, 2.0) if rng.random() < 0.35 else rng.normal(0.0, 0.25)
                for _ in durs
            ]
        syllables = []
        t = t0
        for d, accent in zip(durs, accents):
            d = float(d)
            onset = 0.0
            if not backchannel and rng.random() < 0.6:
                onset = min(rng.uniform(0.020, 0.050), 0.3 * d)
            formants = _MM if backchannel else _VOWELS[rng.integers(len(_VOWELS))]
            gain = rng.normal(0.0, _GAIN_SD_DB) + (_ACCENT_DB if accent > 0.5 else 0.0)
            gain += _BACKCHANNEL_DB if backchannel else 0.0
            nuc0 = t + onset - t0
            syllables.append(Syllable(
                start=t, dur=d, onset=onset,
                formants=tuple(f * scale for f in formants), gain_db=gain,
                base=offset + decl * (0.5 - nuc0 / total), slope=-decl / total,
                accent=float(accent),
            ))
            t += d
        p = Phrase(syllables, backchannel)
        self.phrases[who].append(p)
        return p

    def turn(self, who: str, t0: float, length: float, first_min_s: float = 0.0) -> float:
        """Phrases from t0 ending by t0 + length; return the end of the last one.

        The first phrase always has at least 2 syllables and lasts at least first_min_s
        (so an interrupter keeps talking through the whole overlap).
        """
        rng = self.rng
        rate = self.voices[who].rate_sps
        t, end, last_end = t0, t0 + length, t0
        while True:
            first = t == t0
            n = int(rng.integers(3, 13))
            if first:
                n = max(n, math.ceil(first_min_s * rate / 0.8) + 1)
            durs = self.durations(who, n)
            ends = np.cumsum(durs)
            keep = int(np.sum(t + ends <= end))
            if first:
                keep = max(keep, 2, int(np.searchsorted(ends, first_min_s)) + 1)
            elif keep < 2:
                break
            last_end = self.phrase(who, t, durs[:keep]).end
            t = last_end + rng.uniform(0.25, 0.70)
            if t >= end - 0.5:
                break
        return last_end

    def interruption(self, victim: str, t0: float, end: float) -> float:
        """The victim starts a turn, the other talker cuts in mid-phrase, the victim yields
        1-2 s later and the interrupter holds the floor. Needs 7 s; returns the turn's end."""
        rng = self.rng
        boss = _other(victim)
        t = t0
        pre = rng.uniform(0.0, 2.0)
        if pre >= 1.0:
            t = self.turn(victim, t0, pre) + rng.uniform(0.25, 0.70)
        # a long phrase, cut at the syllable boundary nearest to the planned yield
        durs = self.durations(victim, 24)
        cut_in = t + rng.uniform(0.5, 1.0)
        yield_at = cut_in + rng.uniform(1.2, 1.8)
        keep = int(np.argmin(np.abs(t + np.cumsum(durs) - yield_at))) + 1
        overlap = self.phrase(victim, t, durs[:keep]).end - cut_in
        length = min(max(rng.uniform(*self.turn_range(boss)), overlap + 1.0), end - cut_in)
        return self.turn(boss, cut_in, length, first_min_s=overlap + 0.4)

    def backchannels(self, listener: str, t0: float, t1: float) -> None:
        """'mm-hmm' every 2-4 s during the other's turn, always inside one of its phrases."""
        rng = self.rng
        speaker = [p for p in self.phrases[_other(listener)] if p.start >= t0 and p.end <= t1]
        t = t0 + rng.uniform(1.0, 2.0)
        while t < t1 - 0.5:
            n = int(rng.integers(1, 3))
            total = rng.uniform(0.15, 0.30)
            host = next((p for p in speaker if p.end > t + 0.05), None)
            if host is None:
                break
            start = max(t, host.start + 0.1)
            if start + total <= host.end - 0.05:
                self.phrase(listener, start, np.full(n, total / n), backchannel=True)
            t = start + rng.uniform(2.0, 4.0)


def _cal_sections(duration: float) -> list[tuple[str, float, float]]:
    """(step, start s, end s) of the calibration scenario's sections."""
    out, t = [], 0.0
    for step, share in CAL_SECTIONS:
        out.append((step, round(t, 4), round(t + share * duration, 4)))
        t += share * duration
    return out


def _cal_truth(duration: float) -> dict:
    """The calibration scenario's steps, the `calibrate --seconds` the file is made for
    (a twelfth of it: 5 at 60 s; the customer step, starting once the rep has spoken
    that long, about 1.4 times it into the rep's 30 %, reaches its section within six
    times it), and how soon after the file starts calibrate must start with it (the
    silence step, that long, ends inside the first 20 %). See CAL_SECTIONS."""
    steps = _cal_sections(duration)
    seconds = int(duration // 12)
    return {
        "steps": [{"step": step, "start_s": a, "end_s": b} for step, a, b in steps],
        "seconds": seconds,
        "start_within_s": _r(steps[0][2] - seconds),
    }


def _build_timeline(sc: Scenario, voices: dict[str, Voice], rng: np.random.Generator,
                    duration: float) -> dict[str, list[Phrase]]:
    """Alternate turns, realising the planned events (talk-overs, dead air) on the way."""
    tl = _Timeline(rng, sc, voices)
    if sc.calibration:
        for (who, a, b) in _cal_sections(duration)[1:]:
            tl.turn(who, a + rng.uniform(0.2, 0.4), b - a - 0.8)
        return tl.phrases
    events = _plan_events(sc, rng, duration)
    end = duration - 0.3
    t = rng.uniform(0.3, 0.8)
    last_end = t
    who = REP if rng.random() < 0.6 else CUSTOMER
    while end - t >= 1.5:
        ev = events[0] if events else None
        if ev is not None and t >= ev.time - 1.0:
            events.pop(0)
            if ev.kind == "dead-air":
                t = last_end + rng.uniform(8.0, 10.0)
            elif end - t >= 7.0:
                who = _other(sc.interrupter)  # the victim; it also takes the turn after
                last_end = tl.interruption(who, t, end)
                t = last_end + rng.uniform(0.2, 0.9)
            continue
        length = rng.uniform(*tl.turn_range(who))
        if ev is not None:
            length = min(length, ev.time - t)  # the next event starts on time
        last_end = tl.turn(who, t, min(length, end - t))
        if sc.backchannels:
            tl.backchannels(_other(who), t, last_end)
        t = last_end + rng.uniform(0.2, 0.9)
        who = _other(who)
    for phrases in tl.phrases.values():
        phrases.sort(key=lambda p: p.start)
    return tl.phrases


# ---------------------------------------------------------------------------
# Rendering one talker


def _rosenberg(phase: np.ndarray) -> np.ndarray:
    """Rosenberg glottal flow for phase in [0, 1): raised-cosine opening, quarter-cosine close."""
    op, cp = _ROSENBERG_OPEN, _ROSENBERG_CLOSE
    g = np.zeros_like(phase)
    opening = phase < op
    closing = (phase >= op) & (phase < op + cp)
    g[opening] = 0.5 * (1.0 - np.cos(np.pi * phase[opening] / op))
    g[closing] = np.cos(0.5 * np.pi * (phase[closing] - op) / cp)
    return g


def _resonator(x: np.ndarray, freq: float, bw: float, fs: int) -> np.ndarray:
    """Klatt two-pole resonator with unity gain at DC."""
    r = math.exp(-math.pi * bw / fs)
    b1 = 2.0 * r * math.cos(2.0 * math.pi * freq / fs)
    b2 = -r * r
    return signal.lfilter([1.0 - b1 - b2], [1.0, -b1, -b2], x)


def _formant_filter(x: np.ndarray, formants: tuple[float, ...], scale: float,
                    fs: int) -> np.ndarray:
    freqs = list(formants) + [_F4_HZ * scale]
    for freq, bw in zip(freqs, _BANDWIDTHS_HZ):
        if freq < 0.42 * fs:
            x = _resonator(x, freq, bw, fs)
    return x


def _nucleus(rng: np.random.Generator, f0_of_t, i0: int, i1: int, formants: tuple[float, ...],
             scale: float, fs: int, in_band: bool) -> np.ndarray:
    """Voiced nucleus samples i0..i1 at unit RMS, no envelope yet.

    With in_band the RMS is measured in the telephone band, where /i/ and /u/ lose most of
    their first formant; used for the customer so that all vowels are equally loud there.
    """
    k = max(1, math.ceil(_OVERSAMPLE_HZ / fs))
    pre, post = int(0.02 * fs), int(0.005 * fs) + 1
    n = i1 - i0 + pre + post
    t = (i0 - pre) / fs + np.arange(n * k) / (fs * k)
    phase = rng.random() + np.cumsum(f0_of_t(t)) / (fs * k)
    flow = _rosenberg(np.mod(phase, 1.0))
    if k > 1:
        flow = signal.resample_poly(flow, 1, k)
    source = np.diff(flow, prepend=flow[0])  # lip radiation
    y = _formant_filter(source, formants, scale, fs)
    ref = (_telephone_band(y, fs) if in_band else y)[pre : pre + i1 - i0]
    return y[pre : pre + i1 - i0] / max(float(np.sqrt(np.mean(ref * ref))), 1e-12)


def _envelope(n: int) -> np.ndarray:
    """Nucleus envelope: peak 1 at the centre, near 0 at both ends."""
    return np.sin(np.pi * (np.arange(n) + 0.5) / n) ** _ENV_POWER


@functools.lru_cache(maxsize=8)
def _burst_sos(fs: int) -> np.ndarray:
    return signal.butter(2, [1200.0, min(5000.0, 0.45 * fs)], "bandpass", fs=fs, output="sos")


def _burst(rng: np.random.Generator, n: int, fs: int) -> np.ndarray:
    """Unvoiced onset: band-passed white noise under a Hann window, unit RMS before it."""
    y = signal.sosfilt(_burst_sos(fs), rng.standard_normal(n + 64))[64:]
    y /= max(float(np.sqrt(np.mean(y * y))), 1e-12)
    return y * np.hanning(n + 2)[1:-1]


@dataclass
class _Span:
    """One syllable quantised to samples."""

    i0: int  # syllable onset
    i_nuc: int  # nucleus start
    i1: int  # syllable end (exclusive)
    syl: Syllable


def _spans(phrases: list[Phrase], fs: int) -> list[_Span]:
    return [
        _Span(round(s.start * fs), round((s.start + s.onset) * fs), round((s.start + s.dur) * fs),
              s)
        for p in phrases
        for s in p.syllables
    ]


def _f0_scale(spans: list[_Span], voice: Voice, fs: int) -> tuple[float, float]:
    """Scale and offset mapping shape to semitones so the clipped contour hits the SD target."""
    shape = np.concatenate([_span_shape(sp, np.arange(sp.i_nuc, sp.i1) / fs, fs) for sp in spans])
    lo = 12.0 * math.log2(_F0_MIN_HZ / voice.median_hz)
    hi = 12.0 * math.log2(_F0_MAX_HZ / voice.median_hz)
    scale = voice.sd_target_st / max(float(np.std(shape)), 1e-9)
    for _ in range(6):
        offset = float(np.median(scale * shape))
        sd = float(np.std(np.clip(scale * shape - offset, lo, hi)))
        scale *= voice.sd_target_st / sd
    return scale, float(np.median(scale * shape))


def _span_shape(sp: _Span, t: np.ndarray, fs: int) -> np.ndarray:
    return sp.syl.shape(t, sp.i_nuc / fs, sp.i1 / fs)


def _render_talker(rng: np.random.Generator, voice: Voice, phrases: list[Phrase], n: int,
                   fs: int, in_band: bool) -> tuple[np.ndarray, np.ndarray]:
    """Return (speech at an arbitrary scale, f0 per sample with NaN where not voiced)."""
    spans = _spans(phrases, fs)
    scale, offset = _f0_scale(spans, voice, fs)
    speech = np.zeros(n)
    f0 = np.full(n, np.nan)
    for sp in spans:

        def f0_of_t(t, sp=sp):
            st = scale * _span_shape(sp, t, fs) - offset
            return np.clip(voice.median_hz * 2.0 ** (st / 12.0), _F0_MIN_HZ, _F0_MAX_HZ)

        amp = 10.0 ** (sp.syl.gain_db / 20.0)
        nuc = _nucleus(rng, f0_of_t, sp.i_nuc, sp.i1, sp.syl.formants, voice.formant_scale, fs,
                       in_band)
        speech[sp.i_nuc : sp.i1] += amp * nuc * _envelope(sp.i1 - sp.i_nuc)
        f0[sp.i_nuc : sp.i1] = f0_of_t(np.arange(sp.i_nuc, sp.i1) / fs)
        if sp.i_nuc > sp.i0:
            below = 10.0 ** (-rng.uniform(15.0, 20.0) / 20.0)
            speech[sp.i0 : sp.i_nuc] += amp * below * _burst(rng, sp.i_nuc - sp.i0, fs)
    return speech, f0


# ---------------------------------------------------------------------------
# Mixing


@functools.lru_cache(maxsize=8)
def _telephone_sos(fs: int) -> np.ndarray:
    """Butterworth high-pass 300 Hz and low-pass 3400 Hz, order 6 each, as one SOS cascade."""
    hp = signal.butter(6, 300.0, "highpass", fs=fs, output="sos")
    lp = signal.butter(6, 3400.0, "lowpass", fs=fs, output="sos")
    return np.concatenate([hp, lp])


def _telephone_band(x: np.ndarray, fs: int) -> np.ndarray:
    # A fixed 1e-12 full-scale guard noise keeps the filter state out of the subnormal
    # range during silences (40x slower on x86); it is far below half an int16 LSB.
    guard = np.random.default_rng(0).standard_normal(len(x)) * 1e-12
    return signal.sosfilt(_telephone_sos(fs), x + guard)


def _active_mask(phrases: list[Phrase], n: int, fs: int) -> np.ndarray:
    """Samples inside the talker's phrases (backchannels excluded)."""
    mask = np.zeros(n, bool)
    for p in phrases:
        if not p.backchannel:
            mask[round(p.start * fs) : round(p.end * fs)] = True
    return mask


def _set_level(x: np.ndarray, mask: np.ndarray, dbfs: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(x[mask] ** 2))) if mask.any() else 1.0
    return x * (10.0 ** (dbfs / 20.0) / max(rms, 1e-12))


def _talker_track(x: np.ndarray, phrases: list[Phrase], dbfs: float, fs: int) -> np.ndarray:
    """Set the active-speech level; turn down whole syllables whose peak is above the ceiling.

    Scaling a syllable as a whole keeps its waveform, timing and F0; it is rarely needed
    (speech at -20 dBFS has peaks up to about -3 dBFS).
    """
    mask = _active_mask(phrases, len(x), fs)
    ceiling = 10.0 ** (_PEAK_CEILING_DBFS / 20.0)
    spans = _spans(phrases, fs)
    for _ in range(4):
        x = _set_level(x, mask, dbfs)
        hot = False
        for sp in spans:
            peak = float(np.max(np.abs(x[sp.i0 : sp.i1])))
            if peak > ceiling:
                x[sp.i0 : sp.i1] *= ceiling / peak
                hot = True
        if not hot:
            break
    return _set_level(x, mask, dbfs)


def _noise(rng: np.random.Generator, n: int, dbfs: float, pink: bool, fs: int) -> np.ndarray:
    x = rng.standard_normal(n)
    if pink:
        x = _telephone_band(signal.lfilter(_PINK_B, _PINK_A, x), fs)
    return x * (10.0 ** (dbfs / 20.0) / float(np.sqrt(np.mean(x * x))))


@dataclass
class _Mix:
    sidetone_loss_db: float
    echo_loss_db: float
    echo_delay_s: float
    rep_snr_db: float | None = None
    customer_snr_db: float | None = None


def _mix(rng: np.random.Generator, sc: Scenario, voices: dict[str, Voice],
         speech: dict[str, np.ndarray], phrases: dict[str, list[Phrase]], fs: int,
         sidetone_loss_db: float | None, echo_loss_db: float) -> tuple[np.ndarray, _Mix]:
    """Both channels, float, full scale 1.0."""
    drawn_sidetone = round(rng.uniform(12.0, 24.0), 1)
    mix = _Mix(
        sidetone_loss_db=drawn_sidetone if sidetone_loss_db is None else float(sidetone_loss_db),
        echo_loss_db=float(echo_loss_db),
        echo_delay_s=round(rng.uniform(0.0, 0.010) * fs) / fs,
    )
    mic_floor = _NOISE_FLOOR_DBFS + rng.uniform(-2.0, 2.0)
    line_floor = _NOISE_FLOOR_DBFS + rng.uniform(-2.0, 2.0)
    if sc.noisy:
        mix.rep_snr_db, mix.customer_snr_db = 20.0, 12.0
        mic_floor = voices[REP].level_dbfs - mix.rep_snr_db
        line_floor = voices[CUSTOMER].level_dbfs - mix.customer_snr_db
    # each track is dropped (speech.pop, del) once mixed: an hour holds 28.8 M samples
    rep = _talker_track(speech.pop(REP), phrases[REP], voices[REP].level_dbfs, fs)
    customer = _talker_track(_telephone_band(speech.pop(CUSTOMER), fs), phrases[CUSTOMER],
                             voices[CUSTOMER].level_dbfs, fs)
    n = len(rep)
    delay = round(mix.echo_delay_s * fs)
    out = np.empty((n, 2))
    out[:, 0] = rep
    out[delay:, 0] += customer[: n - delay] * 10.0 ** (-mix.echo_loss_db / 20.0)
    out[:, 1] = customer
    del customer
    out[:, 1] += rep * 10.0 ** (-mix.sidetone_loss_db / 20.0)
    del rep
    out[:, 0] += _noise(rng, n, mic_floor, False, fs)
    out[:, 1] += _noise(rng, n, line_floor, True, fs)
    peak = float(np.max(np.abs(out))) if n else 0.0
    if peak > 0.98:  # never seen: _talker_track keeps each talker below -3 dBFS
        out *= 0.98 / peak
    return out, mix


def _to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * 32768.0), -32768, 32767).astype(np.int16)


# ---------------------------------------------------------------------------
# Truth


def _r(x: float) -> float:
    return round(float(x), 4)


def _intervals(phrases: list[Phrase], fs: int) -> list[tuple[int, int, bool]]:
    """(start sample, end sample, is backchannel) of every phrase, sorted."""
    return sorted((round(p.start * fs), round(p.end * fs), p.backchannel) for p in phrases)


def _talker_truth(phrases: list[Phrase], f0: np.ndarray, fs: int) -> dict:
    spans = _spans(phrases, fs)
    ivals = _intervals(phrases, fs)
    speaking = sum(e - s for s, e, _ in ivals) / fs
    voiced = f0[~np.isnan(f0)]
    median = float(np.median(voiced)) if voiced.size else None
    sd = float(np.std(12.0 * np.log2(voiced / median))) if voiced.size else None
    centres = (np.arange(len(f0) * 100 // fs) + 0.5) / 100.0  # 10 ms frames
    idx = np.minimum(np.round(centres * fs).astype(int), len(f0) - 1)
    on = ~np.isnan(f0[idx])
    return {
        "intervals": [[_r(s / fs), _r(e / fs)] for s, e, _ in ivals],
        "syllables": len(spans),
        "speaking_s": _r(speaking),
        "rate_sps": _r(len(spans) / speaking) if speaking > 0 else None,
        "syllable_times": sorted(_r((sp.i_nuc + (sp.i1 - sp.i_nuc - 1) / 2.0) / fs)
                                 for sp in spans),
        "f0_median_hz": None if median is None else _r(median),
        "f0_sd_semitones": None if sd is None else _r(sd),
        "f0_track": [[_r(t), _r(hz)] for t, hz in zip(centres[on], f0[idx][on])],
    }


def _overlaps(rep: list, customer: list, fs: int) -> list[dict]:
    events = []
    for who, mine, theirs in ((REP, rep, customer), (CUSTOMER, customer, rep)):
        for s, e, backchannel in mine:
            for s2, e2, _ in theirs:
                # count each pair once: from the side whose interval starts later
                later = s > s2 or (s == s2 and who == REP)
                if later and min(e, e2) > s:
                    events.append({
                        "start_s": _r(s / fs), "end_s": _r(min(e, e2) / fs),
                        "interrupter": who,
                        "kind": "backchannel" if backchannel else "talkover",
                    })
    return sorted(events, key=lambda ev: ev["start_s"])


def _dead_air(rep: list, customer: list, fs: int) -> list[list[float]]:
    merged: list[list[int]] = []
    for s, e, _ in sorted(rep + customer):
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [
        [_r(a[1] / fs), _r(b[0] / fs)]
        for a, b in zip(merged, merged[1:])
        if (b[0] - a[1]) / fs > _DEAD_AIR_MIN_S
    ]


def _truth(name: str, seed: int, duration: float, fs: int, phrases: dict, f0: dict,
           mix: _Mix) -> dict:
    rep_iv, cust_iv = _intervals(phrases[REP], fs), _intervals(phrases[CUSTOMER], fs)
    present = list(_PRESENT[name])

    def db(x):
        return None if x is None else _r(x)

    extra = {}
    if _scenario(name).calibration:
        extra["calibration"] = _cal_truth(duration)
    return {
        "schema": SCHEMA,
        "scenario": name,
        "seed": int(seed),
        "rate_hz": int(fs),
        "duration_s": _r(duration),
        "mix": {
            "sidetone_loss_db": _r(mix.sidetone_loss_db),
            "echo_loss_db": _r(mix.echo_loss_db),
            "rep_snr_db": db(mix.rep_snr_db),
            "customer_snr_db": db(mix.customer_snr_db),
        },
        REP: _talker_truth(phrases[REP], f0[REP], fs),
        CUSTOMER: _talker_truth(phrases[CUSTOMER], f0[CUSTOMER], fs),
        "overlaps": _overlaps(rep_iv, cust_iv, fs),
        "dead_air": _dead_air(rep_iv, cust_iv, fs),
        "expected_cues": {"present": present, "absent": [c for c in _CUES if c not in present]},
        **extra,
    }


# ---------------------------------------------------------------------------
# Public API


def _check(scenario: str, duration_s: float, rate_hz: int) -> None:
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of: {', '.join(SCENARIOS)}")
    if not MIN_DURATION_S <= duration_s <= MAX_DURATION_S:
        raise ValueError(f"the duration must be {MIN_DURATION_S:g}-{MAX_DURATION_S:g} s, "
                         f"got {duration_s!r}")
    if int(rate_hz) != rate_hz or not MIN_RATE_HZ <= rate_hz <= MAX_RATE_HZ:
        raise ValueError(f"the rate must be an integer {MIN_RATE_HZ}-{MAX_RATE_HZ} Hz, "
                         f"got {rate_hz!r}")
    if duration_s * rate_hz > MAX_SAMPLES:
        raise ValueError(f"{duration_s:g} s at {rate_hz} Hz is more than {MAX_SAMPLES:,} "
                         f"samples (memory): at {rate_hz} Hz at most "
                         f"{MAX_SAMPLES // rate_hz:,} s")


def render(scenario: str, seed: int = 0, duration_s: float = 60.0, rate_hz: int = 8000, *,
           sidetone_loss_db: float | None = None,
           echo_loss_db: float = 30.0) -> tuple[np.ndarray, dict]:
    """Return (pcm, truth): pcm is int16 array shape (n, 2): column 0 = rep headset mic,
    column 1 = customer/earpiece.

    ``sidetone_loss_db`` defaults to a seeded value in 12-24 dB; ``echo_loss_db`` to 30 dB.
    Overriding either leaves every other random choice of the call unchanged.
    Raises ValueError for an unknown scenario, a duration outside 20-3600 s, a rate
    outside 8000-96000 Hz or more than MAX_SAMPLES samples (an hour at 16 kHz).
    """
    _check(scenario, duration_s, rate_hz)
    fs = int(rate_hz)
    duration = float(duration_s)
    sc = _scenario(scenario)
    voice_rng, plan_rng, render_rng, noise_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(4)
    )
    voices = _voices(voice_rng, sc)
    phrases = _build_timeline(sc, voices, plan_rng, duration)
    n = round(duration * fs)
    speech, f0 = {}, {}
    for who in (REP, CUSTOMER):
        speech[who], f0[who] = _render_talker(render_rng, voices[who], phrases[who], n, fs,
                                              in_band=who == CUSTOMER)
    out, mix = _mix(noise_rng, sc, voices, speech, phrases, fs, sidetone_loss_db, echo_loss_db)
    return _to_int16(out), _truth(scenario, seed, duration, fs, phrases, f0, mix)


def write(path, scenario: str, seed: int = 0, duration_s: float = 60.0, rate_hz: int = 8000,
          **mix_overrides) -> pathlib.Path:
    """Write the stereo 16-bit WAV at path and the truth JSON beside it as <stem>.truth.json;
    return the truth path. Unknown scenario -> ValueError listing the valid names."""
    import soundfile  # only needed for writing

    path = pathlib.Path(path)
    pcm, truth = render(scenario, seed, duration_s, rate_hz, **mix_overrides)
    truth_path = path.with_name(path.stem + ".truth.json")
    # Both files under temporary names, then renamed: a path that cannot be written is an
    # OSError (libsndfile opening it itself would say only "System error") and leaves
    # neither file, nor a WAV without its truth.
    tmps = [p.with_name(".%s.tmp" % p.name) for p in (path, truth_path)]
    try:
        with open(tmps[0], "wb") as f:
            soundfile.write(f, pcm, int(rate_hz), subtype="PCM_16", format="WAV")
        tmps[1].write_text(json.dumps(truth) + "\n")
        tmps[0].replace(path)
        tmps[1].replace(truth_path)
    finally:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)
    return truth_path
