"""`callcue report`'s page: a self-contained HTML report of archived calls, for a team
lead first (callcue/commands/report.py picks the calls and writes the files).

The page opens with the team: one row per rep over the chosen calls (calls, talk time,
talk ratio, talk-overs per hour by who started them, longest monologue, response time,
dead air, median speaking rate and pitch spread), each figure against the team's band
(the middle half of its reps) with reps far outside it marked. Then each rep's trends by
date, then the calls: a sortable table and, per call, a one-sentence summary, its data
quality (short, lossy, records missing, part of a longer call, clock not set, and the
seal mark: verified, not signed, not verified) and its timeline (who spoke each second,
each talk-over coloured by who started it, cues, the rolling rate and pitch spread).

Reps come from the archive's assignments (callcue archive assign; a dongle never
assigned is its own rep, "device:ID"). Everything is computed from the per-second
records and talk-over events (device units, see firmware/LOGFORMAT.md). Logs of format 1
(firmware before talk-over events) have counts only: who started a talk-over is then
unknown and left empty.

With --summary the report is one row per rep and one per team (a whole contact centre's
months of calls), every figure computed in the database
(callcue.archive.store.Archive.summary): no per-call plots, and --csv writes the same rows
for spreadsheets. A call's figures are callcue.analysis.summary's call_metrics.
"""

import base64
import datetime as dt
import html
import io
import time

import numpy as np

from callcue.analysis.summary import INTERRUPTERS, call_metrics
from callcue.device.human import mmss

CUE_NAMES = ("none", "talkover", "fast", "flat", "dead_air")
CUE_LABELS = {"talkover": "talk-over", "fast": "fast pace", "flat": "flat pitch",
              "dead_air": "dead air"}
CUE_COLOURS = {"talkover": "#d62728", "fast": "#ff7f0e", "flat": "#9467bd",
               "dead_air": "#7f7f7f"}
REP, CUSTOMER, OVERLAP = "#1f77b4", "#2ca02c", "#d62728"
OVERLAP_ANY = "#7f7f7f"   # overlap seconds when talk-overs are drawn on top of them
INTERRUPTER_COLOURS = {"rep": "#d62728", "customer": "#17becf"}

# Per-hour rates only over calls with at least this much talk (s): a talk-over in a
# 7-second call is not "514 an hour"
MIN_TALK_S = 60
# Plots: 14 x dpi pixels wide, drawn at the page's width; text at least FONT_PT
PLOT_DPI, PLOT_W_IN, FONT_PT = 100, 14.0, 12
DATE_FMT = "%Y-%m-%d %H:%M:%S"


# ------------------------------------------------------------------------ words


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


def _and(parts):
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


# ------------------------------------------------------------------------ metrics


def call_sentence(m):
    """One plain sentence about a call, e.g. "6:12 call; the rep talked 58 % of the
    time, started 3 of 4 talk-overs and spoke at 4.1 syl/s." """
    head = "%s call" % mmss(m["seconds"])
    if not m.get("talk_s"):
        return head + "; nobody spoke."
    parts = ["the rep talked %s of the time" % pct(m["talk_ratio"])]
    n = m["talkovers"]
    if "talkovers_rep" in m:
        parts.append("no talk-overs" if not n else "started %s of %d talk-over%s" % (
            m["talkovers_rep"] or "none", n, "s" * (n != 1)))
    else:
        parts.append("%d talk-over%s (who started them is not logged)" % (n, "s" * (n != 1)))
    if m.get("median_rate_sps") is not None:
        parts.append("spoke at %.1f syl/s" % m["median_rate_sps"])
    if m.get("median_response_s") is not None:
        parts.append("answered in %.1f s (median)" % m["median_response_s"])
    if m.get("longest_monologue_s", 0) >= 60:
        parts.append("held the floor %s at most" % mmss(m["longest_monologue_s"]))
    if m.get("dead_air_s", 0) >= 5:
        parts.append("left %s of dead air" % mmss(m["dead_air_s"]))
    short = "" if m["talk_s"] >= MIN_TALK_S else " (%s of talk: too short for rates)" % (
        mmss(m["talk_s"]))
    return "%s%s; %s." % (head, short, _and(parts))


