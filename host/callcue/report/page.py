"""`callcue report`'s page: a self-contained HTML report of archived calls, for a team
lead first (callcue/commands/report.py picks the calls and writes the files); `build`
puts it together.

The page opens with the team: one row per rep over the chosen calls (calls, talk time,
talk ratio, talk-overs per hour by who started them, longest monologue, response time,
dead air, median speaking rate and pitch spread), each figure against the team's band
(the middle half of its reps) with reps far outside it marked. Then each rep's trends by
date, then the calls: a sortable table and, per call, a one-sentence summary, its data
quality (short, lossy, records missing, part of a longer call, clock not set, and the
seal mark: verified, not signed, not verified) and its timeline (who spoke each second,
each talk-over coloured by who started it, cues, the rolling rate and pitch spread).

The parts, each in its module of callcue/report/: calls.py (the calls, their figures,
flags, sentence and CSV row), team.py (reps, teams, the band, the team CSV), plots.py
(the matplotlib figures), markup.py (stylesheet, sort script, table cells), words.py
(how figures read). With --summary the page is summary.py's instead.
"""

import datetime as dt
import html
import time

from callcue.device.human import mmss
from callcue.report.calls import call_csv_row, call_sentence, load_calls
from callcue.report.markup import CSS, JS, num, td, thead
from callcue.report.plots import call_figure, png, trend_figure
from callcue.report.team import (
    MIN_BAND_REPS,
    MIN_TALK_S,
    TEAM_FIGURES,
    data_note,
    outlier,
    rollup,
    team_csv_rows,
    team_tables,
    with_reps,
)
from callcue.report.words import CUE_LABELS, and_list, pct, rep_label, shown, when


def team_table_html(rows, total, band):
    cols = [("rep", "l"), ("calls", ""), ("talk time", "")] + [
        (h, "") for _, h, _, _ in TEAM_FIGURES] + [("data", "l")]

    def figures(r, mark):
        out = []
        for key, _, fmt, _ in TEAM_FIGURES:
            v = r[key]
            side = outlier(band[key], v) if mark else None
            if side:
                arrow = "\u25B2 " if side == "high" else "\u25BC "
                lo, hi = (shown(fmt, x) for x in band[key][:2])
                out.append(td(arrow + shown(fmt, v), v, "hi" if side == "high" else "lo",
                              "far %s the team band (%s to %s)" % (
                                  "above" if side == "high" else "below", lo, hi)))
            else:
                out.append(num(v, fmt))
        return "".join(out)

    body = "".join(
        "<tr>%s%s%s%s%s</tr>\n" % (
            td(rep_label(r["rep"]), cls="l", title=r["rep"]), num(r["calls"], "%d"),
            td(mmss(r["talk_s"]), r["talk_s"]), figures(r, True),
            td(data_note(r), cls="l")) for r in rows)
    foot = "<tr>%s%s%s%s%s</tr>\n" % (
        td("all calls of the %s" % ("team" if total["team"] else "reps above"), cls="l"),
        num(total["calls"], "%d"),
        td(mmss(total["talk_s"]), total["talk_s"]), figures(total, False),
        td(data_note(total), cls="l"))
    if not any(band.values()):
        return '<table class="sortable team">%s<tbody>\n%s</tbody><tfoot>%s%s</tfoot>' \
            "</table>" % (thead(cols), body, foot, '<tr class="band"><td class="l" colspan="%d">'
                          "no team band: it needs %d or more reps with the figure</td></tr>" % (
                              len(cols), MIN_BAND_REPS))
    foot += '<tr class="band">%s%s%s</tr>' % (
        td("team band (middle half of reps)", cls="l"), "<td></td><td></td>",
        "".join(td("" if band[k] is None else "%s to %s" % (
            shown(fmt, band[k][0]), shown(fmt, band[k][1])), cls=None)
            for k, _, fmt, _ in TEAM_FIGURES) + "<td></td>")
    return '<table class="sortable team">%s<tbody>\n%s</tbody><tfoot>%s</tfoot></table>' % (
        thead(cols), body, foot)


def _mark(check):
    return '<td class="mark %s" title="%s">%s</td>' % (
        check.mark.replace(" ", "-"), html.escape(check.note), html.escape(check.mark))


