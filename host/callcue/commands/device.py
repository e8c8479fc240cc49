"""`callcue device info | config get | config set KEY=VALUE... | time set | key`: one
dongle's identity, engine parameter overrides, clock and sealing key, over the serial
protocol."""

import argparse
import json
import time

from callcue.device import human
from callcue.device.ports import connect
from callcue.errors import CommandError


def add_args(p):
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = ("examples: callcue device info --port /dev/ttyACM0\n"
                "          callcue device config set fast_on_csps=520 --port /dev/ttyACM0\n"
                "          callcue device time set --port /dev/ttyACM0\n"
                "          callcue device key --port /dev/ttyACM0")
    sub = p.add_subparsers(dest="what", metavar="info|config|time|key", required=True)
    info = sub.add_parser("info", help="identity, firmware, storage and counters")
    cfg = sub.add_parser("config", help="get or set engine parameter overrides")
    csub = cfg.add_subparsers(dest="action", metavar="get|set", required=True)
    cget = csub.add_parser("get", help="print overrides, calibration and effective values")
    cset = csub.add_parser("set", help="set overrides: KEY=VALUE (integer) or KEY=default")
    cset.add_argument("pairs", nargs="+", metavar="KEY=VALUE")
    tm = sub.add_parser("time", help="set the device clock")
    tsub = tm.add_subparsers(dest="action", metavar="set", required=True)
    tset = tsub.add_parser("set", help="set the clock to this host's (or --unix)")
    tset.add_argument("--unix", type=int, metavar="S", help="seconds since 1970 (default: now)")
    key = sub.add_parser("key", help="give the dongle its sealing key (kept in the key "
                         "store, outside the archive)")
    key.add_argument("--rotate", action="store_true",
                     help="replace the key it has (the old one is kept to check old logs)")
    from callcue.archive.keys import add_keys_arg

    add_keys_arg(key)
    for q in (info, cget, cset, tset, key):
        q.add_argument("--port", required=True, metavar="P",
                       help="serial port or URL of the dongle (see `callcue devices`)")
    for q in (info, cget, cset, tset):
        q.add_argument("--json", action="store_true", help="print the reply as JSON")


def _parse_pairs(pairs):
    params = {}
    for item in pairs:
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise CommandError(item, "not KEY=VALUE (e.g. fast_on_csps=520)", code=2)
        if value.lower() in ("default", "none", ""):
            params[key] = None
            continue
        try:
            params[key] = int(value)
        except ValueError:
            raise CommandError(item, "the value must be an integer, or 'default'",
                               code=2) from None
    return params


def _show(reply, as_json):
    if as_json:
        print(json.dumps(reply, indent=1, sort_keys=True))
        return
    for key in sorted(reply):
        print("%-28s %s" % (key, _text(reply[key])))


