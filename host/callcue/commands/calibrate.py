"""`callcue calibrate`: measure a unit's noise floors and channel coupling with the
headset on, and store the thresholds they imply.

Steps, each announced and (unless --yes) started when the engineer presses Enter:
1. silence: nobody speaks (noise floors of both channels);
2. rep: only the rep speaks (mic level; sidetone: how far below it the rep's voice
   reaches the earpiece channel);
3. customer: only the far end plays (earpiece level; echo: how far below it the
   customer reaches the mic).
Each loss is a power ratio of the two channels over the speaking party's frames, with
the silence step's noise taken off (so a leak near the noise floor is not read too
loud). The losses become `sidetone_loss_db` and `echo_loss_db`, checked by the engine's own
Params, written with set_config, stored with cal_save, and read back.

A step whose frames contradict it is refused (CalibrationError, one line saying why and
what to do) before anything is written: speech in the silence step, the other party in
a solo step, too little of the party's speech (check_step; the rules and why they hold
are at the constants below). The device counts, the host decides (PROTOCOL.md,
`calibration`). Nothing is written until all three steps have passed.
"""

import argparse
import math
import sys
import time

from dsp.params import TABLE, Params
from dsp.vad import FS_DB_Q8

STEPS = (
    ("silence", "Silence: nobody speaks, the far end is muted."),
    ("rep", "Rep alone: read a few sentences in your normal voice; the far end stays muted."),
    ("customer", "Customer alone: play far-end speech into the earpiece; the rep stays quiet."),
)
_RANGE = {name: (lo, hi) for name, _, lo, hi, _ in TABLE}
OTHER = {"rep": "customer", "customer": "rep"}
CHANNEL = {"rep": "mic", "customer": "earpiece line"}

# Silence: at most this share of the step's frames may be speech (the VAD's, either
# party). Not a level: the noise floor is the line's (a noisy line is legitimately
# -35 dBFS), so no absolute level tells silence from speech. Speech rises 9 dB and more
# above the tracked floor between syllables, which the VAD sees at any noise level, and
# stationary noise almost never makes it fire. 5 % (250 ms of a 5 s step) lets a cough or
# a click through (the device leaves the frames of an active party out of the noise
# anyway); anything more is someone talking, and a call played into the step is 40-80 %.
SILENCE_SPEECH_MAX = 0.05
# Solo steps: the device histograms, over the party's speech frames in which the other
# channel is at least 10 dB above its noise floor, how far that channel sits below the
# speaker (diff_hist). A leak (sidetone, echo) is a fixed loss, so its frames cluster
# within a few dB; the other party speaking adds its own voice and pulls the distance
# down, by tens of dB when both talk. The leak's distance is taken at the histogram's
# upper quartile (robust while less than a quarter of the frames are the other party's);
# frames more than OTHER_GAP_DB below it are the other party: at most OTHER_MAX of the
# used frames. A frame whose leak reads 10 dB too loud carries ten times the leak's
# energy, so even 2 % of them would move the power ratio by 0.8 dB.
OTHER_GAP_DB = 10.0
OTHER_MAX = 0.02
# ... and the power ratio over all the used frames may not read more than this below
# the histogram's median: the other party speaking less than OTHER_GAP_DB above the leak
# still adds energy that the steady leak does not explain.
RATIO_GAP_DB = 3.0
# No headset couples as strongly as this (the engine's default sidetone, 12 dB, is the
# strong end of real ones): a step whose leak's distance is smaller heard both parties.
MIN_COUPLING_DB = 6.0
# Fewer histogram frames than this: the leak is in the noise; only the ratio's bound.
HIST_MIN = 50
# The party's speech must fill at least this share of the seconds asked (the step gives
# up after six times as long): less is too little to measure a coupling on.
MIN_SPEECH_SHARE = 0.5


class CalibrationError(Exception):
    pass


def measure(dev, step, seconds, timeout):
    dev.calibrate(step, seconds)
    deadline = time.monotonic() + timeout
    while True:
        state = dev.calibration()
        if not isinstance(state, dict) or not isinstance(state.get("result"), dict):
            raise CalibrationError("the device's calibration reply is malformed: %r" % state)
        if not state.get("running"):
            return state["result"]
        if time.monotonic() > deadline:
            raise CalibrationError("step %s did not finish in %d s" % (step, timeout))
        time.sleep(0.1)


def _int(res, key, step):
    v = res.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or abs(v) >= 1 << 31:
        raise CalibrationError("step %s: the device's result has no valid %s (%r): update "
                               "the firmware (`callcue flash`)" % (step, key, v))
    return v


def _dbfs(q8):
    return (q8 - FS_DB_Q8) / 256


def _mean_energy(res, channel):
    """Mean frame energy of a step's used frames, from the device's (sum, shift)."""
    total, shift = res[channel + "_energy"]
    return total * 2.0 ** shift / res["used_frames"]


