"""PortraitRenderer: a photo, painting or drawing brought to life by warping it over its landmarks.

Set-up: the eyelid landmarks are fitted to the eyes the picture shows (:mod:`lids`), and the
eyeballs get vertices of their own, drawn before the face, so that lids slide over them.
Per frame: the rig moves the Face Mesh landmarks (and anchor points around the head) for the
curve row, the mesh warp re-samples the face crop from the original with cv2.remap, the mouth
interior is painted where the lips have parted, lid edges are softened, and the crop goes back
into the full picture. Beyond the outer anchor ring nothing is warped, so the paste has no
seam and the hair and background far from the face stay as photographed. A video's
first frame is the picture itself; motion eases in from it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from visemic.easing import smoothstep
from visemic.errors import VisemicError
from visemic.motion.arkit import CHANNELS
from visemic.render.portrait import mesh
from visemic.render.portrait.landmarks import as_landmarks, find_face, load_landmarks
from visemic.render.portrait.lid_cover import LidCover
from visemic.render.portrait.lids import fit_eyelids
from visemic.render.portrait.mouth import MouthPainter
from visemic.render.portrait.rig import Rig
from visemic.render.portrait.warp import MeshWarp

MAX_SIDE = 1080  # default output: the portrait's own size, at most this on the long side
OPEN_FADE = 0.04  # lip gap (eye distances) over which the painted mouth interior fades in
# Lip gaps (eye distances) over which the teeth come into view: a slit between nearly closed
# lips shows the dark inside, not a line of light enamel.
TEETH_FROM, TEETH_FADE = 0.02, 0.025
CROP_MARGIN = 0.3  # room around the outer anchor ring, in eye distances
# A video starts on the photo itself: head motion and expression ease in over EASE_IN seconds,
# the mouth (speech may start at once) over EASE_MOUTH.
EASE_IN, EASE_MOUTH = 0.5, 0.12
# Crops larger than this (pixels) compute their warp maps at half resolution.
FINE_WARP_PIXELS = 600 * 600


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """An image file as H×W×4 RGBA uint8 (raises :class:`VisemicError` when unreadable)."""
    p = Path(path)
    if not p.is_file():
        raise VisemicError(f"portrait image not found: {p}")
    data = np.fromfile(str(p), np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise VisemicError(f"cannot read portrait image: {p} (use PNG, JPEG or WebP)")
    return _to_rgba(image, bgr=True)


def _to_rgba(image: np.ndarray, bgr: bool = False) -> np.ndarray:
    img = np.asarray(image)
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    if img.dtype != np.uint8:
        raise VisemicError(f"portrait image must be 8-bit, got {img.dtype}")
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    if img.ndim != 3 or img.shape[2] not in (3, 4) or min(img.shape[:2]) < 16:
        raise VisemicError(f"portrait image must be H×W×3 or ×4 and at least 16 pixels, "
                           f"got shape {list(img.shape)}")
    if bgr:
        img = img[:, :, [2, 1, 0, 3][: img.shape[2]]]
    if img.shape[2] == 3:
        img = np.concatenate([img, np.full(img.shape[:2] + (1,), 255, np.uint8)], axis=2)
    return np.ascontiguousarray(img)


def default_size(width: int, height: int) -> tuple[int, int]:
    """The portrait's own size, scaled down to :data:`MAX_SIDE` on the long side, even."""
    scale = min(1.0, MAX_SIDE / max(width, height))
    w, h = int(round(width * scale)), int(round(height * scale))
    return max(2, w - w % 2), max(2, h - h % 2)


