"""The host's key store and `callcue device key` against the virtual dongle: a key is
provisioned once, kept outside the archive (mode 0600), replaced only with --rotate
(the old one kept to check old logs); a key the device refuses is never kept, and one it
accepted is never lost, even when the answer to set_key does not arrive."""

import os
import stat

import numpy as np
import pytest
import soundfile

from callcue.archive import keys as hk
from callcue.archive.provision import provision
from callcue.device.client import Device, DeviceError
from callcue.errors import CommandError


@pytest.fixture
def quiet(tmp_path):
    wav = tmp_path / "quiet.wav"
    soundfile.write(wav, np.zeros((8000, 2), np.int16), 8000, subtype="PCM_16")
    return wav


def _url(wav, flash):
    return "sim://%s?speed=0&storage=%s" % (wav, flash)


def test_device_key_provisions_once_and_rotates(tmp_path, quiet, callcue):
    flash, store = tmp_path / "flash", tmp_path / "keys"
    r = callcue("device", "key", "--port", _url(quiet, flash), "--keys", store)
    assert r.returncode == 0, r.stderr
    (f,) = store.iterdir()
    assert f.name == "cc-sim-0001" and stat.S_IMODE(f.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.stat().st_mode) == 0o700
    key = hk.KeyStore(store).current("cc-sim-0001")
    assert (flash / "key.bin").read_bytes() == key
    # again: nothing changes; another store cannot take the device over
    r = callcue("device", "key", "--port", _url(quiet, flash), "--keys", store)
    assert r.returncode == 0 and "already has key" in r.stdout
    r = callcue("device", "key", "--port", _url(quiet, flash), "--keys", tmp_path / "other")
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "not in" in r.stderr
    assert not (tmp_path / "other").exists()
    # CALLCUE_KEYS names the store too; --rotate keeps the old key after the new
    env = {**os.environ, "CALLCUE_KEYS": str(store)}
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-m", "callcue", "device", "key", "--rotate",
                        "--port", _url(quiet, flash)], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    ks = hk.KeyStore(store).keys("cc-sim-0001")
    assert [k for k, _ in ks][0] == key and len(ks) == 2
    assert (flash / "key.bin").read_bytes() == ks[1][0]
    assert list(store.iterdir()) == [f]


class _Race:
    """A real device whose set_key is preceded by another host's (so it refuses ours),
    or whose answer to set_key is lost (it arrives, the host never reads it)."""

    def __init__(self, dev, mode):
        self.dev, self.mode = dev, mode

    def __getattr__(self, name):
        return getattr(self.dev, name)

    def request(self, cmd, **args):
        if cmd == "set_key" and self.mode == "other-host-first":
            self.dev.request("set_key", key=bytes(range(32)).hex())
        if cmd == "set_key" and self.mode in ("lost-answer", "gone"):
            self.dev.send(cmd, **args)
            if self.mode == "gone":
                raise OSError(5, "Input/output error")
            raise DeviceError("TIMEOUT", "no reply to set_key")
        return self.dev.request(cmd, **args)


def test_refused_key_is_not_kept_and_accepted_key_is_never_lost(tmp_path, quiet):
    store = hk.KeyStore(tmp_path / "keys")
    with Device.open(_url(quiet, tmp_path / "f1")) as dev:
        with pytest.raises(CommandError) as e:
            provision(_Race(dev, "other-host-first"), store, say=lambda m: None)
        assert "refused" in e.value.reason and "MISMATCH" in e.value.reason
    assert not store.folder.exists() or not any(store.folder.iterdir())
    assert store.keys("cc-sim-0001") == [] and store.pending("cc-sim-0001") is None

    with Device.open(_url(quiet, tmp_path / "f2")) as dev:   # the answer is lost
        _, kid = provision(_Race(dev, "lost-answer"), store, say=lambda m: None)
        assert dev.info()["key_id"] == kid
    assert hk.key_id(store.current("cc-sim-0001")) == kid
    assert store.pending("cc-sim-0001") is None
    assert (tmp_path / "f2" / "key.bin").read_bytes() == store.current("cc-sim-0001")

    store3 = hk.KeyStore(tmp_path / "keys3")                  # the port goes away
    with Device.open(_url(quiet, tmp_path / "f3")) as dev:
        with pytest.raises(CommandError) as e:
            provision(_Race(dev, "gone"), store3, say=lambda m: None)
        assert "pending" in e.value.reason
        dev.ping()                                # (the set_key got there meanwhile)
    assert store3.keys("cc-sim-0001") == [] and store3.pending("cc-sim-0001") is not None
    said = []
    with Device.open(_url(quiet, tmp_path / "f3")) as dev:   # the next run settles it
        provision(dev, store3, say=said.append)
    assert "accepted" in said[0] and "already has" in said[1]
    assert (tmp_path / "f3" / "key.bin").read_bytes() == store3.current("cc-sim-0001")
    assert store3.pending("cc-sim-0001") is None


