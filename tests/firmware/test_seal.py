"""Tamper evidence: session logs sealed under the device's key (firmware/seal.py, the
SEAL record of firmware/LOGFORMAT.md) and the host's verifier (callcue.archive.seal.verify).

The firmware's HMAC equals CPython's hmac; a call logged by the real firmware on the
simulated board under the real MicroPython unix port verifies; every single-byte edit,
a swap, a deletion, an insertion and a forged record with its CRC recomputed each break
the chain; a power cut at every flash write (boot recovery's re-sealing rewrite
among them) leaves logs that verify, never "broken", and a write cut short on a file
system without atomic commits reads "unsealed tail"; boot recovery re-seals what it
rewrites and says so;
readers that do not know seals read the same records; the key is provisioned once over
the protocol and never read back; the frame path still allocates nothing.
"""

import hashlib
import hmac
import struct
import zlib
from array import array

import numpy as np
import pytest

from callcue.analysis import synth
from callcue.archive import seal as hs
from callcue.device.client import Device, DeviceError
from callcue.sim import dongle as simulator
from firmware import logformat as sl
from firmware import seal as fs
from firmware import sessionlog

from .. import mpyrun
from .test_firmware import HEAP_SCRIPT, _event_window
from .test_sessionlog import run_script

KEY = bytes(range(100, 132))      # tests/firmware/mpy/seal_device.py's key
OTHER = bytes(32)


def _crc_fix(slot):
    s = bytearray(slot)
    s[28:32] = bytes(4)
    struct.pack_into("<I", s, 28, zlib.crc32(bytes(s)))
    return bytes(s)


def _rec(t):
    r = array("i", [t, 300 + t, 100, t % 50, t % 5, 400 + t, 2000 + t, 90, t % 4])
    return r


def _statvfs(_path):
    return (4096, 4096, 1000, 1000, 1000, 0, 0, 0, 0, 255)


