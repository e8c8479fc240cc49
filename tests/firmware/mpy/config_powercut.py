"""Power cuts while the config and the key are written, on a real LittleFS image in RAM.

    micropython -X heapsize=16M config_powercut.py REPO

One scripted workload goes through every write the dongle makes outside its session
logs: Config.set (a parameter override, as `set_config` and the learned rate do),
Config.set_calibration (`cal_save`), a parameter back to its default, and seal.save_key
(`set_key`, then a replacement). It is first run once to count its flash programs and
erases W; then it is cut at EVERY write n = 1..W (a random prefix of the n-th one
lands), the image is mounted again as a fresh boot would, and the files are read back
the firmware's way (Config.load, seal.load_key). Each must be exactly what was there
before the cut operation or what it was writing: never a bad file, never the defaults
of a config that existed, never a torn key.

Last line: "config_powercut writes=W cuts=C ok=K bad=B"; the test asserts B == 0.
"""

import sys

sys.path.insert(0, sys.argv[1])

from sessionlog_bdev import PowerCut, fresh_image, mount, umount  # noqa: E402

from firmware import seal  # noqa: E402
from firmware.config import Config  # noqa: E402

CONFIG = "/flash/config.json"
KEY = "/flash/key.bin"
KEY_A = bytes(range(32))
KEY_B = bytes(range(100, 132))
CAL = {"sidetone_loss_db": 14, "echo_loss_db": 28, "at": 1796320918}

# (name, what the step writes, the state it leaves); the state is what a reboot reads:
# (status, overrides, calibration, key)
STEPS = (
    ("set vad_on_db", lambda c: c.set({"vad_on_db": 10}),
     ("ok", {"vad_on_db": 10}, {}, None)),
    ("set rate_baseline_csps", lambda c: c.set({"rate_baseline_csps": 430}),
     ("ok", {"vad_on_db": 10, "rate_baseline_csps": 430}, {}, None)),
    ("set_calibration", lambda c: c.set_calibration(CAL),
     ("ok", {"vad_on_db": 10, "rate_baseline_csps": 430}, CAL, None)),
    ("set vad_on_db back to its default", lambda c: c.set({"vad_on_db": None}),
     ("ok", {"rate_baseline_csps": 430}, CAL, None)),
    ("save_key", lambda c: seal.save_key(KEY, KEY_A),
     ("ok", {"rate_baseline_csps": 430}, CAL, KEY_A)),
    ("save_key again (a replacement)", lambda c: seal.save_key(KEY, KEY_B),
     ("ok", {"rate_baseline_csps": 430}, CAL, KEY_B)),
)
BEFORE = ("missing", {}, {}, None)


def run(pristine, cut_n):
    """The workload on a copy of the image; cut at the cut_n-th write (0: never).
    Returns (image, index of the step the cut fell in or len(STEPS), writes made)."""
    data = bytearray(pristine)
    bdev = mount(data)
    config = Config(CONFIG).load()
    if cut_n:
        bdev.arm(cut_n, 7919 * cut_n + 1)
    step = 0
    try:
        while step < len(STEPS):          # step: the one a cut falls in
            STEPS[step][1](config)
            step += 1
    except PowerCut:
        bdev.off()
    writes = bdev.writes
    umount()
    return data, step, writes


def read_back(data):
    """What a boot reads from the image: (status, overrides, calibration, key)."""
    mount(data)
    c = Config(CONFIG).load()
    key = seal.load_key(KEY)
    umount()
    return (c.status, c.overrides, c.calibration, key)


def main():
    pristine = fresh_image(16)
    _, done, writes = run(pristine, 0)
    assert done == len(STEPS)
    ok = bad = 0
    for n in range(1, writes + 1):
        data, step, _ = run(pristine, n)
        got = read_back(data)
        before = STEPS[step - 1][2] if step else BEFORE
        after = STEPS[step][2] if step < len(STEPS) else before
        if got == before or got == after:
            ok += 1
        else:
            bad += 1
            print("BAD cut %d in step %r: read %r, expected %r or %r"
                  % (n, STEPS[step][0] if step < len(STEPS) else "-", got, before, after))
    print("config_powercut writes=%d cuts=%d ok=%d bad=%d" % (writes, writes, ok, bad))


main()
