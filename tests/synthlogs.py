"""Synthetic session logs, encoded with the firmware's own log format (firmware/sessionlog),
for the archive tests and the fleet bench: plausible calls (silence at both ends, turns,
talk-overs with their events, rate and pitch-spread gaps, cue runs), reproducible by seed.

`body(seconds, seed)` is the expensive part (records and events); `log(...)` puts a
header in front, so a bench can re-use a few bodies under thousands of headers.
`import_worker` is one puller of the concurrency tests and the bench: it runs in its own
process, opens the archive itself and imports the logs it is handed.
"""

import random
import time
from array import array

from callcue.firmware import sessionlog as sl

FW = "0.1.0"


def body(seconds, seed, events=True):
    """The records (and talk-over events) of a call of `seconds`, as log bytes."""
    rng = random.Random(seed)
    buf = bytearray(sl.RECORD_SIZE)
    out = bytearray()
    seq = 0
    lead, tail = rng.randint(0, 4), rng.randint(0, 4)
    speaker, cue, cue_left, overruns = 0, 0, 0, 0
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
    from callcue.archive import Archive

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
