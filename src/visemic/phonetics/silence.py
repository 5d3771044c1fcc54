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
ABOVE_NOISE_DB = 10.0
BELOW_PEAK_DB = 40.0


def speech_mask(audio: Audio) -> np.ndarray:
    """Boolean per 10 ms frame: True where there is speech energy."""
    db = level_db(audio.samples, audio.sample_rate, RATE)
    floor, peak = speech_range(db)
    threshold = max(ABSOLUTE_FLOOR_DB, floor + ABOVE_NOISE_DB, peak - BELOW_PEAK_DB)
    return db > threshold


def drop_silent_phones(timeline: Timeline, audio: Audio, min_share: float = 0.3) -> Timeline:
    """Remove phones of which less than ``min_share`` of the frames hold speech."""
    mask = speech_mask(audio)
    if not mask.any():
        return Timeline(timeline.language, words=[], phones=[], source=timeline.source)
    keep = []
    for p in timeline.phones:
        a, b = int(p.start * RATE), max(int(p.start * RATE) + 1, int(np.ceil(p.end * RATE)))
        seg = mask[a:b]
        if seg.size and seg.mean() >= min_share:
            keep.append(p)
    return Timeline(timeline.language, words=timeline.words, phones=keep,
                    source=timeline.source)
