"""callcue's MicroPython application: the dongle's firmware (see README.md).

On the device this folder is the package `firmware` beside `dsp`, with firmware/main.py
copied to the root as /main.py. The host installs it under the same name, `firmware`, so
the host tools import its pure modules (the serial protocol and the session-log format)
exactly as the device does.
"""
