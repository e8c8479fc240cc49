"""Every device file compiles for the RP2040 with mpy-cross -march=armv6m.

The Thumb (armv6m) emitter rejects some viper code that the x86-64 unix port accepts,
so this is the check that the code in dsp/ and firmware/ can be frozen or copied to the
dongle as .mpy. One test per file.
"""

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

DEVICE_FILES = sorted(
    [*ROOT.glob("dsp/*.py"), *ROOT.glob("firmware/**/*.py")],
)


@pytest.mark.skipif(not DEVICE_FILES, reason="no device files in dsp/ or firmware/ yet")
@pytest.mark.parametrize("src", DEVICE_FILES, ids=[str(p.relative_to(ROOT)) for p in DEVICE_FILES])
def test_compiles_for_rp2040(src, mpy_cross, tmp_path):
    out = tmp_path / (src.stem + ".mpy")
    proc = subprocess.run(
        [mpy_cross, "-march=armv6m", "-o", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"mpy-cross failed on {src.relative_to(ROOT)}:\n{proc.stderr}"
    assert out.is_file() and out.stat().st_size > 0, "mpy-cross wrote no .mpy"
    # .mpy header: b"M" then the format version. MicroPython 1.2x firmware loads version 6
    # only, so a compiler that emits anything else would build files the dongle rejects.
    head = out.read_bytes()[:4]
    assert head[:2] == b"M\x06", f"unexpected .mpy header {head!r} (want version 6)"
