"""`callcue calibrate` end to end against the virtual dongle: the coupling it measures from
a call with known sidetone and echo losses is within 2 dB of what was put in, and the
implied thresholds are written to the device and read back."""

import numpy as np
import pytest
import soundfile
from callcue import synth
from callcue.device import Device

from .conftest import run_callcue

TOL_DB = 2.0


def calibration_wav(path, sidetone, echo, seed=3):
    """8 s of line noise, then the rep alone, then the customer alone: the three steps an
    engineer performs, in order. The couplings are put in as the hardware makes them:
    sidetone is the mic signal, `sidetone` dB down, on the earpiece line; echo is the
    earpiece's (telephone-band) sound, `echo` dB down, reaching the mic."""
    pcm, truth = synth.render("turn-taking", seed=seed, duration_s=60.0)
    x = pcm.astype(np.float64)

    def alone(party, ch):
        return np.concatenate([x[int(a * 8000):int(b * 8000), ch]
                               for a, b in truth[party]["intervals"]])[: 14 * 8000]

    rng = np.random.default_rng(seed)
    mic = alone("rep", 0)
    ear = alone("customer", 1)
    rep_part = np.stack([mic, mic * 10 ** (-sidetone / 20)], axis=1)
    cust_part = np.stack([ear * 10 ** (-echo / 20), ear], axis=1)
    call = np.concatenate([np.zeros((8 * 8000, 2)), rep_part, cust_part])
    call += rng.normal(0, 3, call.shape)     # front-end noise, about -80 dBFS (hardware/)
    soundfile.write(path, np.clip(call, -32768, 32767).astype(np.int16), 8000,
                    subtype="PCM_16")


@pytest.mark.parametrize("sidetone,echo", [(18.0, 30.0), (14.0, 24.0)])
def test_calibrate_measures_coupling(micropython, tmp_path, sidetone, echo):
    wav = tmp_path / "cal.wav"
    calibration_wav(wav, sidetone, echo)
    storage = tmp_path / "flash"
    url = "sim://%s?speed=4&storage=%s" % (wav, storage)
    proc = run_callcue("calibrate", "--port", url, "--yes", "--seconds", "3", timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "written and read back" in out
    implied = dict(kv.split("=") for kv in out.split("implied: ")[1].split()[0:2]
                   if "=" in kv)
    got_side = int(implied["sidetone_loss_db"].rstrip(","))
    got_echo = int(implied["echo_loss_db"].rstrip(","))
    assert abs(got_side - sidetone) <= TOL_DB, out
    assert abs(got_echo - echo) <= TOL_DB, out
    # the unit keeps them: config file on its flash, read by a fresh boot
    with Device.open("sim://%s?speed=0&storage=%s" % (wav, storage)) as dev:
        cfg = dev.get_config()
        assert cfg["params"] == {"sidetone_loss_db": got_side, "echo_loss_db": got_echo}
        assert set(cfg["calibration"]) == {"silence", "rep", "customer"}
        dev.reboot()


def test_calibrate_bad_port_is_one_line(tmp_path):
    proc = run_callcue("calibrate", "--port", str(tmp_path / "nope"), "--yes")
    assert proc.returncode != 0
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
