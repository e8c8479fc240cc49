"""Integer helpers shared by the stages: saturation, log2 in Q12, dB, cents, isqrt.

Scaling: log2_q12 takes 1 <= x < 2**30 and returns log2(x) in Q12 (<= 30 * 4096);
the mantissa is looked up in a 33-entry table with linear interpolation (error
< 0.0005 octave: 0.6 cent, 0.002 dB). Every intermediate stays below 2**30.
"""

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

# round(4096 * log2(1 + i / 32)) for i = 0..32
_LOG2_TAB = (
    0, 182, 358, 530, 696, 858, 1016, 1169, 1319, 1465, 1607, 1746, 1882, 2015,
    2145, 2272, 2396, 2518, 2637, 2754, 2869, 2982, 3092, 3200, 3307, 3412, 3514,
    3615, 3715, 3812, 3908, 4003, 4096,
)
_ONE_Q14 = const(16384)
# dB per octave: 10*log10(2) = 3.0103; in Q8 dB per Q12 octave: 3.0103 * 256 / 4096,
# as (x * 3083) >> 14 (0.02 % low). log2_q12 <= 126976 so the product < 2**29.
_DB_MUL = const(3083)
_DB_SHIFT = const(14)


def sat16(x):
    """Clamp to int16."""
    if x > 32767:
        return 32767
    if x < -32768:
        return -32768
    return x


def log2_q12(x):
    """log2(x) in Q12 for 1 <= x < 2**30; 0 for x <= 1."""
    if x <= 1:
        return 0
    n = 0
    t = x
    while t >= 256:
        t >>= 8
        n += 8
    while t > 1:
        t >>= 1
        n += 1
    # normalise the mantissa to Q14 in [2**14, 2**15)
    if n >= 14:
        m = x >> (n - 14)
    else:
        m = x << (14 - n)
    f = m - _ONE_Q14           # 0 .. 16383: 5 index bits, 9 interpolation bits
    i = f >> 9
    r = f & 511
    lo = _LOG2_TAB[i]
    return (n << 12) + lo + (((_LOG2_TAB[i + 1] - lo) * r) >> 9)


def db_q8(x):
    """10*log10(x) in Q8 dB for an energy 0 <= x < 2**30 (0 for x <= 1)."""
    return (log2_q12(x) * _DB_MUL) >> _DB_SHIFT


def cents_of_log2(l2_q12):
    """Octaves in Q12 to cents: 1200 / 4096 = 75 / 256 exactly."""
    return (l2_q12 * 75) >> 8


def isqrt(x):
    """floor(sqrt(x)) for 0 <= x < 2**30, by bitwise restoring square root."""
    if x <= 0:
        return 0
    r = 0
    b = 1 << 28
    while b > x:
        b >>= 2
    while b:
        if x >= r + b:
            x -= r + b
            r = (r >> 1) + b
        else:
            r >>= 1
        b >>= 2
    return r
