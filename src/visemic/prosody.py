"""Prosody: per-frame loudness, pitch (f0) and voicing, NumPy in, NumPy out.

Frames are 10 ms (100 per second), windows 32 ms. Loudness is relative to the recording's own
speech level, so quiet and loud recordings animate alike while emphasis within one still shows.
"""

from __future__ import annotations

import numpy as np

from visemic.types import Audio, Prosody

RATE = 100.0          # frames per second
_WIN = 0.032          # seconds
F0_MIN, F0_MAX = 60.0, 400.0  # Hz: the pitch search range
# Frames computed at once. The pitch tracker's FFT of a block holds ~80 bytes per frame and FFT
# bin (float64 and complex128 copies, spectra, autocorrelations): 64 frames ~5 MB, whatever the
# length (256 frames: 60 s of speech peaked +37 MB in this stage, now +12; the same numbers: each
# frame is transformed on its own).
BLOCK = 64


def frame_signal(x: np.ndarray, sr: int, rate: float = RATE, win: float = _WIN) -> np.ndarray:
    """Centred frames ``[n_frames, win_samples]`` (a strided view: no copy)."""
    hop = int(round(sr / rate))
    n = int(round(win * sr))
    n_frames = int(np.ceil(len(x) / hop)) if len(x) else 0
    padded = np.pad(x, (n // 2, n // 2 + hop))
    return np.lib.stride_tricks.as_strided(
        padded, shape=(n_frames, n), strides=(padded.strides[0] * hop, padded.strides[0]),
        writeable=False)


def level_db(x: np.ndarray, sr: int, rate: float = RATE) -> np.ndarray:
    """Frame RMS level in dBFS."""
    frames = frame_signal(x, sr, rate)
    rms = np.empty(len(frames), np.float32)
    for b in range(0, len(frames), 16 * BLOCK):  # squares of a block, not of the whole file
        block = frames[b:b + 16 * BLOCK]
        rms[b:b + len(block)] = np.sqrt(np.mean(np.square(block, dtype=np.float32), axis=1)
                                        + 1e-12)
    return 20.0 * np.log10(rms + 1e-9)


def speech_range(db: np.ndarray) -> tuple[float, float]:
    """(noise floor, speech level) in dB: low and high percentiles, at least 25 dB apart."""
    if db.size == 0:
        return -90.0, -20.0
    floor = float(np.percentile(db, 10))
    peak = float(np.percentile(db, 97))
    return min(floor, peak - 25.0), peak


def pitch(x: np.ndarray, sr: int, rate: float = RATE) -> tuple[np.ndarray, np.ndarray]:
    """(f0 in Hz, clarity 0…1) per frame by normalised autocorrelation (0 Hz where unvoiced)."""
    frames = frame_signal(x, sr, rate, win=0.04)
    out_f0 = np.zeros(len(frames), np.float32)
    out_clarity = np.zeros(len(frames), np.float32)
    lo, hi = int(sr / F0_MAX), int(sr / F0_MIN)
    nfft = 1 << int(np.ceil(np.log2(2 * frames.shape[1]))) if len(frames) else 0
    # Blocks bound the FFT's memory (see BLOCK).
    for b in range(0, len(frames), BLOCK):
        f = frames[b:b + BLOCK].astype(np.float32)
        f = f - f.mean(axis=1, keepdims=True)
        spec = np.fft.rfft(f, nfft, axis=1)
        ac = np.fft.irfft(np.abs(spec) ** 2, nfft, axis=1)[:, : hi + 1]
        energy = ac[:, :1] + 1e-9
        # Bias correction for the shrinking overlap at longer lags.
        n = f.shape[1]
        norm = ac[:, lo:hi + 1] / energy * (n / (n - np.arange(lo, hi + 1)))
        best = np.argmax(norm, axis=1)
        clarity = norm[np.arange(len(norm)), best]
        out_clarity[b:b + len(f)] = np.clip(clarity, 0, 1)
        out_f0[b:b + len(f)] = sr / (best + lo)
    return out_f0, out_clarity


def analyse(audio: Audio, rate: float = RATE) -> Prosody:
    """Loudness (0…1), f0 (Hz, 0 when unvoiced) and voicing for every 10 ms frame."""
    x, sr = audio.samples, audio.sample_rate
    db = level_db(x, sr, rate)
    floor, peak = speech_range(db)
    loudness = np.clip((db - floor) / (peak - floor), 0.0, 1.0).astype(np.float32)
    f0, clarity = pitch(x, sr, rate)
    voiced = (clarity > 0.5) & (db > floor + 12.0)
    f0 = np.where(voiced, f0, 0.0).astype(np.float32)
    return Prosody(rate=rate, loudness=loudness, f0=f0, voiced=voiced)
