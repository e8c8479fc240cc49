"""Hot loops of the engine, plain Python; kernels_viper.py has bit-identical twins.

Every kernel takes preallocated arrays and returns an int or nothing, so a frame
allocates nothing. The engine calls them through `select()`, which picks the viper
twins on MicroPython.

Scaling and overflow:
- biquad_q13: direct form I. Input, output and state int16; coefficients Q13
  (|c| < 4). The accumulator is Q13 with sum(|c|) * 2**15 <= 3.99 * 2**28 < 2**30
  by construction (callcue.analysis.design rejects larger sections); it is rounded half up
  by (acc + 2**12) >> 13 and the output saturates to int16, so the state can never
  grow past int16 and the bound holds for every later sample.
- energy: sum of (x * x + 128) >> 8 (rounded) over a 10 ms frame (80 samples), with
  x = -32768 taken as -32767 so x * x + 128 < 2**30 stays a small int: each term
  < 2**22, the sum < 80 * 2**22 < 2**28.33. Full-scale square: 335,523,840.
- highpass_energy: two first-order high-pass sections, y = x - x1 + y1 - 1/8 y1 each
  (the eighth rounded half up, so each step is off by at most 1/2). Each section's
  impulse response sums to 2 in magnitude and the rounding adds at most 4, so the
  first output stays within 2 * 2**15 + 4 < 2**16.01 and the second within
  2 * (2**16 + 4) + 4 < 2**17.01. The energy is taken of y2 >> 2 (|v| <= 32771,
  saturated to 32767), so each term and the sum keep energy's bounds.
- normalize: shifts a block (read from a ring, unwrapped) so its peak magnitude lies
  in [2**12, 2**13) (left shift up to 12, right shift up to 3); output |x| < 2**13.
- nsdf_q10: on a normalised block (|x| < 2**13): each product x*y < 2**26, >> 11
  < 2**15 (floored, the same in viper: arithmetic shift); sums over w <= 120 samples
  < 2**21.91; the sliding e(tau) is updated term by term, so it equals the direct sum.
  The quotient (c << 8) // ((e0 + et) >> 3) has c << 8 < 2**29.91 and is at most
  about 1024 (c <= (e0 + et) / 2 by AM-GM, up to the floor rounding of each term).
- refine_q10: nsdf_q10's products and energies lag by lag, so its bounds; the
  parabola's offset within +-128 (dsp/pitch.py).
- peaks_q10, path_step: comparisons, and path costs < 2**15 (see dsp/pitch.py).
- quartiles: counts only (< 2**15). spread_hist: see its docstring; every
  sum < 2**28.2.
- log2_q12, db_q8, isqrt: fixmath's (the frame path calls the first two three or more
  times a frame, and isqrt once a second on the busiest frame, so they have viper
  twins too).
"""

from .fixmath import db_q8, isqrt, log2_q12  # noqa: F401  (plain twins of kernels_viper's)

HP_BIAS = 1 << 18   # highpass_energy's state offset: |state| < 2**17.01


def biquad_q13(src, dst, n, c, s):
    """Filter n samples src -> dst (may be the same array). c = (b0, b1, b2, a1, a2),
    s = [x1, x2, y1, y2] state, updated."""
    b0 = c[0]
    b1 = c[1]
    b2 = c[2]
    a1 = c[3]
    a2 = c[4]
    x1 = s[0]
    x2 = s[1]
    y1 = s[2]
    y2 = s[3]
    for i in range(n):
        x = src[i]
        acc = b0 * x + 4096       # Q13, |acc| < 3.99 * 2**28 throughout
        acc += b1 * x1
        acc += b2 * x2
        acc -= a1 * y1
        acc -= a2 * y2
        y = acc >> 13
        if y > 32767:
            y = 32767
        elif y < -32768:
            y = -32768
        dst[i] = y
        x2 = x1
        x1 = x
        y2 = y1
        y1 = y
    s[0] = x1
    s[1] = x2
    s[2] = y1
    s[3] = y2


