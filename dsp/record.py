"""The per-second record's fields, in order: the one definition the engine fills
(`Engine.record`, an array('i')), the session log stores (firmware/sessionlog.py,
LOGFORMAT.md) and the serial protocol sends (firmware/protocol.py, REC lines).

Units are in the names: _ms milliseconds of the second, _csps syllables per second x 100,
_cents semitones x 100 (pitch relative to 55 Hz), cue an index into dsp.cues.CUE_NAMES.
A module of its own so the log and the protocol can import it without the engine.
"""

RECORD_FIELDS = ("t_s", "rep_active_ms", "customer_active_ms", "overlap_ms", "syllables",
                 "rate_csps", "pitch_cents", "pitch_sd_cents", "cue")
