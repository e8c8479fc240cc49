"""The fixed-point engine checked against the float reference, stage by stage (`callcue
verify`).

The engine (dsp, the code the dongle runs) and callcue.analysis.reference (numpy/scipy, in
double precision) run on the same int16 input at 8 kHz: the input is quantised first,
as CMSIS-DSP's tests do. Each stage is compared in up to two ways:

- upstream "engine": the reference stage is fed the fixed-point engine's own upstream
  outputs (its band-passed samples, levels, voice activity, F0, syllables, ...), so
  the figure is that stage's error alone (e.g. talk-over logic given identical voice
  activity);
- upstream "reference": the reference chain end to end from the input, so the figure
  is what the approximations add up to by that stage.

Filters are held to an SNR floor and a maximum error in LSB against scipy's sosfilt of
the double-precision design (the engine's coefficients are that design quantised by
design.quantise_sos). A filter's output saturates at int16 on the device when the input
overloads it (full-scale squares, steps, clipping): samples where any section of the
double-precision cascade exceeds int16, and the settling samples after (until the
filter has forgotten the saturation), are counted in `overload` and left out of that
filter's figures and of the level figures. SNRs are taken over frames louder than
SNR_MIN_DBFS, where the rounding noise is far below the signal (none: n/a); levels over
frames above `vad_min_dbfs`; pitch figures need MIN_VOICED frames voiced by both.

Tolerances (TOLERANCES below) were set from measurement, with a margin, each with its
reason and worst measured figure; bench/verify_margins.py measures them again.
`callcue verify` exits 1 (EXIT_OUT_OF_TOLERANCE) when any figure is outside its
tolerance. A call that overloads the band-pass for much of its length compares a
saturating engine with an unbounded reference, and its end-to-end figures may fail.
"""

import math
from array import array
from dataclasses import dataclass

import numpy as np
from scipy import signal

from callcue.analysis import design, reference
from dsp.engine import FRAME, FRAMES_PER_S, RECORD_FIELDS, Engine
from dsp.fixmath import db_q8
from dsp.params import Params

SCHEMA = "callcue.verify/1"
EXIT_OUT_OF_TOLERANCE = 1  # `callcue verify`: some figure outside its tolerance
SNR_MIN_DBFS = -40        # filter SNRs over frames this loud: far above the rounding noise
MIN_VOICED = 20           # frames voiced by both before pitch figures mean anything
SYLLABLE_TOL_FRAMES = 2   # a nucleus counted within 2 frames of the other's is the same
EVENT_TOL_FRAMES = 10     # end to end, talk-over starts within 100 ms are the same event
GROSS_CENTS = 1200 * math.log2(reference.GROSS_RATIO)   # 315.6: more than 20 % off


@dataclass(frozen=True)
class Tolerance:
    op: str        # ">=": the figure must be at least limit; "<=": at most
    limit: float
    unit: str
    reason: str


