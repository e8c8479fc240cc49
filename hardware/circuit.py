"""The dongle's circuit as data: every part, its pins and nets, its order code and cost.

One description feeds everything else, so they cannot disagree:
  - gen_circuit.py writes hardware/netlist.json and hardware/bom.csv from PARTS;
  - schematic.py draws hardware/schematic.svg from PARTS;
  - frontend.py solves the analog front end from the values and nets in PARTS;
  - the RP2040's pins and nets come from hardware/pinout.toml (pinout.package_pins).

Passive values are written the way a schematic writes them ("100k", "2.2n", "10u") and
`value_si()` turns them into ohms and farads. Costs are rough USD unit prices at 1k units.
"""

from dataclasses import dataclass, field

import pinout

# Nets that are AC ground for the front-end analysis (ideal supplies and ground).
SUPPLY_NETS = ("GND", "VBUS", "+3V3", "+3V3A", "+1V1")
# The headset lines the dongle taps (CTIA 3.5 mm TRRS: tip, ring 1, ring 2, sleeve).
LINE_NETS = ("EAR_L", "EAR_R", "MIC")

SI = {"p": 1e-12, "n": 1e-9, "u": 1e-6, "m": 1e-3, "R": 1.0, "k": 1e3, "M": 1e6}


def value_si(text):
    """'100k' -> 100000.0, '2.2n' -> 2.2e-9, '4k7' -> 4700.0, '27R' -> 27.0."""
    for i, ch in enumerate(text):
        if ch in SI:
            head, tail = text[:i], text[i + 1 :]
            number = float(head + "." + tail) if tail else float(head)
            return number * SI[ch]
    return float(text)


@dataclass
class Part:
    ref: str
    value: str
    description: str
    manufacturer: str
    mpn: str
    package: str
    unit_cost: float
    pins: dict = field(default_factory=dict)  # pin number -> (pin name, net or None)
    group: str = ""
    model: tuple = ()  # how frontend.py simulates it: ("R",), ("C",), ("C", 10e-12), ...
    note: str = ""  # what this one part is for (netlist and schematic; the BOM groups parts)

    @property
    def kind(self):
        return self.ref.rstrip("0123456789")


PARTS = []


def add(part):
    PARTS.append(part)
    return part


# --- passives -----------------------------------------------------------------------------

# Yageo RC0402FR-07 series, 1 %, 1/16 W, 0402.
_RES_MPN = {
    "27R": "RC0402FR-0727RL",
    "100R": "RC0402FR-07100RL",
    "330R": "RC0402FR-07330RL",
    "1k": "RC0402FR-071KL",
    "5k1": "RC0402FR-075K1L",
    "10k": "RC0402FR-0710KL",
    "27k": "RC0402FR-0727KL",
    "100k": "RC0402FR-07100KL",
}
# Murata GRM: C0G below 10 nF (no voltage coefficient in the audio path), X5R/X7R above.
_CAP = {
    "15p": ("GRM1555C1H150JA01D", "15 pF 50 V C0G", "0402", 0.005),
    "47p": ("GRM1555C1H470JA01D", "47 pF 50 V C0G", "0402", 0.005),
    "100p": ("GRM1555C1H101JA01D", "100 pF 50 V C0G", "0402", 0.005),
    "1n": ("GRM1555C1H102JA01D", "1 nF 50 V C0G", "0402", 0.006),
    "2.2n": ("GRM1555C1H222JA01D", "2.2 nF 50 V C0G", "0402", 0.008),
    "100n": ("GRM155R71C104KA88D", "100 nF 16 V X7R", "0402", 0.003),
    "1u": ("GRM155R61A105KE15D", "1 uF 10 V X5R", "0402", 0.008),
    "1u/25V": ("GRM188R71E105KA12D", "1 uF 25 V X7R (headset-line coupling)", "0603", 0.015),
    "4.7u": ("GRM188R61A475KE15D", "4.7 uF 10 V X5R", "0603", 0.015),
    "10u": ("GRM188R61A106KE69D", "10 uF 10 V X5R", "0603", 0.02),
}