# ------------------------------------------------------------------------ reps and teams


def with_reps(ar, sessions):
    """`sessions` with each call's rep and team: the device's assignment with the latest
    start at or before the call's (Archive.assign), else the dongle itself ("device:ID"),
    as archive_sql's summary does."""
    by_dev = {}
    for a in ar.assignments():        # oldest first per device
        by_dev.setdefault(a["device_id"], []).append(a)
    out = []
    for s in sessions:
        rep, team = "device:" + s["device_id"], None
        for a in by_dev.get(s["device_id"], ()):
            if a["since"] <= s["start_time"]:
                rep, team = a["rep_id"], a["team"]
        out.append({**s, "rep": rep, "team": team or ""})
    return out


def rollup(ms):
    """One rep's (or a team's) figures over the metrics `ms` of their calls."""
    seconds = sum(m["seconds"] for m in ms)
    rep_s = sum(m.get("rep_s", 0) for m in ms)
    cust_s = sum(m.get("customer_s", 0) for m in ms)
    rated = [m for m in ms if m["talk_s"] >= MIN_TALK_S and "talkovers_rep" in m]
    rated_h = sum(m["talk_s"] for m in rated) / 3600
    gaps = [g for m in ms for g in m["responses_s"]]
    rates = np.concatenate([m["rate_values"] for m in ms if "rate_values" in m] or [[]])
    sds = np.concatenate([m["pitch_sd_values"] for m in ms if "pitch_sd_values" in m] or [[]])
    return {
        "calls": len(ms),
        "call_s": seconds,
        "talk_s": sum(m["talk_s"] for m in ms),
        "talk_ratio": rep_s / (rep_s + cust_s) if rep_s + cust_s else None,
        "talkovers": sum(m.get("talkovers", 0) for m in ms),
        "rated_calls": len(rated),
        "talkovers_rep_ph": sum(m["talkovers_rep"] for m in rated) / rated_h
        if rated_h else None,
        "talkovers_customer_ph": sum(m["talkovers_customer"] for m in rated) / rated_h
        if rated_h else None,
        "longest_monologue_s": max((m.get("longest_monologue_s", 0) for m in ms), default=0)
        if ms else None,
        "response_s": float(np.median(gaps)) if gaps else None,
        "responses": len(gaps),
        "dead_air_pct": 100 * sum(m.get("dead_air_s", 0) for m in ms) / seconds
        if seconds else None,
        "rate_sps": float(np.median(rates)) if rates.size else None,
        "pitch_st": float(np.median(sds)) if sds.size else None,
    }


# (key, heading, format, band floor): the team table's figures in the order shown. The
# floor is the least band width that counts as a difference, so that reps a hair apart
# (or a team whose reps are all alike) are not called outliers.
TEAM_FIGURES = (
    ("talk_ratio", "rep talk (% of talk)", pct, 0.03),
    ("talkovers_rep_ph", "talk-overs started by the rep, per hour of talk", "%.1f", 1.0),
    ("talkovers_customer_ph", "talk-overs started by the customer, per hour of talk",
     "%.1f", 1.0),
    ("longest_monologue_s", "longest monologue (m:ss)", mmss, 5.0),
    ("response_s", "response time (s, median)", "%.1f", 0.3),
    ("dead_air_pct", "dead air (% of call time)", "%.1f", 1.0),
    ("rate_sps", "speaking rate (syl/s, median)", "%.2f", 0.2),
    ("pitch_st", "pitch spread (semitones, median)", "%.2f", 0.2),
)
MIN_BAND_REPS = 3   # a band of fewer reps says nothing


def _f(fmt, v):
    if v is None:
        return ""
    return fmt(v) if callable(fmt) else fmt % v