# check id -> tolerance, with its reason and the worst figure measured (over the ten
# scenarios x seeds 0-5 at 60 s, tests/signals.py's worst cases, full-scale chirps, the
# espeak-ng calls, and speech at -40 dBFS and clipping; bench/verify_margins.py).
# "_engine": the stage fed the engine's own upstream outputs; plain: end to end.
TOLERANCES = {
    "bandpass.snr": Tolerance(">=", 55.0, "dB",
        "Q13 biquad vs double over frames above -40 dBFS: coefficients 0.0007 dB off the "
        "design and ~0.45 LSB rms of rounding through the recursion; worst 59.9 dB "
        "(speech at -40 dBFS), 70-82 dB at speech level and on full-scale chirps"),
    "bandpass.max_err": Tolerance("<=", 5.0, "LSB",
        "rounding through the recursion (1.7 LSB against the quantised coefficients in "
        "double) plus the coefficient gain error at full scale (2.7 LSB); worst 3.9 LSB "
        "(0.99 full-scale chirp, espeak calls)"),
    "lowpass.snr": Tolerance(">=", 45.0, "dB",
        "two cascaded Q13 sections each rounding to int16 (~1.2 LSB rms) and Q13 "
        "numerators of 346 (0.15 % steps: gain 0.004-0.008 dB off below 600 Hz); worst "
        "50.7 dB (a Nyquist-rate transient; speech at -40 dBFS 51 dB), 59-65 dB on speech"),
    "lowpass.max_err": Tolerance("<=", 32.0, "LSB",
        "the 0.008 dB gain error is 26 LSB at full scale plus ~5 LSB of rounding; worst "
        "25.8 LSB (0.99 full-scale chirp). Harmless: the pitch search normalises its block"),
    "level.max_err_engine": Tolerance("<=", 0.25, "dB",
        "frames above vad_min_dbfs, from the engine's own band-passed samples: "
        "kernels.energy truncates each (x*x) >> 8, about -40 per frame, -0.17 dB at "
        "-55 dBFS and less above; log2 table 0.002 dB; worst 0.17 dB"),
    "level.max_err": Tolerance("<=", 0.25, "dB",
        "frames above vad_min_dbfs: the energy truncation (-0.17 dB at -55 dBFS) plus the "
        "band-pass error (< 5 LSB); worst 0.19 dB"),
    "crosstalk.agree": Tolerance(">=", 100.0, "%",
        "the engine's levels in, the same comparisons: any difference is a logic bug"),
    "vad.agree_engine": Tolerance(">=", 99.9, "%",
        "the engine's levels and gate in; its Q16 noise floor differs from the float one "
        "by < 0.01 dB, which can flip a frame that close to its threshold; worst 99.98 %"),
    "vad.agree": Tolerance(">=", 99.0, "%",
        "levels differ by up to 0.2 dB near -55 dBFS, moving an onset or offset that sits "
        "on a threshold by a frame; worst 99.97 %"),
    "talkover.agree_engine": Tolerance(">=", 100.0, "%",
        "the engine's activity in: events (start, end, interrupter) and the frames a "
        "talk-over is confirmed on must be identical; the figure is the lower of the two"),
    "talkover.agree": Tolerance(">=", 100.0, "%",
        "events matched by interrupter and start within 100 ms: activity agrees to a "
        "frame, far from the talk-over minimum (talkover_min_ms, 300 ms); every "
        "measured event matched"),
    "dead_air.agree_engine": Tolerance(">=", 100.0, "%",
        "the engine's activity in, the same counting: any difference is a logic bug"),
    "dead_air.agree": Tolerance(">=", 99.0, "%",
        "follows voice activity: a silence edge a frame off moves its end by a frame; "
        "worst 100 %"),
    "pitch.median_err_engine": Tolerance("<=", 2.0, "cents",
        "the engine's low-passed samples and activity in: log2 table (< 0.6 cent), the "
        "parabola's 1/256-sample step (< 0.7 cent at 400 Hz), Q10 ratios; worst 0.61"),
    "pitch.gross_engine": Tolerance("<=", 1.0, "%",
        "frames > 20 % apart, of those both voiced: a Q10 ratio at the YIN threshold or "
        "two near-equal minima can pick another lag (an octave); worst 0.13 %"),
    "pitch.voicing_engine": Tolerance(">=", 99.0, "%",
        "frames both call voiced or both unvoiced: Q10 ratios at the voicing threshold; "
        "worst 99.93 %"),
    "pitch.median_err": Tolerance("<=", 2.0, "cents",
        "end to end: the YIN arithmetic (< 1.3 cents) on slightly different low-passed "
        "samples; worst 0.65 cent"),
    "pitch.gross": Tolerance("<=", 1.5, "%",
        "end to end, frames > 20 % apart of those both voiced: YIN lag choices at the "
        "threshold, on slightly different samples; worst 0.13 %"),
    "pitch.voicing": Tolerance(">=", 98.5, "%",
        "end to end: voicing at the threshold and activity edges a frame apart; worst "
        "99.33 % (bursts of full-scale steps)"),
    "syllables.agree_engine": Tolerance(">=", 98.0, "%",
        "the engine's envelope, low-band energies and activity in, the reference's own "
        "voicing: a periodicity at the 0.7 level (Q10 in the engine) voices a borderline "
        "nucleus on one side only; Q8 envelope plateaus, its 0.1016 vs 0.1 dB/frame "
        "reference decay and the >> 7 of the low-band share; worst 98.18 % (one nucleus "
        "of 55)"),
    "syllables.agree": Tolerance(">=", 95.0, "%",
        "end to end the envelope differs by the level error (< 0.25 dB; the high-pass "
        "rounds like the band-pass), which moves a peak within that of the dip or peak "
        "criterion; worst 100 %"),
    "rate.max_err_engine": Tolerance("<=", 0.15, "syl/s",
        "the engine's syllables and talk frames in: the engine floors syllables/s x 100 "
        "(< 0.01); worst 0.01"),
    "rate.max_err": Tolerance("<=", 0.4, "syl/s",
        "end to end, seconds both define: the engine credits a gap bridged by the "
        "hangover only inside the current second (up to vad_hangover_ms lost per second "
        "boundary, 20 of them in the 20 s window), and a syllable voiced on one side "
        "only (see syllables.agree_engine) is 0.05-0.3 syl/s while the window holds "
        "3-20 s of talk; worst 0.33"),
    "spread.max_err_engine": Tolerance("<=", 15.0, "cents",
        "the engine's F0 in: its median and quartiles come from 16-cent histogram bins "
        "(the clip limit moves with them), then >> 4 on the squares and isqrt's floor; "
        "worst 8.9 cents on real voices"),
    "spread.max_err": Tolerance("<=", 50.0, "cents",
        "end to end: a frame voiced by one side only, or an octave apart, moves the SD by "
        "up to 1200**2 / (2 SD N) cents; with N near pitch_min_voiced_ms (200 frames) "
        "two such frames make ~30 cents; worst 31 cents; flat/expressive are 100/150"),
    "cues.agree_engine": Tolerance(">=", 100.0, "%",
        "the engine's talk-over, dead air and rolling values in: pure logic"),
    "cues.agree": Tolerance(">=", 98.0, "%",
        "the policy on the reference's talk-over and dead air and its rolling values, "
        "those within their tolerance of the engine's taken as the engine's (else a rate "
        "of 5.5046 vs the engine's floored 5.50 lights `fast` in one only); an edge a "
        "frame off moves a cue by a frame; worst 100 %"),
}


