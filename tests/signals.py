"""Worst-case and simple test inputs for the engine, as int16 numpy arrays at 8 kHz."""

import numpy as np

RATE = 8000


def worst_cases(seconds=3.0, seed=0):
    """name -> (rep, customer): the inputs that push every accumulator hardest."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    rng = np.random.default_rng(seed)
    full = np.int16(32767)
    square = np.where(np.sin(2 * np.pi * 200 * t) >= 0, 32767, -32768).astype(np.int16)
    nyquist = np.where(np.arange(n) % 2 == 0, 32767, -32768).astype(np.int16)
    noise = rng.integers(-32768, 32768, n, dtype=np.int64).astype(np.int16)
    clipped = np.clip(8 * 32767 * np.sin(2 * np.pi * 150 * t), -32768, 32767).astype(np.int16)
    silence = np.zeros(n, np.int16)
    dc = np.full(n, full, np.int16)
    neg_dc = np.full(n, -32768, np.int16)
    # steps between the extremes excite the biquads' largest overshoot
    steps = np.where((np.arange(n) // 37) % 2 == 0, 32767, -32768).astype(np.int16)
    # talk spurts: on 0.7 s, off 0.3 s, the customer's offset so both overlap and
    # alternate; full-scale bursts wake the VAD, pitch search and syllable detector
    spurt = ((t % 1.0) < 0.7)
    spurt_c = (((t + 0.45) % 1.0) < 0.7)

    def bursts(x, gate):
        return np.where(gate, x, 0).astype(np.int16)

    return {
        "square_bursts": (bursts(square, spurt), bursts(square, spurt_c)),
        "noise_bursts": (bursts(noise, spurt), bursts(noise[::-1], spurt_c)),
        "steps_bursts": (bursts(steps, spurt), bursts(nyquist, spurt_c)),
        "square": (square, square[::-1].copy()),
        "nyquist": (nyquist, -(nyquist.astype(np.int32) + 1).astype(np.int16)),
        "noise": (noise, noise[::-1].copy()),
        "clipped": (clipped, square),
        "silence": (silence, silence),
        "dc": (dc, neg_dc),
        "steps": (steps, noise),
    }
