"""The eyelids of the portrait rig: where the lids rest and how far each closes, and the lid skin
that slides down with them. A mixin of :class:`~visemic.render.portrait.rig.Rig`."""

from __future__ import annotations

import numpy as np

from visemic.motion.arkit import INDEX
from visemic.render.portrait import mesh
from visemic.render.portrait.rig_tables import (
    BROW_FOLLOW,
    GAZE_SIDEWAYS,
    GAZE_VERTICAL,
    LID_MEET,
    LID_RIGID,
    LID_SKIN_REACH,
    LID_TAPER,
    LIDS,
)


def _shut_offset(points: np.ndarray, upper: np.ndarray, lower: np.ndarray,
                 share: float) -> np.ndarray:
    """Vertical offsets (face units) taking ``points`` ``share`` of the way to the line where
    the lids ``upper`` and ``lower`` (face coordinates) meet when the eye shuts."""
    x = points[:, 0]
    uo, lo = np.argsort(upper[:, 0]), np.argsort(lower[:, 0])
    yu = np.interp(x, upper[uo, 0], upper[uo, 1])
    yl = np.interp(x, lower[lo, 0], lower[lo, 1])
    meet = yu + LID_MEET * (yl - yu)
    return ((meet - points[:, 1]) * share)[:, None]


