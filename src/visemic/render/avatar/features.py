"""Drawing the avatar's ears, nose, eyes (lids, irises, blinks) and brows."""

from __future__ import annotations

from typing import Any

import skia

from visemic.render.avatar.paint import add_segments


class FeaturePainter:
    """Mixin of :class:`AvatarRenderer`: the face's features, drawn on the turned head."""

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
        add_segments(opening, upper)
        add_segments(opening, lower)
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
            add_segments(lid, [(u[0], u[1] - 2, u[2], u[3] - 2, u[4], u[5] - 2) for u in upper])
            canvas.drawPath(lid, self._p_lidshadow)
            canvas.restore()
            low_line = skia.Path()
            low_line.moveTo(ox, oy)
            add_segments(low_line, lower)
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
        add_segments(lash, upper)
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
