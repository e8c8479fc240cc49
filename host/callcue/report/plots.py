"""The report's plots (matplotlib), as PNG for the page or pages of a PDF: a call's
timeline (who spoke each second, each talk-over coloured by who started it, cues, the
rolling rate and pitch spread) and a team's trends by date over its band.

matplotlib is imported inside the functions: `callcue --help` and every command that
draws nothing must not pay for it."""

import base64
import datetime as dt
import io

import numpy as np

from callcue.analysis.summary import INTERRUPTERS
from callcue.device.human import mmss
from callcue.report.words import CUE_LABELS, rep_label
from dsp.cues import CUE_NAMES

CUE_COLOURS = {"talkover": "#d62728", "fast": "#ff7f0e", "flat": "#9467bd",
               "dead_air": "#7f7f7f"}
REP, CUSTOMER, OVERLAP = "#1f77b4", "#2ca02c", "#d62728"
OVERLAP_ANY = "#7f7f7f"   # overlap seconds when talk-overs are drawn on top of them
INTERRUPTER_COLOURS = {"rep": "#d62728", "customer": "#17becf"}
# Plots: 14 x dpi pixels wide, drawn at the page's width; text at least FONT_PT
PLOT_DPI, PLOT_W_IN, FONT_PT = 100, 14.0, 12


def png(fig):
    """`fig` as base64 PNG, for an <img> data: URL."""
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
