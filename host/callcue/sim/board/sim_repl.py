"""A simulated RP2040 running stock MicroPython, as `mpremote` sees it: the REPL on stdio.

    micropython -X heapsize=16M sim_repl.py [--storage ram|IMAGE.lfs] [--size KB]
                        [--mpy 6.3] [--unique-id HEX] [--no-raw-paste] [--not-micropython]
                        [--app-wdt MS]

with MICROPYPATH at a folder holding `dsp` and `firmware` and at this folder (hal_sim)
(`callcue sim --repl` does all this).

What `callcue flash` needs from a board, over the serial link (stdin/stdout here; `callcue
sim --repl` bridges it to a pseudo-terminal): MicroPython's friendly and raw REPL, byte for
byte as pyexec.c speaks them (below), code run with `exec` in globals that persist until a
soft reset, a LittleFS filesystem mounted at / (an image file written through block by
block, so it survives the process; or RAM), and stand-ins for what mpremote's commands
import: `machine` (unique_id, RTC, WDT, reset, soft_reset) and a `sys` that reports the
board's `platform` ("rp2") and `implementation._mpy` (the .mpy version and the armv6m
architecture, as the RP2040 build reports them).

| host sends                | board answers                                              |
|---------------------------|------------------------------------------------------------|
| Ctrl-A (friendly REPL)    | `\\r\\n` then `raw REPL; CTRL-B to exit\\r\\n>`            |
| Ctrl-A (raw REPL)         | `raw REPL; CTRL-B to exit\\r\\n>` (line discarded)         |
| code, Ctrl-D              | `OK`, stdout, `\\x04`, traceback, `\\x04`, `>`             |
| Ctrl-D on an empty line   | `OK\\r\\nMPY: soft reboot\\r\\n` + raw banner (soft reset) |
| `\\x05A\\x01` (raw-paste) | `R\\x01` + window (u16 LE) and flow control, or `R\\x00`   |
| Ctrl-B (raw REPL)         | `\\r\\n` + friendly banner, `>>> `                         |
| Ctrl-C                    | clears the line (friendly: `\\r\\n>>> `)                   |
| Ctrl-C (/main.py running) | traceback (KeyboardInterrupt), friendly banner, `>>> `     |
| Ctrl-D (friendly, empty)  | `\\r\\nMPY: soft reboot\\r\\n`, /main.py, friendly banner  |

print() output is "cooked" as on the device (each \\n sent as \\r\\n).

Boot, as an RP2040's: at power-up, on `machine.reset()` (which writes nothing more: a real
board drops off USB; the RTC keeps running) and on a soft reset from the friendly REPL,
/main.py runs if the filesystem has one, then the friendly REPL. After `callcue flash`
that is the callcue app, from the image: every dsp and firmware module it imports is the
image's .mpy, except what this CPU (the unix port's, not Thumb) cannot run: the
peripherals in firmware/hal_rp2.mpy are this board's own (RP2040HAL: no I2S, so silent
audio at 100 frames a second, as from a dongle on USB with no call; the LED's cue kept;
the RTC above; machine.WDT), and dsp/kernels_viper.mpy's Thumb kernels are the image's
bit-identical plain ones (kernels.py). The app talks the callcue protocol on the link.
Ctrl-C from the host interrupts it (AppStdin: the USB REPL's kbd_intr), printing the
traceback and the friendly REPL as the device does. The watchdog the app arms cannot be
disarmed: unfed (the app stopped, or ended by `reboot`), it resets the board after its
timeout (or `--app-wdt MS`'s), silently, mid-session if one is open, and
the app starts again; only a hard reset before that disarms it.
`--not-micropython` answers every input with bytes that are not a REPL; `--mpy 6.2`
reports another .mpy version. Exits when stdin closes (its host went away), the app
running or not. Never copied to the device (flash.SIM_ONLY).
"""

import io
import select
import sys
import time

import hal_sim

