"""The inside of an opened mouth: a dark cavity with upper and lower teeth and a tongue.

Painted into the opening between the (warped) inner lips, anti-aliased, with colours taken from
the portrait itself (lips for the cavity and tongue, the skin's light and tint for the teeth)
and darkened towards the lips and the corners, where little light gets in.
"""

from __future__ import annotations

import cv2
import numpy as np

from visemic.render.portrait import mesh

_SHIFT = 4
_ONE = float(1 << _SHIFT)
# Reference colours (linear-ish 0…1 RGB) before matching to the portrait.
TEETH = np.array([0.94, 0.92, 0.87])
# Shares of the lip colour.
CAVITY_FROM_LIPS = 0.3
CORNER_FROM_LIPS = 0.55  # the inside of the lips, seen where they meet at the corners
TONGUE_FROM_LIPS = 0.85
LOWER_TEETH_LIGHT = 0.62  # the lower teeth sit in the upper lip's and the tongue's shade


def _median_in(image: np.ndarray, polygons: list[np.ndarray], holes: list[np.ndarray]
               ) -> np.ndarray | None:
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(p).astype(np.int32) for p in polygons], 255)
    if holes:
        cv2.fillPoly(mask, [np.round(p).astype(np.int32) for p in holes], 0)
    pixels = image[mask > 0][:, :3]
    if len(pixels) < 4:
        return None
    return np.median(pixels, axis=0).astype(np.float64)


