"""Draw hardware/schematic.svg from hardware/circuit.py with schemdraw (SVG backend, headless).

The analog front end is drawn as wired circuits, one row per channel; everything else is
drawn net-label style (as KiCad's global labels: pins with the same net name are
connected). Every element is checked against the netlist while it is drawn: a part drawn
between two nets must have exactly those nets in circuit.PARTS, and every part except the
mechanical ones is drawn exactly once, so the picture cannot drift from the netlist.

    python hardware/gen_circuit.py     regenerates it (with the netlist and the BOM)
"""

import hashlib
import json

import circuit
import schemdraw
import schemdraw.elements as elm

schemdraw.use("svg")

FONT = 9
NC = "nc"


class Sheet:
    """A schemdraw Drawing that checks each placed part against circuit.PARTS."""

    def __init__(self, d):
        self.d = d
        self.drawn = set()

    def add(self, element):
        return self.d.add(element)

    def _mark(self, ref):
        if ref in self.drawn:
            raise AssertionError("%s drawn twice" % ref)
        self.drawn.add(ref)

    def two(self, ref, net_a, net_b):
        """Label for a two-pin part drawn between net_a and net_b (checked)."""
        part = circuit.BY_REF[ref]
        actual = sorted(net for _name, net in part.pins.values())
        if actual != sorted((net_a, net_b)):
            raise AssertionError("%s is drawn between %s and %s but connects %s"
                                 % (ref, net_a, net_b, actual))  # fmt: skip
        self._mark(ref)
        return "%s %s" % (ref, part.value)

    def unit(self, ref, unit, inp, inm, out):
        """Label for one op amp unit drawn with these nets (checked)."""
        part = circuit.BY_REF[ref]
        numbers = part.model[1][unit].split()
        actual = tuple(part.pins[n][1] for n in numbers)
        if actual != (inp, inm, out):
            drawn = (inp, inm, out)
            raise AssertionError("%s%s: drawn %s, netlist %s" % (ref, unit, drawn, actual))
        return "%s%s" % (ref, unit)

    def text(self, xy, s, halign="left", size=FONT, color="black"):
        self.add(
            elm.Label().at(xy).label(s, halign=halign, valign="center", fontsize=size, color=color)
        )

    def net_label(self, xy, net, side):
        """A net name at a pin end: side 'L' writes it to the left of xy, 'R' to the right."""
        if net is None:
            self.text((xy[0] + (-0.15 if side == "L" else 0.15), xy[1]), NC,
                      "right" if side == "L" else "left", color="gray")  # fmt: skip
            return
        self.text((xy[0] + (-0.15 if side == "L" else 0.15), xy[1]), net,
                  "right" if side == "L" else "left", color="#1a5fb4")  # fmt: skip


# --- the analog front end, wired --------------------------------------------------------------


def port(sh, xy, net, side):
    """A port flag at the end of a wire: side 'L' for an input on the left."""
    tag = elm.Tag(width=max(1.0, 0.16 * len(net) + 0.4)).label(net, fontsize=FONT)
    if side == "L":
        sh.add(tag.at(xy).left())
    else:
        sh.add(tag.at(xy).right())


def vmid_flag(sh, xy):
    sh.add(elm.Line().at(xy).down().length(0.3))
    sh.text((xy[0], xy[1] - 0.6), "VMID", "center", color="#1a5fb4")


def ground(sh, xy):
    sh.add(elm.Ground().at(xy))