def _calls_table(calls):
    cols = [("call", "l"), ("rep", "l"), ("start", "l"), ("length (m:ss)", ""),
            ("rep talk", ""), ("talk-overs by rep / customer", ""),
            ("longest monologue (m:ss)", ""), ("response (s, median)", ""),
            ("dead air (m:ss)", ""), ("rate (syl/s)", ""), ("pitch spread (semitones)", ""),
            ("cues", "l"), ("data", "l"), ("data quality", "l")]
    rows = []
    for c in calls:
        m, s = c["m"], c["s"]
        by = ("%d / %d" % (m["talkovers_rep"], m["talkovers_customer"])
              if "talkovers_rep" in m else "%d (by whom not logged)" % m.get("talkovers", 0))
        cues = ", ".join("%s %d" % (CUE_LABELS[k], v)
                         for k, v in m["cue_counts"].items() if v)
        rows.append("<tr>%s%s%s%s%s%s%s%s%s%s%s%s%s%s</tr>\n" % (
            '<td class="l" data-v="%d"><a href="#call-%d">%d</a></td>' % (
                s["pk"], s["pk"], s["pk"]),
            td(rep_label(c["rep"]), cls="l", title=c["rep"]),
            td(when(s["start_time"]) or "clock not set", s["start_time"], "l"),
            td(mmss(m["seconds"]), m["seconds"]), num(m.get("talk_ratio"), pct),
            td(by, m.get("talkovers", 0)), num(m.get("longest_monologue_s"), mmss),
            num(m.get("median_response_s"), "%.1f"), num(m.get("dead_air_s"), mmss),
            num(m.get("median_rate_sps"), "%.2f"), num(m.get("median_pitch_sd_st"), "%.2f"),
            td(cues, cls="l"), _mark(c["check"]),
            td("; ".join(c["flags"]), cls="l")))
    return '<table class="sortable calls">%s<tbody>\n%s</tbody></table>' % (
        thead(cols), "".join(rows))


def _team_name(team):
    return "Team " + team if team else "Reps in no team"


def _title(c):
    s = c["s"]
    return "%s, %s, %s" % (rep_label(c["rep"]), when(s["start_time"]) or "clock not set",
                           mmss(c["m"]["seconds"]))


_NOTES = """<h2>How to read this report</h2>
<p class="note"><b>Talk time</b>: seconds in which someone spoke (an overlap counted once).
<b>Rep talk</b>: the rep's share of the two parties' speech. <b>Talk-overs</b>: both
parties speaking at once for at least the configured minimum (backchannels excluded);
"started by the rep" means the rep began while the customer already spoke. Calls logged
by firmware before talk-over events (log format 1) say how many, not who started them.
<b>Per hour</b>: per hour of talk, and only over calls with at least {min_talk} s of talk
(shorter calls show their counts: three talk-overs in a 7-second call are not 1,500 an
hour). <b>Longest monologue</b>: the longest run of seconds in which the rep spoke (0.5 s or
more) and the customer did not (under 0.2 s). <b>Response time</b>: from the end of a
customer's turn to the rep's next speech, when the rep was listening and the customer
did not go on first; the log keeps how long each party spoke in each second, not when
within it, so a single response is known to about a second (each second's speech is
taken to sit at the turn's edge), and the figure is the median over every response;
answers that overlap the customer are talk-overs and are not counted. <b>Dead air</b>:
seconds in which neither party spoke, between a call's first and last speech.
<b>Speaking rate</b> and <b>pitch spread</b>: medians over every second of the rep's speech
that had one (the dongle's rolling figures). <b>Team band</b>: the middle half of the
team's reps (25th to 75th percentile of their figures, each rep counting once; shown
with at least {min_band} reps); a rep marked \u25B2 or \u25BC (bold, shaded) is far outside
it: more than 1.5 band widths above or below (Tukey's fences; a band narrower than a
least difference per figure is widened to it first, so that reps a hair apart are not
marked). High or low is not good or bad by itself: read the call. <b>Data</b>:
<b>verified</b>, the figures are the dongle's own (the rows match its session log, whose
seals verify under the device's key); <b>not signed</b>, the rows match the log but nothing
proves the log (no key known for the device, or recorded before it had one); <b>not
verified</b>, the rows differ from the log or its seal is broken: such calls are left out
of the team's figures, and nobody should be judged by them (`callcue logs verify` says
why). <b>Lossy</b>: audio the dongle's capture dropped during the call (its overrun
counter's rise, 10 ms frames). <b>Truncated</b>: seconds with no record (dropped for
space or by recovery). <b>Part of a longer call</b>: the dongle split the call into parts
(a long call, a full flash). Times are this computer's local time.</p>
"""


