"""Pins and buses of the callcue dongle (callcue-dongle rev A, RP2040).

GENERATED from hardware/pinout.toml by `python hardware/gen_board.py`: do not edit.
Plain integers only, no `machine` import: the RP2040 HAL builds its Pin, I2S and
NeoPixel objects from these numbers, and the simulated HAL can import them too.
"""

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


# GPIO numbers (machine.Pin ids)
UART_TX = const(0)  # net UART0_TX (uart)
UART_RX = const(1)  # net UART0_RX (uart)
I2S_SCK = const(10)  # net I2S_BCLK (pio)
I2S_WS = const(11)  # net I2S_FSYNC (pio)
I2S_SD = const(12)  # net I2S_SDOUT (pio)
LED_PIN = const(16)  # net LED_DIN_3V3 (gpio)
BUTTON_PIN = const(17)  # net BTN_N (gpio)

# inputs that read 0 when pressed, and inputs that need the internal pull-up
BUTTON_ACTIVE_LOW = const(1)
BUTTON_PULL_UP = const(1)

# machine.I2S(I2S_ID, sck=I2S_SCK, ws=I2S_WS, sd=I2S_SD, mode=I2S.RX, bits=I2S_BITS,
#             format=I2S.STEREO, rate=I2S_RATE_HZ, ibuf=...)
I2S_ID = const(0)
I2S_RATE_HZ = const(8000)  # the ADC runs at the DSP rate
I2S_BITS = const(16)  # readinto() gives the top 16 bits of each slot
I2S_SLOT_BITS = const(32)  # on the wire: BCLK = 2 * 32 * rate = 512000 Hz
I2S_REP_SLOT = const(0)  # 0 = left (first in each frame): DSP channel 0, headset mic
I2S_CUSTOMER_SLOT = const(1)  # DSP channel 1, earpiece

# cue LED: WS2812B, GRB order (MicroPython neopixel.NeoPixel(Pin(LED_PIN), LED_COUNT))
LED_COUNT = const(1)