def gain_and_filter(sh, plus, refs, nets):
    """Non-inverting gain stage + unity-gain Sallen-Key + ADC drive, from the + input at
    point `plus`. refs: (opA, opB, Rf, Cf, Rg, Cg, Ra, Rb, Cfb, Csh, Riso, Cres, Cac);
    nets: (inp, fb, rg, amp, sk, skp, lpf, out, adc_p)."""
    u, ua, ub, rf, cf, rg, cg, ra, rb, cfb, csh, riso, cres, cac = refs
    inp, fb, rgn, amp, sk, skp, lpf, out, adc_p = nets
    d = sh
    op1 = d.add(elm.Opamp(leads=True).flip().anchor("in2").at(plus)
                .label(sh.unit(u, ua, inp, fb, amp), loc="center", fontsize=FONT))  # fmt: skip
    m = op1.absanchors["in1"]
    o = op1.absanchors["out"]
    fbn = (m[0] - 0.6, m[1])
    d.add(elm.Line().at(m).to(fbn))
    d.add(elm.Dot().at(fbn))
    a = (fbn[0], fbn[1] - 0.9)
    d.add(elm.Line().at(fbn).to(a))
    d.add(elm.Resistor().at(a).to((o[0], a[1]))
          .label(sh.two(rf, fb, amp), loc="bottom", fontsize=FONT))  # fmt: skip
    d.add(elm.Line().at((o[0], a[1])).to(o))
    b = (a[0], a[1] - 1.1)
    d.add(elm.Line().at(a).to(b))
    d.add(elm.Capacitor().at(b).to((o[0], b[1]))
          .label(sh.two(cf, fb, amp), loc="bottom", fontsize=FONT))  # fmt: skip
    d.add(elm.Line().at((o[0], b[1])).to((o[0], a[1])))
    d.add(elm.Dot().at((o[0], a[1])))
    c = (fbn[0] - 1.0, fbn[1])
    d.add(elm.Line().at(fbn).to(c))
    r4 = d.add(elm.Resistor().at(c).down().length(1.6)
               .label(sh.two(rg, fb, rgn), loc="top", fontsize=FONT))  # fmt: skip
    c4 = d.add(elm.Capacitor().at(r4.end).down().length(1.4)
               .label(sh.two(cg, rgn, "GND"), loc="top", fontsize=FONT))  # fmt: skip
    ground(d, c4.end)
    # Sallen-Key
    d.add(elm.Dot().at(o))
    l1 = d.add(elm.Line().at(o).right().length(0.4))
    r5 = d.add(elm.Resistor().at(l1.end).right().length(2.0)
               .label(sh.two(ra, amp, sk), fontsize=FONT))  # fmt: skip
    d.add(elm.Dot().at(r5.end))
    r6 = d.add(elm.Resistor().at(r5.end).right().length(2.0)
               .label(sh.two(rb, sk, skp), loc="bottom", fontsize=FONT))  # fmt: skip
    d.add(elm.Dot().at(r6.end))
    c6 = d.add(elm.Capacitor().at(r6.end).down().length(1.6)
               .label(sh.two(csh, skp, "GND"), loc="bottom", fontsize=FONT))  # fmt: skip
    ground(d, c6.end)
    l2 = d.add(elm.Line().at(r6.end).right().length(1.0))
    op2 = d.add(elm.Opamp(leads=True).flip().anchor("in2").at(l2.end)
                .label(sh.unit(u, ub, skp, lpf, lpf), loc="center", fontsize=FONT))  # fmt: skip
    o2 = op2.absanchors["out"]
    m2 = op2.absanchors["in1"]
    top = r5.end[1] + 1.5
    d.add(elm.Line().at(r5.end).to((r5.end[0], top)))
    c5 = d.add(elm.Capacitor().at((r5.end[0], top)).to((r5.end[0] + 2.0, top))
               .label(sh.two(cfb, sk, lpf), fontsize=FONT))  # fmt: skip
    d.add(elm.Line().at(c5.end).to((o2[0] + 0.5, top)))
    d.add(elm.Line().at((o2[0] + 0.5, top)).to((o2[0] + 0.5, o2[1])))
    d.add(elm.Line().at(o2).to((o2[0] + 0.5, o2[1])))
    d.add(elm.Dot().at((o2[0] + 0.5, o2[1])))
    fb2 = (m2[0] - 0.4, m2[1] - 0.7)
    d.add(elm.Line().at(m2).to((m2[0] - 0.4, m2[1])))
    d.add(elm.Line().at((m2[0] - 0.4, m2[1])).to(fb2))
    d.add(elm.Line().at(fb2).to((o2[0] + 0.5, fb2[1])))
    d.add(elm.Line().at((o2[0] + 0.5, fb2[1])).to((o2[0] + 0.5, o2[1])))
    # ADC drive
    r7 = d.add(elm.Resistor().at((o2[0] + 0.5, o2[1])).right().length(2.0)
               .label(sh.two(riso, lpf, out), fontsize=FONT))  # fmt: skip
    d.add(elm.Dot().at(r7.end))
    c7 = d.add(elm.Capacitor().at(r7.end).down().length(1.6)
               .label(sh.two(cres, out, "GND"), loc="bottom", fontsize=FONT))  # fmt: skip
    ground(d, c7.end)
    c8 = d.add(elm.Capacitor().at(r7.end).right().length(2.0)
               .label(sh.two(cac, out, adc_p), fontsize=FONT))  # fmt: skip
    port(d, c8.end, adc_p, "R")
    return c8.end


