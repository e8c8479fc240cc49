"""Audio the capture never delivered, counted from the clock.

On the RP2040 the I2S input and time.ticks_us run off the same crystal, and the
I2S clock divider is exact at the DSP rate (125 MHz / (8000 * 2 * 32 * 2) =
122 + 18/256, exact in the PIO's 16.8 divider format), so by any moment the
capture has made every 10 ms frame whose time has passed. Some of them may still
be on their way (in the DMA halves, the driver's ring `ibuf`, the buffer handed
to readinto); any shortfall beyond that is audio the port dropped without a word:
its two 2 ms DMA halves overwritten while interrupts were off for a flash
program or erase, or `ibuf` full while the main thread was busy in C code.

    gaps = FrameGaps(buffered)          # frames the buffers on the way can hold
    gaps.start(time.ticks_us())         # when the capture starts
    new = gaps.delivered(time.ticks_us())   # at each frame delivered: frames lost
    gaps.lost                           # since the previous one (-1: one given back)

The count is a debt: frames due by the clock minus frames delivered (and lost).
Right after a delivery, up to `buffered - 1` of it can be frames still waiting in
the buffers, plus one due by the clock but still being captured. So a debt above
`buffered - 1` is counted lost at once, never later, and cut back to that; when
the frame it took for lost turns up after all (it was the one being captured: a
debt below 0 shows it), the count gives it back. After a stall the count is
therefore at most one frame high for the few milliseconds the buffers take to
drain, and exact after; it is never low. That holds when start() is called just
before the capture starts (its first frame then ends 10-20 ms later): a capture
started earlier shows as a debt below 0 with nothing to give back, and the debt
restarts at 0.

Integers only, nothing allocated per call: the time is taken as ticks_diff since
the previous call (ticks_us wraps every 2**30 us, about 18 minutes; a gap between
two calls must stay below half of that), whole frames are moved from the
microseconds into the debt, and every value stays a small int however long the
device runs.
"""

from time import ticks_diff

FRAME_US = 10000     # one 10 ms frame of 80 samples at 8 kHz


class FrameGaps:
    def __init__(self, buffered):
        self.spare = buffered - 1
        self.start(0)

    def start(self, now_us):
        self.last = now_us
        self.us = 0          # time since the last whole frame came due, < FRAME_US
        self.debt = 0        # frames due but not delivered
        self.lost = 0

    def delivered(self, now_us):
        """A frame was delivered at now_us (time.ticks_us()); returns the frames found
        lost since the previous call: 0 almost always, -1 for one given back."""
        d = ticks_diff(now_us, self.last)
        self.last = now_us
        if d > 0:
            us = self.us + d
            n = us // FRAME_US
            self.us = us - n * FRAME_US
            self.debt += n
        debt = self.debt - 1
        new = 0
        if debt > self.spare:
            new = debt - self.spare
            debt = self.spare
        elif debt < 0:
            if self.lost > 0:
                new = -1
            debt = 0
        self.lost += new
        self.debt = debt
        return new
