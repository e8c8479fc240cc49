"""Run the DSP engine over a call and build the analysis JSON (`callcue analyze`).

The engine is the same fixed-point code the dongle runs (dsp). This module feeds
it whole 10 ms frames, keeps a per-frame trace and the per-second records, and turns them
into the `callcue.analysis/1` document (ANALYSIS.md beside it describes it). The final
partial frame of a file is not processed; `duration_s` is still the input's length.

Two bit-exact ways to run it: when the `micropython` unix port is installed (beside the
Python executable or on PATH) the engine runs there with its viper kernels, exactly as on
the dongle, and returns the trace in binary (about 300x real time, against ~50x for the
engine on CPython); otherwise, or if that run fails, on CPython. Both give identical
results (the viper kernels are bit-identical twins of the plain ones, tests/
test_dsp_interpreters.py). CALLCUE_ENGINE=cpython forces the CPython path.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from array import array
from pathlib import Path

import numpy as np

from callcue.analysis.reference import spread_sd
from dsp.cues import CUE_NAMES
from dsp.engine import FRAME, RATE_HZ, RECORD_FIELDS, Engine
from dsp.params import Params
from dsp.pitch import CENTS_REF_HZ

SCHEMA = "callcue.analysis/1"
FRAME_S = FRAME / RATE_HZ  # 0.01
_INTERRUPTER = ("rep", "customer")


def make_params(pairs=()):
    """Params from ("name", "value") string pairs; ValueError("name: reason") if invalid."""
    kw = {}
    for name, value in pairs:
        try:
            kw[name] = int(value, 0)
        except ValueError:
            raise ValueError(f"{name}: value {value!r} is not an integer") from None
    try:
        return Params(**kw)
    except TypeError as e:  # an unknown keyword, if Params does not catch it itself
        raise ValueError(str(e)) from None


def params_from_items(items):
    """Params from --param NAME=VALUE items; ValueError with the one-line reason if bad."""
    pairs = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"{item!r} is not NAME=VALUE")
        pairs.append((name.strip(), value.strip()))
    return make_params(pairs)


def params_dict(params):
    """The parameters as a plain {name: int} dict, in their declared order."""
    for attr in ("as_dict", "to_dict", "asdict"):
        fn = getattr(params, attr, None)
        if callable(fn):
            return dict(fn())
    names = getattr(params, "NAMES", None) or getattr(params, "__slots__", None)
    if names:
        return {n: getattr(params, n) for n in names}
    return {k: v for k, v in vars(params).items() if not k.startswith("_")}


def analyze_pcm(rep, customer, params=None):
    """Analyse int16 rep/customer arrays at 8000 Hz; return the contract dict.

    The two arrays are padded with zeros to the same length. Only whole frames are fed
    to the engine; records come every 100 frames, so `seconds` has floor(duration) items.
    """
    if params is None:
        params = Params()
    rep = np.asarray(rep, dtype=np.int16)
    customer = np.asarray(customer, dtype=np.int16)
    n = max(rep.size, customer.size)
    if rep.size < n:
        rep = np.concatenate([rep, np.zeros(n - rep.size, np.int16)])
    if customer.size < n:
        customer = np.concatenate([customer, np.zeros(n - customer.size, np.int16)])
    nframes = n // FRAME

    fast = _analyze_micropython(rep, customer, nframes, params)
    if fast is not None:
        trace, records, events, totals = fast
        return build_report(n / RATE_HZ, trace, records, events, params, totals)

    eng = Engine(params)
    # The engine takes array('h') frames filled in place; numpy views write into them.
    rep_buf = array("h", bytes(2 * FRAME))
    cust_buf = array("h", bytes(2 * FRAME))
    rep_view = np.frombuffer(rep_buf, dtype=np.int16)
    cust_view = np.frombuffer(cust_buf, dtype=np.int16)

    trace = np.zeros((nframes, 5), dtype=np.int32)  # rep, cust, f0_cents, syllable, cue
    records = []
    events = []
    for i in range(nframes):
        a = i * FRAME
        rep_view[:] = rep[a : a + FRAME]
        cust_view[:] = customer[a : a + FRAME]
        if eng.process(rep_buf, cust_buf):
            records.append(tuple(eng.record))
        trace[i] = (eng.rep_speech, eng.cust_speech, eng.f0_cents, eng.syllable, eng.cue)
        if eng.event_ready:
            events.append((eng.event_start, eng.event_end, eng.event_interrupter))
    eng.flush()
    if eng.event_ready:
        events.append((eng.event_start, eng.event_end, eng.event_interrupter))

    totals = (eng.total_rep, eng.total_cust, eng.total_both)
    return build_report(n / RATE_HZ, trace, records, events, params, totals)


# Runs under the micropython unix port: argv = DSP_PARENT FRAMES.raw TRACE.out name=value...
# FRAMES.raw: per 10 ms frame, 80 rep then 80 customer int16 (native = little-endian).
# TRACE.out: per frame int16 rep_speech, cust_speech, f0_cents, syllable, cue.
# stdout: "R <record>" per second, "E start end who" per talk-over, "T rep cust both".
_MPY_DRIVER = """
import sys
sys.path.insert(0, sys.argv[1])
from array import array
from dsp.engine import FRAME, Engine
from dsp.params import Params
kw = {}
for a in sys.argv[4:]:
    k, v = a.split('=')
    kw[k] = int(v)