def bands(rows):
    """Per figure, the team's band over its reps' figures: (q1, q3, low fence, high
    fence) with the fences 1.5 band widths outside it (Tukey's), or None with fewer
    than MIN_BAND_REPS reps having the figure."""
    out = {}
    for key, _, _, floor in TEAM_FIGURES:
        vals = [r[key] for r in rows if r.get(key) is not None]
        if len(vals) < MIN_BAND_REPS:
            out[key] = None
            continue
        q1, q3 = (float(x) for x in np.percentile(vals, [25, 75]))
        width = max(q3 - q1, floor)
        out[key] = (q1, q3, q1 - 1.5 * width, q3 + 1.5 * width)
    return out


def outlier(band, v):
    """'high', 'low' or None: `v` against its band's fences."""
    if band is None or v is None:
        return None
    return "high" if v > band[3] else "low" if v < band[2] else None


def data_note(r):
    """The data column of a rep's (or team's) row: what is short, lossy or left out."""
    parts = []
    if r["short"]:
        parts.append("%d short" % r["short"])
    if r["lossy"]:
        parts.append("%d lossy (%s s lost)" % (r["lossy"], "%.1f" % r["lost_s"]))
    if r["left_out"]:
        parts.append("%d not verified, left out" % r["left_out"])
    return ", ".join(parts)


def team_tables(calls):
    """{team: (rep rows, team row, bands)} from the report's calls (dicts with rep, team,
    m and check); calls marked not verified are left out of every figure."""
    from callcue.archive.integrity import NOT_VERIFIED

    teams = {}
    for c in calls:
        teams.setdefault(c["team"], {}).setdefault(c["rep"], []).append(c)
    out = {}
    for team in sorted(teams, key=lambda t: (t == "", t)):
        rows = []
        for rep in sorted(teams[team], key=lambda r: (r.startswith("device:"), r.lower())):
            rows.append(_row(team, rep, teams[team][rep], NOT_VERIFIED))
        every = [c for cs in teams[team].values() for c in cs]
        total = _row(team, "", every, NOT_VERIFIED)
        out[team] = (rows, total, bands(rows))
    return out


def _row(team, rep, calls, not_verified):
    kept = [c for c in calls if c["check"].mark != not_verified]
    r = rollup([c["m"] for c in kept])
    r.update(team=team, rep=rep, short=sum(c["m"]["talk_s"] < MIN_TALK_S for c in kept),
             lossy=sum(c["m"]["lost_frames"] > 0 for c in kept),
             lost_s=sum(c["m"]["lost_frames"] for c in kept) / 100,
             left_out=len(calls) - len(kept))
    return r


# the team table's CSV: machine units (a ratio, seconds), named with them
TEAM_CSV = ("team", "rep", "row", "calls", "call_s", "talk_s", "talk_ratio",
            "talkovers_rep_per_talk_hour", "talkovers_customer_per_talk_hour",
            "rated_calls", "longest_monologue_s", "median_response_s", "responses",
            "dead_air_pct", "median_rate_sps", "median_pitch_sd_st", "short_calls",
            "lossy_calls", "lost_audio_s", "calls_left_out")


def team_csv_rows(tables):
    out = []
    for team, (rows, total, band) in tables.items():
        for kind, r in [("rep", x) for x in rows] + [("team", total)]:
            out.append(dict(zip(TEAM_CSV, (
                team, r["rep"], kind, r["calls"], r["call_s"], r["talk_s"], r["talk_ratio"],
                r["talkovers_rep_ph"], r["talkovers_customer_ph"], r["rated_calls"],
                r["longest_monologue_s"], r["response_s"], r["responses"], r["dead_air_pct"],
                r["rate_sps"], r["pitch_st"], r["short"], r["lossy"], r["lost_s"],
                r["left_out"]))))
        for end, i in (("band_low", 0), ("band_high", 1)):
            row = dict.fromkeys(TEAM_CSV)
            row.update(team=team, rep="", row=end)
            names = dict(zip(("talk_ratio", "talkovers_rep_ph", "talkovers_customer_ph",
                              "longest_monologue_s", "response_s", "dead_air_pct",
                              "rate_sps", "pitch_st"),
                             ("talk_ratio", "talkovers_rep_per_talk_hour",
                              "talkovers_customer_per_talk_hour", "longest_monologue_s",
                              "median_response_s", "dead_air_pct", "median_rate_sps",
                              "median_pitch_sd_st")))
            for key, col in names.items():
                row[col] = None if band[key] is None else band[key][i]
            out.append(row)
    return out