class PortraitRenderer:
    """Animates the face in a portrait.

    ``image``: a path or an H×W×3/4 RGB(A) uint8 array. ``size`` (width, height) defaults to
    the image's own (even, at most 1080 on the long side); another aspect is filled by scaling
    to cover and cropping the centre. ``landmarks``: a landmarks file or a 468/478×2/3 array in
    the image's pixels, else MediaPipe Face Mesh finds the face; ``face`` picks one of several
    (0: the largest). ``still`` ignores the head angles; ``motion_scale`` scales them.
    """

    def __init__(self, image: Any, size: tuple[int, int] | None = None, landmarks: Any = None,
                 face: int = 0, still: bool = False, motion_scale: float = 1.0) -> None:
        name = str(image) if isinstance(image, (str, os.PathLike)) else "the portrait"
        rgba = read_image(image) if isinstance(image, (str, os.PathLike)) else _to_rgba(image)
        if isinstance(landmarks, (str, os.PathLike)):
            points = load_landmarks(landmarks)
        elif landmarks is not None:
            points = as_landmarks(landmarks)
        else:
            if face < 0:
                raise VisemicError(f"face must be 0 or more, got {face}")
            points = find_face(rgba[:, :, :3], face, name)
        ih, iw = rgba.shape[:2]
        w, h = (int(size[0]), int(size[1])) if size else default_size(iw, ih)
        if not (16 <= w <= 8192 and 16 <= h <= 8192):
            raise VisemicError(f"portrait size {w}×{h} is out of range (16…8192)")
        if not np.isfinite(motion_scale) or motion_scale < 0:
            raise VisemicError(f"motion scale must be 0 or more, got {motion_scale}")
        self.size = (w, h)
        self.head_scale = 0.0 if still else float(motion_scale)
        # Scale to cover the frame, centre-crop; the landmarks follow.
        scale = max(w / iw, h / ih)
        ox, oy = (iw * scale - w) / 2.0, (ih * scale - h) / 2.0
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
        scaled = cv2.resize(rgba, (max(w, int(round(iw * scale))), max(h, int(round(ih * scale)))),
                            interpolation=interp)
        x, y = int(round(ox)), int(round(oy))
        self.image = np.ascontiguousarray(scaled[y:y + h, x:x + w])
        pts = points.copy()
        pts[:, :2] = pts[:, :2] * scale - [x, y]
        pts[:, 2] *= scale
        self.landmarks = pts
        _check_inside(pts, w, h)

        self.crop = self._crop_box(pts)
        x0, y0, x1, y1 = self.crop
        local = pts.copy()
        local[:, :2] -= [x0, y0]
        crop_img = self.image[y0:y1, x0:x1]
        local = fit_eyelids(crop_img, local, *_down_and_eye_distance(local))
        self.rig = Rig(local, (0, 0, x1 - x0, y1 - y0))
        anchors = self.rig.anchor_rest[:, :2]
        self._n = len(local)
        self.triangles = _triangles(self.rig.rest, anchors, self.rig.anchor_still)
        eyeballs = _eyeball_ids()
        source = np.concatenate([self.rig.source[:, :2], anchors, self.rig.source[eyeballs, :2]])
        step = 2 if (x1 - x0) * (y1 - y0) > FINE_WARP_PIXELS else 1
        reference = np.concatenate([self.rig.rest[:, :2], anchors, self.rig.rest[eyeballs, :2]])
        self.warp = MeshWarp(crop_img, source, self.triangles, step=step, reference=reference)
        self.mouth = MouthPainter(crop_img, self.rig.rest[:, :2], self.rig.iod)
        self.lids = LidCover(crop_img, self.rig.rest, self.rig.ey, self.rig.iod)
        self._inner = list(mesh.inner_mouth())
        self._rest_gap = _gap(self.rig.rest, self.rig.ey)
        self._out = self.image.copy()
        self._crop_out = np.empty_like(crop_img)
        self._channels_key: tuple[str, ...] | None = None
        self._index = np.zeros(len(CHANNELS), np.intp)
        self._last: np.ndarray | None = None
        self._rest_frame: np.ndarray | None = None
        self._to_photo = (self.rig.source - self.rig.rest)[:, :2]
        self._mouth_channel = np.array([n.startswith(("jaw", "mouth", "tongue"))
                                        for n in CHANNELS])
        self.real_mouth: Any = None
        self._t: float | None = None

    def use_real_mouth(self, real: Any) -> None:
        """Show the mouths of a video of the same person where the lips part, instead of the
        painted interior (a :class:`~visemic.render.portrait.real_mouth.RealMouth`, planned
        for the speech or chosen by shape frame by frame)."""
        real.attach(self)
        self.real_mouth = real
        self._last = None

    # ------------------------------------------------------------------ public API

    def frame(self, animation: Any, t: float, values: np.ndarray) -> np.ndarray:
        """Renderer protocol used by the video writer: the frame for curve row ``values``.

        Returns the renderer's own buffer (valid until the next call).
        """
        v = self._values(values, animation.channels)
        self._t = float(t)
        photo = 0.0
        if t < EASE_IN:
            ease = np.where(self._mouth_channel, smoothstep(t / EASE_MOUTH),
                            smoothstep(t / EASE_IN))
            v = v * ease
            photo = 1.0 - float(smoothstep(t / EASE_MOUTH))
        return self._render(v, photo)

    def render(self, values: np.ndarray, channels: Sequence[str] = CHANNELS) -> np.ndarray:
        """One frame (H×W×4 RGBA uint8, a new array) for ``values`` named by ``channels``."""
        self._t = None
        return self._render(self._values(values, channels)).copy()

    @property
    def rest(self) -> np.ndarray:
        """The neutral frame (all channels 0)."""
        return self.render(np.zeros(len(CHANNELS), np.float32))

    def pose_landmarks(self, values: np.ndarray,
                       channels: Sequence[str] = CHANNELS) -> np.ndarray:
        """Where the rig puts the 478 landmarks (image pixels, x, y) for ``values``."""
        return self.pose(values, channels).points[:, :2] + [self.crop[0], self.crop[1]]

    def pose(self, values: np.ndarray, channels: Sequence[str] = CHANNELS) -> Any:
        """The rig's :class:`~visemic.render.portrait.rig.Pose` for ``values`` (pixels of the
        face's crop, :attr:`crop`)."""
        return self.rig.pose(self._values(values, channels), self.head_scale)

    # ------------------------------------------------------------------ internals

    def _values(self, values: np.ndarray, channels: Sequence[str]) -> np.ndarray:
        key = channels if isinstance(channels, tuple) else tuple(channels)
        if key != self._channels_key:
            pos = {n: i for i, n in enumerate(key)}
            self._index = np.array([pos.get(n, len(key)) for n in CHANNELS], np.intp)
            self._channels_key = key
        v = np.asarray(values, np.float64).ravel()
        if v.shape[0] != len(key):
            raise VisemicError(f"{v.shape[0]} values for {len(key)} channels")
        return np.append(np.nan_to_num(v), 0.0)[self._index]

    def _render(self, v: np.ndarray, photo: float = 0.0) -> np.ndarray:
        """The frame for values ``v``; ``photo`` (0…1) takes the landmarks that share of the
        way back to where they are in the picture (a mouth photographed open is closed at rest:
        the first frame shows it as photographed, and it closes as the video eases in)."""
        rest = not np.any(v[:52] > 1e-3) and not np.any(np.abs(v[52:] * self.head_scale) > 1e-2)
        if not self.rig.mouth_was_open:
            photo = 0.0
        if rest and (photo >= 1.0 or not self.rig.mouth_was_open):
            # At rest the frame is the picture itself, pixel for pixel.
            self._out[:] = self.image
            self._last = None
            return self._out
        if rest and photo <= 0.0 and self._rest_frame is not None:
            self._out[:] = self._rest_frame
            self._last = None
            return self._out
        key = np.append(v, photo)
        if self.real_mouth is not None:  # a planned mouth changes with time alone
            key = np.append(key, -1.0 if self._t is None else self._t)
        if self._last is not None and np.array_equal(key, self._last):
            return self._out
        pose = self.rig.pose(v, self.head_scale)
        if photo > 0.0:
            pose.points[:, :2] += photo * self._to_photo
        target = np.concatenate([pose.points[:, :2], pose.anchors,
                                 *(pose.eyeballs[side] for side in mesh.SIDES)])
        map_x, map_y = self.warp.maps(target)
        crop = cv2.remap(self.warp.image, map_x, map_y, cv2.INTER_LINEAR, dst=self._crop_out,
                         borderMode=cv2.BORDER_REPLICATE)
        inner = pose.points[self._inner, :2]
        # The painted interior fades in over the first few pixels of opening, so that lips
        # that never quite met in the picture look as they did at rest.
        gap = (_gap(pose.points, self.rig.ey) - self._rest_gap) / self.rig.iod
        if gap > 0.0 and _opening(inner) > 0.25 and photo < 1.0:
            opacity = min(1.0, gap / OPEN_FADE) * (1.0 - photo)
            if self.real_mouth is not None:
                entry = self.real_mouth.entry(self._t, v, CHANNELS)
                self.real_mouth.paste(crop, pose.points, self.rig.iod, entry, opacity)
            else:
                teeth = min(1.0, max(0.0, (gap - TEETH_FROM) / TEETH_FADE))
                self.mouth.paint(crop, inner, pose.teeth_upper, pose.teeth_lower,
                                 pose.tongue_out, opacity, teeth)
        for side in mesh.SIDES:
            # Where a lid has moved over the eyeball, its edge is a cut between two layers of
            # the warp: soften it to the picture's own anti-aliasing. Whatever of the eye the
            # lid has moved over becomes lid skin, and stretched skin keeps the grain.
            if pose.blink[side] > 0.02 or self._lids_moved(pose, side):
                closure = self._closure(pose, side)
                if closure > 0.03 or pose.blink[side] > 0.02:  # (a turn alone covers nothing)
                    self.lids.apply(crop, map_x, map_y,
                                    pose.points[list(mesh.eye_contour(side)), :2],
                                    pose.points[list(mesh.EYE_UPPER[side]), :2], side, closure)
                for lid in (mesh.EYE_UPPER[side], mesh.EYE_LOWER[side]):
                    _soften(crop, pose.points[list(lid), :2], float(self.warp.step))
        x0, y0, x1, y1 = self.crop
        self._out[y0:y1, x0:x1] = crop
        self._last = key
        if rest and photo <= 0.0:
            self._rest_frame = self._out.copy()
        return self._out

    def _closure(self, pose: Any, side: str) -> float:
        """How shut eye ``side`` is (0: as at rest or wider, 1: shut)."""
        ids = [mesh.EYE_UPPER[side][4], mesh.EYE_LOWER[side][4]]
        rest = float((self.rig.rest[ids[1], :2] - self.rig.rest[ids[0], :2]) @ self.rig.ey)
        now = float((pose.points[ids[1], :2] - pose.points[ids[0], :2]) @ self.rig.ey)
        return float(np.clip(1.0 - now / max(rest, 1e-6), 0.0, 1.0))

    def _lids_moved(self, pose: Any, side: str) -> bool:
        ids = list(mesh.EYE_UPPER[side] + mesh.EYE_LOWER[side])
        rest = self.rig.rest[ids, :2]
        return bool(np.abs(pose.points[ids, :2] - rest).max() > 0.5) and \
            not np.allclose(pose.points[ids, :2] - rest,
                            (pose.points[ids, :2] - rest).mean(axis=0), atol=0.5)

    def _crop_box(self, pts: np.ndarray) -> tuple[int, int, int, int]:
        from visemic.render.portrait.rig_tables import RING_SCALE

        w, h = self.size
        oval = pts[list(mesh.FACE_OVAL), :2]
        centre = oval.mean(axis=0)
        ring = centre + (oval - centre) * RING_SCALE[-1]
        eyes = np.hypot(*(pts[mesh.IRIS["left"][0], :2] - pts[mesh.IRIS["right"][0], :2]))
        margin = CROP_MARGIN * eyes
        x0 = int(np.floor(max(0.0, ring[:, 0].min() - margin)))
        y0 = int(np.floor(max(0.0, ring[:, 1].min() - margin)))
        x1 = int(np.ceil(min(float(w), ring[:, 0].max() + margin)))
        y1 = int(np.ceil(min(float(h), ring[:, 1].max() + margin)))
        return x0, y0, x1, y1