def build(ar, sessions, pdf=None, store=None, csv_rows=None, team_rows=None,
          title="all teams", stats=None):
    """The report's HTML text for archive rows `sessions` (with their rep and team, see
    with_reps; added if missing); writes a PDF of the plots too when `pdf` is a path.
    Each call is marked verified, not signed or not verified (callcue.archive.integrity, with
    the keys of `store`); `csv_rows`, a list, gets a dict per call (calls.CALL_CSV),
    `team_rows` one per rep, team and band (team.TEAM_CSV); `stats`, a dict, gets the number
    of calls (a call the dongle split into parts is one)."""
    if sessions and "rep" not in sessions[0]:
        sessions = with_reps(ar, sessions)
    calls = load_calls(ar, sessions, store)
    if stats is not None:
        stats["calls"] = len(calls)
    tables = team_tables(calls)
    if team_rows is not None:
        team_rows.extend(team_csv_rows(tables))

    pages = None
    if pdf is not None:
        from matplotlib.backends.backend_pdf import PdfPages

        pages = PdfPages(pdf)
    teams_html, trends = [], []
    for team, (rows, total, band) in tables.items():
        name = team or "(no team)"
        teams_html.append("<h2>%s: %d rep%s</h2>\n%s" % (
            html.escape(_team_name(team)), len(rows), "s" * (len(rows) != 1),
            team_table_html(rows, total, band)))
        by_rep = {}
        for c in calls:
            if c["team"] == team and c["s"]["start_time"] > 0 \
                    and c["check"].mark != "not verified":
                day = dt.date.fromtimestamp(c["s"]["start_time"])
                by_rep.setdefault(c["rep"], {}).setdefault(day, []).append(c["m"])
        days = {d for v in by_rep.values() for d in v}
        if len(days) >= 2:
            series = {rep: [(d, rollup(ms)) for d, ms in sorted(v.items())]
                      for rep, v in sorted(by_rep.items())}
            fig = trend_figure("%s by date" % _team_name(team), series, band)
            trends.append("<h3>%s</h3>\n<img alt=\"trends of team %s\" "
                          'src="data:image/png;base64,%s">' % (
                              html.escape(_team_name(team)), html.escape(name), png(fig)))
            if pages is not None:
                pages.savefig(fig)
        else:
            trends.append('<p class="note">%s: calls on one date only; trends need '
                          "two or more.</p>" % html.escape(_team_name(team)))
    sections = []
    for c in calls:
        s, m = c["s"], c["m"]
        if csv_rows is not None:
            csv_rows.append(call_csv_row(c))
        cls = c["check"].mark.replace(" ", "-")
        quality = ['<span class="%s">%s</span> <span class="note">(%s)</span>' % (
            cls, html.escape(c["check"].mark), html.escape(c["check"].note))]
        quality += ['<span class="flag">%s</span>' % html.escape(f) for f in c["flags"]]
        name = _title(c)
        img = ""
        if c["recs"]:
            fig = call_figure(c["recs"], name, c["events"])
            img = '<img alt="timeline of %s" src="data:image/png;base64,%s">' % (
                html.escape(name), png(fig))
            if pages is not None:
                pages.savefig(fig)
        sections.append(
            '<section id="call-%d"><h3>%s <span class="note">(%s session%s %s, archive '
            "row%s %s)</span></h3>\n<p class=\"sentence\">%s</p>\n<p class=\"quality\">"
            "Data: %s</p>\n%s</section>\n" % (
                s["pk"], html.escape(name), html.escape(s["device_id"]),
                "s" * (len(c["parts"]) > 1),
                and_list(["%d" % p["session_id"] for p in c["parts"]]),
                "s" * (len(c["parts"]) > 1), and_list(["%d" % p["pk"] for p in c["parts"]]),
                html.escape(call_sentence(m)), " \u00B7 ".join(quality), img))
    if pages is not None:
        pages.close()
    made = time.strftime("%Y-%m-%d %H:%M")
    dated = sorted(c["s"]["start_time"] for c in calls if c["s"]["start_time"] > 0)
    span = (" from %s to %s" % (when(dated[0])[:10], when(dated[-1])[:10])) if dated else ""
    n_reps = sum(len(t[0]) for t in tables.values())
    n_short = sum(c["m"]["talk_s"] < MIN_TALK_S for c in calls)
    n_lossy = sum(c["m"]["lost_frames"] > 0 for c in calls)
    n_bad = sum(c["check"].mark == "not verified" for c in calls)
    extra = [x for x in ("%d short" % n_short if n_short else "",
                         "%d lossy" % n_lossy if n_lossy else "",
                         "%d not verified" % n_bad if n_bad else "") if x]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>callcue report: {html.escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{CSS}</style></head><body>
<h1>callcue report: {html.escape(title)}</h1>
<p class="lede">{len(calls)} call(s){" (" + ", ".join(extra) + ")" if extra else ""} by
{n_reps} rep(s){span}. Rates per hour count only calls with at least {MIN_TALK_S} s of
talk; \u25B2/\u25BC marks a rep far outside the team band (the middle half of its reps).
Click a heading to sort. Times are local ({_zone()}); made {made}.</p>
{"".join(teams_html)}
<h2>Trends by date</h2>
{"".join(trends)}
<h2>Calls</h2>
{_calls_table(calls)}
{"".join(sections)}
{_NOTES.format(min_talk=MIN_TALK_S, min_band=MIN_BAND_REPS)}
{JS}
</body></html>
"""


def _zone():
    """This computer's time zone as 'CET, UTC+01:00' (or 'UTC')."""
    name, off = time.strftime("%Z"), time.strftime("%z")
    if off in ("+0000", "-0000", ""):
        return "UTC"
    return "%s, UTC%s:%s" % (name, off[:3], off[3:])
