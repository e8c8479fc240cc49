"""`callcue logs list | pull | export`: a dongle's session logs into the supervisor's archive.

pull: for every finished session on the device, fetch it in CRC-checked chunks (each
chunk is also appended to ARCHIVE/partial/, so an interrupted pull resumes where it
stopped), check the whole file's crc32 against the device's, import it into the archive
(callcue.archive.store: a folder's SQLite file or a PostgreSQL database; one transaction per
session; a session already there, even one another desk is importing at the same moment,
adds nothing), check the import by reading it back, and only then, and only with --delete,
ask the device to delete it (the device deletes only if the crc32 we send matches its file).

export: one row per per-second record (`kind` "second") and one per talk-over event
(`kind` "talkover", with `start_s`, `end_s` on the records' `t_s` clock and `interrupter`
"rep" or "customer"), in log order, in the units and columns of callcue.device.human (the same
as `callcue stream --csv`); a column that does not apply to a row is empty.

list --archive: one line per archived session (device, rep, session, start, duration,
records, and the report's mark: verified, not signed, not verified).
"""

import argparse
import json
import os
import sys
import time

from callcue.archive.keys import add_keys_arg
from callcue.archive.pull import assign_rep, check_device, pull_all, sync_clock
from callcue.archive.store import ArchiveError, open_for_cli
from callcue.device.ports import connect
from callcue.errors import CommandError
from firmware.protocol import CHUNK_MAX


def add_args(p):
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = ("examples: callcue logs list --port /dev/ttyACM0\n"
                "          callcue logs list --archive ~/callcue\n"
                "          callcue logs pull --port /dev/ttyACM0 --archive ~/callcue --delete\n"
                "          callcue logs export --archive ~/callcue --format csv --out calls.csv\n"
                "          callcue logs verify --archive ~/callcue")
    sub = p.add_subparsers(dest="action", metavar="list|pull|export|verify", required=True)
    ls = sub.add_parser("list", help="the sessions stored on the device (--port) or in "
                        "an archive (--archive)")
    where = ls.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", metavar="P",
                       help="serial port or URL of the dongle (see `callcue devices`)")
    where.add_argument("--archive", metavar="DIR|URL",
                       help="archive folder or postgresql:// URL (opened read-only): one "
                       "line per archived session with its mark")
    ls.add_argument("--json", action="store_true", help="print the list as JSON")
    add_keys_arg(ls)
    pull = sub.add_parser("pull", help="pull every finished session into the archive")
    pull.add_argument("--archive", required=True, metavar="DIR|URL",
                      help="archive folder (created if missing) or postgresql:// URL")
    pull.add_argument("--delete", action="store_true",
                      help="delete each session from the device once its import is verified")
    pull.add_argument("--chunk", type=int, default=CHUNK_MAX, metavar="BYTES",
                      help=f"bytes per request, 1..{CHUNK_MAX} (default {CHUNK_MAX})")
    pull.add_argument("--rep", metavar="NAME",
                      help="the rep who wears this dongle: its calls are theirs from the "
                      "first pulled call on (as `callcue archive assign`)")
    pull.add_argument("--team", metavar="TEAM", help="the rep's team (with --rep)")
    add_keys_arg(pull)
    pull.add_argument("--port", required=True, metavar="P",
                      help="serial port or URL of the dongle (see `callcue devices`)")
    ex = sub.add_parser("export", help="the archive's per-second records and talk-over "
                        "events for spreadsheets (column `kind`: second or talkover)")
    ex.add_argument("--archive", required=True, metavar="DIR|URL",
                    help="archive folder or postgresql:// URL")
    ex.add_argument("--format", choices=("csv", "jsonl", "parquet"), default="csv",
                    help="csv (default), jsonl (one JSON object a line) or parquet (needs "
                    "pyarrow); the same columns as `callcue stream --csv`")
    ex.add_argument("--out", default="-", metavar="FILE",
                    help="output file ('-': stdout; parquet needs a file)")
    ve = sub.add_parser("verify", help="check every archived session: its rows against its "
                        "raw log, the log's seals against the device's key; exit 1 naming "
                        "each one that differs or whose seal is broken")
    ve.add_argument("--archive", required=True, metavar="DIR|URL",
                    help="archive folder or postgresql:// URL (opened read-only)")
    add_keys_arg(ve)