def lowpass_decimate(src, n, c, s, lp, ring, pos):
    """The pitch stage's front end in one pass: two Q13 biquads in cascade, src -> lp
    (n samples; c = the two sections' (b0, b1, b2, a1, a2), 10 values; s = x1, x2, y1,
    y2, z1, z2: the input, middle and output states, updated); every 2nd output
    (lp[1], lp[3], ...) into ring[pos ...]. Returns energy(lp, n). The same values
    as biquad_q13 twice, decimate and energy, each bounded as they are."""
    # one name per line: a tuple assignment would allocate on MicroPython
    b0 = c[0]
    b1 = c[1]
    b2 = c[2]
    a1 = c[3]
    a2 = c[4]
    d0 = c[5]
    d1 = c[6]
    d2 = c[7]
    e1 = c[8]
    e2 = c[9]
    x1 = s[0]
    x2 = s[1]
    y1 = s[2]
    y2 = s[3]
    z1 = s[4]
    z2 = s[5]
    en = 0
    for i in range(n):
        x = src[i]
        acc = b0 * x + 4096 + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
        y = acc >> 13
        if y > 32767:
            y = 32767
        elif y < -32768:
            y = -32768
        x2 = x1
        x1 = x
        acc = d0 * y + 4096 + d1 * y1 + d2 * y2 - e1 * z1 - e2 * z2
        y2 = y1
        y1 = y
        z = acc >> 13
        if z > 32767:
            z = 32767
        elif z < -32768:
            z = -32768
        lp[i] = z
        z2 = z1
        z1 = z
        if z < -32767:
            z = -32767
        en += (z * z + 128) >> 8
        if i & 1:
            ring[pos] = z1
            pos += 1
    s[0] = x1
    s[1] = x2
    s[2] = y1
    s[3] = y2
    s[4] = z1
    s[5] = z2
    return en


def energy(x, n):
    """Sum of (x*x + 128) >> 8 over n int16 samples (< 2**28.33 for n = 80)."""
    e = 0
    for i in range(n):
        v = x[i]
        if v < -32767:
            v = -32767
        e += (v * v + 128) >> 8
    return e


def highpass_energy(x, n, s):
    """Energy, as energy(), of n int16 samples through two first-order high-pass
    sections y[i] = x[i] - x[i-1] + y[i-1] - y[i-1] / 8 (-3 dB near 250 Hz,
    12 dB/octave below), scaled by 1/4. s = state (array 'i': last input, last
    output of each section), updated; each word holds its value + HP_BIAS, so it
    is never negative (viper's ptr32 loads do not sign-extend on 64-bit ports)."""
    x1 = s[0] - HP_BIAS
    y1 = s[1] - HP_BIAS
    y2 = s[2] - HP_BIAS
    e = 0
    for i in range(n):
        v = x[i]
        u = v - x1 + y1 - ((y1 + 4) >> 3)     # |u| < 2**16.01
        x1 = v
        w = u - y1 + y2 - ((y2 + 4) >> 3)     # |w| < 2**17.01
        y1 = u
        y2 = w
        v = w >> 2
        if v > 32767:
            v = 32767
        elif v < -32767:
            v = -32767
        e += (v * v + 128) >> 8
    s[0] = x1 + HP_BIAS
    s[1] = y1 + HP_BIAS
    s[2] = y2 + HP_BIAS
    return e


def decimate(src, start, stop, step, dst, off):
    """dst[off + k] = src[start + k * step] while start + k * step < stop (also a
    plain copy with step 1; overlapping is fine when dst lies before src)."""
    k = off
    i = start
    while i < stop:      # range() with a variable step would allocate on MicroPython
        dst[k] = src[i]
        k += 1
        i += step


def normalize(src, off, size, dst, n):
    """Scale n samples of the ring src (size samples long), from src[off] on and
    wrapping at size, into dst[:n] so the peak lies in [2**12, 2**13); return the
    peak of those samples (0 means all zero: dst untouched)."""
    peak = 0
    j = off
    for _ in range(n):
        v = src[j]
        if v < 0:
            v = -v
        if v > peak:
            peak = v
        j += 1
        if j == size:
            j = 0
    if peak == 0:
        return 0
    p = peak
    up = 0
    while p < 4096:
        p <<= 1
        up += 1
    down = 0
    while p >= 8192:
        p >>= 1
        down += 1
    j = off
    for i in range(n):
        dst[i] = (src[j] << up) >> down
        j += 1
        if j == size:
            j = 0
    return peak


def nsdf_q10(x, step, w, lo, hi, out):
    """McLeod's normalised square difference on x (normalised, |x| < 2**13) with
    sample stride `step`: for lo <= tau <= hi, out[tau] = 2 * c(tau) / (e(0) + e(tau))
    in Q10 (1024 = periodic; negative values stored as 0), where over j < w
    c(tau) = sum x[j*step] * x[(j+tau)*step] and e(tau) = sum x[(j+tau)*step]**2,
    every product >> 11. Reads x[0 .. (hi + w) * step]. w must be even (the viper
    twin takes two products per pass)."""
    e0 = 0
    et = 0
    j = 0
    k = lo * step
    for _ in range(w):
        a = x[j]
        b = x[k]
        e0 += (a * a) >> 11               # < 2**15 per term, < 2**21.91 for w <= 120
        et += (b * b) >> 11
        j += step
        k += step
    for tau in range(lo, hi + 1):
        c = 0
        j = 0
        k = tau * step
        for _ in range(w):
            c += (x[j] * x[k]) >> 11      # |c| < 2**21.91
            j += step
            k += step
        den = (e0 + et) >> 3              # < 2**19.91
        v = 0
        if den > 0 and c > 0:
            v = (c << 8) // den           # c << 8 < 2**29.91; 2c/(e0+et) <= 1 in Q10
        out[tau] = v
        a = x[tau * step]                 # slide e(tau) to e(tau + 1)
        b = x[k]
        et += ((b * b) >> 11) - ((a * a) >> 11)