_REAL_SYS = sys
_RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
_WINDOW = 256                  # raw-paste window, MICROPY_REPL_STDIN_BUFFER_MAX on rp2
_ARCH_ARMV6M = 4               # MP_NATIVE_ARCH_ARMV6M, bits 10.. of sys.implementation._mpy
_STREAM_POLL = 3               # MP_STREAM_POLL: select.poll asks a Python stream this
_EINVAL = 22
_FRAME = 80                    # samples per 10 ms frame (dsp.engine.FRAME)
# frames the capture may fall behind before it loses audio: the rp2 HAL's I2S buffer
# (100 ms) and frame ring (80 ms)
_SLACK_FRAMES = 18
_BOARD = None                  # the Board, for the stand-ins the flashed app builds


class HardReset(BaseException):
    """machine.reset() (or the watchdog): unwinds the running code back to the boot."""


class SoftReset(BaseException):
    """machine.soft_reset() (and sys.exit, as on the device)."""


class HostGone(BaseException):
    """stdin closed while the flashed app runs: the board's host went away."""


class Implementation:
    def __init__(self, mpy_major, mpy_minor):
        real = _REAL_SYS.implementation
        self.name = "micropython"
        self.version = real.version
        self._machine = "Raspberry Pi Pico with RP2040"
        self._mpy = mpy_major | (mpy_minor << 8) | (_ARCH_ARMV6M << 10)
        self._build = "RPI_PICO"

    def __repr__(self):
        return "(name='micropython', version=%r, _machine=%r, _mpy=%d, _build=%r)" % (
            self.version, self._machine, self._mpy, self._build)


class BoardSys:
    """`sys` as the exec'd code sees it: the real one, but the board's identity."""

    def __init__(self, impl):
        self.implementation = impl
        self.platform = "rp2"

    def exit(self, code=0):
        raise SoftReset()

    def __getattr__(self, name):
        return getattr(_REAL_SYS, name)


class RTC:
    """The RP2040's RTC: starts at 2021-01-01 00:00:00 (a board that has not been set),
    then runs with the host's monotonic clock. datetime() tuples are (year, month, day,
    weekday, hour, minute, second, subsecond), weekday 0 = Monday."""

    base_s = 1609459200        # 2021-01-01 00:00:00 UTC, shared by every RTC() instance
    ticks0 = time.ticks_ms()

    @staticmethod
    def seconds():
        return RTC.base_s + time.ticks_diff(time.ticks_ms(), RTC.ticks0) // 1000

    def datetime(self, dt=None):
        if dt is None:
            g = time.gmtime(RTC.seconds())
            return (g[0], g[1], g[2], g[6], g[3], g[4], g[5], 0)
        y, mo, d, _wd, h, mi, s = dt[:7]
        RTC.base_s = _epoch_s(y, mo, d, h, mi, s)
        RTC.ticks0 = time.ticks_ms()
        return None


