"""Face landmarks for a portrait: MediaPipe Face Mesh detection, face choice, landmark files.

Landmarks are a ``478×3`` float array in image pixels (x right, y down, z depth in the same
units, smaller is nearer the camera, 0 near the head's centre), MediaPipe's 468 surface points
then 10 iris points. MediaPipe 0.10.21 carries its face models inside the wheel, so detection
runs offline.

A landmarks file is JSON: a list of ``[x, y]`` or ``[x, y, z]`` in image pixels, 468 or 478
points in MediaPipe's order (or an object with that list under ``"landmarks"``). Where z is
missing the face is taken to be flat; where the iris points are missing they are placed at the
centre of each eye opening.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from visemic.errors import NoFaceError, VisemicError
from visemic.outputs.atomic import write_text
from visemic.render.portrait import mesh
from visemic.video import native_log
from visemic.video.facemesh import FaceMesh

# Faces smaller than this share of the image's short side are found through a face-detector
# crop (Face Mesh's own detector only sees faces that fill a fair part of the image).
_CROP_MARGIN = 0.8  # extra room around a detector box before running Face Mesh on it


def detect_faces(image: np.ndarray, max_faces: int = 6) -> list[np.ndarray]:
    """Every face MediaPipe finds in an H×W×3 RGB uint8 image, largest first (478×3 each)."""
    with native_log.filtered():  # the face detector's graph logs too
        return _detect(np.ascontiguousarray(image[:, :, :3]), max_faces)


def _detect(rgb: np.ndarray, max_faces: int) -> list[np.ndarray]:
    faces = _mesh(rgb, max_faces)
    for box in _detector_boxes(rgb):
        if any(_overlaps(box, _box(f)) for f in faces):
            continue
        x0, y0, x1, y1 = _grow(box, rgb.shape)
        crop = rgb[y0:y1, x0:x1]
        scale = 1.0
        if max(crop.shape[:2]) < 384:  # small faces: enlarge so the mesh sees detail
            scale = 384.0 / max(crop.shape[:2])
            import cv2

            crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        for f in _mesh(np.ascontiguousarray(crop), 1):
            f = f / scale
            f[:, 0] += x0
            f[:, 1] += y0
            faces.append(f)
    faces.sort(key=lambda f: -_area(_box(f)))
    return faces


def find_face(image: np.ndarray, face: int = 0, name: str = "the image") -> np.ndarray:
    """The landmarks of face number ``face`` (0: the largest) in ``image``.

    Raises :class:`VisemicError` when no face is found or there are fewer faces than asked for.
    """
    faces = detect_faces(image)
    if not faces:
        raise NoFaceError(name)
    if not 0 <= face < len(faces):
        raise VisemicError(f"face {face} asked for, but {len(faces)} face(s) found in {name} "
                           f"(numbered from 0, largest first)")
    return faces[face]


def load_landmarks(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a landmarks file (see the module docstring) as a 478×3 array."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VisemicError(f"{p}: landmarks file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise VisemicError(f"{p}: cannot read landmarks ({e})") from None
    except json.JSONDecodeError as e:
        raise VisemicError(f"{p}: not JSON ({e.msg}, line {e.lineno})") from None
    if isinstance(data, dict):
        data = data.get("landmarks")
    return as_landmarks(data, str(p))


def as_landmarks(points: object, name: str = "landmarks") -> np.ndarray:
    """Validate 468 or 478 points of [x, y] or [x, y, z] and complete them to 478×3."""
    try:
        arr = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        arr = np.zeros((0,))
    if arr.ndim != 2 or arr.shape[0] not in (mesh.N_SURFACE, mesh.N_REFINED) \
            or arr.shape[1] not in (2, 3):
        raise VisemicError(f"{name}: expected a list of 468 or 478 [x, y] or [x, y, z] points "
                           f"(MediaPipe Face Mesh order), got shape {list(arr.shape)}")
    if not np.isfinite(arr).all():
        raise VisemicError(f"{name}: landmarks must be finite numbers")
    out = np.zeros((mesh.N_REFINED, 3))
    out[: arr.shape[0], : arr.shape[1]] = arr
    if arr.shape[1] == 2:
        # A flat face a little in front of the head's centre (z is only used for rotations).
        out[:, 2] = -0.5 * _eye_distance(out)
    if arr.shape[0] == mesh.N_SURFACE:
        _add_irises(out)
    return out


def save_landmarks(path: str | os.PathLike[str], landmarks: np.ndarray) -> None:
    """Write landmarks as a JSON list of [x, y, z] (atomically)."""
    rows = [[round(float(v), 2) for v in p] for p in np.asarray(landmarks)]
    write_text(path, json.dumps(rows) + "\n")


# ------------------------------------------------------------------------------ internals


def _eye_distance(points: np.ndarray) -> float:
    right = points[list(mesh.eye_contour("right")), :2].mean(axis=0)
    left = points[list(mesh.eye_contour("left")), :2].mean(axis=0)
    d = float(np.hypot(*(left - right)))
    if d < 2.0:
        raise VisemicError("landmarks: the eyes are on top of each other; is the order "
                           "MediaPipe's?")
    return d


def _add_irises(points: np.ndarray) -> None:
    for side in mesh.SIDES:
        loop = points[list(mesh.eye_contour(side))]
        centre = loop.mean(axis=0)
        radius = 0.22 * float(np.hypot(*(loop[0, :2] - loop[8, :2])))
        ids = mesh.IRIS[side]
        points[ids[0]] = centre
        for k, angle in enumerate((0.0, 0.5 * math.pi, math.pi, 1.5 * math.pi)):
            points[ids[k + 1]] = centre + radius * np.array([math.cos(angle), math.sin(angle),
                                                             0.0])


def _mesh(rgb: np.ndarray, max_faces: int) -> list[np.ndarray]:
    with FaceMesh(max_faces=max_faces) as fm:
        return fm(rgb)


def _detector_boxes(rgb: np.ndarray) -> list[tuple[float, float, float, float]]:
    from mediapipe.python.solutions import face_detection

    h, w = rgb.shape[:2]
    boxes = []
    for model in (1, 0):  # full range (small, far faces) first, then short range
        with face_detection.FaceDetection(model_selection=model,
                                          min_detection_confidence=0.5) as fd:
            result = fd.process(rgb)
        for det in result.detections or []:
            b = det.location_data.relative_bounding_box
            box = (b.xmin * w, b.ymin * h, (b.xmin + b.width) * w, (b.ymin + b.height) * h)
            if not any(_overlaps(box, other) for other in boxes):
                boxes.append(box)
    return boxes


def _grow(box: tuple[float, float, float, float],
          shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0) * (1.0 + 2.0 * _CROP_MARGIN)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    h, w = shape[:2]
    return (max(0, int(cx - side / 2)), max(0, int(cy - side / 2)),
            min(w, int(cx + side / 2)), min(h, int(cy + side / 2)))


def _box(points: np.ndarray) -> tuple[float, float, float, float]:
    xy = points[:, :2]
    return (float(xy[:, 0].min()), float(xy[:, 1].min()),
            float(xy[:, 0].max()), float(xy[:, 1].max()))


def _area(box: tuple[float, float, float, float]) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    """True when the boxes overlap by more than a third of the smaller one."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return ix * iy > 0.33 * min(_area(a), _area(b))
