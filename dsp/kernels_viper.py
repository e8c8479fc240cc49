"""Viper twins of kernels.py for the RP2040: same arguments, bit-identical results.

Only importable on MicroPython. viper ints are machine words (32-bit on the
RP2040), so the bounds in kernels.py (all < 2**30) hold here too. ptr16 loads are
zero-extended, so each int16 load is sign-extended with (v ^ 0x8000) - 0x8000.
"""

from array import array

import micropython

from .fixmath import _LOG2_TAB

_LOG2 = array("h", _LOG2_TAB)


@micropython.viper
def biquad_q13(src: ptr16, dst: ptr16, n: int, c: ptr16, s: ptr16):
    b0 = (int(c[0]) ^ 0x8000) - 0x8000
    b1 = (int(c[1]) ^ 0x8000) - 0x8000
    b2 = (int(c[2]) ^ 0x8000) - 0x8000
    a1 = (int(c[3]) ^ 0x8000) - 0x8000
    a2 = (int(c[4]) ^ 0x8000) - 0x8000
    x1 = (int(s[0]) ^ 0x8000) - 0x8000
    x2 = (int(s[1]) ^ 0x8000) - 0x8000
    y1 = (int(s[2]) ^ 0x8000) - 0x8000
    y2 = (int(s[3]) ^ 0x8000) - 0x8000
    i = 0
    while i < n:
        x = (int(src[i]) ^ 0x8000) - 0x8000
        acc = b0 * x + 4096
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
        i += 1
    s[0] = x1
    s[1] = x2
    s[2] = y1
    s[3] = y2


@micropython.viper
def lowpass_decimate(src: ptr16, n: int, c: ptr16, s: ptr16, lp: ptr16, ring: ptr16,
                     pos: int) -> int:
    b0 = (int(c[0]) ^ 0x8000) - 0x8000
    b1 = (int(c[1]) ^ 0x8000) - 0x8000
    b2 = (int(c[2]) ^ 0x8000) - 0x8000
    a1 = (int(c[3]) ^ 0x8000) - 0x8000
    a2 = (int(c[4]) ^ 0x8000) - 0x8000
    d0 = (int(c[5]) ^ 0x8000) - 0x8000
    d1 = (int(c[6]) ^ 0x8000) - 0x8000
    d2 = (int(c[7]) ^ 0x8000) - 0x8000
    e1 = (int(c[8]) ^ 0x8000) - 0x8000
    e2 = (int(c[9]) ^ 0x8000) - 0x8000
    x1 = (int(s[0]) ^ 0x8000) - 0x8000
    x2 = (int(s[1]) ^ 0x8000) - 0x8000
    y1 = (int(s[2]) ^ 0x8000) - 0x8000
    y2 = (int(s[3]) ^ 0x8000) - 0x8000
    z1 = (int(s[4]) ^ 0x8000) - 0x8000
    z2 = (int(s[5]) ^ 0x8000) - 0x8000
    en = 0
    i = 0
    while i < n:
        x = (int(src[i]) ^ 0x8000) - 0x8000
        acc = b0 * x + 4096
        acc += b1 * x1
        acc += b2 * x2
        acc -= a1 * y1
        acc -= a2 * y2
        y = acc >> 13
        if y > 32767:
            y = 32767
        elif y < -32768:
            y = -32768
        x2 = x1
        x1 = x
        acc = d0 * y + 4096
        acc += d1 * y1
        acc += d2 * y2
        acc -= e1 * z1
        acc -= e2 * z2
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
        i += 1
    s[0] = x1
    s[1] = x2
    s[2] = y1
    s[3] = y2
    s[4] = z1
    s[5] = z2
    return en


@micropython.viper
def energy(x: ptr16, n: int) -> int:
    e = 0
    i = 0
    while i < n:
        v = (int(x[i]) ^ 0x8000) - 0x8000
        if v < -32767:
            v = -32767
        e += (v * v + 128) >> 8
        i += 1
    return e