def _gap(points: np.ndarray, down: np.ndarray) -> float:
    """The widest gap between the inner lips across the middle of the mouth (pixels)."""
    upper = points[list(mesh.LIPS_INNER_UPPER[3:8]), :2]
    lower = points[list(mesh.LIPS_INNER_LOWER[3:8]), :2]
    return float(np.max((lower - upper) @ down))


def _down_and_eye_distance(pts: np.ndarray) -> tuple[np.ndarray, float]:
    """The face's unit vector down (perpendicular to the line between the eyes) and the
    distance between the eyes' centres."""
    right = pts[list(mesh.eye_contour("right")), :2].mean(axis=0)
    left = pts[list(mesh.eye_contour("left")), :2].mean(axis=0)
    axis = left - right
    iod = float(np.hypot(*axis))
    return np.array([-axis[1], axis[0]]) / max(iod, 1e-6), iod


def _soften(image: np.ndarray, line: np.ndarray, width: float) -> None:
    """Blur ``image`` (in place) a little along the polyline ``line`` (N×2), fading out over
    ``width`` pixels either side."""
    h, w = image.shape[:2]
    pad = int(np.ceil(3 * width)) + 2
    x0, y0 = max(int(line[:, 0].min()) - pad, 0), max(int(line[:, 1].min()) - pad, 0)
    x1, y1 = min(int(line[:, 0].max()) + pad + 1, w), min(int(line[:, 1].max()) + pad + 1, h)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.float32)
    pts = np.round((line - [x0, y0]) * 16).astype(np.int32)
    cv2.polylines(mask, [pts], False, 1.0, max(1, int(round(width))), cv2.LINE_AA, 4)
    mask = cv2.GaussianBlur(mask, (0, 0), 0.5 * width)[:, :, None]
    patch = image[y0:y1, x0:x1, :3].astype(np.float32)
    soft = cv2.GaussianBlur(patch, (0, 0), 0.6 * width)
    patch += (soft - patch) * np.minimum(mask * 1.5, 1.0)
    image[y0:y1, x0:x1, :3] = np.round(patch).astype(np.uint8)


