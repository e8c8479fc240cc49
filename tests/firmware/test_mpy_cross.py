"""What is flashed: firmware/manifest.py names every device file, and each compiles for
the RP2040 with mpy-cross -march=armv6m.

firmware/ holds exactly what goes on the board (the simulated boards live in
host/callcue/sim/board/, the device benches in bench/pico/), so the manifest lists every
.py there but itself; `callcue flash` and `make mpy` read it through callcue.manifest.
The Thumb (armv6m) emitter rejects some viper code that the x86-64 unix port accepts,
so this is the check that the code in dsp/ and firmware/ can be frozen or copied to the
dongle as .mpy. One test per file.
"""

import subprocess
from pathlib import Path

import pytest

from callcue import manifest

ROOT = Path(__file__).resolve().parents[2]

DEVICE_FILES = [src for src, _ in manifest.files(ROOT / "firmware" / "manifest.py")]


def test_manifest_is_the_firmware_folder():
    on_board = {dst for _, dst in manifest.files(ROOT / "firmware" / "manifest.py")}
    folder = {"firmware/" + p.name for p in (ROOT / "firmware").glob("*.py")}
    folder -= {"firmware/main.py", "firmware/manifest.py"}
    assert {d for d in on_board if d.startswith("firmware/")} == folder
    assert {d for d in on_board if d.startswith("dsp/")} == {
        "dsp/" + p.name for p in (ROOT / "dsp").glob("*.py")}
    assert on_board - folder - {d for d in on_board if d.startswith("dsp/")} == {"main.py"}
    assert not list((ROOT / "firmware").glob("*/**/*.py"))   # no subfolder to forget


def test_manifest_reader(tmp_path):
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    for name in ("pkg/__init__.py", "pkg/a.py", "pkg/sub/b.py", "top.py", "pkg/notes.md"):
        (tmp_path / name).write_text("")
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "manifest.py").write_text(
        'metadata(version="1")\npackage("pkg", base_path="..")\n'
        'package("pkg", files=("a.py",), base_path="..")\n')
    m = tmp_path / "manifest.py"
    m.write_text('include("dev")\nmodule("top.py")\n')
    with pytest.raises(manifest.ManifestError, match="pkg/a.py is listed twice"):
        manifest.files(m)
    (tmp_path / "dev" / "manifest.py").write_text('package("pkg", base_path="..")\n')
    assert [(src.relative_to(tmp_path).as_posix(), dst) for src, dst in manifest.files(m)] == [
        ("pkg/__init__.py", "pkg/__init__.py"), ("pkg/a.py", "pkg/a.py"),
        ("pkg/sub/b.py", "pkg/sub/b.py"), ("top.py", "top.py")]
    m.write_text('module("gone.py")\n')
    with pytest.raises(manifest.ManifestError, match="gone.py: no such file"):
        manifest.files(m)
    m.write_text('require("aioble")\n')
    with pytest.raises(manifest.ManifestError, match="require"):
        manifest.files(m)


def test_make_mpy_lists_the_manifest():
    """The Makefile's DEVICE_SRC: the reader run as a script, by the system's python3."""
    out = subprocess.run(["python3", "host/callcue/manifest.py", "firmware/manifest.py"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == [str(p.relative_to(ROOT)) for p in DEVICE_FILES]


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