class EyelidRig:
    """Lid set-up (``_set_lids``) and motion (``_apply_lids``) for :class:`Rig`."""

    def _set_lids(self, pts: np.ndarray) -> None:
        """Per eye: where each lid point goes when the eye shuts, and the eye's size."""
        self._lids = {}
        f = self.to_face(pts)
        for side in mesh.SIDES:
            upper = f[list(mesh.EYE_UPPER[side])]
            lower = f[list(mesh.EYE_LOWER[side])]
            up = list(mesh.EYE_UPPER[side][1:-1])
            low = list(mesh.EYE_LOWER[side][1:-1])
            iris = list(mesh.IRIS[side])

            def shut(ids: list[int], share: float, upper: np.ndarray = upper,
                     lower: np.ndarray = lower) -> np.ndarray:
                return _shut_offset(f[ids], upper, lower, share) * self.iod * self.ey[None, :]

            eye_height = float(lower[4, 1] - upper[4, 1])
            above, weight = self._lid_skin(f, side, "upper", LID_SKIN_REACH[0] * eye_height)
            under, under_weight = self._lid_skin(f, side, "lower",
                                                 LID_SKIN_REACH[1] * eye_height)
            self._lids[side] = {
                "up": up, "low": low,
                "iris": iris, "shut_up": shut(up, 1.0), "shut_low": shut(low, 1.0),
                "shut_iris": shut(iris[:1], 1.0),
                # The skin between the lid's margin and the brow follows the margin, fully
                # at the margin (the lash line keeps its width), less and less up to the brow:
                # the lid slides down as a piece and the skin under the brow stretches evenly.
                "above": above, "above_weight": weight,
                "margin_x": upper[:, 0], "above_x": f[above, 0],
                "under": under, "under_weight": under_weight,
                "low_x": lower[:, 0], "under_x": f[under, 0],
                "loop": list(mesh.eye_contour(side)) + [iris[0]],
                "height": max(float(lower[4, 1] - upper[4, 1]) * self.iod, 1.0),
                "width": max(float(abs(upper[0, 0] - upper[-1, 0])) * self.iod, 1.0),
            }

    def _lid_skin(self, f: np.ndarray, side: str, lid: str, reach: float
                  ) -> tuple[list[int], np.ndarray]:
        """The surface landmarks above the upper (``lid`` "upper") or below the lower lid's
        margin, up to ``reach`` (face units) from it, and how much each follows the margin:
        1 at the margin, falling off linearly to 0 at ``reach``."""
        margin = f[list((mesh.EYE_UPPER if lid == "upper" else mesh.EYE_LOWER)[side])]
        mo = np.argsort(margin[:, 0])
        x, y = f[: mesh.N_SURFACE, 0], f[: mesh.N_SURFACE, 1]
        inside = (x > margin[:, 0].min()) & (x < margin[:, 0].max())
        away = np.interp(x, margin[mo, 0], margin[mo, 1]) - y
        if lid != "upper":
            away = -away
        # The row of skin next to the upper margin goes with it as a piece: the lash line
        # between them keeps its width (stretched, it would read as a smudge); the skin
        # beyond takes the stretch.
        rigid = 0.0
        if lid == "upper":
            row = list(mesh.EYE_UPPER_FOLD[side][:7])
            rigid = min(float(np.median(away[row])), LID_RIGID * reach)
        weight = np.clip(1.0 - np.maximum(away - rigid, 0.0) / max(reach - rigid, 1e-3),
                         0.0, 1.0)
        if lid == "upper":
            # The brow stays, or comes down a little where the picture shows little lid under
            # it (wide-open eyes): from its lower edge up, the skin follows at most that much.
            brow = f[list(mesh.BROW_LOWER[side])]
            bo = np.argsort(brow[:, 0])
            y_brow = np.interp(x, brow[bo, 0], brow[bo, 1])
            lid_room = float(np.median(np.interp(margin[1:-1, 0], brow[bo, 0], brow[bo, 1])
                                       - margin[1:-1, 1])) * -1.0
            eye_height = reach / LID_SKIN_REACH[0]
            follow = BROW_FOLLOW * float(np.clip(1.0 - lid_room / eye_height, 0.0, 1.0))
            to_brow = y_brow - y  # > 0 above the brow's lower edge
            near = np.clip(1.0 + to_brow / max(0.5 * reach, 1e-3), 0.0, 1.0)
            weight = np.minimum(weight, follow + (1.0 - follow) * (1.0 - near))
        skip = set(mesh.EYE_UPPER[side] + mesh.EYE_LOWER[side])
        ids = [i for i in np.flatnonzero(inside & (away > 1e-4) & (weight > 0.0))
               if i not in skip]
        return ids, weight[ids]

    def _apply_lids(self, pts: np.ndarray, shapes: np.ndarray) -> np.ndarray:
        """Move lids and irises; returns both eyeballs (34×3: per eye the loop at its most open
        and the iris centre)."""
        loops = []
        for side in mesh.SIDES:
            lid = self._lids[side]
            s = side.capitalize()
            blink = float(shapes[INDEX[f"eyeBlink{s}"]])
            raise_up = raise_low = 0.0
            for name, (u, lo) in LIDS.items():
                v = float(shapes[INDEX[name.replace("{S}", s)]])
                raise_up += u * v
                raise_low += lo * v
            h = lid["height"]
            # Tapered towards the corners, which stay put: an even shift would kink the lid
            # (and break its lash line) at the outer corner.
            up_shift = -raise_up * h * LID_TAPER[:, None] * self.ey
            low_shift = -raise_low * h * LID_TAPER[:, None] * self.ey
            # Wide eyes and squints first, then the blink closes whatever is open.
            pts[lid["up"], :2] += up_shift
            pts[lid["low"], :2] += low_shift
            # Gaze: the iris (fan centre) moves within the opening.
            sign = 1.0 if side == "left" else -1.0
            look_out = float(shapes[INDEX[f"eyeLookOut{s}"]] - shapes[INDEX[f"eyeLookIn{s}"]])
            look_up = float(shapes[INDEX[f"eyeLookUp{s}"]] - shapes[INDEX[f"eyeLookDown{s}"]])
            gaze = (sign * look_out * GAZE_SIDEWAYS * lid["width"] / 2 * self.ex
                    - look_up * GAZE_VERTICAL * h / 2 * self.ey)
            pts[lid["iris"], :2] += gaze
            # The eyeball: the loop where it is most open, now or at rest (a squint's lids
            # cover the eye; they do not squash it).
            now, rest = pts[lid["loop"]].copy(), self.rest[lid["loop"]]
            height_now, height_rest = now[:, :2] @ self.ey, rest[:, :2] @ self.ey
            upper = np.zeros(17, bool)
            upper[1:8] = True
            lower = np.zeros(17, bool)
            lower[9:16] = True
            use_rest = (upper & (height_rest < height_now)) | (lower & (height_rest > height_now))
            now[use_rest] = rest[use_rest]
            loops.append(now)
            margin, low_move = up_shift, low_shift
            if blink > 0:
                b = min(blink, 1.0)
                # Whatever wide/squint did, the shut line is where both lids end up.
                margin = up_shift + b * (lid["shut_up"] - up_shift)
                low_move = low_shift + b * (lid["shut_low"] - low_shift)
                pts[lid["up"], :2] += b * (lid["shut_up"] - up_shift)
                pts[lid["low"], :2] += b * (lid["shut_low"] - low_shift)
                pts[lid["iris"][0], :2] += b * (lid["shut_iris"][0] - gaze)
                pts[lid["iris"][1:], :2] += b * (lid["shut_iris"][0] - gaze)
            drop = np.concatenate([[0.0], margin @ self.ey, [0.0]])  # the corners stay
            order = np.argsort(lid["margin_x"])
            follow = np.interp(lid["above_x"], lid["margin_x"][order], drop[order])
            pts[lid["above"], :2] += (lid["above_weight"] * follow)[:, None] * self.ey
            rise = np.concatenate([[0.0], low_move @ self.ey, [0.0]])
            order = np.argsort(lid["low_x"])
            follow = np.interp(lid["under_x"], lid["low_x"][order], rise[order])
            pts[lid["under"], :2] += (lid["under_weight"] * follow)[:, None] * self.ey
        return np.concatenate(loops)
