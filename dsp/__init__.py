"""callcue's fixed-point DSP core: integer-only, identical on MicroPython and CPython.

The package is `dsp` on the device and on the host alike (the host installs it
top-level under that name). Start at engine.py.
"""
