"""The virtual dongle: the real firmware under MicroPython's unix port on a simulated board.

`VirtualDongle(wav)` converts the call to the simulated capture's frame-planar raw
file, then starts `micropython sim.py` (callcue/sim/board/) as a callcue.sim.process
BoardProcess: the firmware and dsp folders importable exactly as on the device, its serial
link the process's stdin/stdout, `serve_pty()` bridging it to a pseudo-terminal whose path
any serial tool can open; `callcue.sim.protocol_sim` (pyserial URL `sim://CALL.wav`)
talks to it directly. A Dongle is one kept in a folder (its flash, id and clock).
"""

import contextlib
import json
import os
import subprocess
import time
from pathlib import Path

import numpy as np

from callcue.analysis import wavio
from callcue.sim.process import BoardProcess, SimError
from dsp.engine import FRAME


def write_frames(rep, cust, path):
    """The simulated capture's input: per 10 ms, 80 rep then 80 customer int16 LE."""
    n = min(len(rep), len(cust)) // FRAME
    planar = np.stack([rep[: n * FRAME].reshape(n, FRAME), cust[: n * FRAME].reshape(n, FRAME)],
                      axis=1)
    planar.astype("<i2").tofile(path)
    return n


class VirtualDongle(BoardProcess):
    """The firmware on the simulated board, in a `micropython` subprocess.

    wav (or rep and cust) is the call its capture plays; with neither, no call plays (a
    dongle plugged in to be read: the link is served at once). speed: times real time
    (0: as fast as the host can); a host too slow for the pace slows the call down
    instead of losing audio (its `info` says by how much: `sim.lag_ms`) unless
    drop_late, which loses it as a real board would (overruns). storage: "ram", a
    LittleFS image file or a host folder. device_id names a board whose config is new;
    start_time (unix s, default now) sets its clock as a host would have at plug-in;
    clock_file keeps a clock the host sets (see sim/board/sim.py). finish (default: the
    storage outlives the process): close() lets a call still playing run to its end,
    at full speed, so the flash never keeps half a call. lock: an object to keep (and
    close) for the dongle's life. After close(), `result` holds what the firmware
    reported (frames, records, overruns, lag_ms, the sessions it made) when it ended by
    itself."""

    def __init__(self, wav=None, rep=None, cust=None, storage="ram", speed=0, loop=False,
                 led=False, stay=False, config=None, link=True, drop_late=False,
                 device_id=None, start_time=None, clock_file=None, finish=None, lock=None):
        why = speed_problem(speed)
        if why is not None:
            raise SimError("speed: " + why)
        super().__init__("callcue-sim-")
        self.lock = lock
        self.result = None
        try:
            if wav is not None:
                rep, cust, _ = wavio.read_call(wav)
            if rep is not None:
                self.frames_path = os.path.join(self.tmp, "frames.raw")
                self.frames = write_frames(rep, cust, self.frames_path)
            else:
                self.frames_path = "-"
                self.frames = 0
            self.result_path = os.path.join(self.tmp, "result.json")
            args = [self.frames_path, "--storage", str(storage), "--result", self.result_path]
        except BaseException:
            self._cleanup()
            raise
        if speed:
            args += ["--speed", str(speed)]
        if drop_late:
            args.append("--drop-late")
        if loop:
            args.append("--loop")
        if led:
            args.append("--led")
        if stay:
            args.append("--stay")
        if not link:            # play through without a serial link (stdin unused)
            args.append("--no-link")
        if finish is None:
            finish = str(storage) != "ram"
        self.finish = bool(finish and link and rep is not None)
        if self.finish:
            args.append("--finish")
        if config:
            args += ["--config", str(config)]
        if device_id:
            args += ["--id", device_id]
        if clock_file:
            args += ["--clock-file", str(clock_file)]
        if rep is not None or start_time is not None or not clock_file:
            args += ["--time", str(int(time.time() if start_time is None else start_time))]
        try:
            self.start("sim.py", args, stderr=None if led else subprocess.PIPE)
        except BaseException:
            self._cleanup()
            raise

    def close(self):
        if self.proc.poll() is None and self.finish:
            self._finish()
        self.stop()
        self.result = read_result(self.result_path)
        self._cleanup()

    def _finish(self):
        """The host hangs up: the firmware plays the rest of its call at full speed with
        no link (sim/board/sim.py --finish) and exits; its output is drained meanwhile so
        it never blocks on a full pipe. Bounded: past the deadline it is stopped."""
        import select

        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        deadline = time.monotonic() + 30 + self.frames / 100 / 5
        out = self.proc.stdout.fileno()
        while time.monotonic() < deadline:
            r, _, _ = select.select([out], [], [], 0.2)
            if r and not os.read(out, 65536):
                break
            if not r and self.proc.poll() is not None:
                break
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(max(0.1, deadline - time.monotonic()))

    def _cleanup(self):
        super()._cleanup()
        if self.lock is not None:
            self.lock.close()
            self.lock = None


