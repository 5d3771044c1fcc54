"""Colour and path helpers for the avatar's skia drawing."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import skia

from visemic.errors import VisemicError


def rgb(spec: str | Sequence[float]) -> tuple[int, int, int, int]:
    """'#rrggbb', '#rrggbbaa' or (r, g, b[, a]) in 0…255 → (r, g, b, a)."""
    if isinstance(spec, str):
        s = spec.strip().lstrip("#")
        if len(s) not in (6, 8) or any(c not in "0123456789abcdefABCDEF" for c in s):
            raise VisemicError(f"not a colour: {spec!r} (use #rrggbb)")
        parts = [int(s[i:i + 2], 16) for i in range(0, len(s), 2)]
        return (parts[0], parts[1], parts[2], parts[3] if len(parts) == 4 else 255)
    vals = [int(round(float(v))) for v in spec]
    if len(vals) not in (3, 4):
        raise VisemicError(f"not a colour: {spec!r}")
    return (vals[0], vals[1], vals[2], vals[3] if len(vals) == 4 else 255)


def color(spec: str | Sequence[float], alpha: float = 1.0) -> int:
    r, g, b, a = rgb(spec)
    return skia.Color(r, g, b, int(round(a * alpha)))


def mix(a: str, b: str, t: float, alpha: float = 1.0) -> int:
    """Colour ``t`` of the way from ``a`` to ``b``."""
    ra, rb = rgb(a), rgb(b)
    return skia.Color(*(int(round(x + (y - x) * t)) for x, y in zip(ra[:3], rb[:3], strict=True)),
                      int(round(255 * alpha)))


# ----------------------------------------------------------------------------- path helpers

def smooth(path: skia.Path, pts: np.ndarray, tension: np.ndarray | None = None) -> None:
    """Add a closed Catmull-Rom curve through ``pts`` (n×2); ``tension`` 0 makes a corner."""
    nxt = np.roll(pts, -1, axis=0)
    tang = (nxt - np.roll(pts, 1, axis=0)) / 6.0
    if tension is not None:
        tang = tang * tension[:, None]
    c1 = pts + tang
    c2 = nxt - np.roll(tang, -1, axis=0)
    rows = np.concatenate([c1, c2, nxt], axis=1).tolist()
    path.moveTo(float(pts[0, 0]), float(pts[0, 1]))
    for r in rows:
        path.cubicTo(r[0], r[1], r[2], r[3], r[4], r[5])
    path.close()


def segments_reversed(start: tuple[float, float],
                       segs: list[tuple[float, float, float, float, float, float]]
                       ) -> list[tuple[float, float, float, float, float, float]]:
    """The same cubic chain walked backwards (it then ends at ``start``)."""
    out = []
    prev = [start] + [(s[4], s[5]) for s in segs[:-1]]
    for seg, p in zip(reversed(segs), reversed(prev), strict=True):
        out.append((seg[2], seg[3], seg[0], seg[1], p[0], p[1]))
    return out


def add_segments(path: skia.Path,
                 segs: list[tuple[float, float, float, float, float, float]]) -> None:
    for s in segs:
        path.cubicTo(*s)