def R(ref, value, a, b, group, note=""):
    desc = "resistor %s 1%% 1/16 W" % value
    return add(
        Part(
            ref=ref,
            value=value,
            description=desc,
            manufacturer="Yageo",
            mpn=_RES_MPN[value],
            package="0402",
            unit_cost=0.002,
            pins={"1": ("1", a), "2": ("2", b)},
            group=group,
            model=("R",),
            note=note,
        )
    )


def C(ref, value, a, b, group, note=""):
    mpn, desc, package, cost = _CAP[value]
    desc = "capacitor " + desc
    return add(
        Part(
            ref=ref,
            value=value.split("/")[0],
            description=desc,
            manufacturer="Murata",
            mpn=mpn,
            package=package,
            unit_cost=cost,
            pins={"1": ("1", a), "2": ("2", b)},
            group=group,
            model=("C",),
            note=note,
        )
    )


def pins(spec):
    """'1:IN1P=ADC_IN1P 5:VSS=GND 20:NC' -> {pin: (name, net)}; a pin without '=' is NC."""
    out = {}
    for item in spec.split():
        number, rest = item.split(":", 1)
        name, _, net = rest.partition("=")
        out[number] = (name, net or None)
    return out


# --- headset pass-through and ESD ------------------------------------------------------------

for _ref, _side in (("J1", "headset"), ("J2", "host (phone/PC)")):
    add(
        Part(
            ref=_ref,
            value="TRRS jack",
            description="3.5 mm 4-pole jack (CTIA: tip L, ring 1 R, ring 2 ground, sleeve mic)",
            manufacturer="CUI Devices",
            mpn="SJ-43514",
            package="TH, right angle",
            unit_cost=0.60,
            pins=pins("T:TIP=EAR_L R1:RING1=EAR_R R2:RING2=GND S:SLEEVE=MIC"),
            group="audio-io",
            note="to the %s" % _side,
        )
    )
for _ref, _net in (("D1", "EAR_L"), ("D2", "EAR_R"), ("D3", "MIC")):
    add(
        Part(
            ref=_ref,
            value="TPD1E10B06",
            description="ESD diode, bidirectional, +/-5.5 V working, IEC 61000-4-2 +/-30 kV",
            manufacturer="Texas Instruments",
            mpn="TPD1E10B06DPYR",
            package="X1SON-2 (0402)",
            unit_cost=0.05,
            pins=pins("1:IO=%s 2:GND=GND" % _net),
            group="audio-io",
            model=("C", 10e-12),
            note="on headset line %s" % _net,
        )
    )

# --- channel 0: headset microphone -> ADC IN1 (DSP channel 0, the rep) ----------------------

G0 = "ch0"
C("C1", "1u/25V", "MIC", "CH0_AC", G0, "blocks the host's mic bias; 1.6 Hz with R1")
R("R1", "100k", "CH0_AC", "VMID", G0, "tap bias to mid-rail; sets the tap impedance")
R("R2", "1k", "CH0_AC", "CH0_INP", G0, "RF stopper")
C("C2", "100p", "CH0_INP", "GND", G0, "RF filter")
R("R3", "100k", "CH0_AMP", "CH0_FB", G0, "gain 1 + R3/R4 = 11 (20.8 dB)")
C("C3", "47p", "CH0_AMP", "CH0_FB", G0, "gain roll-off above 34 kHz")
R("R4", "10k", "CH0_FB", "CH0_RG", G0)
C("C4", "10u", "CH0_RG", "GND", G0, "unity gain at DC: output sits at VMID")
R("R5", "10k", "CH0_AMP", "CH0_SK", G0, "Sallen-Key low-pass")
R("R6", "10k", "CH0_SK", "CH0_SKP", G0, "Sallen-Key low-pass")
C("C5", "2.2n", "CH0_SK", "CH0_LPF", G0, "Sallen-Key feedback")
C("C6", "1n", "CH0_SKP", "GND", G0, "Sallen-Key shunt")
R("R7", "100R", "CH0_LPF", "CH0_OUT", G0, "isolates the op amp from C7")
C("C7", "2.2n", "CH0_OUT", "GND", G0, "charge reservoir for the ADC input")
C("C8", "10u", "CH0_OUT", "ADC_IN1P", G0, "AC coupling into the ADC")
C("C9", "10u", "ADC_IN1M", "GND", G0, "single-ended input: IN1M to AC ground")

