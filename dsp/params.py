"""Every threshold of the engine: a named integer with a default, a range and a meaning.

The table is the single source: the engine, `callcue params`, the dongle's
config, the report and the float reference all read it. Units are in the names
(_db, _dbfs, _ms, _s, _csps = syllables per second x 100, _cents = semitones x 100,
_pct). Calibration overrides these values per unit or per rep.
"""

# (name, default, min, max, meaning)
TABLE = (
    # voice activity (dsp/vad.py)
    ("vad_on_db", 9, 3, 30, "level above the noise floor at which speech starts"),
    ("vad_off_db", 5, 1, 30, "level above the noise floor below which speech may end"),
    ("vad_min_dbfs", -55, -80, -20, "frames quieter than this are never speech"),
    ("vad_onset_ms", 20, 10, 200, "time above threshold before a party counts as speaking"),
    ("vad_hangover_ms", 100, 0, 1000, "a party stays active this long after the level drops"),
    ("floor_rise_db_per_min", 30, 1, 600, "how fast the noise floor may rise during speech"),
    # crosstalk gate (dsp/crosstalk.py)
    ("sidetone_loss_db", 12, 0, 60, "rep's voice in the earpiece channel, dB below the mic"),
    ("echo_loss_db", 25, 0, 60, "customer's voice in the mic channel, dB below the earpiece"),
    ("xtalk_margin_db", 4, 0, 20, "a channel must exceed the leakage estimate by this much"),
    # talk-over (dsp/talkover.py)
    ("talkover_min_ms", 300, 100, 3000,
     "an overlap in which the interrupter speaks this long is a talk-over"),
    ("talkover_gap_ms", 300, 0, 2000, "shorter breaks in the overlap do not end a talk-over"),
    # speaking rate (dsp/syllables.py)
    ("syl_dip_db", 5, 1, 20, "level dip that separates two syllable nuclei, at a syllable "
     "period of 270 ms (it scales with the square root of the period)"),
    ("syl_peak_db", 18, 3, 40, "a nucleus is at most this far below the loudest recent one"),
    ("syl_low_pct", 12, 1, 100, "a nucleus with no pitch is voiced if this share of its "
     "energy lies below 600 Hz"),
    ("rate_window_s", 20, 2, 30, "rolling window of the speaking rate"),
    ("rate_min_speech_ms", 3000, 500, 30000, "rep speech in the window before a rate is defined"),
    ("fast_on_csps", 550, 100, 1500, "speaking rate above which the fast cue turns on"),
    ("fast_off_csps", 500, 100, 1500, "speaking rate below which the fast cue turns off"),
    ("rate_baseline_csps", 0, 0, 1500, "the rep's usual speaking rate, learned by the dongle "
     "across calls (0: not learned yet)"),
    ("fast_rel_pct", 30, 5, 200, "with a learned baseline, the fast cue turns on this far "
     "above it (and off 10 points lower)"),
    # pitch (dsp/pitch.py)
    ("pitch_min_hz", 60, 60, 400, "lowest F0 searched"),
    ("pitch_max_hz", 400, 60, 400, "highest F0 searched"),
    ("pitch_voicing_pct", 45, 20, 99, "periodicity (normalised square difference peak) above "
     "which a frame is voiced"),
    ("pitch_jump_pct", 35, 0, 200, "path cost of an F0 step, per octave, against periodicity"),
    ("pitch_prior_pct", 40, 0, 200, "path cost per octave of a candidate farther from the "
     "rep's recent median F0 than the nearest one"),
    ("pitch_window_s", 30, 2, 30, "rolling window of the pitch standard deviation"),
    ("pitch_min_voiced_ms", 4000, 200, 30000, "voiced time in the window before an SD exists"),
    ("flat_on_cents", 100, 10, 1200, "pitch SD below which the flat cue turns on"),
    ("flat_off_cents", 150, 10, 1200, "pitch SD above which the flat cue turns off"),
    # dead air (dsp/deadair.py)
    ("dead_air_ms", 5000, 1000, 60000, "silence of both parties longer than this is dead air"),
    ("call_end_ms", 30000, 5000, 600000, "silence longer than this means the call has ended"),
    # cue policy (dsp/cues.py)
    ("cue_min_on_ms", 1000, 0, 10000, "a cue stays lit at least this long"),
    ("cue_max_on_ms", 4000, 500, 60000, "a cue goes dark after this long even if still true"),
    ("talkover_repeat_ms", 3000, 0, 600000, "least time between two talk-over cues"),
    ("fast_repeat_ms", 20000, 0, 600000, "least time between two fast cues"),
    ("flat_repeat_ms", 20000, 0, 600000, "least time between two flat cues"),
    ("dead_air_repeat_ms", 15000, 0, 600000, "least time between two dead-air cues"),
)

NAMES = tuple(row[0] for row in TABLE)


class Params:
    """The engine's parameters: Params() gives the defaults, Params(name=value) overrides.

    Raises ValueError("name: reason") for an unknown name, a non-integer, a value out
    of range, or an inconsistent pair (an off threshold on the wrong side of its on).
    """

    def __init__(self, **overrides):
        for name, default, lo, hi, _ in TABLE:
            value = overrides.pop(name, default)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(name + ": must be an integer, got " + repr(value))
            if value < lo or value > hi:
                raise ValueError("%s: %d is outside %d..%d" % (name, value, lo, hi))
            setattr(self, name, value)
        for name in overrides:
            raise ValueError(name + ": unknown parameter")
        self._check_pairs()

    def _check_pairs(self):
        if self.vad_off_db > self.vad_on_db:
            raise ValueError("vad_off_db: must not exceed vad_on_db")
        if self.fast_off_csps > self.fast_on_csps:
            raise ValueError("fast_off_csps: must not exceed fast_on_csps")
        if self.flat_off_cents < self.flat_on_cents:
            raise ValueError("flat_off_cents: must not be below flat_on_cents")
        if self.pitch_min_hz >= self.pitch_max_hz:
            raise ValueError("pitch_min_hz: must be below pitch_max_hz")
        if self.cue_min_on_ms > self.cue_max_on_ms:
            raise ValueError("cue_min_on_ms: must not exceed cue_max_on_ms")
        if self.dead_air_ms >= self.call_end_ms:
            raise ValueError("dead_air_ms: must be below call_end_ms")

    def as_dict(self):
        return {name: getattr(self, name) for name in NAMES}
