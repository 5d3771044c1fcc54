"""The built-in avatar: a stylised 2.5D face drawn with skia from ARKit-52 values + head angles.

Everything is vector shapes (no image assets), drawn anti-aliased straight into a NumPy-backed
skia surface. Shapes are laid out on a 512×512 reference canvas and scaled to the output size.

Conventions (ARKit's): "Left" channels are the *character's* left, which is the right of the
picture. The lips are apart by ``jawOpen − mouthClose`` (they meet when mouthClose ≈ jawOpen).
Head angles in degrees, right-handed camera space: ``headYaw`` > 0 turns the nose towards the
picture's right, ``headPitch`` > 0 nods the nose down, ``headRoll`` > 0 tilts the top of the head
towards the picture's left.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import skia

from visemic.errors import VisemicError
from visemic.motion.arkit import BLENDSHAPES, CHANNELS
from visemic.render.looks import get_look

REF = 512.0  # the reference canvas every shape is designed on
HEAD_X, HEAD_Y = 256.0, 226.0  # head centre on the reference canvas
NECK_PIVOT = (256.0, 372.0)  # roll turns the head about the top of the neck
JAW = 62.0  # lip gap in reference pixels at jawOpen − mouthClose = 1
_LIT = (HEAD_X - 28.0, HEAD_Y - 50.0)  # where the light falls fullest on the face
_LIT_R = 105.0  # radius of the unshaded disc around it

_N_SHAPES = len(BLENDSHAPES)


# ----------------------------------------------------------------------------- colour helpers

def _rgb(spec: str | Sequence[float]) -> tuple[int, int, int, int]:
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


def _color(spec: str | Sequence[float], alpha: float = 1.0) -> int:
    r, g, b, a = _rgb(spec)
    return skia.Color(r, g, b, int(round(a * alpha)))


def _mix(a: str, b: str, t: float, alpha: float = 1.0) -> int:
    """Colour ``t`` of the way from ``a`` to ``b``."""
    ra, rb = _rgb(a), _rgb(b)
    return skia.Color(*(int(round(x + (y - x) * t)) for x, y in zip(ra[:3], rb[:3], strict=True)),
                      int(round(255 * alpha)))


# ----------------------------------------------------------------------------- path helpers

def _smooth(path: skia.Path, pts: np.ndarray, tension: np.ndarray | None = None) -> None:
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


def _segments_reversed(start: tuple[float, float],
                       segs: list[tuple[float, float, float, float, float, float]]
                       ) -> list[tuple[float, float, float, float, float, float]]:
    """The same cubic chain walked backwards (it then ends at ``start``)."""
    out = []
    prev = [start] + [(s[4], s[5]) for s in segs[:-1]]
    for seg, p in zip(reversed(segs), reversed(prev), strict=True):
        out.append((seg[2], seg[3], seg[0], seg[1], p[0], p[1]))
    return out


def _add(path: skia.Path, segs: list[tuple[float, float, float, float, float, float]]) -> None:
    for s in segs:
        path.cubicTo(*s)


# ----------------------------------------------------------------------------- the static design

# Face outline in head coordinates, right half from the crown down to the chin: (x, y, depth).
# Depth says how far a point stands out towards the camera, i.e. how much it follows a turn.
_FACE_HALF = np.array([
    (0.0, -142.0, 30.0), (64.0, -133.0, 26.0), (101.0, -88.0, 8.0), (108.0, -22.0, 0.0),
    (100.0, 38.0, 8.0), (76.0, 94.0, 34.0), (38.0, 127.0, 66.0), (0.0, 136.0, 80.0),
])
# How far each outline point follows the jaw (chin fully, temples not at all).
_FACE_JAW = np.array([0.0, 0.0, 0.0, 0.0, 0.12, 0.45, 0.85, 1.0])
_FACE_PUFF = np.array([0.0, 0.0, 0.0, 0.25, 1.0, 0.55, 0.1, 0.0])


def _mirror_closed(half: np.ndarray) -> np.ndarray:
    """Right half (crown → chin) → a closed loop crown → right → chin → left."""
    left = half[-2:0:-1].copy()
    left[:, 0] *= -1
    return np.concatenate([half, left], axis=0)


_FACE = _mirror_closed(_FACE_HALF)
_FACE_JAW_ALL = np.concatenate([_FACE_JAW, _FACE_JAW[-2:0:-1]])
_FACE_PUFF_ALL = np.concatenate([_FACE_PUFF, _FACE_PUFF[-2:0:-1]])
_FACE_SIDE = np.sign(_FACE[:, 0])

# Hair shapes, (x, y, depth, tension), in head coordinates; "back" is drawn behind the head.
_HAIR: dict[str, dict[str, list[tuple[float, float, float, float]]]] = {
    "swept": {
        "front": [
            (-106, -16, 0, 0), (-114, -60, 0, 1), (-118, -112, 6, 1), (-96, -162, 14, 1),
            (-48, -190, 22, 1), (16, -196, 26, 1), (76, -180, 20, 1), (114, -140, 8, 1),
            (120, -84, 2, 1), (112, -30, 0, 1), (106, -16, 0, 0), (101, -56, 4, 1),
            (92, -84, 10, 0), (78, -98, 18, 1), (66, -86, 22, 0), (40, -104, 30, 1),
            (10, -98, 32, 0), (-20, -112, 32, 1), (-56, -120, 28, 1), (-80, -116, 20, 1),
            (-98, -96, 10, 1), (-104, -60, 4, 1),
        ],
        "back": [],
    },
    "crop": {
        "front": [
            (-119, -24, -5, 1), (-124, -84, 0, 1), (-96, -146, 10, 1), (-40, -170, 22, 1),
            (36, -170, 22, 1), (98, -146, 10, 1), (124, -84, 0, 1), (119, -24, -5, 1),
            (110, -40, 0, 0), (100, -92, 10, 1), (50, -112, 24, 1), (0, -110, 30, 1),
            (-50, -112, 24, 1), (-100, -92, 10, 1), (-110, -40, 0, 0),
        ],
        "back": [],
    },
    "bob": {
        "front": [
            (-128, 40, -5, 1), (-136, -60, 0, 1), (-112, -140, 10, 1), (-50, -178, 22, 1),
            (30, -180, 24, 1), (104, -150, 12, 1), (136, -66, 0, 1), (130, 40, -5, 1),
            (116, 52, 0, 0), (112, -40, 6, 1), (96, -86, 14, 1), (40, -96, 30, 1),
            (-6, -92, 32, 1), (-60, -96, 28, 1), (-100, -80, 12, 1), (-113, -30, 4, 1),
            (-116, 52, 0, 0),
        ],
        "back": [
            (-150, 90, -30, 1), (-146, -40, -20, 1), (-110, -150, -10, 1), (0, -190, -10, 1),
            (110, -150, -10, 1), (146, -40, -20, 1), (150, 90, -30, 1), (100, 112, -30, 1),
            (0, 100, -40, 1), (-100, 112, -30, 1),
        ],
    },
    "bun": {
        "front": [
            (-118, -10, -5, 1), (-124, -80, 0, 1), (-98, -146, 10, 1), (-40, -172, 22, 1),
            (40, -172, 22, 1), (98, -146, 10, 1), (124, -80, 0, 1), (118, -10, -5, 1),
            (108, -24, 0, 0), (102, -80, 8, 1), (60, -112, 22, 1), (0, -118, 30, 1),
            (-60, -112, 22, 1), (-102, -80, 8, 1), (-108, -24, 0, 0),
        ],
        "back": [
            (-40, -176, -15, 1), (-38, -206, -15, 1), (0, -224, -15, 1), (38, -206, -15, 1),
            (40, -176, -15, 1), (0, -164, -15, 1),
        ],
    },
}


def _spec(points: list[tuple[float, float, float, float]]) -> np.ndarray:
    return np.array(points, dtype=np.float64).reshape(-1, 4)


def _is_transparent(background: Any) -> bool:
    return isinstance(background, str) and background.lower() in ("transparent", "none")


# ----------------------------------------------------------------------------- the renderer

class AvatarRenderer:
    """Draws the built-in avatar.

    ``size`` is (width, height) in pixels; ``look`` a name from :data:`visemic.render.looks.LOOKS`
    (or a dict); ``background`` None (the look's gradient), a colour ("#rrggbb" or an RGB(A)
    tuple), "transparent", an image path, or an H×W×3/4 uint8 array (scaled to cover).
    """

    def __init__(self, size: tuple[int, int] = (512, 512), look: str | dict[str, Any] = "default",
                 background: Any = None) -> None:
        w, h = int(size[0]), int(size[1])
        if w < 16 or h < 16 or w > 8192 or h > 8192:
            raise VisemicError(f"avatar size {w}×{h} is out of range (16…8192)")
        self.size = (w, h)
        self.look = get_look(look)
        self.transparent = _is_transparent(background)
        self._buf = np.zeros((h, w, 4), np.uint8)
        self._surface = skia.Surface(self._buf, colorType=skia.kRGBA_8888_ColorType,
                                     alphaType=skia.kPremul_AlphaType)
        self._canvas = self._surface.getCanvas()
        self._unpremul = np.zeros_like(self._buf) if self.transparent else None
        self._dst_info = skia.ImageInfo.Make(w, h, skia.kRGBA_8888_ColorType,
                                             skia.kUnpremul_AlphaType)
        if h > w:
            # Portrait frames: a larger bust on the bottom edge (shoulders may run off the
            # sides) rather than a small one under empty sky.
            scale = min(1.35 * w, 0.75 * h) / REF
            self._matrix = (scale, (w - REF * scale) / 2.0, h - REF * scale)
        else:
            scale = h / REF
            self._matrix = (scale, (w - REF * scale) / 2.0, 0.0)
        self._channels_key: tuple[str, ...] | None = None
        self._index = np.zeros(len(CHANNELS), np.intp)
        self._make_paints()
        self._static = self._draw_static(background)
        self._hair_front = _spec(_HAIR[self.look["hair_style"]]["front"])
        self._hair_back = _spec(_HAIR[self.look["hair_style"]]["back"])

    # ------------------------------------------------------------------ public API

    def render(self, values: np.ndarray, channels: Sequence[str],
               out: np.ndarray | None = None) -> np.ndarray:
        """One frame as an H×W×4 RGBA uint8 array (a new array unless ``out`` is given).

        ``values`` holds one value per name in ``channels`` (blendshapes 0…1, head angles in
        degrees); channels the avatar does not know are ignored, missing ones count as 0.
        """
        frame = self._render(values, channels)
        if out is None:
            return frame.copy()
        np.copyto(out, frame)
        return out

    def frame(self, animation: Any, t: float, values: np.ndarray) -> np.ndarray:
        """Renderer protocol used by the video writer: the frame for curve row ``values``.

        Returns the renderer's own buffer (valid until the next call) to save a copy per frame.
        """
        return self._render(values, animation.channels)

    @property
    def rest(self) -> np.ndarray:
        """A neutral frame (all channels 0)."""
        return self.render(np.zeros(len(CHANNELS), np.float32), CHANNELS)

    # ------------------------------------------------------------------ internals

    def _values(self, values: np.ndarray, channels: Sequence[str]) -> dict[str, float]:
        key = channels if isinstance(channels, tuple) else tuple(channels)
        if key != self._channels_key:
            pos = {name: i for i, name in enumerate(key)}
            missing = len(key)
            self._index = np.array([pos.get(name, missing) for name in CHANNELS], np.intp)
            self._channels_key = key
        v = np.asarray(values, dtype=np.float64).ravel()
        if v.shape[0] != len(key):
            raise VisemicError(f"{v.shape[0]} values for {len(key)} channels")
        full = np.append(v, 0.0)[self._index]
        np.nan_to_num(full, copy=False)
        np.clip(full[:_N_SHAPES], 0.0, 1.0, out=full[:_N_SHAPES])
        return dict(zip(CHANNELS, full.tolist(), strict=True))

    def _render(self, values: np.ndarray, channels: Sequence[str]) -> np.ndarray:
        c = self._values(values, channels)
        np.copyto(self._buf, self._static)
        canvas = self._canvas
        canvas.save()
        s, tx, ty = self._matrix
        canvas.translate(tx, ty)
        canvas.scale(s, s)
        self._draw_head(canvas, c)
        canvas.restore()
        if self._unpremul is not None:
            # Video/PNG alpha wants straight (not premultiplied) colour.
            self._surface.readPixels(self._dst_info, self._unpremul, self._unpremul.strides[0])
            return self._unpremul
        return self._buf

    def _make_paints(self) -> None:
        lk = self.look
        aa = {"AntiAlias": True}
        self._p_skin = skia.Paint(**aa, Color=_color(lk["skin"]))
        # Face shading: flat skin, then a radial shade that is clear inside ``_LIT_R`` and darkens
        # towards the jaw and far cheek. Gradients cost per pixel, so the shade is drawn only
        # outside the clear disc (a hard clip there is invisible since the shade is 0 on it).
        self._p_face = skia.Paint(**aa, Shader=skia.GradientShader.MakeRadial(
            center=_LIT, radius=190,
            colors=[_color(lk["skin_shade"], 0.0), _color(lk["skin_shade"], 0.0),
                    _color(lk["skin_shade"], 0.62)],
            positions=[0.0, _LIT_R / 190, 1.0]))
        self._lit = skia.Path()
        self._lit.addCircle(_LIT[0], _LIT[1], _LIT_R - 1.0)
        self._p_shade = skia.Paint(**aa, Color=_color(lk["skin_shade"]))
        self._p_shadow = skia.Paint(**aa, Color=_mix(lk["skin_shade"], "#000000", 0.25, 0.55),
                                    MaskFilter=skia.MaskFilter.MakeBlur(skia.kNormal_BlurStyle, 5))
        self._p_ear_in = skia.Paint(**aa, Color=_mix(lk["skin_shade"], lk["blush"], 0.3),
                                    Style=skia.Paint.kStroke_Style, StrokeWidth=4,
                                    StrokeCap=skia.Paint.kRound_Cap)
        self._p_hair = skia.Paint(**aa, Shader=skia.GradientShader.MakeLinear(
            points=[(HEAD_X - 60, HEAD_Y - 190), (HEAD_X + 60, HEAD_Y - 40)],
            colors=[_color(lk["hair_shine"]), _color(lk["hair"])]))
        self._p_hair_back = skia.Paint(**aa, Color=_mix(lk["hair"], "#000000", 0.18))
        self._p_hair_line = skia.Paint(**aa, Color=_color(lk["hair_shine"], 0.8),
                                       Style=skia.Paint.kStroke_Style, StrokeWidth=3,
                                       StrokeCap=skia.Paint.kRound_Cap)
        # A crisp cel-style shadow under the fringe: a blur here costs a third of a frame.
        self._p_hair_shadow = skia.Paint(**aa, Color=_color(lk["skin_shade"], 0.5))
        self._p_blush = skia.Paint(**aa, Shader=skia.GradientShader.MakeRadial(
            center=(0, 0), radius=1.0,
            colors=[_color(lk["blush"], 0.42), _color(lk["blush"], 0.0)]))
        dark = _mix(lk["hair"], "#000000", 0.55)
        self._p_brow = skia.Paint(**aa, Color=_mix(lk["hair"], "#000000", 0.25))
        self._p_sclera = skia.Paint(**aa, Color=_color("#fbf8f4"))
        self._p_iris = skia.Paint(**aa, Shader=skia.GradientShader.MakeRadial(
            center=(0, 0), radius=13.0,
            colors=[_mix(lk["iris"], "#ffffff", 0.25), _color(lk["iris"]),
                    _mix(lk["iris"], "#000000", 0.45)],
            positions=[0.0, 0.6, 1.0]))
        self._p_pupil = skia.Paint(**aa, Color=_color("#141014"))
        self._p_glint = skia.Paint(**aa, Color=_color("#ffffff", 0.95))
        self._p_lidshadow = skia.Paint(**aa, Color=_mix(lk["skin_shade"], "#000000", 0.2, 0.35),
                                       Style=skia.Paint.kStroke_Style, StrokeWidth=6)
        self._p_lash = skia.Paint(**aa, Color=dark, Style=skia.Paint.kStroke_Style,
                                  StrokeWidth=3.4, StrokeCap=skia.Paint.kRound_Cap)
        self._p_lash_fill = skia.Paint(**aa, Color=dark)
        self._p_crease = skia.Paint(**aa, Color=_color(lk["skin_shade"], 0.9),
                                    Style=skia.Paint.kStroke_Style, StrokeWidth=1.8,
                                    StrokeCap=skia.Paint.kRound_Cap)
        self._p_lowlid = skia.Paint(**aa, Color=_color(lk["skin_shade"], 0.7),
                                    Style=skia.Paint.kStroke_Style, StrokeWidth=1.4,
                                    StrokeCap=skia.Paint.kRound_Cap)
        self._p_nose = skia.Paint(**aa, Color=_color(lk["skin_shade"]),
                                  Style=skia.Paint.kStroke_Style, StrokeWidth=2.6,
                                  StrokeCap=skia.Paint.kRound_Cap)
        self._p_nostril = skia.Paint(**aa, Color=_mix(lk["skin_shade"], "#000000", 0.3, 0.8))
        self._p_nose_hi = skia.Paint(**aa, Color=_color("#ffffff", 0.35))
        self._p_crease_soft = skia.Paint(**aa, Color=_color(lk["skin_shade"]),
                                         Style=skia.Paint.kStroke_Style, StrokeWidth=2.0,
                                         StrokeCap=skia.Paint.kRound_Cap)
        self._p_cavity = skia.Paint(**aa, Color=_color("#4a1720"))
        self._p_throat = skia.Paint(**aa, Color=_color("#2a0a10"))
        self._p_tongue = skia.Paint(**aa, Color=_color("#d2646a"))
        self._p_tongue_line = skia.Paint(**aa, Color=_color("#a9434c"),
                                         Style=skia.Paint.kStroke_Style, StrokeWidth=1.3)
        self._p_teeth = skia.Paint(**aa, Color=_color("#fbf9f3"))
        self._p_teeth_shade = skia.Paint(**aa, Color=_color("#ccc6bc"),
                                         Style=skia.Paint.kStroke_Style, StrokeWidth=1.0)
        self._p_lip_up = skia.Paint(**aa, Color=_mix(lk["lips"], "#000000", 0.12))
        self._p_lip_lo = skia.Paint(**aa, Color=_color(lk["lips"]))
        self._p_lip_hi = skia.Paint(**aa, Color=_color("#ffffff", 0.28))
        self._p_lip_line = skia.Paint(**aa, Color=_mix(lk["lips"], "#000000", 0.5),
                                      Style=skia.Paint.kStroke_Style, StrokeWidth=1.6,
                                      StrokeCap=skia.Paint.kRound_Cap)
        self._p_corner = skia.Paint(**aa, Color=_color(lk["skin_shade"]),
                                    Style=skia.Paint.kStroke_Style, StrokeWidth=1.8,
                                    StrokeCap=skia.Paint.kRound_Cap)
        self._p_stroke = skia.Paint(**aa, Style=skia.Paint.kStroke_Style,
                                    StrokeCap=skia.Paint.kRound_Cap)

    # .................................................................. background, body, neck

    def _draw_static(self, background: Any) -> np.ndarray:
        """Background, shoulders and neck: identical in every frame, so drawn once."""
        canvas, (_, h), lk = self._canvas, self.size, self.look
        canvas.clear(skia.Color(0, 0, 0, 0))
        if background is None:
            top, bottom = lk["background"]
            canvas.drawPaint(skia.Paint(Shader=skia.GradientShader.MakeLinear(
                points=[(0, 0), (0, h)], colors=[_color(top), _color(bottom)])))
        elif self.transparent:
            pass
        elif isinstance(background, np.ndarray) or (
                isinstance(background, (str, os.PathLike)) and not str(background).startswith("#")
                and Path(background).suffix):
            self._draw_background_image(canvas, background)
        else:
            canvas.clear(_color(background))

        canvas.save()
        s, tx, ty = self._matrix
        canvas.translate(tx, ty)
        canvas.scale(s, s)
        aa = {"AntiAlias": True}
        # Neck, with a darker tone where the head shades it.
        neck = skia.Path()
        neck.moveTo(222, 300)
        neck.cubicTo(224, 350, 220, 380, 206, 420)
        neck.lineTo(206, 452)
        neck.lineTo(306, 452)
        neck.lineTo(306, 420)
        neck.cubicTo(292, 380, 288, 350, 290, 300)
        neck.close()
        self._neck = neck
        canvas.drawPath(neck, skia.Paint(**aa, Shader=skia.GradientShader.MakeLinear(
            points=[(0, 330), (0, 420)],
            colors=[_mix(lk["skin"], lk["skin_shade"], 0.9), _mix(lk["skin"], lk["skin_shade"],
                                                                  0.35)])))
        # Shoulders and shirt with a round neckline.
        body = skia.Path()
        body.moveTo(-30, 560)
        body.cubicTo(-10, 450, 30, 412, 140, 398)
        body.cubicTo(170, 394, 192, 390, 206, 384)
        body.cubicTo(212, 424, 236, 438, 256, 438)
        body.cubicTo(276, 438, 300, 424, 306, 384)
        body.cubicTo(320, 390, 342, 394, 372, 398)
        body.cubicTo(482, 412, 522, 450, 542, 560)
        body.close()
        canvas.drawPath(body, skia.Paint(**aa, Shader=skia.GradientShader.MakeLinear(
            points=[(0, 390), (0, 512)], colors=[_color(lk["shirt"]), _color(lk["shirt_shade"])])))
        shade = skia.Paint(**aa, Color=_color(lk["shirt_shade"]), Style=skia.Paint.kStroke_Style,
                           StrokeWidth=7, StrokeCap=skia.Paint.kRound_Cap)
        collar = skia.Path()
        collar.moveTo(204, 386)
        collar.cubicTo(210, 428, 236, 441, 256, 441)
        collar.cubicTo(276, 441, 302, 428, 308, 386)
        canvas.drawPath(collar, shade)
        fold = skia.Paint(**aa, Color=_color(lk["shirt_shade"]), Style=skia.Paint.kStroke_Style,
                          StrokeWidth=2.5, StrokeCap=skia.Paint.kRound_Cap)
        for sx in (-1, 1):
            arm = skia.Path()
            arm.moveTo(256 + sx * 176, 512)
            arm.cubicTo(256 + sx * 182, 482, 256 + sx * 190, 458, 256 + sx * 200, 440)
            canvas.drawPath(arm, fold)
        canvas.restore()
        return self._buf.copy()

    def _draw_background_image(self, canvas: skia.Canvas, background: Any) -> None:
        if isinstance(background, np.ndarray):
            arr = np.ascontiguousarray(background, dtype=np.uint8)
            if arr.ndim != 3 or arr.shape[2] not in (3, 4):
                raise VisemicError("background array must be H×W×3 or H×W×4 uint8")
            if arr.shape[2] == 3:
                arr = np.concatenate([arr, np.full(arr.shape[:2] + (1,), 255, np.uint8)], axis=2)
            image = skia.Image.fromarray(arr, colorType=skia.kRGBA_8888_ColorType)
        else:
            if not Path(background).is_file():
                raise VisemicError(f"background image not found: {background}")
            image = skia.Image.open(str(background))
            if image is None:
                raise VisemicError(f"cannot read background image: {background}")
        w, h = self.size
        scale = max(w / image.width(), h / image.height())
        dw, dh = image.width() * scale, image.height() * scale
        canvas.drawImageRect(image, skia.Rect.MakeXYWH((w - dw) / 2, (h - dh) / 2, dw, dh),
                             skia.SamplingOptions(skia.FilterMode.kLinear),
                             skia.Paint(AntiAlias=True))

    # .................................................................. the head

    def _draw_head(self, canvas: skia.Canvas, c: dict[str, float]) -> None:
        yaw = math.radians(max(-40.0, min(40.0, c["headYaw"])))
        pitch = math.radians(max(-30.0, min(30.0, c["headPitch"])))
        roll = max(-35.0, min(35.0, c["headRoll"]))
        sy_ = math.sin(yaw)
        sp, cp = math.sin(pitch), math.cos(pitch)
        jaw = c["jawOpen"]
        jaw_x = 9.0 * (c["jawLeft"] - c["jawRight"])
        chin_drop = JAW * 0.78 * jaw + 4.0 * c["jawForward"]

        def place(x: float, y: float, d: float) -> tuple[float, float]:
            # A point standing ``d`` out from the head's centre plane, after the turn and nod.
            return HEAD_X + x + d * sy_, HEAD_Y + y * cp + d * sp

        def fore(x: float, y: float, d: float) -> tuple[float, float]:
            # How much a feature at (x, y) on the face narrows (or widens) as the head turns.
            az = math.atan2(x, d)
            el = math.atan2(y, d)
            return (max(0.25, math.cos(az + yaw) / math.cos(az)),
                    max(0.3, math.cos(el + pitch) / math.cos(el)))

        # Shadow the head casts on the neck; follows the chin.
        chin = place(jaw_x * 0.8, 136 + chin_drop, 80)
        canvas.save()
        canvas.clipPath(self._neck, skia.ClipOp.kIntersect, True)
        self._draw_oval(canvas, chin[0], chin[1] - 2, 48, 22, self._p_shadow)
        canvas.restore()

        canvas.save()
        canvas.rotate(-roll, NECK_PIVOT[0], NECK_PIVOT[1])

        # Back hair and ears sit behind the skull: they shift against the turn.
        if len(self._hair_back):
            self._draw_spec(canvas, self._hair_back, sy_, sp, cp, self._p_hair_back)
        if self.look["hair_style"] != "bob":  # a bob covers the ears
            for side in (-1, 1):
                # The ear the head turns away from slides behind the skull; the other one
                # moves in a little and shows more of itself.
                far = side * yaw > 0
                ex, ey = place(side * 106.0, 10.0, 0.0)
                ex -= side * abs(sy_) * (34.0 if far else 8.0)
                fx = 1.0 - 0.6 * abs(sy_) if far else 1.0 + 0.4 * abs(sy_)
                self._draw_ear(canvas, ex, ey, side, fx)

        # Face outline: jaw and chin follow jawOpen, cheeks follow cheekPuff.
        pts = _FACE.copy()
        pts[:, 1] += _FACE_JAW_ALL * chin_drop
        pts[:, 0] += _FACE_JAW_ALL * jaw_x
        puff = c["cheekPuff"]
        pts[:, 0] += _FACE_SIDE * _FACE_PUFF_ALL * 14.0 * puff
        xy = np.empty((len(pts), 2))
        xy[:, 0] = HEAD_X + pts[:, 0] + pts[:, 2] * sy_
        xy[:, 1] = HEAD_Y + pts[:, 1] * cp + pts[:, 2] * sp
        face = skia.Path()
        _smooth(face, xy)
        canvas.drawPath(face, self._p_skin)
        canvas.save()
        canvas.clipPath(self._lit, skia.ClipOp.kDifference, False)
        canvas.drawPath(face, self._p_face)
        canvas.restore()

        # Cheeks.
        for side in (-1, 1):
            sfx = "Left" if side > 0 else "Right"
            sq = c["cheekSquint" + sfx]
            bx, by = place(side * (68.0 + 4 * puff), 40.0 - 7.0 * sq, 70.0)
            fx, fy = fore(side * 68.0, 40.0, 70.0)
            self._draw_oval(canvas, bx, by, 25.0 * fx * (1 + 0.3 * puff), 17.0 * fy,
                            self._p_blush, unit=True)

        self._draw_nose(canvas, c, place, fore)
        for side in (-1, 1):
            self._draw_eye(canvas, c, side, place, fore)
        self._draw_mouth(canvas, c, place, fore, chin_drop, jaw_x)
        for side in (-1, 1):
            self._draw_brow(canvas, c, side, place, fore)

        # Front hair, with the soft shadow it throws on the forehead.
        canvas.save()
        canvas.translate(1.5, 5.0)
        self._draw_spec(canvas, self._hair_front, sy_, sp, cp, self._p_hair_shadow, clip=face)
        canvas.restore()
        self._draw_spec(canvas, self._hair_front, sy_, sp, cp, self._p_hair)
        self._draw_hair_detail(canvas, place)
        canvas.restore()

    def _draw_spec(self, canvas: skia.Canvas, spec: np.ndarray, sy_: float, sp: float, cp: float,
                   paint: skia.Paint, clip: skia.Path | None = None) -> None:
        xy = np.empty((len(spec), 2))
        xy[:, 0] = HEAD_X + spec[:, 0] + spec[:, 2] * sy_
        xy[:, 1] = HEAD_Y + spec[:, 1] * cp + spec[:, 2] * sp
        path = skia.Path()
        _smooth(path, xy, spec[:, 3])
        if clip is not None:
            canvas.save()
            # Hard-edged clip: cheaper, and its edge lies under the hair anyway.
            canvas.clipPath(clip, skia.ClipOp.kIntersect, False)
            canvas.drawPath(path, paint)
            canvas.restore()
        else:
            canvas.drawPath(path, paint)

    def _draw_hair_detail(self, canvas: skia.Canvas, place: Any) -> None:
        style = self.look["hair_style"]
        strands = {
            "swept": [((-62, -166, 18), (0, -160, 24), (62, -132, 20)),
                      ((-84, -136, 12), (-20, -140, 26), (40, -118, 28))],
            "crop": [((-60, -150, 16), (0, -158, 24), (60, -150, 16))],
            "bob": [((-80, -150, 14), (-20, -162, 24), (40, -160, 22)),
                    ((-110, -60, 0), (-118, 0, -2), (-120, 30, -4))],
            "bun": [((-70, -150, 14), (-20, -162, 22), (30, -160, 22))],
        }[style]
        for a, b, e in strands:
            p = skia.Path()
            p.moveTo(*place(*a))
            p.quadTo(*place(*b), *place(*e))
            canvas.drawPath(p, self._p_hair_line)

    @staticmethod
    def _draw_oval(canvas: skia.Canvas, x: float, y: float, rx: float, ry: float,
                   paint: skia.Paint, unit: bool = False) -> None:
        if unit:
            # The paint's shader is a unit circle: scale the canvas instead of the oval.
            canvas.save()
            canvas.translate(x, y)
            canvas.scale(rx, ry)
            canvas.drawCircle(0, 0, 1.0, paint)
            canvas.restore()
        else:
            canvas.drawOval(skia.Rect.MakeLTRB(x - rx, y - ry, x + rx, y + ry), paint)

    def _draw_ear(self, canvas: skia.Canvas, x: float, y: float, side: int, fx: float) -> None:
        canvas.save()
        canvas.translate(x, y)
        canvas.scale(side * max(0.5, fx), 1.0)
        ear = skia.Path()
        ear.moveTo(-6, -24)
        ear.cubicTo(10, -34, 24, -22, 21, -2)
        ear.cubicTo(19, 16, 8, 28, -4, 26)
        ear.close()
        canvas.drawPath(ear, self._p_skin)
        inner = skia.Path()
        inner.moveTo(2, -16)
        inner.cubicTo(12, -20, 16, -8, 13, 2)
        inner.cubicTo(11, 10, 6, 14, 4, 16)
        canvas.drawPath(inner, self._p_ear_in)
        canvas.restore()

    def _draw_nose(self, canvas: skia.Canvas, c: dict[str, float], place: Any, fore: Any) -> None:
        sneer_l, sneer_r = c["noseSneerLeft"], c["noseSneerRight"]
        x, y = place(0.0, 36.0, 122.0)
        fx, fy = fore(0.0, 36.0, 122.0)
        canvas.save()
        canvas.translate(x, y)
        canvas.scale(fx, fy)
        # Bridge shadow on the side away from the light, the tip, nostrils.
        bridge = skia.Path()
        bridge.moveTo(5, -30)
        bridge.cubicTo(7, -18, 10, -10, 11, -3)
        self._p_crease_soft.setAlphaf(0.45)
        canvas.drawPath(bridge, self._p_crease_soft)
        # noseSneer lifts and flares the wings, wrinkles the bridge and deepens the folds from
        # the wings down past the mouth corners.
        lift_r, lift_l = 5.5 * sneer_r, 5.5 * sneer_l
        tip = skia.Path()
        tip.moveTo(-11 - 2 * sneer_r, -lift_r)
        tip.cubicTo(-8, 8, 8, 8, 11 + 2 * sneer_l, -lift_l)
        canvas.drawPath(tip, self._p_nose)
        for side, sn in ((-1, sneer_r), (1, sneer_l)):
            self._draw_oval(canvas, side * (6.0 + 1.2 * sn), 3.0 - 4.5 * sn, 3.2 + 1.0 * sn,
                            1.9 + 0.9 * sn, self._p_nostril)
            if sn > 0.05:
                crease = skia.Path()
                crease.moveTo(side * (9 + sn), -13 - 3 * sn)
                crease.quadTo(side * (15 + 2 * sn), -8 - 3 * sn, side * (14 + 2 * sn),
                              -1 - 5.5 * sn)
                self._p_crease_soft.setAlphaf(min(1.0, sn * 1.5))
                canvas.drawPath(crease, self._p_crease_soft)
                fold = skia.Path()
                fold.moveTo(side * (15 + 2 * sn), 1 - 5.5 * sn)
                fold.quadTo(side * 27, 8, side * 30, 30)
                self._p_crease_soft.setAlphaf(min(0.9, sn * 1.1))
                canvas.drawPath(fold, self._p_crease_soft)
        sneer = 0.5 * (sneer_l + sneer_r)
        if sneer > 0.15:
            # Horizontal wrinkles across the bridge.
            self._p_crease_soft.setAlphaf(min(0.85, 1.2 * (sneer - 0.15)))
            for wy, half in ((-23.0, 5.0), (-17.5, 6.5), (-12.0, 7.5)):
                wrinkle = skia.Path()
                wrinkle.moveTo(-half, wy + 1.0)
                wrinkle.quadTo(0.0, wy - 1.5, half, wy + 1.0)
                canvas.drawPath(wrinkle, self._p_crease_soft)
        self._draw_oval(canvas, -2.0, -6.0, 4.0, 3.0, self._p_nose_hi)
        canvas.restore()

    def _draw_eye(self, canvas: skia.Canvas, c: dict[str, float], side: int, place: Any,
                  fore: Any) -> None:
        sfx = "Left" if side > 0 else "Right"
        blink = c["eyeBlink" + sfx]
        squint = c["eyeSquint" + sfx]
        wide = c["eyeWide" + sfx]
        up, down = c["eyeLookUp" + sfx], c["eyeLookDown" + sfx]
        gx = side * (c["eyeLookOut" + sfx] - c["eyeLookIn" + sfx])
        gy = down - up
        cheek = c["cheekSquint" + sfx]
        x, y = place(side * 46.0, -4.0, 100.0)
        fx, fy = fore(side * 46.0, -4.0, 100.0)

        brow = c["browDown" + sfx]
        # Squint and cheek raise the lower lid; a lowered brow pushes the upper lid down.
        low = 9.5 * (1 - 0.55 * squint - 0.35 * cheek) - 1.0 * up
        top_open = (-15.0 * (1 + 0.4 * wide - 0.25 * squint - 0.25 * brow) - 2.5 * up
                    + 3.0 * down)
        top = top_open + (low - top_open) * min(1.0, blink * 1.04)
        s = side
        ix, iy, ox, oy = -s * 22.0, 2.0, s * 24.0, -2.0
        upper = [(-s * 14.0, iy + top * 1.22, s * 11.0, oy + top * 1.33, ox, oy)]
        lower = [(s * 12.0, oy + low * 1.25, -s * 11.0, iy + low * 1.28, ix, iy)]

        canvas.save()
        canvas.translate(x, y)
        canvas.scale(fx * 1.1, fy * 1.1)
        opening = skia.Path()
        opening.moveTo(ix, iy)
        _add(opening, upper)
        _add(opening, lower)
        opening.close()
        if top < low - 0.4:
            canvas.drawPath(opening, self._p_sclera)
            canvas.save()
            canvas.clipPath(opening, skia.ClipOp.kIntersect, True)
            cx, cy = gx * 8.5 - s * 0.5, gy * 5.5 + 1.0
            canvas.translate(cx, cy)
            canvas.drawCircle(0, 0, 12.5, self._p_iris)
            canvas.drawCircle(0, 0, 5.6, self._p_pupil)
            canvas.drawCircle(-4.0 * s, -4.6, 3.0, self._p_glint)
            canvas.drawCircle(3.8 * s, 4.0, 1.3, self._p_glint)
            canvas.translate(-cx, -cy)
            lid = skia.Path()
            lid.moveTo(ix, iy - 2)
            _add(lid, [(u[0], u[1] - 2, u[2], u[3] - 2, u[4], u[5] - 2) for u in upper])
            canvas.drawPath(lid, self._p_lidshadow)
            canvas.restore()
            low_line = skia.Path()
            low_line.moveTo(ox, oy)
            _add(low_line, lower)
            canvas.drawPath(low_line, self._p_lowlid)
        # Crease above the lid, fading as the eye closes.
        openness = max(0.0, (low - top) / (low - top_open + 1e-6))
        if openness > 0.05:
            crease = skia.Path()
            crease.moveTo(ix + s * 2, iy - 6)
            crease.cubicTo(-s * 11, top_open * 1.25 - 7, s * 9, top_open * 1.3 - 6,
                           ox - s * 1, oy - 5)
            self._p_crease.setAlphaf(0.8 * openness)
            canvas.drawPath(crease, self._p_crease)
        # Lash line with a flick at the outer corner.
        lash = skia.Path()
        lash.moveTo(ix, iy)
        _add(lash, upper)
        canvas.drawPath(lash, self._p_lash)
        flick = skia.Path()
        flick.moveTo(ox - s * 3.0, oy - 1.5)
        flick.quadTo(ox + s * 5.0, oy - 3.5, ox + s * 8.0, oy - 7.0 + 4.0 * blink)
        flick.quadTo(ox + s * 3.0, oy + 1.0, ox - s * 3.0, oy + 1.5)
        flick.close()
        canvas.drawPath(flick, self._p_lash_fill)
        canvas.restore()

    def _draw_brow(self, canvas: skia.Canvas, c: dict[str, float], side: int, place: Any,
                   fore: Any) -> None:
        sfx = "Left" if side > 0 else "Right"
        down, inner_up, outer_up = c["browDown" + sfx], c["browInnerUp"], c["browOuterUp" + sfx]
        x, y = place(side * 50.0, -46.0, 96.0)
        fx, fy = fore(side * 50.0, -46.0, 96.0)
        s = side
        # browDown (corrugator + depressor) pulls the inner end down and towards the nose much
        # more than the outer end: the brows slant into a V. browInnerUp lifts the inner end
        # (sad, afraid), browOuterUp the outer end (surprise).
        ix = -s * (26.0 + 7.0 * down - 2.0 * inner_up)
        iy = 5.0 + 15.0 * down - 13.0 * inner_up
        mx = s * 2.0
        my = -5.0 + 9.0 * down - 5.0 * inner_up - 5.0 * outer_up
        ox = s * 30.0
        oy = 3.0 + 3.0 * down - 1.0 * inner_up - 9.0 * outer_up
        thick = 1.0 + 0.35 * down  # the bunched inner end looks heavier
        canvas.save()
        canvas.translate(x, y)
        canvas.scale(fx, fy)
        brow = skia.Path()
        brow.moveTo(ix, iy + 4.0 * thick)
        brow.quadTo(ix - s * 3.5, iy, ix + s * 1.0, iy - 4.0 * thick)
        brow.quadTo(2 * mx - (ix + ox) / 2, 2 * (my - 3.6) - (iy - 4.0 * thick + oy - 1.0) / 2,
                    ox, oy - 1.0)
        brow.quadTo(ox + s * 1.5, oy + 0.2, ox - s * 1.0, oy + 1.2)
        brow.quadTo(2 * mx - (ix + ox) / 2, 2 * (my + 2.6) - (iy + 4.0 * thick + oy + 1.2) / 2,
                    ix, iy + 4.0 * thick)
        brow.close()
        canvas.drawPath(brow, self._p_brow)
        if down > 0.15:
            # Frown lines between the brows, beside the inner end.
            fold = skia.Path()
            fold.moveTo(ix - s * 7.0, iy - 10.0)
            fold.quadTo(ix - s * 10.0, iy - 1.0, ix - s * 8.0, iy + 9.0)
            self._p_crease_soft.setAlphaf(min(0.9, 1.3 * (down - 0.15)))
            canvas.drawPath(fold, self._p_crease_soft)
        if inner_up > 0.3 and down > 0.05:
            # Grief: the inner ends pulled up and together wrinkle the middle of the forehead.
            for k in (0.0, 7.0):
                line = skia.Path()
                line.moveTo(ix - s * 12.0, iy - 11.0 - k)
                line.quadTo(ix - s * 2.0, iy - 15.0 - k, ix + s * 8.0, iy - 11.0 - k)
                self._p_crease_soft.setAlphaf(min(0.6, (inner_up - 0.3) * min(1.0, 4 * down)))
                canvas.drawPath(line, self._p_crease_soft)
        canvas.restore()

    def _draw_mouth(self, canvas: skia.Canvas, c: dict[str, float], place: Any, fore: Any,
                    chin_drop: float, jaw_x: float) -> None:
        jaw = c["jawOpen"]
        close = min(c["mouthClose"], jaw)  # mouthClose beyond jawOpen has no meaning in ARKit
        fun, puck = c["mouthFunnel"], c["mouthPucker"]
        roll_lo, roll_up = c["mouthRollLower"], c["mouthRollUpper"]
        shrug_lo, shrug_up = c["mouthShrugLower"], c["mouthShrugUpper"]
        rnd = min(1.0, fun + puck)
        press = 0.5 * (c["mouthPressLeft"] + c["mouthPressRight"])
        smile = 0.5 * (c["mouthSmileLeft"] + c["mouthSmileRight"])
        x0 = 12.0 * (c["mouthLeft"] - c["mouthRight"])
        lx = x0 + jaw_x  # the lower lip rides on the jaw

        # Inner edges of the lips at the middle (+y is down). The jaw carries the lower lip;
        # mouthClose brings the lips back together, the upper lip doing about a third of it.
        up_side, lo_side = [], []
        for sfx in ("Right", "Left"):
            up_side.append(0.35 * close * JAW - 10.0 * c["mouthUpperUp" + sfx] - 4.5 * fun
                           - 3.0 * shrug_up + 1.5 * roll_up + 2.5 * puck)
            lo_side.append(jaw * JAW - 0.65 * close * JAW + 10.0 * c["mouthLowerDown" + sfx]
                           + 5.0 * fun - 3.5 * shrug_lo - 5.5 * roll_lo)
        yu = 0.5 * (up_side[0] + up_side[1])
        yl = 0.5 * (lo_side[0] + lo_side[1])
        # Rolling the lower lip in tucks it up under the upper teeth (/f v/): pull it to the
        # teeth's edge however far the jaw has dropped.
        teeth_edge = 4.0 - 12.0 * puck - 4.0 * fun
        tuck = min(1.0, 2.2 * roll_lo)
        if yl > teeth_edge - 2.0 and tuck > 0.0:
            lift = tuck * (yl - (teeth_edge - 2.0))
            yl -= lift
            lo_side = [v - lift for v in lo_side]
        if yl < yu + 0.3:  # sealed: the lips meet half way
            m = 0.5 * (yl + yu)
            yu = yl = m
            up_side = [min(v, m) for v in up_side]
            lo_side = [max(v, m) for v in lo_side]
        gap = yl - yu
        # Lower teeth ride on the jaw; protruding lips hide the teeth further back.
        teeth_lo_top = jaw * JAW - 0.65 * close * JAW - 1.5 + 6.0 * puck + 3.0 * fun

        corners = []
        for side, sfx in ((-1, "Right"), (1, "Left")):
            sm, fr = c["mouthSmile" + sfx], c["mouthFrown" + sfx]
            dm, st = c["mouthDimple" + sfx], c["mouthStretch" + sfx]
            pr = c["mouthPress" + sfx]
            hw = 33.0 * (1 + 0.30 * sm + 0.40 * st + 0.10 * dm + 0.06 * pr - 0.08 * fr)
            hw *= (1 - 0.48 * puck - 0.30 * fun) * (1 - 0.08 * jaw)
            cy = 0.42 * (yu + yl) - 9.0 * sm + 10.0 * fr - 2.0 * dm + 1.5 * st
            corners.append((x0 + side * hw, cy, hw))
        (xl, cyl, hwl), (xr, cyr, hwr) = corners
        hw = 0.5 * (hwl + hwr)
        t_up = max(1.5, 7.5 * (1 - 0.75 * roll_up + 0.55 * puck + 0.35 * fun - 0.35 * press
                               - 0.15 * smile + 0.3 * shrug_up))
        t_lo = max(1.5, 10.0 * (1 - 0.7 * roll_lo + 0.5 * puck + 0.35 * fun - 0.35 * press
                                - 0.1 * smile + 0.2 * c["jawForward"] + 0.3 * shrug_lo))

        # A lens when flat, an ellipse when rounded: how far the corner tangent turns upright.
        # A wide-open mouth rounds its inner corners too.
        rnd_in = max(rnd, min(0.75, gap / 45.0))
        k_corner = 0.45 * (1 - rnd_in)
        k_vert = 0.45 * (1 - rnd_in) + 0.552 * rnd_in

        # Protruded lips meet in thick corners: the opening ends inside the lip outline.
        inset = min(7.0 * rnd, 0.35 * hw)
        xil, xir = xl + inset, xr - inset
        hil, hir = hwl - inset, hwr - inset

        def inner(ymid: float, ysides: list[float], xm: float
                  ) -> list[tuple[float, float, float, float, float, float]]:
            b_l, b_r = ysides[0] - cyl, ysides[1] - cyr
            return [
                (xil + hil * k_corner, cyl + b_l * k_vert, xm - 0.552 * hil, ysides[0], xm, ymid),
                (xm + 0.552 * hir, ysides[1], xir - hir * k_corner, cyr + b_r * k_vert, xir, cyr),
            ]

        upper_in = inner(yu, up_side, x0)
        lower_in = inner(yl, lo_side, 0.5 * (x0 + lx))

        bow = 1.0 - 0.7 * rnd
        ty = yu - t_up
        px_l, px_r = x0 - 0.3 * hwl, x0 + 0.3 * hwr
        peak = ty - 1.2 * bow
        dip = ty + 2.2 * bow
        kc = 0.4 - 0.3 * rnd
        kv = 0.5 + 0.45 * rnd
        upper_out = [
            (xl + kc * (px_l - xl), cyl + kv * (peak - cyl), px_l - 0.3 * (px_l - xl), peak,
             px_l, peak),
            (px_l + 0.4 * (x0 - px_l), peak, x0 - 0.25 * (x0 - px_l), dip, x0, dip),
            (x0 + 0.25 * (px_r - x0), dip, px_r - 0.4 * (px_r - x0), peak, px_r, peak),
            (px_r + 0.3 * (xr - px_r), peak, xr - kc * (xr - px_r), cyr + kv * (peak - cyr),
             xr, cyr),
        ]
        by = yl + t_lo
        bx = 0.5 * (x0 + lx)
        kb = 0.25 * (1 - rnd)
        kbv = 0.5 + 0.2 * rnd
        lower_out = [
            (xl + hwl * kb, cyl + (by - cyl) * kbv, bx - 0.62 * hwl, by, bx, by),
            (bx + 0.62 * hwr, by, xr - hwr * kb, cyr + (by - cyr) * kbv, xr, cyr),
        ]

        ax, ay = place(0.0, 72.0, 104.0)
        fx, fy = fore(0.0, 72.0, 104.0)
        canvas.save()
        canvas.translate(ax, ay)
        canvas.scale(fx, fy)

        # Chin dimple under the lower lip, smile creases beside the corners.
        chin = skia.Path()
        cy_chin = by + 10.0
        chin.moveTo(bx - 9, cy_chin)
        chin.quadTo(bx, cy_chin + 3.0, bx + 9, cy_chin)
        self._p_corner.setAlphaf(0.45)
        canvas.drawPath(chin, self._p_corner)
        for (x, cy, _), side, sfx in ((corners[0], -1, "Right"), (corners[1], 1, "Left")):
            sm = c["mouthSmile" + sfx]
            dm = c["mouthDimple" + sfx]
            if sm > 0.08:
                fold = skia.Path()
                fold.moveTo(x + side * 8.0, cy - 24.0)
                fold.quadTo(x + side * 15.0, cy - 7.0, x + side * 7.0, cy + 8.0)
                self._p_crease_soft.setAlphaf(min(0.8, sm))
                canvas.drawPath(fold, self._p_crease_soft)
            if dm > 0.08:
                dim = skia.Path()
                dim.moveTo(x + side * 7.0, cy - 5.0)
                dim.quadTo(x + side * 10.0, cy, x + side * 7.0, cy + 5.0)
                self._p_crease_soft.setAlphaf(min(1.0, 1.4 * dm))
                canvas.drawPath(dim, self._p_crease_soft)

        # Mouth interior, only when the lips part.
        if gap > 0.2:
            cavity = skia.Path()
            cavity.moveTo(xil, cyl)
            _add(cavity, upper_in)
            _add(cavity, _segments_reversed((xil, cyl), lower_in))
            cavity.close()
            canvas.drawPath(cavity, self._p_cavity)
            canvas.save()
            canvas.clipPath(cavity, skia.ClipOp.kIntersect, True)
            self._draw_oval(canvas, bx, 0.5 * (yu + yl) + 2.0, 0.55 * hw, 0.32 * gap + 1.0,
                            self._p_throat)
            # The tongue fills at most the bottom third of the opening; rounding pulls it back.
            tongue_top = max(teeth_lo_top - 10.0, yl - 0.3 * gap * (1 - 0.6 * rnd))
            tongue_y = tongue_top + 11.0 - 3.0 * c["tongueOut"]
            self._draw_oval(canvas, lx, tongue_y, max(12.0, 0.8 * hw), 11.0, self._p_tongue)
            tl = skia.Path()
            tl.moveTo(lx, tongue_y - 6.0)
            tl.lineTo(lx, tongue_y + 2.0)
            canvas.drawPath(tl, self._p_tongue_line)
            teeth = skia.Path()
            teeth.addRRect(skia.RRect.MakeRectXY(
                skia.Rect.MakeLTRB(lx - 20.0, teeth_lo_top, lx + 20.0, teeth_lo_top + 14.0),
                4.0, 4.0))
            canvas.drawPath(teeth, self._p_teeth)
            canvas.restore()

        lower = skia.Path()
        lower.moveTo(xil, cyl)
        _add(lower, lower_in)
        lower.lineTo(xr, cyr)
        _add(lower, _segments_reversed((xl, cyl), lower_out))
        lower.close()
        canvas.drawPath(lower, self._p_lip_lo)
        self._draw_oval(canvas, bx + 0.12 * hw, yl + 0.42 * t_lo, 0.33 * hw, 0.2 * t_lo + 0.5,
                        self._p_lip_hi)

        to = c["tongueOut"]
        if to > 0.05 and gap > 0.5:
            self._draw_oval(canvas, lx, yl + 2.0 + 9.0 * to, 0.5 * hw + 4.0, 3.0 + 6.0 * to,
                            self._p_tongue)

        # Upper teeth hang from the skull: edge just below the resting lip line. They cover the
        # lower lip only as far as it rolls in under them (/f v/).
        edge = min(teeth_edge, yl + 7.0 * roll_lo)
        if edge > yu + 0.3:
            mouth = skia.Path()
            mouth.moveTo(xl, cyl)
            _add(mouth, upper_out)
            _add(mouth, _segments_reversed((xl, cyl), lower_out))
            mouth.close()
            canvas.save()
            canvas.clipPath(mouth, skia.ClipOp.kIntersect, True)
            canvas.drawRRect(skia.RRect.MakeRectXY(
                skia.Rect.MakeLTRB(-23.0, yu - 20.0, 23.0, edge), 4.0, 4.0), self._p_teeth)
            sep = skia.Path()
            for tx in (-7.5, 0.0, 7.5):
                sep.moveTo(tx, edge - 5.0)
                sep.lineTo(tx, edge)
            canvas.drawPath(sep, self._p_teeth_shade)
            canvas.restore()

        upper = skia.Path()
        upper.moveTo(xl, cyl)
        _add(upper, upper_out)
        upper.lineTo(xir, cyr)
        _add(upper, _segments_reversed((xil, cyl), upper_in))
        upper.close()
        canvas.drawPath(upper, self._p_lip_up)

        seam = skia.Path()
        seam.moveTo(xl, cyl)
        seam.lineTo(xil, cyl)
        _add(seam, upper_in)
        seam.lineTo(xr, cyr)
        self._p_lip_line.setStrokeWidth(1.6 if gap < 1.0 else 1.0)
        canvas.drawPath(seam, self._p_lip_line)
        # Corners of the mouth tuck into the cheeks.
        self._p_corner.setAlphaf(0.8)
        for x, cy, side in ((xl, cyl, -1), (xr, cyr, 1)):
            tuck = skia.Path()
            tuck.moveTo(x - side * 1.0, cy - 1.5)
            tuck.quadTo(x + side * 3.5, cy, x + side * 2.0, cy + 3.5)
            canvas.drawPath(tuck, self._p_corner)
        canvas.restore()