# --- channel 1: earpiece (left + right averaged) -> ADC IN2 (DSP channel 1, the customer) ---

G1 = "ch1"
C("C10", "1u/25V", "EAR_L", "CH1_ACL", G1, "blocks DC on the left earpiece line")
R("R8", "100k", "CH1_ACL", "CH1_SUM", G1, "left tap")
C("C11", "1u/25V", "EAR_R", "CH1_ACR", G1, "blocks DC on the right earpiece line")
R("R9", "100k", "CH1_ACR", "CH1_SUM", G1, "right tap")
R("R10", "100k", "CH1_SUM", "VMID", G1, "bias to mid-rail")
C("C12", "100p", "CH1_SUM", "GND", G1, "RF filter")
R("R11", "100k", "CH1_AMP", "CH1_FB", G1, "gain 1 + R11/R12 = 4.7 (13.4 dB)")
C("C13", "47p", "CH1_AMP", "CH1_FB", G1, "gain roll-off above 34 kHz")
R("R12", "27k", "CH1_FB", "CH1_RG", G1)
C("C14", "10u", "CH1_RG", "GND", G1, "unity gain at DC")
R("R13", "10k", "CH1_AMP", "CH1_SK", G1, "Sallen-Key low-pass")
R("R14", "10k", "CH1_SK", "CH1_SKP", G1, "Sallen-Key low-pass")
C("C15", "2.2n", "CH1_SK", "CH1_LPF", G1, "Sallen-Key feedback")
C("C16", "1n", "CH1_SKP", "GND", G1, "Sallen-Key shunt")
R("R15", "100R", "CH1_LPF", "CH1_OUT", G1, "isolates the op amp from C17")
C("C17", "2.2n", "CH1_OUT", "GND", G1, "charge reservoir for the ADC input")
C("C18", "10u", "CH1_OUT", "ADC_IN2P", G1, "AC coupling into the ADC")
C("C19", "10u", "ADC_IN2M", "GND", G1, "single-ended input: IN2M to AC ground")

# --- op amp, mid-rail reference, ADC ----------------------------------------------------------

