"""Synthetic session logs, encoded with the firmware's own log format (firmware/sessionlog),
for the archive tests and the fleet bench: plausible calls (silence at both ends, turns,
talk-overs with their events, rate and pitch-spread gaps, cue runs), reproducible by seed.

`body(seconds, seed)` is the expensive part (records and events); `log(...)` puts a
header in front, so a bench can re-use a few bodies under thousands of headers.
`import_worker` is one puller of the concurrency tests and the bench: it runs in its own
process, opens the archive itself and imports the logs it is handed.
"""

import random
import struct
import time
import zlib
from array import array

from firmware import logformat as sl

FW = "0.1.0"


def body(seconds, seed, events=True, overruns_from=0):
    """The records (and talk-over events) of a call of `seconds`, as log bytes.
    `overruns_from`: the capture's lost-frame counter as the call starts (it counts from
    the dongle's boot, so a call after a lossy one starts above 0)."""
    rng = random.Random(seed)
    buf = bytearray(sl.RECORD_SIZE)
    out = bytearray()
    seq = 0
    lead, tail = rng.randint(0, 4), rng.randint(0, 4)
    speaker, cue, cue_left, overruns = 0, 0, 0, overruns_from
    for t in range(seconds):
        silent = t < lead or t >= seconds - tail or rng.random() < 0.05
        if rng.random() < 0.15:
            speaker = 1 - speaker
        rep = cust = overlap = talkovers = 0
        if not silent:
            main = rng.randint(500, 1000)
            other = rng.choice((0, 0, 0, rng.randint(100, 600)))
            rep, cust = (main, other) if speaker == 0 else (other, main)
            overlap = min(rep, cust) if rep and cust else 0
            if overlap >= 300:
                talkovers = 1
        if cue_left:
            cue_left -= 1
        else:
            cue = rng.choice((0,) * 12 + (1, 2, 3, 4)) if not silent else 0
            cue_left = rng.randint(1, 6) if cue else 0
        rate = rng.randint(300, 700) if rep >= 400 and rng.random() < 0.9 else -1
        sd = rng.randint(80, 450) if rep >= 300 and rng.random() < 0.8 else -1
        if rng.random() < 0.002:
            overruns += 1
        rec = array("i", [t, rep, cust, overlap, rng.randint(0, 6) if rep else 0, rate,
                          rng.randint(2000, 5000) if sd >= 0 else -1, sd, cue])
        sl.encode_record_into(buf, seq, rec, overruns, talkovers)
        out += buf
        seq += 1
        if talkovers and events:
            start = t * 100 + rng.randint(0, 60)
            sl.encode_event_into(buf, seq, start, start + rng.randint(30, 150),
                                 rng.randint(0, 1))
            out += buf
            seq += 1
    return bytes(out)


def log(device_id, session_id, start_time, body_bytes, cal_hash=7):
    """A whole session log: the header, then `body_bytes`."""
    return bytes(sl.encode_header(device_id, FW, cal_hash, start_time, session_id)) + body_bytes


def import_worker(target, logs, repeat=1):
    """Open archive `target` in this process and import every log (bytes) of `logs`,
    `repeat` times. Returns (added, skipped, errors, seconds); errors are messages."""
    from callcue.archive.store import Archive

    added = skipped = 0
    errors = []
    t0 = time.perf_counter()
    try:
        with Archive(target) as ar:
            for _ in range(repeat):
                for data in logs:
                    try:
                        _, new = ar.import_session(data)
                    except Exception as e:  # counted, not raised: the caller reports them
                        errors.append(f"{type(e).__name__}: {e}")
                        continue
                    added += new
                    skipped += not new
    except Exception as e:
        errors.append(f"{type(e).__name__}: {e}")
    return added, skipped, errors, time.perf_counter() - t0


# ---------------------------------------------------------------- real logs, re-labelled

def relabel(raw, device_id, session_id, start_time, flags=0, continues=0):
    """A real session log (bytes) under another header: device, session id, start time
    (and FLAG_CONTINUED with `continues`), its records as they are. This is how one
    dongle's calls become several reps' calls on several dates."""
    hdr = sl.decode_header(raw)
    head = sl.encode_header(device_id, hdr["fw_version"], hdr["cal_hash"], start_time,
                            session_id, flags, continues)
    return bytes(head) + bytes(raw[hdr["header_size"]:])


