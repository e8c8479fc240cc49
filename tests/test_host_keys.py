"""The host's key store and `callcue device key` against the virtual dongle: a key is
provisioned once, kept outside the archive (mode 0600), replaced only with --rotate
(the old one kept to check old logs); a key the device refuses is never kept, and one it
accepted is never lost, even when the answer to set_key does not arrive."""

import os
import stat

import numpy as np
import pytest
import soundfile
from callcue import keys as hk
from callcue.device import Device, DeviceError
from callcue.devices import HostError


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
        with pytest.raises(HostError) as e:
            hk.provision(_Race(dev, "other-host-first"), store, say=lambda m: None)
        assert "refused" in e.value.reason and "MISMATCH" in e.value.reason
    assert not store.folder.exists() or not any(store.folder.iterdir())
    assert store.keys("cc-sim-0001") == [] and store.pending("cc-sim-0001") is None

    with Device.open(_url(quiet, tmp_path / "f2")) as dev:   # the answer is lost
        _, kid = hk.provision(_Race(dev, "lost-answer"), store, say=lambda m: None)
        assert dev.info()["key_id"] == kid
    assert hk.key_id(store.current("cc-sim-0001")) == kid
    assert store.pending("cc-sim-0001") is None
    assert (tmp_path / "f2" / "key.bin").read_bytes() == store.current("cc-sim-0001")

    store3 = hk.KeyStore(tmp_path / "keys3")                  # the port goes away
    with Device.open(_url(quiet, tmp_path / "f3")) as dev:
        with pytest.raises(HostError) as e:
            hk.provision(_Race(dev, "gone"), store3, say=lambda m: None)
        assert "pending" in e.value.reason
        dev.ping()                                # (the set_key got there meanwhile)
    assert store3.keys("cc-sim-0001") == [] and store3.pending("cc-sim-0001") is not None
    said = []
    with Device.open(_url(quiet, tmp_path / "f3")) as dev:   # the next run settles it
        hk.provision(dev, store3, say=said.append)
    assert "accepted" in said[0] and "already has" in said[1]
    assert (tmp_path / "f3" / "key.bin").read_bytes() == store3.current("cc-sim-0001")
    assert store3.pending("cc-sim-0001") is None


def test_key_file_checks(tmp_path):
    store = hk.KeyStore(tmp_path / "k")
    with pytest.raises(HostError):
        store.path("../etc")
    store.folder.mkdir()
    (store.folder / "cc-1").write_text("not hex\n")
    with pytest.raises(HostError) as e:
        store.keys("cc-1")
    assert "not a key file" in e.value.reason