def run(args):
    """List a dongle's session logs, pull them into an archive (a folder's SQLite file or a
    PostgreSQL database; resumable, idempotent, --delete only after a verified import), export
    the archive."""
    if args.action == "export":
        return export(args)
    if args.action == "verify":
        return verify_archive(args)
    if args.action == "list" and args.archive is not None:
        return list_archive(args)
    if args.action == "list":
        with connect(args.port) as dev:
            sessions = dev.sessions()
        if args.json:
            print(json.dumps(sessions, indent=1))
            return 0
        if not sessions:
            print("no sessions on the device")
        for s in sessions:
            start = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(s["start"])) \
                if s["start"] > 0 else "clock not set"
            print("session %-6d %s  %6d records  %8d bytes" % (
                s["id"], start, s["records"], s["bytes"]))
        return 0
    if not 1 <= args.chunk <= CHUNK_MAX:
        raise CommandError("--chunk", f"must be 1..{CHUNK_MAX}", code=2)
    if args.team is not None and not args.rep:
        raise CommandError("--team", "goes with --rep NAME (the rep's team)", code=2)
    if args.rep is not None and not args.rep.strip():
        raise CommandError("--rep", "give the rep's name", code=2)
    with connect(args.port) as dev:
        info = check_device(dev)  # before the archive is opened: a bad device creates nothing
        from callcue.archive.keys import KeyStore

        store = KeyStore(args.keys)
        with open_for_cli(args.archive) as ar:
            sync_clock(dev, say=print)
            stats = pull_all(dev, ar, chunk=args.chunk, delete=args.delete, say=print,
                             progress=_rich_progress(), keys=store)
            if args.rep:
                assign_rep(ar, info["device_id"], args.rep.strip(), args.team, stats,
                           say=print)
    n = stats["records"] + stats["events"]
    rate = n / stats["seconds"] if stats["seconds"] > 0 else 0.0
    print("pulled %d session(s), %d bytes, %d records and %d talk-over events in %.2f s "
          "(%.0f records/s); %d new, %d already archived, %d deleted from the device; "
          "archive %s" % (
              stats["pulled"], stats["bytes"], stats["records"], stats["events"],
              stats["seconds"], rate, stats["added"], stats["skipped"], stats["deleted"],
              ar.name))
    return 0


