"""What a closing lid hides, and the texture of the lid skin it stretches.

The mesh warp slides the lid down over the eyeball, but the lid is only what the picture shows
above the margin landmarks. Where those lie a little inside the eye (Face Mesh on a turned or
painted eye often puts them on the iris or short of the corners), the lid drags a strip of iris,
catch-light or white down with it, and the corners stay white on a shut eye. And the few rows
of lid skin a wide-open eye shows, stretched over the whole eye, lose the picture's grain (a
painting's craquelure, a photo's pores).

So, set up once per eye from the picture (:class:`LidCover`):

- *eye pixels*: the fitted eye opening, and around it (out to :data:`BAND` of the eye's size)
  the pixels whose colour is not the lid's skin (white, iris, catch-light, lashes);
- the *lash colour*: the darkest pixels along the upper margin;
- a *detail layer*: the fine texture (the picture less a blur of it) of a nearby patch of
  plain skin, chosen below or above the eye.

Per frame, on the warped crop: wherever a pixel comes (through the warp's maps) from an eye
pixel but now lies outside the eye's opening, the lid has moved over it: it becomes lid skin,
the skin's colours around it (a normalised blur that leaves the eye pixels out) plus the detail
layer. Stretched skin keeps its colour and gets the detail layer instead of its streaks. Last,
the lash line is drawn along the moved margin in the lash colour, as the eye closes.
At rest (or with the lids where they are in the picture) nothing is changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from visemic.render.portrait import mesh

BAND = (0.35, 0.2)  # eye pixels are looked for this far beyond the opening: × height, × width
CLOSE_BAND = 0.15  # this far beyond it (× height) every pixel counts as eye
IRIS_HUE = 15.0  # Lab a/b distance from the lid skin's hue that marks an iris
BRIGHTER = 12.0  # Lab L (0…255) above the lid skin that marks the white of the eye
WHITE_CHROMA = 0.75  # ...and at most this share of the skin's chroma
LASH_DARK = 0.6  # darker than this share of the lid skin's luma: lashes
LASH_BLACK = 0.45  # ...and this dark, lashes that are surely not an iris
STRETCHED = 2.5  # skin stretched more than this many times gets the detail layer
FILL_BLUR = 0.35  # the lid colour's blur, × the eye's height
LASH = (0.012, 0.05)  # the drawn lash line's width, least and most, × the eyes' distance
LASH_ALPHA = 0.85  # how far the drawn lash line goes to the lash colour


@dataclass
class _Eye:
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the crop (room for the lid to move)
    height: float
    lash: np.ndarray  # RGB float32
    lash_width: float  # pixels
    skin: np.ndarray  # Lab float32 of the lid skin
    skin_rgb: np.ndarray  # the same, RGB float32
    detail: np.ndarray  # box-sized H×W×3 float32 high-pass of plain skin


class LidCover:
    """Covers the eye where a lid has moved over it (see the module's notes).

    ``image``: the crop (H×W×3/4 uint8) the warp samples; ``points``: the rest landmarks in
    it (with the lids fitted); ``down``: the face's unit vector down; ``eye_distance``: pixels.
    """

    def __init__(self, image: np.ndarray, points: np.ndarray, down: np.ndarray,
                 eye_distance: float) -> None:
        rgb = np.ascontiguousarray(image[:, :, :3])
        h, w = rgb.shape[:2]
        self.iod = float(eye_distance)
        self.down = np.asarray(down, np.float64)
        lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
        self.eyeness = np.zeros((h, w), np.float32)
        self.eyes: dict[str, _Eye] = {}
        self.sigma_detail = max(1.0, 0.012 * self.iod)
        fine = rgb.astype(np.float32)
        fine -= cv2.GaussianBlur(fine, (0, 0), self.sigma_detail)
        for side in mesh.SIDES:
            eye = self._set_up_eye(rgb, lab, fine, points, side)
            if eye is not None:
                self.eyes[side] = eye

    def _set_up_eye(self, rgb: np.ndarray, lab: np.ndarray, fine: np.ndarray,
                    pts: np.ndarray, side: str) -> _Eye | None:
        h, w = rgb.shape[:2]
        loop = pts[list(mesh.eye_contour(side)), :2]
        upper = pts[list(mesh.EYE_UPPER[side]), :2]
        lower = pts[list(mesh.EYE_LOWER[side]), :2]
        height = float(np.max((lower[1:-1] - upper[1:-1]) @ self.down))
        width = float(np.hypot(*(upper[0] - upper[-1])))
        if height < 2.0 or width < 4.0:
            return None
        # Room for the lid skin above (up to the brow) and the skin below.
        around = np.concatenate([loop, pts[list(mesh.EYE_UPPER_FOLD[side]), :2],
                                 pts[list(mesh.BROW_LOWER[side]), :2],
                                 pts[list(mesh.EYE_LOWER_SKIN[side]), :2]])
        # (Twice as much sideways: a turned head carries the eye towards the box's side, where
        # the cover fades out, and the white at its corner would show.)
        pad = 0.1 * self.iod
        x0, y0 = np.floor(around.min(axis=0) - [2.0 * pad, pad]).astype(int)
        x1, y1 = np.ceil(around.max(axis=0) + [2.0 * pad, 2.5 * pad]).astype(int)
        x0, y0, x1, y1 = max(int(x0), 0), max(int(y0), 0), min(int(x1), w), min(int(y1), h)
        if x1 - x0 < 4 or y1 - y0 < 4:
            return None
        box = (x0, y0, x1, y1)
        # The opening, then what lies beyond it that is not the lid's skin.
        opening = np.zeros((h, w), np.uint8)
        cv2.fillPoly(opening, [np.round(loop * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
        kx = max(1, int(round(BAND[1] * width)))
        ky = max(1, int(round(BAND[0] * height)))
        # Up and sideways; down only a little (the white beside a corner dips under it, but
        # the lower lid's margin is mostly where Face Mesh puts it).
        near = cv2.dilate((opening > 0).astype(np.uint8), _upward(kx, ky, down=0.2))
        # A margin landmark a little inside the eye: a thin band above the opening counts
        # as eye whatever its colour (the lash line is drawn again on the moved margin).
        closer = cv2.dilate((opening > 0).astype(np.uint8), _upward(
            0, max(1, int(round(CLOSE_BAND * height))))).astype(np.float32)
        skin = _lid_skin(lab, pts, side, self.down, height)
        if skin is None:
            return None
        sl = np.s_[y0:y1, x0:x1]
        px = lab[sl]
        # Beyond the opening: the white, the iris and catch-lights (lighter, or another hue
        # than the lid's skin), nearer than the band.
        hue = np.hypot(px[:, :, 1] - skin[1], px[:, :, 2] - skin[2])
        # The white is lighter and greyer than skin (light skin, on the nose, is not).
        chroma = np.hypot(px[:, :, 1] - 128.0, px[:, :, 2] - 128.0)
        # (Lighter than the skin under the eye too: a painted lid may be in shade.)
        under = _skin_under(lab, pts, side, self.down, 0.05 * self.iod)
        lightest = max(float(skin[0]), float(under[0]) if under is not None else 0.0)
        white = (px[:, :, 0] > lightest + BRIGHTER) & \
            (chroma < WHITE_CHROMA * np.hypot(skin[1] - 128.0, skin[2] - 128.0))
        # An iris is of another hue and darker (skin of another hue beside the eye, on the
        # nose or in a shadow's edge, is as light as the lid).
        iris = (hue > IRIS_HUE) & (px[:, :, 0] < skin[0] - BRIGHTER)
        other = (iris | white).astype(np.float32)
        # Only what joins the opening's inside: beyond a drawn eye's lash ring, a pale lid rim
        # is as light and grey as the white inside it, but it is lid (covered, it shows as a
        # patch of another colour).
        seeds = cv2.erode(opening[sl], np.ones((3, 3), np.uint8),
                          iterations=max(1, int(round(0.08 * height)))) > 0
        if not seeds.any():
            seeds = opening[sl] > 0
        count, labels = cv2.connectedComponents(((other > 0) | seeds).astype(np.uint8),
                                                connectivity=4)
        keep = np.zeros(count, np.float32)
        keep[np.unique(labels[seeds])] = 1.0
        keep[0] = 0.0
        other *= keep[labels]
        # In the close band, anything but drawn-black lashes (of the skin's hue: the lid's
        # margin, which slides down with it; a dark iris is not that dark).
        lash = (px[:, :, 0] < LASH_BLACK * skin[0]) & (hue <= IRIS_HUE)
        other = np.maximum(other, closer[sl] * (1.0 - lash)) * near[sl]
        other = cv2.GaussianBlur(other, (0, 0), 0.7)
        self.eyeness[sl] = np.maximum(self.eyeness[sl],
                                      np.maximum(opening[sl] / 255.0, other))
        # The lash colour: the darkest fifth of the pixels just above the upper margin.
        lash_w = max(1.5, LASH[0] * self.iod)
        band = np.zeros((h, w), np.uint8)
        line = upper[1:-1] - 0.5 * lash_w * self.down
        cv2.polylines(band, [np.round(line).astype(np.int32)], False, 1,
                      max(1, int(round(2 * lash_w))))
        values = rgb[band > 0].astype(np.float32)
        if len(values) < 4:
            return None
        luma = values @ np.array([0.299, 0.587, 0.114], np.float32)
        lash = values[luma <= np.percentile(luma, 20)].mean(axis=0)
        thickness = _lash_thickness(rgb, upper[2:-2], self.down, float(lash @ _LUMA),
                                    float(skin_rgb_of(skin) @ _LUMA), self.iod)
        detail = _plain_skin_detail(lab, fine, box, self.down)
        return _Eye(box, height, lash.astype(np.float32), thickness, skin.astype(np.float32),
                    skin_rgb_of(skin), detail)

    def apply(self, crop: np.ndarray, map_x: np.ndarray, map_y: np.ndarray,
              loop_now: np.ndarray, upper_now: np.ndarray, side: str, closure: float) -> None:
        """Cover, in place in ``crop``, what the lid of eye ``side`` has moved over.

        ``loop_now``: the eye's 16-point loop now; ``upper_now``: the upper margin (9 points)
        now; ``closure``: how shut the eye is (0…1)."""
        eye = self.eyes.get(side)
        if eye is None:
            return
        x0, y0, x1, y1 = eye.box
        bh, bw = y1 - y0, x1 - x0
        mx, my = map_x[y0:y1, x0:x1], map_y[y0:y1, x0:x1]
        came = cv2.remap(self.eyeness, mx, my, cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
        gx, gy = np.meshgrid(np.arange(x0, x1, dtype=np.float32),
                             np.arange(y0, y1, dtype=np.float32))
        moved = np.hypot(mx - gx, my - gy)
        # A pixel carried by the lid (moved), or any eye pixel once the eye is shutting
        # (the corners do not move).
        strength = np.maximum(np.clip(moved - 0.5, 0.0, 1.0), min(1.0, 2.0 * closure))
        open_now = np.zeros((bh, bw), np.uint8)
        cv2.fillPoly(open_now, [np.round((loop_now - [x0, y0]) * 16).astype(np.int32)], 255,
                     cv2.LINE_AA, 4)
        # How much of the eye is open (a shut eye's loop is a line: no opening at all).
        is_open = open_now * np.float32(np.clip((1.0 - closure) / 0.15, 0.0, 1.0) / 255.0)
        hidden = came * (1.0 - is_open) * strength
        # Stretched skin: source rows per output row under 1/STRETCHED.
        rate = np.abs(np.gradient(my, axis=0))
        stretched = np.clip((1.0 / STRETCHED - rate) * 2.0 * STRETCHED, 0.0, 1.0)
        stretched *= np.clip(moved - 0.5, 0.0, 1.0)
        # Fade out towards the box's edges (no seam where the box ends).
        edge = max(2.0, 0.05 * self.iod)
        ramp_y = np.clip(np.minimum(np.arange(bh), np.arange(bh)[::-1]) / edge, 0.0, 1.0)
        ramp_x = np.clip(np.minimum(np.arange(bw), np.arange(bw)[::-1]) / edge, 0.0, 1.0)
        # Soft edges (the stretched triangles' borders are lines).
        stretched = cv2.GaussianBlur(stretched, (0, 0), 2.0 * self.sigma_detail)
        weight = np.maximum(hidden, cv2.GaussianBlur(hidden, (0, 0), 0.12 * eye.height))
        weight = np.maximum(weight, stretched)
        # The open eye stays, and so does the lid's edge along it (its lashes, as warped).
        edge_keep = np.clip(2.0 * cv2.GaussianBlur(is_open, (0, 0), 1.5), 0.0, 1.0)
        weight *= np.outer(ramp_y, ramp_x) * (1.0 - edge_keep)
        if float(weight.max()) < 0.02:
            return
        patch = crop[y0:y1, x0:x1, :3].astype(np.float32)
        # The lid's colour: a blur that counts only the skin around (not the pixels to cover,
        # not the open eye) above the upper lid's edge (the skin under an eye is often
        # lighter than the lid: it would show as a light sliver along a shut eye).
        valid = (1.0 - hidden) * (1.0 - is_open)
        sigma = max(1.0, FILL_BLUR * eye.height)
        above = np.zeros((bh, bw), np.uint8)
        edge = upper_now - [x0, y0]
        edge = edge[np.argsort(edge[:, 0])]
        outline = np.concatenate([edge, [[2 * bw, edge[-1, 1]], [2 * bw, -bh], [-bw, -bh],
                                         [-bw, edge[0, 1]]]])
        cv2.fillPoly(above, [np.round(outline * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
        # (Not the lashes either: they would darken the whole lid.)
        luma = patch @ _LUMA
        not_lash = np.clip((luma - LASH_DARK * float(eye.skin_rgb @ _LUMA)) / 8.0, 0.0, 1.0)
        w_up = valid * (above.astype(np.float32) / 255.0) * not_lash
        den = cv2.GaussianBlur(w_up, (0, 0), sigma)[:, :, None]
        num = cv2.GaussianBlur(patch * w_up[:, :, None], (0, 0), sigma)
        # Where no skin is near, the lid's own colour.
        fill = (num + eye.skin_rgb * 0.05) / (den + 0.05)
        # Stretched skin keeps its own colour (its blur), covered eye takes the lid's.
        own = cv2.GaussianBlur(patch, (0, 0), self.sigma_detail)
        share = np.clip(hidden / np.maximum(weight, 1e-6), 0.0, 1.0)[:, :, None]
        base = own + (fill - own) * share
        patch += (base + eye.detail - patch) * weight[:, :, None]
        self._draw_lash(patch, eye, upper_now - [x0, y0], closure, 1.0 - is_open)
        crop[y0:y1, x0:x1, :3] = np.clip(np.round(patch), 0, 255).astype(np.uint8)

    def _draw_lash(self, patch: np.ndarray, eye: _Eye, upper: np.ndarray, closure: float,
                   lid: np.ndarray) -> None:
        """The lash line along the moved upper margin, darker as the eye shuts, on the lid
        (``lid``: 1 outside the eye's opening)."""
        if closure <= 0.02:
            return
        width = eye.lash_width
        # A lash line is smooth: the margin landmarks' wobble is left out (a parabola through
        # them, in the face's frame).
        across = np.array([self.down[1], -self.down[0]])
        u, v = upper @ across, upper @ self.down
        n = 24
        us = np.linspace(u[0], u[-1], n)
        fit = np.polyval(np.polyfit(u, v, 2), us)
        line = us[:, None] * across + (fit - 0.35 * width)[:, None] * self.down
        t = np.linspace(0.0, 1.0, n)
        taper = np.sin(np.pi * t) ** 0.5  # thinner and lighter towards the corners
        # (Half shut, the lid's edge is all lash already.)
        strength = min(1.0, 2.0 * closure) * taper
        mask = np.zeros(patch.shape[:2], np.float32)
        fixed = np.round(line * 16).astype(np.int32)
        for k in range(n - 1):
            value = float(0.5 * (strength[k] + strength[k + 1]))
            if value > 0.02:
                cv2.line(mask, tuple(fixed[k]), tuple(fixed[k + 1]), value,
                         max(1, int(round(width * (0.5 + 0.5 * taper[k])))), cv2.LINE_AA, 4)
        mask = cv2.GaussianBlur(mask, (0, 0), min(0.35 * width, 0.8))  # the picture's AA
        alpha = (LASH_ALPHA * np.clip(mask * 1.4, 0.0, 1.0) * lid)[:, :, None]
        # Only ever darker: where the lashes came down with the lid they stay as they are.
        patch[:] = np.minimum(patch, patch + (eye.lash - patch) * alpha)


_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def skin_rgb_of(lab: np.ndarray) -> np.ndarray:
    """One Lab colour (OpenCV's 8-bit scale) as RGB float32."""
    return cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8).reshape(1, 1, 3),
                        cv2.COLOR_LAB2RGB).reshape(3).astype(np.float32)


