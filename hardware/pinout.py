"""The RP2040 pinout of the dongle: loads hardware/pinout.toml and checks it.

`load()` returns the parsed TOML; `check(pinout)` returns a list of problems (empty when the
pinout is valid); `package_pins(pinout)` gives every pin of the QFN-56 package with its net,
which is how the netlist gets the RP2040's connections.
"""

from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
PINOUT_TOML = HERE / "pinout.toml"

# RP2040 datasheet, "Pin Locations" (QFN-56, 7 x 7 mm); pin 57 is the exposed ground pad.
RP2040_QFN56 = dict(
    enumerate(
        """
        IOVDD GPIO0 GPIO1 GPIO2 GPIO3 GPIO4 GPIO5 GPIO6 GPIO7 IOVDD GPIO8 GPIO9 GPIO10 GPIO11
        GPIO12 GPIO13 GPIO14 GPIO15 TESTEN XIN XOUT IOVDD DVDD SWCLK SWDIO RUN GPIO16 GPIO17
        GPIO18 GPIO19 GPIO20 GPIO21 IOVDD GPIO22 GPIO23 GPIO24 GPIO25 GPIO26 GPIO27 GPIO28
        GPIO29 IOVDD ADC_AVDD VREG_VIN VREG_VOUT USB_DM USB_DP USB_VDD IOVDD DVDD QSPI_SD3
        QSPI_SCLK QSPI_SD0 QSPI_SD2 QSPI_SD1 QSPI_SS GND
        """.split(),
        start=1,
    )
)
GPIO_COUNT = 30
ADC_GPIOS = range(26, 30)  # GPIO26-29 double as ADC0-3
KINDS = ("gpio", "pio", "uart", "adc", "pwm", "i2c", "spi")
# Every fixed-function pin must be connected: power, ground, clocks, flash, USB, debug.
REQUIRED_FIXED = sorted({n for n in RP2040_QFN56.values() if not n.startswith("GPIO")})


def load(path=PINOUT_TOML):
    with open(path, "rb") as f:
        return tomllib.load(f)


def gpio_by_name(pinout):
    """{constant name: GPIO number} for every listed GPIO."""
    return {p["name"]: p["gpio"] for p in pinout["gpio"]}


def package_pins(pinout):
    """{package pin number: (pin name, net or None)} for all 57 pins of the RP2040."""
    by_gpio = {p["gpio"]: p["net"] for p in pinout["gpio"]}
    out = {}
    for number, name in RP2040_QFN56.items():
        if name.startswith("GPIO"):
            out[number] = (name, by_gpio.get(int(name[4:])))
        else:
            out[number] = (name, pinout["fixed"].get(name))
    return out


def check(pinout):
    """Every problem with the pinout, as readable strings (empty list: valid)."""
    errors = []
    gpios = pinout.get("gpio", [])
    seen_gpio, seen_name, seen_net = {}, {}, {}
    for p in gpios:
        label = "gpio entry %r" % p.get("name")
        for key in ("gpio", "name", "net", "kind", "dir", "function"):
            if key not in p:
                errors.append("%s: missing %r" % (label, key))
        g = p.get("gpio")
        if not isinstance(g, int) or not 0 <= g < GPIO_COUNT:
            errors.append("%s: GPIO %r does not exist on the RP2040 (0-29)" % (label, g))
        for key, seen in (("gpio", seen_gpio), ("name", seen_name), ("net", seen_net)):
            value = p.get(key)
            if value in seen:
                errors.append("%s: %s %r already used by %r" % (label, key, value, seen[value]))
            seen[value] = p.get("name")
        if p.get("kind") not in KINDS:
            errors.append("%s: kind %r is not one of %s" % (label, p.get("kind"), KINDS))
        if p.get("kind") == "adc" and g not in ADC_GPIOS:
            errors.append("%s: the ADC is only on GPIO26-29, not GPIO%s" % (label, g))
        if p.get("dir") not in ("in", "out", "inout"):
            errors.append("%s: dir must be in, out or inout" % label)
        if not str(p.get("name", "")).isidentifier() or p.get("name") != p.get("name", "").upper():
            errors.append("%s: name must be an UPPER_SNAKE identifier" % label)
        if p.get("net") in pinout.get("fixed", {}).values():
            errors.append("%s: net %r is also a fixed-function net" % (label, p.get("net")))
    fixed = pinout.get("fixed", {})
    for name in fixed:
        if name not in REQUIRED_FIXED:
            errors.append("fixed pin %r is not an RP2040 pin name" % name)
    for name in REQUIRED_FIXED:
        if name not in fixed:
            errors.append("fixed pin %s is not connected" % name)
    names = gpio_by_name(pinout)
    i2s = pinout.get("i2s")
    if i2s is not None:
        for key in ("I2S_SCK", "I2S_WS", "I2S_SD"):
            if key not in names:
                errors.append("the [i2s] bus needs a GPIO named %s" % key)
        if "I2S_SCK" in names and "I2S_WS" in names and names["I2S_WS"] != names["I2S_SCK"] + 1:
            # machine.I2S on rp2 drives SCK and WS as two consecutive PIO side-set pins.
            errors.append("I2S_WS must be GPIO I2S_SCK + 1 (rp2 machine.I2S side-set pins)")
        if i2s.get("id") not in (0, 1):
            errors.append("[i2s] id must be 0 or 1 on the rp2 port")
        if i2s.get("bits") not in (16, 32):
            errors.append("[i2s] bits must be 16 or 32")
        if i2s.get("slot_bits") != 32:
            errors.append("[i2s] slot_bits: the rp2 RX program always clocks 32-bit slots")
        if sorted((i2s.get("rep_slot"), i2s.get("customer_slot"))) != [0, 1]:
            errors.append("[i2s] rep_slot and customer_slot must be 0 and 1")
    return errors
