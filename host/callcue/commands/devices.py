"""`callcue devices`: which serial ports have a callcue dongle answering `info`."""

import argparse

from callcue.device.ports import probe, usb_ports


def add_args(p):
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = "example: callcue devices        (or: callcue devices --port /dev/pts/5)"
    p.add_argument("--port", action="append", default=[], metavar="P",
                   help="also probe this port or URL (may be repeated), e.g. a pty from "
                   "`callcue sim`")
    p.add_argument("--json", action="store_true", help="print the list as JSON")


def run(args):
    """List attached dongles: USB serial ports whose device answers `info`."""
    import json

    ports = list(dict.fromkeys([*usb_ports(), *args.port]))
    found = [d for d in (probe(p) for p in ports) if d is not None]
    if args.json:
        print(json.dumps(found, indent=1))
        return 0
    if not found:
        print("no callcue dongle found (%d serial port%s probed)" % (
            len(ports), "" if len(ports) == 1 else "s"))
        return 1
    for d in found:
        # a device's words are shown quoted when they could draw on the terminal
        dev_id, fw = (x if isinstance(x, str) and x.isprintable() else repr(x)
                      for x in (d["device_id"], d["firmware"]))
        print("%-20s %-16s firmware %s" % (d["port"], dev_id, fw))
    return 0
