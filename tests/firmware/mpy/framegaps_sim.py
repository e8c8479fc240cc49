"""firmware/framegaps.py against a simulated I2S capture whose losses are known.

    micropython framegaps_sim.py REPO

A capture makes a 10 ms frame every 10,000 us (plus a fixed phase) into a buffer of
CAP frames (the driver's ring and DMA halves); a frame finishing while the buffer is
full is dropped, silently, as the rp2 port drops it: that count is the truth. start()
is called as the capture starts (within one frame of it, phase 0-9,999 us). The
consumer (the frame loop's callback) takes every buffered frame each time it runs,
about every millisecond with jitter, except during stalls (a flash erase, a long C
call), and tells FrameGaps of each frame at the time it takes it. Timestamps wrap
the way time.ticks_us does on this port (they start just below the period). One line
per case: name, frames delivered, true losses, counted losses; last, the heap
growth of 100,000 calls under heap_lock().
"""

import sys

sys.path.insert(0, sys.argv[1])

import time  # noqa: E402

import micropython  # noqa: E402

from firmware.framegaps import FrameGaps  # noqa: E402

PERIOD = time.ticks_add(0, -1) + 1
CAP = 6


def simulate(name, seconds, stalls, phase=3700, seed=1):
    gaps = FrameGaps(CAP)
    base = PERIOD - 3_000_000                  # the clock wraps 3 s in
    gaps.start(base % PERIOD)
    buf = 0            # frames waiting
    made = 0           # frames finished so far
    dropped = 0
    got = 0
    t = 0
    end = seconds * 1_000_000
    s = seed
    while t < end:
        s = (s * 75 + 74) % 65537
        t += 700 + s % 600                     # the consumer runs every 0.7-1.3 ms
        stalled_until = -1
        for a, length in stalls:
            if a <= t < a + length:
                stalled_until = a + length
        # frames that finished by t (during a stall too), into the buffer or dropped
        while phase + 10_000 * (made + 1) <= (stalled_until if stalled_until > t else t):
            made += 1
            if buf < CAP:
                buf += 1
            else:
                dropped += 1
        if stalled_until > t:
            t = stalled_until
            continue
        while buf:
            buf -= 1
            got += 1
            gaps.delivered((base + t) % PERIOD)
    print(name, got, dropped, gaps.lost)


simulate("steady", 120, [])
simulate("short-stalls", 120, [(1_000_000 + 997_000 * k, 45_000) for k in range(100)])
simulate("erase-stalls", 150, [(5_000_000 + 7_300_000 * k, 95_000) for k in range(20)])
simulate("one-long-stall", 60, [(20_000_000, 1_234_567)])
simulate("late-first-frame", 60, [(9_000_000 * k + 777, 71_000) for k in range(6)], phase=9_990)
simulate("twenty-minutes", 1200, [(60_000_000 * k + 123_457, 120_000) for k in range(20)],
         phase=9999)

gaps = FrameGaps(CAP)
gaps.start(0)
now = 0
micropython.heap_lock()
try:
    for _ in range(100_000):
        now = time.ticks_add(now, 10_000)
        gaps.delivered(now)
finally:
    micropython.heap_unlock()
print("heap_lock", 100_000, gaps.lost)