add(
    Part(
        ref="U2",
        value="TLV9064",
        description="quad op amp, rail-to-rail in/out, 10 MHz, 1.8-5.5 V: A/B channel 0 "
        "gain and low-pass, C/D channel 1",
        manufacturer="Texas Instruments",
        mpn="TLV9064IPWR",
        package="TSSOP-14",
        unit_cost=0.45,
        pins=pins(
            "1:OUTA=CH0_AMP 2:-INA=CH0_FB 3:+INA=CH0_INP 4:V+=+3V3A 5:+INB=CH0_SKP "
            "6:-INB=CH0_LPF 7:OUTB=CH0_LPF 8:OUTC=CH1_AMP 9:-INC=CH1_FB 10:+INC=CH1_SUM "
            "11:V-=GND 12:+IND=CH1_SKP 13:-IND=CH1_LPF 14:OUTD=CH1_LPF"
        ),
        group="adc",
        model=("opamp", {"A": "3 2 1", "B": "5 6 7", "C": "10 9 8", "D": "12 13 14"}),
    )
)
R("R16", "100k", "+3V3A", "VMID", "adc", "mid-rail divider")
R("R17", "100k", "VMID", "GND", "adc", "mid-rail divider")
C("C20", "10u", "VMID", "GND", "adc", "mid-rail: 0.3 Hz, keeps supply noise off the taps")
C("C21", "100n", "+3V3A", "GND", "adc", "U2 supply")
add(
    Part(
        ref="U3",
        value="PCM1822",
        description="stereo audio ADC, 32-bit, 8-192 kHz, hardware-pin control, target mode "
        "with a PLL from BCLK (no MCLK), 1 Vrms single-ended full scale, 2.5 kOhm inputs",
        manufacturer="Texas Instruments",
        mpn="PCM1822IRTER",
        package="WQFN-20 3x3 mm (RTE)",
        unit_cost=1.50,
        pins=pins(
            "1:IN1P=ADC_IN1P 2:IN1M=ADC_IN1M 3:IN2P=ADC_IN2P 4:IN2M=ADC_IN2M 5:VSS=GND "
            "6:SDOUT=I2S_SDOUT 7:BCLK=I2S_BCLK 8:FSYNC=I2S_FSYNC 9:IOVDD=+3V3 10:VSS=GND "
            "11:MD1=GND 12:MD0=GND 13:MSZ=GND 14:DREG=ADC_DREG 15:VSS=GND 16:AVDD=+3V3A "
            "17:AREG=ADC_AREG 18:VREF=ADC_VREF 19:FMT0=GND 20:NC 21:PAD=GND"
        ),
        group="adc",
        model=("adc", 2500.0, ("1", "2", "3", "4")),
    )
)
C("C22", "100n", "+3V3A", "GND", "adc", "U3 AVDD")
C("C23", "10u", "+3V3A", "GND", "adc", "U3 AVDD")
C("C24", "1u", "ADC_VREF", "GND", "adc", "U3 VREF")
C("C25", "10u", "ADC_AREG", "GND", "adc", "U3 AREG")
C("C26", "100n", "ADC_AREG", "GND", "adc", "U3 AREG")
C("C27", "10u", "ADC_DREG", "GND", "adc", "U3 DREG")
C("C28", "100n", "ADC_DREG", "GND", "adc", "U3 DREG")
C("C29", "100n", "+3V3", "GND", "adc", "U3 IOVDD")

# --- microcontroller, flash, crystal ----------------------------------------------------------

_PINOUT = pinout.load()
add(
    Part(
        ref="U1",
        value="RP2040",
        description="microcontroller, dual Cortex-M0+ 133 MHz, 264 KB SRAM, USB 1.1",
        manufacturer="Raspberry Pi",
        mpn="SC0914(13)",
        package="QFN-56 7x7 mm",
        unit_cost=0.80,
        pins={str(n): (name, net) for n, (name, net) in pinout.package_pins(_PINOUT).items()},
        group="mcu",
    )
)
for _i in range(6):
    C("C%d" % (30 + _i), "100n", "+3V3", "GND", "mcu", "U1 IOVDD, one per pin")
C("C36", "100n", "+1V1", "GND", "mcu", "U1 DVDD pin 23")
C("C37", "100n", "+1V1", "GND", "mcu", "U1 DVDD pin 50")
C("C38", "1u", "+3V3", "GND", "mcu", "U1 VREG_VIN")
C("C39", "1u", "+1V1", "GND", "mcu", "U1 VREG_VOUT")
C("C40", "100n", "+3V3", "GND", "mcu", "U1 USB_VDD")
C("C41", "100n", "+3V3", "GND", "mcu", "U1 ADC_AVDD")
add(
    Part(
        ref="Y1",
        value="12 MHz",
        description="crystal 12 MHz, 10 pF load, 3.2x2.5 mm (as on the Raspberry Pi Pico)",
        manufacturer="Abracon",
        mpn="ABM8-272-T3",
        package="3225-4",
        unit_cost=0.30,
        pins=pins("1:XIN=XIN 2:GND=GND 3:XOUT=XTAL_OUT 4:GND=GND"),
        group="mcu",
    )
)
R("R18", "1k", "XOUT", "XTAL_OUT", "mcu", "limits crystal drive")
C("C42", "15p", "XIN", "GND", "mcu", "crystal load")
C("C43", "15p", "XTAL_OUT", "GND", "mcu", "crystal load")
add(
    Part(
        ref="U4",
        value="W25Q16JV",
        description="QSPI NOR flash 16 Mbit (2 MB): MicroPython and the LittleFS session log",
        manufacturer="Winbond",
        mpn="W25Q16JVUXIQ",
        package="USON-8 2x3 mm",
        unit_cost=0.30,
        pins=pins(
            "1:/CS=QSPI_SS 2:DO(IO1)=QSPI_SD1 3:IO2=QSPI_SD2 4:GND=GND 5:DI(IO0)=QSPI_SD0 "
            "6:CLK=QSPI_SCLK 7:IO3=QSPI_SD3 8:VCC=+3V3"
        ),
        group="mcu",
    )
)
C("C44", "100n", "+3V3", "GND", "mcu", "U4 VCC")
R("R19", "1k", "QSPI_SS", "BOOTSEL_SW", "mcu", "BOOTSEL: pulls flash /CS low at reset")
R("R20", "10k", "+3V3", "RUN", "mcu", "RUN pull-up")