def session_records(storage_dir):
    """Every per-second record logged in a host-folder storage, in session order:
    [(header, records)], decoded with the device's own log format."""
    from firmware.logformat import decode_session

    out = []
    for path in sorted(Path(storage_dir, "logs").glob("s*.log")):
        out.append(decode_session(path.read_bytes()))
    return out


def contract_second(rec):
    """A decoded log record as the analysis contract's `seconds` entry."""
    from callcue.analysis.analyze import second_record
    from dsp.engine import RECORD_FIELDS

    return second_record([rec[name] for name in RECORD_FIELDS])


def read_result(path):
    """The firmware's `--result` JSON, or None if it did not end by itself."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------------- dongle folders

DONGLE_FILE = "dongle.json"
DONGLE_FORMAT = "callcue-virtual-dongle/1"
FLASH_FILE = "flash.lfs"      # its flash: a LittleFS image, written through like flash
CLOCK_FILE = "clock"          # the offset of the clock a host set from this host's clock
ID_MAX = 16                   # a session header keeps 16 bytes of the device id


def id_problem(device_id):
    """Why `device_id` cannot name a virtual dongle, or None."""
    from callcue.archive.store import id_problem as unsafe

    why = unsafe(device_id)
    if why is None and len(device_id) > ID_MAX:
        why = "%r is longer than %d characters (a session header keeps %d)" % (
            device_id, ID_MAX, ID_MAX)
    return why


def speed_problem(speed):
    """Why `speed` cannot pace a call, or None. Below 0, the board's pacing would wait at
    full CPU for a frame time that never comes."""
    if speed < 0:
        return "%d is below 0 (0: as fast as possible; N: N times real time)" % speed
    return None


def is_dongle(path):
    return Path(path, DONGLE_FILE).is_file()


class Dongle:
    """A virtual dongle kept in a folder: DIR/dongle.json (its id, when its last played
    call ended), DIR/flash.lfs (its flash: /config.json, /logs, /key.bin, as on the
    device) and DIR/clock. Several folders, several dongles. `Dongle.open(DIR)` reads
    one; `create=True` makes the folder on first use (new or empty). `lock()` keeps
    two processes off one flash at once."""

    def __init__(self, path, doc):
        self.path = Path(path)
        self.doc = doc
        self.device_id = doc["device_id"]
        self.flash = self.path / FLASH_FILE
        self.clock_file = self.path / CLOCK_FILE

    @classmethod
    def open(cls, path, create=False, device_id=None):
        path = Path(path)
        where = str(path)
        if device_id is not None:
            why = id_problem(device_id)
            if why is not None:
                raise SimError("--id: " + why)
        meta = path / DONGLE_FILE
        if not meta.is_file():
            if not create:
                what = "no such folder" if not path.exists() else \
                    "not a virtual dongle folder (no %s)" % DONGLE_FILE
                raise SimError("%s: %s; make one by playing calls into it: callcue sim "
                               "CALL.wav --dongle %s" % (where, what, where))
            if path.exists() and (not path.is_dir() or any(path.iterdir())):
                raise SimError("%s: not a virtual dongle folder, and not empty: give a new "
                               "or empty folder" % where)
            path.mkdir(parents=True, exist_ok=True)
            doc = {"format": DONGLE_FORMAT,
                   "device_id": device_id or "cc-sim-%s" % os.urandom(3).hex(),
                   "created": int(time.time()), "last_call_end": None}
            dongle = cls(path, doc)
            dongle.save()
            return dongle
        try:
            doc = json.loads(meta.read_text())
            ok = doc.get("format") == DONGLE_FORMAT and isinstance(doc.get("device_id"), str)
        except (OSError, ValueError, AttributeError):
            ok = False
        if not ok or id_problem(doc["device_id"]) is not None:
            raise SimError("%s: %s is damaged (not %s); make a new dongle folder" % (
                where, DONGLE_FILE, DONGLE_FORMAT))
        if device_id is not None and device_id != doc["device_id"]:
            raise SimError("%s: this dongle is %s, not %s: leave out --id, or give another "
                           "folder" % (where, doc["device_id"], device_id))
        if doc.get("last_call_end") is not None and not isinstance(doc["last_call_end"], int):
            doc["last_call_end"] = None
        dongle = cls(path, doc)
        if dongle.flash.exists() and not is_littlefs(dongle.flash):
            raise SimError("%s: not a LittleFS image: the dongle's flash is damaged" %
                           dongle.flash)
        return dongle

    def save(self):
        tmp = self.path / (DONGLE_FILE + ".tmp")
        tmp.write_text(json.dumps(self.doc, indent=1) + "\n")
        os.replace(tmp, self.path / DONGLE_FILE)

    def lock(self):
        """An open file holding an exclusive lock on the folder: another process that
        would open the same flash gets SimError instead."""
        import fcntl

        f = open(self.path / ".lock", "a")  # noqa: SIM115 - the caller closes it
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            raise SimError("%s: the dongle is in use by another callcue (a sim:// port or "
                           "callcue sim); close it first" % self.path) from None
        return f

    def plug_in(self):
        """The dongle served with no call playing, as when plugged into a host: a
        VirtualDongle that answers the protocol and keeps what it is told in its
        folder."""
        lock = self.lock()
        try:
            if not self.flash.exists():
                raise SimError("%s: the dongle has no flash yet; play calls into it first: "
                               "callcue sim CALL.wav --dongle %s" % (self.path, self.path))
            return VirtualDongle(storage=self.flash, stay=True, clock_file=self.clock_file,
                                 lock=lock)
        except BaseException:
            lock.close()
            raise


def is_littlefs(path):
    """Whether a file looks like a LittleFS image (its superblock names itself)."""
    try:
        with open(path, "rb") as f:
            head = f.read(8192)
    except OSError:
        return False
    return b"littlefs" in head


def parse_duration(text):
    """Seconds in '90', '90s', '5m', '2h' or '1d' (0 to 366 days); ValueError, whose
    text says why, otherwise."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    t = text.strip().lower()
    mult = units.get(t[-1:], None)
    number = t[:-1] if mult else t
    mult = mult or 1
    try:
        value = float(number)
    except ValueError:
        raise ValueError("%r is not a duration like 90s, 5m, 2h or 1d" % text) from None
    if not value >= 0:
        raise ValueError("%r is not a duration of 0 or more" % text)
    if value * mult > 366 * 86400:
        raise ValueError("%r is longer than a year (366d at most)" % text)
    return int(value * mult)


