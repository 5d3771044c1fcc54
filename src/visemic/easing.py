"""Easing: the smoothstep curve, which runs from 0 to 1 with zero slope at both ends, so a blend
or an ease-in shaped by it has no visible kink where it starts or stops."""

from __future__ import annotations

from typing import Any

import numpy as np


def smoothstep(x: Any) -> Any:
    """3x² − 2x³ of ``x`` clipped to [0, 1] (elementwise for arrays; a NumPy scalar for a
    number)."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)
