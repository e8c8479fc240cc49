"""The simulated MicroPython board for `callcue flash`: stock MicroPython's REPL as mpremote
sees it on an RP2040, with nothing of callcue on it until flashed (`callcue sim --repl`).
Once flashed, it boots the image's /main.py on every reset, as an RP2040 does: the callcue
app answers the protocol on the same pty (sim/board/sim_repl.py says how).

`SimBoard(storage)` starts `micropython sim_repl.py` (callcue/sim/board/: the REPL on its
stdio, a LittleFS filesystem at /, stand-ins for `machine` and the board's
`sys.implementation`); `serve_pty()` bridges it to a pseudo-terminal whose path
mpremote, pyserial or `callcue flash --port` open like /dev/ttyACM0. The board exits
when its host goes away (stdin closed). `read_image(image)` lists the files on a LittleFS
image afterwards, with their sha256, by mounting it under MicroPython.
"""

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from callcue.sim.process import (
    HEAP,
    BoardProcess,
    SimError,
    device_root,
    micropypath,
    micropython_exe,
)


class SimBoard(BoardProcess):
    """The REPL board in a subprocess (stdin/stdout), served on a pty by serve_pty()."""

    def __init__(self, storage="ram", mpy=None, size_kb=None, raw_paste=True,
                 micropython=True, unique_id=None, app_wdt_ms=None):
        super().__init__("callcue-repl-")
        args = ["--storage", storage if storage == "ram" else str(Path(storage).resolve())]
        if mpy:
            args += ["--mpy", mpy]
        if size_kb:
            args += ["--size", str(size_kb)]
        if not raw_paste:
            args.append("--no-raw-paste")
        if not micropython:
            args.append("--not-micropython")
        if unique_id:
            args += ["--unique-id", unique_id]
        if app_wdt_ms:
            args += ["--app-wdt", str(app_wdt_ms)]
        try:
            self.start("sim_repl.py", args, stderr=None)
        except BaseException:
            self._cleanup()
            raise


_LIST_FILES = """
import sys, hashlib, binascii, vfs, os
import hal_sim
root = hal_sim.mount_storage(sys.argv[1], "/board")
def walk(d, rel):
    for name, kind, *_ in os.ilistdir(d):
        if kind & 0x4000:
            print("D " + rel + name)
            walk(d + "/" + name, rel + name + "/")
        else:
            h = hashlib.sha256()
            with open(d + "/" + name, "rb") as f:
                h.update(f.read())
            print("F " + binascii.hexlify(h.digest()).decode() + " " + rel + name)
walk(root, "")
"""


def read_image(image, with_text=("config.json",)):
    """{path: sha256 hex} of every file on a LittleFS image (folders as None), and the text
    of the files named in with_text, read by MicroPython's own VfsLfs2."""
    tmp = tempfile.mkdtemp(prefix="callcue-img-")
    try:
        return _read_image(image, with_text, device_root(tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _read_image(image, with_text, root):
    env = dict(os.environ, MICROPYPATH=micropypath(root))
    upy = [micropython_exe(), "-X", HEAP, "-c"]
    r = subprocess.run([*upy, _LIST_FILES, str(image)], capture_output=True, text=True,
                       env=env, timeout=60)
    if r.returncode != 0:
        raise SimError("cannot read %s: %s" % (
            image, (r.stderr or r.stdout).strip()[-300:]))
    files = {}
    for line in r.stdout.splitlines():
        kind, rest = line.split(" ", 1)
        if kind == "D":
            files[rest] = None
        else:
            digest, path = rest.split(" ", 1)
            files[path] = digest
    texts = {}
    for name in with_text:
        if name in files:
            code = ("import sys\nimport hal_sim\n"
                    "r = hal_sim.mount_storage(sys.argv[1], '/board')\n"
                    "print(open(r + '/' + %s).read())" % json.dumps(name))
            t = subprocess.run([*upy, code, str(image)],
                               capture_output=True, text=True, env=env, timeout=60)
            texts[name] = t.stdout.rstrip("\n")
    return files, texts