eng = Engine(Params(**kw), viper=True)
k = eng.k
B = 100
buf = array('h', bytes(4 * FRAME * B))
tr = array('h', bytes(10 * B))
rep = array('h', bytes(2 * FRAME))
cust = array('h', bytes(2 * FRAME))
fi = open(sys.argv[2], 'rb')
fo = open(sys.argv[3], 'wb')
out = sys.stdout
while True:
    got = fi.readinto(buf) // (4 * FRAME)
    if not got:
        break
    j = 0
    for i in range(got):
        a = 2 * FRAME * i
        k.decimate(buf, a, a + FRAME, 1, rep, 0)
        k.decimate(buf, a + FRAME, a + 2 * FRAME, 1, cust, 0)
        if eng.process(rep, cust):
            out.write('R ' + ' '.join([str(v) for v in eng.record]) + '\\n')
        tr[j] = eng.rep_speech
        tr[j + 1] = eng.cust_speech
        tr[j + 2] = eng.f0_cents
        tr[j + 3] = eng.syllable
        tr[j + 4] = eng.cue
        j += 5
        if eng.event_ready:
            out.write('E %d %d %d\\n' % (eng.event_start, eng.event_end, eng.event_interrupter))
    fo.write(memoryview(tr)[:j])
eng.flush()
if eng.event_ready:
    out.write('E %d %d %d\\n' % (eng.event_start, eng.event_end, eng.event_interrupter))
out.write('T %d %d %d\\n' % (eng.total_rep, eng.total_cust, eng.total_both))
fi.close()
fo.close()
"""


def micropython_engine():
    """The `micropython` executable the fast path uses, or None (CALLCUE_ENGINE=cpython)."""
    if os.environ.get("CALLCUE_ENGINE", "").lower() == "cpython":
        return None
    beside = Path(sys.executable).parent / "micropython"
    if beside.is_file():
        return str(beside)
    return shutil.which("micropython")


def _analyze_micropython(rep, customer, nframes, params):
    """(trace, records, events, totals) from the engine under micropython, or None."""
    exe = micropython_engine()
    if exe is None or nframes == 0:
        return None
    import dsp

    dsp_parent = str(Path(dsp.__path__[0]).resolve().parent)
    if Path(dsp.__path__[0]).resolve().name != "dsp":
        return None
    with tempfile.TemporaryDirectory(prefix="callcue-analyze-") as tmp:
        frames = Path(tmp) / "frames.raw"
        out = Path(tmp) / "trace.out"
        m = nframes * FRAME
        planar = np.stack([rep[:m].reshape(nframes, FRAME), customer[:m].reshape(nframes, FRAME)],
                          axis=1)
        planar.astype("<i2").tofile(frames)
        args = [f"{k}={v}" for k, v in params_dict(params).items()]
        try:
            proc = subprocess.run([exe, "-X", "heapsize=8M", "-c", _MPY_DRIVER, dsp_parent,
                                   str(frames), str(out), *args],
                                  capture_output=True, text=True, timeout=3600)
        except (OSError, subprocess.SubprocessError):
            return None
        if proc.returncode != 0 or not out.is_file():
            return None
        trace = np.fromfile(out, dtype="<i2").astype(np.int32)
    if trace.size != 5 * nframes:
        return None
    trace = trace.reshape(nframes, 5)
    records, events, totals = [], [], None
    for line in proc.stdout.splitlines():
        tag, _, rest = line.partition(" ")
        vals = tuple(int(v) for v in rest.split())
        if tag == "R":
            records.append(vals)
        elif tag == "E":
            events.append(vals)
        elif tag == "T":
            totals = vals
    if totals is None or len(records) != nframes // 100:
        return None
    return trace, records, events, totals


def build_report(duration_s, trace, records, events, params, totals):
    """The contract dict from a per-frame trace, per-second records, talk-over events and
    the engine's talk-time totals (rep, customer, both; in frames, see dsp/vad.py)."""
    rep_n, cust_n, both_n = totals
    f0_cents = trace[:, 2]
    rep_s = _secs(rep_n)
    syllables = int(trace[:, 3].sum())

    voiced = f0_cents[f0_cents > 0]
    if voiced.size:
        hz = cents_to_hz(voiced.astype(np.float64))
        median = float(np.median(hz))
        # the device's spread over the whole call: deviations clipped at 2.5 robust SDs
        # (reference.spread_sd), so a few octave errors cannot pass for an expressive voice
        pitch = {
            "voiced_s": _secs(voiced.size),
            "median_hz": round(median, 3),
            "sd_semitones": round(spread_sd(voiced.astype(np.float64)) / 100.0, 3),
        }
    else:
        pitch = {"voiced_s": 0.0, "median_hz": None, "sd_semitones": None}

    return {
        "schema": SCHEMA,
        "duration_s": round(duration_s, 6),
        "dsp_rate_hz": RATE_HZ,
        "talk": {
            "rep_s": rep_s,
            "customer_s": _secs(cust_n),
            "overlap_s": _secs(both_n),
            "silence_s": _secs(len(trace) - rep_n - cust_n + both_n),
        },
        "talkover_events": [
            {
                "start_s": _secs(start),
                "end_s": _secs(end),
                "interrupter": _INTERRUPTER[who],
            }
            for start, end, who in events
        ],
        "rate": {
            "syllables": syllables,
            "rep_speaking_s": rep_s,
            "articulation_rate_sps": round(syllables / rep_s, 3) if rep_s > 0 else None,
        },
        "pitch": pitch,
        "cues": cue_intervals(trace[:, 4]),
        "seconds": [second_record(r) for r in records],
        "params": params_dict(params),
    }


