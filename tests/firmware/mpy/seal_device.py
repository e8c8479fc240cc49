"""Seals on the device side, under the MicroPython unix port (tests/firmware/test_seal.py checks
what this prints with CPython's hmac and callcue.archive.seal.verify).

    micropython -X heapsize=16M seal_device.py REPO hmac
        HMAC key msg tag: firmware/seal.py's HMAC-SHA256 over assorted keys and messages
    micropython -X heapsize=16M seal_device.py REPO powercut
        a sealed workload on a LittleFS image in RAM, cut at EVERY flash write; after each
        cut a copy is mounted as a fresh boot would, recover() runs with the key, and
        every session file is printed: FILE cut sid committed hex (committed: records
        whose append() returned True before the cut); session 1 is a sealed one with a
        flipped bit, so the cuts also land in recovery's re-sealing rewrite
    micropython -X heapsize=16M seal_device.py REPO recover
        sealed sessions damaged on flash (a flipped bit in a record, in a seal, in the
        header; a torn tail), recovered with the key and without it:
        FILE case sid 0 hex, then COUNTERS case dropped resealed rebuilt
"""

import sys

sys.path.insert(0, sys.argv[1])

import gc  # noqa: E402
import os  # noqa: E402
from array import array  # noqa: E402
from binascii import hexlify  # noqa: E402

from sessionlog_bdev import PowerCut, fresh_image, mount, umount  # noqa: E402

from dsp.record import RECORD_FIELDS  # noqa: E402
from firmware import sessionlog as sl  # noqa: E402
from firmware.seal import hmac_sha256  # noqa: E402
from firmware.sessionlog import SessionLog  # noqa: E402

KEY = bytes(range(100, 132))
ROOT = "/flash/logs"


def rec(t):
    r = array("i", bytes(4 * len(RECORD_FIELDS)))
    r[0] = t
    r[1] = 300 + t % 500
    r[2] = 100 + 7 * t % 400
    r[3] = t % 50
    r[4] = t % 5
    r[5] = 400 + t
    r[6] = 2000 + t
    r[7] = 90
    r[8] = t % 4
    return r


EV = array("i", [1000, 1090, 1, 1100, 1150, 0])


def dump(label, root=ROOT):
    for name in sorted(os.listdir(root)):
        sid = sl._session_id(name)
        if sid < 0:
            continue
        with open(root + "/" + name, "rb") as f:
            data = f.read()
        print("FILE", label, sid, hexlify(data).decode())


def hmac_vectors():
    msgs = [b"", b"abc", bytes(range(256)) * 3, b"x" * 63, b"y" * 64, b"z" * 65]
    keys = [b"", b"k", KEY, bytes(64), bytes(range(65)), b"K" * 131]
    for k in keys:
        for m in msgs:
            print("HMAC", hexlify(k).decode() or "-", hexlify(m).decode() or "-",
                  hexlify(hmac_sha256(k, m)).decode())


def workload(log, committed):
    """Two calls: batches held in RAM then synced, then records committed one by one,
    talk-overs among them. committed: sid -> records (slots) append() committed."""
    log.recover()
    sid = log.start(1767225600)
    committed[sid] = 0
    held = 0
    for t in range(14):
        n_ev = 2 if t == 5 else 0
        log.append(rec(t), 0, n_ev, EV, n_ev, False)
        held += 1 + n_ev
        if t % 5 == 4:
            if log.sync():
                committed[sid] += held
            held = 0
    log.end()
    committed[sid] += held
    sid = log.start(1767225700)
    committed[sid] = 0
    for t in range(6):
        if log.append(rec(100 + t)):
            committed[sid] += 1
    log.end()


def damaged_sealed_session():
    """Session 1 on the mounted image: sealed, closed, then a bit flipped in a record of
    its second segment, so the workload's recover() rewrites and re-seals it."""
    os.mkdir(ROOT)
    log = SessionLog(ROOT, "cc-test", "fw-1", 7, key=KEY)
    sid = log.start(1767225500)
    for t in range(15):
        log.append(rec(t), 0, 0, None, 0, False)
        if t % 5 == 4:
            log.sync()
    log.end()
    path = ROOT + "/s%06d.log" % sid
    with open(path, "rb") as f:
        raw = bytearray(f.read())
    raw[64 + 32 * 8 + 6] ^= 0x40
    with open(path, "wb") as f:
        f.write(raw)


def powercut():
    pristine = fresh_image(48)
    mount(pristine)
    damaged_sealed_session()
    umount()
    # the dry run counts the writes a cut can hit
    data = bytearray(pristine)
    bdev = mount(data)
    pre = bdev.writes
    workload(SessionLog(ROOT, "cc-test", "fw-1", 7, key=KEY), {})
    n_writes = bdev.writes - pre
    dump("dry")
    umount()
    print("writes", n_writes)
    for n in range(1, n_writes + 1):
        data = bytearray(pristine)
        bdev = mount(data)
        committed = {}
        log = None
        bdev.arm(n, 7919 + n)
        try:
            log = SessionLog(ROOT, "cc-test", "fw-1", 7, key=KEY)
            workload(log, committed)
            print("FAIL cut %d: no cut" % n)
        except PowerCut:
            bdev.off()
            if log is not None and log._f is not None:
                try:
                    log._f.close()
                except BaseException:
                    pass
        umount()
        mount(bytearray(data))
        boot = SessionLog(ROOT, "cc-test", "fw-1", 7, key=KEY)
        boot.recover()
        for name in sorted(os.listdir(ROOT)):
            sid = sl._session_id(name)
            if sid >= 0:
                with open(ROOT + "/" + name, "rb") as f:
                    raw = f.read()
                print("FILE", n, sid, committed.get(sid, 0), hexlify(raw).decode())
        umount()
        gc.collect()


def recover():
    base = fresh_image(48)
    cases = (
        # (case, what to do to the file of 3 synced batches of 5 seconds + 2 talk-overs)
        ("record", 64 + 32 * 7 + 9),      # a bit in a record of the second segment
        ("seal", 64 + 32 * 5 + 12),       # a bit in the first seal's tag
        ("header", 20),                   # a bit in the header's device id
        ("torn", -20),                    # the last 20 bytes lost
        ("two", 64 + 32 * 1 + 3),         # a record in the first segment, and one more
    )
    for use_key in (True, False):
        for case, where in cases:
            data = bytearray(base)
            mount(data)
            os.mkdir(ROOT)
            log = SessionLog(ROOT, "cc-test", "fw-1", 7, key=KEY)
            sid = log.start(1767225600)
            for t in range(15):
                n_ev = 2 if t == 7 else 0
                log.append(rec(t), 0, n_ev, EV, n_ev, False)
                if t % 5 == 4:
                    log.sync()
            log.end()
            path = ROOT + "/s%06d.log" % sid
            with open(path, "rb") as f:
                raw = bytearray(f.read())
            if where < 0:
                raw = raw[:where]
            else:
                raw[where] ^= 0x10
                if case == "two":
                    raw[64 + 32 * 13 + 5] ^= 0x01
            with open(path, "wb") as f:
                f.write(raw)
            umount()
            mount(data)
            boot = SessionLog(ROOT, "cc-test", "fw-1", 7, key=KEY if use_key else None)
            dropped = boot.recover()
            label = case + ("" if use_key else "-nokey")
            dump(label)
            print("COUNTERS", label, dropped, boot.resealed, boot.headers_rebuilt)
            umount()


what = sys.argv[2]
if what == "hmac":
    hmac_vectors()
elif what == "powercut":
    powercut()
elif what == "recover":
    recover()
