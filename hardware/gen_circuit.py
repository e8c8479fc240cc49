"""Write the netlist, the BOM, the schematic and the README's front-end figures.

Run `python hardware/gen_circuit.py` after changing hardware/circuit.py or pinout.toml. It
rewrites, all from the one description in circuit.py:
  hardware/netlist.json   every part, pin and net (machine-readable);
  hardware/bom.csv        order codes, quantities, rough unit costs and the total;
  hardware/schematic.svg  the schematic, drawn by schematic.py;
  hardware/README.md      the block between the front-end markers (frontend.py's figures).
tests/hardware/test_hardware.py fails while any of them differs from what this script would write.
"""

import csv
import io
import json
import sys

import circuit
import pinout

NETLIST_JSON = pinout.HERE / "netlist.json"
BOM_CSV = pinout.HERE / "bom.csv"
SCHEMATIC_SVG = pinout.HERE / "schematic.svg"
README_MD = pinout.HERE / "README.md"

NETLIST_FORMAT = "callcue.netlist/1"
BOM_COLUMNS = (
    "line",
    "refs",
    "qty",
    "value",
    "description",
    "manufacturer",
    "mpn",
    "package",
    "unit_cost_usd",
    "line_cost_usd",
)
# BOM order: active parts first, then connectors, passives, pads and mechanical parts.
KIND_ORDER = ("U", "Y", "D", "J", "SW", "R", "C", "TP", "PCB", "ENC", "CBL")


def netlist():
    """The netlist as a dict: components (with every pin and its net) and nets."""
    p = pinout.load()
    components = {}
    for part in sorted(circuit.PARTS, key=lambda q: circuit.natural_key(q.ref)):
        components[part.ref] = {
            "value": part.value,
            "mpn": part.mpn,
            "package": part.package,
            "note": part.note,
            "pins": {
                n: {"name": name, "net": net}
                for n, (name, net) in sorted(
                    part.pins.items(), key=lambda kv: circuit.natural_key(kv[0])
                )
            },
        }
    return {
        "format": NETLIST_FORMAT,
        "board": "%s rev %s" % (p["board"]["name"], p["board"]["revision"]),
        "generated_by": "python hardware/gen_circuit.py (from circuit.py and pinout.toml)",
        "no_connect": "a pin whose net is null is left unconnected",
        "components": components,
        "nets": circuit.nets(),
    }


def netlist_text():
    return json.dumps(netlist(), indent=1) + "\n"


def bom_lines():
    """BOM lines: parts with the same manufacturer, order code and value share a line."""
    groups = {}
    for part in circuit.PARTS:
        key = (part.manufacturer, part.mpn, part.value) if part.mpn != "-" else (part.ref,)
        groups.setdefault(key, []).append(part)

    def order(parts):
        first = parts[0]
        return (KIND_ORDER.index(first.kind), circuit.natural_key(first.ref))

    lines = []
    for parts in sorted(groups.values(), key=order):
        parts.sort(key=lambda q: circuit.natural_key(q.ref))
        first = parts[0]
        cost = round(first.unit_cost * len(parts), 4)
        lines.append(
            {
                "refs": " ".join(q.ref for q in parts),
                "qty": len(parts),
                "value": first.value,
                "description": first.description,
                "manufacturer": first.manufacturer,
                "mpn": first.mpn,
                "package": first.package,
                "unit_cost_usd": first.unit_cost,
                "line_cost_usd": cost,
            }
        )
    return lines


def bom_total(lines):
    return round(sum(line["line_cost_usd"] for line in lines), 2)


def bom_text():
    lines = bom_lines()
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(BOM_COLUMNS)
    for i, line in enumerate(lines, start=1):
        row = dict(line, line=i)
        row["unit_cost_usd"] = "%.3f" % line["unit_cost_usd"]
        row["line_cost_usd"] = "%.3f" % line["line_cost_usd"]
        w.writerow([row[c] for c in BOM_COLUMNS])
    qty = sum(line["qty"] for line in lines)
    total = "%.2f" % bom_total(lines)
    w.writerow(["", "TOTAL", qty, "", "per dongle, rough 1k-unit prices", "", "", "", "", total])
    return out.getvalue()


def readme_text(current):
    """README.md with the front-end block replaced by frontend.py's current figures."""
    import frontend  # imported here: scipy is only needed for this output

    begin, end = frontend.README_BEGIN, frontend.README_END
    head, sep, rest = current.partition(begin)
    if not sep or end not in rest:
        raise ValueError("README.md lacks the %s ... %s markers" % (begin, end))
    tail = rest.split(end, 1)[1]
    lines = bom_lines()
    qty = sum(line["qty"] for line in lines)
    bom = "\nBOM: %d parts on %d lines, about USD %.2f per dongle at 1k units (bom.csv).\n" % (
        qty,
        len(lines),
        bom_total(lines),
    )
    return head + begin + "\n" + frontend.readme_block() + bom + end + tail


def outputs():
    """{path: text} of every generated file."""
    import schematic  # imported here: schemdraw is only needed for this output

    return {
        NETLIST_JSON: netlist_text(),
        BOM_CSV: bom_text(),
        SCHEMATIC_SVG: schematic.svg_text(),
        README_MD: readme_text(README_MD.read_text()),
    }


def main():
    for path, text in outputs().items():
        old = path.read_text() if path.exists() else None
        if text != old:
            path.write_text(text)
            print("wrote %s" % path)
        else:
            print("unchanged %s" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