@micropython.viper
def highpass_energy(x: ptr16, n: int, s: ptr32) -> int:
    x1 = int(s[0]) - 262144     # kernels.HP_BIAS
    y1 = int(s[1]) - 262144
    y2 = int(s[2]) - 262144
    e = 0
    i = 0
    while i < n:
        v = (int(x[i]) ^ 0x8000) - 0x8000
        u = v - x1 + y1 - ((y1 + 4) >> 3)
        x1 = v
        w = u - y1 + y2 - ((y2 + 4) >> 3)
        y1 = u
        y2 = w
        v = w >> 2
        if v > 32767:
            v = 32767
        elif v < -32767:
            v = -32767
        e += (v * v + 128) >> 8
        i += 1
    s[0] = x1 + 262144
    s[1] = y1 + 262144
    s[2] = y2 + 262144
    return e


@micropython.viper
def decimate(src: ptr16, start: int, stop: int, step: int, dst: ptr16, off: int):
    k = off
    i = start
    while i < stop:
        dst[k] = src[i]
        k += 1
        i += step


@micropython.viper
def normalize(src: ptr16, off: int, size: int, dst: ptr16, n: int) -> int:
    peak = 0
    j = off
    i = 0
    while i < n:
        v = (int(src[j]) ^ 0x8000) - 0x8000
        if v < 0:
            v = 0 - v
        if v > peak:
            peak = v
        j += 1
        if j == size:
            j = 0
        i += 1
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
    i = 0
    while i < n:
        v = (int(src[j]) ^ 0x8000) - 0x8000
        dst[i] = (v << up) >> down
        j += 1
        if j == size:
            j = 0
        i += 1
    return peak


@micropython.viper
def nsdf_q10(x: ptr16, step: int, w: int, lo: int, hi: int, out: ptr32):
    e0 = 0
    et = 0
    j = 0
    k = lo * step
    i = 0
    while i < w:
        a = (int(x[j]) ^ 0x8000) - 0x8000
        b = (int(x[k]) ^ 0x8000) - 0x8000
        e0 += (a * a) >> 11
        et += (b * b) >> 11
        j += step
        k += step
        i += 1
    tau = lo
    while tau <= hi:
        c = 0
        j = 0
        k = tau * step
        i = 0
        while i < w:        # two products per pass: w is even (the pitch stage's 60, 120)
            c += (((int(x[j]) ^ 0x8000) - 0x8000) * ((int(x[k]) ^ 0x8000) - 0x8000)) >> 11
            j += step
            k += step
            c += (((int(x[j]) ^ 0x8000) - 0x8000) * ((int(x[k]) ^ 0x8000) - 0x8000)) >> 11
            j += step
            k += step
            i += 2
        den = (e0 + et) >> 3
        v = 0
        if den > 0 and c > 0:
            v = (c << 8) // den
        out[tau] = v
        a = (int(x[tau * step]) ^ 0x8000) - 0x8000
        b = (int(x[k]) ^ 0x8000) - 0x8000
        et += ((b * b) >> 11) - ((a * a) >> 11)
        tau += 1


