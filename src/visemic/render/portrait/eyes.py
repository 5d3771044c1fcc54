"""Shut eyelids: skin painted over the eye opening as a blink completes.

The mesh warp already pulls the upper lid down over the eye, but whatever of the eye lies
outside the landmarks' eye outline (thick painted outlines, lashes, a cartoon's large eyes)
would still show. So as the lid closes, lid-coloured skin fades in over the opened eye's
outline, and the lash line is drawn along the shut lid.
"""

from __future__ import annotations

import cv2
import numpy as np

from visemic.render.portrait import mesh

_SHIFT = 4
_ONE = float(1 << _SHIFT)
COVER_FROM = 0.35  # blink value where the skin starts to fade in (fully in at 1)
GROW = 1.25  # the covered area: the eye outline scaled about its centre


class EyelidPainter:
    """Colours sampled once from ``image`` around the rest landmarks ``points`` (478×2)."""

    def __init__(self, image: np.ndarray, points: np.ndarray, eye_distance: float) -> None:
        self.iod = float(eye_distance)
        self.skin: dict[str, np.ndarray] = {}
        self.lash: dict[str, np.ndarray] = {}
        for side in mesh.SIDES:
            fold = points[list(mesh.EYE_UPPER_FOLD[side][:7]), :2]
            lid = points[list(mesh.EYE_UPPER[side][1:-1]), :2]
            band = np.concatenate([fold, lid[::-1]])
            mask = np.zeros(image.shape[:2], np.uint8)
            cv2.fillPoly(mask, [np.round(band).astype(np.int32)], 255)
            pixels = image[mask > 0][:, :3].astype(np.float64)
            if len(pixels) < 4:
                pixels = image[:, :, :3].reshape(-1, 3).astype(np.float64)
            light = pixels.mean(axis=1)
            # Lid skin: the lighter part of the band (lashes and the crease are darker).
            self.skin[side] = np.median(pixels[light >= np.percentile(light, 40)], axis=0)
            self.lash[side] = np.median(pixels[light <= np.percentile(light, 10)], axis=0)

    def paint(self, image: np.ndarray, side: str, open_loop: np.ndarray, lid: np.ndarray,
              blink: float) -> None:
        """Cover the eye whose un-blinked outline is ``open_loop`` (16×2) in ``image``
        (in place); ``lid`` is the shut upper lid's margin (its 7 inner points)."""
        cover = float(np.clip((blink - COVER_FROM) / (1.0 - COVER_FROM), 0.0, 1.0))
        if cover <= 0.0:
            return
        cover = cover * cover * (3 - 2 * cover)
        centre = open_loop.mean(axis=0)
        loop = centre + (open_loop - centre) * GROW
        pad = 0.05 * self.iod + 2
        h, w = image.shape[:2]
        x0, y0 = max(int(loop[:, 0].min() - pad), 0), max(int(loop[:, 1].min() - pad), 0)
        x1, y1 = min(int(loop[:, 0].max() + pad) + 1, w), min(int(loop[:, 1].max() + pad) + 1, h)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return
        origin = np.array([x0, y0], np.float64)
        mask = np.zeros((y1 - y0, x1 - x0), np.float32)
        cv2.fillPoly(mask, [np.round((loop - origin) * _ONE).astype(np.int32)], 1.0,
                     cv2.LINE_AA, _SHIFT)
        mask = cv2.GaussianBlur(mask, (0, 0), max(0.02 * self.iod, 0.7))
        # Skin from around the eye, spread inwards (normalised blur of the surroundings), so
        # the shut lid keeps the portrait's own colour and light.
        patch = image[y0:y1, x0:x1, :3].astype(np.float32)
        outside = (mask < 0.02).astype(np.float32)
        sigma = max(0.1 * self.iod, 1.5)
        weight = cv2.GaussianBlur(outside, (0, 0), sigma)
        layer = cv2.GaussianBlur(patch * outside[:, :, None], (0, 0), sigma)
        layer /= np.maximum(weight, 1e-3)[:, :, None]
        if float(weight.min()) < 1e-3:  # too little around: the sampled lid colour
            layer[weight < 1e-3] = self.skin[side]
        # The shut lid's rim: a line of lashes along the closed margin.
        rim = np.concatenate([open_loop[:1], lid, open_loop[8:9]])
        thickness = max(1, int(round(0.012 * self.iod)))
        lashes = layer.copy()
        cv2.polylines(lashes, [np.round((rim - origin) * _ONE).astype(np.int32)], False,
                      tuple(float(c) for c in 0.7 * self.lash[side] + 0.3 * self.skin[side]),
                      thickness, cv2.LINE_AA, _SHIFT)
        layer += (lashes - layer) * 0.5
        alpha = (mask * cover)[:, :, None]
        patch += (layer - patch) * alpha
        image[y0:y1, x0:x1, :3] = np.round(patch).astype(np.uint8)
