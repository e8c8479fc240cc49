"""The dongle's entry point (copied to the device root as /main.py): only wiring."""

from firmware import hal_rp2
from firmware.app import FW_VERSION, App
from firmware.config import Config
from firmware.link import Link
from firmware.sessionlog import SessionLog

config = Config("/config.json").load()
clock = hal_rp2.RTCClock()
store = SessionLog("/logs", config.device_id, FW_VERSION, config.cal_hash())
app = App(hal_rp2.I2SCapture(), hal_rp2.NeoPixelLED(), clock, store, Link.stdio(), config,
          hal_rp2.watchdog(), cores=2, key_path="/key.bin")
app.run()
