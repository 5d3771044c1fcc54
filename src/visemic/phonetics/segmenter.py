"""Cut a stream of audio into pause-delimited segments for segment-by-segment analysis.

Long recordings are analysed a segment at a time so memory stays flat in their length. Cuts fall
at the quietest 100 ms within the allowed window, so no word is split at a segment edge.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from visemic.audio import RATE

MIN_SEGMENT = 20.0   # seconds
MAX_SEGMENT = 40.0
# Whisper encodes 30 s windows: a segment just under 30 s costs one window, a 35 s one two.
WHISPER_BOUNDS = (15.0, 29.5)


def quietest(x: np.ndarray, lo: int, hi: int, win: int) -> int:
    """Sample index at the centre of the quietest ``win``-sample window within [lo, hi)."""
    seg = x[lo:hi].astype(np.float64) ** 2
    if len(seg) <= win:
        return (lo + hi) // 2
    c = np.concatenate([[0.0], np.cumsum(seg)])
    energy = c[win:] - c[:-win]
    return lo + int(np.argmin(energy)) + win // 2


def segments(chunks: Iterable[np.ndarray], rate: int = RATE,
             bounds: tuple[float, float] | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (offset in samples, samples) segments of ``bounds`` (min, max) seconds, default
    MIN_SEGMENT…MAX_SEGMENT, cut at pauses."""
    if bounds is None:
        bounds = (MIN_SEGMENT, MAX_SEGMENT)
    buf = np.zeros(0, np.float32)
    offset = 0
    lo, hi, win = int(bounds[0] * rate), int(bounds[1] * rate), int(0.1 * rate)
    for chunk in chunks:
        buf = np.concatenate([buf, chunk])
        while len(buf) >= hi:
            cut = quietest(buf, lo, hi, win)
            yield offset, buf[:cut]
            offset += cut
            buf = buf[cut:].copy()
    if len(buf):
        yield offset, buf
