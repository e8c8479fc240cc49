"""`callcue report`: a self-contained HTML report of archived calls, plots embedded as PNG.

Per call: a timeline (who spoke each second, overlap seconds, each talk-over coloured by
who interrupted, cue seconds), the rolling speaking rate and pitch SD; a summary table of
every call with talk-over count and time by interrupter; per device, trends across
calls. Everything comes from the archive's per-second records and talk-over events
(device units, see firmware/LOGFORMAT.md). Logs of format 1 (firmware before talk-over
events) have counts only: their overlaps are drawn in one colour and the by-interrupter
columns show "-".

With --summary the report is one row per rep and one per team over the chosen dates (a
whole contact centre's months of calls, or one team's), every figure computed in the
database (callcue.archive.Archive.summary): no per-call plots, and --csv writes the same
rows for spreadsheets.
"""

import base64
import csv
import datetime as dt
import html
import io
import os
import time

import numpy as np

from callcue.archive import ArchiveError, open_for_cli
from callcue.devices import HostError

CUE_NAMES = ("none", "talkover", "fast", "flat", "dead_air")
CUE_COLOURS = {"talkover": "#d62728", "fast": "#ff7f0e", "flat": "#9467bd",
               "dead_air": "#7f7f7f"}
REP, CUSTOMER, OVERLAP = "#1f77b4", "#2ca02c", "#d62728"
OVERLAP_ANY = "#7f7f7f"   # overlap seconds when talk-overs are drawn on top of them
INTERRUPTER_COLOURS = {"rep": "#d62728", "customer": "#17becf"}
INTERRUPTERS = ("rep", "customer")


def add_args(p):
    p.epilog = ("examples: callcue report --archive ~/callcue --out report.html\n"
                "          callcue report --archive ~/callcue --device cc-0001 "
                "--since 2026-11-01 --out nov.html --pdf nov.pdf")
    p.add_argument("--archive", required=True, metavar="DIR|URL",
                   help="archive folder or postgresql:// URL")
    p.add_argument("--session", metavar="ID",
                   help="one session: archive row number, or DEVICE:SESSION")
    p.add_argument("--device", metavar="ID", help="only this device's calls")
    p.add_argument("--since", metavar="YYYY-MM-DD", help="only calls started on or after")
    p.add_argument("--until", metavar="YYYY-MM-DD", help="only calls started before")
    p.add_argument("--summary", action="store_true",
                   help="one row per rep and per team (computed in the database), no plots")
    p.add_argument("--team", metavar="TEAM", help="with --summary: only this team's reps")
    p.add_argument("--csv", metavar="FILE", help="the table's rows as CSV too (per call, with "
                   "its mark: verified, not signed, not verified; or with --summary)")
    p.add_argument("--out", required=True, metavar="report.html", help="HTML file to write")
    p.add_argument("--pdf", metavar="report.pdf", help="also write the plots as a PDF")
    from callcue.devcmd import add_keys_arg

    add_keys_arg(p)


# ------------------------------------------------------------------------ metrics


def _runs(mask):
    """Lengths of the runs of True in a boolean array."""
    if not mask.any():
        return np.zeros(0, int)
    d = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    return np.flatnonzero(d == -1) - np.flatnonzero(d == 1)


def _speech_span(active):
    on = np.flatnonzero(active > 0)
    return slice(on[0], on[-1] + 1) if on.size else slice(0, 0)


def talkover_metrics(events):
    """Talk-over count and time (s) by interrupter from a call's events."""
    out = {}
    for i, who in enumerate(INTERRUPTERS):
        mine = [e for e in events if e["interrupter"] == i]
        out[f"talkovers_{who}"] = len(mine)
        out[f"talkover_{who}_s"] = sum(e["end_f"] - e["start_f"] for e in mine) / 100
    return out