@dataclass
class Check:
    """One figure: `id` keys TOLERANCES; `upstream` says what the reference stage was fed
    ("input": the same int16 input; "engine": the engine's upstream outputs;
    "reference": its own chain); value None means not applicable."""

    id: str
    stage: str
    what: str
    upstream: str
    value: float | None
    detail: str = ""

    @property
    def tolerance(self):
        return TOLERANCES[self.id]

    @property
    def ok(self):
        t = self.tolerance
        if self.value is None:
            return True
        return self.value >= t.limit if t.op == ">=" else self.value <= t.limit

    def as_dict(self):
        t = self.tolerance
        value, detail = self.value, self.detail
        if value is not None and not math.isfinite(value):   # an exact match: SNR inf
            value, detail = None, "exact" + (", " + detail if detail else "")
        return {"id": self.id, "stage": self.stage, "check": self.what,
                "upstream": self.upstream,
                "value": None if value is None else round(float(value), 4),
                "unit": t.unit, "op": t.op, "limit": t.limit, "ok": self.ok,
                "detail": detail, "reason": t.reason}


@dataclass
class Result:
    fixed: reference.Trace
    ref: reference.Trace
    checks: list
    overload: dict     # filter -> samples saturated or settling, left out of its figures

    @property
    def ok(self):
        return all(c.ok for c in self.checks)


