"""The jaw of the portrait rig: which landmarks move with it, how it turns about its hinge, how
far it turns for a jawOpen value, and how lips photographed apart are brought together. A mixin
of :class:`~visemic.render.portrait.rig.Rig`."""

from __future__ import annotations

import math

import numpy as np

from visemic.easing import smoothstep
from visemic.render.portrait import mesh
from visemic.render.portrait.rig_tables import (
    HINGE_BELOW_CHEEKS,
    HINGE_DEPTH,
    JAW_DROP,
    JAW_GAIN,
    JAW_KNEE,
    JAW_LINEAR,
)


def jaw_turn(jaw_open: float) -> float:
    """The share of the full jaw turn (:data:`JAW_DROP`) shown for ``jawOpen``: in proportion at
    small openings, bent softly over above about JAW_KNEE (loud open vowels), never flat."""
    j = max(float(jaw_open), 0.0)
    return JAW_GAIN * (JAW_LINEAR * j + (1.0 - JAW_LINEAR) * JAW_KNEE * math.tanh(j / JAW_KNEE))


class JawRig:
    """Jaw set-up (``_jaw_weights``, ``_set_jaw``), motion (``_jaw_delta``) and the closing of a
    mouth photographed open (``_close_mouth``) for :class:`Rig`."""

    def _mouth_gap(self, pts: np.ndarray) -> float:
        upper = pts[list(mesh.LIPS_INNER_UPPER[3:8]), :2]
        lower = pts[list(mesh.LIPS_INNER_LOWER[3:8]), :2]
        return float(np.max((lower - upper) @ self.ey))


    def _close_mouth(self, pts: np.ndarray) -> np.ndarray:
        """Bring photographed-open lips together: the jaw turns up, the lips meet."""
        self.jaw_weight = self._jaw_weights(pts)
        self._set_jaw(pts)
        gap = self._mouth_gap(pts)
        out = pts.copy()
        target = 0.7 * gap  # the lower lip rises most of the way, the upper lip the rest
        lo, hi = -0.6, 0.0
        for _ in range(30):  # the jaw angle whose lower-lip rise is ``target``
            mid = (lo + hi) / 2
            rise = -float(self._jaw_delta(pts[[14]], mid / self._theta_per_unit)[0, :2]
                          @ self.ey)
            lo, hi = (mid, hi) if rise > target else (lo, mid)
        out += self.jaw_weight[:, None] * self._jaw_delta(pts, (lo + hi) / 2 /
                                                           self._theta_per_unit)
        upper = list(mesh.LIPS_INNER_UPPER)
        lower = list(mesh.LIPS_INNER_LOWER)
        meet = (out[upper] + out[lower]) / 2.0
        # The upper lip comes down by what is left; its outer edge follows half as much.
        shift = meet - out[upper]
        out[upper] = meet
        out[lower] = meet
        outer = list(mesh.LIPS_OUTER_UPPER)
        out[outer, :2] += 0.5 * shift[:, :2]
        return out

    def _jaw_weights(self, pts: np.ndarray) -> np.ndarray:
        """How much each landmark moves with the jaw: 1 below the mouth line, 0 above it,
        blending across the cheeks up to the hinge."""
        w = self._jaw_field(pts, self.to_face(pts))
        w[list(mesh.LIPS_OUTER_UPPER + mesh.LIPS_INNER_UPPER)] = 0.0
        w[list(mesh.LIPS_OUTER_LOWER + mesh.LIPS_INNER_LOWER)] = 1.0
        w[list(mesh.MOUTH_CORNERS)] = 0.5
        return w

    def _jaw_field(self, pts: np.ndarray, f: np.ndarray) -> np.ndarray:
        """The jaw weight at face-frame points ``f``, from the mouth line of landmarks
        ``pts``."""
        fl = self.to_face(pts)
        inner_u = fl[list(mesh.LIPS_INNER_UPPER)]
        inner_l = fl[list(mesh.LIPS_INNER_LOWER)]
        line = (inner_u + inner_l) / 2.0
        order = np.argsort(line[:, 0])
        lx, ly = line[order, 0], line[order, 1]
        hinge_y = float(fl[[234, 454], 1].mean()) + HINGE_BELOW_CHEEKS
        edge = float(np.abs(fl[list(mesh.FACE_OVAL), 0]).max())
        x, y = f[:, 0], f[:, 1]
        beyond = np.clip((np.abs(x) - np.where(x < 0, -lx[0], lx[-1])) /
                         np.maximum(edge - np.abs(np.where(x < 0, lx[0], lx[-1])), 1e-6),
                         0.0, 1.0)
        corner_y = np.where(x < 0, ly[0], ly[-1])
        y_line = np.where(beyond > 0, corner_y + (hinge_y - corner_y) * beyond,
                          np.interp(x, lx, ly))
        band = 0.08 + 0.35 * beyond
        return smoothstep((y - y_line) / band + 0.5)

    def _set_jaw(self, pts: np.ndarray) -> None:
        f = self.to_face(pts)
        self.z_lip = float(pts[14, 2])
        self.hinge_s = (float(f[[234, 454], 1].mean()) + HINGE_BELOW_CHEEKS) * self.iod
        self.hinge_z = self.z_lip + HINGE_DEPTH * self.iod
        # Angle at jawOpen = 1: the lower lip drops JAW_DROP eye distances.
        s14 = float(f[14, 1]) * self.iod - self.hinge_s
        dz = self.hinge_z - self.z_lip
        drop = JAW_DROP * self.iod
        # Solve s·(cos θ − 1) + dz·sin θ = drop for θ (small-angle start, Newton steps).
        theta = drop / dz
        for _ in range(6):
            g = s14 * (math.cos(theta) - 1) + dz * math.sin(theta) - drop
            dg = -s14 * math.sin(theta) + dz * math.cos(theta)
            theta -= g / dg
        self._theta_per_unit = theta

    def _jaw_delta(self, pts: np.ndarray, amount: float) -> np.ndarray:
        """Displacement (N×3) of points turned about the jaw hinge by ``amount`` × the full
        opening angle (weights not applied)."""
        out = np.zeros((len(pts), 3))
        if amount == 0.0:
            return out
        theta = amount * self._theta_per_unit
        s = (pts[:, :2] - self.origin) @ self.ey - self.hinge_s
        z = pts[:, 2] - self.hinge_z
        c, sn = math.cos(theta), math.sin(theta)
        ds = s * (c - 1) - z * sn
        out[:, :2] = ds[:, None] * self.ey
        out[:, 2] = s * sn + z * (c - 1)
        return out

