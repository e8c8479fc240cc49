"""Read call WAVs as the DSP sees them: int16 rep and customer channels at 8000 Hz.

A call is either one stereo WAV (channel 0 = rep, the headset microphone; channel 1 =
customer, the earpiece) or two mono WAVs. Accepted encodings: 16/24/32-bit PCM and
32/64-bit float, any sample rate. Samples go to float, are resampled with
scipy.signal.resample_poly by the exact rational factor, then rounded and clipped to
int16, the DSP's input format. A 16-bit file already at 8000 Hz comes through bit-exact.

Anything that cannot be analysed raises InputError(path, reason); the reason says what is
wrong and, where it helps, how to fix it.
"""

import os
import struct
from math import gcd

import numpy as np
import soundfile as sf

DSP_RATE_HZ = 8000
FRAME = 80  # samples per 10 ms DSP frame at 8000 Hz

# libsndfile container and encoding names that we accept.
_WAV_FORMATS = ("WAV", "WAVEX", "RF64")
_SUBTYPES = {
    "PCM_16": "16-bit PCM",
    "PCM_24": "24-bit PCM",
    "PCM_32": "32-bit PCM",
    "FLOAT": "32-bit float",
    "DOUBLE": "64-bit float",
}
_SUPPORTED = "16/24/32-bit PCM or 32/64-bit float"


class InputError(Exception):
    """A file that cannot be analysed: `path` and a one-line `reason`."""

    def __init__(self, path, reason):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def read_call(path=None, customer=None):
    """Read a call and return (rep, customer, info) with int16 arrays at 8000 Hz.

    `path` alone must be a stereo WAV. With `customer`, `path` is the rep's mono WAV and
    `customer` the customer's mono WAV, at the same sample rate; the shorter one is padded
    with silence to the length of the longer. `info` is a dict: rate_hz (input rate),
    frames (input frames, the longer file), channels, subtype, files.
    """
    if customer is None:
        x, rate, meta = _read(path)
        if x.shape[1] == 1:
            raise InputError(
                path,
                "mono WAV; a call needs two channels (0 = rep, 1 = customer): "
                "give a stereo WAV, or add --customer B.wav",
            )
        if x.shape[1] != 2:
            raise InputError(path, f"{x.shape[1]} channels; expected 2 (0 = rep, 1 = customer)")
        rep_f, cust_f = x[:, 0], x[:, 1]
        frames = x.shape[0]
        files = [str(path)]
    else:
        a, rate, meta = _read(path)
        b, rate_b, _ = _read(customer)
        for p, arr in ((path, a), (customer, b)):
            if arr.shape[1] != 1:
                raise InputError(p, f"{arr.shape[1]} channels; --rep/--customer take mono WAVs")
        if rate_b != rate:
            raise InputError(
                customer,
                f"sample rate {rate_b} Hz differs from the rep file's {rate} Hz; "
                "resample one of them first",
            )
        frames = max(a.shape[0], b.shape[0])
        rep_f = np.zeros(frames, dtype=np.float64)
        cust_f = np.zeros(frames, dtype=np.float64)
        rep_f[: a.shape[0]] = a[:, 0]
        cust_f[: b.shape[0]] = b[:, 0]
        files = [str(path), str(customer)]

    rep = to_dsp_int16(rep_f, rate)
    cust = to_dsp_int16(cust_f, rate)
    if rep.size < FRAME:
        raise InputError(
            path,
            f"too short: {frames} frames at {rate} Hz is less than one 10 ms DSP frame",
        )
    info = {
        "rate_hz": rate,
        "frames": frames,
        "channels": meta["channels"],
        "subtype": meta["subtype"],
        "files": files,
    }
    return rep, cust, info


def to_dsp_int16(x, rate_hz):
    """Float samples in [-1, 1) at `rate_hz` -> int16 at 8000 Hz (rounded, clipped)."""
    x = np.asarray(x, dtype=np.float64)
    if rate_hz != DSP_RATE_HZ:
        # scipy.signal takes ~1 s to import: only a call that needs resampling pays it
        from scipy.signal import resample_poly

        g = gcd(DSP_RATE_HZ, int(rate_hz))
        x = resample_poly(x, DSP_RATE_HZ // g, int(rate_hz) // g)
    y = np.rint(x * 32768.0)
    np.clip(y, -32768, 32767, out=y)
    return y.astype(np.int16)


def _read(path):
    """Read one WAV as float64 (frames, channels); raise InputError for anything odd."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError(path, "no such file")
    if os.path.isdir(path):
        raise InputError(path, "is a folder, not a WAV file")
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError as e:
        raise InputError(path, e.strerror or str(e)) from None
    if len(head) == 0:
        raise InputError(path, "empty file (0 bytes); not a WAV")
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
        raise InputError(path, "not a WAV file (no RIFF/WAVE header)")
    try:
        meta = sf.info(path)
    except (sf.LibsndfileError, RuntimeError) as e:
        raise InputError(path, f"cannot read WAV: {_sf_reason(e)}") from None
    if meta.format not in _WAV_FORMATS:
        raise InputError(path, f"not a WAV file ({meta.format_info})")
    if meta.subtype not in _SUBTYPES:
        raise InputError(
            path, f"unsupported encoding {meta.subtype_info}; callcue reads {_SUPPORTED}"
        )
    if meta.frames <= 0:
        raise InputError(path, "no audio (0 frames)")
    if meta.samplerate <= 0:
        raise InputError(path, f"invalid sample rate {meta.samplerate}")
    if head[:4] == b"RIFF":
        _check_data_chunk(path, meta)
    try:
        x, rate = sf.read(path, dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as e:
        raise InputError(path, f"cannot read WAV: {_sf_reason(e)}") from None
    if x.shape[0] != meta.frames:
        raise InputError(path, f"truncated: read {x.shape[0]} of {meta.frames} frames")
    if not np.all(np.isfinite(x)):
        raise InputError(path, "samples are NaN or infinite")
    return x, rate, {"channels": meta.channels, "subtype": meta.subtype}


def _check_data_chunk(path, meta):
    """Refuse a WAV whose data chunk claims more bytes than the file holds.

    libsndfile quietly shortens such a file to the bytes present (it only notes "data
    length in header too big" in its log), which would turn a cut-off recording into a
    silent short read. A header that promises more audio than there is means the file was
    truncated, so that is an error. The one exception is the streaming convention of a
    data size of 0xFFFFFFFF ("until end of file"), which is not a promise of any length.
    """
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            cid, clen = struct.unpack("<4sI", f.read(8))
            if cid == b"data":
                if clen == 0xFFFFFFFF:
                    return
                have = size - (pos + 8)
                if clen > have:
                    bpf = max(1, (meta.channels * _bytes_per_sample(meta.subtype)))
                    raise InputError(
                        path,
                        f"truncated: header declares {clen // bpf} frames, "
                        f"file holds {have // bpf}",
                    )
                return
            pos += 8 + clen + (clen & 1)
    # No data chunk found by walking: libsndfile accepted it, so leave the verdict to it.


def _bytes_per_sample(subtype):
    return {"PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8}[subtype]


def _sf_reason(e):
    """libsndfile's message, one line, without the file name it sometimes repeats."""
    msg = getattr(e, "error_string", None) or str(e)
    msg = " ".join(str(msg).split())
    return msg.rstrip(".") or "unknown error"