def fixed_trace(rep, cust, params=None):
    """Run the fixed-point engine frame by frame and keep every stage's output as a
    reference.Trace (levels in dB, floors in dB, rates in syllables/s, NaN undefined).

    Besides the engine's per-frame outputs it reads a few stage states after each
    process(): the band-passed frames (eng.x), the pitch low-pass output (pitch.lp), the
    noise floors (vad_*.floor_q16), the crosstalk gate (xtalk.*_ok), the active-run
    starts and talk-time credits (vad_*.start, vad_*.credit), the talk-over and dead-air
    flags (talkover.confirmed, dead.active) and the rep's frame energies: band-passed,
    high-passed for the syllable envelope and of the pitch low-pass (e_prev, eh_prev,
    el_prev).
    """
    p = params if params is not None else Params()
    rep = np.asarray(rep, dtype=np.int16)
    cust = np.asarray(cust, dtype=np.int16)
    n = max(rep.size, cust.size)
    a = np.zeros(n, np.int16)
    b = np.zeros(n, np.int16)
    a[: rep.size] = rep
    b[: cust.size] = cust
    nf = n // FRAME

    eng = Engine(p)
    rep_buf = array("h", bytes(2 * FRAME))
    cust_buf = array("h", bytes(2 * FRAME))
    rep_view = np.frombuffer(rep_buf, dtype=np.int16)
    cust_view = np.frombuffer(cust_buf, dtype=np.int16)
    x0 = np.frombuffer(eng.x[0], dtype=np.int16)
    x1 = np.frombuffer(eng.x[1], dtype=np.int16)
    lp = np.frombuffer(eng.pitch.lp, dtype=np.int16)

    t = reference.Trace()
    t.x_rep = np.zeros(nf * FRAME, np.int16)
    t.x_cust = np.zeros(nf * FRAME, np.int16)
    t.lp_rep = np.zeros(nf * FRAME, np.int16)
    cols = ("energy_rep", "level_rep", "level_cust", "floor_rep", "floor_cust", "rep_ok",
            "cust_ok", "rep_active", "cust_active", "rep_speech", "cust_speech", "rep_start",
            "cust_start", "rep_talk", "cust_talk", "talkover", "dead_air", "f0_cents",
            "raw_cents", "syllable", "cue", "energy_hp", "energy_low")
    per = np.zeros((len(cols), nf), np.int64)
    vr, vc = eng.vad_rep, eng.vad_cust
    seconds = []
    for i in range(nf):
        s = slice(i * FRAME, (i + 1) * FRAME)
        rep_view[:] = a[s]
        cust_view[:] = b[s]
        if eng.process(rep_buf, cust_buf):
            seconds.append(tuple(eng.record))
        t.x_rep[s] = x0
        t.x_cust[s] = x1
        t.lp_rep[s] = lp
        into = i % FRAMES_PER_S
        per[:, i] = (
            eng.e_prev, eng.level_rep, eng.level_cust, vr.floor_q16, vc.floor_q16,
            eng.xtalk.rep_ok, eng.xtalk.cust_ok, eng.rep_active, eng.cust_active,
            eng.rep_speech, eng.cust_speech, vr.start, vc.start,
            vr.speech + min(vr.credit, into), vc.speech + min(vc.credit, into),
            eng.talkover.confirmed, eng.dead.active, eng.f0_cents, eng.pitch.raw_cents,
            eng.syllable, eng.cue,
            eng.eh_prev, eng.el_prev,
        )
        if eng.event_ready:
            t.events.append((eng.event_start, eng.event_end, eng.event_interrupter))
    eng.flush()
    if eng.event_ready:
        t.events.append((eng.event_start, eng.event_end, eng.event_interrupter))

    v = dict(zip(cols, per, strict=True))
    t.energy_rep = v["energy_rep"]
    xc = t.x_cust.astype(np.int64).reshape(-1, FRAME)
    t.energy_cust = ((xc * xc) >> 8).sum(axis=1)       # kernels.energy, exactly
    t.level_rep = v["level_rep"] / 256.0
    t.level_cust = v["level_cust"] / 256.0
    t.floor_rep = v["floor_rep"] / 65536.0
    t.floor_cust = v["floor_cust"] / 65536.0
    for name in ("rep_ok", "cust_ok", "rep_active", "cust_active", "rep_speech",
                 "cust_speech", "talkover", "dead_air"):
        setattr(t, name, v[name].astype(bool))
    for name in ("rep_start", "cust_start", "rep_talk", "cust_talk", "syllable", "cue"):
        setattr(t, name, v[name])
    t.f0_cents = v["f0_cents"].astype(np.float64)
    t.raw_cents = v["raw_cents"].astype(np.float64)
    t.energy_hp = v["energy_hp"]
    t.energy_low = v["energy_low"]
    e = t.energy_hp
    env = [db_q8(int(e[i] + (e[i - 1] if i else 0))) for i in range(nf)]
    t.envelope = np.asarray(env, np.float64) / 256.0
    rec = np.asarray(seconds, np.float64).reshape(-1, len(RECORD_FIELDS))
    rate, mean, sd = (rec[:, RECORD_FIELDS.index(f)]
                      for f in ("rate_csps", "pitch_cents", "pitch_sd_cents"))
    t.rate_sps = np.where(rate >= 0, rate / 100.0, np.nan)
    t.pitch_cents = np.where(mean >= 0, mean, np.nan)
    t.sd_cents = np.where(sd >= 0, sd, np.nan)
    return t


# ------------------------------------------------------------------------- comparisons


def _settle(sos):
    """Samples after which the filter has forgotten a full-scale disturbance: the tail of
    its impulse response sums to less than half an LSB of a 2**16 step."""
    imp = np.zeros(2048)
    imp[0] = 1.0
    tail = np.cumsum(np.abs(signal.sosfilt(sos, imp))[::-1])[::-1]
    return int(np.argmax(tail * 65536 < 0.5))


def overload_mask(sos, x):
    """Samples where the output of any section of the double-precision cascade `sos` on x
    exceeds int16 (the engine saturates there), and the settling samples after."""
    y = np.asarray(x, np.float64)
    over = np.zeros(len(y), bool)
    for sec in np.atleast_2d(sos):
        y = signal.sosfilt(sec[None, :], y)
        over |= np.abs(y) > 32767
    if not over.any():
        return over
    return np.convolve(over.astype(float), np.ones(_settle(sos) + 1))[: len(over)] > 0


def filter_figures(ref, got, skip, min_level_db):
    """(SNR dB over signal frames, max |error| LSB) of `got` against `ref` on the samples
    not in `skip`; None where there is nothing to measure."""
    ref = np.asarray(ref, np.float64)
    err = np.asarray(got, np.float64) - ref
    keep = ~skip
    max_err = float(np.max(np.abs(err[keep]))) if keep.any() else None
    frames = keep.reshape(-1, FRAME).all(axis=1)
    frames &= reference.level_db(reference.frame_energy(ref)) > min_level_db
    if not frames.any():
        return None, max_err
    r = ref.reshape(-1, FRAME)[frames]
    e = err.reshape(-1, FRAME)[frames]
    noise = float(np.sum(e * e))
    snr = 10 * math.log10(float(np.sum(r * r)) / noise) if noise > 0 else math.inf
    return snr, max_err