def test_key_file_checks(tmp_path):
    store = hk.KeyStore(tmp_path / "k")
    with pytest.raises(CommandError):
        store.path("../etc")
    store.folder.mkdir()
    (store.folder / "cc-1").write_text("not hex\n")
    with pytest.raises(CommandError) as e:
        store.keys("cc-1")
    assert "not a key file" in e.value.reason


# ------------------------------------------------------------ pull, verify, report


@pytest.fixture(scope="module")
def keyed_call(tmp_path_factory):
    """A keyed virtual dongle's call (provisioned with `callcue device key`, then played
    on the same flash with `callcue sim` on a pty) pulled with the key: (archive folder,
    key store, the pull's output, the raw log)."""
    import sqlite3

    from callcue.device.client import Device

    from ..conftest import run_callcue
    from ..host_sim import PtySim

    tmp = tmp_path_factory.mktemp("keyed")
    quiet = tmp / "quiet.wav"
    soundfile.write(quiet, np.zeros((8000, 2), np.int16), 8000, subtype="PCM_16")
    flash, store = tmp / "flash", tmp / "keys"
    r = run_callcue("device", "key", "--port", _url(quiet, flash), "--keys", store)
    assert r.returncode == 0, r.stderr
    from callcue.analysis import synth
    pcm, _ = synth.render("rep-interrupts", seed=2, duration_s=20.0)
    pcm = np.concatenate([pcm, np.zeros((2 * 8000, 2), np.int16)])
    wav = tmp / "call.wav"
    soundfile.write(wav, pcm, 8000, subtype="PCM_16")
    sim = PtySim(wav, "--speed", "0", "--storage", flash)
    try:
        sim.wait_done()
        with Device.open(sim.port) as dev:
            assert dev.info()["key_set"] is True
        archive = tmp / "archive"
        r = run_callcue("logs", "pull", "--port", sim.port, "--archive", archive,
                        "--keys", store)
        assert r.returncode == 0, r.stderr
    finally:
        sim.close()
    (raw,) = sqlite3.connect(archive / "callcue.sqlite").execute(
        "SELECT raw FROM sessions").fetchone()
    return archive, store, r.stdout, bytes(raw)


def _fix_crc(slot):
    import zlib
    b = bytearray(slot)
    b[28:32] = bytes(4)
    b[28:32] = zlib.crc32(b).to_bytes(4, "little")
    return bytes(b)


def _forged(raw):
    """The log with a record's rep talk time changed and its CRC recomputed."""
    from firmware import logformat as sl
    b = bytearray(raw)
    for at in range(sl.HEADER_SIZE, len(b), 32):
        if b[at + 25] == 0 and int.from_bytes(b[at + 8:at + 10], "little") > 0:
            b[at + 8:at + 10] = (0).to_bytes(2, "little")
            b[at:at + 32] = _fix_crc(b[at:at + 32])
            return bytes(b)
    raise AssertionError("no record with rep speech")


def _redecode(raw):
    """What a forger must also write into the rows to match a forged blob."""
    from firmware import logformat as sl
    return sl.decode_log(raw)


# (name, SQL run on the archive, or a function of the raw blob): each one an edit a
# supervisor's reports would show
TAMPER = [
    ("talk ratio edited", "UPDATE records SET rep_active_ms = 0 WHERE seq = "
     "(SELECT MIN(seq) FROM records WHERE rep_active_ms > 0)"),
    ("talk-over's interrupter edited", "UPDATE events SET interrupter = 1 - interrupter"),
    ("talk-over deleted", "DELETE FROM events"),
    ("talk-over count edited", "UPDATE records SET talkovers = 0"),
    ("record deleted", "DELETE FROM records WHERE seq = (SELECT MAX(seq) FROM records)"),
    ("first record deleted", "DELETE FROM records WHERE seq = (SELECT MIN(seq) FROM records)"),
    ("records reordered", ("UPDATE records SET seq = -1 WHERE seq = 3",
                           "UPDATE records SET seq = 3 WHERE seq = 4",
                           "UPDATE records SET seq = 4 WHERE seq = -1")),
    ("record count edited", "UPDATE sessions SET n_records = n_records - 1"),
    ("blob forged (CRC recomputed)", _forged),
    ("blob and rows forged", "both"),
    ("seals stripped", "strip"),
]