def plan_starts(durations, gap, start=None, last_end=None, now=None):
    """Each call's start (unix s): from `start`, or else so that the calls end about now,
    one after another with `gap` seconds between them, never before the dongle's last
    call ended (plus the gap)."""
    now = int(time.time()) if now is None else now
    if start is None:
        span = sum(durations) + gap * (len(durations) - 1)
        start = now - span
        if last_end is not None:
            start = max(start, last_end + gap)
    out = []
    t = int(start)
    for d in durations:
        out.append(t)
        t += int(round(d)) + gap
    return out


def play_calls(dongle, wavs, start=None, gap=120, speed=0, led=False, say=print):
    """Play each call into the dongle's flash, one after another, each from its own
    start on the dongle's clock (a separate boot and session), and return the firmware's
    results. Every WAV is read before anything is played: a bad one plays none."""
    calls = [(w, *wavio.read_call(w)[:2]) for w in wavs]
    durations = [min(len(r), len(c)) // FRAME / 100 for _, r, c in calls]
    starts = plan_starts(durations, gap, start, dongle.doc.get("last_call_end"))
    lock = dongle.lock()
    results = []
    try:
        for i, ((wav, rep, cust), t0, dur) in enumerate(zip(calls, starts, durations)):
            t_run = time.monotonic()
            vd = VirtualDongle(rep=rep, cust=cust, storage=dongle.flash, speed=speed,
                               led=led, link=False, device_id=dongle.device_id,
                               start_time=t0)
            _, err = vd.proc.communicate(b"")
            code = vd.proc.returncode
            vd.close()
            res = vd.result
            if code != 0 or res is None:
                tail = (err or b"").decode(errors="replace").strip().splitlines()[-1:]
                raise SimError("%s: the virtual dongle stopped: %s" % (
                    wav, tail[0] if tail else "exit code %s" % code))
            res.update(wav=str(wav), start=t0, duration_s=dur,
                       seconds=time.monotonic() - t_run)
            end = t0 + int(round(dur))
            last = dongle.doc.get("last_call_end")
            dongle.doc["last_call_end"] = end if last is None else max(last, end)
            dongle.save()
            results.append(res)
            say(call_line(dongle, i, len(calls), res))
    finally:
        lock.close()
    return results


def call_line(dongle, i, n, res):
    """One line for a played call."""
    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(res["start"]))
    if res["sessions"]:
        what = ", ".join("session %d (%d log records)" % (s["id"], s["records"])
                         for s in res["sessions"])
    else:
        what = "no session (nobody spoke)"
    slow = ""
    if res.get("lag_ms", 0) >= 100:
        slow = "; the host was too busy for the pace: it took %.1f s longer, no audio " \
            "lost" % (res["lag_ms"] / 1000)
    return "%s call %d/%d %s: %s, %.0f s from %s, %d overruns (%.1f s)%s" % (
        dongle.device_id, i + 1, n, Path(res["wav"]).name, what, res["duration_s"], stamp,
        res["overruns"], res["seconds"], slow)
