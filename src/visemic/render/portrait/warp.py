"""Piecewise-affine mesh warp with cv2.remap.

The mesh's triangles keep their topology; per frame only the vertices move. Each output pixel
takes its colour from the point the affine map of its (moved) triangle sends it back to in the
source, so neighbouring triangles agree along shared edges and the picture has no seams.
"""

from __future__ import annotations

import cv2
import numpy as np

_SHIFT = 4  # sub-pixel bits for rasterising triangles
_ONE = float(1 << _SHIFT)
MAX_STRETCH = 8.0  # largest target → source magnification a triangle may have


class MeshWarp:
    """Warps one fixed source image (H×W×C uint8) by moving the vertices of a triangle mesh.

    ``source`` (V×2) are the vertices' positions in the source image, ``triangles`` (T×3) index
    them. Pixels outside every triangle are copied unchanged. With ``step`` 2 the maps are
    computed on every other pixel and interpolated (for large crops: a quarter of the work;
    the maps are continuous, so only the kinks along triangle edges soften, by under a pixel).

    Triangles are drawn in order (later ones cover earlier ones), except that a triangle that
    turns over relative to ``reference`` (V×2, the rest layout; default ``source``) is drawn
    before all others: it has turned away from the viewer, as the far side of a face does
    when the head turns, so whatever faces the viewer covers it.
    """

    def __init__(self, image: np.ndarray, source: np.ndarray, triangles: np.ndarray,
                 step: int = 1, reference: np.ndarray | None = None) -> None:
        self.image = np.ascontiguousarray(image)
        self.source = np.asarray(source, np.float64)
        self.triangles = np.asarray(triangles, np.int32)
        h, w = self.image.shape[:2]
        self.size = (w, h)
        self.step = int(step)
        # Coarse sample j sits at (j + 0.5)·step − 0.5, where cv2.resize expects it.
        hs, ws = -(-h // self.step), -(-w // self.step)
        offset = 0.5 * (self.step - 1)
        xs = np.arange(ws, dtype=np.float32) * self.step + offset
        ys = np.arange(hs, dtype=np.float32) * self.step + offset
        self._gx, self._gy = np.meshgrid(xs, ys)
        self._offset = offset
        if self.step > 1:
            # The coarse maps are resized as displacements from the identity: a pixel whose
            # neighbouring samples do not move stays exactly where it is (resizing the maps
            # themselves would shift the crop's outer rows by half a pixel).
            self._fine_x, self._fine_y = np.meshgrid(np.arange(w, dtype=np.float32),
                                                     np.arange(h, dtype=np.float32))
        self._ids = np.empty((hs, ws), np.int32)
        self._coef = np.empty((hs, ws), np.float32)
        self._map_x = np.empty((hs, ws), np.float32)
        self._map_y = np.empty((hs, ws), np.float32)
        self._src_tri = self.source[self.triangles]  # T×3×2
        ref = self.source if reference is None else np.asarray(reference, np.float64)
        self._facing = np.sign(_doubled_areas(ref[self.triangles]))

    def maps(self, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """cv2.remap maps (map_x, map_y) for vertices moved to ``target`` (V×2)."""
        tri = np.asarray(target, np.float64)[self.triangles]  # T×3×2
        coef, ok = self._affines(tri)
        turned = np.sign(_doubled_areas(tri)) * self._facing < 0
        n = len(self.triangles)
        ids = self._ids
        ids.fill(n)  # index n: the identity map
        fixed = np.round((tri - self._offset) / self.step * _ONE).astype(np.int32)
        # Triangles turned away go first: whatever faces the viewer covers them, and they only
        # show where nothing else would (a hole would show the picture unmoved: a tear).
        order = np.concatenate([np.flatnonzero(ok & turned), np.flatnonzero(ok & ~turned)])
        for k in order.tolist():
            cv2.fillConvexPoly(ids, fixed[k], k, lineType=cv2.LINE_8, shift=_SHIFT)
        # Per pixel: map = a·x + b·y + c with its triangle's coefficients (one plane at a time,
        # into preallocated buffers: this is the per-frame hot loop).
        tmp = self._coef
        ids = ids.astype(np.intp)  # once, not in every np.take
        for out, k in ((self._map_x, 0), (self._map_y, 3)):
            np.take(coef[:, k], ids, out=tmp)
            np.multiply(tmp, self._gx, out=out)
            np.take(coef[:, k + 1], ids, out=tmp)
            tmp *= self._gy
            out += tmp
            np.take(coef[:, k + 2], ids, out=tmp)
            out += tmp
        if self.step == 1:
            return self._map_x, self._map_y
        self._map_x -= self._gx
        self._map_y -= self._gy
        map_x = cv2.resize(self._map_x, self.size, interpolation=cv2.INTER_LINEAR)
        map_y = cv2.resize(self._map_y, self.size, interpolation=cv2.INTER_LINEAR)
        map_x += self._fine_x
        map_y += self._fine_y
        return map_x, map_y

    def warp(self, target: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The source image with the mesh's vertices moved to ``target``."""
        map_x, map_y = self.maps(target)
        return cv2.remap(self.image, map_x, map_y, cv2.INTER_LINEAR, dst=out,
                         borderMode=cv2.BORDER_REPLICATE)

    def _affines(self, tri: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per triangle, the affine map target → source as 6 float32 coefficients (with one
        identity row appended), and which triangles have area."""
        t0, t1, t2 = tri[:, 0], tri[:, 1], tri[:, 2]
        e1, e2 = t1 - t0, t2 - t0
        det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
        ok = np.abs(det) > 1e-6
        inv_det = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
        # Inverse of [e1 e2] (columns): maps a target offset to barycentric (u, v).
        i00, i01 = e2[:, 1] * inv_det, -e2[:, 0] * inv_det
        i10, i11 = -e1[:, 1] * inv_det, e1[:, 0] * inv_det
        s = self._src_tri
        f1, f2 = s[:, 1] - s[:, 0], s[:, 2] - s[:, 0]
        # source = s0 + F·Inv·(p − t0), F = [f1 f2].
        a = f1[:, 0] * i00 + f2[:, 0] * i10
        b = f1[:, 0] * i01 + f2[:, 0] * i11
        c = f1[:, 1] * i00 + f2[:, 1] * i10
        d = f1[:, 1] * i01 + f2[:, 1] * i11
        tx = s[:, 0, 0] - a * t0[:, 0] - b * t0[:, 1]
        ty = s[:, 0, 1] - c * t0[:, 0] - d * t0[:, 1]
        coef = np.empty((len(tri) + 1, 6), np.float32)
        coef[:-1] = np.stack([a, b, tx, c, d, ty], axis=1)
        coef[-1] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
        # A triangle squashed to a sliver (closed lips over an opening) would send its few
        # pixels far across the source: leave it out, the lips around it cover the line.
        ok &= np.maximum(np.maximum(np.abs(a), np.abs(b)), np.maximum(np.abs(c), np.abs(d))) \
            < MAX_STRETCH
        return coef, ok


def _doubled_areas(tri: np.ndarray) -> np.ndarray:
    """Signed doubled areas of T×3×2 triangles (positive: clockwise on screen)."""
    e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    return e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
