"""Crosstalk gate: a party counts only if its channel exceeds what leakage from the
other channel explains.

The earpiece channel carries the rep's voice as sidetone `sidetone_loss_db` below
the mic; the mic hears the customer `echo_loss_db` below the earpiece. With frame
levels L0 (mic) and L1 (earpiece) in dB Q8, the customer is allowed when
L1 > L0 - sidetone_loss + margin and the rep when L0 > L1 - echo_loss + margin.
Defaults sit at the strong-coupling end of real headsets (12 dB sidetone), so an
uncalibrated unit misses some overlap rather than inventing it; calibration
measures the real losses.

Scaling: levels < 86 * 256, losses < 61 * 256; sums < 2**16.
"""


class Crosstalk:
    def __init__(self, p):
        self.side_q8 = (p.sidetone_loss_db - p.xtalk_margin_db) << 8
        self.echo_q8 = (p.echo_loss_db - p.xtalk_margin_db) << 8
        self.rep_ok = 1
        self.cust_ok = 1

    def gate(self, rep_q8, cust_q8):
        """Sets rep_ok and cust_ok for this frame's levels."""
        self.rep_ok = 1 if rep_q8 + self.echo_q8 > cust_q8 else 0
        self.cust_ok = 1 if cust_q8 + self.side_q8 > rep_q8 else 0
