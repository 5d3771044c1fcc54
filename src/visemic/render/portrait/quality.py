"""Measures of a rendered portrait, shared by the tests and ``bench/portrait.py``.

- :func:`psnr`: peak signal-to-noise ratio (dB) of two pictures, optionally over a mask.
- :func:`ssim`: the standard structural similarity (Wang et al. 2004: Gaussian window σ 1.5,
  K1 0.01, K2 0.03) of two images' luma, optionally averaged over a mask.
- :func:`mouth_opening`: the inner-lip gap MediaPipe Face Mesh measures on a picture, in eye
  distances, so that lip sync is checked on what the viewer sees, not on the rig's intent.
- :func:`face_mask`: the face crop less the mouth and the eyes (the identity check's region).
"""

from __future__ import annotations

import cv2
import numpy as np

from visemic.render.portrait import mesh


def _luma(image: np.ndarray) -> np.ndarray:
    rgb = np.asarray(image)[..., :3].astype(np.float64)
    return rgb @ np.array([0.299, 0.587, 0.114])


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """PSNR in dB of the RGB of ``a`` against ``b`` (uint8), over ``mask`` if given (inf when
    they are equal)."""
    x = np.asarray(a)[..., :3].astype(np.float64)
    y = np.asarray(b)[..., :3].astype(np.float64)
    d = (x - y) ** 2
    mse = float(d[mask].mean() if mask is not None else d.mean())
    return float("inf") if mse == 0.0 else 10.0 * float(np.log10(255.0 ** 2 / mse))


def ssim(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean SSIM of the luma of ``a`` and ``b`` (H×W×3/4 uint8), over ``mask`` if given."""
    x, y = _luma(a), _luma(b)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(img: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(img, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    mx, my = blur(x), blur(y)
    vx = blur(x * x) - mx * mx
    vy = blur(y * y) - my * my
    cov = blur(x * y) - mx * my
    smap = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    if mask is None:
        return float(smap.mean())
    return float(smap[mask].mean())


def face_mask(landmarks: np.ndarray, shape: tuple[int, ...], grow: float = 0.12
              ) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """(mask, crop): the face's bounding box ``crop`` (x0, y0, x1, y1) and, within it, a boolean
    mask of the face less the mouth and eyes (each grown by ``grow`` eye distances)."""
    pts = np.asarray(landmarks)[:, :2]
    h, w = shape[:2]
    x0, y0 = max(int(pts[:, 0].min()), 0), max(int(pts[:, 1].min()), 0)
    x1, y1 = min(int(np.ceil(pts[:, 0].max())) + 1, w), min(int(np.ceil(pts[:, 1].max())) + 1, h)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    local = pts - [x0, y0]
    cv2.fillPoly(mask, [np.round(local[list(mesh.FACE_OVAL)]).astype(np.int32)], 1)
    iod = float(np.hypot(*(pts[mesh.IRIS["left"][0]] - pts[mesh.IRIS["right"][0]])))
    radius = max(1, int(round(grow * iod)))
    holes = np.zeros_like(mask)
    for loop in (mesh.LIPS_OUTER_UPPER + tuple(reversed(mesh.LIPS_OUTER_LOWER)),
                 mesh.eye_contour("left"), mesh.eye_contour("right")):
        cv2.fillPoly(holes, [np.round(local[list(loop)]).astype(np.int32)], 1)
    holes = cv2.dilate(holes, cv2.getStructuringElement(cv2.MORPH_ELLIPSE,
                                                        (2 * radius + 1, 2 * radius + 1)))
    return (mask > 0) & (holes == 0), (x0, y0, x1, y1)


class MouthMeter:
    """Runs Face Mesh on pictures and measures the mouth: (inner-lip gap, nose-to-chin
    length), both in eye distances. The lip gap follows ``jawOpen − mouthClose`` (ARKit: the
    lips meet over an open jaw at /p b m/), the chin follows ``jawOpen``."""

    def __init__(self) -> None:
        from visemic.video.facemesh import FaceMesh

        self._mesh = FaceMesh()

    def __call__(self, image: np.ndarray) -> tuple[float, float] | None:
        """(lip gap, nose-to-chin), or None when no face is found."""
        faces = self._mesh(np.asarray(image))
        if not faces:
            return None
        return mouth_opening(faces[0]), jaw_length(faces[0])

    def close(self) -> None:
        self._mesh.close()


def mouth_opening(landmarks: np.ndarray) -> float:
    """Mean gap between the middle three inner-lip pairs, in eye distances."""
    pts = np.asarray(landmarks)[:, :2]
    iod = float(np.hypot(*(pts[mesh.IRIS["left"][0]] - pts[mesh.IRIS["right"][0]])))
    upper = pts[list(mesh.LIPS_INNER_UPPER[4:7])]
    lower = pts[list(mesh.LIPS_INNER_LOWER[4:7])]
    return float(np.mean(np.hypot(*(lower - upper).T))) / max(iod, 1e-6)


def jaw_length(landmarks: np.ndarray) -> float:
    """Distance from the tip of the nose to the chin, in eye distances."""
    pts = np.asarray(landmarks)[:, :2]
    iod = float(np.hypot(*(pts[mesh.IRIS["left"][0]] - pts[mesh.IRIS["right"][0]])))
    return float(np.hypot(*(pts[152] - pts[1]))) / max(iod, 1e-6)
