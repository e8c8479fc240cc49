"""callcue's MicroPython application: the dongle's firmware (see README.md).

On the device this folder is the package `firmware` beside `dsp`, with firmware/main.py
copied to the root as /main.py. On the host it is installed as callcue.firmware so the
host tools share its pure modules (the serial protocol and the session-log format).
"""