def _tamper(db, how, raw, param="?"):
    """Apply one TAMPER entry through the DB-API connection db."""
    from firmware import logformat as sl
    if isinstance(how, str) and how not in ("both", "strip"):
        how = (how,)
    if isinstance(how, tuple):
        for stmt in how:
            db.execute(stmt)
        return
    if how == "strip":
        body = [raw[i:i + 32] for i in range(sl.HEADER_SIZE, len(raw), 32)]
        new = raw[:sl.HEADER_SIZE] + b"".join(s for s in body if s[25] != sl.KIND_SEAL)
    else:
        new = _forged(raw)
    db.execute(f"UPDATE sessions SET raw = {param}", (new,))
    if how == "both":
        _, secs, _evs = _redecode(new)
        db.execute("DELETE FROM records")
        from callcue.archive.store import RECORD_COLUMNS
        for r in secs:
            db.execute("INSERT INTO records (session_pk, %s) VALUES (1, %s)" % (
                ", ".join(RECORD_COLUMNS), ", ".join([param] * len(RECORD_COLUMNS))),
                tuple(r[c] for c in RECORD_COLUMNS))


def test_keyed_call_pulled_and_verified(keyed_call, callcue, tmp_path):
    archive, store, out, raw = keyed_call
    assert "seal: verified" in out and "warning" not in out
    import sqlite3
    db = sqlite3.connect(archive / "callcue.sqlite")
    assert db.execute("SELECT seal FROM sessions").fetchone()[0] == "verified"
    r = callcue("logs", "verify", "--archive", archive, "--keys", store)
    assert r.returncode == 0, r.stderr
    assert "cc-sim-0001 session 1 (archive row 1): verified" in r.stdout
    assert "1 verified, 0 not signed, 0 not verified" in r.stdout
    html, csv_out = tmp_path / "r.html", tmp_path / "r.csv"
    r = callcue("report", "--archive", archive, "--keys", store, "--out", html, "--csv",
                csv_out)
    assert r.returncode == 0, r.stderr
    assert '<td class="mark verified"' in html.read_text()
    assert ",verified,verified: " in csv_out.read_text()
    # no key known: listed, not a failure; the report says "not signed"
    r = callcue("logs", "verify", "--archive", archive, "--keys", tmp_path / "none")
    assert r.returncode == 0 and "not signed: no key known for cc-sim-0001" in r.stdout
    r = callcue("report", "--archive", archive, "--keys", tmp_path / "none", "--out", html)
    assert r.returncode == 0 and '<td class="mark not-signed"' in html.read_text()
    # another device's key under this id: the seal is under a key we do not hold
    (tmp_path / "wrong").mkdir()
    (tmp_path / "wrong" / "cc-sim-0001").write_text("%s 1\n" % (bytes(32).hex()))
    r = callcue("logs", "verify", "--archive", archive, "--keys", tmp_path / "wrong")
    assert r.returncode == 1 and "sealed under key" in r.stdout


@pytest.mark.parametrize("name,how", TAMPER, ids=[t[0] for t in TAMPER])
def test_logs_verify_catches_every_edit(keyed_call, callcue, tmp_path, name, how):
    import shutil
    import sqlite3
    archive, store, _out, raw = keyed_call
    copy = tmp_path / "archive"
    shutil.copytree(archive, copy)
    db = sqlite3.connect(copy / "callcue.sqlite")
    _tamper(db, how, raw)
    db.commit()
    db.close()
    before = (copy / "callcue.sqlite").read_bytes()
    r = callcue("logs", "verify", "--archive", copy, "--keys", store)
    assert r.returncode == 1, (name, r.stdout)
    assert "cc-sim-0001 session 1 (archive row 1): not verified" in r.stdout
    assert "not verified: cc-sim-0001 session 1" in r.stderr
    html, csv_out = tmp_path / "r.html", tmp_path / "r.csv"
    r = callcue("report", "--archive", copy, "--keys", store, "--out", html, "--csv", csv_out)
    assert r.returncode == 0, r.stderr
    assert '<td class="mark not-verified"' in html.read_text()
    assert ",not verified," in csv_out.read_text()
    assert (copy / "callcue.sqlite").read_bytes() == before          # both read-only