def call_metrics(recs, events=None):
    """The summary figures of one call from its per-second records and, when the log has
    them (format 2), its talk-over events (device units)."""
    col = {k: np.array([r[k] for r in recs], dtype=np.int64) for k in recs[0]} if recs else {}
    n = len(recs)
    if not n:
        return {"seconds": 0, **(talkover_metrics(events) if events is not None else {})}
    rep, cust, both = col["rep_active_ms"], col["customer_active_ms"], col["overlap_ms"]
    talk = (rep.sum() + cust.sum()) / 1000
    rate = col["rate_csps"][col["rate_csps"] >= 0] / 100
    sd = col["pitch_sd_cents"][col["pitch_sd_cents"] >= 0] / 100
    cue = col["cue"]
    onsets = (cue != 0) & np.concatenate([[True], cue[1:] != cue[:-1]])
    hours = n / 3600
    return {
        "seconds": n,
        "rep_s": rep.sum() / 1000,
        "customer_s": cust.sum() / 1000,
        "talk_ratio": rep.sum() / 1000 / talk if talk else None,
        "talkovers": int(col["talkovers"].sum()),
        "overlap_s": both.sum() / 1000,
        "longest_monologue_s": int(_runs((rep >= 500) & (cust < 200)).max(initial=0)),
        # silent seconds between the first and the last speech (not the call-end tail)
        "dead_air_s": int(((rep == 0) & (cust == 0))[_speech_span(rep + cust)].sum()),
        "median_rate_sps": float(np.median(rate)) if rate.size else None,
        "median_pitch_sd_st": float(np.median(sd)) if sd.size else None,
        "cues_per_hour": {name: int(onsets[cue == i].sum()) / hours
                          for i, name in enumerate(CUE_NAMES) if i},
        "overruns": int(col["overruns"].max()),
        **(talkover_metrics(events) if events is not None else {}),
    }


# ------------------------------------------------------------------------ plots


def _png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def call_figure(recs, title, events=None):
    """The call's timeline; `events` (talk-overs, None for a format-1 log) are drawn as
    spans across both lanes, coloured by who interrupted."""
    from matplotlib.figure import Figure

    t0 = recs[0]["t_s"]
    t = np.array([r["t_s"] for r in recs]) - t0
    fig = Figure(figsize=(10, 4.2))
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
            steps((cues == i).astype(float), 2.0, 0.15, CUE_COLOURS[name], "cue: " + name)
    ax1.set_yticks([0.5, 1.5], ["customer", "rep"])
    ax1.set_ylim(0, 2.2)
    ax1.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7)
    ax1.set_title(title, fontsize=10)
    rate = np.array([r["rate_csps"] / 100 if r["rate_csps"] >= 0 else np.nan for r in recs])
    sd = np.array([r["pitch_sd_cents"] / 100 if r["pitch_sd_cents"] >= 0 else np.nan
                   for r in recs])
    ax2.plot(t, rate, color=REP)
    ax2.set_ylabel("rate\nsyl/s", fontsize=8)
    ax3.plot(t, sd, color="#8c564b")
    ax3.set_ylabel("pitch SD\nst", fontsize=8)
    ax3.set_xlabel("seconds into the call")
    fig.subplots_adjust(left=0.08, right=0.81, hspace=0.15)
    return fig


def trend_figure(device_id, rows):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.2))
    axes = fig.subplots(1, 4)
    x = np.arange(1, len(rows) + 1)
    for ax, (key, label) in zip(axes, (("talk_ratio", "rep talk ratio"),
                                       ("talkovers_per_min", "talk-overs / min"),
                                       ("median_rate_sps", "median rate syl/s"),
                                       ("median_pitch_sd_st", "median pitch SD st"))):
        y = [np.nan if m.get(key) is None else m[key] for _, m in rows]
        ax.plot(x, y, "o-", color=REP)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("call #", fontsize=8)
    fig.suptitle(f"{device_id}: trends across {len(rows)} calls", fontsize=10)
    fig.subplots_adjust(left=0.05, right=0.98, wspace=0.35, top=0.8, bottom=0.18)
    return fig


# ------------------------------------------------------------------------ HTML


def _fmt(v, spec="%.2f"):
    return "-" if v is None else spec % v


