"""The virtual dongle served on a real pseudo-terminal (`callcue sim CALL.wav`), for the host
tools' end-to-end tests: every command talks to it through its /dev/pts path, exactly as
to a dongle on /dev/ttyACM*."""

import subprocess
import sys
import time

import soundfile

from callcue.analysis import synth


def write_call(path, seconds=20.0, scenario="rep-interrupts", seed=2):
    pcm, _ = synth.render(scenario, seed=seed, duration_s=seconds)
    soundfile.write(path, pcm, 8000, subtype="PCM_16")
    return path


class PtySim:
    """`callcue sim WAV ...` in a subprocess; .port is its pty path."""

    def __init__(self, wav, *extra):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "callcue", "sim", str(wav), *map(str, extra)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if "virtual dongle on " not in line:
            self.close()
            raise RuntimeError("callcue sim did not start: %r %s" % (
                line, self.proc.stderr.read()[-2000:]))
        self.port = line.split("virtual dongle on ", 1)[1].split()[0]

    def wait_done(self, timeout=120):
        """Until the call has played through (every session closed)."""
        from callcue.device.client import Device

        deadline = time.monotonic() + timeout
        with Device.open(self.port) as dev:
            while not dev.info()["capture_done"]:
                assert time.monotonic() < deadline, "the virtual dongle did not finish"
                time.sleep(0.1)

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
