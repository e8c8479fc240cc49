"""The report's calls: each archived session with its records, talk-over events, header,
figures and mark (verified, not signed, not verified); the parts of a call the dongle
split joined into one; what to know about a call's data before judging by it; its
one-sentence summary and its row of the per-call CSV.

Everything is computed from the per-second records and talk-over events (device units,
see firmware/LOGFORMAT.md); a call's figures are callcue.analysis.summary's
call_metrics. Logs of format 1 (firmware before talk-over events) have counts only: who
started a talk-over is then unknown and left empty."""

import numpy as np

from callcue.analysis.summary import call_metrics
from callcue.device.human import mmss
from callcue.report.team import MIN_TALK_S
from callcue.report.words import and_list, pct, when


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
    return "%s%s; %s." % (head, short, and_list(parts))


def _metrics(recs, events):
    """call_metrics, with the values the rep's medians are taken over."""
    m = call_metrics(recs, events)
    if recs:
        m["rate_values"] = np.array([r["rate_csps"] for r in recs
                                     if r["rate_csps"] >= 0]) / 100
        m["pitch_sd_values"] = np.array([r["pitch_sd_cents"] for r in recs
                                         if r["pitch_sd_cents"] >= 0]) / 100
    return m


def load_calls(ar, sessions, store=None):
    """The report's calls from archive rows `sessions` (with their rep and team, see
    callcue.report.team.with_reps): dicts with s (the row), m (figures), recs, events
    (None for a format-1 log), header, check (callcue.archive.integrity, with the keys of
    `store`), rep, team, parts (the rows of a call the dongle split) and flags."""
    from callcue.archive.integrity import check_session
    from firmware.logformat import decode_header

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
    return calls


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
            len(c["parts"]), and_list(["%d" % p["session_id"] for p in c["parts"]])))
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


def call_csv_row(c):
    """A call's row of the per-call CSV (CALL_CSV)."""
    s, m = c["s"], c["m"]
    return {
        **{k: m.get(k) for k in CALL_CSV}, "device_id": s["device_id"],
        "session_id": s["session_id"], "start_time": s["start_time"],
        "rep": c["rep"], "team": c["team"], "start_local": when(s["start_time"]),
        "lost_audio_s": m["lost_frames"] / 100, "flags": "; ".join(c["flags"]),
        "mark": c["check"].mark, "mark_note": c["check"].note}
