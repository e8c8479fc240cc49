"""The one summary of a call: its figures from the per-second records and talk-over
events (device units, firmware/LOGFORMAT.md), whoever made them: the dongle's log (report,
`sim --pull`) or the engine on the host (`analyze`, through records_from_analysis).

    m = call_metrics(records, events)    # {"rep_s", "talk_ratio", "talkovers", ...}
    for line in summary_lines(m):        # the text summary of `analyze` and `sim --pull`
        print(line)

callcue report builds its tables, sentences and team figures on call_metrics.
"""

import numpy as np

from callcue.device.human import mmss
from dsp.cues import CUE_NAMES

INTERRUPTERS = ("rep", "customer")  # a talk-over event's interrupter, by index
# A party speaks in a second with at least this much speech (ms): turns and answers
ACTIVE_MS = 200


def _runs(mask):
    """Lengths of the runs of True in a boolean array."""
    if not mask.any():
        return np.zeros(0, int)
    d = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    return np.flatnonzero(d == -1) - np.flatnonzero(d == 1)


def _speech_span(active):
    on = np.flatnonzero(active > 0)
    return slice(on[0], on[-1] + 1) if on.size else slice(0, 0)


def response_gaps(rep, cust, both):
    """How long the rep took to answer each time the customer stopped (s), from the
    per-second activity (ms each party spoke each second; the log keeps no finer
    timing). A customer turn ends in second i (customer speaking in i, silent in i+1)
    while the rep was listening (silent in i-1). The answer is the rep's next second of
    speech, if it comes before the customer speaks again; each second's speech is
    taken to sit at the turn's edge (the customer's at the start of their last second,
    the rep's at the end of their first), so one gap is good to about a second, and a
    median over many turns is steadier. An answer that overlaps the customer is a
    talk-over, not a response, and is left out."""
    gaps = []
    n = len(rep)
    for i in range(n - 1):
        if cust[i] < ACTIVE_MS or cust[i + 1] >= ACTIVE_MS or (i and rep[i - 1] >= ACTIVE_MS):
            continue
        if rep[i] >= ACTIVE_MS:
            # the rep began in the customer's last second: after them, if they did not
            # overlap (then the two shares of the second and the silence add up to 1 s)
            if both[i] < ACTIVE_MS:
                gaps.append(max(0.0, 1.0 - (cust[i] + rep[i] - both[i]) / 1000))
            continue
        for j in range(i + 1, n):
            if cust[j] >= ACTIVE_MS:
                break                         # the customer went on: no answer
            if rep[j] >= ACTIVE_MS:
                gaps.append((j - i - 1) + (1000 - cust[i]) / 1000 + (1000 - rep[j]) / 1000)
                break
    return gaps


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
        return {"seconds": 0, "talk_s": 0.0, "responses_s": [], "cue_counts": {},
                "lost_frames": 0, "missing_s": 0,
                **(talkover_metrics(events) if events is not None else {})}
    rep, cust, both = col["rep_active_ms"], col["customer_active_ms"], col["overlap_ms"]
    talk = (rep.sum() + cust.sum()) / 1000
    rate = col["rate_csps"][col["rate_csps"] >= 0] / 100
    sd = col["pitch_sd_cents"][col["pitch_sd_cents"] >= 0] / 100
    cue = col["cue"]
    onsets = (cue != 0) & np.concatenate([[True], cue[1:] != cue[:-1]])
    hours = n / 3600
    gaps = response_gaps(rep, cust, both)
    over = col.get("overruns", np.zeros(1, np.int64))
    return {
        "seconds": n,
        "rep_s": rep.sum() / 1000,
        "customer_s": cust.sum() / 1000,
        # seconds in which someone spoke, overlaps once
        "talk_s": (rep.sum() + cust.sum() - both.sum()) / 1000,
        "talk_ratio": rep.sum() / 1000 / talk if talk else None,
        "talkovers": (int(col["talkovers"].sum()) if "talkovers" in col
                      else len(events or ())),
        "overlap_s": both.sum() / 1000,
        "longest_monologue_s": int(_runs((rep >= 500) & (cust < 200)).max(initial=0)),
        # silent seconds between the first and the last speech (not the call-end tail)
        "dead_air_s": int(((rep == 0) & (cust == 0))[_speech_span(rep + cust)].sum()),
        "median_rate_sps": float(np.median(rate)) if rate.size else None,
        "median_pitch_sd_st": float(np.median(sd)) if sd.size else None,
        "responses_s": gaps,
        "median_response_s": float(np.median(gaps)) if gaps else None,
        "cue_counts": {name: int(onsets[cue == i].sum())
                       for i, name in enumerate(CUE_NAMES) if i},
        "cues_per_hour": {name: int(onsets[cue == i].sum()) / hours
                          for i, name in enumerate(CUE_NAMES) if i},
        "overruns": int(over.max()),
        # the capture's counter runs from the dongle's boot: this call's loss is its rise
        "lost_frames": int(over[-1] - over[0]),
        # seconds the log has no record of (dropped for space or by recovery)
        "missing_s": int(col["t_s"][-1] - col["t_s"][0] + 1 - n),
        **(talkover_metrics(events) if events is not None else {}),
    }



def records_from_analysis(doc):
    """The analysis JSON's (callcue.analysis/1) per-second records and talk-over events
    back in device units, as call_metrics takes them."""
    def centi(v):
        return -1 if v is None else round(v * 100)

    recs = [{"t_s": s["t_s"], "rep_active_ms": s["rep_active_ms"],
             "customer_active_ms": s["customer_active_ms"], "overlap_ms": s["overlap_ms"],
             "syllables": s["syllables"], "rate_csps": centi(s["rate_sps"]),
             "pitch_sd_cents": centi(s["pitch_sd_st"]), "cue": CUE_NAMES.index(s["cue"])}
            for s in doc["seconds"]]
    events = [{"start_f": round(e["start_s"] * 100), "end_f": round(e["end_s"] * 100),
               "interrupter": INTERRUPTERS.index(e["interrupter"])}
              for e in doc["talkover_events"]]
    return recs, events


def summary_lines(m):
    """call_metrics `m` as lines of text: talk, talk-overs, rate, pitch, cues, floor."""
    if not m["seconds"]:
        return ["no per-second records"]
    rep, cust = m["rep_s"], m["customer_s"]
    share = ("rep %.0f%% : customer %.0f%%" % (100 * rep / (rep + cust), 100 * cust / (rep + cust))
             if rep + cust else "-")
    n = m["talkovers"]
    if "talkovers_rep" in m:
        who = "rep interrupted %d, customer interrupted %d" % (m["talkovers_rep"],
                                                              m["talkovers_customer"])
    else:
        who = "who started them is not logged"
    rate, sd = m["median_rate_sps"], m["median_pitch_sd_st"]
    response = m["median_response_s"]
    return [
        "talk       rep %.1f s, customer %.1f s (%s), overlap %.1f s" % (
            rep, cust, share, m["overlap_s"]),
        "talk-over  %d event(s): %s" % (n, who),
        "rate       " + ("median %.2f syllables/s (rolling, per second)" % rate
                         if rate is not None else "- (no rolling rate yet)"),
        "pitch      " + ("median spread %.2f semitones (rolling, per second)" % sd
                         if sd is not None else "- (no pitch spread yet)"),
        "cues       " + ", ".join("%s %dx" % (c, k) for c, k in m["cue_counts"].items()),
        "floor      longest monologue %s, dead air %s, median response %s" % (
            mmss(m["longest_monologue_s"]), mmss(m["dead_air_s"]),
            "%.1f s" % response if response is not None else "-"),
    ]
