"""Build the real-speech regression calls: build/realspeech/calls/NAME.{wav,json} + index.json.

    python tests/realspeech/build.py [--fast] [--jobs N] [--force]

Per rep voice (sources.py), 8 calls of about 90 s: the rep's clean recorded speech,
manipulated per clip with Praat (F0 range scaled by k in 0, 0.25, 0.5, 1 around the
speaker's median at tempo 1; tempo 0.7, 0.85, 1.2, 1.4 at k=1 by "Lengthen
(overlap-add)"), placed in turns against a customer (another speaker) with 2+2 talk-overs,
2-3 backchannels and one dead-air gap, then put through a headset line (300-3400 Hz band,
levels, pink/brown noise, drifting sidetone, echo, keyboard typing). The truth comes from
the clean, full-band, manipulated tracks. Deterministic: every random choice comes from a
seed made from the call's name. A call whose NAME.json carries the current build hash
(this file + sources.py) is not rebuilt. --fast builds only the 4-call fast subset.
"""

import argparse
import gzip
import hashlib
import json
import os
import re
import sys
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from functools import cache
from pathlib import Path

import numpy as np
import parselmouth
import soundfile as sf
from parselmouth.praat import call as praat
from scipy.signal import butter, resample_poly, sosfilt

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import fetch  # noqa: E402
from sources import CUSTOMER_OF, FAST_VOICES, PACKAGES, REP_VOICES, VOICES  # noqa: E402

ROOT = HERE.parent.parent
OUT = ROOT / "build" / "realspeech"
CALLS = OUT / "calls"
CACHE = OUT / "cache"
SR = 16000
HOP = 0.01  # VAD frame step (s)

KS = (0.0, 0.25, 0.5, 1.0)
TEMPOS = (0.7, 0.85, 1.2, 1.4)
FAST_SPECS = [(v, k, 1.0) for v in FAST_VOICES for k in (0.0, 1.0)]

REP_SPEECH_S = 42.0  # rep speech (VAD) per call, after the tempo change


def build_hash():
    h = hashlib.sha256()
    for f in (Path(__file__), HERE / "sources.py"):
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def call_name(voice, k, tempo):
    return f"{voice}_k{k:.2f}_t{tempo:.2f}"


def all_specs():
    return [(v, k, 1.0) for v in REP_VOICES for k in KS] + [
        (v, 1.0, t) for v in REP_VOICES for t in TEMPOS
    ]


# ---------------------------------------------------------------- audio helpers


def load16k(path):
    x, sr = sf.read(path, dtype="float64", always_2d=True)
    x = x.mean(axis=1)
    if sr != SR:
        g = np.gcd(int(sr), SR)
        x = resample_poly(x, SR // g, int(sr) // g)
    return x


def vad(x, sr=SR, rel_db=35.0, min_gap=0.15, min_seg=0.04):
    """Energy VAD on a clean clip: 25 ms frames every 10 ms, a frame is speech when it is
    within rel_db of the clip's loudest frame; gaps < min_gap merged, islands < min_seg
    dropped. Returns [(start_s, end_s)]."""
    win, hop = int(0.025 * sr), int(HOP * sr)
    if x.size < win:
        return []
    n = 1 + (x.size - win) // hop
    idx = np.arange(win)[None, :] + hop * np.arange(n)[:, None]
    e = 10 * np.log10(np.mean(x[idx] ** 2, axis=1) + 1e-12)
    on = e > max(e.max() - rel_db, -75.0)
    segs, i = [], 0
    while i < n:
        if on[i]:
            j = i
            while j < n and on[j]:
                j += 1
            segs.append([i * HOP + 0.0125 - HOP / 2, (j - 1) * HOP + 0.0125 + HOP / 2])
            i = j
        else:
            i += 1
    return merge(segs, min_gap, min_seg)


def merge(segs, min_gap=0.15, min_seg=0.0):
    out = []
    for s, e in sorted(segs):
        if out and s - out[-1][1] < min_gap:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(round(s, 4), round(e, 4)) for s, e in out if e - s >= min_seg]


def total(segs):
    return float(sum(e - s for s, e in segs))