@micropython.viper
def refine_q10(x: ptr16, w: int, cand: ptr16, m: int, tau_min: int, tau_max: int, n4: ptr32,
               res: ptr32):
    e0 = 0
    j = 0
    while j < w:
        a = (int(x[j]) ^ 0x8000) - 0x8000
        e0 += (a * a) >> 11
        j += 1
    i = 1
    while i <= m:
        c2 = ((int(cand[i]) ^ 0x8000) - 0x8000) << 1
        lo = c2 - 1
        hi = c2 + 1
        et = 0
        j = 0
        while j < w:
            b = (int(x[lo + j]) ^ 0x8000) - 0x8000
            et += (b * b) >> 11
            j += 1
        # lags lo .. hi (sliding e(tau)), then at most one more beyond an edge
        tau = lo
        last = hi
        extra = 0
        while tau <= last:
            c = 0
            j = 0
            while j < w:
                c += (((int(x[j]) ^ 0x8000) - 0x8000)
                      * ((int(x[tau + j]) ^ 0x8000) - 0x8000)) >> 11
                j += 1
            den = (e0 + et) >> 3
            v = 0
            if den > 0 and c > 0:
                v = (c << 8) // den
            n4[tau] = v
            if tau == hi and extra == 0:
                # the three lags are in: pick the best, and an edge lag if it is there
                u = lo
                if int(n4[c2]) > int(n4[u]):
                    u = c2
                if int(n4[hi]) > int(n4[u]):
                    u = hi
                if u == hi and hi < tau_max + 1:
                    extra = 1
                    last = hi + 1
                elif u == lo and lo > tau_min - 1:
                    extra = 2
                    tau = lo - 1
                    last = tau
                    et = 0
                    j = 0
                    while j < w:
                        b = (int(x[tau + j]) ^ 0x8000) - 0x8000
                        et += (b * b) >> 11
                        j += 1
                    continue
            a = (int(x[tau]) ^ 0x8000) - 0x8000
            b = (int(x[tau + w]) ^ 0x8000) - 0x8000
            et += ((b * b) >> 11) - ((a * a) >> 11)
            tau += 1
        if extra == 1:
            hi += 1
            if int(n4[hi]) > int(n4[u]):
                u = hi
        elif extra == 2:
            lo -= 1
            if int(n4[lo]) > int(n4[u]):
                u = lo
        if u < tau_min or u > tau_max:
            res[i] = -1
        else:
            off = 0
            if lo < u and u < hi:
                a = int(n4[u - 1])
                b = int(n4[u])
                cc = int(n4[u + 1])
                den = b + b - a - cc
                if den > 0:
                    off = ((cc - a) << 7) // den
            res[i] = (u << 8) + off
            res[i + 8] = int(n4[u])
        i += 1


@micropython.viper
def peaks_q10(n: ptr32, lo: int, hi: int, floor: int, cand: ptr16, strength: ptr16,
              ncand: int) -> int:
    m = 0
    t = lo
    while t <= hi:
        v = int(n[t])
        if v >= floor and v > int(n[t - 1]) and v >= int(n[t + 1]):
            i = m + 1
            if m == ncand:
                i = ncand + 1
            while i > 1 and int(strength[i - 1]) < v:
                if i <= ncand:
                    strength[i] = strength[i - 1]
                    cand[i] = cand[i - 1]
                i -= 1
            if i <= ncand:
                strength[i] = v
                cand[i] = t
                if m < ncand:
                    m += 1
        t += 1
    return m


@micropython.viper
def path_step(cand: ptr16, strength: ptr16, m: int, cfg: ptr32, pc: ptr16, pb: ptr8,
              cost: ptr32) -> int:
    ns = int(cfg[5])
    slots = int(cfg[6])
    slot = int(cfg[4])
    prev = slots - 1
    if slot:
        prev = slot - 1
    base = slot * ns
    pbase = prev * ns
    nprev = int(cfg[10 + prev])
    voicing = int(cfg[0])
    jump = int(cfg[1])
    prior = int(cfg[2])
    center = int(cfg[3])
    octave = int(cfg[8])
    vu = int(cfg[9])
    near = 1 << 20
    top = 0
    i = 1
    while i <= m:
        c = int(cand[i])
        if c > top:
            top = c
        if center > 0:
            d = c - center
            if d < 0:
                d = 0 - d
            if d < near:
                near = d
        i += 1
    lo = 1 << 29
    i = 0
    while i <= m:
        if i == 0:
            c = 0
            local = 2048 - voicing
        else:
            c = int(cand[i])
            local = 2048 - int(strength[i]) + (octave * (top - c)) // 1200
            if center > 0:
                d = c - center
                if d < 0:
                    d = 0 - d
                local += (prior * (d - near)) // 1200
        pc[base + i] = c
        bj = 0
        bc = 1 << 29
        j = 0
        while j < nprev:
            if j == 0:
                step = 0
                if i:
                    step = vu
            elif i == 0:
                step = vu
            else:
                d = c - int(pc[pbase + j])
                if d < 0:
                    d = 0 - d
                step = (jump * d) // 1200
            t = int(cost[j]) + step
            if t < bc:
                bc = t
                bj = j
            j += 1
        pb[base + i] = bj
        t = bc + local
        cost[ns + i] = t
        if t < lo:
            lo = t
        i += 1
    best = 0
    i = 0
    while i <= m:
        t = int(cost[ns + i]) - lo
        cost[i] = t
        if t == 0:
            best = i
        i += 1
    cfg[10 + slot] = m + 1
    s = slot
    j = int(cfg[7])
    while j > 0:
        best = int(pb[s * ns + best])
        if s:
            s -= 1
        else:
            s = slots - 1
        j -= 1
    if slot < slots - 1:
        cfg[4] = slot + 1
    else:
        cfg[4] = 0
    return int(pc[s * ns + best])


