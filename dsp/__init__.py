"""callcue's fixed-point DSP core: integer-only, identical on MicroPython and CPython.

Imports inside this package are relative, so the folder is `dsp` on the device and
`callcue.dsp` on the host. Start at engine.py.
"""