# ------------------------------------------------------------------------ plots


def _png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=PLOT_DPI)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _ticks(ax):
    ax.tick_params(labelsize=FONT_PT - 1)


def call_figure(recs, title, events=None):
    """The call's timeline; `events` (talk-overs, None for a format-1 log) are drawn as
    spans across both lanes, coloured by who interrupted."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    t0 = recs[0]["t_s"]
    t = np.array([r["t_s"] for r in recs]) - t0
    fig = Figure(figsize=(PLOT_W_IN, 5.6), dpi=PLOT_DPI)
    ax1, ax2, ax3 = fig.subplots(3, 1, sharex=True, height_ratios=[2, 1, 1])
    rep = np.array([r["rep_active_ms"] for r in recs]) / 1000
    cust = np.array([r["customer_active_ms"] for r in recs]) / 1000
    both = np.array([r["overlap_ms"] for r in recs]) / 1000
    # one filled step curve per series (far cheaper than a bar per second)
    te = np.append(t, t[-1] + 1)

    def steps(y, base, scale, colour, label, alpha=1.0):
        ax1.fill_between(te, base, base + np.append(y, y[-1]) * scale, step="post",
                         color=colour, alpha=alpha, linewidth=0, label=label)

    steps(rep, 1.1, 0.8, REP, "rep")
    steps(cust, 0.1, 0.8, CUSTOMER, "customer")
    if events is None:
        steps(both, 0.1, 1.8, OVERLAP, "overlap", 0.45)
    else:
        steps(both, 0.1, 1.8, OVERLAP_ANY, "overlap", 0.3)
        for i, who in enumerate(INTERRUPTERS):
            spans = [(e["start_f"] / 100 - t0, (e["end_f"] - e["start_f"]) / 100)
                     for e in events if e["interrupter"] == i]
            # always in the legend, so every timeline reads the same
            ax1.broken_barh(spans, (0.05, 1.9), facecolors=INTERRUPTER_COLOURS[who],
                            alpha=0.7, linewidth=0, label=f"talk-over by {who}")
    cues = np.array([r["cue"] for r in recs])
    for i, name in enumerate(CUE_NAMES):
        if i and (cues == i).any():
            steps((cues == i).astype(float), 2.0, 0.15, CUE_COLOURS[name],
                  "cue: " + CUE_LABELS[name])
    ax1.set_yticks([0.5, 1.5], ["customer", "rep"])
    ax1.set_ylim(0, 2.2)
    # above the lanes, in one row: the plot keeps the page's whole width
    ax1.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=8, fontsize=FONT_PT,
               frameon=False, borderaxespad=0.2, handlelength=1.5, columnspacing=1.2)
    fig.suptitle(title, x=0.01, ha="left", fontsize=FONT_PT + 1)
    rate = np.array([r["rate_csps"] / 100 if r["rate_csps"] >= 0 else np.nan for r in recs])
    sd = np.array([r["pitch_sd_cents"] / 100 if r["pitch_sd_cents"] >= 0 else np.nan
                   for r in recs])
    ax2.plot(t, rate, color=REP)
    ax2.set_ylabel("rate\nsyl/s", fontsize=FONT_PT)
    ax3.plot(t, sd, color="#8c564b")
    ax3.set_ylabel("pitch spread\nsemitones", fontsize=FONT_PT)
    ax3.set_xlabel("time into the call (m:ss)", fontsize=FONT_PT)
    ax3.xaxis.set_major_formatter(FuncFormatter(lambda x, _: mmss(max(x, 0))))
    for ax in (ax1, ax2, ax3):
        _ticks(ax)
    fig.subplots_adjust(left=0.085, right=0.99, top=0.83, bottom=0.11, hspace=0.15)
    return fig


# (key, title, scale) of the trend panels
TREND_PANELS = (("talk_ratio", "rep talk (% of talk)", 100),
                ("talkovers_rep_ph", "talk-overs started by the rep / h", 1),
                ("response_s", "response time (s, median)", 1),
                ("dead_air_pct", "dead air (% of call time)", 1),
                ("rate_sps", "speaking rate (syl/s)", 1),
                ("pitch_st", "pitch spread (semitones)", 1))
MARKERS = "osD^vPX*"


def trend_figure(title, by_rep, band):
    """Per rep, each figure by date (one point per day with calls), over the team's band
    (shaded). `by_rep`: {rep: [(date, rollup row)]}; `band`: bands() of the team."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, DateFormatter
    from matplotlib.figure import Figure

    fig = Figure(figsize=(PLOT_W_IN, 7.6), dpi=PLOT_DPI)
    axes = fig.subplots(2, 3).ravel()
    days = sorted({d for rows in by_rep.values() for d, _ in rows})
    for ax, (key, label, scale) in zip(axes, TREND_PANELS):
        b = band.get(key)
        if b is not None:
            ax.axhspan(b[0] * scale, b[1] * scale, color="#888888", alpha=0.22, linewidth=0,
                       label="team band (middle half of reps)")
        for i, (rep, rows) in enumerate(by_rep.items()):
            x = [d for d, _ in rows]
            y = [np.nan if r[key] is None else r[key] * scale for _, r in rows]
            ax.plot(x, y, marker=MARKERS[i % len(MARKERS)], markersize=7, linewidth=1.5,
                    label=rep_label(rep), color="C%d" % (i % 10))
        ax.set_title(label, fontsize=FONT_PT)
        if len(days) <= 8:
            ax.set_xticks(days)
            ax.xaxis.set_major_formatter(DateFormatter("%m-%d"))
            pad = dt.timedelta(hours=12)
            ax.set_xlim(days[0] - pad, days[-1] + pad)
        else:
            loc = AutoDateLocator(maxticks=6)
            ax.xaxis.set_major_locator(loc)
            ax.xaxis.set_major_formatter(ConciseDateFormatter(loc))
        _ticks(ax)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(0.005, 0.995),
               ncol=min(len(labels), 5), fontsize=FONT_PT, frameon=False)
    fig.suptitle(title, x=0.995, ha="right", y=0.995, fontsize=FONT_PT + 1)
    rows = -(-len(labels) // 5)
    fig.subplots_adjust(left=0.05, right=0.975, wspace=0.22, hspace=0.35,
                        top=0.9 - 0.045 * (rows - 1), bottom=0.06)
    return fig


# ------------------------------------------------------------------------ HTML

_CSS = """body{font-family:sans-serif;margin:1.5em;color:#222;font-size:14px}
h1{font-size:22px;margin:.2em 0}h2{font-size:18px;margin:1.2em 0 .4em}h3{font-size:15px}
table{border-collapse:collapse;font-size:13px;width:100%}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:right;vertical-align:top}
th{background:#eee;font-weight:600;cursor:pointer;user-select:none}
th.l,td.l{text-align:left}tfoot td{background:#f4f4f4}tfoot tr.band td{color:#444}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
td.hi,td.lo{background:#ffd9a8;font-weight:bold}
img{width:100%;display:block;margin:.3em 0 1.5em}
.lede{font-size:15px;margin:.2em 0 .6em}.note{color:#555;font-size:12px}
.sentence{font-size:15px;margin:.3em 0}.quality{font-size:13px;margin:.3em 0}
td.mark{text-align:left}.verified{color:#1a7f37}.not-signed{color:#666}
.not-verified{color:#fff;background:#c62828;font-weight:bold}
.flag{background:#fff3cd;padding:0 .3em}"""

# Sortable tables: a click on a heading sorts the body by that column (numbers by the
# cell's data-v; empty cells last either way); the foot (team, band) stays put.
_JS = """<script>
document.querySelectorAll('table.sortable').forEach(function (t) {
  var ths = t.tHead.rows[0].cells;
  [].forEach.call(ths, function (th, i) {
    th.title = 'sort by this column';
    th.addEventListener('click', function () {
      var asc = th.getAttribute('aria-sort') !== 'ascending';
      [].forEach.call(ths, function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      var body = t.tBodies[0], rows = [].slice.call(body.rows);
      function key(r) {
        var c = r.cells[i], v = c.getAttribute('data-v');
        return v === null ? c.textContent.trim().toLowerCase() : v === '' ? '' : +v;
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === '' || y === '') return (x === '') - (y === '');
        var c = typeof x === 'number' ? x - y : String(x).localeCompare(String(y));
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
</script>"""


def _td(text, v=None, cls=None, title=None):
    """A cell: shown `text`, sort value `v` (None: sorts by text; '' for missing)."""
    a = "" if v is None else ' data-v="%s"' % ("" if v == "" else "%.6g" % v)
    if cls:
        a += ' class="%s"' % cls
    if title:
        a += ' title="%s"' % html.escape(title)
    return "<td%s>%s</td>" % (a, html.escape(text))


def _num(v, fmt):
    return _td(_f(fmt, v), "" if v is None else v)


def _head(cols):
    return "<thead><tr>%s</tr></thead>" % "".join(
        '<th class="%s">%s</th>' % (cls, html.escape(h)) for h, cls in cols)


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
                lo, hi = (_f(fmt, x) for x in band[key][:2])
                out.append(_td(arrow + _f(fmt, v), v, "hi" if side == "high" else "lo",
                               "far %s the team band (%s to %s)" % (
                                   "above" if side == "high" else "below", lo, hi)))
            else:
                out.append(_num(v, fmt))
        return "".join(out)

    body = "".join(
        "<tr>%s%s%s%s%s</tr>\n" % (
            _td(rep_label(r["rep"]), cls="l", title=r["rep"]), _num(r["calls"], "%d"),
            _td(mmss(r["talk_s"]), r["talk_s"]), figures(r, True),
            _td(data_note(r), cls="l")) for r in rows)
    foot = "<tr>%s%s%s%s%s</tr>\n" % (
        _td("all calls of the %s" % ("team" if total["team"] else "reps above"), cls="l"),
        _num(total["calls"], "%d"),
        _td(mmss(total["talk_s"]), total["talk_s"]), figures(total, False),
        _td(data_note(total), cls="l"))
    if not any(band.values()):
        return '<table class="sortable team">%s<tbody>\n%s</tbody><tfoot>%s%s</tfoot>' \
            "</table>" % (_head(cols), body, foot, '<tr class="band"><td class="l" colspan="%d">'
                          "no team band: it needs %d or more reps with the figure</td></tr>" % (
                              len(cols), MIN_BAND_REPS))
    foot += '<tr class="band">%s%s%s</tr>' % (
        _td("team band (middle half of reps)", cls="l"), "<td></td><td></td>",
        "".join(_td("" if band[k] is None else "%s to %s" % (
            _f(fmt, band[k][0]), _f(fmt, band[k][1])), cls=None)
            for k, _, fmt, _ in TEAM_FIGURES) + "<td></td>")
    return '<table class="sortable team">%s<tbody>\n%s</tbody><tfoot>%s</tfoot></table>' % (
        _head(cols), body, foot)


def _mark(check):
    return '<td class="mark %s" title="%s">%s</td>' % (
        check.mark.replace(" ", "-"), html.escape(check.note), html.escape(check.mark))


def quality_flags(c):
    """What to know about a call's data before judging by it (words, worst first)."""
    m, hdr, flags = c["m"], c["header"], []
    if m["lost_frames"] > 0:
        flags.append("lossy: %.1f s of audio lost (%d frames the capture dropped)" % (
            m["lost_frames"] / 100, m["lost_frames"]))
    if m["missing_s"] > 0:
        flags.append("truncated: %s of records missing" % mmss(m["missing_s"]))
    if hdr and hdr.get("continues"):
        flags.append("part of a longer call: continues session %d, which is not in this "
                     "report" % hdr["continues"])
    if len(c["parts"]) > 1:
        flags.append("one call in %d parts (sessions %s): the dongle split it" % (
            len(c["parts"]), _and(["%d" % p["session_id"] for p in c["parts"]])))
    if hdr and hdr.get("flags", 0) & 1:
        flags.append("header rebuilt by the dongle's recovery")
    if c["s"]["start_time"] <= 0:
        flags.append("clock not set: start time unknown")
    if m["talk_s"] < MIN_TALK_S:
        flags.append("short: %s of talk, counts only" % mmss(m["talk_s"]))
    return flags


# the per-call CSV: the calls table's figures and the call's mark (mark, mark_note last)
CALL_CSV = ("device_id", "session_id", "start_time", "rep", "team", "start_local",
            "seconds", "talk_s", "talk_ratio", "rep_s",
            "customer_s", "talkovers", "talkovers_rep", "talkovers_customer",
            "talkover_rep_s", "talkover_customer_s", "overlap_s", "longest_monologue_s",
            "median_response_s", "dead_air_s", "median_rate_sps", "median_pitch_sd_st",
            "overruns", "lost_audio_s", "flags", "mark", "mark_note")


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
            _td(rep_label(c["rep"]), cls="l", title=c["rep"]),
            _td(when(s["start_time"]) or "clock not set", s["start_time"], "l"),
            _td(mmss(m["seconds"]), m["seconds"]), _num(m.get("talk_ratio"), pct),
            _td(by, m.get("talkovers", 0)), _num(m.get("longest_monologue_s"), mmss),
            _num(m.get("median_response_s"), "%.1f"), _num(m.get("dead_air_s"), mmss),
            _num(m.get("median_rate_sps"), "%.2f"), _num(m.get("median_pitch_sd_st"), "%.2f"),
            _td(cues, cls="l"), _mark(c["check"]),
            _td("; ".join(c["flags"]), cls="l")))
    return '<table class="sortable calls">%s<tbody>\n%s</tbody></table>' % (
        _head(cols), "".join(rows))


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