def intersect(a, b):
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        s, e = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if s < e:
            out.append((s, e))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def fade(x, ms=10):
    n = min(int(ms * SR / 1000), x.size // 2)
    if n > 0:
        r = np.linspace(0, 1, n)
        x = x.copy()
        x[:n] *= r
        x[-n:] *= r[::-1]
    return x


def pitch_frames(x, floor, ceil):
    p = parselmouth.Sound(x, SR).to_pitch_ac(time_step=0.01, pitch_floor=floor, pitch_ceiling=ceil)
    f = p.selected_array["frequency"]
    return f[f > 0]


def pitch_track_two_pass(x):
    """Praat's pitch (autocorrelation, 10 ms) with the range fitted to the speaker, the
    usual two-pass method: a first pass at 60-600 Hz, then floor 0.75 x its 25th and
    ceiling 1.5 x its 75th percentile (Hirst). A fixed wide range lets Praat's own
    octave jumps into the truth. Returns (frame times s, F0 Hz with 0 unvoiced,
    floor, ceiling)."""
    snd = parselmouth.Sound(x, SR)
    f = snd.to_pitch_ac(time_step=0.01, pitch_floor=60, pitch_ceiling=600)
    f = f.selected_array["frequency"]
    q25, q75 = np.percentile(f[f > 0], [25, 75])
    floor, ceil = max(50.0, 0.75 * q25), 1.5 * q75
    p = snd.to_pitch_ac(time_step=0.01, pitch_floor=floor, pitch_ceiling=ceil)
    return p.xs(), p.selected_array["frequency"], floor, ceil


# ---------------------------------------------------------------- syllables


CS_V = "aáeéěiíoóuúůyý"
EN_V = "aeiouy"
IT_V = "aeiouàèéìíòóùú"


def syllables_cs(text):
    """Czech: vowel groups, plus syllabic r/l (after a consonant, before a consonant or
    the end of the word: vl-k, Pe-tr). Words without a vowel (k, v, s, z) count 0."""
    n = 0
    for w in re.findall(r"[^\W\d_]+", text.lower()):
        n += len(re.findall(f"[{CS_V}]+", w))
        for i, c in enumerate(w):
            if (
                c in "rl"
                and i > 0
                and w[i - 1] not in CS_V
                and (i + 1 == len(w) or w[i + 1] not in CS_V)
            ):
                n += 1
    return n


def syllables_en(text):
    """English: vowel groups (a e i o u y), minus a silent final e (not -le), >= 1/word."""
    n = 0
    for w in re.findall(r"[a-z']+", text.lower()):
        g = len(re.findall(f"[{EN_V}]+", w))
        if w.endswith("e") and not w.endswith("le") and g > 1:
            g -= 1
        n += max(g, 1)
    return n


def syllables_it(text):
    """Italian: vowel groups (a diphthong such as ia, uo, ai counts once; a hiatus such as
    pa-u-ra is undercounted). The package's text has lost some accented vowels to '?'
    (sar?, citt?): a '?' right after a letter counts as a vowel. A text with digits
    (spoken numbers) gives None: the clip then falls back to syllable nuclei."""
    if re.search(r"\d", text):
        return None
    t = re.sub(r"(?<=[^\W\d_])\?", "a", text.lower())
    return sum(len(re.findall(f"[{IT_V}]+", w)) for w in re.findall(r"[^\W\d_]+", t))


def syllable_nuclei(x, floor=75, ceil=600):
    """de Jong & Wempe (2009) style syllable nuclei: Praat intensity peaks above
    (0.99-quantile - 25 dB), at least 2 dB above the dip before them, and voiced."""
    s = parselmouth.Sound(x, SR)
    it = s.to_intensity(minimum_pitch=50, time_step=0.01)
    v = it.values[0]
    t = it.xs()
    thr = max(np.quantile(v, 0.99) - 25.0, np.min(v))
    pitch = s.to_pitch_ac(time_step=0.01, pitch_floor=floor, pitch_ceiling=ceil)
    peaks = [
        i for i in range(1, len(v) - 1) if v[i] > v[i - 1] and v[i] >= v[i + 1] and v[i] > thr
    ]
    kept = []
    for i in peaks:
        if kept:
            dip = v[kept[-1] : i + 1].min()
            if v[i] - dip < 2.0 or v[kept[-1]] - dip < 2.0:
                if v[i] > v[kept[-1]] and v[kept[-1]] - dip < 2.0:
                    kept[-1] = i
                continue
        kept.append(i)
    n = 0
    for i in kept:
        f = pitch.get_value_at_time(t[i])
        if f == f and f > 0:
            n += 1
    return n


def transcripts(voice):
    tr = VOICES[voice]["transcript"]
    if not tr:
        return {}
    pkg, pattern, fmt = tr
    out = {}
    for f in fetch.source_glob(pkg, pattern):
        if f.endswith(".gz"):
            with gzip.open(f, "rt", encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        else:
            text = Path(f).read_text(encoding="utf-8", errors="replace")
        if fmt == "asterisk-txt":
            # "name: text" per line (name may hold a folder: dictate/both_help); a text in
            # [brackets] or about a tone is not speech
            for line in text.splitlines():
                name, sep, said = line.partition(":")
                said = said.strip()
                if not sep or line.startswith(";") or not said or said.startswith("["):
                    continue
                if "beep" in said or "suono" in said or "tono" in said:
                    continue
                out.setdefault(name.strip().lstrip("\ufeff"), said)
                out.setdefault(name.strip().rsplit("/", 1)[-1], said)
            continue
        if fmt == "fillets-lua":
            rx = r'dialogId\("([^"]+)"[^\n]*\)\s*dialogStr\("((?:[^"\\]|\\.)*)"\)'
        else:  # warzone-js
            rx = r'"audio": "(tut\d+)\.ogg"[^}]*?"message": _\("((?:[^"\\]|\\.)*)"\)'
        for m in re.finditer(rx, text):
            out.setdefault(m.group(1), m.group(2))
    return out


# ---------------------------------------------------------------- voice material


def analyse_voice(voice, limit):
    """Per-clip facts of a voice (cached): file, speech extent, VAD, median F0, syllables."""
    meta = VOICES[voice]
    files = []
    for g in meta["glob"]:
        files += fetch.source_glob(meta["package"], g)
    files = sorted(set(files))
    tr = transcripts(voice)
    if meta.get("only_transcribed"):
        files = [f for f in files if Path(f).stem in tr]
    rng = np.random.default_rng(zlib.crc32(voice.encode()))
    order = [files[i] for i in rng.permutation(len(files))][:limit]
    key = hashlib.sha256(
        json.dumps(
            [build_hash(), voice, order, limit, PACKAGES[meta["package"]]["version"]]
        ).encode()
    )
    key = key.hexdigest()[:16]
    cfile = CACHE / f"{voice}.json"
    if cfile.is_file():
        c = json.loads(cfile.read_text())
        if c.get("key") == key:
            return c
    floor, ceil = meta["pitch"]
    clips = []
    for f in order:
        x = load16k(f)
        whole = vad(x)
        if not whole:
            continue
        stem = Path(f).stem
        for segs in split_utterances(whole) if meta.get("split_long") else [whole]:
            a, b = int(segs[0][0] * SR), int(segs[-1][1] * SR)
            d = clip_facts(f, x, a, b, segs, meta, tr.get(stem), floor, ceil)
            if d:
                clips.append(d)
    c = {"key": key, "voice": voice, "clips": clips}
    CACHE.mkdir(parents=True, exist_ok=True)
    text = json.dumps(c)
    cfile.write_text(text)
    return json.loads(text)  # the same (lists, not tuples) whether cached or fresh


def split_utterances(segs, min_pause=0.35, max_len=6.5):
    """Group a long file's VAD segments into utterances at pauses >= min_pause."""
    out, cur = [], []
    for s in segs:
        if cur and (s[0] - cur[-1][1] >= min_pause or s[1] - cur[0][0] > max_len):
            out.append(cur)
            cur = []
        cur.append(s)
    if cur:
        out.append(cur)
    return out


def clip_facts(f, x, a, b, segs, meta, text, floor, ceil):
    """One clip's facts (segs are relative to the file; [a, b) its speech samples)."""
    if b - a < int(0.3 * SR):
        return None
    f0 = pitch_frames(x[a:b], floor, ceil)
    d = {
        "file": os.path.relpath(f, fetch.SRC_DIR),
        "dur": x.size / SR,
        "segs": segs,
        "speech": total(segs),
        "median_f0": float(np.median(f0)) if f0.size else None,
    }
    if meta["role"] == "rep":
        count = {"cs": syllables_cs, "it": syllables_it}.get(meta["lang"], syllables_en)
        n = count(text) if text is not None else None
        if n is not None:
            d["text"] = text
            d["syllables"] = n
            d["rate_source"] = "transcript"
        else:
            d["syllables"] = syllable_nuclei(x[a:b], floor, ceil)
            d["rate_source"] = "nuclei"
    return d


@cache
def rep_material(voice):
    """The rep's fixed, ordered clip list (~75 s of speech) and the speaker's median F0."""
    meta = VOICES[voice]
    low = meta.get("prefer_low_f0")
    c = analyse_voice(voice, 600 if low else 220)
    min_speech = 1.0 if meta.get("split_long") else 2.2
    ok = [
        d
        for d in c["clips"]
        if min_speech <= d["speech"]
        and d["segs"][-1][1] - d["segs"][0][0] <= 7.0
        and d["median_f0"]
        and d.get("syllables", 1) > 0
    ]
    if low:
        ok = sorted(ok, key=lambda d: d["median_f0"])
    out, s = [], 0.0
    for d in ok:
        out.append(d)
        s += d["speech"]
        if s >= 1.5 * REP_SPEECH_S:  # enough for tempo 1.4 (46 * 1.4 = 64.4 s)
            break
    floor, ceil = meta["pitch"]
    f0 = np.concatenate([pitch_frames(load_clip(d), floor, ceil) for d in out])
    return out, float(np.median(f0)), s


@cache
def customer_material(voice):
    c = analyse_voice(voice, 160)
    turns = [
        d for d in c["clips"] if 1.8 <= d["speech"] and d["segs"][-1][1] - d["segs"][0][0] <= 7.0
    ]
    return turns


def first_word(x):
    """(onset_s, cut_s) of a clip's first syllable/word: from its speech onset to the
    deepest energy dip (>= 8 dB below the peak before it) 0.15-0.3 s later, or None."""
    segs = vad(x)
    if not segs:
        return None
    hop, win = int(HOP * SR), int(0.02 * SR)
    n = 1 + (x.size - win) // hop
    idx = np.arange(win)[None, :] + hop * np.arange(n)[:, None]
    e = 10 * np.log10(np.mean(x[idx] ** 2, axis=1) + 1e-12)
    i0 = int(segs[0][0] / HOP)
    a, b = i0 + 15, min(i0 + 30, n - 1)
    if b <= a:
        return None
    j = a + int(np.argmin(e[a:b]))
    if e[j] > e[i0:j].max() - 8.0:
        return None
    return segs[0][0], j * HOP + 0.01


def load_clip(d, pad=0.05):
    """The clip trimmed to its speech extent +- pad, faded."""
    x = load16k(str(fetch.SRC_DIR / d["file"]))
    a = max(0, int((d["segs"][0][0] - pad) * SR))
    b = min(x.size, int((d["segs"][-1][1] + pad) * SR))
    return fade(x[a:b])


# ---------------------------------------------------------------- Praat manipulation


def manipulate(x, k, tempo, median, floor, ceil):
    """F0 range scaled by k around `median`, then duration scaled by 1/tempo (pitch kept)."""
    if k == 1.0 and tempo == 1.0:
        return x
    s = parselmouth.Sound(x, SR)
    if k != 1.0:
        man = praat(s, "To Manipulation", 0.01, floor, ceil)
        pt = praat(man, "Extract pitch tier")
        new = praat("Create PitchTier", "new", s.xmin, s.xmax)
        for i in range(1, praat(pt, "Get number of points") + 1):
            v = praat(pt, "Get value at index", i)
            praat(
                new, "Add point", praat(pt, "Get time from index", i), median * (v / median) ** k
            )
        praat([new, man], "Replace pitch tier")
        s = praat(man, "Get resynthesis (overlap-add)")
    if tempo != 1.0:
        s = praat(s, "Lengthen (overlap-add)", floor, ceil, 1.0 / tempo)
    y = s.values[0].copy()
    return fade(y, 5)


def group_turns(who, items, rng, lo, hi):
    """Join consecutive (x, segs, clip) items into turns of lo-hi s of speech extent."""
    turns, cur = [], []

    def flush():
        x, segs, clips, t = [], [], [], 0.0
        for j, (y, sg, d) in enumerate(cur):
            if j:
                gap = np.zeros(int(rng.uniform(0.25, 0.6) * SR))
                x.append(gap)
                t += gap.size / SR
            x.append(y)
            segs += [(a + t, b + t) for a, b in sg]
            clips.append(d)
            t += y.size / SR
        turns.append({"who": who, "x": np.concatenate(x), "segs": merge(segs), "clips": clips})

    target = rng.uniform(lo, hi)
    for it in items:
        if cur:
            ext = sum(c[1][-1][1] - c[1][0][0] + 0.4 for c in cur) - 0.4
            if ext + 0.4 + it[1][-1][1] - it[1][0][0] > hi or ext >= target:
                flush()
                cur = []
                target = rng.uniform(lo, hi)
        cur.append(it)
    if cur:
        flush()
    return turns


# ---------------------------------------------------------------- the line


def coloured_noise(n, rng, kind):
    w = rng.standard_normal(n)
    W = np.fft.rfft(w)
    f = np.fft.rfftfreq(n, 1 / SR)
    f[0] = f[1]
    W /= np.sqrt(f) if kind == "pink" else f
    y = np.fft.irfft(W, n)
    y = sosfilt(butter(1, 20, "highpass", fs=SR, output="sos"), y)
    return y / np.sqrt(np.mean(y**2))


def active_rms(x, segs):
    parts = [x[int(s * SR) : int(e * SR)] for s, e in segs]
    v = np.concatenate(parts) if parts else x
    return float(np.sqrt(np.mean(v**2)) + 1e-12)


def db(v):
    return 10 ** (v / 20)


def typing_burst(n, start, dur, rng, peak_dbfs):
    """Keyboard clicks: 5-10 per second, each a 4-12 ms decaying filtered-noise transient."""
    y = np.zeros(n)
    rate = rng.uniform(5, 10)
    t = start
    clicks = []
    while t < start + dur:
        L = int(rng.uniform(0.004, 0.012) * SR)
        c = rng.standard_normal(L) * np.exp(-np.arange(L) / (L / 4))
        lo = rng.uniform(800, 2000)
        c = sosfilt(butter(2, [lo, min(lo * 3, 7000)], "bandpass", fs=SR, output="sos"), c)
        c *= db(peak_dbfs + rng.uniform(-3, 3)) / np.max(np.abs(c))
        a = int(t * SR)
        if a + L < n:
            y[a : a + L] += c
            clicks.append(round(t, 3))
        t += rng.exponential(1 / rate) * 0.6 + 0.4 / rate
    return y, clicks


# ---------------------------------------------------------------- one call


def build_call(spec, bhash, force=False):
    voice, k, tempo = spec
    name = call_name(voice, k, tempo)
    jpath, wpath = CALLS / f"{name}.json", CALLS / f"{name}.wav"
    if not force and jpath.is_file() and wpath.is_file():
        try:
            if json.loads(jpath.read_text()).get("build_hash") == bhash:
                return name, False
        except ValueError:
            pass
    seed = zlib.crc32(name.encode())
    rng = np.random.default_rng(seed)
    meta = VOICES[voice]
    floor, ceil = meta["pitch"]
    cvoice = CUSTOMER_OF[voice]
    cmeta = VOICES[cvoice]

    # -- rep turns: the fixed clip order, manipulated per clip, until 46 s of rep
    # speech; consecutive clips joined (0.25-0.6 s pauses) into turns of 3-10 s
    rclips, median, _ = rep_material(voice)
    rep_items = []
    speech = 0.0
    looped = False
    while speech < REP_SPEECH_S:  # loops over the clips again only if they run out
        for d in rclips:
            y = manipulate(load_clip(d), k, tempo, median, floor, ceil)
            segs = vad(y)
            rep_items.append((y, segs, d))
            speech += total(segs)
            if speech >= REP_SPEECH_S:
                break
        else:
            looped = True
    rep_turns = group_turns("rep", rep_items, rng, 3.5, 8.0)
    # -- customer turns: random clips of another speaker, turns of 3-7 s
    cpool = customer_material(cvoice)
    cidx = rng.permutation(len(cpool))
    cust_items, used_c = [], 0
    while len(group_turns("customer", cust_items, np.random.default_rng(seed), 3.0, 7.0)) < len(
        rep_turns
    ) - 1 or used_c < 2 * len(rep_turns):
        d = cpool[cidx[used_c]]
        y = load_clip(d)
        cust_items.append((y, vad(y), d))
        used_c += 1
        if used_c >= len(cpool) - 10:
            break
    cust_turns = group_turns("customer", cust_items, rng, 3.0, 7.0)
    turns = []
    for i, r in enumerate(rep_turns):
        turns.append(r)
        if i < len(cust_turns) and i < len(rep_turns) - 1:
            turns.append(cust_turns[i])

    # -- boundaries: 2 rep-interrupts (customer -> rep), 2 customer-interrupts
    # (rep -> customer), 1 dead air, the rest plain gaps; special ones not adjacent
    nb = len(turns) - 1
    kinds = ["gap"] * nb
    used = set()

    def pick(pred):
        cand = [b for b in range(1, nb) if pred(b) and not ({b - 1, b, b + 1} & used)]
        if not cand:  # no room left: allow a neighbour of a special boundary
            cand = [b for b in range(1, nb) if pred(b) and b not in used]
        b = int(cand[rng.integers(len(cand))])
        used.add(b)
        return b

    def ext(tr):
        return tr["segs"][-1][1] - tr["segs"][0][0]

    def long_pair(b):  # room for a 1-4 s early start with 0.8-2 s of both speaking
        return ext(turns[b]) >= 3.0 and ext(turns[b + 1]) >= 3.0

    for _ in range(2):
        kinds[pick(lambda b: turns[b + 1]["who"] == "rep" and long_pair(b))] = "rep"
    for _ in range(2):
        kinds[pick(lambda b: turns[b + 1]["who"] == "customer" and long_pair(b))] = "customer"
    kinds[pick(lambda b: True)] = "dead_air"

    # -- place the turns
    t = 1.0
    placed = []  # (who, start_s of clip, x, segs(abs), clip)
    talkovers, dead_air = [], []
    prev_segs = None  # speech of the turn that ends last so far
    for i, tr in enumerate(turns):
        x, segs = tr["x"], tr["segs"]
        on = segs[0][0]
        if prev_segs is None:
            start = t
        else:
            kind = kinds[i - 1]
            pend = prev_segs[-1][1]
            if kind in ("rep", "customer"):
                target = rng.uniform(0.9, 1.8)
                best = None
                for d in np.arange(1.0, 4.0001, 0.05):
                    st = pend - d
                    if st - on < prev_segs[0][0] + 1.0 or d > segs[-1][1] - on - 0.5:
                        continue
                    shifted = [(a - on + st, b - on + st) for a, b in segs]
                    ov = intersect(prev_segs, shifted)
                    o = total(ov)
                    if 0.8 <= o <= 2.0 and (best is None or abs(o - target) < best[0]):
                        best = (abs(o - target), st, ov)
                if best is None:
                    raise RuntimeError(f"{name}: no talk-over placement at turn {i}")
                _, sp, ov = best
                start = sp - on
                talkovers.append(
                    {
                        "start_s": round(ov[0][0], 3),
                        "end_s": round(ov[-1][1], 3),
                        "interrupter": kind,
                        "both_speaking_s": round(total(ov), 3),
                        "lead_s": round(pend - sp, 3),
                    }
                )
            elif kind == "dead_air":
                g = rng.uniform(6.2, 7.8)
                start = pend + g - on
                dead_air.append({"start_s": round(pend, 3), "end_s": round(pend + g, 3)})
            else:
                start = pend + rng.uniform(0.3, 1.5) - on
            start = max(start, 0.0)
        abs_segs = [(a + start, b + start) for a, b in segs]
        placed.append(
            {"who": tr["who"], "start": start, "x": x, "segs": abs_segs, "clips": tr["clips"]}
        )
        if prev_segs is None or abs_segs[-1][1] > prev_segs[-1][1]:
            prev_segs = abs_segs
    dur = max(p["start"] + p["x"].size / SR for p in placed) + 1.5

    # -- backchannels: a short word of one party inside a long turn of the other
    nbc = int(rng.integers(2, 4))
    bcs = []
    in_turns = {(d["file"], d["segs"][0][0]) for d in rclips}
    rep_bc_pieces = [
        d
        for d in analyse_voice(voice, 600 if meta.get("prefer_low_f0") else 220)["clips"]
        if (d["file"], d["segs"][0][0]) not in in_turns
    ]
    cust_bc_pieces = [cpool[i] for i in cidx[used_c:]]
    busy = [(a["start_s"] - 1.5, a["end_s"] + 1.5) for a in talkovers] + [
        (d["start_s"] - 1.0, d["end_s"] + 1.0) for d in dead_air
    ]
    for j in range(nbc):
        who = "customer" if j % 2 == 0 else "rep"
        host = [
            p
            for p in placed
            if p["who"] != who
            and not p.get("backchannel")
            and p["segs"][-1][1] - p["segs"][0][0] > 3.0
        ]
        pieces = cust_bc_pieces if who == "customer" else rep_bc_pieces
        for _ in range(50):
            p = host[rng.integers(len(host))]
            d = pieces[rng.integers(len(pieces))]
            x = load16k(str(fetch.SRC_DIR / d["file"]))
            fw = first_word(x)
            if fw is None:
                continue
            frag = x[max(0, int((fw[0] - 0.03) * SR)) : int(fw[1] * SR)]
            frag = np.concatenate([fade(frag, 15)[: frag.size], np.zeros(int(0.02 * SR))])
            if who == "rep":
                frag = manipulate(frag, k, tempo, median, floor, ceil)
            fs = vad(frag)
            # a backchannel as the engine defines one (dsp/talkover.py): 150-300 ms of
            # speech; a longer overlap is a talk-over however polite
            if not fs or not 0.15 <= fs[-1][1] - fs[0][0] <= 0.3:
                continue
            a0, b0 = p["segs"][0][0] + 1.0, p["segs"][-1][1] - 1.0 - (fs[-1][1] - fs[0][0])
            if b0 <= a0:
                continue
            sp = rng.uniform(a0, b0)
            st = sp - fs[0][0]
            iv = (round(st + fs[0][0], 3), round(st + fs[-1][1], 3))
            if any(not (iv[1] < lo or iv[0] > hi) for lo, hi in busy):
                continue
            busy.append((iv[0] - 1.5, iv[1] + 1.5))
            placed.append(
                {
                    "who": who,
                    "start": st,
                    "x": frag,
                    "segs": [(a + st, b + st) for a, b in fs],
                    "clips": [d],
                    "backchannel": True,
                }
            )
            bcs.append(
                {"start_s": iv[0], "end_s": iv[1], "who": who, "speech_s": round(total(fs), 3)}
            )
            break

    # -- clean tracks (full band, manipulated) and truth
    n = int(dur * SR)
    clean = {"rep": np.zeros(n), "customer": np.zeros(n)}
    segs = {"rep": [], "customer": []}
    for p in placed:
        a = int(round(p["start"] * SR))
        clean[p["who"]][a : a + p["x"].size] += p["x"][: n - a]
        segs[p["who"]] += [list(s) for s in p["segs"]]
    segs = {w: merge(s) for w, s in segs.items()}
    f0_t, f0_track, pfloor, pceil = pitch_track_two_pass(clean["rep"])
    f0 = f0_track[f0_track > 0]
    med = float(np.median(f0))
    st = 12 * np.log2(f0 / med)
    sd = float(np.std(st))
    rep_clip_list = [p for p in placed if p["who"] == "rep"]
    rep_used = [d for p in rep_clip_list if not p.get("backchannel") for d in p["clips"]]
    syl = sum(d.get("syllables", 0) for d in rep_used)
    syl += sum(1 for p in rep_clip_list if p.get("backchannel"))  # one word each
    srcs = sorted({d.get("rate_source", "?") for d in rep_used})
    rep_s = total(segs["rep"])

    # -- the line
    bp = butter(4, [300, 3400], "bandpass", fs=SR, output="sos")
    lv = {"rep": rng.uniform(-32, -18), "customer": rng.uniform(-32, -18)}
    line = {}
    for w in ("rep", "customer"):
        y = sosfilt(bp, clean[w])
        line[w] = y * db(lv[w]) / active_rms(y, segs[w])
    tt = np.arange(n) / SR
    st_att = rng.uniform(15, 17)
    st_period = rng.uniform(40, 90)
    st_gain_db = -st_att + 3.0 * np.sin(2 * np.pi * tt / st_period + rng.uniform(0, 2 * np.pi))
    st_fc = rng.uniform(2000, 3000)
    sidetone = sosfilt(butter(2, st_fc, "lowpass", fs=SR, output="sos"), line["rep"])
    sidetone = sidetone * db(st_gain_db)
    ec_delay = rng.uniform(0.02, 0.06)
    ec_att = rng.uniform(25, 35)
    ec = sosfilt(butter(2, [400, 3000], "bandpass", fs=SR, output="sos"), line["customer"])
    dn = int(ec_delay * SR)
    echo = np.concatenate([np.zeros(dn), ec[: n - dn]]) * db(-ec_att)
    snr = {"rep": rng.uniform(15, 30), "customer": rng.uniform(15, 30)}
    kind = {
        "rep": str(rng.choice(["pink", "brown"])),
        "customer": str(rng.choice(["pink", "brown"])),
    }
    noise = {w: coloured_noise(n, rng, kind[w]) * db(lv[w] - snr[w]) for w in snr}
    # typing: once in a rep pause (a customer turn), once during rep speech
    typing = np.zeros(n)
    bursts = []
    for who in ("customer", "rep"):
        host = [
            p
            for p in placed
            if p["who"] == who
            and not p.get("backchannel")
            and p["segs"][-1][1] - p["segs"][0][0] > 3.0
        ]
        p = host[rng.integers(len(host))]
        bd = rng.uniform(2.0, 3.5)
        a = rng.uniform(
            p["segs"][0][0] + 0.3, max(p["segs"][0][0] + 0.4, p["segs"][-1][1] - bd - 0.3)
        )
        y, clicks = typing_burst(n, a, bd, rng, -40.0)
        typing += y
        bursts.append(
            {
                "start_s": round(a, 3),
                "end_s": round(a + bd, 3),
                "during": who,
                "clicks": len(clicks),
            }
        )
    mic = line["rep"] + echo + typing + noise["rep"]
    ear = line["customer"] + sidetone + noise["customer"]
    peak = max(np.max(np.abs(mic)), np.max(np.abs(ear)))
    gain = 1.0 if peak < 0.98 else 0.98 / peak
    pcm = np.round(np.stack([mic, ear], axis=1) * gain * 32767).clip(-32768, 32767)
    CALLS.mkdir(parents=True, exist_ok=True)
    sf.write(wpath, pcm.astype(np.int16), SR, subtype="PCM_16")

    tempo_ok = tempo <= 1.0
    present = ["talkover", "dead_air"] + (["flat"] if sd <= 1.0 else [])
    absent = (["flat"] if sd >= 2.0 else []) + (["fast"] if tempo_ok else [])
    truth = {
        "schema": "callcue.realspeech/1",
        "name": name,
        "build_hash": bhash,
        "seed": seed,
        "duration_s": round(n / SR, 3),
        "sample_rate_hz": SR,
        "channels": ["rep (headset mic)", "customer (earpiece)"],
        "rep_voice": voice,
        "rep_sex": meta["sex"],
        "rep_lang": meta["lang"],
        "customer_voice": cvoice,
        "customer_sex": cmeta["sex"],
        "k": k,
        "tempo": tempo,
        "speaker_median_hz": round(median, 2),
        "pitch_floor_hz": floor,
        "pitch_ceiling_hz": ceil,
        "rep": {"speech": segs["rep"], "speech_s": round(rep_s, 3)},
        "customer": {"speech": segs["customer"], "speech_s": round(total(segs["customer"]), 3)},
        "talkovers": talkovers,
        "backchannels": sorted(bcs, key=lambda b: b["start_s"]),
        "dead_air": dead_air,
        "pitch": {
            # Praat on the clean rep track, range fitted in two passes (see
            # pitch_track_two_pass); the track itself is in NAME.f0.npy
            "median_hz": round(med, 3),
            "sd_semitones": round(sd, 4),
            "voiced_frames": int(f0.size),
            "praat_range_hz": [round(pfloor, 1), round(pceil, 1)],
            # for reading only (the cues use the plain SD): a robust spread and the
            # share of frames more than 6 st off (tracker octave errors on creak)
            "sd_semitones_mad": round(float(1.4826 * np.median(np.abs(st))), 4),
            "share_beyond_6st": round(float(np.mean(np.abs(st) > 6)), 4),
        },
        "rate": {
            "syllables": int(syl),
            "rep_speaking_s": round(rep_s, 3),
            "rate_sps": round(syl / rep_s, 4),
            "rate_source": "+".join(srcs),
        },
        "line": {
            "band_hz": [300, 3400],
            # active speech level of each party in its own channel, after output_gain
            "level_dbfs": {w: round(v + 20 * np.log10(gain), 2) for w, v in lv.items()},
            "level_dbfs_drawn": {w: round(v, 2) for w, v in lv.items()},
            "snr_db": {w: round(v, 2) for w, v in snr.items()},
            "noise": kind,
            "sidetone": {
                "atten_db": round(st_att, 2),
                "drift_db": 3.0,
                "drift_period_s": round(st_period, 1),
                "lowpass_hz": round(st_fc),
            },
            "echo": {
                "atten_db": round(ec_att, 2),
                "delay_ms": round(1000 * ec_delay, 1),
                "band_hz": [400, 3000],
            },
            "typing": bursts,
            "output_gain": round(gain, 4),
        },
        "rep_clips": [d["file"] for d in rep_used],
        "looped": looped,
        "expected_cues": {"present": present, "absent": absent},
    }
    # the truth F0 track: (frame centre s, Hz; 0 unvoiced) per 10 ms
    np.save(jpath.with_suffix(".f0.npy"), np.stack([f0_t, f0_track]).astype(np.float32))
    jpath.write_text(json.dumps(truth, indent=1))
    return name, True


def _job(args):
    spec, bhash, force = args
    t = time.time()
    name, built = build_call(spec, bhash, force)
    return name, built, time.time() - t


def build(fast=False, jobs=None, force=False, quiet=False):
    specs = FAST_SPECS if fast else all_specs()
    voices = sorted({s[0] for s in specs})
    fetch.fetch_all(voices, quiet=quiet)
    bhash = build_hash()
    # warm the per-voice caches once (serially) before the calls run in parallel
    for v in voices:
        rep_material(v)
        customer_material(CUSTOMER_OF[v])
    jobs = jobs or min(os.cpu_count() or 1, 4)
    args = [(s, bhash, force) for s in specs]
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as ex:
            res = list(ex.map(_job, args))
    else:
        res = [_job(a) for a in args]
    for name, built, dt in res:
        if not quiet:
            print(f"{'built  ' if built else 'skipped'} {name} ({dt:.1f} s)")
    write_index()
    return [call_name(*s) for s in specs]


def write_index():
    calls = []
    for j in sorted(CALLS.glob("*.json")):
        t = json.loads(j.read_text())
        calls.append(
            {
                "name": t["name"],
                "wav": f"calls/{t['name']}.wav",
                "truth": f"calls/{t['name']}.json",
                "fast": (t["rep_voice"], t["k"], t["tempo"]) in FAST_SPECS,
                "rep_voice": t["rep_voice"],
                "rep_sex": t["rep_sex"],
                "customer_voice": t["customer_voice"],
                "k": t["k"],
                "tempo": t["tempo"],
                "duration_s": t["duration_s"],
                "sd_semitones": t["pitch"]["sd_semitones"],
                "rate_sps": t["rate"]["rate_sps"],
                "build_hash": t["build_hash"],
            }
        )
    (OUT / "index.json").write_text(json.dumps({"calls": calls}, indent=1))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fast", action="store_true", help="only the 4-call fast subset")
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--force", action="store_true", help="rebuild even if up to date")
    a = ap.parse_args(argv)
    t = time.time()
    try:
        names = build(a.fast, a.jobs, a.force)
    except fetch.FetchError as e:
        print(f"build.py: error: {e}", file=sys.stderr)
        return 1
    print(f"{len(names)} call(s) in {os.path.relpath(CALLS, ROOT)}/ ({time.time() - t:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
