"""Video face tracking: one face followed through a video, as plain arrays.

For every frame: MediaPipe Face Mesh's 478 landmarks (video mode, on a crop that follows the
face), head pose, the lip features of :mod:`visemic.video.features` in inter-ocular distances,
and a confidence. Frames are decoded and tracked one at a time (:mod:`visemic.video.decode`),
so memory stays flat whatever the video's length; only the small per-frame arrays grow (and the
landmarks, 5.7 kB a frame, when asked for).

The face: ``face=N`` picks the N-th largest face where one is first found (0: the largest), as
for portraits; from then on the tracker keeps the face nearest where it was, and when it is lost
(turned away, covered, out of the picture) it looks again near its last position.

Smoothing is centred (a binomial kernel over neighbouring tracked frames), so it adds no delay:
sync measurement depends on that.

>>> from visemic.video import track
>>> t = track("talk.mp4")
>>> t.times, t.feature("inner_aperture"), t.confidence, t.pose
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from visemic.errors import VisemicError
from visemic.video import decode, features
from visemic.video.facemesh import FaceMesh

# Face Mesh runs on a square crop around the face, resized to this side: a face filling about
# half of it is well above the 192-px input of the landmark model, and the cost is the same for
# a 160p or a 4K video.
CROP_SIDE = 320
CROP_GROWTH = 2.0       # crop side over the face's bounding-box side
RECENTRE = 0.12         # move the crop when the face drifts this share of the crop side
RESIZE = (0.8, 1.25)    # or when its size leaves this range of the crop's intended size
RETRY_SECONDS = 0.1     # while no face is tracked, search the whole frame at most this often
WORK_SIDE = 1280        # frames are decoded at most this large (crops come from it)
SEARCH_FACES = 4        # faces a whole-frame search looks for

# Confidence: full from an inter-ocular distance of MIN_IOD_PX pixels (in the source video),
# falling to 0 at half of it; full up to YAW_FULL degrees of head turn, 0 at YAW_ZERO; a jump
# of the landmarks by more than JUMP_IOD eye distances from one frame to the next (a
# re-detection on another face, a glitch) halves it.
MIN_IOD_PX = 24.0
YAW_FULL, YAW_ZERO = 35.0, 70.0
JUMP_IOD = 0.5


@dataclass
class FaceTrack:
    """One face through a video. ``n`` frames, all arrays indexed by frame.

    - ``times`` [n] float64: each frame's presentation time in seconds (container clock,
      exact for variable frame rates).
    - ``features`` [n × 6] float32: :data:`visemic.video.features.FEATURES` in inter-ocular
      distances, NaN where no face was tracked.
    - ``confidence`` [n] float32: 0…1, 0 where no face was tracked (see the module constants).
    - ``pose`` [n × 3] float32: yaw, pitch, roll in degrees (NaN where no face).
    - ``landmarks`` [n × 478 × 3] float32 in upright source-video pixels, NaN where no face;
      only when asked for (``track(..., landmarks=True)``).
    - ``info``: the video's :class:`~visemic.video.decode.VideoInfo`.
    """

    times: np.ndarray
    features: np.ndarray
    confidence: np.ndarray
    pose: np.ndarray
    info: decode.VideoInfo
    landmarks: np.ndarray | None = None

    @property
    def frames(self) -> int:
        return len(self.times)

    @property
    def found(self) -> np.ndarray:
        """[n] bool: frames where the face was tracked."""
        return self.confidence > 0

    def feature(self, name: str) -> np.ndarray:
        """One feature's column, e.g. ``"inner_aperture"``."""
        if name not in features.FEATURES:
            raise KeyError(f"unknown feature {name!r}; features: {', '.join(features.FEATURES)}")
        return self.features[:, features.FEATURES.index(name)]


@dataclass
class TrackedFrame:
    """One frame's result from :class:`Tracker`: ``landmarks`` 478×3 in the pixels of the
    picture given to the tracker (None when no face), ``confidence`` 0…1; ``features`` (the
    lip features, in eye distances) and ``pose`` (degrees) when there is a face."""

    time: float
    landmarks: np.ndarray | None
    confidence: float
    features: np.ndarray | None = None
    pose: np.ndarray | None = None