def adc_minus(sh, xy, ref, net):
    port(sh, xy, net, "L")
    c = sh.add(elm.Capacitor().at(xy).right().length(1.6)
               .label(sh.two(ref, net, "GND"), fontsize=FONT))  # fmt: skip
    g = sh.add(elm.Line().at(c.end).right().length(0.3))
    ground(sh, g.end)


def channel0(sh, x, y):
    sh.text((x - 1.2, y + 3.4), "Channel 0: headset microphone (rep) -> ADC IN1", size=11)
    port(sh, (x, y), "MIC", "L")
    c1 = sh.add(elm.Capacitor().at((x, y)).right().length(2.0)
                .label(sh.two("C1", "MIC", "CH0_AC"), fontsize=FONT))  # fmt: skip
    sh.add(elm.Dot().at(c1.end))
    r1 = sh.add(elm.Resistor().at(c1.end).down().length(2.0)
                .label(sh.two("R1", "CH0_AC", "VMID"), loc="bottom", fontsize=FONT))  # fmt: skip
    vmid_flag(sh, r1.end)
    r2 = sh.add(elm.Resistor().at(c1.end).right().length(2.0)
                .label(sh.two("R2", "CH0_AC", "CH0_INP"), fontsize=FONT))  # fmt: skip
    sh.add(elm.Dot().at(r2.end))
    c2 = sh.add(elm.Capacitor().at(r2.end).down().length(1.6)
                .label(sh.two("C2", "CH0_INP", "GND"), loc="bottom", fontsize=FONT))  # fmt: skip
    ground(sh, c2.end)
    wire = sh.add(elm.Line().at(r2.end).right().length(3.2))
    end = gain_and_filter(
        sh, wire.end,
        ("U2", "A", "B", "R3", "C3", "R4", "C4", "R5", "R6", "C5", "C6", "R7", "C7", "C8"),
        ("CH0_INP", "CH0_FB", "CH0_RG", "CH0_AMP", "CH0_SK", "CH0_SKP", "CH0_LPF", "CH0_OUT",
         "ADC_IN1P"),
    )  # fmt: skip
    adc_minus(sh, (end[0] - 3.5, y - 5.0), "C9", "ADC_IN1M")