def _metrics(recs, events):
    """call_metrics, with the values the rep's medians are taken over."""
    m = call_metrics(recs, events)
    if recs:
        m["rate_values"] = np.array([r["rate_csps"] for r in recs
                                     if r["rate_csps"] >= 0]) / 100
        m["pitch_sd_values"] = np.array([r["pitch_sd_cents"] for r in recs
                                         if r["pitch_sd_cents"] >= 0]) / 100
    return m


def join_parts(calls):
    """A call the dongle split into parts (a long call or a full flash; LOGFORMAT.md,
    "Space policy": each later part's header names the part before, with the call's
    start time) is one call: its parts' records and events joined, its mark the worst
    of theirs. A part whose part before is not in `calls` stays on its own (flagged)."""
    from callcue.archive.integrity import NOT_SIGNED, NOT_VERIFIED, Check

    last, joined = {}, set()
    for c in sorted(calls, key=lambda c: (c["s"]["device_id"], c["s"]["start_time"],
                                          c["s"]["session_id"])):
        s, h = c["s"], c["header"] or {}
        head = last.pop((s["device_id"], h.get("continues"), s["start_time"]), None) \
            if h.get("continues") else None
        if head is not None:
            head["recs"] = head["recs"] + c["recs"]
            head["events"] = None if head["events"] is None or c["events"] is None \
                else head["events"] + c["events"]
            head["parts"].append(s)
            rank = {NOT_VERIFIED: 2, NOT_SIGNED: 1}
            if rank.get(c["check"].mark, 0) > rank.get(head["check"].mark, 0):
                head["check"] = Check(c["check"].mark, "session %d: %s" % (
                    s["session_id"], c["check"].note), c["check"].seal)
            joined.add(id(c))
        last[(s["device_id"], s["session_id"], s["start_time"])] = head or c
    out = [c for c in calls if id(c) not in joined]
    for c in out:
        if len(c["parts"]) > 1:
            c["m"] = _metrics(c["recs"], c["events"])
    return out