def coupling_db(results, step):
    """How far (dB) the other channel sits below the speaking one in `step`.

    As a power ratio with the silence step's mean noise energy taken off both channels
    when the device reports energies; a leak within a few dB of the noise floor would
    otherwise read too loud (the old mean of per-frame dB is the fallback). Returns
    (dB, is_lower_bound): a leak lost in the noise gives only a lower bound.
    """
    res = results[step]
    quiet = results.get("silence", {})
    if "rep_energy" not in res or not quiet.get("used_frames") or "rep_energy" not in quiet:
        return abs(res["difference_db_q8"]) / 256, False
    speaker, other = ("rep", "customer") if step == "rep" else ("customer", "rep")
    s = _mean_energy(res, speaker) - _mean_energy(quiet, speaker)
    noise = _mean_energy(quiet, other)
    leak = _mean_energy(res, other) - noise
    bound = leak < 0.1 * noise      # more than 10 dB under the noise: not measurable
    if bound:
        leak = 0.1 * noise
    if s <= 0 or leak <= 0:
        raise CalibrationError("step %s: the %s was not louder than the silence step: check "
                               "the headset and run it again" % (step, speaker))
    return 10 * math.log10(s / leak), bound


def _quantile_db(hist, q):
    """The q-quantile (0..1) of a 2 dB-bin histogram, in dB, linear within the bin."""
    n = sum(hist)
    want = q * n
    acc = 0
    for i, c in enumerate(hist):
        if c and acc + c >= want:
            return 2.0 * i + 2.0 * (want - acc) / c
        acc += c
    return 2.0 * len(hist)


