"""`callcue archive assign | reps | info | copy`: the archive itself.

assign: from a date on, a dongle's calls are a rep's (and the rep is in a team); calls
before keep the rep they had, so a dongle can change hands without rewriting history.
copy: every session of one archive into another, e.g. a desk's SQLite folder into the
centre's PostgreSQL database; each session in its own transaction, re-imported from its
raw log and checked, so a copy cut short is simply run again.
"""

import argparse
import json
import time

from callcue.archive.store import ArchiveError, display_name, open_for_cli, parse_day
from callcue.errors import CommandError

ARCHIVE_HELP = "archive folder or postgresql://user@host/database URL"


def add_args(p):
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = (
        "examples: callcue archive assign cc-0042 'Ana Silva' --team north "
        "--since 2026-11-01 --archive postgresql://callcue@db.example/callcue\n"
        "          callcue archive reps --archive ~/callcue\n"
        "          callcue archive copy ~/callcue postgresql://callcue@db.example/callcue")
    sub = p.add_subparsers(dest="action", metavar="assign|reps|info|copy", required=True)
    a = sub.add_parser("assign", help="from a date on, DEVICE's calls are REP's")
    a.add_argument("device", metavar="DEVICE", help="device id (see `callcue device info`)")
    a.add_argument("rep", metavar="REP", help="the rep's name or id")
    a.add_argument("--team", metavar="TEAM", help="the rep's team (kept if not given)")
    a.add_argument("--since", metavar="YYYY-MM-DD",
                   help="first day of the assignment (default: all the device's calls)")
    r = sub.add_parser("reps", help="every assignment, oldest first")
    i = sub.add_parser("info", help="back end, schema version, rows and size")
    for q in (a, r, i):
        q.add_argument("--archive", required=True, metavar="DIR|URL", help=ARCHIVE_HELP)
    for q in (r, i):
        q.add_argument("--json", action="store_true", help="print JSON")
    c = sub.add_parser("copy", help="copy every session of archive SRC into archive DST")
    c.add_argument("src", metavar="SRC", help="the archive to copy from (kept as it is)")
    c.add_argument("dst", metavar="DST", help="the archive to copy into (created if new)")


def run(args):
    """The archive itself: which rep (and team) wears which dongle, its size and schema, and
    copying one archive into another (a folder's SQLite file into a PostgreSQL database)."""
    if args.action == "copy":
        return copy(args)
    with open_for_cli(args.archive, create=args.action == "assign") as ar:
        try:
            if args.action == "assign":
                since = parse_day(args.since, "--since") if args.since else 0
                ar.assign(args.device, args.rep, since, args.team)
                print("%s: %s's calls%s (team %s)" % (
                    args.device, args.rep, f" from {args.since}" if args.since else "",
                    next(r["team"] for r in ar.reps() if r["rep_id"] == args.rep) or "-"))
            elif args.action == "reps":
                rows = ar.assignments()
                if args.json:
                    print(json.dumps(rows, indent=1))
                elif not rows:
                    print("no assignments: each device stands for its own rep "
                          "(callcue archive assign DEVICE REP --team TEAM)")
                for row in rows if not args.json else ():
                    since = time.strftime("%Y-%m-%d", time.localtime(row["since"])) \
                        if row["since"] > 0 else "always"
                    print("%-16s from %-10s  %-24s team %s" % (
                        row["device_id"], since, row["rep_id"], row["team"] or "-"))
            else:
                info = {"archive": ar.name, "backend": ar.backend,
                        "schema_version": ar.schema_version(), **ar.counts(),
                        "size_bytes": ar.size_bytes()}
                if args.json:
                    print(json.dumps(info, indent=1))
                else:
                    for k, v in info.items():
                        print(f"{k:15} {v}")
        except ArchiveError as e:
            raise CommandError(ar.name, str(e)) from None
    return 0


def copy(args):
    if display_name(args.src) == display_name(args.dst):
        raise CommandError(args.dst, "is the source itself; give another archive", code=2)
    t0 = time.monotonic()
    with open_for_cli(args.src, create=False) as src, open_for_cli(args.dst) as dst:
        try:
            stats = dst.copy_from(src, say=print)
            want = src.counts()
        except ArchiveError as e:
            raise CommandError(dst.name, str(e)) from None
        # every source session is in the destination now: check it row by row, not hoped
        missing = [s for s in src.sessions()
                   if dst.find(s["device_id"], s["session_id"], s["start_time"],
                               s["crc32"]) is None]
        if missing:
            raise CommandError(dst.name, "%d session(s) of the source are missing after the "
                               "copy; run it again" % len(missing))
        print("copied %d session(s) (%d records, %d talk-over events) from %s to %s in "
              "%.1f s: %d new, %d already there" % (
                  stats["sessions"], want["records"], want["events"], src.name, dst.name,
                  time.monotonic() - t0, stats["added"], stats["skipped"]))
    return 0
