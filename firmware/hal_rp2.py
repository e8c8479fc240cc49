"""The RP2040 board: I2S stereo ADC capture, WS2812 cue LED, RTC clock, watchdog.

The only module that imports `machine`. Pins and rates come from board.py (generated
from hardware/pinout.toml). Capture: machine.I2S in non-blocking mode fills a ring of
preallocated frame buffers from its callback; read() de-interleaves the oldest full
one into the engine's int16 frames. Loss is never silent, wherever it happens:
- the loop falls behind and our ring is full: the callback overwrites the oldest
  frame and counts it;
- the port drops audio itself, without telling: its DMA halves (2 ms each) are
  overwritten while interrupts are off (a flash program or erase: a LittleFS
  block erase takes about 45 ms), or its ring `ibuf` is full because the callback,
  which the port schedules on the main thread, could not run. The callback checks
  the frames delivered against time.ticks_us (framegaps.py) and counts those.
Both go into `overruns`, which the app logs in every record and shows in `info`.
`ibuf` holds IBUF_MS of audio (the port keeps it as 32-bit stereo, 8 bytes per
sample), far more than the worst stall measured with interrupts on (a gc.collect,
a session log opened: firmware/README.md).
"""

import time

import machine
import micropython
import neopixel
from machine import I2S, Pin

from . import board
from .framegaps import FrameGaps
from .leds import CUE_COLOURS

_FRAME = 80
_SLOTS = 8                  # 80 ms of slack for the loop
_FRAME_BYTES = _FRAME * 4   # 16-bit stereo: L, R per sample
IBUF_MS = 100               # the port's ring: 100 ms as 32-bit stereo, 6,400 bytes
_IBUF = IBUF_MS * board.I2S_RATE_HZ // 1000 * 8


@micropython.viper
def _deinterleave(src: ptr16, rep: ptr16, cust: ptr16, n: int, rep_slot: int):
    cust_slot = 1 - rep_slot
    i = 0
    while i < n:
        rep[i] = src[2 * i + rep_slot]
        cust[i] = src[2 * i + cust_slot]
        i += 1


class I2SCapture:
    def __init__(self):
        self.ring = [bytearray(_FRAME_BYTES) for _ in range(_SLOTS)]
        self.head = 0          # slot the IRQ fills next
        self.tail = 0          # slot read() takes next
        self.count = 0
        self.overruns = 0
        self.done = False
        # frames on their way: the port's ring, and the frame read into (filled from
        # the ring; its DMA halves hold less than one more); the clock starts as the
        # capture does (framegaps.py)
        self.gaps = FrameGaps(IBUF_MS // 10 + 1)
        self.gaps.start(time.ticks_us())
        self.i2s = I2S(board.I2S_ID, sck=Pin(board.I2S_SCK), ws=Pin(board.I2S_WS),
                       sd=Pin(board.I2S_SD), mode=I2S.RX, bits=board.I2S_BITS,
                       format=I2S.STEREO, rate=board.I2S_RATE_HZ, ibuf=_IBUF)
        self.i2s.irq(self._irq)
        self.i2s.readinto(self.ring[self.head])

    def _irq(self, i2s):
        # ring[head] is complete; one slot is always the one being filled
        self.overruns += self.gaps.delivered(time.ticks_us())   # audio the port lost
        if self.count == _SLOTS - 1:       # ring full: drop the oldest frame
            self.tail = (self.tail + 1) % _SLOTS
            self.count -= 1
            self.overruns += 1
        self.head = (self.head + 1) % _SLOTS
        self.count += 1
        i2s.readinto(self.ring[self.head])

    def read(self, rep, cust):
        if self.count == 0:
            return False
        _deinterleave(self.ring[self.tail], rep, cust, _FRAME, board.I2S_REP_SLOT)
        irq = machine.disable_irq()
        self.tail = (self.tail + 1) % _SLOTS
        self.count -= 1
        machine.enable_irq(irq)
        return True


class NeoPixelLED:
    """One WS2812: the cue's colour at a brightness that is visible, not glaring."""

    def __init__(self, brightness_pct=25):
        self.np = neopixel.NeoPixel(Pin(board.LED_PIN), board.LED_COUNT)
        k = brightness_pct
        # the colours at this brightness, made once: show() runs in the frame loop
        self.colours = [(r * k // 100, g * k // 100, b * k // 100)
                        for _, (r, g, b) in CUE_COLOURS]
        self.cue = -1
        self.show(0)

    def show(self, cue):
        if cue == self.cue:
            return
        self.cue = cue
        self.np[0] = self.colours[cue]
        self.np.write()


# A power-up or reset restarts the RP2040's RTC at 2021-01-01; anything before 2024 means
# nobody has set it since, and sessions are stamped 0 ("never set", LOGFORMAT.md).
_CLOCK_VALID_FROM = 1704067200


class RTCClock:
    def __init__(self):
        self.rtc = machine.RTC()
        self.t0 = time.ticks_ms()

    def now(self):
        t = time.time()
        return t if t >= _CLOCK_VALID_FROM else 0

    def set_time(self, t):
        y, mo, d, h, mi, s, wd, _ = time.gmtime(t)
        self.rtc.datetime((y, mo, d, wd, h, mi, s, 0))

    def uptime_s(self):
        return time.ticks_diff(time.ticks_ms(), self.t0) // 1000


def watchdog(timeout_ms=4000):
    return machine.WDT(timeout=timeout_ms)
