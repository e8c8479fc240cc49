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
"""

import math
import time

from callcue.dsp.params import TABLE, Params

STEPS = (
    ("silence", "Silence: nobody speaks, the far end is muted."),
    ("rep", "Rep alone: read a few sentences in your normal voice; the far end stays muted."),
    ("customer", "Customer alone: play far-end speech into the earpiece; the rep stays quiet."),
)
_RANGE = {name: (lo, hi) for name, _, lo, hi, _ in TABLE}


class CalibrationError(Exception):
    pass


def measure(dev, step, seconds, timeout):
    dev.calibrate(step, seconds)
    deadline = time.monotonic() + timeout
    while True:
        state = dev.calibration()
        if not state["running"]:
            return state["result"]
        if time.monotonic() > deadline:
            raise CalibrationError("step %s did not finish in %d s" % (step, timeout))
        time.sleep(0.1)


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
    """Run the steps on a connected Device; returns (results, params written)."""
    results = {}
    for step, text in STEPS:
        out("step %s - %s" % (step, text))
        if not yes:
            ask("press Enter to start (%d s) " % seconds)
        res = measure(dev, step, seconds, timeout=12 * seconds + 30)
        results[step] = res
        dev.cal_save()
        if step == "silence":
            out("  noise floor: rep %.1f dB, customer %.1f dB" % (
                res["rep_floor_db_q8"] / 256, res["customer_floor_db_q8"] / 256))
        elif not res.get("used_frames"):
            raise CalibrationError("step %s heard no speech from the %s: check the headset and "
                                   "run it again" % (step, step))
        else:
            loss, bound = coupling_db(results, step)
            out("  levels: rep %.1f dB, customer %.1f dB; %s %s%.1f dB%s" % (
                res["rep_level_db_q8"] / 256, res["customer_level_db_q8"] / 256,
                "sidetone loss" if step == "rep" else "echo loss", "at least " if bound
                else "", loss, " (the leak is lost in the noise)" if bound else ""))
    params = implied(results)
    Params(**params)                     # the engine's own validation
    out("implied: " + ", ".join("%s=%d" % kv for kv in params.items()))
    if write:
        dev.set_config(**params)
        back = dev.get_config()["params"]
        if any(back.get(k) != v for k, v in params.items()):
            raise CalibrationError("the device did not keep %s (read back %s)" % (params, back))
        out("written and read back")
    return results, params


def add_args(p):
    p.epilog = ("example: callcue calibrate --port /dev/ttyACM0\n"
                "         callcue calibrate --port 'sim://cal.wav?speed=4' --yes")
    p.add_argument("--port", required=True, metavar="P",
                   help="serial port or URL of the dongle (see `callcue devices`)")
    p.add_argument("--seconds", type=int, default=5, metavar="N",
                   help="length of each step (for rep/customer: seconds of their speech)")
    p.add_argument("--yes", action="store_true",
                   help="do not wait for Enter between steps (scripted rigs, tests)")
    p.add_argument("--dry-run", action="store_true",
                   help="measure and show the implied thresholds, write nothing")


def run(args):
    from callcue.device import DeviceError
    from callcue.devices import HostError, connect

    try:
        with connect(args.port) as dev:
            calibrate(dev, seconds=args.seconds, yes=args.yes, write=not args.dry_run)
    except CalibrationError as e:
        raise HostError(args.port, str(e), code=1) from None
    except (DeviceError, ValueError) as e:
        raise HostError(args.port, "calibration failed: %s" % e, code=1) from None
    return 0