def _text(value):
    """A value from the device (never trusted) as one printable line."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "-"
    if isinstance(value, dict | list):
        value = json.dumps(value, sort_keys=True)
    text = str(value)
    return text if text.isprintable() else repr(text)


def _int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _size(n):
    if not _int(n):
        return "-"
    for unit, scale in (("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= scale:
            return "%.1f %s" % (n / scale, unit)
    return "%d bytes" % n


def _uptime(s):
    if not _int(s):
        return "-"
    d, rest = divmod(s, 86400)
    return ("%d d " % d if d else "") + "%d:%02d:%02d" % (rest // 3600, rest // 60 % 60,
                                                          rest % 60)


def calibration_text(cal, params=None):
    """A device's stored calibration in one line: the steps measured, the noise floors,
    and the couplings set from it; 'not calibrated' when it has none."""
    if not cal:
        return "not calibrated (`callcue calibrate`)"
    if not isinstance(cal, dict):
        return _text(cal)
    steps = [k for k in ("silence", "rep", "customer") if isinstance(cal.get(k), dict)]
    parts = ["measured: " + (", ".join(steps) or "-")]
    quiet = cal.get("silence") if isinstance(cal.get("silence"), dict) else {}
    floors = [(who, quiet.get(who + "_floor_db_q8")) for who in ("rep", "customer")]
    if all(_int(v) for _, v in floors):
        parts.append("noise floor " + ", ".join("%s %.1f dB" % (who, v / 256)
                                                for who, v in floors))
    params = params if isinstance(params, dict) else {}
    losses = ["%s %s dB" % (name.split("_")[0], params[name])
              for name in ("sidetone_loss_db", "echo_loss_db") if _int(params.get(name))]
    if losses:
        parts.append("set: " + ", ".join(losses) + " loss")
    return "; ".join(parts)


def _key_text(info):
    if info.get("key_set"):
        return "key %s" % _text(info.get("key_id"))
    return "none: logs are not sealed (`callcue device key`)"


# info fields shown above the counters, in this order
_INFO_SHOWN = ("device_id", "firmware", "protocol", "log_format", "time", "uptime_s",
               "calibration", "params", "key_set", "key_id", "free_bytes", "total_bytes",
               "session", "stream", "cal_hash", "config_status")


def show_info(info):
    """`device info` for people: identity, clock, calibration, overrides, key, storage,
    then every counter the device sent (zero ones too: nothing is hidden)."""
    params = info.get("params")
    overrides = ", ".join(
        "%s=%s" % (k, _text(v)) + (" (%s)" % _unit(k, v) if _unit(k, v) else "")
        for k, v in sorted(params.items())) \
        if isinstance(params, dict) and params else "none (every parameter at its default)"
    free, total = info.get("free_bytes"), info.get("total_bytes")
    storage = "%s free" % _size(free) + (" of %s" % _size(total) if _int(total) else "")
    session = info.get("session")
    rows = [
        ("device", _text(info.get("device_id"))),
        ("firmware", "%s (protocol %s, log format %s)" % (
            _text(info.get("firmware")), _text(info.get("protocol")),
            _text(info.get("log_format")))),
        ("clock", human.clock_text(info.get("time")) + (
            " (`callcue device time set`)" if not _int(info.get("time"))
            or info["time"] <= 0 else "")),
        ("uptime", _uptime(info.get("uptime_s"))),
        ("calibration", calibration_text(info.get("calibration"), params)),
        ("overrides", overrides),
        ("sealing key", _key_text(info)),
        ("storage", storage),
        ("recording", "session %s" % _text(session) if _int(session) and session >= 0
         else "no call"),
        ("stream", _text(info.get("stream"))),
    ]
    if info.get("config_status") not in (None, "", "ok"):
        rows.append(("config", config_status_text(info.get("config_status"))))
    for key, value in rows:
        print("%-28s %s" % (key, value))
    rest = sorted(k for k in info if k not in _INFO_SHOWN)
    if rest:
        print("counters")
        for key in rest:
            value = info[key]
            if isinstance(value, dict) and value and all(
                    not isinstance(v, dict | list) for v in value.values()):
                # a group of counters (the virtual dongle's `sim`): one a line, indented
                print("  %s" % _text(key))
                for sub in sorted(value):
                    print("    %-24s %s" % (_text(sub), _text(value[sub])))
            else:
                print("  %-26s %s" % (key, _text(value)))


def _unit(name, value):
    """A parameter's value in the unit a person reads, where its name says the device's."""
    if not _int(value):
        return ""
    if name == "rate_baseline_csps" and value == 0:
        return "not learned yet"
    if name.endswith("_csps"):
        return "%.2f syl/s" % (value / 100)
    if name.endswith("_cents"):
        return "%.2f st" % (value / 100)
    return ""


def show_config(reply):
    """`device config get|set` for people: one parameter a line, its value in force, and
    its default where that differs; then the calibration."""
    from dsp.params import TABLE

    overrides = reply.get("params") if isinstance(reply.get("params"), dict) else {}
    effective = reply.get("effective") if isinstance(reply.get("effective"), dict) else {}
    defaults = {name: default for name, default, *_ in TABLE}
    names = [*defaults, *sorted(k for k in {**effective, **overrides} if k not in defaults)]
    width = max(len(n) for n in names)
    for name in names:
        value = overrides.get(name, effective.get(name, defaults.get(name)))
        notes = [u for u in (_unit(name, value),) if u]
        if name in defaults and value != defaults[name]:
            notes.append("default %s" % _text(defaults[name]))
        elif name not in defaults:
            notes.append("unknown to this callcue")
        print("%-*s  %8s%s" % (width, name, _text(value),
                               "  (%s)" % "; ".join(notes) if notes else ""))
    n = sum(1 for k in overrides)
    print("%d override(s) stored; calibration: %s" % (
        n, calibration_text(reply.get("calibration"), overrides)))
    if reply.get("status") not in (None, "", "ok"):
        print("config: %s" % config_status_text(reply.get("status")))


def config_status_text(status):
    """Why the device runs on defaults (firmware/config.py's status)."""
    if status == "missing":
        return "no /config.json yet: every parameter at its default"
    return "%s: the device ignored /config.json and runs on defaults" % _text(status)


def run(args):
    """One dongle's identity, engine parameter overrides and clock."""
    if args.what == "config" and args.action == "set":
        params = _parse_pairs(args.pairs)
    if args.what == "key":
        from callcue.archive.keys import KeyStore
        from callcue.archive.provision import provision

        with connect(args.port) as dev:
            provision(dev, KeyStore(args.keys), rotate=args.rotate)
        return 0
    with connect(args.port) as dev:
        if args.what == "info":
            reply = dev.info()
        elif args.action == "get":
            reply = dev.get_config()
        elif args.what == "config":
            reply = dev.set_config(**params)
        else:
            unix = int(time.time()) if args.unix is None else args.unix
            reply = dev.set_time(unix)
    if args.json:
        _show(reply, True)
    elif args.what == "info":
        show_info(reply)
    elif args.what == "config":
        show_config(reply)
    else:
        print("device clock set: %s" % human.clock_text(reply.get("time")))
    return 0
