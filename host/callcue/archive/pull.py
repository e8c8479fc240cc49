"""Pulling a dongle's session logs into the archive: what `callcue logs pull` and
`callcue sim --pull` both do.

pull_all(dev, ar): for every finished session on the device, fetch it in CRC-checked
chunks (each chunk is also appended to the archive's partial folder, so an interrupted
pull resumes where it stopped), check the whole file's crc32 against the device's, import
it into the archive (one transaction per session; a session already there, even one
another desk is importing at the same moment, adds nothing), check the import by reading
it back, and only then, and only with delete=True, ask the device to delete it (the
device deletes only if the crc32 we send matches its file). check_device() refuses a
device whose id is no safe name before anything is made; sync_clock() sets a clock that
is unset or off; assign_rep() records who wears the dongle.
"""

import os
import time

from callcue.archive.integrity import seal_result
from callcue.archive.keys import key_id
from callcue.archive.seal import BROKEN, NOT_SIGNED, WRONG_KEY
from callcue.archive.store import ArchiveError, id_problem
from callcue.errors import CommandError
from firmware.logformat import FORMAT_VERSION
from firmware.protocol import CHUNK_MAX


def assign_rep(ar, device_id, rep, team, stats, say=print):
    """Record that `rep` wears `device_id`, as `callcue archive assign` does, from the
    start of the first finished call on the device (from now if it has none); when the
    device is already that rep's then, nothing new (only the team is updated)."""
    starts = [t for t in stats["starts"] if t > 0]
    since = min(starts) if starts else (0 if stats["starts"] else int(time.time()))
    try:
        current = [a for a in ar.assignments()
                   if a["device_id"] == device_id and a["since"] <= since]
        if current and current[-1]["rep_id"] == rep:
            since = current[-1]["since"]          # already theirs: keep that start
        ar.assign(device_id, rep, since, team)
        team = next((r["team"] for r in ar.reps() if r["rep_id"] == rep), None)
    except ArchiveError as e:
        raise CommandError(ar.name, str(e)) from None
    say("%s: %s's calls%s (team %s)" % (
        device_id, rep, " from %s" % time.strftime("%Y-%m-%d %H:%M", time.localtime(since))
        if since > 0 else "", team or "-"))


CLOCK_SLACK_S = 2


def sync_clock(dev, say=print):
    """Set the dongle's clock from this host's when it is unset or off by more than
    CLOCK_SLACK_S: the RP2040's clock restarts on every power-up or reset (the dongle has
    no battery), and sessions are stamped with it. Returns the device's old time."""
    before = dev.info().get("time", 0)
    now = int(time.time())
    if abs(before - now) > CLOCK_SLACK_S:
        dev.set_time(now)
        say("set the device clock to this host's (it was %s)" % (
            "unset" if before <= 0 else "%+d s off" % (before - now)))
    return before


