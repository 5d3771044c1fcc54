"""Silence detection: which 10 ms frames hold speech, so pauses return the face to rest.

A frame is speech when it is well above the recording's noise floor and not far below its speech
level, and louder than an absolute floor (digital silence and hiss never count). Recognisers
happily "hear" phones in silence; :func:`drop_silent_phones` removes them.
"""

from __future__ import annotations

import numpy as np

from visemic.prosody import RATE, level_db, speech_range
from visemic.types import Audio, Timeline

ABSOLUTE_FLOOR_DB = -60.0
ABOVE_NOISE_DB = 6.0
BELOW_PEAK_DB = 50.0
MIN_PAUSE = 0.3  # seconds; shorter silences (stop closures, hesitations) stay speech


def speech_mask(audio: Audio) -> np.ndarray:
    """Boolean per 10 ms frame: True where there is speech energy."""
    db = level_db(audio.samples, audio.sample_rate, RATE)
    floor, peak = speech_range(db)
    threshold = max(ABSOLUTE_FLOOR_DB, floor + ABOVE_NOISE_DB, peak - BELOW_PEAK_DB)
    return db > threshold


def pauses(audio: Audio, min_pause: float = MIN_PAUSE) -> np.ndarray:
    """Boolean per 10 ms frame: True inside stretches without speech of at least ``min_pause``.

    Short silent stretches are kept as speech: a stop's closure is silent too.
    """
    quiet = ~speech_mask(audio)
    out = np.zeros_like(quiet)
    n = int(round(min_pause * RATE))
    edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet.astype(np.int8), [0]])))
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if b - a >= n:
            out[a:b] = True
    return out


def drop_silent_phones(timeline: Timeline, audio: Audio) -> Timeline:
    """Remove phones whose midpoint falls inside a pause (recognisers hear phones in noise)."""
    silent = pauses(audio)
    if silent.all():
        return Timeline(timeline.language, words=[], phones=[], source=timeline.source)
    keep = []
    for p in timeline.phones:
        i = min(len(silent) - 1, int((p.start + p.end) / 2 * RATE))
        if not silent[i]:
            keep.append(p)
    return Timeline(timeline.language, words=timeline.words, phones=keep,
                    source=timeline.source)
