"""Run a script under the real MicroPython unix port and under CPython."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# the MicroPython scripts the tests run (dsp, firmware and host tests use them)
MPY = ROOT / "tests" / "firmware" / "mpy"


def run(interpreter, script, *args, timeout=600):
    """Run `interpreter script args...`; return stdout, raising with stderr on failure."""
    proc = subprocess.run([interpreter, str(script), *map(str, args)], capture_output=True,
                          text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError("%s %s failed (%d):\n%s" % (interpreter, script, proc.returncode,
                                                         (proc.stdout + proc.stderr)[-3000:]))
    return proc.stdout


def run_engine(interpreter, rep, cust, tmp_path, kernels="plain", mode="trace"):
    """Trace of tests/firmware/mpy/run_engine.py over int16 arrays rep and cust."""
    rp = tmp_path / "rep.raw"
    cp = tmp_path / "cust.raw"
    rep.astype("<i2").tofile(rp)
    cust.astype("<i2").tofile(cp)
    return run(interpreter, MPY / "run_engine.py", ROOT, rp, cp, kernels,
               mode)


def cpython():
    return sys.executable
