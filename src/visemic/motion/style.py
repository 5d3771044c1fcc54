"""Speaking style: how big the articulation is, jaw versus lips, and how much emphasis shows.

A :class:`Style` scales the speech mouth shapes (the deviation from the closed rest pose, which is
all-zero in ARKit): ``articulation`` scales everything (0.6 mumbled … 1.3 over-articulated),
``jaw`` and ``lips`` scale the jaw channels and the lip-shaping channels separately, and
``emphasis`` opens words more the more prominent they are (loudness and pitch,
:func:`visemic.motion.speech_events.word_emphasis`). ``head`` multiplies the head motion.
Named presets: :data:`PRESETS`; on the command line ``--style clear`` or
``--style mumbled,jaw=1.2`` (a preset, then overrides).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np

from visemic.errors import VisemicError

# Channels the jaw moves (mouthClose goes with jawOpen so that sealed lips stay sealed).
JAW_CHANNELS = ("jawOpen", "mouthClose", "jawForward")
# Channels the lips shape in speech.
LIP_CHANNELS = (
    "mouthFunnel", "mouthPucker", "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft",
    "mouthStretchRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower",
    "mouthShrugUpper", "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft",
    "mouthLowerDownRight", "mouthUpperUpLeft", "mouthUpperUpRight",
)
EMPHASIS_GAIN = 0.35   # extra opening of the most emphatic word at emphasis = 1


@dataclass(frozen=True)
class Style:
    articulation: float = 1.0
    jaw: float = 1.0
    lips: float = 1.0
    emphasis: float = 0.5
    head: float = 1.0

    def to_json(self) -> dict[str, float]:
        return asdict(self)


PRESETS: dict[str, Style] = {
    "neutral": Style(),
    "mumbled": Style(articulation=0.6, jaw=0.85, lips=0.8, emphasis=0.2, head=0.6),
    "relaxed": Style(articulation=0.85, jaw=0.9, lips=0.9, emphasis=0.35, head=0.8),
    "clear": Style(articulation=1.2, jaw=1.0, lips=1.15, emphasis=0.6, head=1.0),
    "emphatic": Style(articulation=1.15, jaw=1.1, lips=1.05, emphasis=1.0, head=1.5),
    "jaw": Style(jaw=1.3, lips=0.8, emphasis=0.5),
    "lips": Style(jaw=0.75, lips=1.35, emphasis=0.5),
}
_LIMITS = {"articulation": (0.0, 2.0), "jaw": (0.0, 2.0), "lips": (0.0, 2.0),
           "emphasis": (0.0, 1.0), "head": (0.0, 3.0)}


def check(style: Style) -> Style:
    for name, (lo, hi) in _LIMITS.items():
        v = getattr(style, name)
        if not isinstance(v, int | float) or not math.isfinite(v) or not lo <= v <= hi:
            raise VisemicError(f"style {name} must be between {lo:g} and {hi:g}, got {v!r}")
    return style


def parse(text: str) -> Style:
    """``"clear"``, ``"mumbled,jaw=1.2"`` or ``"articulation=1.3,emphasis=0.8"`` → a Style."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise VisemicError(f"empty style; presets: {', '.join(PRESETS)}")
    style = PRESETS["neutral"]
    for k, part in enumerate(parts):
        name, sep, value = part.partition("=")
        name = name.strip().lower()
        if not sep:
            if k:
                raise VisemicError(f"style {text!r}: a preset name comes first, then "
                                   "key=value overrides")
            if name not in PRESETS:
                raise VisemicError(f"unknown style {name!r}; presets: {', '.join(PRESETS)}")
            style = PRESETS[name]
            continue
        if name not in _LIMITS:
            raise VisemicError(f"unknown style setting {name!r}; settings: "
                               f"{', '.join(_LIMITS)}")
        try:
            v = float(value)
        except ValueError:
            raise VisemicError(f"style {name}: not a number: {value.strip()!r}") from None
        style = replace(style, **{name: v})
    return check(style)


def as_style(style: str | Style | None) -> Style:
    if style is None:
        return PRESETS["neutral"]
    if isinstance(style, Style):
        return check(style)
    if isinstance(style, str):
        return parse(style)
    raise VisemicError(f"style must be a preset name or a Style, not {type(style).__name__}")


def gains(style: Style, emphasis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(jaw gain, lip gain) per frame, given each frame's word emphasis 0…1."""
    boost = 1.0 + EMPHASIS_GAIN * style.emphasis * emphasis
    base = style.articulation * boost
    return base * style.jaw, base * style.lips