def with_losses(raw, lost_frames, at_s=10, start=0):
    """A real session log whose capture dropped `lost_frames` frames (10 ms) from its
    `at_s`-th second on, spread over ten seconds: the overrun counter of every
    per-second record re-encoded (and its CRC) as the firmware counts it, from `start`
    (the counter runs from the dongle's boot)."""
    hdr = sl.decode_header(raw)
    out = bytearray(raw)
    n = 0
    for off in range(hdr["header_size"], len(out) - sl.RECORD_SIZE + 1, sl.RECORD_SIZE):
        if out[off + 25] != sl.KIND_SECOND:
            continue
        lost = min(lost_frames, max(0, n - at_s + 1) * lost_frames // 10)
        struct.pack_into("<H", out, off + 20, start + lost)
        struct.pack_into("<I", out, off + 28, 0)
        struct.pack_into("<I", out, off + 28, zlib.crc32(bytes(out[off:off + 32])))
        n += 1
    return bytes(out)


def split(raw, part1_sid, part2_sid, at_slot):
    """A real call split into two parts the way the dongle splits a long one (LOGFORMAT.md,
    "Space policy"): records before slot `at_slot` in the first file, the rest in a
    second with FLAG_CONTINUED and `continues` = the first, the same start time."""
    hdr = sl.decode_header(raw)
    body = raw[hdr["header_size"]:]
    cut = at_slot * sl.RECORD_SIZE
    first = relabel(raw[:hdr["header_size"]] + body[:cut], hdr["device_id"], part1_sid,
                    hdr["start_time"])
    second = relabel(raw[:hdr["header_size"]] + body[cut:], hdr["device_id"], part2_sid,
                     hdr["start_time"], sl.FLAG_CONTINUED, part1_sid)
    return first, second


# scenario, seed, seconds of audio: the calls dongle_logs plays (the last a short one)
TEAM_CALLS = (("rep-interrupts", 1, 100), ("customer-interrupts", 3, 100),
              ("turn-taking", 2, 100), ("fast-rep", 5, 100), ("flat-rep", 0, 100),
              ("expressive-rep", 6, 100), ("dead-air", 7, 100), ("backchannels", 8, 100),
              ("slow-rep", 9, 100), ("turn-taking", 4, 9))


def dongle_logs(folder, calls=TEAM_CALLS):
    """Play `calls` through one virtual dongle (the real firmware on the simulated board),
    32 s of silence after each so that each is a session; returns [(log bytes, truth,
    offset_s)] in order: each call's ground truth (callcue.analysis.synth) and where its audio
    starts on the dongle's clock (its records' t_s)."""
    from pathlib import Path

    import numpy as np

    from callcue.analysis import synth
    from callcue.sim import dongle as simulator

    folder = Path(folder)
    gap = np.zeros((32 * 8000, 2), np.int16)
    parts, truths, offsets, at = [], [], [], 0
    for scenario, seed, seconds in calls:
        pcm, truth = synth.render(scenario, seed=seed, duration_s=max(seconds, 20))
        pcm = pcm[:seconds * 8000]
        parts += [pcm, gap]
        truths.append(truth)
        offsets.append(at)
        at += seconds + 32
    pcm = np.concatenate(parts)
    dongle = simulator.VirtualDongle(rep=pcm[:, 0], cust=pcm[:, 1], storage=folder / "flash",
                                     link=False)
    _, err = dongle.proc.communicate(b"", timeout=600)
    dongle.close()
    if dongle.proc.returncode != 0:
        raise RuntimeError(err.decode()[-2000:])
    logs = [p.read_bytes() for p in sorted((folder / "flash" / "logs").glob("s*.log"))]
    if len(logs) != len(calls):
        raise RuntimeError("%d calls played, %d sessions logged" % (len(calls), len(logs)))
    return list(zip(logs, truths, offsets))


def local_time(day, hour, minute=0):
    """Unix time of a local date and time ('2026-11-02', 9, 30)."""
    import datetime as dt

    return int(dt.datetime.strptime("%s %02d:%02d" % (day, hour, minute),
                                    "%Y-%m-%d %H:%M").timestamp())


DAY1, DAY2 = "2026-11-02", "2026-11-03"
# (call index in TEAM_CALLS, device, session id, day, hour, minute): five reps' calls
TEAM_PLAN = ((0, "cc-0001", 1, DAY1, 9, 0), (2, "cc-0001", 2, DAY2, 9, 0),
             (9, "cc-0001", 3, DAY2, 11, 0),                       # Ana's short call
             (1, "cc-0002", 1, DAY1, 9, 30), (7, "cc-0002", 2, DAY2, 10, 0),
             (5, "cc-0003", 1, DAY1, 10, 0), (6, "cc-0003", 2, DAY2, 14, 0),  # lossy
             (3, "cc-0004", 1, DAY1, 11, 0), (8, "cc-0004", 2, DAY2, 15, 0),
             (4, "cc-0009", 1, DAY1, 16, 0))
TEAM_REPS = (("cc-0001", "Ana Silva", "north"), ("cc-0002", "Ben Okafor", "north"),
             ("cc-0003", "Cleo Marsh", "north"), ("cc-0004", "Dev Patel", "north"))
LOST_FRAMES = 320      # Cleo's day-2 call: 3.2 s of audio the capture dropped


def team_archive(target, played):
    """An archive of real dongle logs (`played`, from dongle_logs over TEAM_CALLS) as a
    team's two days: four reps of team north and a dongle never assigned, one short
    call, one lossy call, one call in two parts (Ben's day 2), and a dongle whose
    session ids restarted (cc-0001 session 1 twice). Returns the logs archived."""
    from callcue.archive.store import Archive

    logs = []
    for i, dev, sid, day, hour, minute in TEAM_PLAN:
        raw = relabel(played[i][0], dev, sid, local_time(day, hour, minute))
        if (dev, sid) == ("cc-0003", 2):
            raw = with_losses(raw, LOST_FRAMES, start=41)
        if (dev, sid) == ("cc-0002", 2):
            logs += split(raw, 2, 3, 60)
            continue
        logs.append(raw)
    # the same dongle's ids restarted (a new flash): session 1 again, another day
    logs.append(relabel(played[2][0], "cc-0001", 1, local_time(DAY2, 16)))
    with Archive(target) as ar:
        for data in logs:
            ar.import_session(data)
        for dev, rep, team in TEAM_REPS:
            ar.assign(dev, rep, 0, team=team)
    return logs