def agree_pct(a, b):
    """Per cent of positions where a and b are equal (100 for empty)."""
    a = np.asarray(a)
    return 100.0 * float(np.mean(a == np.asarray(b))) if a.size else 100.0


def _f1(matched, n_a, n_b):
    return 100.0 if n_a + n_b == 0 else 200.0 * matched / (n_a + n_b)


def match_frames(a, b, tol):
    """Agreement % (F1) of two sets of frame indices, one-to-one within tol frames."""
    a = sorted(int(x) for x in a)
    b = sorted(int(x) for x in b)
    used = [False] * len(b)
    matched = 0
    j = 0
    for x in a:
        while j < len(b) and b[j] < x - tol:
            j += 1
        k = j
        while k < len(b) and b[k] <= x + tol:
            if not used[k]:
                used[k] = True
                matched += 1
                break
            k += 1
    return _f1(matched, len(a), len(b))


def match_events(a, b, tol):
    """Agreement % (F1) of talk-over events: same interrupter, start within tol frames,
    and with tol 0 the same end too."""
    left = list(b)
    matched = 0
    for s, e, who in a:
        for k, (s2, e2, who2) in enumerate(left):
            if who == who2 and abs(s - s2) <= tol and (tol or e == e2):
                matched += 1
                del left[k]
                break
    return _f1(matched, len(a), len(b))


def pitch_figures(f0_fixed, f0_ref):
    """(median |error| cents, gross %, voicing agreement %) on frames both call voiced."""
    fx = np.asarray(f0_fixed, np.float64)
    fr = np.asarray(f0_ref, np.float64)
    both = (fx > 0) & (fr > 0)
    voicing = agree_pct(fx > 0, fr > 0)
    if both.sum() < MIN_VOICED:
        return None, None, voicing, int(both.sum())
    err = np.abs(fx[both] - fr[both])
    return (float(np.median(err)), 100.0 * float(np.mean(err > GROSS_CENTS)), voicing,
            int(both.sum()))


def rolling_error(fixed, ref):
    """(max |difference| over seconds both define, seconds defined by only one)."""
    fixed = np.asarray(fixed, np.float64)
    ref = np.asarray(ref, np.float64)
    n = min(len(fixed), len(ref))
    fixed, ref = fixed[:n], ref[:n]
    both = ~np.isnan(fixed) & ~np.isnan(ref)
    one = int(np.sum(np.isnan(fixed) != np.isnan(ref)))
    if not both.any():
        return None, one
    return float(np.max(np.abs(fixed[both] - ref[both]))), one


def _accepted(ref, fixed, tol):
    """ref with each value replaced by the engine's where both are defined and agree
    within tol."""
    n = min(len(ref), len(fixed))
    ref = np.asarray(ref[:n], np.float64)
    fixed = np.asarray(fixed[:n], np.float64)
    take = ~np.isnan(ref) & ~np.isnan(fixed) & (np.abs(ref - fixed) <= tol)
    return np.where(take, fixed, ref)


