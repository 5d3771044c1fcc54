"""The inside of an opened mouth: a shaded cavity, rows of teeth with a gum line, a tongue.

Painted into the opening between the (warped) inner lips. Everything is computed per pixel of
the opening's bounding box (NumPy, no per-tooth drawing calls):

- the cavity is the lips' own colour in shade, dark red rather than black: darkest under the
  upper teeth (the roof of the mouth) and in the corners, lighter low down where the light
  through the opening falls, and darker all over when the lips leave only a slit between the
  teeth; the lips' rims cast a soft shadow into it;
- the upper teeth are a row of individual teeth along an arch seen from the front (central and
  lateral incisors, canines, premolars: narrower towards the corners, where the arch turns
  away), each lighter in its middle, with a dark seam between neighbours, rounded corners and a
  scalloped gum line above; as the lips part wide, the lower teeth show their edges just above
  the lower lip, in the upper lip's shade;
- the tongue lies behind the lower teeth, its back filling more of the opening the wider it
  is, lit at the front; a little ``tongueOut`` (up to
  :data:`~visemic.motion.poses.TONGUE_BEHIND`, /l/) raises its tip behind the upper teeth, more
  brings the tip forward over the lower teeth, between both rows (/θ ð/);
- colours come from the portrait (its lips and skin); the edges are soft and blended;
  then the painted layer is blurred and grained like the picture around it (its sharpness and
  noise are measured from the image once), so that it does not look pasted on.
"""

from __future__ import annotations

import cv2
import numpy as np

from visemic.motion.poses import TONGUE_BEHIND
from visemic.render.portrait import mesh

_SHIFT = 4
_ONE = float(1 << _SHIFT)
# Reference enamel (0…1 RGB) before matching to the portrait's light.
TEETH = np.array([0.95, 0.93, 0.87])
# Shares of the lip colour.
INSIDE_FROM_LIPS = 0.8  # the wet inside of the mouth, before its shade
# The cavity's light (shares of that colour): under the upper teeth (the roof of the mouth, in
# the upper lip's shadow) and low down above the tongue, where the light through the opening
# falls; the corners take less. Real open mouths are dark red inside, not black: the tongue
# fills most of a wide opening, with a dark band under the upper teeth and in the corners.
ROOF_LIGHT, FLOOR_LIGHT = 0.4, 0.62
SLIT_LIGHT = 0.35  # … times this where the teeth leave only a slit between them
TONGUE_FROM_LIPS = 0.82
# The share of the room between the rows of teeth the tongue's back fills once the lips are
# TONGUE_ROOM eye distances further apart than the teeth take (TEETH_SHOW), less before.
TONGUE_FILL, TONGUE_ROOM, TEETH_SHOW = 0.62, 0.12, 0.1
# The lips' inner rims: the shadow they cast into the opening (its darkest share and its width
# in eye distances), and the lower lip's soft shadow just above its edge.
RIM_SHADE, RIM_WIDTH, LOWER_LIP_SHADE = 0.55, 0.018, 0.25
EDGE_SOFT = 0.004  # the opening's edge is blurred over at least this much (eye distances)
GUM_FROM_LIPS = 1.05
INSIDE_TINT = np.array([1.1, 0.75, 0.8])  # the inside of the mouth is redder than the lips
LOWER_TEETH_LIGHT = 0.8  # the lower teeth sit in the upper lip's and the tongue's shade
# Teeth widths along the arch from the midline (mm: central and lateral incisor, canine,
# premolars, molar) and the arch length (mm) seen at the mouth's corners.
UPPER_WIDTHS = (8.5, 6.5, 7.5, 7.0, 6.5, 10.0)
LOWER_WIDTHS = (5.4, 5.9, 7.0, 7.0, 7.0, 11.0)
ARCH_AT_CORNER = 29.0
TOOTH_HEIGHT = 0.13  # visible crown of an upper central incisor (eye distances)
LOWER_CROWN = 0.03  # the most of the lower incisors' crowns that shows above the lower lip
GUM_HEIGHT = 0.05
# How much the painted layer is blurred to match a picture of a given sharpness (see
# MouthPainter._match_sharpness): candidate Gaussian sigmas, in pixels.
BLUR_STEPS = (0.0, 0.5, 0.8, 1.1, 1.5, 2.0, 2.8)


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