def channel1(sh, x, y):
    sh.text((x - 1.2, y + 3.4), "Channel 1: earpiece, (L + R) / 2 (customer) -> ADC IN2", size=11)
    ly, ry = y + 1.2, y - 1.2
    for net, cref, rref, acnet, yy in (("EAR_L", "C10", "R8", "CH1_ACL", ly),
                                       ("EAR_R", "C11", "R9", "CH1_ACR", ry)):  # fmt: skip
        port(sh, (x, yy), net, "L")
        c = sh.add(elm.Capacitor().at((x, yy)).right().length(2.0)
                   .label(sh.two(cref, net, acnet), fontsize=FONT))  # fmt: skip
        r = sh.add(elm.Resistor().at(c.end).right().length(2.0)
                   .label(sh.two(rref, acnet, "CH1_SUM"), fontsize=FONT))  # fmt: skip
        sh.add(elm.Line().at(r.end).to((r.end[0] + 0.4, yy)))
        sh.add(elm.Line().at((r.end[0] + 0.4, yy)).to((r.end[0] + 0.4, y)))
    node = (x + 4.4, y)
    sh.add(elm.Dot().at(node))
    l0 = sh.add(elm.Line().at(node).right().length(1.2))
    sh.add(elm.Dot().at(l0.end))
    r10 = sh.add(elm.Resistor().at(l0.end).down().length(2.0)
                 .label(sh.two("R10", "CH1_SUM", "VMID"), loc="bottom", fontsize=9))  # fmt: skip
    vmid_flag(sh, r10.end)
    l1 = sh.add(elm.Line().at(l0.end).right().length(2.2))
    sh.add(elm.Dot().at(l1.end))
    c12 = sh.add(elm.Capacitor().at(l1.end).down().length(1.6)
                 .label(sh.two("C12", "CH1_SUM", "GND"), loc="bottom", fontsize=FONT))  # fmt: skip
    ground(sh, c12.end)
    l2 = sh.add(elm.Line().at(l1.end).right().length(3.4))
    end = gain_and_filter(
        sh, l2.end,
        ("U2", "C", "D", "R11", "C13", "R12", "C14", "R13", "R14", "C15", "C16", "R15", "C17",
         "C18"),
        ("CH1_SUM", "CH1_FB", "CH1_RG", "CH1_AMP", "CH1_SK", "CH1_SKP", "CH1_LPF", "CH1_OUT",
         "ADC_IN2P"),
    )  # fmt: skip
    adc_minus(sh, (end[0] - 3.5, y - 5.0), "C19", "ADC_IN2M")


def vmid(sh, x, y):
    sh.text((x - 0.5, y + 1.6), "Mid-rail bias", size=11)
    sh.add(elm.Vdd().at((x, y)).label("+3V3A", fontsize=FONT))
    r16 = sh.add(elm.Resistor().at((x, y)).down().length(2.0)
                 .label(sh.two("R16", "+3V3A", "VMID"), loc="bottom", fontsize=FONT))  # fmt: skip
    sh.add(elm.Dot().at(r16.end))
    r17 = sh.add(elm.Resistor().at(r16.end).down().length(2.0)
                 .label(sh.two("R17", "VMID", "GND"), loc="bottom", fontsize=FONT))  # fmt: skip
    ground(sh, r17.end)
    lo = sh.add(elm.Line().at(r16.end).right().length(2.6))
    sh.add(elm.Dot().at(lo.end))
    c20 = sh.add(elm.Capacitor().at(lo.end).down().length(2.0)
                 .label(sh.two("C20", "VMID", "GND"), loc="bottom", fontsize=FONT))  # fmt: skip
    ground(sh, c20.end)
    lt = sh.add(elm.Line().at(lo.end).right().length(0.8))
    sh.add(elm.Tag(width=1.2).at(lt.end).right().label("VMID", fontsize=FONT))


# --- everything else, net-label style -------------------------------------------------------


def ic(sh, ref, x, y, left, right, title=None):
    """A box for `ref` with the listed pin numbers on each side (top to bottom), each pin
    labelled with its net."""
    part = circuit.BY_REF[ref]
    ic_pins = []
    for side, numbers in (("left", left), ("right", right)):
        ordered = list(reversed(numbers))  # schemdraw stacks side pins from the bottom
        for n in ordered:
            name, _net = part.pins[n]
            ic_pins.append(elm.IcPin(name=name, pin=n, side=side, anchorname="p" + n))
    drawn = set(left) | set(right)
    if drawn != set(part.pins):
        raise AssertionError("%s: pins %s not drawn" % (ref, sorted(set(part.pins) - drawn)))
    label = title or "%s %s" % (ref, part.value)
    box = sh.add(elm.Ic(pins=ic_pins, pinspacing=0.55, edgepadH=0.35, edgepadW=0.6,
                        leadlen=0.45, lblsize=FONT, pinlblsize=7, fontsize=FONT)
                 .at((x, y)).label(label, loc="top", fontsize=FONT))  # fmt: skip
    for side, numbers in (("L", left), ("R", right)):
        for n in numbers:
            sh.net_label(box.absanchors["p" + n], part.pins[n][1], side)
    sh._mark(ref)
    return box