_CSS = """body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;
font-size:13px}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#eee}img{max-width:100%;display:block;margin:.5em 0 1.5em}
.note{color:#666;font-size:12px}td.mark{text-align:left}.verified{color:#1a7f37}
.not-signed{color:#666}.not-verified{color:#fff;background:#c62828;font-weight:bold}"""

# the per-call CSV: the summary table's figures and the call's mark
CALL_CSV = ("device_id", "session_id", "start_time", "seconds", "talk_ratio", "rep_s",
            "customer_s", "talkovers", "talkovers_rep", "talkovers_customer",
            "talkover_rep_s", "talkover_customer_s", "overlap_s", "longest_monologue_s",
            "dead_air_s", "median_rate_sps", "median_pitch_sd_st", "overruns", "mark",
            "mark_note")


def _mark(check):
    return '<td class="mark %s" title="%s">%s</td>' % (
        check.mark.replace(" ", "-"), html.escape(check.note), html.escape(check.mark))


def build(ar, sessions, pdf=None, store=None, csv_rows=None):
    """The report's HTML text for archive rows `sessions`; writes a PDF of the plots too
    when `pdf` is a path. Each call is marked verified, not signed or not verified
    (callcue.integrity, with the keys of `store`); `csv_rows`, a list, gets a dict per
    call (CALL_CSV)."""
    from callcue.integrity import check_session

    pages = None
    if pdf is not None:
        from matplotlib.backends.backend_pdf import PdfPages

        pages = PdfPages(pdf)
    calls, by_device, table = [], {}, []
    for s in sessions:
        recs = ar.records(s["pk"])
        events = ar.events(s["pk"]) if (s.get("log_format") or 1) >= 2 else None
        m = call_metrics(recs, events)
        check = check_session(ar, s, store)
        m["talkovers_per_min"] = m["talkovers"] / (m["seconds"] / 60) if m["seconds"] else None
        start = (dt.datetime.fromtimestamp(s["start_time"]).strftime("%Y-%m-%d %H:%M:%S")
                 if s["start_time"] > 0 else "clock not set")
        name = f"{s['device_id']} session {s['session_id']} ({start})"
        by_device.setdefault(s["device_id"], []).append((s, m))
        cph = m.get("cues_per_hour", {})
        table.append(
            "<tr><td>%s</td>%s<td>%d</td><td>%s</td><td>%s</td><td>%d</td><td>%s</td>"
            "<td>%s</td><td>%s</td>"
            "<td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>" % (
                html.escape(name), _mark(check), m["seconds"], _fmt(m.get("talk_ratio")),
                _fmt(m.get("rep_s"), "%.0f") + " / " + _fmt(m.get("customer_s"), "%.0f"),
                m.get("talkovers", 0),
                _fmt(m.get("talkovers_rep"), "%d") + " / "
                + _fmt(m.get("talkovers_customer"), "%d"),
                _fmt(m.get("talkover_rep_s"), "%.1f") + " / "
                + _fmt(m.get("talkover_customer_s"), "%.1f"),
                _fmt(m.get("overlap_s"), "%.1f"),
                _fmt(m.get("longest_monologue_s"), "%d"), _fmt(m.get("dead_air_s"), "%d"),
                _fmt(m.get("median_rate_sps")), _fmt(m.get("median_pitch_sd_st")),
                ", ".join("%s %.0f" % (k, v) for k, v in cph.items() if v) or "-",
                m.get("overruns", 0)))
        if csv_rows is not None:
            csv_rows.append({**{k: m.get(k) for k in CALL_CSV}, "device_id": s["device_id"],
                             "session_id": s["session_id"], "start_time": s["start_time"],
                             "mark": check.mark, "mark_note": check.note})
        if recs:
            fig = call_figure(recs, name, events)
            calls.append(f"<h3>{html.escape(name)} "
                         f'<span class="{check.mark.replace(" ", "-")}">'
                         f"({html.escape(check.mark)})</span></h3>\n"
                         f'<p class="note">{html.escape(check.note)}</p>\n'
                         f'<img alt="timeline of {html.escape(name)}" '
                         f'src="data:image/png;base64,{_png(fig)}">')
            if pages is not None:
                pages.savefig(fig)
    trends = []
    for device_id, rows in by_device.items():
        if len(rows) >= 2:
            fig = trend_figure(device_id, [(s, m) for s, m in rows])
            trends.append(f"<h3>{html.escape(device_id)}</h3>\n"
                          f'<img alt="trends of {html.escape(device_id)}" '
                          f'src="data:image/png;base64,{_png(fig)}">')
            if pages is not None:
                pages.savefig(fig)
    if pages is not None:
        pages.close()
    made = time.strftime("%Y-%m-%d %H:%M")
    head = ("<tr><th>call</th><th>data</th><th>s</th><th>rep talk ratio</th>"
            "<th>talk s rep / cust</th>"
            "<th>talk-overs</th><th>talk-overs by rep / cust</th>"
            "<th>talk-over s by rep / cust</th><th>overlap s</th>"
            "<th>longest rep monologue s</th>"
            "<th>dead air s</th><th>median rate syl/s</th><th>median pitch SD st</th>"
            "<th>cues per hour</th><th>overruns</th></tr>")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>callcue report</title>