def _tooth_map(s: np.ndarray, widths: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """For positions ``s`` across the mouth (−1…1 corner to corner), (tooth number from the
    midline, position within that tooth −1…1) on an arch seen from the front."""
    arc = np.arcsin(np.clip(np.abs(s), 0.0, 0.999)) / (np.pi / 2) * ARCH_AT_CORNER
    edges = np.concatenate([[0.0], np.cumsum(widths)])
    k = np.clip(np.searchsorted(edges, arc, side="right") - 1, 0, len(widths) - 1)
    u = (arc - edges[k]) / np.asarray(widths)[k] * 2.0 - 1.0
    return k, u


def _detail(image: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """(noise, sharpness) of ``image``'s luma over ``mask``: noise as the robust deviation
    from a 3×3 median, sharpness as mean |Laplacian| / mean |gradient| (a blurred edge of
    width σ scores about 1/σ)."""
    luma = cv2.cvtColor(np.ascontiguousarray(image[:, :, :3]), cv2.COLOR_RGB2GRAY)
    f = luma.astype(np.float32)
    resid = f - cv2.medianBlur(luma, 3).astype(np.float32)
    noise = 1.4826 * float(np.median(np.abs(resid[mask])))
    return noise, _sharpness(f, mask)


def _sharpness(f: np.ndarray, mask: np.ndarray) -> float:
    gx = cv2.Sobel(f, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(f, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    grad = np.hypot(gx, gy)
    lap = np.abs(cv2.Laplacian(f, cv2.CV_32F, ksize=1))
    strong = mask & (grad > np.percentile(grad[mask], 75))
    if strong.sum() < 8:
        return 1.0
    return float(lap[strong].mean() / max(float(grad[strong].mean()), 1e-3))


class MouthPainter:
    """Paints the mouth interior for one portrait; colours, sharpness and grain are taken once
    from ``image`` (H×W×3/4 uint8) around the rest landmarks ``points`` (478×2, the image's
    pixels)."""

    def __init__(self, image: np.ndarray, points: np.ndarray, eye_distance: float) -> None:
        self.iod = float(eye_distance)
        outer = points[list(mesh.LIPS_OUTER_UPPER + tuple(reversed(mesh.LIPS_OUTER_LOWER)))]
        inner = points[list(mesh.inner_mouth())]
        lips = _median_in(image, [outer[:, :2]], [inner[:, :2]])
        cheeks = [points[list(mesh.CHEEK[s]), :2] for s in mesh.SIDES]
        hulls = [cv2.convexHull(c.astype(np.float32))[:, 0] for c in cheeks]
        skin = _median_in(image, hulls, [])
        if skin is None:
            skin = np.array([200.0, 160.0, 140.0])
        if lips is None:
            lips = skin * np.array([0.9, 0.6, 0.6])
        self.inside = np.clip(lips * INSIDE_FROM_LIPS * INSIDE_TINT, 0, 255)
        self.tongue = np.clip(lips * TONGUE_FROM_LIPS + 0.12 * skin, 0, 255)
        self.gum = np.clip(lips * GUM_FROM_LIPS + 0.1 * skin, 0, 255)
        # Teeth: about as light as the skin (they sit in the lips' shade), a little of its tint.
        light = float(np.clip(skin.mean() / 255.0 * 1.3, 0.6, 0.98))
        tint = (skin / max(skin.mean(), 1.0)) ** 0.1
        self.teeth = np.clip(TEETH * 255.0 * light * tint, 0, 255)
        # The picture's grain and sharpness around the mouth (cheeks, lips, chin).
        around = np.zeros(image.shape[:2], np.uint8)
        cv2.fillPoly(around, [np.round(h).astype(np.int32) for h in hulls], 1)
        ring = cv2.convexHull(np.concatenate(hulls + [outer[:, :2]]).astype(np.float32))
        lips_mask = np.zeros_like(around)
        cv2.fillPoly(lips_mask, [np.round(ring[:, 0]).astype(np.int32)], 1)
        self.noise = 0.0
        self.blur = 0.0
        if around.sum() > 64 and lips_mask.sum() > 64:
            noise, _ = _detail(image, around > 0)
            _, sharp = _detail(image, lips_mask > 0)
            self.noise = min(noise, 12.0)
            self.blur = self._match_sharpness(sharp)
        rng = np.random.default_rng(0)
        h, w = image.shape[:2]
        self._grain = rng.standard_normal((h, w)).astype(np.float32)

    def grain(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """The fixed unit grain field (the picture's size) in a box, zeros outside it."""
        out = np.zeros((y1 - y0, x1 - x0), np.float32)
        part = self._grain[y0:y1, x0:x1]
        out[: part.shape[0], : part.shape[1]] = part
        return out

    def _match_sharpness(self, target: float) -> float:
        """The blur whose painted interior is about as sharp as the picture (``target``)."""
        r = 0.45 * self.iod  # a test mouth at the portrait's own scale
        size = int(2.6 * r) + 8
        c = size / 2.0
        inner = np.array([[c + r * np.cos(a), c + 0.5 * r * np.sin(a)]
                          for a in np.linspace(np.pi, 2 * np.pi, 11)] +
                         [[c + r * np.cos(a), c + 0.5 * r * np.sin(a)]
                          for a in np.linspace(0.0, np.pi, 11)[1:-1][::-1]])
        xs = np.linspace(c - r, c + r, 11)
        upper = np.stack([xs, np.full(11, c - 0.1 * r)], axis=1)
        lower = np.stack([xs, np.full(11, c + 0.35 * r)], axis=1)
        best, best_err = 0.0, np.inf
        for sigma in BLUR_STEPS:
            canvas = np.full((size, size, 3), 180, np.uint8)
            saved, self.blur, self.noise = (self.blur, self.noise), sigma, 0.0
            self.paint(canvas, inner, upper, lower)
            self.blur, self.noise = saved
            mask = np.zeros((size, size), np.uint8)
            cv2.fillPoly(mask, [np.round(inner).astype(np.int32)], 1)
            mask = cv2.dilate(mask, np.ones((5, 5), np.uint8)) > 0
            gray = cv2.cvtColor(canvas, cv2.COLOR_RGB2GRAY).astype(np.float32)
            err = abs(np.log(_sharpness(gray, mask) / max(target, 1e-3)))
            if err < best_err:
                best, best_err = sigma, err
        return best

    def paint(self, image: np.ndarray, inner: np.ndarray, teeth_upper: np.ndarray,
              teeth_lower: np.ndarray, tongue_out: float = 0.0, opacity: float = 1.0,
              teeth_shown: float = 1.0) -> None:
        """Paint into ``image`` (modified in place) inside the opening ``inner`` (the 20-point
        inner-lip loop of :func:`mesh.inner_mouth`), with the upper incisors' lower edge
        ``teeth_upper`` and the lower incisors' upper edge ``teeth_lower`` (11 points each,
        right corner → left corner); ``opacity`` fades the whole interior, ``teeth_shown``
        the teeth into the dark cavity."""
        h, w = image.shape[:2]
        lips_inner = inner
        inner = _closed_curve(inner)  # the lips' edge is round, not a polygon
        pad = int(np.ceil(2 * self.blur)) + 2
        x0 = max(int(np.floor(inner[:, 0].min())) - pad, 0)
        y0 = max(int(np.floor(inner[:, 1].min())) - pad, 0)
        x1 = min(int(np.ceil(inner[:, 0].max())) + pad + 1, w)
        y1 = min(int(np.ceil(inner[:, 1].max())) + pad + 1, h)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return
        bw, bh = x1 - x0, y1 - y0
        origin = np.array([x0, y0], np.float64)
        alpha = np.zeros((bh, bw), np.uint8)
        cv2.fillPoly(alpha, [np.round((inner - origin) * _ONE).astype(np.int32)], 255,
                     cv2.LINE_AA, _SHIFT)
        if int(alpha.max()) == 0:
            return
        a = alpha.astype(np.float32) * (1.0 / 255.0)
        if float(a.sum()) * opacity < 1.0:
            return
        iod = self.iod
        gx = np.arange(bw, dtype=np.float32) + x0
        gy = (np.arange(bh, dtype=np.float32) + y0)[:, None]

        # Across the mouth: −1…1 corner to corner along the teeth's line.
        right, left = teeth_upper[0], teeth_upper[-1]
        mid_x = float(right[0] + left[0]) / 2.0
        half = max(float(abs(left[0] - right[0])) / 2.0, 1.0)
        s = (gx - mid_x) / half
        order = np.argsort(teeth_upper[:, 0])
        edge_up = np.interp(gx, teeth_upper[order, 0], teeth_upper[order, 1])
        order = np.argsort(teeth_lower[:, 0])
        edge_low = np.interp(gx, teeth_lower[order, 0], teeth_lower[order, 1])
        bottom = lips_inner[[0, *range(11, len(lips_inner)), 10]]
        lip_low = np.interp(gx, *bottom[np.argsort(bottom[:, 0])].T)
        top = lips_inner[:11]
        lip_up = np.interp(gx, *top[np.argsort(top[:, 0])].T)
        # How wide the way in for the light is: a slit between the teeth shows the dark inside,
        # a wide opening lets light onto the tongue and the floor of the mouth.
        wide = np.clip((lip_low - lip_up - TEETH_SHOW * iod) / (TONGUE_ROOM * iod), 0.0, 1.0)
        # In a wide opening the lower teeth show their edges just above the lower lip, however
        # far it is pulled down (mouthLowerDown): they do not hang in the opening above it. In
        # a narrow one the lip covers them. Their row is an arch (a parabola through the lip's
        # inner edge), not the lip's kinks.
        mid = np.abs(s) < 0.8
        if int(mid.sum()) >= 3:
            arch = np.polyval(np.polyfit(s[mid], lip_low[mid], 2), s)
            edge_low = np.maximum(edge_low, arch - LOWER_CROWN * iod * wide)

        # Down the opening: 0 at the upper lip's inner edge, 1 at the lower lip's.
        down = np.clip((gy - lip_up[None, :]) / np.maximum(lip_low - lip_up, 1.0)[None, :],
                       0.0, 1.0)

        # Cavity: the lips' colour in shade, darkest under the upper teeth (the roof of the
        # mouth) and in the corners (the cheeks), lighter low down towards the tongue, where
        # the light through the opening falls.
        corner = np.clip(1.0 - 0.55 * s * s, 0.3, 1.0)
        light = (ROOF_LIGHT + (FLOOR_LIGHT - ROOF_LIGHT) * down) * \
            (corner * (SLIT_LIGHT + (1.0 - SLIT_LIGHT) * wide))[None, :]
        layer = (self.inside[None, None, :] * light[:, :, None]).astype(np.float32)

        # Tongue: it lies on the floor of the mouth behind the lower teeth; seen from the front
        # as the jaw drops, its back rises into view and fills the lower part of the opening.
        room = np.maximum(edge_low - edge_up, 0.0)
        dome = np.sqrt(np.clip(1.0 - (s / 0.9) ** 2, 0.0, 1.0))
        # (a slightly open mouth shows the dark between the teeth; the wider, the more tongue)
        fill = TONGUE_FILL * wide
        tongue_top = edge_low - np.maximum(0.045 * iod, fill * room) * dome
        tip = float(np.clip(tongue_out, 0.0, 1.0))
        # How far the tip has come forward between the teeth (0 up to TONGUE_BEHIND: raised
        # behind the upper teeth, /l/; 1 from tongueOut 0.25, /θ ð/).
        forward = float(np.clip((tip - TONGUE_BEHIND) / (0.25 - TONGUE_BEHIND), 0.0, 1.0))
        if tip > 0.0:
            reach = np.clip(1.0 - (s / 0.45) ** 2, 0.0, 1.0) ** 0.5
            # At tongueOut TONGUE_BEHIND the tip is up behind the upper teeth' edge.
            rise = np.maximum(tongue_top - edge_up, 0.0) + 0.04 * iod
            tongue_top = tongue_top - min(1.0, tip / TONGUE_BEHIND) * reach * rise
        soft = max(0.012 * iod, 0.7)  # the tongue's far edge is round, not cut
        on_tongue = np.clip((gy - tongue_top[None, :]) / soft + 0.5, 0.0, 1.0) * \
            np.clip((0.95 - np.abs(s)) * 8.0, 0.0, 1.0)[None, :]
        # Lit at the front, in shade towards its back (its top edge here) and its sides, with
        # a faint groove down the middle.
        depth = np.maximum(edge_low - tongue_top, 1.0)[None, :]
        front = np.clip((gy - tongue_top[None, :]) / depth, 0.0, 1.0)
        tongue_light = (0.62 + 0.33 * np.sqrt(front)) * (1.0 - 0.45 * s * s)[None, :]
        tongue_light = tongue_light * (1.0 - 0.07 * np.exp(-(s / 0.07) ** 2))[None, :]
        if tip > 0.0:  # the raised tip is lit evenly, not shaded towards the throat
            tongue_light = np.maximum(tongue_light, min(1.0, tip / TONGUE_BEHIND) * 0.95)
        tongue_col = self.tongue[None, None, :] * tongue_light[:, :, None]
        layer += (tongue_col - layer) * on_tongue[:, :, None]

        shown = float(np.clip(teeth_shown, 0.0, 1.0))
        # Lower teeth: edges above the lower lip, shaded; hidden where the tongue comes out.
        k, u = _tooth_map(s, LOWER_WIDTHS)
        low = np.clip(gy - edge_low[None, :] + 0.5, 0.0, 1.0) * (np.abs(s) < 0.97)[None, :]
        low *= np.clip((np.maximum(edge_low + LOWER_CROWN * iod, lip_low + 1.0) - gy), 0.0, 1.0)
        low *= 1.0 - forward
        # (seen over the lower lip's rim, the seams between them are faint)
        tooth = np.sqrt(_tooth_shade(u, k))[None, :] * (1.0 - 0.45 * s * s)[None, :]
        col = self.teeth[None, None, :] * (LOWER_TEETH_LIGHT * tooth)[:, :, None]
        layer += (col - layer) * (low * shown)[:, :, None]
        enamel = low * shown

        # Upper teeth: a row of crowns hanging from a scalloped gum line.
        k, u = _tooth_map(s, UPPER_WIDTHS)
        height = TOOTH_HEIGHT * iod * np.array([1.0, 0.82, 0.95, 0.8, 0.75, 0.7])[k]
        # Rounded corners: each crown's edge rises towards its sides.
        corner = np.maximum(np.abs(u) - 0.55, 0.0) / 0.45
        edge = edge_up - 0.025 * iod * corner * corner * (1.0 - 0.5 * np.abs(s))
        gum_line = edge_up - height - 0.015 * iod * np.cos(u * np.pi / 2)
        crown = np.clip(edge[None, :] - gy + 0.5, 0.0, 1.0) * \
            np.clip(gy - gum_line[None, :] + 0.5, 0.0, 1.0) * (np.abs(s) < 0.98)[None, :]
        gum = np.clip(gum_line[None, :] - gy + 0.5, 0.0, 1.0) * (np.abs(s) < 0.98)[None, :]
        # Lit from the front: light in each crown's middle, in shade at the top (under the
        # lip), translucent (a little darker) at the biting edge, darker where the arch turns.
        tooth = _tooth_shade(u, k)[None, :] * (1.0 - 0.4 * s * s)[None, :]
        up = np.clip((edge[None, :] - gy) / np.maximum(height[None, :], 1.0), 0.0, 1.0)
        tooth = tooth * (0.9 + 0.1 * np.sin(np.pi * np.clip(up * 1.4, 0.0, 1.0)))
        col = self.teeth[None, None, :] * tooth[:, :, None]
        layer += (self.gum * (1.0 - 0.3 * s * s)[None, :, None] - layer) * \
            (gum * shown)[:, :, None]
        layer += (col - layer) * (crown * shown)[:, :, None]
        enamel = np.maximum(enamel, crown * shown)
        if forward > 0.0:  # the tongue's tip between the teeth, in front of both rows
            front = on_tongue * np.clip((lip_low[None, :] - gy) / 2.0 + 0.5, 0.0, 1.0)
            front *= np.clip(gy - (edge_up[None, :] - 0.015 * iod), 0.0, 1.0)
            front *= forward * np.clip((0.6 - np.abs(s)) * 8, 0, 1)[None, :]
            layer += (tongue_col * 1.1 - layer) * front[:, :, None]
            enamel *= 1.0 - front

        # Shade: the lips' inner rims curve away into the mouth and cast a soft shadow into
        # it, deepest under the upper lip, softer along the lower lip; enamel takes its own
        # light.
        rim = cv2.GaussianBlur(a, (0, 0), max(RIM_WIDTH * iod, 0.8))
        rim = np.clip(rim * 2.0 - 0.5, 0.0, 1.0)
        shade = RIM_SHADE + (1.0 - RIM_SHADE) * rim
        shade *= 1.0 - LOWER_LIP_SHADE * np.clip((gy - (lip_low[None, :] - 0.03 * iod))
                                                 / max(0.03 * iod, 1.0), 0.0, 1.0)
        shade += (0.86 + 0.14 * shade - shade) * enamel
        if tip > 0.0:
            # A raised tip sits right behind the teeth, in the light the gap lets in.
            lit = on_tongue * (1.0 - enamel) * min(1.0, tip / TONGUE_BEHIND)
            lit *= np.clip((0.6 - np.abs(s)) * 6, 0, 1)[None, :]
            shade += (0.8 - shade) * np.clip(lit, 0.0, 1.0) * 0.8
        layer *= shade[:, :, None]
        if self.blur > 0.25:
            layer = cv2.GaussianBlur(layer, (0, 0), self.blur)
        if self.noise > 0.3 and self._grain.shape[0] >= y1 and self._grain.shape[1] >= x1:
            # Grain (measured on the cheeks) scales with the light: the dark cavity less.
            light = np.clip(layer.mean(axis=2, keepdims=True) / 128.0, 0.25, 1.0)
            layer += self.noise * light * self._grain[y0:y1, x0:x1, None]
        # Soft where the lips meet the cavity (the lips' wet rims curve in), however sharp the
        # picture.
        edge = max(0.6 * self.blur, EDGE_SOFT * iod)
        if edge > 0.25:
            a = cv2.GaussianBlur(a, (0, 0), edge)
        a *= float(opacity)
        patch = image[y0:y1, x0:x1, :3].astype(np.float32)
        patch += (layer - patch) * a[:, :, None]
        image[y0:y1, x0:x1, :3] = np.clip(np.round(patch), 0, 255).astype(np.uint8)


def _tooth_shade(u: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Light across one crown (``u`` −1…1): brightest in its middle, a dark seam at its sides;
    teeth further back (``k``) a little darker."""
    body = 0.8 + 0.2 * np.cos(np.clip(u, -1.0, 1.0) * np.pi / 2)
    seam = np.clip((1.0 - np.abs(u)) / 0.12, 0.0, 1.0)
    return body * (0.55 + 0.45 * seam) * (1.0 - 0.06 * k)


def _closed_curve(points: np.ndarray, steps: int = 4) -> np.ndarray:
    """A closed Catmull-Rom curve through ``points`` (N×2), ``steps`` points per span."""
    p = np.asarray(points, np.float64)
    p0, p1, p2, p3 = np.roll(p, 1, axis=0), p, np.roll(p, -1, axis=0), np.roll(p, -2, axis=0)
    t = np.arange(steps, dtype=np.float64)[:, None, None] / steps
    t2, t3 = t * t, t * t * t
    out = 0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2
                 + (-p0 + 3 * p1 - 3 * p2 + p3) * t3)
    return out.transpose(1, 0, 2).reshape(-1, 2)
