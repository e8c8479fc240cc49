"""How the report's figures and reps read in words, for the full page, its plots and the
summary page alike: percentages, local start times, a rep's name on the page (an
unassigned dongle says so), lists joined with "and", a figure in its format, how each
cue reads."""

import datetime as dt

CUE_LABELS = {"talkover": "talk-over", "fast": "fast pace", "flat": "flat pitch",
              "dead_air": "dead air"}
DATE_FMT = "%Y-%m-%d %H:%M:%S"


def pct(ratio):
    return "" if ratio is None else "%.0f %%" % (100 * ratio)


def when(start_time):
    """A call's start as local ISO time, or '' when the dongle's clock was not set."""
    if not start_time or start_time <= 0:
        return ""
    return dt.datetime.fromtimestamp(start_time).strftime(DATE_FMT)


def rep_label(rep_id):
    """How a rep reads on the page: an unassigned dongle says so."""
    if rep_id.startswith("device:"):
        return "dongle %s (no rep assigned)" % rep_id[len("device:"):]
    return rep_id


def and_list(parts):
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def shown(fmt, v):
    """`v` in `fmt` (a %-format or a function), '' when missing."""
    if v is None:
        return ""
    return fmt(v) if callable(fmt) else fmt % v
