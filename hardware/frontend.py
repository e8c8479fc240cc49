"""The analog front end's design numbers, computed from the circuit and checked against targets.

Everything here is solved from hardware/circuit.py, the same parts and values that go into
the netlist and the BOM: a small modified nodal analysis (MNA) builds the admittance matrix
of the analog parts (resistors, capacitors, the four op amp units as finite-gain amplifiers,
the ESD diodes' capacitance, the ADC's 2.5 kOhm inputs) at every frequency and solves it.
scipy supplies the closed-form checks (scipy.signal.freqs of the Sallen-Key stage) and the
model of the ADC's own decimation filter.

    python hardware/frontend.py        prints the figures, the targets and pass/fail

Signal chain per channel (see README.md): headset line -> coupling capacitor -> 100 kOhm
bias to mid-rail (the tap) -> non-inverting gain stage -> unity-gain Sallen-Key low-pass
-> 100 Ohm / 2.2 nF -> 10 uF -> PCM1822 input (delta-sigma, 8 kHz out, digital decimation).
"""

import importlib.util
import math
import sys

import circuit
import numpy as np
import pinout
from scipy import signal

ROOT = pinout.HERE.parent

# --- assumptions, each with its source --------------------------------------------------------

RATE_HZ = pinout.load()["i2s"]["rate_hz"]  # the ADC's output rate = the DSP rate
VOICE_BAND_HZ = (300.0, 3400.0)  # telephone band (ITU-T G.712)
# PCM1822 (TI SBASAK0): 1 Vrms single-ended full scale, 2.5 kOhm input impedance (in circuit.py).
ADC_FULL_SCALE_VRMS = 1.0
ADC_DYNAMIC_RANGE_DB = 111.0  # datasheet, DRE disabled, A-weighted, 20 kHz bandwidth
# The decimation filter's mask: the datasheet tables for 16-96 kHz give pass-band +/-0.05 dB
# to 0.454 fs and >= 73.0 dB from 0.58 fs; we assume 72 dB at 8 kHz (its table, 8.3.6.2.1.1,
# should be read before layout). Its coefficients are not published, so only the mask is used.
DECIM_PASS_EDGE = 0.454  # x fs
DECIM_STOP_EDGE = 0.58  # x fs
DECIM_STOP_DB = 72.0
# The modulator clock is not stated in the sections we used; every audio delta-sigma modulator
# oversamples by >= 64, so 64 * fs is the conservative (lowest) modulator rate. A faster one
# only moves the image bands higher, where the analog filter attenuates more.
MOD_RATE_MIN_HZ = 64 * RATE_HZ
# TLV9064 (TI SBOS839): 10 MHz gain-bandwidth, open-loop gain >= 100 dB, 10 nV/rtHz at 10 kHz;
# 16 nV/rtHz is used across the voice band to cover the 1/f rise.
OPAMP_GBW_HZ = 10e6
OPAMP_AOL = 1e5
OPAMP_EN_V = 16e-9
# firmware takes the top 16 bits of each 32-bit slot (machine.I2S bits=16)
FIRMWARE_BITS = pinout.load()["i2s"]["bits"]
# The DSP's dBFS: 0 dB is a full-scale square wave (dsp/vad.py), so a full-scale sine is -3 dB.
DSP_SINE_DBFS = -10 * math.log10(2)
KT = 1.380649e-23 * 300.0

# Headset microphone line (ch0): an electret biased by the host through ~2.2 kOhm.
MIC_SENS_DBV_PA = (-44.0, -50.0, -38.0)  # nominal, least, most sensitive (electret booms)
MIC_SPEECH_DBPA = -4.7  # active speech level at the mouth reference point (ITU-T P.51)
MIC_SOURCE_OHM = 2200.0  # host bias resistor: the line's source impedance
TALKER_DB = 6.0  # a loud or a soft talker, either way of nominal
# Earpiece line (ch1): the host's headphone output driving a 32-300 Ohm receiver.
EAR_NOMINAL_DBV = -40.0  # customer speech at ~75 dB SPL in a 115 dB SPL/V receiver
# The rep's volume setting and the customer's talking level together move it this much either
# way (one range, not two: a rep turns a quiet customer up).
EAR_RANGE_DB = 12.0
EAR_SOURCE_OHM = 50.0  # headphone amplifier output impedance (worst common case)
CREST_DB = 12.0  # speech peaks over its rms level (long-term, 1 % of samples)

