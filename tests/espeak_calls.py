"""Two-party test calls from real TTS speech: Debian's `espeak-ng`, placed on a timeline.

`say(text, voice, wpm, pitch)` renders one utterance with `espeak-ng -w OUT.wav -s WPM
-p PITCH -v VOICE TEXT` (cached as a WAV in a folder per test session) and returns it as
float at 8 kHz, trimmed to its speech. `build_call(timeline)` places utterances at chosen
times and mixes the two channels the way synth.py does: ch0 (rep headset mic) = rep +
customer echo (30 dB down, 5 ms late) + mic noise; ch1 (earpiece) = telephone-band
customer (Butterworth 300-3400 Hz) + rep sidetone (15 dB down) + line noise. Levels: rep
-20 dBFS, customer -22 dBFS while speaking. The truth is the timeline itself: each
party's speech intervals and the overlaps between them, with who started later.
"""

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass

import numpy as np
import soundfile as sf
from scipy import signal

RATE = 8000
ESPEAK = shutil.which("espeak-ng")

REP_LINES = (
    "Thank you for calling customer support, my name is Sam. I can see your account "
    "here on my screen. Let me check the last three payments for you. It looks like the "
    "direct debit failed on the fourth of March, so the bank returned it. I will set up "
    "a new payment date that suits you better, and there will be no extra charge."
)
CUSTOMER_LINES = (
    "Hi, I am calling about my bill from last month. It shows a late fee that I do not "
    "understand, because I always pay on time."
)
CUSTOMER_REPLY = "Okay, that sounds good. Can you send me an email to confirm it please?"
# interruptions: one clause each, so no pause inside breaks the overlap
REP_CUTS_IN = "Let me stop you there because I can take that late fee off for you right now"
CUSTOMER_CUTS_IN = "Sorry which date was that again"


def _cache_dir():
    path = os.environ.get("CALLCUE_ESPEAK_CACHE")
    if not path:
        raise RuntimeError("set CALLCUE_ESPEAK_CACHE to a folder (the tests' fixture does)")
    os.makedirs(path, exist_ok=True)
    return path


def say(text, voice="en-us", wpm=160, pitch=50):
    """One utterance as float64 at 8 kHz (full scale 1.0), leading and trailing silence
    removed; cached per (text, voice, wpm, pitch)."""
    key = hashlib.sha1(repr((text, voice, wpm, pitch)).encode()).hexdigest()[:16]
    path = os.path.join(_cache_dir(), key + ".wav")
    if not os.path.exists(path):
        tmp = "%s.%d.tmp.wav" % (path, os.getpid())   # concurrent renderers: no clash
        subprocess.run([ESPEAK, "-w", tmp, "-s", str(wpm), "-p", str(pitch), "-v", voice,
                        text], check=True, capture_output=True, timeout=60)
        os.replace(tmp, path)
    x, rate = sf.read(path, dtype="float64")
    g = np.gcd(RATE, rate)
    x = signal.resample_poly(x, RATE // g, rate // g)
    loud = np.flatnonzero(np.abs(x) > 0.01 * np.max(np.abs(x)))
    return x[loud[0] : loud[-1] + 1]


@dataclass
class Part:
    """An utterance on the timeline: who speaks it and when it starts (s)."""

    who: str          # "rep" or "customer"
    start_s: float
    audio: np.ndarray


def pauses(x, below_db=35.0, min_s=0.08):
    """(start_s, length_s) of the stretches inside x whose 10 ms level is more than
    below_db under x's loudest frame, at least min_s long."""
    n = len(x) // 80
    level = 10 * np.log10(np.mean(x[: n * 80].reshape(n, 80) ** 2, axis=1) + 1e-20)
    quiet = np.concatenate([[0], (level < level.max() - below_db).astype(np.int8), [0]])
    edges = np.diff(quiet)
    return [(a / 100, (b - a) / 100)
            for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True)
            if (b - a) / 100 >= min_s]