def compare(fx, ref, rep, cust, p):
    """Every check of the fixed-point trace `fx` against the reference trace `ref` of the
    int16 input rep, cust; returns (checks, saturated-or-settling samples per filter)."""
    checks = []

    def add(cid, what, upstream, value, detail=""):
        stage = cid.split(".")[0]
        checks.append(Check(cid, stage, what, upstream, value, detail))

    min_db = reference.FS_DB + p.vad_min_dbfs
    snr_db = reference.FS_DB + SNR_MIN_DBFS
    # band-pass, per channel on the same input; the worse channel is the figure
    bp = design.bandpass_sos()
    skip = {"rep": overload_mask(bp, reference.whole_frames(rep)),
            "customer": overload_mask(bp, reference.whole_frames(cust))}
    figs = {who: filter_figures(r, g, skip[who], snr_db)
            for who, r, g in (("rep", ref.x_rep, fx.x_rep), ("customer", ref.x_cust, fx.x_cust))}
    snrs = [f[0] for f in figs.values() if f[0] is not None]
    maxes = [f[1] for f in figs.values() if f[1] is not None]
    detail = ", ".join("%s %s" % (who, "-" if f[0] is None else "%.1f" % f[0])
                       for who, f in figs.items())
    add("bandpass.snr", "output SNR", "input", min(snrs) if snrs else None, detail)
    detail = ", ".join("%s %s" % (who, "-" if f[1] is None else "%.2f" % f[1])
                       for who, f in figs.items())
    add("bandpass.max_err", "max output error", "input", max(maxes) if maxes else None, detail)

    # pitch low-pass, fed the engine's band-passed rep (it is never overloaded: int16 in)
    lp_ref = reference.lowpass(fx.x_rep)
    lp_skip = overload_mask(design.lowpass_sos(), fx.x_rep)
    lp_snr, lp_max = filter_figures(lp_ref, fx.lp_rep, lp_skip, snr_db)
    add("lowpass.snr", "pitch low-pass SNR", "engine", lp_snr)
    add("lowpass.max_err", "pitch low-pass max error", "engine", lp_max)

    # level: frames above vad_min_dbfs and clear of overload
    def level_err(ref_level, fixed_level, over):
        frames = ~over.reshape(-1, FRAME).any(axis=1) & (ref_level > min_db)
        if not frames.any():
            return None
        return float(np.max(np.abs(ref_level[frames] - fixed_level[frames])))

    def worst(*vals):
        vals = [v for v in vals if v is not None]
        return max(vals) if vals else None

    none = np.zeros(len(fx.x_rep), bool)
    iso = worst(
        level_err(reference.level_db(reference.frame_energy(fx.x_rep)), fx.level_rep, none),
        level_err(reference.level_db(reference.frame_energy(fx.x_cust)), fx.level_cust, none))
    add("level.max_err_engine", "frame level error (> vad_min_dbfs)", "engine", iso)
    e2e = worst(level_err(ref.level_rep, fx.level_rep, skip["rep"]),
                level_err(ref.level_cust, fx.level_cust, skip["customer"]))
    add("level.max_err", "frame level error (> vad_min_dbfs)", "reference", e2e)

    # crosstalk gate and voice activity, given the engine's levels
    rep_ok, cust_ok = reference.crosstalk(fx.level_rep, fx.level_cust, p)
    add("crosstalk.agree", "gate agreement", "engine",
        min(agree_pct(rep_ok, fx.rep_ok), agree_pct(cust_ok, fx.cust_ok)))
    act_r = reference.vad(fx.level_rep, reference.noise_floor(fx.level_rep, p), fx.rep_ok, p)
    act_c = reference.vad(fx.level_cust, reference.noise_floor(fx.level_cust, p), fx.cust_ok,
                          p)
    add("vad.agree_engine", "activity agreement", "engine",
        min(agree_pct(act_r.active, fx.rep_active), agree_pct(act_c.active, fx.cust_active)))
    a_rep = agree_pct(ref.rep_active, fx.rep_active)
    a_cust = agree_pct(ref.cust_active, fx.cust_active)
    add("vad.agree", "activity agreement", "reference", min(a_rep, a_cust),
        "rep %.2f, customer %.2f" % (a_rep, a_cust))

    # talk-over and dead air, given the engine's activity
    confirmed, ev = reference.talkover(fx.rep_active, fx.cust_active, fx.rep_start,
                                       fx.cust_start, fx.rep_speech, fx.cust_speech, p)
    events = match_events(ev, fx.events, 0)
    frames = agree_pct(confirmed, fx.talkover)
    add("talkover.agree_engine", "event and confirmed-frame agreement", "engine",
        min(events, frames),
        "%d vs %d events, frames %.2f %%" % (len(fx.events), len(ev), frames))
    add("talkover.agree", "event agreement", "reference",
        match_events(ref.events, fx.events, EVENT_TOL_FRAMES),
        "%d vs %d events" % (len(fx.events), len(ref.events)))
    dead = reference.dead_air(fx.rep_active | fx.cust_active, p)
    add("dead_air.agree_engine", "frame agreement", "engine", agree_pct(dead, fx.dead_air))
    add("dead_air.agree", "frame agreement", "reference", agree_pct(ref.dead_air, fx.dead_air))

    # pitch, given the engine's low-passed samples and activity
    f0_iso, _ = reference.pitch(fx.lp_rep, fx.rep_active, p)
    for suffix, upstream, f0 in (("_engine", "engine", f0_iso),
                                 ("", "reference", ref.f0_cents)):
        med, gross, voicing, n = pitch_figures(fx.f0_cents, f0)
        add("pitch.median_err" + suffix, "median |F0 error|, both voiced", upstream, med,
            "%d frames" % n)
        add("pitch.gross" + suffix, "gross F0 errors (> 20 % off)", upstream, gross)
        add("pitch.voicing" + suffix, "voicing agreement", upstream, voicing)

    # syllables, given the engine's envelope, low-band energies, F0 and activity
    syl_iso, _ = reference.syllables(
        fx.envelope, fx.raw_cents, fx.rep_active, p,
        reference.syllable_low(fx.energy_low, fx.energy_rep, p))
    got = np.flatnonzero(fx.syllable)
    for suffix, upstream, syl in (("_engine", "engine", syl_iso), ("", "reference",
                                                                   ref.syllable)):
        add("syllables.agree" + suffix, "nucleus agreement (+-2 frames)", upstream,
            match_frames(got, np.flatnonzero(syl), SYLLABLE_TOL_FRAMES),
            "%d vs %d" % (len(got), int(np.sum(syl))))

    # rolling rate and pitch SD, given the engine's syllables, talk time and F0
    rate_iso = reference.rolling_rate(fx.syllable, fx.rep_talk, p)
    sd_iso, _ = reference.pitch_spread(fx.f0_cents, p)
    for stage, fixed, iso, e2e in (("rate", fx.rate_sps, rate_iso, ref.rate_sps),
                                   ("spread", fx.sd_cents, sd_iso, ref.sd_cents)):
        what = "rolling rate error" if stage == "rate" else "rolling pitch SD error"
        for suffix, upstream, other in (("_engine", "engine", iso), ("", "reference", e2e)):
            err, one = rolling_error(fixed, other)
            add(stage + ".max_err" + suffix, what, upstream, err,
                "%d s defined by one only" % one if one else "")

    # cue policy, given the engine's conditions
    base_fx = reference.fast_baseline(fx.syllable, fx.rep_talk, p)
    cue_iso = reference.cue_policy(fx.talkover, fx.dead_air, fx.rate_sps, fx.sd_cents, p,
                                   base_fx)
    add("cues.agree_engine", "cue agreement (frames)", "engine", agree_pct(cue_iso, fx.cue))
    # end to end, a rolling value within its tolerance of the engine's counts as the
    # engine's: a difference already accepted must not flip a cue at a threshold
    rate_in = _accepted(ref.rate_sps, fx.rate_sps, TOLERANCES["rate.max_err"].limit)
    sd_in = _accepted(ref.sd_cents, fx.sd_cents, TOLERANCES["spread.max_err"].limit)
    cue_e2e = reference.cue_policy(ref.talkover, ref.dead_air, rate_in, sd_in, p,
                                   reference.fast_baseline(ref.syllable, ref.rep_talk, p))
    raw = agree_pct(ref.cue, fx.cue)
    agree = agree_pct(cue_e2e, fx.cue)
    add("cues.agree", "cue agreement (frames)", "reference", agree,
        "%.2f %% with the float rolling values as they are" % raw if raw != agree else "")
    overload = {who: int(m.sum()) for who, m in skip.items()}
    overload["pitch low-pass"] = int(lp_skip.sum())
    return checks, overload