# --- targets: the design is checked against these (tests/hardware/test_hardware.py) ---

TARGETS = {
    "ripple_db": 1.0,  # max - min gain over 300-3400 Hz, each channel (analog chain)
    "mod_nyquist_atten_db": 40.0,  # analog filter at MOD_RATE_MIN_HZ / 2
    "alias_atten_db": 40.0,  # analog + ADC filter, everything folding into 300-3360 Hz
    "tap_min_ohm": 47e3,  # each headset line, 300-3400 Hz, worst drive case
    "mic_loading_db": 0.5,  # level lost on the mic line because the tap loads it
    "nominal_dbfs": (-36.0, -20.0),  # nominal speech, DSP scale, both channels
    "headroom_db": 0.0,  # loudest case (hot mic or volume up, loud talker, peaks) vs clip
    "quiet_margin_db": 6.0,  # softest case above the DSP's vad_min_dbfs
    "snr_db": 50.0,  # nominal speech over the dongle's own noise, 300-3400 Hz
    "crosstalk_db": -60.0,  # one channel's line into the other channel's ADC input
}

# The parts of circuit.PARTS that carry audio (the rest is digital, power and UI).
ANALOG_GROUPS = ("audio-io", "ch0", "ch1", "adc")

README_BEGIN = "<!-- frontend:begin (python hardware/gen_circuit.py writes this block) -->"
README_END = "<!-- frontend:end -->"


