"""Generate firmware/board.py (pin and bus constants) from hardware/pinout.toml.

Run `python hardware/gen_board.py` after editing the pinout; tests/hardware/test_hardware.py fails
while firmware/board.py differs from what this script would write.
"""

import sys
from pathlib import Path

import pinout

BOARD_PY = pinout.HERE.parent / "firmware" / "board.py"


def board_source(p):
    """The text of firmware/board.py for the parsed pinout `p`."""
    problems = pinout.check(p)
    if problems:
        raise ValueError("hardware/pinout.toml: " + "; ".join(problems))
    b, i2s, led = p["board"], p["i2s"], p["led"]
    lines = [
        '"""Pins and buses of the callcue dongle (%s rev %s, %s).'
        % (b["name"], b["revision"], b["mcu"]),
        "",
        "GENERATED from hardware/pinout.toml by `python hardware/gen_board.py`: do not edit.",
        "Plain integers only, no `machine` import: the RP2040 HAL builds its Pin, I2S and",
        "NeoPixel objects from these numbers, and the simulated HAL can import them too.",
        '"""',
        "",
        "try:",
        "    from micropython import const",
        "except ImportError:  # CPython",
        "",
        "    def const(x):",
        "        return x",
        "",
        "",
        "# GPIO numbers (machine.Pin ids)",
    ]
    for g in sorted(p["gpio"], key=lambda g: g["gpio"]):
        lines.append("%s = const(%d)  # net %s (%s)" % (g["name"], g["gpio"], g["net"], g["kind"]))
    active_low = [g for g in p["gpio"] if g.get("active") == "low"]
    pull_up = [g for g in p["gpio"] if g.get("pull") == "up"]
    lines += [
        "",
        "# inputs that read 0 when pressed, and inputs that need the internal pull-up",
    ]
    for g in active_low:
        lines.append("%s_ACTIVE_LOW = const(1)" % g["name"].removesuffix("_PIN"))
    for g in pull_up:
        lines.append("%s_PULL_UP = const(1)" % g["name"].removesuffix("_PIN"))
    lines += [
        "",
        "# machine.I2S(I2S_ID, sck=I2S_SCK, ws=I2S_WS, sd=I2S_SD, mode=I2S.RX, bits=I2S_BITS,",
        "#             format=I2S.STEREO, rate=I2S_RATE_HZ, ibuf=...)",
        "I2S_ID = const(%d)" % i2s["id"],
        "I2S_RATE_HZ = const(%d)  # the ADC runs at the DSP rate" % i2s["rate_hz"],
        "I2S_BITS = const(%d)  # readinto() gives the top %d bits of each slot"
        % (i2s["bits"], i2s["bits"]),
        "I2S_SLOT_BITS = const(%d)  # on the wire: BCLK = 2 * %d * rate = %d Hz"
        % (i2s["slot_bits"], i2s["slot_bits"], 2 * i2s["slot_bits"] * i2s["rate_hz"]),
        "I2S_REP_SLOT = const(%d)  # 0 = left (first in each frame): DSP channel 0, headset mic"
        % i2s["rep_slot"],
        "I2S_CUSTOMER_SLOT = const(%d)  # DSP channel 1, earpiece" % i2s["customer_slot"],
        "",
        "# cue LED: %s, GRB order (MicroPython neopixel.NeoPixel(Pin(LED_PIN), LED_COUNT))"
        % led["kind"],
        "LED_COUNT = const(%d)" % led["count"],
        "",
    ]
    return "\n".join(lines)


def main(argv):
    text = board_source(pinout.load())
    out = Path(argv[1]) if len(argv) > 1 else BOARD_PY
    out.write_text(text)
    print("wrote %s" % out)


if __name__ == "__main__":
    main(sys.argv)
