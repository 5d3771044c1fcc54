"""Sprite mode: the user's own mouth drawings, one per Rhubarb shape, switched by the viseme track.

A sprite folder holds ``A`` … ``F`` (required) and optionally ``G``, ``H``, ``X`` as PNG, JPEG or
WebP, names case-insensitive (``a.png``, ``B.PNG``, ``c.webp`` …). Missing optional shapes fall
back as Rhubarb does: G→A, H→C, X→A. With a face image the mouth is drawn into ``mouth_box``
(x, y, width, height in the face image's pixels, the sprite fitted inside keeping its aspect);
without one the sprite fills the frame.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import skia

from visemic.errors import VisemicError
from visemic.motion.visemes import RHUBARB_FALLBACK
from visemic.render.avatar.design import is_transparent
from visemic.render.avatar.paint import color
from visemic.types import Cue

REQUIRED = "ABCDEF"
OPTIONAL = "GHX"
EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")


def find_sprites(sprite_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Shape letter → file in ``sprite_dir``; raises :class:`VisemicError` naming missing ones."""
    folder = Path(sprite_dir)
    if not folder.is_dir():
        raise VisemicError(f"sprite folder not found: {folder}")
    found: dict[str, Path] = {}
    for entry in sorted(folder.iterdir()):
        stem, ext = entry.stem.upper(), entry.suffix.lower()
        if len(stem) == 1 and stem in REQUIRED + OPTIONAL and ext in EXTENSIONS and entry.is_file():
            found.setdefault(stem, entry)
    missing = [s for s in REQUIRED if s not in found]
    if missing:
        raise VisemicError(f"sprites missing in {folder}: {', '.join(missing)}")
    return found


def _load(path: Path) -> skia.Image:
    image = skia.Image.open(str(path)) if path.stat().st_size else None
    if image is None:
        raise VisemicError(f"cannot read image: {path}")
    return image


def _fit(iw: int, ih: int, box: tuple[float, float, float, float]) -> skia.Rect:
    """The largest rect with aspect iw:ih centred in ``box`` (x, y, w, h)."""
    x, y, w, h = box
    scale = min(w / iw, h / ih)
    dw, dh = iw * scale, ih * scale
    return skia.Rect.MakeXYWH(x + (w - dw) / 2, y + (h - dh) / 2, dw, dh)


class SpriteRenderer:
    """Renders frames by switching mouth sprites on the Rhubarb viseme track.

    ``size`` (width, height) defaults to the face image's size, else the A sprite's. ``background``
    is a colour, "transparent" or None (white without a face image).
    """

    def __init__(self, sprite_dir: str | os.PathLike[str], size: tuple[int, int] | None = None,
                 face_image: str | os.PathLike[str] | None = None,
                 mouth_box: Sequence[float] | None = None, background: Any = None) -> None:
        files = find_sprites(sprite_dir)
        self.sprite_dir = Path(sprite_dir)
        sprites = {shape: _load(path) for shape, path in files.items()}
        for shape, fallback in RHUBARB_FALLBACK.items():
            sprites.setdefault(shape, sprites[fallback])
        if face_image is not None and not Path(face_image).is_file():
            raise VisemicError(f"face image not found: {face_image}")
        face = _load(Path(face_image)) if face_image is not None else None

        if face is not None:
            natural = (face.width(), face.height())
        else:
            natural = (sprites["A"].width(), sprites["A"].height())
        w, h = (int(size[0]), int(size[1])) if size else natural
        if w < 2 or h < 2:
            raise VisemicError(f"sprite frame size {w}×{h} is too small")
        self.size = (w, h)
        self.transparent = is_transparent(background)

        if face is not None:
            # Fit the face into the frame; the mouth box moves and scales with it.
            frame_rect = _fit(face.width(), face.height(), (0, 0, w, h))
            k = frame_rect.width() / face.width()
            fw, fh = face.width(), face.height()
            bx, by, bw, bh = mouth_box if mouth_box is not None else (
                0.35 * fw, 0.60 * fh, 0.30 * fw, 0.20 * fh)
            if bw <= 0 or bh <= 0:
                raise VisemicError(f"mouth box needs a positive width and height: {mouth_box}")
            box = (frame_rect.left() + bx * k, frame_rect.top() + by * k, bw * k, bh * k)
        else:
            frame_rect = None
            box = tuple(float(v) for v in mouth_box) if mouth_box is not None else (0, 0, w, h)

        sampling = skia.SamplingOptions(skia.FilterMode.kLinear, skia.MipmapMode.kLinear)
        paint = skia.Paint(AntiAlias=True)
        self._frames: dict[str, np.ndarray] = {}
        for shape, sprite in sprites.items():
            buf = np.zeros((h, w, 4), np.uint8)
            surface = skia.Surface(buf, colorType=skia.kRGBA_8888_ColorType,
                                   alphaType=skia.kPremul_AlphaType)
            canvas = surface.getCanvas()
            if self.transparent:
                canvas.clear(skia.Color(0, 0, 0, 0))
            else:
                canvas.clear(color(background if background is not None else "#ffffff"))
            if face is not None and frame_rect is not None:
                canvas.drawImageRect(face, frame_rect, sampling, paint)
            canvas.drawImageRect(sprite, _fit(sprite.width(), sprite.height(), box), sampling,
                                 paint)
            if self.transparent:
                out = np.zeros_like(buf)
                info = skia.ImageInfo.Make(w, h, skia.kRGBA_8888_ColorType,
                                           skia.kUnpremul_AlphaType)
                surface.readPixels(info, out, out.strides[0])
                buf = out
            buf.flags.writeable = False
            self._frames[shape] = buf
        self._track_key: int | None = None
        self._starts: list[float] = []
        self._cues: list[Cue] = []

    def render_shape(self, shape: str) -> np.ndarray:
        """The frame showing Rhubarb shape ``shape`` (A–H or X); read-only, shared between calls."""
        key = shape.upper()
        if key not in self._frames:
            raise VisemicError(f"unknown mouth shape {shape!r}; use A–H or X")
        return self._frames[key]

    def shape_at(self, cues: Sequence[Cue], t: float) -> str:
        """The shape the cue track shows at time ``t`` (X before the first and in gaps)."""
        if id(cues) != self._track_key:
            self._cues = sorted(cues, key=lambda c: c.start)
            self._starts = [c.start for c in self._cues]
            self._track_key = id(cues)
        i = bisect.bisect_right(self._starts, t) - 1
        if i < 0:
            return "X"
        cue = self._cues[i]
        if t >= cue.end and i < len(self._cues) - 1:
            return "X"
        value = str(cue.value).upper()
        return value if value in self._frames else "X"

    def frame(self, animation: Any, t: float, values: np.ndarray) -> np.ndarray:
        """Renderer protocol used by the video writer: the frame at time ``t``."""
        cues = getattr(animation, "visemes", {}).get("rhubarb")
        if cues is None:
            raise VisemicError("sprite mode needs the animation's rhubarb viseme track")
        return self._frames[self.shape_at(cues, t)]