# --- USB and power ------------------------------------------------------------------------------

add(
    Part(
        ref="J3",
        value="USB-C",
        description="USB 2.0 Type-C receptacle, 16 pins: power and the serial link",
        manufacturer="GCT",
        mpn="USB4105-GF-A",
        package="SMT + TH stakes",
        unit_cost=0.45,
        pins=pins(
            "A1:GND=GND A4:VBUS=VBUS A5:CC1=USB_CC1 A6:DP1=USB_DP_CONN A7:DN1=USB_DM_CONN "
            "A8:SBU1 A9:VBUS=VBUS A12:GND=GND B1:GND=GND B4:VBUS=VBUS B5:CC2=USB_CC2 "
            "B6:DP2=USB_DP_CONN B7:DN2=USB_DM_CONN B8:SBU2 B9:VBUS=VBUS B12:GND=GND S1:SHIELD=GND"
        ),
        group="power",
    )
)
R("R21", "5k1", "USB_CC1", "GND", "power", "Type-C sink: asks for default USB power")
R("R22", "5k1", "USB_CC2", "GND", "power", "Type-C sink")
add(
    Part(
        ref="U7",
        value="USBLC6-2",
        description="USB ESD protection, 2 data lines + VBUS",
        manufacturer="STMicroelectronics",
        mpn="USBLC6-2SC6",
        package="SOT-23-6",
        unit_cost=0.10,
        pins=pins(
            "1:IO1=USB_DP_CONN 2:GND=GND 3:IO2=USB_DM_CONN 4:IO2=USB_DM_CONN 5:VBUS=VBUS "
            "6:IO1=USB_DP_CONN"
        ),
        group="power",
    )
)
R("R23", "27R", "USB_DP_CONN", "USB_DP", "power", "USB series termination")
R("R24", "27R", "USB_DM_CONN", "USB_DM", "power", "USB series termination")
add(
    Part(
        ref="U5",
        value="AP2112K-3.3",
        description="LDO 3.3 V 600 mA, digital rail +3V3 (RP2040, flash, ADC I/O)",
        manufacturer="Diodes Inc.",
        mpn="AP2112K-3.3TRG1",
        package="SOT-23-5",
        unit_cost=0.08,
        pins=pins("1:VIN=VBUS 2:GND=GND 3:EN=VBUS 4:NC 5:VOUT=+3V3"),
        group="power",
    )
)
add(
    Part(
        ref="U6",
        value="TPS7A2033",
        description="low-noise LDO 3.3 V 300 mA (7 uVrms), analog rail +3V3A (ADC, op amp)",
        manufacturer="Texas Instruments",
        mpn="TPS7A2033PDBVR",
        package="SOT-23-5",
        unit_cost=0.25,
        pins=pins("1:IN=VBUS 2:GND=GND 3:EN=VBUS 4:NC 5:OUT=+3V3A"),
        group="power",
    )
)
C("C45", "4.7u", "VBUS", "GND", "power", "VBUS bulk (USB allows 10 uF in total)")
C("C46", "10u", "+3V3", "GND", "power", "U5 output")
C("C47", "1u", "VBUS", "GND", "power", "U6 input")
C("C48", "1u", "+3V3A", "GND", "power", "U6 output")

# --- cue LED, buttons, test pads ------------------------------------------------------------