def refine_q10(x, w, cand, m, tau_min, tau_max, n4, res):
    """The pitch search's refinement of m coarse candidates (cand[1..m], lags at 2 kHz)
    at 4 kHz on x (normalised, as nsdf_q10 with step 1 and window w): for each, n(tau)
    at lags 2t-1 .. 2t+1 into n4, one more lag beyond an edge that holds the best
    (within tau_min - 1 .. tau_max + 1), and a parabola through the best u and its
    neighbours. res[i] = (u << 8) + offset (the period in Q8 lags) and res[i + 8] =
    n(u), or res[i] = -1 when u falls outside tau_min .. tau_max. The same values as
    nsdf_q10 per lag (its sliding energy equals the direct sum); offset as in
    dsp/pitch.py's scaling paragraph (within +-128)."""
    e0 = _window_energy(x, 0, w)
    for i in range(1, m + 1):
        c = cand[i] << 1
        lo = c - 1
        hi = c + 1
        et = _window_energy(x, lo, w)
        for tau in range(lo, hi + 1):
            n4[tau] = _nsdf_lag(x, w, tau, e0, et)
            a = x[tau]
            b = x[tau + w]
            et += ((b * b) >> 11) - ((a * a) >> 11)
        u = lo
        if n4[c] > n4[u]:
            u = c
        if n4[hi] > n4[u]:
            u = hi
        if u == hi and hi < tau_max + 1:
            hi += 1                       # et is e(hi) after the slide above
            n4[hi] = _nsdf_lag(x, w, hi, e0, et)
            if n4[hi] > n4[u]:
                u = hi
        elif u == lo and lo > tau_min - 1:
            lo -= 1
            n4[lo] = _nsdf_lag(x, w, lo, e0, _window_energy(x, lo, w))
            if n4[lo] > n4[u]:
                u = lo
        if u < tau_min or u > tau_max:
            res[i] = -1
            continue
        off = 0
        if lo < u < hi:
            a = n4[u - 1]
            b = n4[u]
            cc = n4[u + 1]
            den = b + b - a - cc
            if den > 0:
                off = ((cc - a) << 7) // den
        res[i] = (u << 8) + off
        res[i + 8] = n4[u]


def _window_energy(x, start, w):
    """e(start): sum of x[start + j]**2 >> 11 over j < w, as nsdf_q10 sums it."""
    e = 0
    for j in range(w):
        b = x[start + j]
        e += (b * b) >> 11
    return e


def _nsdf_lag(x, w, tau, e0, et):
    """n(tau) in Q10 as nsdf_q10 gives it, with e(0) and e(tau) given."""
    c = 0
    for j in range(w):
        c += (x[j] * x[tau + j]) >> 11
    den = (e0 + et) >> 3
    if den > 0 and c > 0:
        return (c << 8) // den
    return 0


def peaks_q10(n, lo, hi, floor, cand, strength, ncand):
    """The ncand strongest local maxima of n[lo..hi] (n[t] >= floor, > n[t-1] and >=
    n[t+1]) into cand[1..] (lags) and strength[1..] (values), strongest first (equal
    ones in lag order). Returns how many."""
    m = 0
    for t in range(lo, hi + 1):
        v = n[t]
        if v < floor or v <= n[t - 1] or v < n[t + 1]:
            continue
        i = m + 1
        if m == ncand:
            i = ncand + 1
        while i > 1 and strength[i - 1] < v:
            if i <= ncand:
                strength[i] = strength[i - 1]
                cand[i] = cand[i - 1]
            i -= 1
        if i <= ncand:
            strength[i] = v
            cand[i] = t
            if m < ncand:
                m += 1
    return m