def build(ar, sessions, pdf=None, store=None, csv_rows=None, team_rows=None,
          title="all teams", stats=None):
    """The report's HTML text for archive rows `sessions` (with their rep and team, see
    with_reps; added if missing); writes a PDF of the plots too when `pdf` is a path.
    Each call is marked verified, not signed or not verified (callcue.archive.integrity, with
    the keys of `store`); `csv_rows`, a list, gets a dict per call (CALL_CSV),
    `team_rows` one per rep, team and band (TEAM_CSV); `stats`, a dict, gets the number
    of calls (a call the dongle split into parts is one)."""
    from callcue.archive.integrity import check_session
    from firmware.logformat import decode_header

    if sessions and "rep" not in sessions[0]:
        sessions = with_reps(ar, sessions)
    calls = []
    for s in sessions:
        recs = ar.records(s["pk"])
        events = ar.events(s["pk"]) if (s.get("log_format") or 1) >= 2 else None
        raw = ar.raw(s["pk"])
        try:
            header = decode_header(raw) if raw else None
        except ValueError:
            header = None
        calls.append({"s": s, "m": _metrics(recs, events), "recs": recs, "events": events,
                      "header": header, "check": check_session(ar, s, store),
                      "rep": s["rep"], "team": s["team"], "parts": [s]})
    calls = join_parts(calls)
    for c in calls:
        c["flags"] = quality_flags(c)
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
                              html.escape(_team_name(team)), html.escape(name), _png(fig)))
            if pages is not None:
                pages.savefig(fig)
        else:
            trends.append('<p class="note">%s: calls on one date only; trends need '
                          "two or more.</p>" % html.escape(_team_name(team)))
    sections = []
    for c in calls:
        s, m = c["s"], c["m"]
        if csv_rows is not None:
            csv_rows.append({
                **{k: m.get(k) for k in CALL_CSV}, "device_id": s["device_id"],
                "session_id": s["session_id"], "start_time": s["start_time"],
                "rep": c["rep"], "team": c["team"], "start_local": when(s["start_time"]),
                "lost_audio_s": m["lost_frames"] / 100, "flags": "; ".join(c["flags"]),
                "mark": c["check"].mark, "mark_note": c["check"].note})
        cls = c["check"].mark.replace(" ", "-")
        quality = ['<span class="%s">%s</span> <span class="note">(%s)</span>' % (
            cls, html.escape(c["check"].mark), html.escape(c["check"].note))]
        quality += ['<span class="flag">%s</span>' % html.escape(f) for f in c["flags"]]
        name = _title(c)
        img = ""
        if c["recs"]:
            fig = call_figure(c["recs"], name, c["events"])
            img = '<img alt="timeline of %s" src="data:image/png;base64,%s">' % (
                html.escape(name), _png(fig))
            if pages is not None:
                pages.savefig(fig)
        sections.append(
            '<section id="call-%d"><h3>%s <span class="note">(%s session%s %s, archive '
            "row%s %s)</span></h3>\n<p class=\"sentence\">%s</p>\n<p class=\"quality\">"
            "Data: %s</p>\n%s</section>\n" % (
                s["pk"], html.escape(name), html.escape(s["device_id"]),
                "s" * (len(c["parts"]) > 1), _and(["%d" % p["session_id"] for p in c["parts"]]),
                "s" * (len(c["parts"]) > 1), _and(["%d" % p["pk"] for p in c["parts"]]),
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
<style>{_CSS}</style></head><body>
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
{_JS}
</body></html>
"""


def _zone():
    """This computer's time zone as 'CET, UTC+01:00' (or 'UTC')."""
    name, off = time.strftime("%Z"), time.strftime("%z")
    if off in ("+0000", "-0000", ""):
        return "UTC"
    return "%s, UTC%s:%s" % (name, off[:3], off[3:])


# ------------------------------------------------------------------------ summary

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
    head = _head([(h, "l" if f == "%s" else "") for _, h, f in cols])
    body = []
    for r in rows:
        cells = []
        for k, _, f in cols:
            if k == "rep":
                cells.append(_td(rep_label(r[k]), cls="l", title=r[k]))
            elif f == "%s":
                cells.append(_td(r[k], cls="l"))
            else:
                cells.append(_num(r[k], f))
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
<style>{_CSS}</style></head><body>
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
{_JS}
</body></html>
"""


