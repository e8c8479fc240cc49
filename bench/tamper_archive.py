"""How many edits of an archived call does `callcue logs verify` catch?

A 60 s call is played through the real firmware (MicroPython unix port, simulated
board) on a dongle with a key; its sealed log is imported into an SQLite archive as a
pull with the key would (verdict kept), and then, each on a fresh copy of the archive,
every edit of these kinds is made and the call checked (callcue.archive.integrity, what
`logs verify` and `report` run):

- rows: every field (but seq) of every per-second record and talk-over event, +1; every
  record and event row deleted; every pair of neighbouring records swapped (reordered);
  a record added; the session's record count;
- blob: every byte flipped; every record slot edited with its CRC recomputed (forged),
  and the same with the rows rewritten to match it; every slot deleted; every pair of
  neighbouring slots swapped; the seals stripped; the last seal's segment cut off.

Prints, per kind, how many were caught (marked "not verified") of how many made.

    .venv/bin/python bench/tamper_archive.py [--seconds 60]
"""

import argparse
import os
import secrets
import shutil
import sqlite3
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

from callcue.analysis import synth
from callcue.archive import integrity, keys
from callcue.archive.seal import verify
from callcue.archive.store import RECORD_COLUMNS, Archive
from callcue.sim import dongle as simulator
from firmware import logformat as sl

EVENT_VALUES = ("start_f", "end_f", "interrupter")
VALUES = [c for c in RECORD_COLUMNS if c != "seq"]


def sealed_call(seconds, key, folder):
    pcm, _ = synth.render("rep-interrupts", seed=3, duration_s=float(seconds))
    pcm = np.concatenate([pcm, np.zeros((2 * 8000, 2), np.int16)])
    flash = folder / "flash"
    flash.mkdir()
    (flash / "key.bin").write_bytes(key)
    dongle = simulator.VirtualDongle(rep=pcm[:, 0], cust=pcm[:, 1], storage=flash, link=False)
    _out, err = dongle.proc.communicate(b"", timeout=600)
    dongle.close()
    if dongle.proc.returncode:
        sys.exit("the virtual dongle failed: " + err.decode()[-500:])
    logs = sorted((flash / "logs").glob("s*.log"))
    return max((p.read_bytes() for p in logs), key=len)


def fix_crc(slot):
    b = bytearray(slot)
    b[28:32] = bytes(4)
    b[28:32] = zlib.crc32(b).to_bytes(4, "little")
    return bytes(b)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=60)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="callcue-tamper-"))
    try:
        run(args.seconds, tmp)
    finally:
        shutil.rmtree(tmp)


def run(seconds, tmp):
    key = secrets.token_bytes(32)
    raw = sealed_call(seconds, key, tmp)
    res = verify(raw, key)
    assert res.status == "verified", res
    store = keys.KeyStore(tmp / "keys")
    hdr = sl.decode_header(raw)
    store._write(store.path(hdr["device_id"]), [(key, int(time.time()))])
    pristine = tmp / "pristine"
    with Archive(pristine) as ar:
        pk, _ = ar.import_session(raw, seal=(res.status, res.message))
        assert integrity.check_session(ar, ar.sessions()[0], store).mark == "verified"
        recs, evs = ar.records(pk), ar.events(pk)
    work = tmp / "work"
    tally = {}

    def case(kind, *stmts, blob=None, rows_from_blob=False):
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(pristine, work)
        db = sqlite3.connect(work / "callcue.sqlite")
        for stmt in stmts:
            db.execute(*stmt) if isinstance(stmt, tuple) else db.execute(stmt)
        if blob is not None:
            db.execute("UPDATE sessions SET raw=?", (blob,))
            if rows_from_blob:
                _, secs, events = sl.decode_log(blob)
                db.execute("DELETE FROM records")
                db.executemany("INSERT INTO records (session_pk, %s) VALUES (1, %s)" % (
                    ", ".join(RECORD_COLUMNS), ", ".join("?" * len(RECORD_COLUMNS))),
                    [tuple(r[c] for c in RECORD_COLUMNS) for r in secs])
        db.commit()
        db.close()
        with Archive(work, create=False) as ar:
            c = integrity.check_session(ar, ar.sessions()[0], store)
        got = tally.setdefault(kind, [0, 0])
        got[0] += c.failed
        got[1] += 1

    for r in recs:
        for col in VALUES:
            case("record field edited", (f"UPDATE records SET {col}={col}+1 WHERE seq=?",
                                         (r["seq"],)))
        case("record deleted", ("DELETE FROM records WHERE seq=?", (r["seq"],)))
    for a, b in zip(recs, recs[1:]):
        case("records reordered (neighbours swapped)",
             ("UPDATE records SET seq=-1 WHERE seq=?", (a["seq"],)),
             ("UPDATE records SET seq=? WHERE seq=?", (a["seq"], b["seq"])),
             ("UPDATE records SET seq=? WHERE seq=-1", (b["seq"],)))
    last = recs[-1]
    case("record added", ("INSERT INTO records (session_pk, %s) VALUES (1, %s)" % (
        ", ".join(RECORD_COLUMNS), ", ".join("?" * len(RECORD_COLUMNS))),
        (last["seq"] + 1000, *(last[c] for c in VALUES))))
    case("record count edited", "UPDATE sessions SET n_records=n_records-1")
    for e in evs:
        for col in EVENT_VALUES:
            case("talk-over field edited", (f"UPDATE events SET {col}={col}+1 WHERE seq=?",
                                            (e["seq"],)))
        case("talk-over deleted", ("DELETE FROM events WHERE seq=?", (e["seq"],)))
    h = hdr["header_size"]
    slots = [raw[i:i + 32] for i in range(h, len(raw), 32)]
    for pos in range(len(raw)):
        b = bytearray(raw)
        b[pos] ^= 0x01
        case("blob byte flipped", blob=bytes(b))
    for i, s in enumerate(slots):
        forged = bytearray(s)
        forged[4] ^= 0x01          # t_s / start_f / key id: a field reports read
        forged = fix_crc(forged)
        blob = raw[:h] + b"".join(slots[:i]) + forged + b"".join(slots[i + 1:])
        case("blob slot forged (CRC recomputed)", blob=blob)
        case("blob slot forged, rows rewritten to match", blob=blob, rows_from_blob=True)
        case("blob slot deleted", blob=raw[:h] + b"".join(slots[:i] + slots[i + 1:]))
    for i in range(len(slots) - 1):
        sw = slots[:i] + [slots[i + 1], slots[i]] + slots[i + 2:]
        case("blob slots reordered (neighbours swapped)", blob=raw[:h] + b"".join(sw))
    case("blob seals stripped",
         blob=raw[:h] + b"".join(s for s in slots if s[sl.KIND_OFFSET] != sl.KIND_SEAL))
    seals = [i for i, s in enumerate(slots) if s[sl.KIND_OFFSET] == sl.KIND_SEAL]
    case("blob's last sealed segment cut off", blob=raw[:h] + b"".join(slots[:seals[-2] + 1]))

    total = [0, 0]
    print("%d s call: %d per-second records, %d talk-overs, %d seals, %d bytes" % (
        seconds, len(recs), len(evs), len(seals), len(raw)))
    for kind, (caught, made) in tally.items():
        print("  %-45s %5d of %5d caught" % (kind, caught, made))
        total[0] += caught
        total[1] += made
    print("edited archive rows or blob detected: %d of %d" % tuple(total))
    return total


if __name__ == "__main__":
    os.environ.setdefault("CALLCUE_KEYS", "/nonexistent")
    main()