def _lash_thickness(rgb: np.ndarray, margin: np.ndarray, down: np.ndarray, lash: float,
                    skin: float, eye_distance: float) -> float:
    """How thick the picture's lash line is (pixels): the median run of dark pixels going up
    from the middle margin points."""
    h, w = rgb.shape[:2]
    reach = LASH[1] * eye_distance * 1.5
    t = np.arange(0.0, reach, 0.5)
    runs = []
    for p in margin:
        xy = p[None, :] - t[:, None] * down[None, :]
        px = rgb[np.clip(np.round(xy[:, 1]).astype(int), 0, h - 1),
                 np.clip(np.round(xy[:, 0]).astype(int), 0, w - 1)].astype(np.float32)
        dark = px @ _LUMA < 0.5 * (lash + skin)
        if dark.any():
            first = int(np.argmax(dark))
            end = first + (int(np.argmin(dark[first:])) if not dark[first:].all()
                           else len(dark) - first)
            runs.append(0.5 * (end - first))
    width = float(np.median(runs)) if runs else 0.0
    return float(np.clip(width, max(1.5, LASH[0] * eye_distance), LASH[1] * eye_distance))


def _upward(kx: int, ky: int, down: float = 0.0) -> np.ndarray:
    """A dilation kernel that grows a shape upwards: an ellipse of half-axes ``kx``, ``ky``
    whose downward half is cut to ``down`` of its height."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * kx + 1, 2 * ky + 1))
    kernel[:ky - int(round(down * ky))] = 0
    return kernel


def _skin_under(lab: np.ndarray, pts: np.ndarray, side: str, down: np.ndarray,
                offset: float) -> np.ndarray | None:
    """Median Lab of the skin a little below the lower lid's skin row."""
    mask = np.zeros(lab.shape[:2], np.uint8)
    for i in mesh.EYE_LOWER_SKIN[side][1:-1]:
        c = np.round(pts[i, :2] + offset * down).astype(int)
        cv2.circle(mask, (int(c[0]), int(c[1])), max(2, int(offset / 2)), 1, -1)
    pixels = lab[mask > 0]
    return np.median(pixels, axis=0) if len(pixels) >= 8 else None


