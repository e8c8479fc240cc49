# What goes on the dongle, in MicroPython's manifest language (docs/reference/manifest):
# `callcue flash` copies exactly these files and `make mpy` compiles exactly these
# (both read it through callcue/manifest.py). Paths are relative to this folder.
# Every .py in firmware/ but this file is listed: the folder is the board's, no more.
# The board's layout: /dsp/*.mpy, /firmware/*.mpy, and /main.py as source (MicroPython
# boots only a source /main.py).
# ruff: noqa: F821 - package, module, metadata: the manifest language's functions

metadata(description="callcue dongle firmware: the fixed-point engine and the app",
         version="0.1.0")

package("dsp", base_path="..")
package("firmware", base_path="..", files=(
    "__init__.py",
    "app.py",
    "board.py",
    "calibration.py",
    "commands.py",
    "config.py",
    "core1.py",
    "framegaps.py",
    "hal_rp2.py",
    "leds.py",
    "link.py",
    "logformat.py",
    "protocol.py",
    "seal.py",
    "sessionlog.py",
))
module("main.py")