<style>{_CSS}</style></head><body>
<h1>callcue report</h1>
<p>{len(sessions)} call(s), {len(by_device)} device(s); made {made}.</p>
<h2>Summary</h2>
<table>{head}
{"".join(table)}
</table>
<p class="note">Talk-overs: both parties speaking at once for at least the configured
minimum (backchannels excluded); "by rep" means the rep began speaking while the customer
already was. Talk-over time runs from the first to the last overlapping frame. In the
timelines each talk-over is a span coloured by who interrupted (red: the rep, cyan: the
customer); grey is any overlap, per second. Calls logged by firmware before talk-over
events (log format 1) show "-" by interrupter and overlaps in one colour.
Dead air: seconds where neither party spoke, between the call's first and last speech.
Data: <b>verified</b>, the figures are the dongle's own (the rows match its session log,
whose seals verify under the device's key); <b>not signed</b>, the rows match the log but
nothing proves the log (no key known for the device, or recorded before it had one);
<b>not verified</b>, the rows differ from the log or its seal is broken: do not judge
anyone by that call (`callcue logs verify` says why).</p>
{"<h2>Trends</h2>" + "".join(trends) if trends else ""}
<h2>Calls</h2>
{"".join(calls)}
</body></html>
"""


def run(args):
    from callcue.archive_cmd import parse_day

    since = parse_day(args.since, "--since") if args.since else None
    until = parse_day(args.until, "--until") if args.until else None
    if not args.summary and args.team:
        raise HostError("--team", "goes with --summary", code=2)
    from callcue.keys import KeyStore

    store = KeyStore(args.keys)
    with open_for_cli(args.archive, create=False) as ar:
        t0 = time.monotonic()
        try:
            if args.summary:
                return _summary(ar, args, since, until, t0)
            try:
                sessions = ar.sessions(args.session, args.device, since, until)
            except ValueError:
                raise HostError("--session", "give an archive row number or DEVICE:SESSION",
                                code=2) from None
            if not sessions:
                raise HostError(ar.name, "no archived calls match; check --session, "
                                "--device, --since and --until (or pull logs first)")
            rows = []
            text = build(ar, sessions, args.pdf, store, rows)
        except ArchiveError as e:
            raise HostError(ar.name, str(e)) from None
    if args.csv:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=CALL_CSV)
        w.writeheader()
        for r in rows:
            w.writerow({k: "" if v is None else v for k, v in r.items()})
        _write(args.csv, buf.getvalue())
    _write(args.out, text)
    print("wrote %s: %d call(s) in %.1f s%s" % (
        args.out, len(sessions), time.monotonic() - t0,
        f"; plots also in {args.pdf}" if args.pdf else "") + (
        f"; CSV in {args.csv}" if args.csv else ""))
    return 0


def _write(path, text):
    """Write `text` to `path` whole (a temporary file beside it, then a rename)."""
    tmp = "%s.%d.tmp" % (path, os.getpid())
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise HostError(path, e.strerror or str(e)) from None


# ------------------------------------------------------------------------ summary

# (column, heading, format) of the per-rep and per-team tables and the CSV
SUMMARY_COLUMNS = (
    ("team", "team", "%s"), ("rep", "rep", "%s"), ("calls", "calls", "%d"),
    ("talk_hours", "call hours", "%.1f"), ("talk_ratio", "rep talk ratio", "%.2f"),
    ("talkovers_per_hour", "talk-overs / h", "%.1f"),
    ("talkovers_rep_per_hour", "by rep / h", "%.1f"),
    ("talkovers_customer_per_hour", "by customer / h", "%.1f"),
    ("overlap_s_per_hour", "overlap s / h", "%.0f"),
    ("dead_air_s_per_call", "dead air s / call", "%.1f"),
    ("median_rate_sps", "median rate syl/s", "%.2f"),
    ("median_pitch_sd_st", "median pitch SD st", "%.2f"),
    *((f"cues_{c}_per_hour", f"{c.replace('_', ' ')} cues / h", "%.1f")
      for c in CUE_NAMES[1:]),
    ("calls_with_overruns", "calls with overruns", "%d"),
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
    head = "".join(f"<th>{html.escape(h)}</th>" for _, h, _ in cols)
    body = "".join(
        "<tr>" + "".join("<td>%s</td>" % html.escape(_fmt(r[k], f) if f != "%s" else r[k])
                         for k, _, f in cols) + "</tr>\n" for r in rows)
    return f"<table><tr>{head}</tr>\n{body}</table>"


def build_summary(summary, title):
    teams = [summary_row(r) for r in summary["teams"]]
    reps = [summary_row(r) for r in summary["reps"]]
    made = time.strftime("%Y-%m-%d %H:%M")
    n_calls = sum(t["calls"] for t in teams)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>callcue summary</title>
<style>{_CSS}</style></head><body>
<h1>callcue summary: {html.escape(title)}</h1>
<p>{n_calls} call(s), {len(reps)} rep(s), {len(teams)} team(s); made {made}.</p>
<h2>Teams</h2>
{summary_table(teams, with_rep=False)}
<h2>Reps</h2>
{summary_table(reps)}
<p class="note">Per hour: per hour of call time. Talk-overs by rep / by customer count
only calls logged with each talk-over (log format 2); "-" where a row has older calls.
Dead air: seconds where neither party spoke, between a call's first and last speech.
Medians are over every second of the rows' calls that had a rate (or a pitch spread).
A device never assigned to a rep (callcue archive assign) stands for its own rep.</p>
</body></html>
"""