class Tracker:
    """Follows one face through consecutive frames; :meth:`update` takes each frame in turn.

    For callers that decode frames themselves (dubbing renders each frame as it goes).
    ``face``: which face to follow, 0 the largest where one is first found. ``pixel_scale``:
    source pixels per picture pixel (for the size part of the confidence when frames were
    scaled down). Close it (or use it as a context manager) to free the graph.
    """

    def __init__(self, face: int = 0, pixel_scale: float = 1.0) -> None:
        if face < 0:
            raise VisemicError(f"face must be 0 or more, got {face}")
        self.face = face
        self.pixel_scale = pixel_scale
        self._mesh = FaceMesh(tracking=True, max_faces=1)
        self._stills: FaceMesh | None = None  # whole-frame searches, made when first needed
        self._crop: tuple[float, float, float] | None = None  # centre x, y, side (pixels)
        self._last: np.ndarray | None = None  # last landmarks
        self._last_centre: np.ndarray | None = None
        self._last_try = -math.inf
        self.acquired = False  # a face has been chosen
        self.faces_seen = 0    # faces in the frame where the face was chosen

    def update(self, image: np.ndarray, time: float) -> TrackedFrame:
        """Track the face in ``image`` (H×W×3 RGB uint8), the frame shown at ``time`` s."""
        points = self._follow(image) if self._crop is not None else None
        if points is None and time - self._last_try >= RETRY_SECONDS:
            self._last_try = time
            points = self._search(image)
        if points is None:
            self._crop = None
            self._last = None
            return TrackedFrame(time, None, 0.0)
        lips, pose, iod = features.measure(points)
        conf = self._confidence(points, float(pose[0]), float(iod))
        self._last = points
        self._last_centre = points[:, :2].mean(axis=0)
        self._aim(points)
        return TrackedFrame(time, points, conf, lips, pose)

    def close(self) -> None:
        self._mesh.close()
        if self._stills is not None:
            self._stills.close()

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -------------------------------------------------------------------------- internals

    def _follow(self, image: np.ndarray) -> np.ndarray | None:
        import cv2

        cx, cy, side = self._crop  # type: ignore[misc]
        # A sub-pixel warp, not a whole-pixel cut: the crop's rounding would otherwise move the
        # landmarks by up to half a source pixel whenever the crop is re-aimed (dubbing pastes
        # on them, so that showed as a mouth that shivers in pauses).
        k = CROP_SIDE / side
        m = np.array([[k, 0.0, CROP_SIDE / 2 - k * cx], [0.0, k, CROP_SIDE / 2 - k * cy]])
        crop = cv2.warpAffine(image, m, (CROP_SIDE, CROP_SIDE),
                              flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
        faces = self._mesh(crop)
        if not faces:
            return None
        pts = faces[0]
        pts[:, 0] = (pts[:, 0] - m[0, 2]) / k
        pts[:, 1] = (pts[:, 1] - m[1, 2]) / k
        pts[:, 2] /= k
        return pts

    def _search(self, image: np.ndarray) -> np.ndarray | None:
        """Look for the face in the whole frame (first time: by size; later: by position).

        Face Mesh on the whole frame first; where it finds too few faces, the portrait's
        search, which also finds small faces through a face detector."""
        from visemic.render.portrait.landmarks import detect_faces

        if self._stills is None:
            self._stills = FaceMesh(max_faces=SEARCH_FACES)
        faces = self._stills(image)
        if len(faces) <= (self.face if not self.acquired else 0):
            faces = detect_faces(image)
        faces.sort(key=lambda f: -float(np.prod(np.ptp(f[:, :2], axis=0))))
        if not faces:
            return None
        if not self.acquired:
            if self.face >= len(faces):
                return None
            self.acquired = True
            self.faces_seen = len(faces)
            return faces[self.face]
        centres = [f[:, :2].mean(axis=0) for f in faces]
        best = int(np.argmin([np.hypot(*(c - self._last_centre)) for c in centres]))
        return faces[best]

    def _aim(self, points: np.ndarray) -> None:
        x0, y0 = points[:, :2].min(axis=0)
        x1, y1 = points[:, :2].max(axis=0)
        want = max(x1 - x0, y1 - y0) * CROP_GROWTH
        centre = ((x0 + x1) / 2, (y0 + y1) / 2)
        if self._crop is not None:
            cx, cy, side = self._crop
            still = (math.hypot(centre[0] - cx, centre[1] - cy) < RECENTRE * side
                     and RESIZE[0] < want / side < RESIZE[1])
            if still:
                return
        self._crop = (centre[0], centre[1], max(want, 16.0))

    def _confidence(self, points: np.ndarray, yaw: float, iod_px: float) -> float:
        iod = iod_px * self.pixel_scale
        size = float(np.clip((iod - MIN_IOD_PX / 2) / (MIN_IOD_PX / 2), 0.0, 1.0))
        yaw = abs(yaw)
        turn = float(np.clip((YAW_ZERO - yaw) / (YAW_ZERO - YAW_FULL), 0.0, 1.0))
        conf = size * turn
        if self._last is not None:
            jump = np.median(np.linalg.norm(points[:, :2] - self._last[:, :2], axis=1))
            if jump > JUMP_IOD * iod_px:
                conf *= 0.5
        return max(conf, 1e-3)  # tracked, however poorly: never exactly 0


def frames(path: str | os.PathLike[str], face: int = 0,
           max_side: int = WORK_SIDE) -> Iterator[tuple[decode.Frame, TrackedFrame]]:
    """Decode ``path`` and track ``face`` frame by frame: (frame, result) pairs, streamed.

    The landmarks are in the pixels of ``frame.image`` (divide by ``frame.scale`` for source
    pixels).
    """
    tracker: Tracker | None = None
    try:
        for frame in decode.frames(path, max_side=max_side):
            if tracker is None:
                tracker = Tracker(face, pixel_scale=1.0 / frame.scale)
            yield frame, tracker.update(frame.image, frame.time)
    finally:
        if tracker is not None:
            tracker.close()


def track(path: str | os.PathLike[str], *, face: int = 0, landmarks: bool = False,
          smooth: int = 1, max_side: int = WORK_SIDE,
          progress: Callable[[float], None] | None = None) -> FaceTrack:
    """Track one face through the video at ``path`` (see the module docstring).

    ``face``: 0 the largest face where one is first found, 1 the next, …; ``landmarks``: keep
    every frame's 478 points; ``smooth``: passes of the centred [1 2 1] smoothing over
    neighbouring tracked frames (0: none; each pass adds no delay); ``max_side``: frames are
    decoded at most this large before the face crop is taken; ``progress`` is called with 0…1.

    Raises :class:`VisemicError` for a missing or unreadable file, a file with no video, or a
    video in which the face asked for is never found (``no face found in VIDEO``).
    """
    info = decode.probe(path)
    times: list[float] = []
    feats: list[np.ndarray] = []
    poses: list[np.ndarray] = []
    confs: list[float] = []
    marks: list[np.ndarray] = []
    blank = np.full((478, 3), np.nan, np.float32)
    expected = info.frames or max(1, int(info.duration * info.fps))
    for frame, result in frames(path, face, max_side):
        times.append(frame.time)
        confs.append(result.confidence)
        if result.landmarks is None:
            feats.append(np.full(len(features.FEATURES), np.nan))
            poses.append(np.full(3, np.nan))
            if landmarks:
                marks.append(blank)
        else:
            # Features are ratios and angles: the same in scaled or source pixels.
            feats.append(result.features)
            poses.append(result.pose)
            if landmarks:
                marks.append((result.landmarks / frame.scale).astype(np.float32))
        if progress and len(times) % 25 == 0:
            progress(min(0.99, len(times) / expected))
    if not times:
        raise VisemicError(f"{path}: no video frames decode")
    conf = np.asarray(confs, np.float32)
    if not (conf > 0).any():
        if face > 0:
            raise VisemicError(f"face {face} asked for, but fewer faces were found in {path} "
                               f"(numbered from 0, largest first)")
        raise VisemicError(f"no face found in {path}")
    out = FaceTrack(times=np.asarray(times, np.float64),
                    features=smoothed(np.asarray(feats), smooth).astype(np.float32),
                    confidence=conf,
                    pose=smoothed(np.asarray(poses), smooth).astype(np.float32), info=info,
                    landmarks=np.stack(marks) if landmarks else None)
    if progress:
        progress(1.0)
    return out


def smoothed(values: np.ndarray, passes: int = 1) -> np.ndarray:
    """Centred [1 2 1]/4 smoothing along the first axis, ``passes`` times, over finite values
    only: a NaN (no face) neither spreads nor pulls its neighbours, and stays NaN."""
    x = np.asarray(values, np.float64)
    valid = np.isfinite(x)
    for _ in range(max(0, passes)):
        v = np.where(valid, x, 0.0)
        w = valid.astype(np.float64)
        num = 2 * v
        den = 2 * w
        num[1:] += v[:-1]
        den[1:] += w[:-1]
        num[:-1] += v[1:]
        den[:-1] += w[1:]
        x = np.where(valid, num / np.maximum(den, 1e-12), np.nan)
    return x
