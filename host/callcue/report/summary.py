"""`callcue report --summary`'s page: one row per rep and one per team (a whole contact
centre's months of calls), every figure computed in the database
(callcue.archive.store.Archive.summary): no per-call plots, and --csv writes the same rows
for spreadsheets (SUMMARY_COLUMNS, machine units)."""

import html
import time

from callcue.device.human import mmss
from callcue.report.markup import CSS, JS, num, td, thead
from callcue.report.words import CUE_LABELS, pct, rep_label
from dsp.cues import CUE_NAMES

# (column, heading, format) of the per-rep and per-team tables (HTML, human units) and
# the CSV (column names, machine units: a ratio, hours, seconds)
SUMMARY_COLUMNS = (
    ("team", "team", "%s"), ("rep", "rep", "%s"), ("calls", "calls", "%d"),
    ("talk_hours", "call time", lambda h: mmss(h * 3600)),
    ("talk_ratio", "rep talk (% of talk)", pct),
    ("talkovers_per_hour", "talk-overs / h", "%.1f"),
    ("talkovers_rep_per_hour", "started by the rep / h", "%.1f"),
    ("talkovers_customer_per_hour", "started by the customer / h", "%.1f"),
    ("overlap_s_per_hour", "overlap (s / h)", "%.0f"),
    ("dead_air_s_per_call", "dead air per call (m:ss)", mmss),
    ("median_rate_sps", "speaking rate (syl/s, median)", "%.2f"),
    ("median_pitch_sd_st", "pitch spread (semitones, median)", "%.2f"),
    *((f"cues_{c}_per_hour", f"{CUE_LABELS[c]} cues / h", "%.1f") for c in CUE_NAMES[1:]),
    ("calls_with_overruns", "lossy calls", "%d"),
)


def summary_row(raw):
    """A row of Archive.summary() in the units a team lead reads."""
    hours = raw["seconds"] / 3600 if raw["seconds"] else None
    talk = (raw["rep_ms"] or 0) + (raw["customer_ms"] or 0)

    def per_hour(v):
        return v / hours if hours else None

    # by whom: only from calls whose log keeps each talk-over (format 2)
    by_whom = raw["calls_format2"] == raw["calls"]
    rep = raw.get("rep_id")
    return {
        "team": raw["team"] or "(no team)",
        "rep": "" if rep is None else rep,
        "calls": raw["calls"],
        "talk_hours": hours,
        "talk_ratio": raw["rep_ms"] / talk if talk else None,
        "talkovers_per_hour": per_hour(raw["talkovers"]),
        "talkovers_rep_per_hour": per_hour(raw["talkovers_rep"]) if by_whom else None,
        "talkovers_customer_per_hour":
            per_hour(raw["talkovers_customer"]) if by_whom else None,
        "overlap_s_per_hour": per_hour(raw["overlap_ms"] / 1000),
        "dead_air_s_per_call": raw["dead_air_s"] / raw["calls"],
        "median_rate_sps": None if raw["median_rate_csps"] is None
        else raw["median_rate_csps"] / 100,
        "median_pitch_sd_st": None if raw["median_pitch_sd_cents"] is None
        else raw["median_pitch_sd_cents"] / 100,
        **{f"cues_{c}_per_hour": per_hour(raw[f"cue_{c}"]) for c in CUE_NAMES[1:]},
        "calls_with_overruns": raw["calls_with_overruns"],
    }


def summary_table(rows, with_rep=True):
    cols = [c for c in SUMMARY_COLUMNS if with_rep or c[0] != "rep"]
    head = thead([(h, "l" if f == "%s" else "") for _, h, f in cols])
    body = []
    for r in rows:
        cells = []
        for k, _, f in cols:
            if k == "rep":
                cells.append(td(rep_label(r[k]), cls="l", title=r[k]))
            elif f == "%s":
                cells.append(td(r[k], cls="l"))
            else:
                cells.append(num(r[k], f))
        body.append("<tr>%s</tr>\n" % "".join(cells))
    return '<table class="sortable">%s<tbody>\n%s</tbody></table>' % (head, "".join(body))


def build_summary(summary, title):
    teams = [summary_row(r) for r in summary["teams"]]
    reps = [summary_row(r) for r in summary["reps"]]
    made = time.strftime("%Y-%m-%d %H:%M")
    n_calls = sum(t["calls"] for t in teams)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>callcue summary</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{CSS}</style></head><body>
<h1>callcue summary: {html.escape(title)}</h1>
<p class="lede">{n_calls} call(s), {len(reps)} rep(s), {len(teams)} team(s); made {made}.
Click a heading to sort.</p>
<h2>Teams</h2>
{summary_table(teams, with_rep=False)}
<h2>Reps</h2>
{summary_table(reps)}
<p class="note">Per hour: per hour of call time. Talk-overs started by the rep / by the
customer count only calls logged with each talk-over (log format 2); empty where a row
has older calls. Dead air: time in which neither party spoke, between a call's first and
last speech. Medians are over every second of the rows' calls that had a rate (or a
pitch spread). Lossy calls: calls in which the capture dropped audio (overruns). A
dongle never assigned to a rep (callcue archive assign) stands for its own rep.
The full report (without --summary) adds the team band, response times, trends by date
and every call's timeline.</p>
{JS}
</body></html>
"""