def cue_intervals(cues):
    """One {"cue", "start_s", "end_s"} per contiguous run of frames showing a cue."""
    out = []
    cues = np.asarray(cues)
    if cues.size == 0:
        return out
    change = np.flatnonzero(np.diff(cues)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [cues.size]])
    for s, e in zip(starts, ends, strict=True):
        c = int(cues[s])
        if c != 0:
            out.append({"cue": CUE_NAMES[c], "start_s": _secs(s), "end_s": _secs(e)})
    return out


def second_record(rec):
    """An engine record (RECORD_FIELDS order) as the contract's per-second dict."""
    r = dict(zip(RECORD_FIELDS, (int(v) for v in rec), strict=True))
    return {
        "t_s": r["t_s"],
        "rep_active_ms": r["rep_active_ms"],
        "customer_active_ms": r["customer_active_ms"],
        "overlap_ms": r["overlap_ms"],
        "syllables": r["syllables"],
        "rate_sps": r["rate_csps"] / 100 if r["rate_csps"] >= 0 else None,
        "pitch_hz": round(cents_to_hz(r["pitch_cents"]), 3) if r["pitch_cents"] >= 0 else None,
        "pitch_sd_st": r["pitch_sd_cents"] / 100 if r["pitch_sd_cents"] >= 0 else None,
        "cue": CUE_NAMES[r["cue"]],
    }


def cents_to_hz(cents):
    """Integer cents re CENTS_REF_HZ (55 Hz) to Hz: scalar -> float, array -> array."""
    hz = CENTS_REF_HZ * np.exp2(np.asarray(cents, dtype=np.float64) / 1200.0)
    return float(hz) if hz.ndim == 0 else hz


def summary(doc, name=""):
    """The text summary of an analysis dict: its length, the one call summary
    (callcue.analysis.summary) of its per-second records and talk-over events, then the
    whole-call figures the engine gives on the host (articulation rate, pitch median)."""
    from callcue.analysis.summary import call_metrics, records_from_analysis, summary_lines

    rate, pitch = doc["rate"], doc["pitch"]
    sps = rate["articulation_rate_sps"]
    return [
        f"{name + ': ' if name else ''}{doc['duration_s']:.2f} s analysed at "
        f"{doc['dsp_rate_hz']} Hz, {len(doc['seconds'])} per-second records",
        *summary_lines(call_metrics(*records_from_analysis(doc))),
        f"whole call {rate['syllables']} syllables in {rate['rep_speaking_s']:.1f} s of rep "
        "speech = " + (f"{sps:.2f} syllables/s" if sps is not None else "- (rep silent)")
        + "; pitch " + (f"median {pitch['median_hz']:.1f} Hz, SD {pitch['sd_semitones']:.2f} "
                        f"semitones over {pitch['voiced_s']:.1f} s voiced"
                        if pitch["median_hz"] is not None else "- (no voiced rep speech)"),
    ]


def _secs(frames):
    """Frame count or index -> seconds, rounded to the 10 ms frame grid."""
    return round(int(frames) * FRAME_S, 3)
