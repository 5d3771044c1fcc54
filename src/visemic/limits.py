"""Bounds on what a request may ask for, checked in one place by every shell (CLI, API, server,
batch, stream): outside them work and memory grow without limit or results stop making sense."""

from __future__ import annotations

import math

from visemic.errors import VisemicError

# Animation frame rates: 1 fps is already a slideshow; above 240 no display or engine samples
# faster, and an hour of curves grows past the memory budget.
MIN_FPS = 1.0
MAX_FPS = 240.0


def check_fps(value: object) -> float:
    """``value`` (a number, or its text) as a frame rate in [MIN_FPS, MAX_FPS]; else a
    :class:`VisemicError` saying the range."""
    shown = value[:40] if isinstance(value, str) else value
    try:
        if isinstance(value, bool):
            raise TypeError
        fps = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise VisemicError(f"fps {shown!r} is not a number") from None
    if not math.isfinite(fps) or not MIN_FPS <= fps <= MAX_FPS:
        raise VisemicError(f"fps must be a frame rate from {MIN_FPS:g} to {MAX_FPS:g}, "
                           f"got {shown!r}")
    return fps
