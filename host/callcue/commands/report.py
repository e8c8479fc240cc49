"""`callcue report`: choose the archived calls, build the page (callcue.report.page, or
callcue.report.summary with --summary) and write it, with its CSVs, each file whole."""

import argparse
import csv
import io
import os
import time

from callcue.archive.store import ArchiveError, open_for_cli
from callcue.errors import CommandError
from callcue.report.calls import CALL_CSV
from callcue.report.page import build
from callcue.report.summary import SUMMARY_COLUMNS, build_summary, summary_row
from callcue.report.team import TEAM_CSV, with_reps
from callcue.report.words import when


def add_args(p):
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = ("examples: callcue report --archive ~/callcue --out report.html\n"
                "          callcue report --archive ~/callcue --team north "
                "--since 2026-11-01 --out nov.html --team-csv nov-team.csv\n"
                "          callcue report --archive ~/callcue --device cc-0001 "
                "--out cc-0001.html --pdf cc-0001.pdf")
    p.add_argument("--archive", required=True, metavar="DIR|URL",
                   help="archive folder or postgresql:// URL")
    p.add_argument("--session", metavar="ID",
                   help="one call: archive row number, or DEVICE:SESSION")
    p.add_argument("--device", metavar="ID", help="only this device's calls")
    p.add_argument("--team", metavar="TEAM", help="only this team's reps")
    p.add_argument("--since", metavar="YYYY-MM-DD", help="only calls started on or after")
    p.add_argument("--until", metavar="YYYY-MM-DD", help="only calls started before")
    p.add_argument("--summary", action="store_true",
                   help="one row per rep and per team (computed in the database), no plots")
    p.add_argument("--csv", metavar="FILE", help="one row per call as CSV too (with its "
                   "mark: verified, not signed, not verified); with --summary, the rep "
                   "and team rows")
    p.add_argument("--team-csv", metavar="FILE",
                   help="the team table (one row per rep, a team row and its band) as CSV")
    p.add_argument("--out", required=True, metavar="report.html", help="HTML file to write")
    p.add_argument("--pdf", metavar="report.pdf", help="also write the plots as a PDF")
    from callcue.archive.keys import add_keys_arg

    add_keys_arg(p)


def _select(ar, args, since, until):
    """The archived calls the options name, with their reps (one-line errors)."""
    try:
        sessions = ar.sessions(args.session, args.device, since, until)
    except ValueError:
        raise CommandError("--session", "give an archive row number or DEVICE:SESSION",
                           code=2) from None
    if args.session and ":" in str(args.session) and len(sessions) > 1:
        # a dongle whose session ids restarted (new flash, clock unset): never guess
        raise CommandError("--session", "%s names %d archived calls (the dongle's session ids "
                           "restarted): %s; give one of those archive row numbers, e.g. "
                           "--session %d" % (
                            args.session, len(sessions), ", ".join(
                                "row %d (%s)" % (s["pk"], when(s["start_time"])
                                                 or "clock not set")
                                for s in sessions[:12]) + (", ..." if len(sessions) > 12
                                                           else ""),
                            sessions[-1]["pk"]), code=2)
    sessions = with_reps(ar, sessions)
    if args.team is not None:
        sessions = [s for s in sessions if s["team"] == args.team]
    if not sessions:
        raise CommandError(ar.name, "no archived calls match; check --session, --device, "
                           "--team, --since and --until (or pull logs first)")
    return sessions


def run(args):
    """A self-contained HTML report for a team lead: one row per rep against the team band
    (outliers marked), trends by date, then every call with a sentence, its length, data flags
    and timeline; with --summary, one row per rep and per team, computed in the database."""
    from callcue.archive.store import parse_day

    since = parse_day(args.since, "--since") if args.since else None
    until = parse_day(args.until, "--until") if args.until else None
    from callcue.archive.keys import KeyStore

    store = KeyStore(args.keys)
    with open_for_cli(args.archive, create=False) as ar:
        t0 = time.monotonic()
        try:
            if args.summary:
                return _summary(ar, args, since, until, t0)
            sessions = _select(ar, args, since, until)
            rows, team_rows, stats = [], [], {}
            text = build(ar, sessions, args.pdf, store, rows, team_rows,
                         title=_scope(args), stats=stats)
        except ArchiveError as e:
            raise CommandError(ar.name, str(e)) from None
    if args.csv:
        _write_csv(args.csv, CALL_CSV, rows)
    if args.team_csv:
        _write_csv(args.team_csv, TEAM_CSV, team_rows)
    _write(args.out, text)
    print("wrote %s: %d call(s) of %d rep(s) in %.1f s%s" % (
        args.out, stats["calls"], len({s["rep"] for s in sessions}),
        time.monotonic() - t0,
        f"; plots also in {args.pdf}" if args.pdf else "") + (
        f"; CSV in {args.csv}" if args.csv else "") + (
        f"; team CSV in {args.team_csv}" if args.team_csv else ""))
    return 0


def _scope(args):
    title = "team %s" % args.team if args.team else "all teams"
    if args.device:
        title += ", dongle %s" % args.device
    if args.session:
        title += ", call %s" % args.session
    if args.since or args.until:
        title += ", %s to %s" % (args.since or "start", args.until or "now")
    return title


def _write_csv(path, fields, rows):
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        # floats to 4 decimals: the devices' units are ms and centi-units
        w.writerow({k: "" if v is None else round(v, 4) if isinstance(v, float) else v
                    for k, v in r.items()})
    _write(path, buf.getvalue())


def _write(path, text):
    """Write `text` to `path` whole (a temporary file beside it, then a rename)."""
    tmp = "%s.%d.tmp" % (path, os.getpid())
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise CommandError(path, e.strerror or str(e)) from None


def _summary(ar, args, since, until, t0):
    if args.session or args.device or args.pdf:
        raise CommandError("--summary", "takes --since, --until and --team (not --session, "
                           "--device or --pdf)", code=2)
    summary = ar.summary(since, until, args.team)
    if not summary["teams"]:
        raise CommandError(ar.name, "no archived calls match; check --team, --since and "
                           "--until (or pull logs first)")
    seconds = time.monotonic() - t0
    _write(args.out, build_summary(summary, _scope(args)))
    rows = [summary_row(x) for x in summary["teams"]] + \
        [summary_row(x) for x in summary["reps"]]
    for path in (args.csv, args.team_csv):
        if path:
            _write_csv(path, [c for c, _, _ in SUMMARY_COLUMNS], rows)
    print("wrote %s: %d rep(s) in %d team(s), %d call(s); queried in %.2f s%s" % (
        args.out, len(summary["reps"]), len(summary["teams"]),
        sum(t["calls"] for t in summary["teams"]), seconds,
        f"; CSV in {args.csv}" if args.csv else ""))
    return 0