def verify_pcm(rep, cust, params=None):
    """Run the engine and the reference on int16 rep/customer arrays at 8 kHz; compare."""
    p = params if params is not None else Params()
    fx = fixed_trace(rep, cust, p)
    ref = reference.run(rep, cust, p)
    checks, overload = compare(fx, ref, rep, cust, p)
    return Result(fx, ref, checks, overload)


# ---------------------------------------------------------------------------- output


def _fmt(value, unit):
    if value is None:
        return "n/a"
    if unit == "%":
        return "%.2f %%" % value
    if unit == "LSB":
        return "%.2f LSB" % value
    if unit == "syl/s":
        return "%.3f syl/s" % value
    if math.isinf(value):
        return "inf " + unit
    return "%.2f %s" % (value, unit)


def table(result, name, seconds):
    """The human report: one line per check, and a verdict line."""
    rows = []
    for c in result.checks:
        t = c.tolerance
        status = "n/a" if c.value is None else ("ok" if c.ok else "FAIL")
        rows.append((c.stage, c.what, c.upstream, _fmt(c.value, t.unit),
                     "%s %s" % (t.op, _fmt(t.limit, t.unit)), status, c.detail))
    heads = ("stage", "check", "upstream", "fixed vs float", "tolerance", "result", "detail")
    widths = [max(len(r[i]) for r in rows + [heads]) for i in range(6)]
    over = ", ".join("%s %d" % kv for kv in result.overload.items())
    lines = [
        "%s: %.2f s, %d frames at 8000 Hz; fixed-point engine vs float reference"
        % (name, seconds, result.fixed.frames),
        "overload (samples where a filter saturates, and its settling, left out of its "
        "figures): " + over,
        "  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=False)).rstrip(),
    ]
    for r in rows:
        line = "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=False))
        lines.append((line + ("  " + r[6] if r[6] else "")).rstrip())
    lines.append("upstream: input = the same int16 input; engine = the reference stage fed "
                 "the engine's own upstream outputs (that stage alone); reference = the "
                 "float chain end to end")
    failed = [c for c in result.checks if not c.ok]
    lines.append("verify: %d checks, %s" % (
        len(result.checks),
        "all within tolerance" if not failed else
        "%d outside tolerance: %s" % (len(failed), ", ".join(c.id for c in failed))))
    return lines