def steady_time(x, near_s, length_s=0.0, around_s=0.1, within_db=15.0, pause_s=0.2):
    """The time in x nearest to near_s (s) with no 10 ms frame in +-around_s more than
    within_db below x's median speech level, and no pause (see `pauses`) of pause_s or
    more in the length_s after it: a place to cut in for length_s where the other party
    is plainly speaking, not in a lull that noise would swallow."""
    n = len(x) // 80
    level = 10 * np.log10(np.mean(x[: n * 80].reshape(n, 80) ** 2, axis=1) + 1e-20)
    floor = np.median(level[level > level.max() - 35.0]) - within_db
    long_pauses = [(a, a + d) for a, d in pauses(x) if d >= pause_s]
    k = int(round(around_s * 100))
    ok = [i for i in range(k, n - k) if level[i - k : i + k + 1].min() > floor
          and not any(a < i / 100 + length_s and b > i / 100 for a, b in long_pauses)]
    if not ok:
        raise ValueError("no steady stretch in this utterance")
    return min(ok, key=lambda i: abs(i / 100 - near_s)) / 100


def _telephone_band(x):
    sos = signal.butter(6, (300.0, 3400.0), "bandpass", fs=RATE, output="sos")
    return signal.sosfilt(sos, x)


def _noise(x, dbfs):
    return x * (10 ** (dbfs / 20) / np.sqrt(np.mean(x * x)))


def _scale_to(x, mask, dbfs):
    rms = np.sqrt(np.mean(x[mask] ** 2)) if mask.any() else 1.0
    return x * (10 ** (dbfs / 20) / max(rms, 1e-12))


def build_call(parts, tail_s=1.0, noise_dbfs=-65.0, snr_db=None, seed=0):
    """Mix a timeline into an int16 (n, 2) call; return (pcm, truth).

    truth: {"rep": [(start, end), ...], "customer": [...], "overlaps": [{"start_s",
    "end_s", "interrupter", "longest_pause_s"}], "duration_s"}: an overlap is where an
    utterance starts while the other party's is under way, and longest_pause_s the
    longest pause (see `pauses`) of either utterance inside it. With snr_db, the noise
    sits that far below each party's speech level instead of at noise_dbfs.
    """
    rng = np.random.default_rng(seed)
    end = max(p.start_s + len(p.audio) / RATE for p in parts) + tail_s
    n = int(round(end * RATE))
    tracks = {"rep": np.zeros(n), "customer": np.zeros(n)}
    spans = {"rep": [], "customer": []}
    gaps = []
    for p in parts:
        i = int(round(p.start_s * RATE))
        tracks[p.who][i : i + len(p.audio)] += p.audio
        spans[p.who].append((i, i + len(p.audio)))
        gaps += [(i / RATE + a, i / RATE + a + d) for a, d in pauses(p.audio)]
    masks = {}
    for who, spn in spans.items():
        m = np.zeros(n, bool)
        for a, b in spn:
            m[a:b] = True
        masks[who] = m
    rep = _scale_to(tracks["rep"], masks["rep"], -20.0)
    cust = _scale_to(_telephone_band(tracks["customer"]), masks["customer"], -22.0)
    echo = np.concatenate([np.zeros(40), cust[:-40]]) * 10 ** (-30 / 20)
    mic_db = noise_dbfs if snr_db is None else -20.0 - snr_db
    line_db = noise_dbfs if snr_db is None else -22.0 - snr_db
    ch0 = rep + echo + _noise(rng.standard_normal(n), mic_db)
    ch1 = cust + rep * 10 ** (-15 / 20) + _noise(_telephone_band(rng.standard_normal(n)),
                                                 line_db)
    pcm = np.clip(np.rint(np.stack([ch0, ch1], axis=1) * 32768), -32768, 32767)
    truth = {"duration_s": n / RATE,
             "rep": [(a / RATE, b / RATE) for a, b in sorted(spans["rep"])],
             "customer": [(a / RATE, b / RATE) for a, b in sorted(spans["customer"])]}
    truth["overlaps"] = _overlaps(truth["rep"], truth["customer"], gaps)
    return pcm.astype(np.int16), truth


def _overlaps(rep, customer, gaps):
    out = []
    for who, mine, theirs in (("rep", rep, customer), ("customer", customer, rep)):
        for s, e in mine:
            for s2, e2 in theirs:
                end = min(e, e2)
                if s > s2 and end > s:   # started while the other was speaking
                    inside = [min(b, end) - max(a, s) for a, b in gaps if a < end and b > s]
                    out.append({"start_s": s, "end_s": end, "interrupter": who,
                                "longest_pause_s": max(inside, default=0.0)})
    return sorted(out, key=lambda o: o["start_s"])