@micropython.viper
def quartiles(hist: ptr16, nbins: int, n: int, out: ptr32):
    r1 = n >> 2
    r2 = n >> 1
    r3 = (3 * n) >> 2
    q1 = -1
    q2 = -1
    out[0] = q1
    out[1] = q2
    out[2] = -1
    acc = 0
    b = 0
    while b < nbins:
        acc += int(hist[b])
        if acc > r1:
            c = (b << 4) + 8
            if q1 < 0:
                q1 = c
                out[0] = c
            if acc > r2 and q2 < 0:
                q2 = c
                out[1] = c
            if acc > r3:
                out[2] = c
                return
        b += 1


@micropython.viper
def spread_hist(hist: ptr16, nbins: int, center: int, lim: int, out: ptr32):
    # a pass over the 256 bins, not the 3000 frames of the window (that pass cost
    # 2.2 ms of the frame closing a second on the RP2040); counts are < 2**15, read
    # without sign extension
    cnt = 0
    s1 = 0
    s2 = 0
    nlim = 0 - lim
    b = 0
    while b < nbins:
        m = int(hist[b])
        if m:
            d = (b << 4) + 8 - center
            if d > lim:
                d = lim
            elif d < nlim:
                d = nlim
            cnt += m
            s1 += m * d
            s2 += m * ((d * d) >> 4)
        b += 1
    out[0] = cnt
    out[1] = s1 + (1 << 24)
    out[2] = s2


# log2_q12 and db_q8: fixmath's, step for step (a viper function calling another goes
# through the runtime, so db_q8 repeats the body rather than calling log2_q12)
@micropython.viper
def log2_q12(x: int) -> int:
    if x <= 1:
        return 0
    tab = ptr16(_LOG2)
    n = 0
    t = x
    while t >= 256:
        t >>= 8
        n += 8
    while t > 1:
        t >>= 1
        n += 1
    if n >= 14:
        m = x >> (n - 14)
    else:
        m = x << (14 - n)
    f = m - 16384
    i = f >> 9
    lo = int(tab[i])
    return (n << 12) + lo + (((int(tab[i + 1]) - lo) * (f & 511)) >> 9)


@micropython.viper
def db_q8(x: int) -> int:
    if x <= 1:
        return 0
    tab = ptr16(_LOG2)
    n = 0
    t = x
    while t >= 256:
        t >>= 8
        n += 8
    while t > 1:
        t >>= 1
        n += 1
    if n >= 14:
        m = x >> (n - 14)
    else:
        m = x << (14 - n)
    f = m - 16384
    i = f >> 9
    lo = int(tab[i])
    # fixmath._DB_MUL, _DB_SHIFT
    return (((n << 12) + lo + (((int(tab[i + 1]) - lo) * (f & 511)) >> 9)) * 3083) >> 14


@micropython.viper
def isqrt(x: int) -> int:
    # fixmath.isqrt, step for step: floor(sqrt(x)) for 0 <= x < 2**30
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