def pull_all(dev, ar, chunk=CHUNK_MAX, delete=False, say=print, progress=None, keys=None):
    """Pull every finished session of `dev` into archive `ar` (see the module doc).
    Returns counts and the transfer time. Device/serial errors propagate; the bytes
    received so far stay in ar's partial/ folder for the next call to resume. With
    `keys` (a callcue.archive.keys.KeyStore) holding the device's key, each pulled log's seals
    are checked and the verdict archived with it; a broken seal, another key, or no
    seal from a device that has a key is a warning line (the log is archived all the
    same: it is the evidence)."""
    info = check_device(dev)
    device_id = info["device_id"]
    known = keys.keys(device_id) if keys is not None else []
    if info.get("key_set") and not any(key_id(k) == info.get("key_id") for k, _ in known):
        say("warning: %s has key %s, which is not in the key store %s: its sessions are "
            "archived unchecked" % (device_id, info.get("key_id"),
                                    keys.folder if keys is not None else "(none given)"))
    for line in device_losses(info):
        say("warning: %s: %s" % (device_id, line))
    if _live_sim_hint(dev) and not info.get("capture_done", True):
        say("%s: its call is still playing: a session recording now is not pulled%s" % (
            dev_name(dev), _live_sim_hint(dev)))
    stats = {"pulled": 0, "bytes": 0, "records": 0, "events": 0, "seconds": 0.0,
             "added": 0, "skipped": 0, "deleted": 0, "sessions": [], "starts": []}
    for s in dev.sessions():
        sid = s["id"]
        st = dev.stat_session(sid)
        size, crc = st["bytes"], st["crc32"]
        if st["open"]:
            say("session %d: still recording; pull it after the call ends%s" % (
                sid, _live_sim_hint(dev)))
            continue
        stats["starts"].append(s["start"])
        old = ar.find(device_id, sid, s["start"], crc) if s["start"] >= 0 else None
        if old is not None:
            stats["skipped"] += 1
            say("session %d: already in the archive" % sid)
            if delete and ar.verify(old["pk"], crc):
                dev.delete_session(sid, crc)
                stats["deleted"] += 1
                say("session %d: deleted from the device" % sid)
            continue
        part = ar.partial_path(device_id, sid)
        buf = bytearray(part.read_bytes()) if part.exists() else bytearray()
        if len(buf) > size or (buf and len(buf) >= 64 and buf[:64] != _head(dev, sid)):
            buf.clear()  # not this session's beginning (the id was reused): start over
        if buf:
            say("session %d: resuming at byte %d of %d" % (sid, len(buf), size))
        t0 = time.monotonic()
        try:
            f = open(part, "wb" if not buf else "ab")  # noqa: SIM115 - closed below
        except OSError as e:
            raise _part_error(part, e) from None
        with f:
            while len(buf) < size:
                n = min(chunk, size - len(buf))
                data = dev._chunk(sid, len(buf), n, 3)
                try:
                    f.write(data)
                    f.flush()
                except OSError as e:
                    raise _part_error(part, e) from None
                buf += data
                if progress is not None:
                    progress("session %d" % sid, len(buf), size)
        try:
            data = dev.pull_session(sid, partial=bytes(buf))  # checks the whole crc32
        except Exception:
            part.unlink(missing_ok=True)  # wrong bytes: the next pull starts over
            raise
        stats["seconds"] += time.monotonic() - t0
        res = seal_result(data, known)
        verdict = None if res is None else (res.status, res.message)
        if res is not None and (res.status in (BROKEN, WRONG_KEY) or (
                res.status == NOT_SIGNED and info.get("key_set"))):
            say("session %d: warning: seal %s: %s" % (sid, res.status, res.message))
        try:
            pk, added = ar.import_session(
                data, warn=lambda msg, sid=sid: say("session %d: warning: %s" % (sid, msg)),
                seal=verdict)
        except ArchiveError as e:
            raise CommandError(ar.name, f"session {sid}: {e}") from None
        part.unlink(missing_ok=True)
        n, n_ev = ar.stored_counts(pk)
        stats["pulled"] += 1
        stats["bytes"] += len(data)
        stats["records"] += n
        stats["events"] += n_ev
        stats["added" if added else "skipped"] += 1
        stats["sessions"].append({"id": sid, "pk": pk, "start": s["start"], "added": added})
        say("session %d: %d bytes, %d records, %d talk-over events %s%s" % (
            sid, len(data), n, n_ev, "imported" if added else "already in the archive",
            "" if res is None else "; seal: " + res.status))
        if delete:
            if not ar.verify(pk, crc):
                raise CommandError(ar.name, f"session {sid}: the archived copy does not "
                                   "read back whole; not deleting it from the device")
            dev.delete_session(sid, crc)
            stats["deleted"] += 1
            say("session %d: deleted from the device" % sid)
    return stats


def _live_sim_hint(dev):
    """What to do instead, when the port is a live call on the virtual dongle (sim://
    CALL.wav plays its call while the port is open, so a pull finds it recording)."""
    name = dev_name(dev)
    if not name.startswith("sim://") or os.path.isdir(name[6:].split("?", 1)[0]):
        return ""
    return ("; sim://CALL.wav plays its call while the port is open: play calls into a "
            "dongle folder first (callcue sim CALL.wav --dongle DIR), then pull with "
            "--port sim://DIR")


def _part_error(part, e):
    """A partial file's OSError (disk full, a read-only folder) as one line naming the
    file, not as the device going away (the port's errors are OSErrors too)."""
    return CommandError(str(part), f"cannot write ({e.strerror or e}); free some space or fix "
                        "the folder's permissions, then pull again (it resumes)")


LOSSES = (
    ("recovery_records_dropped", "recovery at boot dropped %d damaged records"),
    ("recovery_sessions_dropped", "recovery at boot deleted %d sessions with no valid "
     "record left"),
    ("recovery_headers_rebuilt", "recovery at boot rebuilt %d corrupt session headers "
     "(their start time and calibration are unknown)"),
    ("call_records_removed", "a full flash removed %d records of calls in progress "
     "(their oldest minutes)"),
    ("sessions_removed_for_space", "a full flash removed %d sessions nobody had pulled"),
    ("records_dropped", "%d records could not be written to flash"),
    ("memory_errors", "%d chores found no memory (records may be missing)"),
)


def device_losses(info):
    """One line per non-zero loss counter in a device's `info`."""
    out = []
    for name, text in LOSSES:
        n = info.get(name)
        if isinstance(n, int) and not isinstance(n, bool) and n > 0:
            out.append(text % n)
    return out


def check_device(dev):
    """The device's `info`, or CommandError naming the port when its id is no safe file name
    (it names the partial files) or its log format is newer than this callcue reads."""
    info = dev.info()
    why = id_problem(info["device_id"])
    if why is not None:
        raise CommandError(dev_name(dev), why + "; nothing pulled (give the dongle a proper id: "
                           "`callcue flash --reset-config`)")
    if info.get("log_format", 1) > FORMAT_VERSION:
        raise CommandError(dev_name(dev), "the device writes session-log format %d, this callcue "
                           "reads up to %d; update callcue (pip install -U callcue)" % (
                            info["log_format"], FORMAT_VERSION))
    return info


def dev_name(dev):
    return str(getattr(getattr(dev, "port", None), "port", None) or "the device")


def _head(dev, sid):
    from callcue.device.wire import chunk_data

    return chunk_data(dev.request("get_session", id=sid, offset=0, len=64), 0)