def path_step(cand, strength, m, cfg, pc, pb, cost):
    """One step of the pitch path (a Viterbi search, dsp/pitch.py) with the unvoiced
    state 0 and the m candidates cand[1..m] (cents), strength[1..m] (Q10). cfg: [0]
    voicing, [1] jump, [2] prior, [3] register (median cents, 0 unknown), [4] this
    slot, [5] states per slot, [6] slots, [7] delay, [8] octave cost, [9] voicing
    change cost (all Q10 per octave or Q10), [10 + s] states used in slot s. pc / pb:
    cents and backpointer per slot and state; cost[0..states) the path costs, cost[
    states..) scratch. Advances cfg[4]; returns the cents decided `delay` steps back.
    Local costs are offset by 2048 (not 1024) so none is negative: ptr32 loads do not
    sign-extend on 64-bit ports. Costs are re-based to 0 every step: each < 2**15."""
    ns = cfg[5]
    slots = cfg[6]
    slot = cfg[4]
    prev = slot - 1 if slot else slots - 1
    base = slot * ns
    pbase = prev * ns
    nprev = cfg[10 + prev]
    voicing = cfg[0]
    jump = cfg[1]
    prior = cfg[2]
    center = cfg[3]
    octave = cfg[8]
    vu = cfg[9]
    near = 1 << 20
    top = 0
    for i in range(1, m + 1):
        c = cand[i]
        if c > top:
            top = c
        if center > 0:
            d = c - center
            if d < 0:
                d = -d
            if d < near:
                near = d
    lo = 1 << 29
    for i in range(m + 1):
        if i == 0:
            c = 0
            local = 2048 - voicing
        else:
            c = cand[i]
            local = 2048 - strength[i] + (octave * (top - c)) // 1200
            if center > 0:
                d = c - center
                if d < 0:
                    d = -d
                local += (prior * (d - near)) // 1200
        pc[base + i] = c
        bj = 0
        bc = 1 << 29
        for j in range(nprev):
            if j == 0:
                step = 0
                if i:
                    step = vu
            elif i == 0:
                step = vu
            else:
                d = c - pc[pbase + j]
                if d < 0:
                    d = -d
                step = (jump * d) // 1200
            t = cost[j] + step
            if t < bc:
                bc = t
                bj = j
        pb[base + i] = bj
        t = bc + local
        cost[ns + i] = t
        if t < lo:
            lo = t
    best = 0
    for i in range(m + 1):
        t = cost[ns + i] - lo
        cost[i] = t
        if t == 0:
            best = i
    cfg[10 + slot] = m + 1
    s = slot
    for _ in range(cfg[7]):
        best = pb[s * ns + best]
        s = s - 1 if s else slots - 1
    cfg[4] = slot + 1 if slot < slots - 1 else 0
    return pc[s * ns + best]


def quartiles(hist, nbins, n, out):
    """One pass over a histogram of n values (pitchspread.py keeps it): out[0], out[1], out[2] =
    the centres in cents of the bins holding the values of rank n/4, n/2 and 3n/4
    (bin b is cents 16 b .. 16 b + 15, centre 16 b + 8)."""
    r1 = n >> 2
    r2 = n >> 1
    r3 = (3 * n) >> 2
    out[0] = -1
    out[1] = -1
    out[2] = -1
    acc = 0
    for b in range(nbins):
        acc += hist[b]
        if acc > r1:
            c = (b << 4) + 8
            if out[0] < 0:
                out[0] = c
            if acc > r2 and out[1] < 0:
                out[1] = c
            if acc > r3:
                out[2] = c
                return


def spread_hist(hist, nbins, center, lim, out):
    """Of the values a histogram counts (pitchspread.py keeps it: 16-cent bins, each
    value taken as its bin's centre 16 b + 8), with d = centre - center clipped to
    +-lim: out[0] = count, out[1] = sum of d, out[2] = sum of (d * d) >> 4.
    Bounds for counts <= 3000 in all, lim <= 1200: |n_b d| <= 3.6e6 and |sum d| <
    2**21.8; (d * d) >> 4 <= 90,000, so n_b times it and out[2] < 2**28.1."""
    cnt = 0
    s1 = 0
    s2 = 0
    for b in range(nbins):
        m = hist[b]
        if m:
            d = (b << 4) + 8 - center
            if d > lim:
                d = lim
            elif d < -lim:
                d = -lim
            cnt += m
            s1 += m * d
            s2 += m * ((d * d) >> 4)
    out[0] = cnt
    out[1] = s1 + (1 << 24)     # biased: ptr32 loads do not sign-extend on 64-bit ports
    out[2] = s2


def select(viper):
    """The kernel module to use: the viper twins when asked for and available."""
    if viper:
        try:
            from . import kernels_viper
            return kernels_viper
        except ImportError:  # CPython: no viper emitter
            pass
    import sys
    return sys.modules[__name__]