add(
    Part(
        ref="U8",
        value="74AHCT1G125",
        description="single buffer, TTL inputs on 5 V: lifts the LED data to 5 V logic",
        manufacturer="Texas Instruments",
        mpn="SN74AHCT1G125DBVR",
        package="SOT-23-5",
        unit_cost=0.06,
        pins=pins("1:/OE=GND 2:A=LED_DIN_3V3 3:GND=GND 4:Y=LED_DIN_5V 5:VCC=VBUS"),
        group="ui",
    )
)
C("C49", "100n", "VBUS", "GND", "ui", "U8 supply")
R("R25", "10k", "LED_DIN_3V3", "GND", "ui", "keeps the LED data low while the RP2040 boots")
R("R26", "330R", "LED_DIN_5V", "LED_DIN", "ui", "data-line damping at the LED")
add(
    Part(
        ref="D4",
        value="WS2812B-2020",
        description="addressable RGB LED 2x2 mm, the cue: one colour per cue, dimmed",
        manufacturer="Worldsemi",
        mpn="WS2812B-2020",
        package="2020-4",
        unit_cost=0.06,
        pins=pins("1:DOUT 2:GND=GND 3:DIN=LED_DIN 4:VDD=VBUS"),
        group="ui",
    )
)
C("C50", "100n", "VBUS", "GND", "ui", "D4 supply")
_BUTTONS = (("SW1", "BOOTSEL_SW", "BOOTSEL (hold at power-up to flash)"), ("SW2", "BTN_N", "user"))
for _ref, _net, _what in _BUTTONS:
    add(
        Part(
            ref=_ref,
            value="button",
            description="tactile switch, SMT, 250 gf",
            manufacturer="C&K",
            mpn="PTS810 SJM 250 SMTR LFS",
            package="SMD 4.2x3.2 mm",
            unit_cost=0.12,
            pins=pins("1:A=%s 2:B=GND" % _net),
            group="ui",
            note=_what,
        )
    )
for _i, _net in enumerate(("UART0_TX", "UART0_RX", "SWCLK", "SWDIO", "RUN", "GND"), start=1):
    add(
        Part(
            ref="TP%d" % _i,
            value="test pad",
            description="test pad, bare copper 1 mm (no part to buy)",
            manufacturer="-",
            mpn="PCB pad",
            package="pad 1 mm",
            unit_cost=0.0,
            pins=pins("1:TP=%s" % _net),
            group="ui",
            note=_net,
        )
    )

# --- mechanical ---------------------------------------------------------------------------------

add(
    Part(
        ref="PCB1",
        value="callcue-dongle rev A",
        description="PCB 4 layers, 44 x 24 mm, 1.0 mm FR-4, ENIG",
        manufacturer="-",
        mpn="-",
        package="-",
        unit_cost=0.90,
        group="mech",
    )
)
add(
    Part(
        ref="ENC1",
        value="enclosure",
        description="two-part moulded case with clothing clip and LED light pipe",
        manufacturer="-",
        mpn="-",
        package="-",
        unit_cost=1.20,
        group="mech",
    )
)
add(
    Part(
        ref="CBL1",
        value="TRRS cable",
        description="3.5 mm 4-pole male-male cable 0.3 m, CTIA, dongle J2 to host",
        manufacturer="-",
        mpn="-",
        package="-",
        unit_cost=0.70,
        group="mech",
    )
)


BY_REF = {p.ref: p for p in PARTS}


def nets():
    """{net: sorted ['REF.pin', ...]} over every connected pin."""
    out = {}
    for p in PARTS:
        for number, (_name, net) in p.pins.items():
            if net is not None:
                out.setdefault(net, []).append("%s.%s" % (p.ref, number))
    return {net: sorted(members, key=natural_key) for net, members in sorted(out.items())}


def natural_key(text):
    """Sort key that puts C2 before C10 and U1.9 before U1.10."""
    key, digits = [], ""
    for ch in text + "\0":
        if ch.isdigit():
            digits += ch
            continue
        if digits:
            key.append((1, int(digits), ""))
            digits = ""
        key.append((0, 0, ch))
    return key