def vad_min_dbfs():
    """The DSP's floor below which a frame is never speech (dsp/params.py)."""
    spec = importlib.util.spec_from_file_location("_callcue_params", ROOT / "dsp" / "params.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return {row[0]: row[1] for row in mod.TABLE}["vad_min_dbfs"]


def db(x):
    return 20 * np.log10(np.abs(x))


# --- the solver -------------------------------------------------------------------------------


class Network:
    """The analog parts of circuit.PARTS as an MNA system, solvable at many frequencies.

    Supply nets are AC ground. Each op amp unit is a voltage source at its output,
    out = A(s) (in+ - in-) with A(s) = AOL / (1 + s AOL / (2 pi GBW)). `drive` holds ideal
    voltage sources on nets (the headset lines); `extra` adds parts that are not on the
    board: (kind, value, net_a, net_b) with kind "R" or "C".
    """

    def __init__(self, drive, extra=()):
        twos, amps, loads = [], [], []
        for p in circuit.PARTS:
            if not p.model or p.group not in ANALOG_GROUPS:
                continue
            kind = p.model[0]
            if kind in ("R", "C"):
                value = p.model[1] if len(p.model) > 1 else circuit.value_si(p.value)
                twos.append((kind, value, p.pins["1"][1], p.pins["2"][1], p.ref))
            elif kind == "opamp":
                for unit, spec in p.model[1].items():
                    inp, inm, out = (p.pins[n][1] for n in spec.split())
                    amps.append((inp, inm, out, p.ref + unit))
            elif kind == "adc":
                for n in p.model[2]:
                    loads.append(("R", p.model[1], p.pins[n][1], "GND", p.ref + "." + n))
        for kind, value, a, b in extra:
            twos.append((kind, value, a, b, "extra"))
        self.twos = twos + loads
        self.amps = amps
        self.drive = dict(drive)
        names = set()
        for _k, _v, a, b, _r in self.twos:
            names.update((a, b))
        for inp, inm, out, _r in amps:
            names.update((inp, inm, out))
        names.update(self.drive)
        self.nodes = sorted(n for n in names if n not in circuit.SUPPLY_NETS)
        self.index = {n: i for i, n in enumerate(self.nodes)}
        self.sources = list(self.drive)  # order of the drive-source current unknowns

    def matrix(self, f):
        """The MNA matrices G (F, n, n) and right-hand sides b (F, n) at frequencies f."""
        s = 2j * np.pi * np.asarray(f, dtype=float)
        nn, na, nd = len(self.nodes), len(self.amps), len(self.drive)
        size = nn + na + nd
        g = np.zeros((len(s), size, size), dtype=complex)
        rhs = np.zeros((len(s), size), dtype=complex)
        for kind, value, a, b, _ref in self.twos:
            y = (1.0 / value) * np.ones_like(s) if kind == "R" else s * value
            ia, ib = self.index.get(a), self.index.get(b)
            if ia is not None:
                g[:, ia, ia] += y
            if ib is not None:
                g[:, ib, ib] += y
            if ia is not None and ib is not None:
                g[:, ia, ib] -= y
                g[:, ib, ia] -= y
        aol = OPAMP_AOL / (1 + s * OPAMP_AOL / (2 * np.pi * OPAMP_GBW_HZ))
        for k, (inp, inm, out, _ref) in enumerate(self.amps):
            row = nn + k
            io = self.index[out]
            g[:, io, row] -= 1  # the output delivers this current into its node
            g[:, row, io] += 1
            for net, sign in ((inp, -1), (inm, 1)):
                if net in self.index:
                    g[:, row, self.index[net]] += sign * aol
        for k, net in enumerate(self.sources):
            row = nn + na + k
            i = self.index[net]
            g[:, i, row] -= 1
            g[:, row, i] += 1
            rhs[:, row] = self.drive[net]
        return g, rhs

    def solve(self, f):
        """Node voltages {net: (F,) complex} and drive currents {net: (F,) complex}."""
        g, rhs = self.matrix(f)
        x = np.linalg.solve(g, rhs[..., None])[..., 0]
        volts = {n: x[:, i] for i, n in enumerate(self.nodes)}
        for n in circuit.SUPPLY_NETS:
            volts[n] = np.zeros(len(x), dtype=complex)
        nn, na = len(self.nodes), len(self.amps)
        currents = {n: x[:, nn + na + k] for k, n in enumerate(self.sources)}
        return volts, currents

    def noise(self, f, out_p, out_m):
        """Output noise density (V/rtHz, (F,)) at out_p - out_m from every resistor and op amp.

        Adjoint method: one transposed solve gives the transfer from a current injected at
        any node (resistors: 4kT/R between their nets) and from each op amp's input-referred
        voltage noise (which enters its gain equation multiplied by A). Parts added as
        `extra` (the host's source impedance) are noiseless: their noise is not the dongle's.
        """
        g, _ = self.matrix(f)
        e = np.zeros(g.shape[:2], dtype=complex)
        for net, sign in ((out_p, 1), (out_m, -1)):
            if net in self.index:
                e[:, self.index[net]] = sign
        y = np.linalg.solve(np.transpose(g, (0, 2, 1)), e[..., None])[..., 0]
        power = np.zeros(len(f))
        for kind, value, a, b, ref in self.twos:
            if kind != "R" or ref == "extra" or "." in ref:  # ADC inputs: in its own spec
                continue
            ta = y[:, self.index[a]] if a in self.index else 0
            tb = y[:, self.index[b]] if b in self.index else 0
            power += 4 * KT / value * np.abs(ta - tb) ** 2
        s = 2j * np.pi * np.asarray(f, dtype=float)
        aol = OPAMP_AOL / (1 + s * OPAMP_AOL / (2 * np.pi * OPAMP_GBW_HZ))
        for k in range(len(self.amps)):
            power += OPAMP_EN_V**2 * np.abs(y[:, len(self.nodes) + k] * aol) ** 2
        return np.sqrt(power)


# --- the figures ------------------------------------------------------------------------------

CHANNELS = {
    # name: (drive for the gain, ADC + and - input nets, the line source for noise)
    "ch0": ({"MIC": 1.0}, ("ADC_IN1P", "ADC_IN1M"), [("R", MIC_SOURCE_OHM, "MIC", "GND")]),
    "ch1": (
        {"EAR_L": 1.0, "EAR_R": 1.0},
        ("ADC_IN2P", "ADC_IN2M"),
        [("R", EAR_SOURCE_OHM, "EAR_L", "GND"), ("R", EAR_SOURCE_OHM, "EAR_R", "GND")],
    ),
}
BAND = np.linspace(*VOICE_BAND_HZ, 311)
WIDE = np.logspace(0, 7, 701)  # 1 Hz - 10 MHz


def response(channel, f):
    """Complex gain from the headset line(s) to the ADC's differential input."""
    drive, (p, m), _ = CHANNELS[channel]
    volts, _ = Network(drive).solve(f)
    return volts[p] - volts[m]


def decimator_mask_db(f, rate=RATE_HZ, mod_rate=MOD_RATE_MIN_HZ):
    """Attenuation the ADC's digital filter guarantees at input frequency f (dB, >= 0).

    The filter runs at the modulator rate, so its response repeats every mod_rate: near
    each multiple of it the filter passes again and only the analog filter protects. In the
    transition band (0.454-0.58 fs) the datasheet guarantees nothing, so neither do we.
    """
    folded = np.abs((np.asarray(f, dtype=float) + mod_rate / 2) % mod_rate - mod_rate / 2)
    return np.where(folded >= DECIM_STOP_EDGE * rate, DECIM_STOP_DB, 0.0)


def alias_sources(rate=RATE_HZ, band=(VOICE_BAND_HZ[0], 3360.0), mod_rate=MOD_RATE_MIN_HZ):
    """Input frequencies that fold into `band` at the output rate: k * rate +/- g for g
    across the band, for the first 8 output images and around the first 8 modulator images
    (between those the ADC filter's 72 dB and a falling analog response only add margin)."""
    g = np.linspace(*band, 32)
    per_mod = int(round(mod_rate / rate))
    ks = set(range(1, 9))
    for m in range(1, 9):
        ks.update((m * per_mod - 1, m * per_mod, m * per_mod + 1))
    k = np.array(sorted(ks))
    f = np.concatenate([(k[:, None] * rate - g).ravel(), (k[:, None] * rate + g).ravel()])
    return np.sort(f[f >= rate / 2])


def sallen_key_check(channel="ch0"):
    """Max difference (dB) over 10 Hz - 100 kHz between the MNA solution of the Sallen-Key
    stage and scipy.signal.freqs of its textbook transfer function, plus its f0 and Q."""
    refs = {"ch0": ("R5", "R6", "C5", "C6", "CH0_AMP", "CH0_LPF"),
            "ch1": ("R13", "R14", "C15", "C16", "CH1_AMP", "CH1_LPF")}[channel]  # fmt: skip
    r1, r2, c1, c2 = (circuit.value_si(circuit.BY_REF[r].value) for r in refs[:4])
    b, a = [1.0], [r1 * r2 * c1 * c2, c2 * (r1 + r2), 1.0]
    f = np.logspace(1, 5, 200)
    _, h_ref = signal.freqs(b, a, worN=2 * np.pi * f)
    drive, _, _ = CHANNELS[channel]
    volts, _ = Network(drive).solve(f)
    h = volts[refs[5]] / volts[refs[4]]
    f0 = 1 / (2 * np.pi * math.sqrt(r1 * r2 * c1 * c2))
    q = math.sqrt(r1 * r2 * c1 * c2) / (c2 * (r1 + r2))
    return float(np.max(np.abs(db(h) - db(h_ref)))), f0, q


def tap_impedances():
    """Min |Z| (ohm) over the voice band that each headset line sees from the dongle.

    The earpiece lines are tried with both sides driven by the same (mono) signal and with
    one side driven while the other is held at 0 V; the worse case counts.
    """
    cases = {
        "MIC": [{"MIC": 1.0}],
        "EAR_L": [{"EAR_L": 1.0, "EAR_R": 1.0}, {"EAR_L": 1.0, "EAR_R": 0.0}],
        "EAR_R": [{"EAR_L": 1.0, "EAR_R": 1.0}, {"EAR_L": 0.0, "EAR_R": 1.0}],
    }
    out = {}
    for line, drives in cases.items():
        worst = math.inf
        for drive in drives:
            _, amps = Network(drive).solve(BAND)
            worst = min(worst, float(np.min(np.abs(drive[line] / amps[line]))))
        out[line] = worst
    return out


def crosstalk_db():
    """Worst leakage (dB) over the voice band from one channel's line(s) into the other
    channel's ADC input, relative to that other channel's own gain."""
    worst = -math.inf
    for src, dst in (("ch0", "ch1"), ("ch1", "ch0")):
        drive, _, _ = CHANNELS[src]
        _, (p, m), line_r = CHANNELS[dst]
        volts, _ = Network(drive, extra=line_r).solve(BAND)
        leak = db(volts[p] - volts[m]) - db(response(dst, BAND))
        worst = max(worst, float(np.max(leak)))
    return worst


def noise_dbfs(channel):
    """The dongle's own noise in the voice band at the ADC, as DSP dBFS: analog parts (MNA
    noise), the ADC (from its dynamic range) and the firmware's 16-bit truncation."""
    _, (p, m), line_r = CHANNELS[channel]
    f = BAND
    density = Network({}, extra=line_r).noise(f, p, m)
    analog_v2 = float(np.sum(density[1:] ** 2 * np.diff(f)))
    bw = VOICE_BAND_HZ[1] - VOICE_BAND_HZ[0]
    fs_v = ADC_FULL_SCALE_VRMS
    adc_v2 = (fs_v * 10 ** (-ADC_DYNAMIC_RANGE_DB / 20)) ** 2 * bw / 20000.0
    # uniform quantisation of a 2^bits-step full scale (peak = sqrt(2) * Vrms): q^2 / 12
    q = 2 * math.sqrt(2) * fs_v / 2**FIRMWARE_BITS
    quant_v2 = q**2 / 12 * bw / (RATE_HZ / 2)
    total = analog_v2 + adc_v2 + quant_v2
    return 10 * math.log10(total / fs_v**2) + DSP_SINE_DBFS, {
        "analog": 10 * math.log10(analog_v2) + DSP_SINE_DBFS,
        "adc": 10 * math.log10(adc_v2) + DSP_SINE_DBFS,
        "16-bit": 10 * math.log10(quant_v2) + DSP_SINE_DBFS,
    }


def level_budget():
    """Per channel: line levels (dBV) for the nominal, loudest and softest cases, the gain,
    and where they land in the DSP's dBFS."""
    gain = {ch: float(db(response(ch, [1000.0]))[0]) for ch in CHANNELS}
    nom_mic = MIC_SENS_DBV_PA[0] + MIC_SPEECH_DBPA
    rows = {
        "ch0": {
            "nominal_dbv": nom_mic,
            "loud_dbv": MIC_SENS_DBV_PA[2] + MIC_SPEECH_DBPA + TALKER_DB,
            "soft_dbv": MIC_SENS_DBV_PA[1] + MIC_SPEECH_DBPA - TALKER_DB,
        },
        "ch1": {
            "nominal_dbv": EAR_NOMINAL_DBV,
            "loud_dbv": EAR_NOMINAL_DBV + EAR_RANGE_DB,
            "soft_dbv": EAR_NOMINAL_DBV - EAR_RANGE_DB,
        },
    }
    fs_dbv = 20 * math.log10(ADC_FULL_SCALE_VRMS)
    for ch, row in rows.items():
        g = gain[ch]
        row["gain_db"] = g
        row["nominal_dbfs"] = row["nominal_dbv"] + g - fs_dbv + DSP_SINE_DBFS
        row["soft_dbfs"] = row["soft_dbv"] + g - fs_dbv + DSP_SINE_DBFS
        # clipping: the loud case's peaks (rms + crest) against the full-scale sine's peak
        row["headroom_db"] = fs_dbv + 10 * math.log10(2) - (row["loud_dbv"] + g + CREST_DB)
        row["noise_dbfs"], row["noise_parts"] = noise_dbfs(ch)
        row["snr_db"] = row["nominal_dbfs"] - row["noise_dbfs"]
    return rows


def figures():
    """Every figure of the front end as a flat dict (what the tests and the README use)."""
    out = {"rate_hz": RATE_HZ, "mod_rate_min_hz": MOD_RATE_MIN_HZ}
    aliases = alias_sources()
    for ch in CHANNELS:
        band = db(response(ch, BAND))
        h1k = float(db(response(ch, [1000.0]))[0])
        wide = db(response(ch, WIDE)) - h1k
        out[ch + "_gain_1k_db"] = h1k
        out[ch + "_ripple_db"] = float(band.max() - band.min())
        above = WIDE[(WIDE > 1000) & (wide < -3)]
        below = WIDE[(WIDE < 1000) & (wide < -3)]
        out[ch + "_f3db_hz"] = (float(below.max()), float(above.min()))
        atten = lambda f, c=ch, g=h1k: -(float(db(response(c, [f]))[0]) - g)  # noqa: E731
        out[ch + "_atten_nyquist_db"] = atten(RATE_HZ / 2)
        out[ch + "_atten_first_alias_db"] = atten(RATE_HZ - VOICE_BAND_HZ[1])
        out[ch + "_atten_mod_nyquist_db"] = atten(MOD_RATE_MIN_HZ / 2)
        analog = h1k - db(response(ch, aliases))
        total = analog + decimator_mask_db(aliases)
        out[ch + "_alias_min_db"] = float(total.min())
        out[ch + "_alias_min_at_hz"] = float(aliases[np.argmin(total)])
    out["tap_ohm"] = tap_impedances()
    z = out["tap_ohm"]["MIC"]
    out["mic_loading_db"] = -20 * math.log10(z / (z + MIC_SOURCE_OHM))
    out["crosstalk_db"] = crosstalk_db()
    out["levels"] = level_budget()
    out["vad_min_dbfs"] = vad_min_dbfs()
    out["sallen_key"] = {ch: sallen_key_check(ch) for ch in CHANNELS}
    return out


def check(fig):
    """[(target, measured, passed)] for every target."""
    t = TARGETS
    rows = []
    for ch in CHANNELS:
        lv = fig["levels"][ch]
        rows += [
            ("%s ripple 300-3400 Hz <= %.1f dB" % (ch, t["ripple_db"]),
             "%.2f dB" % fig[ch + "_ripple_db"], fig[ch + "_ripple_db"] <= t["ripple_db"]),
            ("%s analog atten. at %.0f kHz (modulator Nyquist) >= %.0f dB"
             % (ch, MOD_RATE_MIN_HZ / 2e3, t["mod_nyquist_atten_db"]),
             "%.1f dB" % fig[ch + "_atten_mod_nyquist_db"],
             fig[ch + "_atten_mod_nyquist_db"] >= t["mod_nyquist_atten_db"]),
            ("%s aliases into 300-3360 Hz (analog + ADC filter) >= %.0f dB"
             % (ch, t["alias_atten_db"]),
             "%.1f dB" % fig[ch + "_alias_min_db"],
             fig[ch + "_alias_min_db"] >= t["alias_atten_db"]),
            ("%s nominal speech within %.0f..%.0f dBFS" % ((ch,) + t["nominal_dbfs"]),
             "%.1f dBFS" % lv["nominal_dbfs"],
             t["nominal_dbfs"][0] <= lv["nominal_dbfs"] <= t["nominal_dbfs"][1]),
            ("%s headroom, loudest case peaks >= %.0f dB" % (ch, t["headroom_db"]),
             "%.1f dB" % lv["headroom_db"], lv["headroom_db"] >= t["headroom_db"]),
            ("%s softest case >= vad_min_dbfs + %.0f dB" % (ch, t["quiet_margin_db"]),
             "%.1f dBFS" % lv["soft_dbfs"],
             lv["soft_dbfs"] >= fig["vad_min_dbfs"] + t["quiet_margin_db"]),
            ("%s SNR at nominal >= %.0f dB" % (ch, t["snr_db"]),
             "%.1f dB" % lv["snr_db"], lv["snr_db"] >= t["snr_db"]),
        ]  # fmt: skip
    for line, z in fig["tap_ohm"].items():
        rows.append(("%s tap impedance >= %.0f kOhm" % (line, t["tap_min_ohm"] / 1e3),
                     "%.0f kOhm" % (z / 1e3), z >= t["tap_min_ohm"]))  # fmt: skip
    rows.append(
        (
            "mic line loading loss (2.2 kOhm bias) <= %.1f dB" % t["mic_loading_db"],
            "%.2f dB" % fig["mic_loading_db"],
            fig["mic_loading_db"] <= t["mic_loading_db"],
        )
    )
    rows.append(
        (
            "crosstalk between channels <= %.0f dB" % t["crosstalk_db"],
            "%.1f dB" % fig["crosstalk_db"],
            fig["crosstalk_db"] <= t["crosstalk_db"],
        )
    )
    return rows  # fmt: skip


def readme_block(fig=None):
    """The markdown block that README.md carries between the front-end markers."""
    fig = fig or figures()
    lv = fig["levels"]
    lines = [
        "| figure | ch0: headset mic | ch1: earpiece (L+R)/2 |",
        "|---|---:|---:|",
    ]

    def row(name, fmt, key, sub=None):
        vals = [(fig[ch + key] if sub is None else lv[ch][sub]) for ch in CHANNELS]
        lines.append("| %s | %s | %s |" % (name, fmt % vals[0], fmt % vals[1]))

    row("gain at 1 kHz, line to ADC input", "%+.1f dB", "_gain_1k_db")
    row("ripple 300-3400 Hz", "%.2f dB", "_ripple_db")
    lines.append(
        "| -3 dB band | %s | %s |"
        % tuple("%.0f Hz - %.1f kHz" % (lo, hi / 1e3) for lo, hi in
                (fig["ch0_f3db_hz"], fig["ch1_f3db_hz"]))
    )  # fmt: skip
    row("analog attenuation at 4 kHz (output Nyquist)", "%.1f dB", "_atten_nyquist_db")
    row("analog attenuation at 4.6 kHz (first alias)", "%.1f dB", "_atten_first_alias_db")
    row("analog attenuation at 256 kHz (modulator Nyquist, 64 fs)", "%.1f dB",
        "_atten_mod_nyquist_db")  # fmt: skip
    row("worst alias into 300-3360 Hz, analog + ADC filter", "%.1f dB", "_alias_min_db")
    row("nominal speech (line level)", "%.1f dBV", None, "nominal_dbv")
    row("nominal speech at the DSP", "%.1f dBFS", None, "nominal_dbfs")
    row("loudest case: headroom of its peaks", "%.1f dB", None, "headroom_db")
    row("softest case at the DSP", "%.1f dBFS", None, "soft_dbfs")
    row("dongle noise, 300-3400 Hz", "%.1f dBFS", None, "noise_dbfs")
    row("SNR at nominal", "%.1f dB", None, "snr_db")
    z = fig["tap_ohm"]
    lines += [
        "",
        "Tap impedance seen by the headset lines (minimum over 300-3400 Hz, worst drive "
        "case): MIC %.0f kOhm, EAR_L %.0f kOhm, EAR_R %.0f kOhm; the mic line loses "
        "%.2f dB to the tap. Crosstalk between the channels: %.0f dB. DSP levels are dBFS "
        "with 0 dB = full-scale square wave, as the DSP measures them (a full-scale sine "
        "is -3 dB); the DSP never counts a frame below %d dBFS as speech."
        % (z["MIC"] / 1e3, z["EAR_L"] / 1e3, z["EAR_R"] / 1e3, fig["mic_loading_db"],
           fig["crosstalk_db"], fig["vad_min_dbfs"]),
        "",
        "| target | measured | |",
        "|---|---:|---|",
    ]  # fmt: skip
    for name, value, ok in check(fig):
        lines.append("| %s | %s | %s |" % (name, value, "met" if ok else "**MISSED**"))
    return "\n".join(lines) + "\n"


def main():
    fig = figures()
    print(readme_block(fig))
    for ch, (err, f0, q) in fig["sallen_key"].items():
        print("%s Sallen-Key: f0 %.0f Hz, Q %.3f, MNA vs scipy.signal.freqs %.4f dB"
              % (ch, f0, q, err))  # fmt: skip
    for ch in CHANNELS:
        parts = fig["levels"][ch]["noise_parts"]
        print("%s noise parts: %s" % (ch, ", ".join("%s %.1f dBFS" % kv for kv in parts.items())))
    missed = [name for name, _, ok in check(fig) if not ok]
    print("targets missed: %s" % (", ".join(missed) or "none"))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
