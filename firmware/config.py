"""Device configuration and calibration: one versioned JSON file on flash.

    {"version": 1, "device_id": "cc-0001", "params": {"sidetone_loss_db": 17, ...},
     "calibration": {"measured": {...}, "time": 0}}

`params` holds only overrides of dsp/params.py defaults; each is validated by
Params(). A missing, unreadable or invalid file never stops the device: it runs on
safe defaults and `status` says why ("missing", "bad json", "bad version",
"bad params: <name: reason>"), which `info` reports. Writes are atomic: the new
file is written beside the old one and renamed over it.
"""

import json
import os

from dsp.params import NAMES, Params

VERSION = 1
DEFAULT_PATH = "/config.json"


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


class Config:
    def __init__(self, path=DEFAULT_PATH, device_id="cc-unset"):
        self.path = path
        self.device_id = device_id
        self.overrides = {}
        self.calibration = {}
        self.params = Params()
        self.status = "defaults"

    def load(self):
        """Read the file; on any problem keep the defaults and set `status`."""
        self.overrides = {}
        self.calibration = {}
        self.params = Params()
        if not _exists(self.path):
            self.status = "missing"
            return self
        try:
            with open(self.path) as f:
                doc = json.load(f)
        except (OSError, ValueError):
            self.status = "bad json"
            return self
        if not isinstance(doc, dict) or doc.get("version") != VERSION:
            self.status = "bad version"
            return self
        overrides = doc.get("params", {})
        if not isinstance(overrides, dict):
            self.status = "bad params: not an object"
            return self
        try:
            self.params = Params(**overrides)
        except ValueError as e:
            self.params = Params()
            self.status = "bad params: " + str(e)
            return self
        self.overrides = overrides
        cal = doc.get("calibration", {})
        self.calibration = cal if isinstance(cal, dict) else {}
        if isinstance(doc.get("device_id"), str) and doc["device_id"]:
            self.device_id = doc["device_id"]
        self.status = "ok"
        return self

    def set(self, updates):
        """Validate {name: int or None} overrides with the current ones, then save.
        Raises ValueError("name: reason") and changes nothing if any is invalid."""
        merged = dict(self.overrides)
        for name in updates:
            if updates[name] is None:          # null: back to the default
                merged.pop(name, None)
            else:
                merged[name] = updates[name]
        params = Params(**merged)          # raises ValueError: nothing written
        self.overrides = merged
        self.params = params
        self.save()

    def set_calibration(self, calibration):
        self.calibration = calibration
        self.save()

    def doc(self):
        return {"version": VERSION, "device_id": self.device_id, "params": self.overrides,
                "calibration": self.calibration}

    def cal_hash(self):
        """A short hash of the effective parameters, stamped into every session log."""
        h = 5381
        for name in NAMES:
            for c in name + "=" + str(getattr(self.params, name)) + ";":
                h = (h * 33 + ord(c)) & 0xFFFFFF
        return h

    def save(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.doc(), f)
        os.rename(tmp, self.path)
        self.status = "ok"
