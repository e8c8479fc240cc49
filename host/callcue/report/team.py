"""The report's reps and teams: which rep and team each call belongs to, one rep's (or a
team's) figures over their calls, the team band (the middle half of its reps) with the
reps far outside it, and the team table's rows and CSV.

Reps come from the archive's assignments (callcue archive assign; a dongle never
assigned is its own rep, "device:ID"). Calls marked not verified are left out of every
figure; per-hour rates count only calls with at least MIN_TALK_S of talk."""

import numpy as np

from callcue.device.human import mmss
from callcue.report.words import pct

# Per-hour rates only over calls with at least this much talk (s): a talk-over in a
# 7-second call is not "514 an hour"
MIN_TALK_S = 60


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