def check_step(step, res, results=None):
    """Refuse (CalibrationError) a step whose frames contradict it; see the constants."""
    results = results or {}
    for key in ("frames", "used_frames", "asked_frames", "rep_speech_frames",
                "customer_speech_frames"):
        _int(res, key, step)
    frames = max(res["frames"], 1)
    if step == "silence":
        rep, cust = res["rep_speech_frames"] / frames, res["customer_speech_frames"] / frames
        if max(rep, cust) > SILENCE_SPEECH_MAX:
            raise CalibrationError(
                "step silence: it held speech (the rep in %d%% of it, the customer in %d%%), "
                "so it measures no noise floor: run calibrate again with nobody speaking and "
                "the far end muted" % (round(100 * rep), round(100 * cust)))
        if res["used_frames"] < MIN_SPEECH_SHARE * res["asked_frames"]:
            raise CalibrationError("step silence: only %.1f s of it was free of voice "
                                   "activity: run it again with nobody speaking"
                                   % (res["used_frames"] / 100))
        return
    other = OTHER[step]
    asked = res["asked_frames"]
    if res["used_frames"] < MIN_SPEECH_SHARE * asked:
        raise CalibrationError(
            "step %s: heard only %.1f s of the %s's speech in %.0f s (asked %d s): the %s "
            "must speak through the step; check the headset and run calibrate again"
            % (step, res["used_frames"] / 100, step, res["frames"] / 100, asked // 100,
               step))
    hist = res.get("diff_hist")
    if not (isinstance(hist, list) and hist and all(
            isinstance(c, int) and not isinstance(c, bool) and 0 <= c < 1 << 31
            for c in hist)):
        raise CalibrationError("step %s: the device's result has no valid diff_hist: update "
                               "the firmware (`callcue flash`)" % step)
    n = sum(hist)
    if n < HIST_MIN:
        return          # the leak is lost in the noise, and so was any other voice
    steady = _quantile_db(hist, 0.75)
    median = _quantile_db(hist, 0.5)
    heard = "the %s was heard during the %s step" % (other, step)
    again = "only the %s may speak in this step: run calibrate again" % step
    if steady < MIN_COUPLING_DB:
        raise CalibrationError(
            "step %s: %s: in most of its frames the %s was within %.0f dB of the %s, closer "
            "than any headset couples (or the channels are joined): %s"
            % (step, heard, CHANNEL[other], steady, CHANNEL[step], again))
    lo = int((steady - OTHER_GAP_DB) // 2)
    crossed = sum(hist[:max(lo, 0)])
    if crossed > OTHER_MAX * res["used_frames"]:
        raise CalibrationError(
            "step %s: %s in %d%% of the %s's speech (the %s more than %.0f dB above the "
            "steady %.0f dB leak): %s" % (step, heard, round(100 * crossed / res["used_frames"]),
                                          step, CHANNEL[other], OTHER_GAP_DB, steady, again))
    if "silence" in results and "rep_energy" in res:
        ratio, bound = coupling_db({"silence": results["silence"], step: res}, step)
        if not bound and ratio < median - RATIO_GAP_DB:
            raise CalibrationError(
                "step %s: %s: the %s carried %.0f dB more than the steady leak explains "
                "(power ratio %.1f dB, most frames %.1f dB): %s"
                % (step, heard, CHANNEL[other], median - ratio, ratio, median, again))


def implied(results):
    """{param: value} from the rep and customer steps' results (dB, rounded)."""
    out = {}
    for step, name in (("rep", "sidetone_loss_db"), ("customer", "echo_loss_db")):
        if results.get(step, {}).get("used_frames"):
            out[name] = round(coupling_db(results, step)[0])
    for name, value in out.items():
        lo, hi = _RANGE[name]
        if not lo <= value <= hi:
            raise CalibrationError("%s = %d dB is outside %d..%d: check the headset wiring "
                                   "and that only one party spoke" % (name, value, lo, hi))
    return out


def calibrate(dev, seconds=5, yes=False, write=True, out=print, ask=input):
    """Run the steps on a connected Device; returns (results, params written).

    Every step is measured and checked before anything is kept: a refused step (or an
    interruption) leaves the unit's config and stored calibration as they were."""
    results = {}
    for step, text in STEPS:
        out("step %s - %s" % (step, text))
        if not yes:
            ask("press Enter to start (%d s) " % seconds)
        res = measure(dev, step, seconds, timeout=12 * seconds + 30)
        check_step(step, res, results)
        results[step] = res
        if step == "silence":
            out("  noise floor: rep %.1f dBFS, customer %.1f dBFS; speech in %d of %d frames"
                % (_dbfs(_int(res, "rep_floor_db_q8", step)),
                   _dbfs(_int(res, "customer_floor_db_q8", step)),
                   max(res["rep_speech_frames"], res["customer_speech_frames"]),
                   res["frames"]))
        else:
            loss, bound = coupling_db(results, step)
            out("  levels: rep %.1f dBFS, customer %.1f dBFS over %.1f s of speech; "
                "%s %s%.1f dB%s" % (
                    _dbfs(_int(res, "rep_level_db_q8", step)),
                    _dbfs(_int(res, "customer_level_db_q8", step)),
                    res["used_frames"] / 100,
                    "sidetone loss" if step == "rep" else "echo loss", "at least " if bound
                    else "", loss, " (the leak is lost in the noise)" if bound else ""))
    params = implied(results)
    Params(**params)                     # the engine's own validation
    out("implied: " + ", ".join("%s=%d" % kv for kv in params.items()))
    if write:
        _keep(dev, results)
        dev.set_config(**params)
        back = dev.get_config()["params"]
        if any(back.get(k) != v for k, v in params.items()):
            raise CalibrationError("the device did not keep %s (read back %s)" % (params, back))
        out("written and read back")
    return results, params


def _keep(dev, results):
    """Store the three checked measurements as the unit's calibration: cal_save keeps
    every step finished since the last one (PROTOCOL.md)."""
    kept = dev.cal_save()
    if not isinstance(kept, dict) or any(s not in kept for s in results):
        raise CalibrationError("the device did not keep the measurements (cal_save: %r)"
                               % (kept,))


def add_args(p):
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = ("example: callcue calibrate --port /dev/ttyACM0\n"
                "         callcue synth cal.wav --scenario calibration && "
                "callcue calibrate --port sim://cal.wav --yes\n"
                "Without a terminal on stdin, --yes is required.")
    p.add_argument("--port", required=True, metavar="P",
                   help="serial port or URL of the dongle (see `callcue devices`)")
    p.add_argument("--seconds", type=int, default=5, metavar="N",
                   help="length of each step (for rep/customer: seconds of their speech), "
                   "1-120 (default 5)")
    p.add_argument("--yes", action="store_true",
                   help="do not wait for Enter between steps (scripted rigs, tests; "
                   "required when stdin is not a terminal)")
    p.add_argument("--dry-run", action="store_true",
                   help="measure and show the implied thresholds, write nothing")


def run(args):
    """Guided calibration with the headset on: silence, rep alone, customer alone; measures noise
    floors and sidetone/echo coupling, writes the implied thresholds to the dongle and reads
    them back."""
    from callcue.device.client import DeviceError
    from callcue.device.ports import connect
    from callcue.errors import CommandError

    if not 1 <= args.seconds <= 120:
        raise CommandError("--seconds", "must be 1-120, got %d" % args.seconds, code=2)
    if not args.yes and not sys.stdin.isatty():
        raise CommandError("calibrate", "stdin is not a terminal, so nobody can press Enter "
                           "between the steps: give --yes (scripted rigs)", code=2)
    try:
        with connect(args.port) as dev:
            calibrate(dev, seconds=args.seconds, yes=args.yes, write=not args.dry_run)
    except CalibrationError as e:
        raise CommandError(args.port, str(e) + "; nothing was written", code=1) from None
    except (DeviceError, ValueError) as e:
        raise CommandError(args.port, "calibration failed: %s; nothing was written" % e,
                           code=1) from None
    except EOFError:
        raise CommandError(args.port, "stdin closed at a prompt: calibration stopped; nothing "
                           "was written", code=1) from None
    except KeyboardInterrupt:
        raise CommandError(args.port, "calibration interrupted; nothing was written",
                           code=130) from None
    return 0