def _epoch_s(y, mo, d, h, mi, s):
    """Seconds since 1970 of a calendar time read as UTC (the inverse of time.gmtime)."""
    y -= mo <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (mo + (-3 if mo > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    return days * 86400 + h * 3600 + mi * 60 + s


class WDT:
    """The RP2040's watchdog: once made it cannot be stopped, only fed; unfed for its
    timeout (or --app-wdt MS), the board resets. Only a hard reset disarms it."""

    def __init__(self, id=0, timeout=5000):
        _BOARD.wdt_ms = _BOARD.app_wdt_ms or timeout
        self.feed()

    def feed(self):
        _BOARD.wdt_due = time.ticks_add(time.ticks_ms(), _BOARD.wdt_ms)


class Machine:
    """The part of `machine` that mpremote, callcue flash and the board's HAL use."""

    RTC = RTC
    WDT = WDT

    def __init__(self, uid):
        self._uid = uid

    def unique_id(self):
        return self._uid

    def reset(self):
        raise HardReset()

    def soft_reset(self):
        raise SoftReset()

    def bootloader(self):
        raise HardReset()

    def freq(self, hz=None):
        return 125_000_000

    def reset_cause(self):
        return 1               # PWRON_RESET

    def idle(self):
        pass


# ------------------------------------------------------- the board's hardware, for /main.py
# The flashed main.py builds its app from firmware.hal_rp2 (I2S capture, NeoPixel, RTC,
# watchdog). The image's hal_rp2.mpy is Thumb code for the RP2040's peripherals, which this
# board has not, so `firmware.hal_rp2` is this board's own HAL (RP2040HAL); every other
# module main.py imports comes from the image.


class SilentCapture:
    """hal_rp2.I2SCapture on a board with no I2S (a dongle on USB with no call): silent
    frames, 100 a second in real time, so the app's loop runs and feeds its watchdog as on
    the device. Frames the loop falls too far behind on are lost and counted, as there."""

    def __init__(self):
        self.overruns = 0
        self.done = False
        self.t0 = time.ticks_ms()
        self.delivered = 0

    def read(self, rep, cust):
        late = time.ticks_diff(time.ticks_ms(), self.t0) - 10 * self.delivered
        due = late // 10
        if due <= 0:
            # the CPU waits for the frame's DMA interrupt (the link is polled meanwhile)
            time.sleep_ms(min(10 - late, 10))
            return False
        if due > _SLACK_FRAMES:
            self.overruns += due - _SLACK_FRAMES
            self.delivered += due - _SLACK_FRAMES
        for i in range(_FRAME):
            rep[i] = 0
            cust[i] = 0
        self.delivered += 1
        return True


class CueLED:
    """hal_rp2.NeoPixelLED: keeps the cue shown (no LED to light)."""

    def __init__(self, brightness_pct=25):
        self.cue = 0
        self.changes = 0

    def show(self, cue):
        if cue != self.cue:
            self.cue = cue
            self.changes += 1


class RTCClock:
    """hal_rp2.RTCClock on this board's RTC (machine.RTC, set by `mpremote rtc --set` or
    the app's set_time): 0 until set, as after the RP2040's power-up."""

    def __init__(self):
        self.t0 = time.ticks_ms()

    def now(self):
        t = RTC.seconds()
        return t if t >= 1704067200 else 0     # hal_rp2._CLOCK_VALID_FROM

    def set_time(self, t):
        y, mo, d, h, mi, s, wd, _ = time.gmtime(t)
        RTC().datetime((y, mo, d, wd, h, mi, s, 0))

    def uptime_s(self):
        return time.ticks_diff(time.ticks_ms(), self.t0) // 1000


class RP2040HAL:
    """What `from firmware import hal_rp2` gives the flashed main.py on this board."""

    I2SCapture = SilentCapture
    NeoPixelLED = CueLED
    RTCClock = RTCClock

    @staticmethod
    def watchdog(timeout_ms=4000):
        return WDT(timeout=timeout_ms)


class AppStdin(io.IOBase):
    """sys.stdin as the running app sees it: the USB CDC REPL's, which turns Ctrl-C
    (0x03) into KeyboardInterrupt before the app can read it (micropython.kbd_intr(3)), so
    mpremote and callcue flash can always break in. select.poll asks it through ioctl."""

    def __init__(self, board):
        self.board = board

    def ioctl(self, req, arg):
        if req == _STREAM_POLL:
            for _obj, ev in self.board.inpoll.ipoll(0):
                if ev & select.POLLIN:
                    return arg & select.POLLIN
                raise HostGone()            # hung up: nothing more will come
            return 0
        return 0 if req == 4 else -_EINVAL      # 4: close; no file descriptor to give

    def readinto(self, buf):
        n = 0
        while n < len(buf) and (n == 0 or self.ioctl(_STREAM_POLL, select.POLLIN)):
            c = self.board.inp.read(1)
            if not c:
                raise HostGone()
            if c[0] == 3:
                raise KeyboardInterrupt()
            buf[n] = c[0]
            n += 1
        return n


def _foreign_native(path):
    """Whether the .mpy at path holds native code for a CPU other than this one."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return False
    arch = head[2] >> 2 if len(head) == 4 else 0
    return arch != 0 and arch != _REAL_SYS.implementation._mpy >> 10


class Board:
    def __init__(self, opts):
        self.inp = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else sys.stdin
        self.out = sys.stdout.buffer if hasattr(sys.stdout, "buffer") else sys.stdout
        self.raw_paste = "--no-raw-paste" not in opts
        mpy = _REAL_SYS.implementation._mpy       # default: what this MicroPython loads
        major, minor = _opt(opts, "--mpy", "%d.%d" % (mpy & 0xFF, (mpy >> 8) & 3)).split(".")
        self.impl = Implementation(int(major), int(minor))
        uid = _opt(opts, "--unique-id", "e6614103e7452d2f")
        self.machine = Machine(bytes(int(uid[i:i + 2], 16) for i in range(0, len(uid), 2)))
        self.inpoll = select.poll()
        self.inpoll.register(self.inp, select.POLLIN)
        self.globals = None
        self.raw = False
        self.app = False
        self.wdt_ms = None          # the watchdog's timeout once something arms it
        self.wdt_due = None         # ticks_ms at which it bites, unless fed
        self.app_wdt_ms = int(_opt(opts, "--app-wdt", "0"))
        global _BOARD
        _BOARD = self
        mount_root(_opt(opts, "--storage", "ram"), int(_opt(opts, "--size", "1408")) * 1024)
        self.sys = BoardSys(self.impl)
        sys.modules["sys"] = self.sys
        sys.modules["machine"] = self.machine
        # what a reset leaves in sys.modules: no callcue module (this board's own dsp and
        # firmware came from the host; the flashed app imports the image's)
        self.modules = {k: v for k, v in sys.modules.items()
                        if not k.startswith(("dsp", "firmware"))}
        import builtins
        builtins.print = _cooked_print
        self.fresh_globals()

    # ---------------------------------------------------------------- io

    def write(self, data):
        self.out.write(data)

    def getc(self):
        while self.wdt_due is not None:         # armed and nobody feeds it: it bites
            left = time.ticks_diff(self.wdt_due, time.ticks_ms())
            if left <= 0:
                raise HardReset()
            if self.inpoll.poll(left):
                break
        c = self.inp.read(1)
        if not c:
            raise EOFError
        if self.wdt_due is not None and time.ticks_diff(time.ticks_ms(), self.wdt_due) >= 0:
            raise HardReset()       # the watchdog bit: this byte reaches a board resetting
        return c[0]

    def banner(self):
        v = self.impl.version
        self.write(b"MicroPython v%d.%d.%d on 2026-01-01; %s\r\nType \"help()\" for more "
                   b"information.\r\n" % (v[0], v[1], v[2], self.impl._machine.encode()))

    def fresh_globals(self):
        """The heap starts over (soft or hard reset): new globals, no module imported."""
        self.globals = {"__name__": "__main__"}
        sys.modules.clear()
        sys.modules.update(self.modules)

    def soft_reset(self, prefix=b""):
        """As the device: the raw REPL comes back as it was; the friendly REPL runs
        /main.py first (pyexec_mode_kind is the friendly REPL's)."""
        import gc
        import os

        self.fresh_globals()
        gc.collect()            # as gc_sweep_all() on the device: finalisers close files
        hal_sim.sync_storage()
        self.write(prefix + b"MPY: soft reboot\r\n")
        if self.raw:
            self.write(_RAW_BANNER)
        elif "main.py" in os.listdir("/"):
            self.app = True
        else:
            self.banner()

    # ---------------------------------------------------------------- REPLs

    def run(self):
        self.boot()
        while True:
            try:
                if self.app:
                    self.run_app()
                elif self.raw:
                    self.raw_repl()
                else:
                    self.friendly_repl()
            except HardReset:
                self.hard_reset()

    def boot(self):
        """Power-on or hard reset (the watchdog disarmed): /main.py if there is one, then
        the friendly REPL."""
        import os

        self.wdt_ms = None
        self.wdt_due = None
        self.raw = False
        self.app = "main.py" in os.listdir("/")
        if not self.app:
            self.banner()
            self.write(b">>> ")

    def hard_reset(self):
        hal_sim.sync_storage()      # the USB link drops; nothing more is written
        self.fresh_globals()
        self.boot()

    def run_app(self):
        """/main.py, as the device runs it at boot (pyexec_file, in the REPL's globals):
        the flashed callcue app, from the image, on this board's HAL (RP2040HAL), until
        it ends: Ctrl-C from the host (AppStdin), an exception, or its `reboot`. Then
        the friendly REPL; the watchdog the app armed, no longer fed, resets the board
        when it bites (getc), and the app starts again."""
        self.app = False
        soft = False
        err = None
        self.board_modules()
        try:
            with open("main.py") as f:
                code = compile(f.read(), "main.py", "exec")
            self.sys.stdin = AppStdin(self)
            exec(code, self.globals)
        except (HardReset, HostGone):
            raise
        except (SoftReset, SystemExit):
            soft = True
        except BaseException as e:          # noqa: BLE001 - printed, as pyexec does
            err = e
        finally:
            try:
                del self.sys.stdin          # the REPL reads the link itself (getc)
            except AttributeError:
                pass
        if soft:
            self.soft_reset()
            return
        if err is not None:
            self.traceback(err)
        self.banner()
        self.write(b">>> ")

    def board_modules(self):
        """Put this board's hardware where main.py imports it (firmware.hal_rp2), and
        the image's plain kernels where dsp.kernels_viper is, when the image's
        kernels_viper.mpy is native code for another CPU (the RP2040's Thumb): the
        engine's kernels are bit-identical twins, the same choice kernels.select makes
        where viper is missing."""
        sys.modules["firmware.hal_rp2"] = RP2040HAL
        if _foreign_native("dsp/kernels_viper.mpy"):
            try:
                __import__("dsp.kernels")
                sys.modules["dsp.kernels_viper"] = sys.modules["dsp.kernels"]
            except Exception:       # noqa: BLE001 - main.py's own import will say why
                pass

    def friendly_repl(self):
        line = bytearray()
        while not self.raw:
            c = self.getc()
            if c == 1:                              # Ctrl-A: raw REPL
                self.write(b"\r\n" + _RAW_BANNER)
                self.raw = True
                return
            if c == 2:                              # Ctrl-B: banner again
                self.write(b"\r\n")
                self.banner()
                line = bytearray()
            elif c == 3:                            # Ctrl-C
                self.write(b"\r\n")
                line = bytearray()
            elif c == 4 and not line:               # Ctrl-D: soft reset
                self.soft_reset(b"\r\n")
            elif c in (10, 13):
                self.write(b"\r\n")
                if line:
                    self.execute(bytes(line), eof=False, single=True)
                line = bytearray()
            elif c in (8, 127):
                if line:
                    line.pop()
                    self.write(b"\x08 \x08")
                continue
            elif c >= 32:
                line.append(c)
                self.write(bytes((c,)))
                continue
            else:
                continue
            if self.app:                            # soft reset: /main.py runs first
                return
            self.write(b">>> ")

    def raw_repl(self):
        line = bytearray()
        self.write(b">")
        while self.raw:
            c = self.getc()
            if c == 1:                              # Ctrl-A
                if len(line) == 2 and line[0] == 5 and line[1] == ord("A"):
                    line = bytearray()
                    if not self.raw_paste:
                        self.write(b"R\x00")
                        continue
                    self.write(b"R\x01" + bytes((_WINDOW & 0xFF, _WINDOW >> 8)))
                    code = self.paste()
                    if code is not None:
                        self.execute(code, eof=True)
                    return
                self.write(_RAW_BANNER)             # reset the raw REPL
                return
            if c == 2:                              # Ctrl-B: friendly REPL
                self.write(b"\r\n")
                self.raw = False
                self.banner()
                self.write(b">>> ")
                return
            if c == 3:                              # Ctrl-C: clear the line
                line = bytearray()
            elif c == 4:                            # Ctrl-D: run it
                self.write(b"OK")
                if not line:
                    self.soft_reset(b"\r\n")
                    return
                self.execute(bytes(line), eof=True)
                return
            else:
                line.append(c)

    def paste(self):
        """Raw-paste mode's flow control: grant a new window each _WINDOW bytes; Ctrl-D
        ends the code (acknowledged with Ctrl-D), Ctrl-C abandons it."""
        code = bytearray()
        remain = _WINDOW
        while True:
            c = self.getc()
            if c in (3, 4):
                self.write(b"\x04")
                return bytes(code) if c == 4 else None
            code.append(c)
            remain -= 1
            if remain == 0:
                self.write(b"\x01")
                remain = _WINDOW

    def execute(self, code, eof, single=False):
        """Run code as pyexec does: stdout, then (raw REPL) \\x04, traceback, \\x04."""
        reset = None
        err = None
        try:
            if single:
                try:
                    r = eval(code, self.globals)
                    if r is not None:
                        print(repr(r))
                except SyntaxError:
                    exec(code, self.globals)
            else:
                exec(code, self.globals)
        except HardReset:
            reset = "hard"
        except (SoftReset, SystemExit):
            reset = "soft"
        except BaseException as e:          # noqa: BLE001 - the REPL prints every exception
            err = e
        if reset == "hard":
            raise HardReset()
        if eof:
            self.write(b"\x04")
        if err is not None:
            self.traceback(err)
        if eof:
            self.write(b"\x04")
        if reset == "soft":
            self.soft_reset()


    def traceback(self, err):
        """The exception as the board prints it: without this file's own frame."""
        import io

        buf = io.StringIO()
        sys.print_exception(err, buf)
        for line in buf.getvalue().split("\n"):
            if line and "sim_repl.py" not in line:
                self.write(line.replace("<string>", "<stdin>").encode() + b"\r\n")


_PRINT = print


def _cooked_print(*args, sep=" ", end="\n", file=None):
    """print() as on the device, whose REPL output turns each \\n into \\r\\n."""
    if file is not None and file is not _REAL_SYS.stdout:
        return _PRINT(*args, sep=sep, end=end, file=file)
    import io

    buf = io.StringIO()
    _PRINT(*args, sep=sep, end=end, file=buf)
    _REAL_SYS.stdout.write(buf.getvalue().replace("\n", "\r\n"))
    return None


def mount_root(spec, size):
    """LittleFS at / as on the RP2040 (4 KB blocks, progsize 256): in RAM, or on an image
    file written through block by block (created if missing). The host's folders are gone
    from then on, so everything the REPL needs is imported before."""
    import os

    import vfs

    if spec == "ram":
        bdev = hal_sim.RAMBlockDev(bytearray(b"\xff" * size))
        fresh = True
    else:
        bdev, fresh = hal_sim.FileBlockDev.open(spec, size)
    if not fresh:
        try:
            fs = vfs.VfsLfs2(bdev, progsize=256)
        except OSError:
            fresh = True
    if fresh:
        vfs.VfsLfs2.mkfs(bdev, progsize=256)
        fs = vfs.VfsLfs2(bdev, progsize=256)
    vfs.umount("/")
    vfs.mount(fs, "/")
    os.chdir("/")
    sys.path[:] = ["", ".frozen", "/lib"]


def not_micropython():
    """Something else on the port: answers every input with bytes that are no REPL."""
    inp = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else sys.stdin
    out = sys.stdout.buffer if hasattr(sys.stdout, "buffer") else sys.stdout
    while inp.read(1):
        out.write(b"\x00\xfe?ERR\r\n")


def _opt(opts, name, default):
    return opts[opts.index(name) + 1] if name in opts else default


def main(argv):
    if "--not-micropython" in argv:
        not_micropython()
        return 0
    # everything the exec'd code may import, while the host's folders are still mounted
    import binascii  # noqa: F401
    import hashlib  # noqa: F401
    import json  # noqa: F401
    import os  # noqa: F401

    board = Board(argv[1:])
    try:
        board.run()
    except (EOFError, HostGone, KeyboardInterrupt):  # the host went away, or Ctrl-C
        pass
    hal_sim.sync_storage()
    return 0


main(sys.argv)