def _rich_progress():
    """progress(label, done, total) drawing a rich bar on stderr (when it is a terminal)."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        return None
    state = {}

    def progress(label, done, total):
        if "bar" not in state:
            state["bar"] = Progress(TextColumn("{task.description}"), BarColumn(),
                                    DownloadColumn(), console=console, transient=True)
            state["bar"].start()
        bar = state["bar"]
        if state.get("label") != label:
            state["task"] = bar.add_task(label, total=total)
            state["label"] = label
        bar.update(state["task"], completed=done)
        if done >= total:
            bar.stop()
            state.clear()

    return progress


# what the device lost since it booted, from its `info` counters (PROTOCOL.md): a pull
# says so, because the sessions it brings in are then not the whole of what was said


def rep_at(assignments, device_id, start_time):
    """The rep who wore `device_id` at `start_time` (the latest assignment from then or
    before, as the report finds it), or None when the archive does not know."""
    rep = None
    for a in assignments:     # ordered by device, then since
        if a["device_id"] == device_id and a["since"] <= start_time:
            rep = a["rep_id"]
    return rep


def export_rows(ar):
    """Every session's per-second records and talk-over events as rows of
    callcue.device.human.NAMES, in log (seq) order. A second's time is the session's start plus
    its offset from the first record; a talk-over's, when it began."""
    from callcue.device import human

    assignments = ar.assignments()
    for s in ar.sessions():
        recs = ar.records(s["pk"])
        t0 = recs[0]["t_s"] if recs else 0
        start = s["start_time"] if s["start_time"] > 0 else None

        def when(t_s, start=start, t0=t0):
            return None if start is None else start + int(t_s) - t0

        ctx = {"device": s["device_id"], "session": s["session_id"],
               "rep": rep_at(assignments, s["device_id"], s["start_time"])}
        rows = [(r["seq"], human.second_row(r, when(r["t_s"]), **ctx)) for r in recs]
        rows += [(e["seq"], human.talkover_row(e, when(e["start_f"] // 100), **ctx))
                 for e in ar.events(s["pk"])]
        rows.sort(key=lambda row: row[0])
        for _, row in rows:
            yield row


def export(args):
    from callcue.device import human

    with open_for_cli(args.archive, create=False) as ar:
        rows = export_rows(ar)
        if args.format == "parquet":
            return _parquet(rows, args.out, ar)
        # a file is written beside its place and renamed when whole: a failure (the
        # database going away half-way) leaves no half-written export
        tmp = None if args.out == "-" else "%s.%d.tmp" % (args.out, os.getpid())
        try:
            out = sys.stdout if tmp is None else open(tmp, "w", newline="")  # noqa: SIM115
        except OSError as e:
            raise CommandError(args.out, e.strerror or str(e), code=2) from None
        try:
            w = human.RowWriter(out, args.format)
            for row in rows:
                w.write(row)
        except BaseException as e:
            if tmp is not None:
                out.close()
                os.unlink(tmp)
            if isinstance(e, ArchiveError):
                raise CommandError(ar.name, str(e)) from None
            if isinstance(e, OSError) and tmp is not None:
                raise CommandError(args.out, e.strerror or str(e), code=2) from None
            raise
        if tmp is not None:
            out.close()
            os.replace(tmp, args.out)
    if args.out != "-":
        print("wrote %d rows (records and talk-over events) to %s" % (w.n, args.out))
    return 0


def _parquet(rows, out, ar):
    from callcue.device import human

    if out == "-":
        raise CommandError("--out", "parquet is binary: give --out FILE.parquet", code=2)
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise CommandError("--format parquet", "needs pyarrow: pip install 'callcue[parquet]' "
                           "(or use --format csv / jsonl)") from None
    try:
        rows = list(rows)
    except ArchiveError as e:
        raise CommandError(ar.name, str(e)) from None
    table = pyarrow.Table.from_pylist(rows, schema=human.parquet_schema())
    tmp = "%s.%d.tmp" % (out, os.getpid())
    try:
        pyarrow.parquet.write_table(table, tmp)
        os.replace(tmp, out)
    except OSError as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise CommandError(out, e.strerror or str(e), code=2) from None
    print("wrote %d rows (records and talk-over events) to %s" % (len(rows), out))
    return 0


def list_archive(args):
    """`logs list --archive`: one line per archived session, oldest first: device, rep,
    session, start (local), duration (one record a second), records (seconds and
    talk-overs) and the mark `report` gives it. Read-only."""
    from callcue.archive.integrity import check_session
    from callcue.archive.keys import KeyStore
    from callcue.device import human

    store = KeyStore(args.keys)
    out = []
    with open_for_cli(args.archive, create=False) as ar:
        try:
            assignments = ar.assignments()
            for s in ar.sessions():
                n, n_ev = ar.stored_counts(s["pk"])
                check = check_session(ar, s, store)
                out.append({"device": s["device_id"],
                            "rep": rep_at(assignments, s["device_id"], s["start_time"]),
                            "session": s["session_id"], "start": human.local_iso(
                                s["start_time"]), "duration_s": n, "records": n + n_ev,
                            "talkovers": n_ev, "mark": check.mark, "mark_note": check.note})
        except ArchiveError as e:
            raise CommandError(ar.name, str(e)) from None
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    if not out:
        print("no sessions in the archive %s" % ar.name)
        return 0
    wdev = max(len("device"), *(len(r["device"]) for r in out))
    wrep = max(len("rep"), *(len(r["rep"] or "-") for r in out))
    print("%-*s  %-*s  %7s  %-25s  %8s  %7s  %s" % (
        wdev, "device", wrep, "rep", "session", "start", "duration", "records", "mark"))
    for r in out:
        print("%-*s  %-*s  %7d  %-25s  %8s  %7d  %s" % (
            wdev, r["device"], wrep, r["rep"] or "-", r["session"],
            r["start"] or "clock not set", human.mmss(r["duration_s"]), r["records"],
            r["mark"]))
    return 0


def session_name(s):
    return "%s session %d (archive row %d)" % (s["device_id"], s["session_id"], s["pk"])


def verify_archive(args):
    """`logs verify`: one line per session (its mark and why), then the tally; exit 1
    naming every session whose rows or log are not the dongle's. Read-only."""
    from callcue.archive.integrity import NOT_SIGNED, VERIFIED, check_session
    from callcue.archive.keys import KeyStore

    store = KeyStore(args.keys)
    counts = {VERIFIED: 0, NOT_SIGNED: 0}
    failed = []
    with open_for_cli(args.archive, create=False) as ar:
        try:
            for s in ar.sessions():
                c = check_session(ar, s, store)
                print("%s: %s: %s" % (session_name(s), c.mark, c.note))
                if c.failed:
                    failed.append(session_name(s))
                else:
                    counts[c.mark] += 1
        except ArchiveError as e:
            raise CommandError(ar.name, str(e)) from None
    print("%d session(s): %d verified, %d not signed, %d not verified (keys: %s)" % (
        counts[VERIFIED] + counts[NOT_SIGNED] + len(failed), counts[VERIFIED],
        counts[NOT_SIGNED], len(failed), store.folder))
    if failed:
        print("callcue: not verified: %s" % "; ".join(failed), file=sys.stderr)
        return 1
    return 0
