"""Crosstalk gate: a party counts only if its channel exceeds what leakage from the
other channel explains.

The earpiece channel carries the rep's voice as sidetone `sidetone_loss_db` below
the mic; the mic hears the customer `echo_loss_db` below the earpiece. With frame
levels L0 (mic) and L1 (earpiece) in dB Q8, the customer is allowed when
L1 > L0 - sidetone_loss + margin and the rep when L0 > L1 - echo_loss + margin.
Defaults sit at the strong-coupling end of real headsets (12 dB sidetone), so an
uncalibrated unit misses some overlap rather than inventing it; calibration
measures the real losses. Echo comes back late (a line's echo path: tens of ms), so
the rep is judged against the loudest earpiece level of the last `ECHO_FRAMES`
frames (60 ms), not this frame's alone: otherwise the echo of a word the customer
has just finished passes for the rep talking over them. Sidetone is immediate.

Scaling: levels < 86 * 256, losses < 61 * 256; sums < 2**16.
"""

from array import array

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

ECHO_FRAMES = const(6)


class Crosstalk:
    def __init__(self, p):
        self.side_q8 = (p.sidetone_loss_db - p.xtalk_margin_db) << 8
        self.echo_q8 = (p.echo_loss_db - p.xtalk_margin_db) << 8
        self.cust_hist = array("h", bytes(2 * ECHO_FRAMES))
        self.reset()

    def reset(self):
        for i in range(ECHO_FRAMES):
            self.cust_hist[i] = 0
        self.pos = 0
        self.rep_ok = 1
        self.cust_ok = 1

    def gate(self, rep_q8, cust_q8):
        """Sets rep_ok and cust_ok for this frame's levels."""
        h = self.cust_hist
        h[self.pos] = cust_q8
        self.pos = self.pos + 1 if self.pos < ECHO_FRAMES - 1 else 0
        # the loudest of the ECHO_FRAMES (6) levels, unrolled: a loop costs several
        # times as much in bytecode on the RP2040
        loud = h[0]
        if h[1] > loud:
            loud = h[1]
        if h[2] > loud:
            loud = h[2]
        if h[3] > loud:
            loud = h[3]
        if h[4] > loud:
            loud = h[4]
        if h[5] > loud:
            loud = h[5]
        self.rep_ok = 1 if rep_q8 + self.echo_q8 > loud else 0
        self.cust_ok = 1 if cust_q8 + self.side_q8 > rep_q8 else 0
