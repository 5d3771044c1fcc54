"""Drawing the avatar's mouth: lips, the cavity, teeth and tongue, from the mouth channels."""

from __future__ import annotations

from typing import Any

import skia

from visemic.render.avatar.design import JAW
from visemic.render.avatar.paint import add_segments, segments_reversed


class MouthPainter:
    """Mixin of :class:`AvatarRenderer`: the mouth."""

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
            add_segments(cavity, upper_in)
            add_segments(cavity, segments_reversed((xil, cyl), lower_in))
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
        add_segments(lower, lower_in)
        lower.lineTo(xr, cyr)
        add_segments(lower, segments_reversed((xl, cyl), lower_out))
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
            add_segments(mouth, upper_out)
            add_segments(mouth, segments_reversed((xl, cyl), lower_out))
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
        add_segments(upper, upper_out)
        upper.lineTo(xir, cyr)
        add_segments(upper, segments_reversed((xil, cyl), upper_in))
        upper.close()
        canvas.drawPath(upper, self._p_lip_up)

        seam = skia.Path()
        seam.moveTo(xl, cyl)
        seam.lineTo(xil, cyl)
        add_segments(seam, upper_in)
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