def test_logs_verify_on_postgresql(keyed_call, callcue, pg_server):
    """The same check on a PostgreSQL archive: the pulled call copied there with its
    verdict (`archive copy`), then a row edited there."""
    from callcue.archive.store import Archive
    archive, store, _out, raw = keyed_call
    url = pg_server.create_database("keyed_verify")
    r = callcue("archive", "copy", archive, url)
    assert r.returncode == 0, r.stderr
    with Archive(url, create=False) as ar:
        assert ar.seal(1)[0] == "verified"
    r = callcue("logs", "verify", "--archive", url, "--keys", store)
    assert r.returncode == 0 and ": verified:" in r.stdout, r.stdout + r.stderr
    import psycopg
    with psycopg.connect(url, autocommit=True) as db:
        _tamper(db, TAMPER[0][1], raw, param="%s")
    r = callcue("logs", "verify", "--archive", url, "--keys", store)
    assert r.returncode == 1 and "rep_active_ms" in r.stdout


def test_pull_warns_of_unsigned_and_wrong_key_sessions(tmp_path, callcue):
    """A call recorded before the dongle had a key, pulled after it got one: archived
    with a warning line (not signed, from a device that has a key), and `logs verify`
    lists it as not signed (it started before the key was set). Pulled with a store
    holding another key for the device: a warning that its key is not in the store."""
    from ..host_sim import PtySim, write_call

    wav = write_call(tmp_path / "call.wav", seconds=20.0)
    store = tmp_path / "keys"
    sim = PtySim(wav, "--speed", "0", "--storage", tmp_path / "flash")
    try:
        sim.wait_done()
        r = callcue("device", "key", "--port", sim.port, "--keys", store)
        assert r.returncode == 0, r.stderr
        r = callcue("logs", "pull", "--port", sim.port, "--archive", tmp_path / "a",
                    "--keys", store)
        assert r.returncode == 0, r.stderr
        warn = [x for x in r.stdout.splitlines() if "warning" in x]
        assert len(warn) == 1 and "session 1: warning: seal not_signed" in warn[0]
        other = tmp_path / "other"
        other.mkdir()
        (other / "cc-sim-0001").write_text("%s 1\n" % bytes(32).hex())
        r = callcue("logs", "pull", "--port", sim.port, "--archive", tmp_path / "b",
                    "--keys", other)
        assert r.returncode == 0, r.stderr
        assert "is not in the key store" in r.stdout
    finally:
        sim.close()
    r = callcue("logs", "verify", "--archive", tmp_path / "a", "--keys", store)
    assert r.returncode == 0, r.stdout
    assert "not signed: recorded before cc-sim-0001 had a key" in r.stdout


def test_schema_3_archive_is_read_as_it_is(keyed_call, callcue, tmp_path):
    """An archive of schema 3 (no seal verdicts): report and logs verify read it without
    changing a byte (a reader never migrates), and still check every call."""
    import shutil
    import sqlite3
    archive, store, _out, _raw = keyed_call
    copy = tmp_path / "archive"
    shutil.copytree(archive, copy)
    db = sqlite3.connect(copy / "callcue.sqlite")
    db.execute("ALTER TABLE sessions DROP COLUMN seal")
    db.execute("ALTER TABLE sessions DROP COLUMN seal_note")
    db.execute("PRAGMA user_version = 3")
    db.commit()
    db.close()
    before = (copy / "callcue.sqlite").read_bytes()
    r = callcue("logs", "verify", "--archive", copy, "--keys", store)
    assert r.returncode == 0 and "1 verified" in r.stdout, r.stdout + r.stderr
    r = callcue("report", "--archive", copy, "--keys", store, "--out", tmp_path / "r.html")
    assert r.returncode == 0, r.stderr
    assert (copy / "callcue.sqlite").read_bytes() == before
    from callcue.archive.store import Archive
    with Archive(copy) as ar:                       # a pull's open migrates it
        assert ar.schema_version() == 4 and ar.seal(1) == (None, None)