def _lid_skin(lab: np.ndarray, pts: np.ndarray, side: str, down: np.ndarray,
              height: float) -> np.ndarray | None:
    """Median Lab of the skin just above the upper lid's fold row (its lighter part)."""
    fold = pts[list(mesh.EYE_UPPER_FOLD[side]), :2]
    mask = np.zeros(lab.shape[:2], np.uint8)
    band = np.concatenate([fold[:7], fold[7:][::-1]])
    cv2.fillPoly(mask, [np.round(band).astype(np.int32)], 1)
    if mask.sum() < 8:
        for p in fold:
            c = np.round(p - 0.2 * height * down).astype(int)
            cv2.circle(mask, (int(c[0]), int(c[1])), max(2, int(0.15 * height)), 1, -1)
    pixels = lab[mask > 0]
    if len(pixels) < 8:
        return None
    light = pixels[:, 0]
    return np.median(pixels[light >= np.percentile(light, 40)], axis=0)


def _plain_skin_detail(lab: np.ndarray, fine: np.ndarray, box: tuple[int, int, int, int],
                       down: np.ndarray) -> np.ndarray:
    """The detail layer (fine texture) of the smoothest box-sized patch of the picture below
    or above the eye (zeros when none fits)."""
    x0, y0, x1, y1 = box
    h, w = lab.shape[:2]
    best, best_score = None, np.inf
    for k in (1.0, 1.3, 1.7, -1.0, -1.4):  # box heights down (or up, over the brow)
        dx, dy = np.round(k * (y1 - y0) * down).astype(int)
        a0, b0, a1, b1 = x0 + dx, y0 + dy, x1 + dx, y1 + dy
        if a0 < 0 or b0 < 0 or a1 > w or b1 > h:
            continue
        light = cv2.GaussianBlur(lab[b0:b1, a0:a1, 0], (0, 0), 2.0)
        score = float(light.std())  # plain skin: little shading, no features
        if score < best_score:
            best, best_score = (a0, b0, a1, b1), score
    if best is None:
        return np.zeros((y1 - y0, x1 - x0, 3), np.float32)
    a0, b0, a1, b1 = best
    detail = np.ascontiguousarray(fine[b0:b1, a0:a1])
    # No more texture than the skin around the eye has (robust spreads of the luma).
    def spread(f: np.ndarray) -> float:
        luma = f @ np.array([0.299, 0.587, 0.114], np.float32)
        return 1.4826 * float(np.median(np.abs(luma - np.median(luma))))

    target, own = spread(fine[y0:y1, x0:x1]), spread(detail)
    return detail * float(np.clip(target / max(own, 1e-3), 0.5, 1.0))