def _summary(ar, args, since, until, t0):
    if args.session or args.device or args.pdf:
        raise HostError("--summary", "takes --since, --until and --team (not --session, "
                        "--device or --pdf)", code=2)
    summary = ar.summary(since, until, args.team)
    if not summary["teams"]:
        raise HostError(ar.name, "no archived calls match; check --team, --since and "
                        "--until (or pull logs first)")
    seconds = time.monotonic() - t0
    title = "team %s" % args.team if args.team else "all teams"
    if args.since or args.until:
        title += ", %s to %s" % (args.since or "start", args.until or "now")
    _write(args.out, build_summary(summary, title))
    if args.csv:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow([c for c, _, _ in SUMMARY_COLUMNS])
        for r in [summary_row(x) for x in summary["teams"]] + \
                [summary_row(x) for x in summary["reps"]]:
            w.writerow(["" if r[c] is None else r[c] for c, _, _ in SUMMARY_COLUMNS])
        _write(args.csv, buf.getvalue())
    print("wrote %s: %d rep(s) in %d team(s), %d call(s); queried in %.2f s%s" % (
        args.out, len(summary["reps"]), len(summary["teams"]),
        sum(t["calls"] for t in summary["teams"]), seconds,
        f"; CSV in {args.csv}" if args.csv else ""))
    return 0
