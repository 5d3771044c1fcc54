"""Brows that follow the voice: raised on pitch accents and at the end of questions.

Eyebrow raises accompany pitch accents (Cavé et al. 1996; Flecha-García 2010) and mark yes/no
questions. Each accent above the speaker's median pitch raises browInnerUp and browOuterUp* for a
moment; a question's end raises them more and holds into the pause.
"""

from __future__ import annotations

import numpy as np

from visemic.motion.speech_events import Accent

ACCENT_RAISE = 0.3     # brow raise of a full-strength pitch accent
QUESTION_RAISE = 0.45  # brow raise at the end of a question


def _bump(times: np.ndarray, start: float, rise: float, hold: float, fall: float) -> np.ndarray:
    """0 → 1 over ``rise`` seconds from ``start``, 1 for ``hold``, back to 0 over ``fall``
    (smoothstep edges)."""
    up = np.clip((times - start) / rise, 0.0, 1.0)
    down = np.clip((times - (start + rise + hold)) / fall, 0.0, 1.0)
    up = up * up * (3 - 2 * up)
    down = down * down * (3 - 2 * down)
    return up * (1.0 - down)


def raise_curve(times: np.ndarray, accents: list[Accent],
                question_ends: list[float]) -> np.ndarray:
    """Brow raise 0…1 per frame; only prominent accents with a pitch peak raise the brows."""
    out = np.zeros(len(times))
    for acc in accents:
        if acc.pitch < 0.3 or acc.strength < 0.5:
            continue
        amp = ACCENT_RAISE * acc.pitch * acc.strength
        out = np.maximum(out, amp * _bump(times, acc.start - 0.12, 0.12,
                                          max(0.05, acc.end - acc.start), 0.35))
    for end in question_ends:
        out = np.maximum(out, QUESTION_RAISE * _bump(times, end - 0.45, 0.3, 0.5, 0.5))
    return out.astype(np.float32)
