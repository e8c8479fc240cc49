"""Device units as a supervisor reads them, and the one column set of every per-second
file the host writes: `callcue stream --csv/--jsonl` and `callcue logs export` (csv,
jsonl, parquet) both build their rows with second_row() and talkover_row() below.

The dongle logs integers (firmware/LOGFORMAT.md): a rate in syllables/s x 100, pitch in
cents re 55 Hz, its spread in cents, the cue as an index, -1 for "not defined yet" and
Unix times. A row carries syllables/s, Hz, semitones, the cue's name, the local ISO time,
and None (an empty CSV cell, JSON null) where the device has no value.
"""

import csv
import datetime as dt
import json

from dsp.cues import CUE_NAMES
from dsp.pitch import CENTS_REF_HZ

INTERRUPTERS = ("rep", "customer")

# name, parquet type (a pyarrow type's name), meaning (README: "Supervisors and
# engineers"). A column that does not apply to a row (a talk-over's rate, a second's
# interrupter) is empty.
COLUMNS = (
    ("device", "string", "the dongle's id"),
    ("rep", "string", "who wore the dongle then (`archive assign`); empty if unknown"),
    ("session", "int64", "the session log's id on the dongle; empty in a live stream"),
    ("kind", "string", "second: one per-second record; talkover: one talk-over"),
    ("time", "string", "local ISO 8601 time the second began (a talk-over: when it "
     "began); empty when the dongle's clock was not set"),
    ("t_s", "int64", "the second's index on the session's clock (engine seconds)"),
    ("rep_talk_ms", "int64", "ms of this second in which the rep spoke"),
    ("customer_talk_ms", "int64", "ms of this second in which the customer spoke"),
    ("overlap_ms", "int64", "ms of this second in which both spoke"),
    ("syllables", "int64", "the rep's syllables in this second"),
    ("rate_syl_s", "float64", "rolling speaking rate, syllables per second of rep speech"),
    ("pitch_hz", "float64", "mean F0 of the rep's voiced frames in this second, Hz"),
    ("pitch_sd_st", "float64", "rolling spread of the rep's F0, semitones"),
    ("cue", "string", "the cue lit at the end of the second: none, talkover, fast, flat, "
     "dead_air"),
    ("talkovers", "int64", "talk-overs that ended in this second"),
    ("start_s", "float64", "a talk-over's start, seconds on the t_s clock"),
    ("end_s", "float64", "a talk-over's end (exclusive), seconds on the t_s clock"),
    ("interrupter", "string", "who began speaking over the other: rep or customer"),
)
NAMES = tuple(name for name, _, _ in COLUMNS)
_BLANK = dict.fromkeys(NAMES)


def _defined(v):
    """A device integer that is present and not the -1 of 'none yet'."""
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def rate_syl_s(csps):
    return round(csps / 100, 2) if _defined(csps) else None


def pitch_hz(cents):
    return round(CENTS_REF_HZ * 2 ** (cents / 1200), 1) if _defined(cents) else None


def semitones(cents):
    return round(cents / 100, 2) if _defined(cents) else None


def cue_name(cue):
    if isinstance(cue, int) and 0 <= cue < len(CUE_NAMES):
        return CUE_NAMES[cue]
    return None if cue is None else str(cue)


def interrupter_name(who):
    if isinstance(who, int) and 0 <= who < len(INTERRUPTERS):
        return INTERRUPTERS[who]
    return None if who is None else str(who)


def mmss(s):
    """Seconds as m:ss (h:mm:ss from an hour); '' for None."""
    if s is None:
        return ""
    s = int(round(s))
    h, m = divmod(s // 60, 60)
    return "%d:%02d:%02d" % (h, m, s % 60) if h else "%d:%02d" % (m, s % 60)


def local_iso(unix):
    """Unix seconds as local ISO 8601 with the UTC offset, or None (the clock not set)."""
    if unix is None or unix <= 0:
        return None
    return dt.datetime.fromtimestamp(int(unix)).astimezone().isoformat(timespec="seconds")


def clock_text(unix):
    """A device clock for people: local time, or 'clock not set'."""
    if not isinstance(unix, int | float) or isinstance(unix, bool) or unix <= 0:
        return "clock not set"
    return dt.datetime.fromtimestamp(int(unix)).astimezone().strftime("%Y-%m-%d %H:%M:%S %z")


def second_row(rec, time=None, **ctx):
    """A per-second record (device units, as logged or streamed) as a row of NAMES.
    `time` is the Unix time the second began (None: unknown); ctx fills device, rep,
    session."""
    return {**_BLANK, **ctx, "kind": "second", "time": local_iso(time),
            "t_s": rec.get("t_s"),
            "rep_talk_ms": rec.get("rep_active_ms"),
            "customer_talk_ms": rec.get("customer_active_ms"),
            "overlap_ms": rec.get("overlap_ms"),
            "syllables": rec.get("syllables"),
            "rate_syl_s": rate_syl_s(rec.get("rate_csps")),
            "pitch_hz": pitch_hz(rec.get("pitch_cents")),
            "pitch_sd_st": semitones(rec.get("pitch_sd_cents")),
            "cue": cue_name(rec.get("cue")),
            "talkovers": rec.get("talkovers")}


def talkover_row(evt, time=None, **ctx):
    """A talk-over event (start_f, end_f: 10 ms frames on the t_s clock; interrupter
    0 rep, 1 customer) as a row of NAMES; `time` is the Unix time it began."""
    start_f, end_f = evt.get("start_f"), evt.get("end_f")
    return {**_BLANK, **ctx, "kind": "talkover", "time": local_iso(time),
            "t_s": start_f // 100 if isinstance(start_f, int) else None,
            "start_s": start_f / 100 if isinstance(start_f, int) else None,
            "end_s": end_f / 100 if isinstance(end_f, int) else None,
            "interrupter": interrupter_name(evt.get("interrupter"))}


class RowWriter:
    """Rows of NAMES to an open text file: CSV (header first) or JSON lines ("jsonl")."""

    def __init__(self, f, fmt):
        self.f, self.n = f, 0
        self.csv = csv.DictWriter(f, fieldnames=NAMES) if fmt == "csv" else None
        if self.csv is not None:
            self.csv.writeheader()

    def write(self, row):
        if self.csv is not None:
            self.csv.writerow(row)
        else:
            self.f.write(json.dumps(row) + "\n")
        self.n += 1


def parquet_schema():
    import pyarrow

    return pyarrow.schema([(name, getattr(pyarrow, kind)()) for name, kind, _ in COLUMNS])