def _opening(inner: np.ndarray) -> float:
    """Area of the mouth opening in pixels (shoelace)."""
    x, y = inner[:, 0], inner[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _check_inside(pts: np.ndarray, w: int, h: int) -> None:
    xy = pts[: mesh.N_SURFACE, :2]
    inside = (xy[:, 0] >= -0.1 * w) & (xy[:, 0] <= 1.1 * w) & (xy[:, 1] >= -0.1 * h) & \
        (xy[:, 1] <= 1.1 * h)
    if inside.mean() < 0.9:
        raise VisemicError("the face's landmarks lie outside the picture (are they in the "
                           "image's pixels?)")


def _triangles(rest: np.ndarray, anchors: np.ndarray, still: np.ndarray) -> np.ndarray:
    """The warp's triangles: the face surface, its holes (eyes, mouth) and a band of triangles
    from the face's outline out to the anchors. The band ends at the still anchors (the last
    ring, in order around the head): beyond them no triangle, so nothing moves there; nor
    between three still anchors (the picture as it is)."""
    from scipy.spatial import Delaunay

    n = len(rest)
    surface = mesh.surface_triangles()
    # Far triangles first, so that where a turned head overlaps itself the near side shows.
    surface = surface[np.argsort(-rest[surface, 2].mean(axis=1), kind="stable")]
    # Where a closed mouth overlaps its lips, the lower lip comes last: a portrait photographed
    # open then hides its teeth behind the lower lip.
    lower_lip = np.isin(surface, mesh.LIPS_INNER_LOWER[1:-1]).any(axis=1)
    surface = np.concatenate([surface[~lower_lip], surface[lower_lip]])
    holes = mesh.hole_triangles()
    # The eyeballs are drawn first, from vertices of their own (after the anchors): the lids
    # are drawn over them and slide across them as they close.
    eyeballs = []
    for k, side in enumerate(mesh.SIDES):
        ids = dict(zip(mesh.eye_contour(side) + (mesh.IRIS[side][0],),
                       n + len(anchors) + 17 * k + np.arange(17), strict=True))
        eyeballs.append(np.vectorize(ids.__getitem__)(holes[f"eye_{side}"]))
    face = [surface, holes["mouth"]]
    oval_ids = np.array(mesh.FACE_OVAL)
    pts = np.concatenate([rest[oval_ids, :2], anchors])
    tri = Delaunay(pts).simplices
    ids = np.concatenate([oval_ids, n + np.arange(len(anchors))])
    oval = rest[oval_ids, :2].astype(np.float32).reshape(-1, 1, 2)
    boundary = anchors[still].astype(np.float32).reshape(-1, 1, 2)
    fixed = np.concatenate([np.zeros(len(oval_ids), bool), still])
    keep = []
    for t in tri:
        cx, cy = pts[t].mean(axis=0)
        if fixed[t].all() or cv2.pointPolygonTest(boundary, (float(cx), float(cy)),
                                                  False) < 0:
            continue  # still, or beyond the still ring
        if (t < len(oval_ids)).all() and \
                cv2.pointPolygonTest(oval, (float(cx), float(cy)), False) >= 0:
            continue  # inside the face: the surface triangles cover it
        keep.append(ids[t])
    # The outer ring first, so that the face is drawn over it where the two meet.
    return np.concatenate([np.array(keep, np.int32), *eyeballs, *face]).astype(np.int32)


def _eyeball_ids() -> list[int]:
    """The landmarks the eyeballs' own vertices start from: per side the eye loop and the
    iris centre (the order of :attr:`Pose.eyeballs`)."""
    return [i for side in mesh.SIDES for i in mesh.eye_contour(side) + (mesh.IRIS[side][0],)]