def two_terminal(sh, ref, x, y):
    """A two-pin part drawn horizontally with a net label at each end."""
    part = circuit.BY_REF[ref]
    (_n1, a), (_n2, b) = part.pins["1"], part.pins["2"]
    kind = {"R": elm.Resistor, "C": elm.Capacitor, "D": elm.DiodeTVS, "SW": elm.Button}
    e = sh.add(kind[part.kind]().at((x, y)).right().length(1.6)
               .label(sh.two(ref, a, b), fontsize=8))  # fmt: skip
    sh.net_label(e.start, a, "L")
    sh.net_label(e.end, b, "R")


def pad(sh, ref, x, y):
    part = circuit.BY_REF[ref]
    net = part.pins["1"][1]
    sh.add(elm.Dot(open=True).at((x, y)).label(ref, loc="top", fontsize=8))
    sh.net_label((x, y), net, "R")
    sh._mark(ref)


def column(sh, title, refs, x, y, step=0.9):
    sh.text((x - 1.6, y + 0.9), title, size=11)
    for i, ref in enumerate(refs):
        two_terminal(sh, ref, x, y - i * step)


def rp2040_sides():
    pins = circuit.BY_REF["U1"].pins
    gpio = sorted((n for n, (name, _) in pins.items() if name.startswith("GPIO")),
                  key=lambda n: int(pins[n][0][4:]))  # fmt: skip
    order = ("IOVDD", "DVDD", "VREG_VIN", "VREG_VOUT", "USB_VDD", "ADC_AVDD", "GND", "TESTEN",
             "XIN", "XOUT", "RUN", "SWCLK", "SWDIO", "USB_DP", "USB_DM", "QSPI_SS",
             "QSPI_SCLK", "QSPI_SD0", "QSPI_SD1", "QSPI_SD2", "QSPI_SD3")  # fmt: skip
    fixed = sorted((n for n, (name, _) in pins.items() if not name.startswith("GPIO")),
                   key=lambda n: (order.index(pins[n][0]), int(n)))  # fmt: skip
    return fixed, gpio