def _sealed_log(tmp_path, key=KEY, seconds=20, every=5, events_at=(3, 12)):
    """A session written by the store on CPython: batches of `every` seconds, talk-overs
    logged with seconds events_at; returns the file's bytes."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    log = sessionlog.SessionLog(str(tmp_path / "logs"), "cc-test", "0.1.0", 5, key=key,
                        statvfs=_statvfs)
    sid = log.start(1767225600)
    ev = array("i", [10, 90, 1, 95, 120, 0])
    for t in range(seconds):
        n = 2 if t in events_at else 0
        log.append(_rec(t), 0, n, ev, n, False)
        if t % every == every - 1:
            log.sync()
    log.end()
    return (tmp_path / "logs" / ("s%06d.log" % sid)).read_bytes()


def _parse_files(out):
    files = []
    for line in out.splitlines():
        if line.startswith("FILE "):
            _, label, sid, *rest = line.split()
            files.append((label, int(sid), int(rest[0]) if len(rest) > 1 else 0,
                          bytes.fromhex(rest[-1])))
    return files


# ---------------------------------------------------------------------------- HMAC


def test_firmware_hmac_equals_cpython_hmac_under_micropython(micropython):
    out = run_script(micropython, "seal_device.py", "hmac")
    lines = [x.split() for x in out.splitlines() if x.startswith("HMAC ")]
    assert len(lines) == 36
    for _, k, m, tag in lines:
        key = b"" if k == "-" else bytes.fromhex(k)
        msg = b"" if m == "-" else bytes.fromhex(m)
        assert tag == hmac.new(key, msg, hashlib.sha256).hexdigest()
        assert fs.hmac_sha256(key, msg).hex() == tag          # and on CPython


def test_rfc4231_vector():
    # RFC 4231 test case 2
    tag = fs.hmac_sha256(b"Jefe", b"what do ya want for nothing?")
    assert tag.hex() == ("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")


# ---------------------------------------------------------------------------- the chain


def test_sealed_log_verifies_and_old_readers_skip_seals(tmp_path):
    raw = _sealed_log(tmp_path)
    res = hs.verify(raw, KEY)
    assert res.status == hs.VERIFIED and res.ok and res.closed, res
    # 20 seconds, 4 talk-overs, 4 batches + the final seal (end() with nothing waiting)
    assert res.sealed == 24 and res.seals == 5 and res.tail == 0
    hdr, secs, evs = sl.decode_log(raw)
    seconds, events, bad = sl.check_body(raw[64:])
    assert bad == 0 and len(secs) == 20 and len(evs) == 4 and seconds == secs
    unsealed = _sealed_log(tmp_path / "plain", key=None)
    assert hs.verify(unsealed, KEY).status == hs.NOT_SIGNED
    _, secs0, evs0 = sl.decode_log(unsealed)

    def strip(rows):
        return [{k: v for k, v in r.items() if k != "seq"} for r in rows]
    assert strip(secs) == strip(secs0) and strip(evs) == strip(evs0)
    assert hs.verify(raw, OTHER).status == hs.WRONG_KEY


def _variants(raw):
    """(what, bytes) for every tampering the chain must catch."""
    body = raw[64:]
    n = len(body) // 32
    slots = [body[i * 32:(i + 1) * 32] for i in range(n)]
    kinds = [s[25] for s in slots]
    recs = [i for i in range(n) if kinds[i] != sl.KIND_SEAL]
    out = []
    for pos in range(len(raw)):                      # every single-byte edit
        for flip in (0x01, 0x80):
            b = bytearray(raw)
            b[pos] ^= flip
            out.append(("byte %d ^%02x" % (pos, flip), bytes(b)))

    def join(sl_):
        return raw[:64] + b"".join(sl_)
    a, b_ = recs[2], recs[3]
    sw = list(slots)
    sw[a], sw[b_] = sw[b_], sw[a]
    out.append(("swap %d %d" % (a, b_), join(sw)))
    a, b_ = recs[1], recs[-2]                        # across segments
    sw = list(slots)
    sw[a], sw[b_] = sw[b_], sw[a]
    out.append(("swap %d %d" % (a, b_), join(sw)))
    for k in (recs[0], recs[7], recs[-1]):
        out.append(("delete %d" % k, join(slots[:k] + slots[k + 1:])))
    seal_idx = [i for i in range(n) if kinds[i] == sl.KIND_SEAL]
    s0 = seal_idx[0]                                 # a whole segment with its seal
    out.append(("delete segment", join(slots[s0 + 1:])))
    out.append(("delete segment 2", join(slots[:s0 + 1] + slots[seal_idx[1] + 1:])))
    out.append(("delete seal", join(slots[:s0] + slots[s0 + 1:])))
    dup = slots[recs[4]]
    out.append(("insert copy", join(slots[:recs[4]] + [dup] + slots[recs[4]:])))
    # a forged record: a field edited and its CRC recomputed, seq unchanged
    for k in (recs[0], recs[9]):
        f = bytearray(slots[k])
        struct.pack_into("<H", f, 8, 999)             # rep_active_ms
        forged = list(slots)
        forged[k] = _crc_fix(f)
        out.append(("forged %d" % k, join(forged)))
    # a forged record inserted with a fitting seq everywhere after it renumbered
    ins = bytearray(slots[recs[5]])
    struct.pack_into("<I", ins, 4, 777)
    new = slots[:recs[5] + 1] + [_crc_fix(ins)] + slots[recs[5] + 1:]
    renum = []
    for i, s in enumerate(new):
        t = bytearray(s)
        struct.pack_into("<I", t, 0, i)
        renum.append(_crc_fix(t))
    out.append(("insert renumbered", join(renum)))
    # the header forged: another device id, its CRC recomputed
    h = bytearray(raw[:64])
    h[20:27] = b"cc-evil"
    struct.pack_into("<I", h, 60, 0)
    struct.pack_into("<I", h, 60, zlib.crc32(bytes(h)))
    out.append(("header forged", bytes(h) + body))
    return out


def test_every_edit_reorder_deletion_insertion_and_forgery_breaks_the_chain(tmp_path):
    raw = _sealed_log(tmp_path)
    variants = _variants(raw)
    assert len(variants) > 2 * len(raw)
    missed = []
    for what, data in variants:
        res = hs.verify(data, KEY)
        if res.status in (hs.VERIFIED, hs.RECOVERED):
            missed.append(what)
        elif what.startswith(("swap", "delete", "insert", "forged", "header")):
            assert res.status == hs.BROKEN, (what, res)
    assert not missed, missed[:10]
    # each diagnosis names what it can see
    by = dict(variants)
    assert "reordered" in hs.verify(by["swap 2 3"], KEY).message
    assert "deleted" in hs.verify(by["delete 0"], KEY).message
    assert "inserted" in hs.verify(by["insert copy"], KEY).message
    assert "forged" in hs.verify(by["forged 0"], KEY).message
    first_seal = min(i for i in range(len(raw) // 32 - 2) if raw[64 + 32 * i + 25] == 2)
    assert hs.verify(by["forged 0"], KEY).broken_at == first_seal


def test_single_byte_edits_are_broken_or_an_honest_tail(tmp_path):
    """A byte edit is BROKEN, except in the 64-byte header's own CRC-checked fields
    (still BROKEN: the first seal covers the header) and the last (final) seal, whose
    CRC then fails: that reads as a file the device did not close, with every record
    before it still verified (nothing of the records' content can change that way)."""
    raw = _sealed_log(tmp_path)
    last = len(raw) - 32
    for pos in range(len(raw)):
        b = bytearray(raw)
        b[pos] ^= 0x04
        res = hs.verify(bytes(b), KEY)
        if pos >= last:
            assert res.status in (hs.BROKEN, hs.UNSEALED_TAIL), (pos, res)
            assert res.sealed <= 24
        else:
            assert res.status == hs.BROKEN, (pos, res)


def test_torn_tail_is_not_tampering(tmp_path):
    """A write cut short on a file system without atomic commits: the records after
    the last seal are an unsealed tail, counted, not a tamper verdict."""
    raw = _sealed_log(tmp_path)
    body = raw[64:]
    seals = [i for i in range(len(body) // 32) if body[i * 32 + 25] == sl.KIND_SEAL]
    cut = 64 + 32 * (seals[2] + 1)                   # just after the third seal
    for extra, n in ((32, 1), (96, 3), (100, 4)):
        res = hs.verify(raw[:cut + extra], KEY)
        assert res.status == hs.UNSEALED_TAIL and res.tail == n, res
        assert "unsealed tail of %d records" % n in res.message
    res = hs.verify(raw[:cut], KEY)
    assert res.status == hs.UNCLOSED and res.ok
    # records appended after the seal that closed the session are no power cut
    extra = _crc_fix(struct.pack("<I", 999) + bytes(28))
    assert hs.verify(raw + extra, KEY).status == hs.BROKEN


def test_call_parts_each_verify(tmp_path):
    log = sessionlog.SessionLog(str(tmp_path / "logs"), "cc-test", "0.1.0", 5, key=KEY,
                        statvfs=_statvfs, part_bytes=4096)
    log.start(1767225600)
    for t in range(300):
        log.append(_rec(t), 0, 0, None, 0, False)
        if t % 30 == 29:
            log.sync()
    log.end()
    files = sorted((tmp_path / "logs").glob("s*.log"))
    assert len(files) >= 2 and log.parts >= 1
    results = [hs.verify(p.read_bytes(), KEY) for p in files]
    assert [r.status for r in results[:-1]] == [hs.UNCLOSED] * (len(files) - 1)
    assert results[-1].status == hs.VERIFIED
    assert sum(r.sealed for r in results) == 300


# ---------------------------------------------------------------------------- device side


def test_power_cut_at_every_write_leaves_a_verifiable_log(micropython):
    """The sealed workload cut at every flash write of a LittleFS image, its first
    writes those of boot recovery re-sealing a damaged sealed session: after the
    reboot's recover() every file verifies (a cut one is unclosed: its seals hold, the
    records in RAM are gone; the damaged one is recovered), never broken, and holds
    every committed record."""
    out = run_script(micropython, "seal_device.py", "powercut", timeout=600)
    assert "FAIL" not in out
    writes = int(out.split("writes ")[1].split()[0])
    files = _parse_files(out)
    dry = {f[1]: hs.verify(f[3], KEY).status for f in files if f[0] == "dry"}
    assert dry == {1: hs.RECOVERED, 2: hs.VERIFIED, 3: hs.VERIFIED}, dry
    cuts = {int(f[0]) for f in files if f[0] != "dry"}
    assert writes >= 20 and cuts == set(range(1, writes + 1))
    seen = {hs.VERIFIED: 0, hs.UNCLOSED: 0, hs.RECOVERED: 0}
    for label, sid, committed, raw in files:
        if label == "dry":
            continue
        res = hs.verify(raw, KEY)
        if sid == 1:                                     # re-sealed by either boot
            assert res.status == hs.RECOVERED and res.sealed == 14, (label, res)
        else:
            assert res.status in (hs.VERIFIED, hs.UNCLOSED, hs.NOT_SIGNED), (label, sid, res)
        if res.status == hs.NOT_SIGNED:                  # header only: nothing committed
            assert res.records == 0 and committed == 0, (label, sid, res)
            continue
        seen[res.status] += 1
        assert res.sealed >= committed, (label, sid, committed, res)
    assert seen[hs.VERIFIED] > 0 and seen[hs.UNCLOSED] > 0, seen
    assert seen[hs.RECOVERED] == writes


def test_recovery_reseals_and_says_so(micropython):
    """Boot recovery with the key: a flipped bit in a record or a seal costs that slot,
    and the rest of its segment is re-sealed (SEAL_RESEALED: "recovered by the device"),
    later segments keep verifying; a rebuilt header likewise; a torn tail is cut and the
    file verifies as it was. Without the key recovery copies the seals as they were, and
    the segment it dropped a record from shows as broken."""
    out = run_script(micropython, "seal_device.py", "recover")
    files = {f[0]: f[3] for f in _parse_files(out)}
    counters = {x.split()[1]: tuple(map(int, x.split()[2:]))
                for x in out.splitlines() if x.startswith("COUNTERS ")}
    want = {"record": (1, 1, 0), "seal": (1, 1, 0), "header": (0, 1, 1), "torn": (1, 0, 0),
            "two": (2, 2, 0)}
    for case, (dropped, resealed, rebuilt) in want.items():
        assert counters[case] == (dropped, resealed, rebuilt), (case, counters[case])
        res = hs.verify(files[case], KEY)
        hdr, secs, evs = sl.decode_log(files[case])
        if case == "torn":
            assert res.status == hs.UNCLOSED, res    # the final seal was what was torn
            assert res.recovered == []
        else:
            assert res.status == hs.RECOVERED and res.closed, (case, res)
            assert len(res.recovered) == resealed and "recovered by the device" in res.message
        assert res.sealed == len(secs) + len(evs)
    # without the key: the seals are copied, the damaged segment no longer matches
    for case in ("record", "seal", "two"):
        res = hs.verify(files[case + "-nokey"], KEY)
        assert res.status == hs.BROKEN and "deleted" in res.message, (case, res)
        assert counters[case + "-nokey"][1] == 0


def _play(pcm, storage):
    dongle = simulator.VirtualDongle(rep=pcm[:, 0], cust=pcm[:, 1], storage=storage,
                                     link=False)
    _out, err = dongle.proc.communicate(b"", timeout=300)
    assert dongle.proc.returncode == 0, err.decode()[-2000:]
    dongle.close()


def test_key_provisioned_over_the_port_then_a_call_is_sealed(micropython, tmp_path):
    """set_key over the serial protocol (accepted once; replaced only with proof of the
    current key; never read back); then a call played through the real firmware (App,
    chores, SessionLog) under MicroPython is sealed, verifies, and decodes to the same
    records as the same call logged without a key."""
    import soundfile
    flash = tmp_path / "flash"
    wav = tmp_path / "quiet.wav"
    soundfile.write(wav, np.zeros((8000, 2), np.int16), 8000, subtype="PCM_16")
    first = bytes(range(1, 33))
    replies = []
    with Device.open("sim://%s?speed=0&storage=%s" % (wav, flash)) as dev:
        info = dev.info()
        assert info["key_set"] is False and info["key_id"] is None
        r = dev.request("set_key", key=first.hex())
        assert r == {"key_set": True, "key_id": hs.key_id(first).hex()}
        for args in ({"key": KEY.hex()}, {"key": KEY.hex(), "proof": bytes(32).hex()},
                     {"key": KEY.hex(), "proof": fs.rekey_proof(KEY, KEY).hex()}):
            with pytest.raises(DeviceError) as e:
                dev.request("set_key", **args)
            assert e.value.code == "MISMATCH"
        with pytest.raises(DeviceError) as e:
            dev.request("set_key", key="AB" * 32)
        assert e.value.code == "BAD_ARGS" and "AB" not in e.value.message
        r = dev.request("set_key", key=KEY.hex(), proof=fs.rekey_proof(first, KEY).hex())
        assert r["key_id"] == hs.key_id(KEY).hex()
        replies.append(repr(dev.info()))
        replies.append(repr(dev.get_config()))
        assert dev.info()["key_id"] == hs.key_id(KEY).hex()
        dev.reboot()
    assert (flash / "key.bin").read_bytes() == KEY
    for text in replies:
        assert KEY.hex() not in text and first.hex() not in text
    pcm, _ = synth.render("rep-interrupts", seed=1, duration_s=30.0)
    _play(pcm, flash)
    _play(pcm, tmp_path / "plain")
    sealed = sorted((flash / "logs").glob("s*.log"))
    plain = sorted((tmp_path / "plain" / "logs").glob("s*.log"))
    assert len(sealed) == len(plain) == 1
    raw = sealed[0].read_bytes()
    res = hs.verify(raw, KEY)
    assert res.status == hs.VERIFIED, res
    assert res.seals >= 2                          # commits during the call, and its end
    # every byte of the firmware's log edited: broken, or (in the final seal, whose CRC
    # then fails) its records no longer proven
    for pos in range(len(raw)):
        b = bytearray(raw)
        b[pos] ^= 0x20
        r2 = hs.verify(bytes(b), KEY)
        if pos < len(raw) - 32:
            assert r2.status == hs.BROKEN, (pos, r2)
        else:
            assert r2.status in (hs.BROKEN, hs.UNSEALED_TAIL) and r2.sealed <= res.sealed
    _, secs, evs = sl.decode_log(raw)
    _, secs0, evs0 = sl.decode_log(plain[0].read_bytes())

    def strip(rows):
        return [{k: v for k, v in r.items() if k != "seq"} for r in rows]
    assert strip(secs) == strip(secs0) and strip(evs) == strip(evs0) and len(evs) >= 1
    assert hs.verify(plain[0].read_bytes(), KEY).status == hs.NOT_SIGNED


@pytest.mark.parametrize("scenario", ["rep-interrupts"])
def test_sealing_keeps_the_frame_path_allocation_free(micropython, tmp_path, scenario):
    """test_firmware's heap_lock loop with a key: the frames allocate nothing; the
    seals are made in the chores (after the frame, heap free)."""
    pcm, _ = synth.render(scenario, seed=0, duration_s=40.0)
    pcm = _event_window(pcm)
    raw = tmp_path / "frames.raw"
    simulator.write_frames(pcm[:, 0], pcm[:, 1], raw)
    script = tmp_path / "heap.py"
    old = 'store = SessionLog(root + "/logs", "cc-test", "0.1.0", config.cal_hash())'
    assert old in HEAP_SCRIPT
    text = HEAP_SCRIPT.replace(old, old[:-1] + ", key=bytes(range(32)))\n"
                               "import firmware.app\nfirmware.app.SYNC_MAX_S = 3")
    text += ('\nstore.end()\nimport os\nfor n in os.listdir(root + "/logs"):\n'
             '    print("FILE", n, open(root + "/logs/" + n, "rb").read().hex())\n')
    script.write_text(text)
    out = mpyrun.run(micropython, script, mpyrun.ROOT, raw, 1)
    words = out.split()
    assert words[:2] == ["frames", "1000"] and words[10:12] == ["alloc", "0"], out
    assert int(words[13]) >= 2                     # chores ran, commits among them
    logs = [x.split() for x in out.splitlines() if x.startswith("FILE s")]
    assert logs
    res = hs.verify(bytes.fromhex(logs[0][2]), bytes(range(32)))
    assert res.status == hs.VERIFIED and res.seals >= 2, res


def test_host_pulls_exports_and_reports_sealed_logs_as_before(micropython, tmp_path, callcue):
    """A unit with a key: `logs pull`, `logs export` and `report` read its sealed logs as
    they read unsealed ones (seals are skipped), and the archived blob verifies."""
    import csv
    import sqlite3

    import soundfile

    from ..host_sim import PtySim

    flash = tmp_path / "flash"
    flash.mkdir()
    (flash / "key.bin").write_bytes(KEY)
    pcm, _ = synth.render("rep-interrupts", seed=2, duration_s=20.0)
    pcm = np.concatenate([pcm, np.zeros((32 * 8000, 2), np.int16)])
    wav = tmp_path / "call.wav"
    soundfile.write(wav, pcm, 8000, subtype="PCM_16")
    sim = PtySim(wav, "--speed", "0", "--storage", flash)
    try:
        sim.wait_done()
        with Device.open(sim.port) as dev:
            assert dev.info()["key_id"] == hs.key_id(KEY).hex()
        archive = tmp_path / "archive"
        r = callcue("logs", "pull", "--port", sim.port, "--archive", archive)
        assert r.returncode == 0, r.stderr
        assert "1 new" in r.stdout
    finally:
        sim.close()
    db = sqlite3.connect(archive / "callcue.sqlite")
    (pk, raw), = db.execute("SELECT pk, raw FROM sessions").fetchall()
    res = hs.verify(raw, KEY)
    assert res.status == hs.VERIFIED and res.seals >= 2, res
    _, secs, evs = sl.decode_log(raw)
    n_rec = db.execute("SELECT COUNT(*) FROM records WHERE session_pk=?", (pk,)).fetchone()[0]
    n_evt = db.execute("SELECT COUNT(*) FROM events WHERE session_pk=?", (pk,)).fetchone()[0]
    assert (n_rec, n_evt) == (len(secs), len(evs)) and len(secs) >= 20 and len(evs) >= 1
    out = tmp_path / "calls.csv"
    r = callcue("logs", "export", "--archive", archive, "--format", "csv", "--out", out)
    assert r.returncode == 0, r.stderr
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(secs) + len(evs)
    html = tmp_path / "r.html"
    r = callcue("report", "--archive", archive, "--out", html)
    assert r.returncode == 0, r.stderr
    assert html.stat().st_size > 1000
