"""The avatar renderer: set-up, paints, the static layers and the head; the features and the
mouth are drawn by the mixins in ``features.py`` and ``mouth.py``."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import skia

from visemic.errors import VisemicError
from visemic.motion.arkit import CHANNELS
from visemic.render.avatar.design import (
    FACE,
    FACE_JAW_ALL,
    FACE_PUFF_ALL,
    FACE_SIDE,
    HAIR,
    HEAD_X,
    HEAD_Y,
    JAW,
    LIT,
    LIT_R,
    N_SHAPES,
    NECK_PIVOT,
    REF,
    is_transparent,
    spec,
)
from visemic.render.avatar.features import FeaturePainter
from visemic.render.avatar.mouth import MouthPainter
from visemic.render.avatar.paint import color, mix, smooth
from visemic.render.looks import get_look


class AvatarRenderer(FeaturePainter, MouthPainter):
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
        self.transparent = is_transparent(background)
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
        self._hair_front = spec(HAIR[self.look["hair_style"]]["front"])
        self._hair_back = spec(HAIR[self.look["hair_style"]]["back"])

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
        np.clip(full[:N_SHAPES], 0.0, 1.0, out=full[:N_SHAPES])
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
        self._p_skin = skia.Paint(**aa, Color=color(lk["skin"]))
        # Face shading: flat skin, then a radial shade that is clear inside ``LIT_R`` and darkens
        # towards the jaw and far cheek. Gradients cost per pixel, so the shade is drawn only
        # outside the clear disc (a hard clip there is invisible since the shade is 0 on it).
        self._p_face = skia.Paint(**aa, Shader=skia.GradientShader.MakeRadial(
            center=LIT, radius=190,
            colors=[color(lk["skin_shade"], 0.0), color(lk["skin_shade"], 0.0),
                    color(lk["skin_shade"], 0.62)],
            positions=[0.0, LIT_R / 190, 1.0]))
        self._lit = skia.Path()
        self._lit.addCircle(LIT[0], LIT[1], LIT_R - 1.0)
        self._p_shade = skia.Paint(**aa, Color=color(lk["skin_shade"]))
        self._p_shadow = skia.Paint(**aa, Color=mix(lk["skin_shade"], "#000000", 0.25, 0.55),
                                    MaskFilter=skia.MaskFilter.MakeBlur(skia.kNormal_BlurStyle, 5))
        self._p_ear_in = skia.Paint(**aa, Color=mix(lk["skin_shade"], lk["blush"], 0.3),
                                    Style=skia.Paint.kStroke_Style, StrokeWidth=4,
                                    StrokeCap=skia.Paint.kRound_Cap)
        self._p_hair = skia.Paint(**aa, Shader=skia.GradientShader.MakeLinear(
            points=[(HEAD_X - 60, HEAD_Y - 190), (HEAD_X + 60, HEAD_Y - 40)],
            colors=[color(lk["hair_shine"]), color(lk["hair"])]))
        self._p_hair_back = skia.Paint(**aa, Color=mix(lk["hair"], "#000000", 0.18))
        self._p_hair_line = skia.Paint(**aa, Color=color(lk["hair_shine"], 0.8),
                                       Style=skia.Paint.kStroke_Style, StrokeWidth=3,
                                       StrokeCap=skia.Paint.kRound_Cap)
        # A crisp cel-style shadow under the fringe: a blur here costs a third of a frame.
        self._p_hair_shadow = skia.Paint(**aa, Color=color(lk["skin_shade"], 0.5))
        self._p_blush = skia.Paint(**aa, Shader=skia.GradientShader.MakeRadial(
            center=(0, 0), radius=1.0,
            colors=[color(lk["blush"], 0.42), color(lk["blush"], 0.0)]))
        dark = mix(lk["hair"], "#000000", 0.55)
        self._p_brow = skia.Paint(**aa, Color=mix(lk["hair"], "#000000", 0.25))
        self._p_sclera = skia.Paint(**aa, Color=color("#fbf8f4"))
        self._p_iris = skia.Paint(**aa, Shader=skia.GradientShader.MakeRadial(
            center=(0, 0), radius=13.0,
            colors=[mix(lk["iris"], "#ffffff", 0.25), color(lk["iris"]),
                    mix(lk["iris"], "#000000", 0.45)],
            positions=[0.0, 0.6, 1.0]))
        self._p_pupil = skia.Paint(**aa, Color=color("#141014"))
        self._p_glint = skia.Paint(**aa, Color=color("#ffffff", 0.95))
        self._p_lidshadow = skia.Paint(**aa, Color=mix(lk["skin_shade"], "#000000", 0.2, 0.35),
                                       Style=skia.Paint.kStroke_Style, StrokeWidth=6)
        self._p_lash = skia.Paint(**aa, Color=dark, Style=skia.Paint.kStroke_Style,
                                  StrokeWidth=3.4, StrokeCap=skia.Paint.kRound_Cap)
        self._p_lash_fill = skia.Paint(**aa, Color=dark)
        self._p_crease = skia.Paint(**aa, Color=color(lk["skin_shade"], 0.9),
                                    Style=skia.Paint.kStroke_Style, StrokeWidth=1.8,
                                    StrokeCap=skia.Paint.kRound_Cap)
        self._p_lowlid = skia.Paint(**aa, Color=color(lk["skin_shade"], 0.7),
                                    Style=skia.Paint.kStroke_Style, StrokeWidth=1.4,
                                    StrokeCap=skia.Paint.kRound_Cap)
        self._p_nose = skia.Paint(**aa, Color=color(lk["skin_shade"]),
                                  Style=skia.Paint.kStroke_Style, StrokeWidth=2.6,
                                  StrokeCap=skia.Paint.kRound_Cap)
        self._p_nostril = skia.Paint(**aa, Color=mix(lk["skin_shade"], "#000000", 0.3, 0.8))
        self._p_nose_hi = skia.Paint(**aa, Color=color("#ffffff", 0.35))
        self._p_crease_soft = skia.Paint(**aa, Color=color(lk["skin_shade"]),
                                         Style=skia.Paint.kStroke_Style, StrokeWidth=2.0,
                                         StrokeCap=skia.Paint.kRound_Cap)
        self._p_cavity = skia.Paint(**aa, Color=color("#4a1720"))
        self._p_throat = skia.Paint(**aa, Color=color("#2a0a10"))
        self._p_tongue = skia.Paint(**aa, Color=color("#d2646a"))
        self._p_tongue_line = skia.Paint(**aa, Color=color("#a9434c"),
                                         Style=skia.Paint.kStroke_Style, StrokeWidth=1.3)
        self._p_teeth = skia.Paint(**aa, Color=color("#fbf9f3"))
        self._p_teeth_shade = skia.Paint(**aa, Color=color("#ccc6bc"),
                                         Style=skia.Paint.kStroke_Style, StrokeWidth=1.0)
        self._p_lip_up = skia.Paint(**aa, Color=mix(lk["lips"], "#000000", 0.12))
        self._p_lip_lo = skia.Paint(**aa, Color=color(lk["lips"]))
        self._p_lip_hi = skia.Paint(**aa, Color=color("#ffffff", 0.28))
        self._p_lip_line = skia.Paint(**aa, Color=mix(lk["lips"], "#000000", 0.5),
                                      Style=skia.Paint.kStroke_Style, StrokeWidth=1.6,
                                      StrokeCap=skia.Paint.kRound_Cap)
        self._p_corner = skia.Paint(**aa, Color=color(lk["skin_shade"]),
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
                points=[(0, 0), (0, h)], colors=[color(top), color(bottom)])))
        elif self.transparent:
            pass
        elif isinstance(background, np.ndarray) or (
                isinstance(background, (str, os.PathLike)) and not str(background).startswith("#")
                and Path(background).suffix):
            self._draw_background_image(canvas, background)
        else:
            canvas.clear(color(background))

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
            colors=[mix(lk["skin"], lk["skin_shade"], 0.9), mix(lk["skin"], lk["skin_shade"],
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
            points=[(0, 390), (0, 512)], colors=[color(lk["shirt"]), color(lk["shirt_shade"])])))
        shade = skia.Paint(**aa, Color=color(lk["shirt_shade"]), Style=skia.Paint.kStroke_Style,
                           StrokeWidth=7, StrokeCap=skia.Paint.kRound_Cap)
        collar = skia.Path()
        collar.moveTo(204, 386)
        collar.cubicTo(210, 428, 236, 441, 256, 441)
        collar.cubicTo(276, 441, 302, 428, 308, 386)
        canvas.drawPath(collar, shade)
        fold = skia.Paint(**aa, Color=color(lk["shirt_shade"]), Style=skia.Paint.kStroke_Style,
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
        pts = FACE.copy()
        pts[:, 1] += FACE_JAW_ALL * chin_drop
        pts[:, 0] += FACE_JAW_ALL * jaw_x
        puff = c["cheekPuff"]
        pts[:, 0] += FACE_SIDE * FACE_PUFF_ALL * 14.0 * puff
        xy = np.empty((len(pts), 2))
        xy[:, 0] = HEAD_X + pts[:, 0] + pts[:, 2] * sy_
        xy[:, 1] = HEAD_Y + pts[:, 1] * cp + pts[:, 2] * sp
        face = skia.Path()
        smooth(face, xy)
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
        smooth(path, xy, spec[:, 3])
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
