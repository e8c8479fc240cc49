"""Device configuration and calibration: one versioned JSON file on flash.

    {"version": 1, "device_id": "cc-0001", "params": {"sidetone_loss_db": 17, ...},
     "calibration": {"measured": {...}, "time": 0}}

`params` holds only overrides of dsp/params.py defaults; each is validated by
Params(). A missing, unreadable or invalid file never stops the device: it runs on
safe defaults and `status` says why ("missing", "bad json[: N bytes, at most M]",
"bad version", "bad params: <name: reason>", "bad calibration: <reason>"), which
`info` reports. Whatever the file holds, loading it never raises: its size is checked
before it is read (a 300 KB file would not fit the RP2040's heap), and a MemoryError or
RecursionError from the JSON reader is a bad file like any other. The calibration is
bounded too (CAL_MAX_BYTES written, CAL_MAX_DEPTH nested), when set and when loaded,
so every reply that carries it (`info`, `get_config`) stays well inside the protocol's
line limit. Writes are atomic: the new file is written beside the old one and renamed
over it.
"""

import json
import os

from dsp.params import NAMES, Params

VERSION = 1
DEFAULT_PATH = "/config.json"
MAX_BYTES = 8192       # the whole file: 40 overrides and a calibration fit in a quarter
CAL_MAX_BYTES = 2048   # the calibration as JSON (three measured steps take ~600 bytes)
CAL_MAX_DEPTH = 4      # {step: {field: value}} is 2 deep


def _depth(v, limit):
    """How deep `v` nests (a scalar is 0), counted only up to limit + 1."""
    if limit < 0:
        return 1
    t = type(v)
    if t is dict:
        v = list(v.values())
    elif t is not list:
        return 0
    d = 0
    for x in v:
        k = _depth(x, limit - 1)
        if k > d:
            d = k
    return d + 1


def check_calibration(cal):
    """Raise ValueError unless `cal` is an object within CAL_MAX_DEPTH and CAL_MAX_BYTES."""
    if type(cal) is not dict:
        raise ValueError("calibration: must be an object")
    if _depth(cal, CAL_MAX_DEPTH) > CAL_MAX_DEPTH:
        raise ValueError("calibration: nested deeper than %d" % CAL_MAX_DEPTH)
    n = len(json.dumps(cal))
    if n > CAL_MAX_BYTES:
        raise ValueError("calibration: %d bytes, at most %d" % (n, CAL_MAX_BYTES))


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
        try:
            size = os.stat(self.path)[6]
        except OSError:
            self.status = "missing"
            return self
        if size > MAX_BYTES:
            self.status = "bad json: %d bytes, at most %d" % (size, MAX_BYTES)
            return self
        try:
            with open(self.path) as f:
                doc = json.loads(f.read(MAX_BYTES + 1))
        except (OSError, ValueError):
            self.status = "bad json"
            return self
        except Exception as e:  # MemoryError; RecursionError (RuntimeError on MicroPython)
            self.status = "bad json: " + type(e).__name__
            return self
        try:
            return self._apply(doc)
        except Exception as e:  # a value of a type nothing above expected: still defaults
            self.overrides = {}
            self.calibration = {}
            self.params = Params()
            self.status = "bad json: %s" % type(e).__name__
            return self

    def _apply(self, doc):
        if not isinstance(doc, dict) or doc.get("version") != VERSION:
            self.status = "bad version"
            return self
        overrides = doc.get("params", {})
        if not isinstance(overrides, dict):
            self.status = "bad params: not an object"
            return self
        try:
            self.params = Params(**overrides)
        except (ValueError, TypeError) as e:
            self.params = Params()
            self.status = "bad params: " + str(e)
            return self
        cal = doc.get("calibration", {})
        if cal is None:
            cal = {}
        try:
            check_calibration(cal)
        except ValueError as e:
            self.params = Params()
            self.status = "bad " + str(e)
            return self
        self.overrides = overrides
        self.calibration = cal
        # the id is the device's own word; the host checks it before using it in a name
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
        """Keep `calibration` and save; ValueError (nothing changed) if it is too big or
        nested too deep (check_calibration)."""
        check_calibration(calibration)
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