class MouthPainter:
    """Paints the mouth interior for one portrait; colours are sampled once from ``image``
    (H×W×3/4 uint8) around the rest landmarks ``points`` (478×2, the image's pixels)."""

    def __init__(self, image: np.ndarray, points: np.ndarray, eye_distance: float) -> None:
        self.iod = float(eye_distance)
        outer = points[list(mesh.LIPS_OUTER_UPPER + tuple(reversed(mesh.LIPS_OUTER_LOWER)))]
        inner = points[list(mesh.inner_mouth())]
        lips = _median_in(image, [outer[:, :2]], [inner[:, :2]])
        cheeks = [points[list(mesh.CHEEK[s]), :2] for s in mesh.SIDES]
        skin = _median_in(image, [cv2.convexHull(c.astype(np.float32))[:, 0] for c in cheeks],
                          [])
        if skin is None:
            skin = np.array([200.0, 160.0, 140.0])
        if lips is None:
            lips = skin * np.array([0.9, 0.6, 0.6])
        self.cavity = lips * CAVITY_FROM_LIPS
        self.corner = lips * CORNER_FROM_LIPS
        self.tongue = np.clip(lips * TONGUE_FROM_LIPS + 0.1 * skin, 0, 255)
        # Teeth: about as light as the skin (they sit in the lips' shade), a little of its tint.
        light = float(np.clip(skin.mean() / 255.0 * 1.15, 0.45, 0.97))
        tint = (skin / max(skin.mean(), 1.0)) ** 0.2
        self.teeth = np.clip(TEETH * 255.0 * light * tint, 0, 255)

    def paint(self, image: np.ndarray, inner: np.ndarray, teeth_upper: np.ndarray,
              teeth_lower: np.ndarray, tongue_out: float = 0.0, opacity: float = 1.0,
              teeth_shown: float = 1.0) -> None:
        """Paint into ``image`` (modified in place) inside the opening ``inner`` (the 20-point
        inner-lip loop of :func:`mesh.inner_mouth`), with the upper incisors' lower edge
        ``teeth_upper`` and the lower incisors' upper edge ``teeth_lower`` (11 points each,
        right corner → left corner); ``opacity`` fades the whole interior, ``teeth_shown``
        the teeth into the dark cavity."""
        h, w = image.shape[:2]
        x0 = max(int(np.floor(inner[:, 0].min())) - 2, 0)
        y0 = max(int(np.floor(inner[:, 1].min())) - 2, 0)
        x1 = min(int(np.ceil(inner[:, 0].max())) + 3, w)
        y1 = min(int(np.ceil(inner[:, 1].max())) + 3, h)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return
        bw, bh = x1 - x0, y1 - y0
        origin = np.array([x0, y0], np.float64)

        def fixed(p: np.ndarray) -> np.ndarray:
            return np.round((p - origin) * _ONE).astype(np.int32)

        alpha = np.zeros((bh, bw), np.uint8)
        cv2.fillPoly(alpha, [fixed(inner)], 255, cv2.LINE_AA, _SHIFT)
        if int(alpha.max()) == 0:
            return
        a = alpha.astype(np.float32) * (float(opacity) / 255.0)
        if float(a.sum()) < 1.0:
            return
        iod = self.iod
        top = np.minimum(inner[:11, 1].min(), teeth_upper[:, 1].min()) - 0.2 * iod
        bottom = max(inner[:, 1].max(), teeth_lower[:, 1].max()) + 0.2 * iod

        layer = np.empty((bh, bw, 3), np.float32)
        layer[:] = self.cavity
        mid = (teeth_lower[0] + teeth_lower[-1]) / 2
        half = float(np.hypot(*(teeth_lower[-1] - teeth_lower[0]))) / 2
        xs = (np.arange(bw, dtype=np.float32) + x0 - float(mid[0])) / max(half, 1.0)
        xs *= xs
        # Towards the corners the opening shows the lips' insides, not a black wedge.
        corner = np.clip((xs - 0.55) / 0.4, 0.0, 1.0)
        layer += corner[None, :, None] * (self.corner - self.cavity).astype(np.float32)
        # The tongue: a low mound behind the lower teeth, coming forward with tongueOut.
        lift = (0.03 + 0.08 * tongue_out) * iod
        tongue = np.array([[mid[0] - 0.75 * half, bottom], [mid[0] - 0.6 * half, mid[1] + lift],
                           [mid[0], mid[1] - lift], [mid[0] + 0.6 * half, mid[1] + lift],
                           [mid[0] + 0.75 * half, bottom]])
        self._fill(layer, fixed(_smooth_curve(tongue)), self.tongue)
        # Only the edges of the lower incisors show above the lower lip.
        lower = np.concatenate([teeth_lower, teeth_lower[::-1] + [0.0, 0.035 * iod]])
        upper = np.concatenate([teeth_upper, [[teeth_upper[-1, 0], top],
                                              [teeth_upper[0, 0], top]]])
        # Where the teeth are (they take their own light: enamel stays light in a narrow
        # opening, where the cavity behind it is dark).
        teeth = np.zeros((bh, bw), np.float32)
        shown = float(np.clip(teeth_shown, 0.0, 1.0))
        enamel = self.cavity + (self.teeth - self.cavity) * shown
        if tongue_out < 0.5:
            self._fill(layer, fixed(lower), enamel * LOWER_TEETH_LIGHT)
            cv2.fillPoly(teeth, [fixed(lower)], shown, cv2.LINE_AA, _SHIFT)
        else:
            self._fill(layer, fixed(tongue), self.tongue)
        self._fill(layer, fixed(upper), enamel)
        cv2.fillPoly(teeth, [fixed(upper)], shown, cv2.LINE_AA, _SHIFT)
        if shown > 0.5:
            self._incisor_gaps(layer, teeth_upper, origin)
        # Light falls off towards the corners and into the lips' shadow; on the teeth less
        # (a soft shade under the lip, darker where the arch turns away at the sides).
        across = np.clip(1.0 - 0.45 * xs, 0.5, 1.0)
        across_teeth = np.clip(1.0 - 0.3 * xs, 0.5, 1.0)
        sigma = max(0.035 * iod, 0.8)
        shade = cv2.GaussianBlur(alpha.astype(np.float32) / 255.0, (0, 0), sigma)
        light = (0.3 + 0.7 * np.clip(shade * 1.6 - 0.5, 0.0, 1.0)) * across[None, :]
        light += (0.8 - light) * corner[None, :]  # lit from the side, like the lips
        light_teeth = (0.62 + 0.38 * np.clip(shade * 1.6 - 0.3, 0.0, 1.0)) * across_teeth[None, :]
        light += (light_teeth - light) * teeth
        layer *= light[:, :, None]
        np.clip(layer, self.cavity.min() * 0.5, 255, out=layer)
        patch = image[y0:y1, x0:x1, :3].astype(np.float32)
        patch += (layer - patch) * a[:, :, None]
        image[y0:y1, x0:x1, :3] = np.round(patch).astype(np.uint8)

    @staticmethod
    def _fill(layer: np.ndarray, poly: np.ndarray, color: np.ndarray) -> None:
        cv2.fillPoly(layer, [poly], tuple(float(c) for c in color), cv2.LINE_AA, _SHIFT)

    def _incisor_gaps(self, layer: np.ndarray, edge: np.ndarray, origin: np.ndarray) -> None:
        """Faint lines between the front teeth."""
        centre = (edge[0] + edge[-1]) / 2
        width = 0.085 * self.iod
        if width < 3:
            return
        xs = [centre[0] + k * width for k in (-1, 0, 1)]
        ys = np.interp(xs, edge[:, 0], edge[:, 1]) if edge[0, 0] < edge[-1, 0] else \
            np.interp(xs, edge[::-1, 0], edge[::-1, 1])
        color = tuple(float(c) for c in self.teeth * 0.8)
        for x, y in zip(xs, ys, strict=True):
            p0 = np.round((np.array([x, y - 0.12 * self.iod]) - origin) * _ONE).astype(int)
            p1 = np.round((np.array([x, y]) - origin) * _ONE).astype(int)
            cv2.line(layer, tuple(p0.tolist()), tuple(p1.tolist()), color, 1, cv2.LINE_AA,
                     _SHIFT)


def _smooth_curve(points: np.ndarray, steps: int = 6) -> np.ndarray:
    """A Catmull-Rom curve through ``points`` (open, end points kept)."""
    p = np.concatenate([points[:1], points, points[-1:]])
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        for t in np.linspace(0.0, 1.0, steps, endpoint=False):
            t2, t3 = t * t, t * t * t
            out.append(0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2
                              + (-p0 + 3 * p1 - 3 * p2 + p3) * t3))
    out.append(points[-1])
    return np.array(out)
