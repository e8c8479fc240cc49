"""Load every config file named on the command line with firmware.config.Config and print
`NAME STATUS PARAMS CALIBRATION-BYTES`; then try set_calibration with a calibration too
big and one nested too deep and print what happened (`set big: ValueError ...`). Runs
under the MicroPython unix port (with the RP2040's heap, -X heapsize=190K) and CPython.

    config_hostile.py REPO FILE...
"""

import json
import sys

sys.path.insert(0, sys.argv[1])

from firmware.config import Config  # noqa: E402

for path in sys.argv[2:]:
    c = Config(path, device_id="cc-default").load()
    print("%s|%s|%s|%d|%s" % (path.split("/")[-1], c.status, json.dumps(c.overrides),
                              len(json.dumps(c.calibration)), c.device_id))

c = Config(sys.argv[2] + ".new").load()
for name, cal in (("big", {"rep": {"note": "x" * 3000}}),
                  ("deep", {"a": {"b": {"c": {"d": {"e": 1}}}}}),
                  ("list", [1, 2]),
                  ("fine", {"rep": {"loss_db": 18}})):
    try:
        c.set_calibration(cal)
        print("set %s: ok %s" % (name, json.dumps(c.calibration)))
    except ValueError as e:
        print("set %s: ValueError %s" % (name, e))