def as_dict(result, name, seconds):
    """The same as data (schema callcue.verify/1)."""
    return {"schema": SCHEMA, "file": name, "duration_s": round(seconds, 6),
            "frames": result.fixed.frames, "ok": result.ok, "overload": result.overload,
            "checks": [c.as_dict() for c in result.checks]}


# ------------------------------------------------------------------------------ plot

_CUE_COLOURS = {1: "tab:red", 2: "tab:orange", 3: "tab:purple", 4: "tab:gray"}


def _runs(flags):
    """(start s, length s) of each run of true frames."""
    f = np.concatenate([[0], np.asarray(flags, bool).astype(np.int8), [0]])
    edges = np.diff(f)
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return [(s / FRAMES_PER_S, (e - s) / FRAMES_PER_S) for s, e in zip(starts, ends,
                                                                       strict=True)]


def plot(result, rep, cust, path, title=""):
    """Draw waveform, voice activity, pitch track and cues, fixed vs float, to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.patches import Patch

    from dsp.cues import CUE_NAMES
    from dsp.pitch import CENTS_REF_HZ

    fx, ref = result.fixed, result.ref
    n = fx.frames
    t = (np.arange(n) + 0.5) / FRAMES_PER_S
    fig, axes = plt.subplots(4, 1, figsize=(14, 9), sharex=True,
                             gridspec_kw={"height_ratios": (2.2, 1.3, 2.2, 1.0)})
    ax = axes[0]
    for x, colour, off in ((rep, "tab:blue", 1.0), (cust, "tab:green", -1.0)):
        fr = reference.whole_frames(x)[: n * FRAME].reshape(n, FRAME) / 32768.0
        ax.fill_between(t, off + fr.min(axis=1), off + fr.max(axis=1), color=colour, lw=0)
    ax.set_yticks((1, -1), ("rep", "customer"))
    ax.set_ylim(-2.05, 2.05)
    ax.set_title("input waveform (per-frame min/max, full scale = +-1)", loc="left",
                 fontsize=9)

    ax = axes[1]
    lanes = (("rep fixed", fx.rep_active, "tab:blue"), ("rep float", ref.rep_active,
                                                         "tab:cyan"),
             ("cust fixed", fx.cust_active, "tab:green"), ("cust float", ref.cust_active,
                                                           "yellowgreen"))
    for y, (_, flags, colour) in enumerate(lanes):
        ax.broken_barh(_runs(flags), (3 - y - 0.4, 0.8), color=colour)
    for s, e, _ in fx.events:
        ax.axvspan(s / FRAMES_PER_S, e / FRAMES_PER_S, color="tab:red", alpha=0.15, lw=0)
    ax.set_yticks(range(3, -1, -1), [lane[0] for lane in lanes])
    ax.set_ylim(-0.6, 3.6)
    ax.set_title("voice activity (red band: the engine's talk-over events)", loc="left",
                 fontsize=9)

    ax = axes[2]
    for f0, name, style in ((ref.f0_cents, "float", dict(s=10, color="tab:orange")),
                            (fx.f0_cents, "fixed", dict(s=3, color="k"))):
        v = f0 > 0
        ax.scatter(t[v], CENTS_REF_HZ * 2 ** (f0[v] / 1200.0), label=name, lw=0, **style)
    ax.set_yscale("log")
    ax.set_ylim(55, 450)
    ax.set_yticks((60, 100, 150, 200, 300, 400), ("60", "100", "150", "200", "300", "400"))
    ax.minorticks_off()
    ax.set_ylabel("Hz")
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=8, markerscale=2,
              ncol=2, frameon=False)
    ax.set_title("rep pitch track (F0 per frame; the path decides ~12 frames after the audio)",
                 loc="left", fontsize=9)

    ax = axes[3]
    for y, cue in enumerate((fx.cue, ref.cue)):
        for c, colour in _CUE_COLOURS.items():
            ax.broken_barh(_runs(cue == c), (1 - y - 0.4, 0.8), color=colour)
    ax.set_yticks((1, 0), ("fixed", "float"))
    ax.set_ylim(-0.6, 1.6)
    ax.legend(handles=[Patch(color=c, label=CUE_NAMES[k]) for k, c in _CUE_COLOURS.items()],
              loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=8, ncol=4,
              frameon=False)
    ax.set_title("cue shown", loc="left", fontsize=9)
    ax.set_xlabel("time (s)")
    ax.set_xlim(0, n / FRAMES_PER_S)

    failed = [c.id for c in result.checks if not c.ok]
    verdict = "all %d checks within tolerance" % len(result.checks) if not failed else (
        "outside tolerance: " + ", ".join(failed))
    fig.suptitle("%s: fixed-point engine vs float reference; %s" % (title, verdict),
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
