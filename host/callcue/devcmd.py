"""`callcue device info | config get | config set KEY=VALUE... | time set | key`: one
dongle's identity, engine parameter overrides, clock and sealing key, over the serial
protocol."""

import json
import time

from callcue.devices import HostError, connect


def add_args(p):
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
    add_keys_arg(key)
    for q in (info, cget, cset, tset, key):
        q.add_argument("--port", required=True, metavar="P",
                       help="serial port or URL of the dongle (see `callcue devices`)")
    for q in (info, cget, cset, tset):
        q.add_argument("--json", action="store_true", help="print the reply as JSON")


def add_keys_arg(p):
    p.add_argument("--keys", metavar="DIR", help="the key store (default: $CALLCUE_KEYS, "
                   "else ~/.config/callcue/keys)")


def _parse_pairs(pairs):
    params = {}
    for item in pairs:
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise HostError(item, "not KEY=VALUE (e.g. fast_on_csps=520)", code=2)
        if value.lower() in ("default", "none", ""):
            params[key] = None
            continue
        try:
            params[key] = int(value)
        except ValueError:
            raise HostError(item, "the value must be an integer, or 'default'", code=2) from None
    return params


def _show(reply, as_json):
    if as_json:
        print(json.dumps(reply, indent=1, sort_keys=True))
        return
    for key in sorted(reply):
        value = reply[key]
        if isinstance(value, dict | list):
            value = json.dumps(value, sort_keys=True)
        print("%-28s %s" % (key, value))


def run(args):
    if args.what == "config" and args.action == "set":
        params = _parse_pairs(args.pairs)
    if args.what == "key":
        from callcue.keys import KeyStore, provision

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
    _show(reply, args.json)
    return 0
