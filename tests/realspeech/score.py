"""Score `analyze_pcm` on the real-speech regression calls against their truth.

    python tests/realspeech/score.py [--fast] [--json OUT] [--param NAME=VALUE ...]

Reads build/realspeech/index.json (run build.py first: `make realspeech`), analyses every
call (WAV -> 8 kHz int16 via scipy.signal.resample_poly), prints a markdown table per call
and the summary figures; --json writes them all. Importable: score(calls, params) -> dict,
where calls are truth dicts (or NAME.json paths) and params a callcue Params.
"""

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OUT = ROOT / "build" / "realspeech"
CALLS = OUT / "calls"

MATCH_START_S = 1.0  # engine talk-over start within this of the truth start
EXPLAIN_MARGIN_S = 1.0


def load_call(truth):
    """(rep, customer) int16 arrays at 8 kHz for a truth dict."""
    x, sr = sf.read(CALLS / f"{truth['name']}.wav", dtype="float64", always_2d=True)
    if sr != 8000:
        g = np.gcd(int(sr), 8000)
        x = resample_poly(x, 8000 // g, int(sr) // g, axis=0)
    pcm = np.round(x * 32768).clip(-32768, 32767).astype(np.int16)
    return pcm[:, 0], pcm[:, 1]


def _overlaps(a0, a1, b0, b1):
    return a0 < b1 and b0 < a1


def _median(v):
    v = [x for x in v if x is not None]
    return float(np.median(v)) if v else None


def _pct(v, q):
    v = [x for x in v if x is not None]
    return float(np.percentile(v, q)) if v else None


def _prf(tp, fp, fn):
    p = tp / (tp + fp) if tp + fp else None
    r = tp / (tp + fn) if tp + fn else None
    f = 2 * p * r / (p + r) if p and r else (0.0 if p is not None and r is not None else None)
    return p, r, f


def score_call(truth, res):
    """Per-call figures from its truth and the analysis dict."""
    cues = res["cues"]
    ev = res["talkover_events"]
    to = truth["talkovers"]
    # talk-overs: greedy one-to-one match (overlap and starts within 1 s)
    matched, used = [], set()
    for t in to:
        best = None
        for j, e in enumerate(ev):
            if j in used or not _overlaps(e["start_s"], e["end_s"], t["start_s"], t["end_s"]):
                continue
            d = abs(e["start_s"] - t["start_s"])
            if d <= MATCH_START_S and (best is None or d < best[0]):
                best = (d, j)
        if best:
            used.add(best[1])
            matched.append((t, ev[best[1]]))
    tp = len(matched)
    fp = len(ev) - tp
    fn = len(to) - tp
    who_ok = sum(1 for t, e in matched if t["interrupter"] == e["interrupter"])
    bc_counted = 0
    for j, e in enumerate(ev):
        if j in used:
            continue
        on_bc = any(
            _overlaps(e["start_s"], e["end_s"], b["start_s"], b["end_s"])
            for b in truth["backchannels"]
        )
        on_to = any(_overlaps(e["start_s"], e["end_s"], t["start_s"], t["end_s"]) for t in to)
        if on_bc and not on_to:
            bc_counted += 1
    # cue latency: truth overlap start -> first talkover cue starting inside the overlap
    lat = []
    for t, _e in matched:
        starts = [
            c["start_s"]
            for c in cues
            if c["cue"] == "talkover" and t["start_s"] - 0.5 <= c["start_s"] <= t["end_s"] + 1.0
        ]
        lat.append(round(min(starts) - t["start_s"], 3) if starts else None)
    # dead air
    da = truth["dead_air"]
    da_cues = [c for c in cues if c["cue"] == "dead_air"]
    da_hit = [any(g["start_s"] <= c["start_s"] <= g["end_s"] for g in da) for c in da_cues]
    da_found = [any(g["start_s"] <= c["start_s"] <= g["end_s"] for c in da_cues) for g in da]
    # unexplained cues
    sd_t = truth["pitch"]["sd_semitones"]
    m = EXPLAIN_MARGIN_S
    unexplained = []
    for c in cues:
        name = c["cue"]
        if name == "talkover":
            ok = any(
                _overlaps(c["start_s"], c["end_s"], t["start_s"] - m, t["end_s"] + m) for t in to
            )
        elif name == "dead_air":
            ok = any(g["start_s"] - m <= c["start_s"] and c["end_s"] <= g["end_s"] + m for g in da)
        elif name == "flat":
            ok = sd_t <= 1.5
        elif name == "fast":
            ok = truth["tempo"] >= 1.2
        else:
            ok = False
        if not ok:
            unexplained.append(c)
    shown = sorted({c["cue"] for c in cues})
    exp = truth["expected_cues"]
    sd_e = res["pitch"]["sd_semitones"]
    rate_e = res["rate"]["articulation_rate_sps"]
    rate_t = truth["rate"]["rate_sps"]
    return {
        "name": truth["name"],
        "voice": truth["rep_voice"],
        "sex": truth["rep_sex"],
        "k": truth["k"],
        "tempo": truth["tempo"],
        "duration_s": truth["duration_s"],
        "truth_sd": sd_t,
        "engine_sd": sd_e,
        "sd_err": round(abs(sd_e - sd_t), 3) if sd_e is not None else None,
        "truth_median_hz": truth["pitch"]["median_hz"],
        "engine_median_hz": res["pitch"]["median_hz"],
        "engine_voiced_s": res["pitch"]["voiced_s"],
        "truth_rate": rate_t,
        "engine_rate": rate_e,
        "rate_source": truth["rate"]["rate_source"],
        "rate_rel_err": round(abs(rate_e - rate_t) / rate_t, 4) if rate_e else None,
        "talkover_tp": tp,
        "talkover_fp": fp,
        "talkover_fn": fn,
        "interrupter_ok": who_ok,
        "backchannels_counted": bc_counted,
        "talkover_latency_s": lat,
        "dead_air_cues": len(da_cues),
        "dead_air_cue_hits": sum(da_hit),
        "dead_air_found": sum(da_found),
        "dead_air_truth": len(da),
        "cues_shown": shown,
        "flat_cue": "flat" in shown,
        "expected_present_missing": [c for c in exp["present"] if c not in shown],
        "expected_absent_shown": [c for c in exp["absent"] if c in shown],
        "unexplained": [dict(c) for c in unexplained],
    }


def summarise(rows):
    def med_sd(sel):
        return _median([r["sd_err"] for r in rows if sel(r)])

    tp = sum(r["talkover_tp"] for r in rows)
    fp = sum(r["talkover_fp"] for r in rows)
    fn = sum(r["talkover_fn"] for r in rows)
    p, rc, f1 = _prf(tp, fp, fn)
    lat = [x for r in rows for x in r["talkover_latency_s"]]
    lat_ok = [x for x in lat if x is not None]
    flat_t = [r for r in rows if r["truth_sd"] <= 1.0]
    lively = [r for r in rows if r["truth_sd"] >= 2.0]
    # rate correlation across tempos (k = 1 calls), per voice and pooled
    corr = {}
    pooled_t, pooled_e = [], []
    for v in sorted({r["voice"] for r in rows}):
        rr = [r for r in rows if r["voice"] == v and r["k"] == 1.0 and r["engine_rate"]]
        te = [r["truth_rate"] for r in rr]
        en = [r["engine_rate"] for r in rr]
        pooled_t += te
        pooled_e += en
        corr[v] = round(float(np.corrcoef(te, en)[0, 1]), 3) if len(rr) >= 3 else None
    pooled = round(float(np.corrcoef(pooled_t, pooled_e)[0, 1]), 3) if len(pooled_t) >= 3 else None
    dtp = sum(r["dead_air_cue_hits"] for r in rows)
    dfp = sum(r["dead_air_cues"] - r["dead_air_cue_hits"] for r in rows)
    dfn = sum(r["dead_air_truth"] - r["dead_air_found"] for r in rows)
    dp, dr, df1 = _prf(dtp, dfp, dfn)

    def unexpl(sel):
        rr = [r for r in rows if sel(r)]
        mins = sum(r["duration_s"] for r in rr) / 60.0
        n = sum(len(r["unexplained"]) for r in rr)
        by = {}
        for r in rr:
            for c in r["unexplained"]:
                by[c["cue"]] = by.get(c["cue"], 0) + 1
        return {
            "calls": len(rr),
            "minutes": round(mins, 2),
            "count": n,
            "per_10_min": round(10 * n / mins, 3) if mins else None,
            "by_cue": by,
        }

    def rnd(x, d=3):
        return round(x, d) if x is not None else None

    return {
        "calls": len(rows),
        "minutes": round(sum(r["duration_s"] for r in rows) / 60, 2),
        "sd_abs_err_median": rnd(med_sd(lambda r: True)),
        "sd_abs_err_median_natural_k1": rnd(med_sd(lambda r: r["k"] == 1.0)),
        "sd_abs_err_median_flat_k0": rnd(med_sd(lambda r: r["k"] == 0.0)),
        "flat_cue_rate_truth_sd_le_1": rnd(np.mean([r["flat_cue"] for r in flat_t]))
        if flat_t
        else None,
        "flat_cue_rate_truth_sd_ge_2": rnd(np.mean([r["flat_cue"] for r in lively]))
        if lively
        else None,
        "talkover_precision": rnd(p),
        "talkover_recall": rnd(rc),
        "talkover_f1": rnd(f1),
        "talkover_tp_fp_fn": [tp, fp, fn],
        "interrupter_accuracy": rnd(sum(r["interrupter_ok"] for r in rows) / tp) if tp else None,
        "backchannels_counted_as_talkover": sum(r["backchannels_counted"] for r in rows),
        "talkover_cue_latency_median_s": rnd(_median(lat_ok)),
        "talkover_cue_latency_p90_s": rnd(_pct(lat_ok, 90)),
        "talkover_matched_without_cue": sum(1 for x in lat if x is None),
        "rate_rel_err_median": rnd(_median([r["rate_rel_err"] for r in rows]), 4),
        "rate_rel_err_median_by_source": {
            src: rnd(_median([r["rate_rel_err"] for r in rows if r["rate_source"] == src]), 4)
            for src in sorted({r["rate_source"] for r in rows})
        },
        "rate_corr_across_tempo": corr,
        "rate_corr_pooled": pooled,
        "dead_air_precision": rnd(dp),
        "dead_air_recall": rnd(dr),
        "dead_air_f1": rnd(df1),
        "unexplained_normal_calls": unexpl(lambda r: r["k"] == 1.0 and r["tempo"] <= 1.0),
        "unexplained_all_calls": unexpl(lambda r: True),
    }


def score(calls, params=None):
    """Analyse each call (truth dicts or NAME.json paths) and score it; -> dict."""
    from callcue.analysis.analyze import analyze_pcm
    from dsp.params import Params

    params = params if params is not None else Params()
    rows = []
    for c in calls:
        truth = c if isinstance(c, dict) else json.loads(Path(c).read_text())
        rep, cust = load_call(truth)
        res = analyze_pcm(rep, cust, params)
        row = score_call(truth, res)
        rows.append(row)
    return {"summary": summarise(rows), "calls": rows}


def table(rows):
    head = (
        "| call | k | tempo | SD truth | SD engine | F0 truth/engine Hz | rate truth/engine |"
        " talk-overs tp/fp/fn (who ok) | bc counted | latency s | dead air | cues |"
        " unexplained |"
    )
    out = [head, "|" + "---|" * 13]
    for r in rows:
        lat = ",".join("-" if x is None else f"{x:.2f}" for x in r["talkover_latency_s"])
        eng_sd = "-" if r["engine_sd"] is None else f"{r['engine_sd']:.2f}"
        eng_f0 = "-" if r["engine_median_hz"] is None else f"{r['engine_median_hz']:.0f}"
        eng_rate = "-" if r["engine_rate"] is None else f"{r['engine_rate']:.2f}"
        bad = (
            " **missing " + ",".join(r["expected_present_missing"]) + "**"
            if r["expected_present_missing"]
            else ""
        )
        bad += (
            " **unexpected " + ",".join(r["expected_absent_shown"]) + "**"
            if r["expected_absent_shown"]
            else ""
        )
        unx = ",".join(f"{c['cue']}@{c['start_s']:.0f}" for c in r["unexplained"]) or "-"
        out.append(
            f"| {r['name']} | {r['k']:g} | {r['tempo']:g} | {r['truth_sd']:.2f} | {eng_sd} |"
            f" {r['truth_median_hz']:.0f}/{eng_f0} | {r['truth_rate']:.2f}/{eng_rate} |"
            f" {r['talkover_tp']}/{r['talkover_fp']}/{r['talkover_fn']}"
            f" ({r['interrupter_ok']}) | {r['backchannels_counted']} | {lat or '-'} |"
            f" {r['dead_air_cue_hits']}/{r['dead_air_truth']} |"
            f" {' '.join(r['cues_shown']) or '-'}{bad} | {unx} |"
        )
    return "\n".join(out)


def summary_lines(s):
    def f(x, fmt="{:.3f}"):
        return "-" if x is None else fmt.format(x)

    u, ua = s["unexplained_normal_calls"], s["unexplained_all_calls"]
    return [
        f"calls: {s['calls']} ({s['minutes']:.1f} min)",
        f"pitch SD |error| median: all {f(s['sd_abs_err_median'])} st, natural (k=1) "
        f"{f(s['sd_abs_err_median_natural_k1'])} st, flat (k=0) "
        f"{f(s['sd_abs_err_median_flat_k0'])} st",
        f"flat cue shown: on truth SD <= 1 st {f(s['flat_cue_rate_truth_sd_le_1'], '{:.2f}')},"
        f" on truth SD >= 2 st {f(s['flat_cue_rate_truth_sd_ge_2'], '{:.2f}')} (should be 0)",
        f"talk-over: precision {f(s['talkover_precision'])}, recall {f(s['talkover_recall'])},"
        f" F1 {f(s['talkover_f1'])} (tp/fp/fn {s['talkover_tp_fp_fn']}), interrupter "
        f"accuracy {f(s['interrupter_accuracy'])}, backchannels counted "
        f"{s['backchannels_counted_as_talkover']}",
        f"talk-over cue latency: median {f(s['talkover_cue_latency_median_s'], '{:.2f}')} s, "
        f"p90 {f(s['talkover_cue_latency_p90_s'], '{:.2f}')} s "
        f"({s['talkover_matched_without_cue']} matched without a cue)",
        f"rate: median relative error {f(s['rate_rel_err_median'], '{:.3f}')} (by truth "
        f"source {s['rate_rel_err_median_by_source']}), correlation "
        f"across tempos pooled {f(s['rate_corr_pooled'])}, per voice "
        + ", ".join(f"{v} {f(c)}" for v, c in s["rate_corr_across_tempo"].items()),
        f"dead air cue: precision {f(s['dead_air_precision'])}, recall "
        f"{f(s['dead_air_recall'])}, F1 {f(s['dead_air_f1'])}",
        f"unexplained cues per 10 min: normal calls (k=1, tempo<=1) {f(u['per_10_min'], '{:.2f}')}"
        f" ({u['count']} in {u['minutes']:.1f} min {u['by_cue']}), all calls "
        f"{f(ua['per_10_min'], '{:.2f}')} ({ua['count']} in {ua['minutes']:.1f} min "
        f"{ua['by_cue']})",
    ]


def index_calls(fast=False):
    idx = OUT / "index.json"
    if not idx.is_file():
        raise FileNotFoundError(f"{idx} missing: run `make realspeech` (or build.py) first")
    calls = json.loads(idx.read_text())["calls"]
    return [CALLS / f"{c['name']}.json" for c in calls if c["fast"] or not fast]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fast", action="store_true", help="only the fast subset")
    ap.add_argument("--json", metavar="OUT", help="write the figures as JSON ('-' = stdout)")
    ap.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    a = ap.parse_args(argv)
    from callcue.analysis.analyze import make_params

    try:
        params = make_params([p.split("=", 1) for p in a.param])
        calls = index_calls(a.fast)
    except (ValueError, FileNotFoundError) as e:
        print(f"score.py: error: {e}", file=sys.stderr)
        return 2
    cmd = "python tests/realspeech/score.py" + "".join(
        " " + shlex.quote(x) for x in (argv if argv is not None else sys.argv[1:])
    )
    t = time.time()
    out = score(calls, params)
    out["command"] = cmd
    out["seconds"] = round(time.time() - t, 1)
    print(f"$ {cmd}\n")
    print(table(out["calls"]))
    print()
    for line in summary_lines(out["summary"]):
        print("- " + line)
    print(f"\n({len(calls)} calls analysed in {out['seconds']} s)")
    if a.json:
        text = json.dumps(out, indent=1)
        if a.json == "-":
            print(text)
        else:
            Path(a.json).parent.mkdir(parents=True, exist_ok=True)
            Path(a.json).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
