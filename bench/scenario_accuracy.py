"""Engine accuracy on every synthetic scenario against its ground truth, as a markdown table.

    .venv/bin/python bench/scenario_accuracy.py [SEED ...]
"""

import math
import sys

from callcue.analysis import synth
from callcue.analysis.analyze import analyze_pcm
from dsp.params import Params


def row(name, seed):
    pcm, truth = synth.render(name, seed=seed, duration_s=60.0)
    res = analyze_pcm(pcm[:, 0], pcm[:, 1], Params())
    tr = truth["rep"]
    true_to = [o for o in truth["overlaps"] if o["kind"] == "talkover"]
    found = res["talkover_events"]
    hits = sum(1 for t in true_to for f in found
               if abs(f["start_s"] - t["start_s"]) <= 0.5 and f["interrupter"] == t["interrupter"])
    rate = res["rate"]["articulation_rate_sps"]
    f0_err = 1200 * math.log2(res["pitch"]["median_hz"] / tr["f0_median_hz"])
    shown = sorted({c["cue"] for c in res["cues"]})
    ok = (set(truth["expected_cues"]["present"]) <= set(shown)
          and not set(truth["expected_cues"]["absent"]) & set(shown))
    cells = (name, "%d" % seed, "%d/%d (%d extra)" % (hits, len(true_to), len(found) - hits),
             "%.2f / %.2f (%+.1f %%)" % (rate, tr["rate_sps"], 100 * (rate / tr["rate_sps"] - 1)),
             "%d / %d" % (res["rate"]["syllables"], tr["syllables"]), "%+.0f" % f0_err,
             "%.2f / %.2f" % (res["pitch"]["sd_semitones"], tr["f0_sd_semitones"]),
             ", ".join(shown) or "-", "yes" if ok else "NO")
    return "| " + " | ".join(cells) + " |"


def main():
    seeds = [int(s) for s in sys.argv[1:]] or [0]
    print("| scenario | seed | talk-overs found | rate sps (err) | syllables | median F0 err "
          "(cents) | pitch SD st | cues shown | cues as expected |")
    print("|---|---:|---|---|---|---:|---|---|---|")
    for seed in seeds:
        for name in synth.SCENARIOS:
            print(row(name, seed))


if __name__ == "__main__":
    main()