def draw():
    """The schematic as a schemdraw Drawing (checked against the netlist)."""
    d = schemdraw.Drawing(show=False)
    d.config(fontsize=FONT, unit=2, lw=1.2, margin=2.5)
    sh = Sheet(d)
    nets = circuit.nets()
    digest = hashlib.sha256(json.dumps(nets, sort_keys=True).encode()).hexdigest()[:16]
    sh.text((-3, 8.0), "callcue dongle rev A: schematic", size=16)
    sh.text((-3, 7.0), "Drawn by hardware/schematic.py from hardware/circuit.py and "
            "pinout.toml (netlist %s). Blue names are nets: pins with the same name are "
            "connected. Supplies: VBUS 5 V (USB), +3V3 digital (U5), +3V3A analog (U6), "
            "+1V1 RP2040 core." % digest, size=9)  # fmt: skip

    channel0(sh, 0.0, 2.5)
    channel1(sh, 0.0, -8.5)
    vmid(sh, 38.5, 3.5)

    # audio I/O: the pass-through jacks and their ESD diodes
    yb = -17.0
    sh.text((-3, yb + 1.2), "Headset pass-through (J1 headset, J2 host: wired through)", size=11)
    ic(sh, "J1", 0.0, yb - 3.0, ["T", "R1", "R2", "S"], [])
    ic(sh, "J2", 6.5, yb - 3.0, [], ["T", "R1", "R2", "S"])
    for i, ref in enumerate(("D1", "D2", "D3")):
        two_terminal(sh, ref, 12.5, yb - 0.4 - i * 0.9)

    # ADC and op amp supply
    sh.text((19, yb + 1.2), "ADC (target mode: PLL from BCLK, no MCLK) and op amp supply",
            size=11)  # fmt: skip
    ic(sh, "U3", 22.0, yb - 7.0,
       ["1", "2", "3", "4", "16", "9", "18", "17", "14"],
       ["6", "7", "8", "13", "12", "11", "19", "5", "10", "15", "20", "21"])  # fmt: skip
    u2 = circuit.BY_REF["U2"]
    sh.text((31.5, yb - 0.2), "U2 TLV9064 supply: pin 4 V+ = %s, pin 11 V- = %s"
            % (u2.pins["4"][1], u2.pins["11"][1]), size=9)  # fmt: skip
    sh._mark("U2")
    column(sh, "", ["C21", "C22", "C23", "C24", "C25", "C26", "C27", "C28", "C29"], 33.0,
           yb - 1.3)  # fmt: skip

    # MCU
    ym = -30.0
    sh.text((-3, ym + 1.2), "RP2040, flash, crystal (pins from hardware/pinout.toml)", size=11)
    fixed, gpio = rp2040_sides()
    ic(sh, "U1", 2.5, ym - 18.0, fixed, gpio)
    ic(sh, "U4", 16.5, ym - 4.5, ["1", "6", "5", "2", "3", "7"], ["8", "4"])
    ic(sh, "Y1", 16.5, ym - 10.5, ["1", "3"], ["2", "4"])
    column(sh, "", ["R18", "C42", "C43", "R19", "R20"], 17.5, ym - 13.0)
    column(sh, "", ["C%d" % i for i in range(30, 42)] + ["C44"], 25.5, ym - 0.4)

    # power
    sh.text((32, ym + 1.2), "USB-C, ESD, regulators", size=11)
    ic(sh, "J3", 34.5, ym - 9.0,
       ["A4", "A9", "B4", "B9", "A5", "B5"],
       ["A6", "B6", "A7", "B7", "A8", "B8", "A1", "A12", "B1", "B12", "S1"])  # fmt: skip
    ic(sh, "U7", 34.5, ym - 15.5, ["1", "6", "3", "4"], ["5", "2"])
    ic(sh, "U5", 34.5, ym - 20.5, ["1", "3"], ["5", "2", "4"])
    ic(sh, "U6", 34.5, ym - 25.0, ["1", "3"], ["5", "2", "4"])
    column(sh, "", ["R21", "R22", "R23", "R24", "C45", "C46", "C47", "C48"], 44.5, ym - 14.0)

    # cue LED, buttons, test pads
    yu = -58.0
    sh.text((-3, yu + 1.2), "Cue LED (5 V WS2812B behind a 3.3 V -> 5 V buffer), buttons, "
            "test pads", size=11)  # fmt: skip
    ic(sh, "U8", 1.5, yu - 3.0, ["2", "1"], ["4", "5", "3"])
    ic(sh, "D4", 11.0, yu - 3.0, ["3", "4"], ["1", "2"])
    column(sh, "", ["R25", "R26", "C49", "C50"], 19.5, yu - 0.6)
    column(sh, "", ["SW1", "SW2"], 27.5, yu - 0.6, step=1.2)
    for i, ref in enumerate(("TP1", "TP2", "TP3", "TP4", "TP5", "TP6")):
        pad(sh, ref, 34.0 + (i % 3) * 4.0, yu - 0.6 - (i // 3) * 1.4)

    missing = sorted(p.ref for p in circuit.PARTS if p.group != "mech" and p.ref not in sh.drawn)
    if missing:
        raise AssertionError("parts not on the schematic: %s" % missing)
    return d, sh


def svg_text():
    """The schematic as SVG text, with a comment naming the schemdraw version."""
    d, _ = draw()
    svg = d.get_imagedata("svg").decode()
    head = "<!-- generated by hardware/schematic.py with schemdraw %s; do not edit -->\n" % (
        schemdraw.__version__
    )
    return head + svg + ("\n" if not svg.endswith("\n") else "")
