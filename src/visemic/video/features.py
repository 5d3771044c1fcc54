"""Head pose and lip features from Face Mesh landmarks (any number of frames at once).

The head's axes come from the landmarks themselves: x along the line between the eyes' outer
corners, y from the top of the forehead down to the chin (made perpendicular to x), z away
from the camera. Lip features are measured in that head frame, so they do not change when the
head turns, and in units of the inter-ocular distance (IOD: between the two eyes' centres), so
they do not change with the face's size in the picture.

Angles follow visemic's (ARKit's) convention, in degrees: yaw > 0 turns the nose towards the
picture's right, pitch > 0 nods it down, roll > 0 tilts the top of the head towards the
picture's left.
"""

from __future__ import annotations

import numpy as np

from visemic.render.portrait import mesh

# The lip features, in the column order of :attr:`visemic.video.tracker.FaceTrack.features`.
FEATURES = ("inner_aperture", "outer_aperture", "mouth_width", "protrusion", "jaw_drop",
            "corner_height")
FEATURE_DOC = {
    "inner_aperture": "gap between the inner lip edges at the middle of the mouth (the opening)",
    "outer_aperture": "height of the lips from the top of the upper lip to the bottom of the "
                      "lower lip at the middle",
    "mouth_width": "corner to corner",
    "protrusion": "how far the middle of the lips stands out in front of the mouth corners "
                  "(a proxy: rounding and pouting raise it)",
    "jaw_drop": "nose base to chin (rises as the jaw opens)",
    "corner_height": "mouth corners above the middle of the lip line (smiles raise it)",
}

# Middle three points of each lip edge (the contours run corner to corner, 11 points).
_INNER = (mesh.LIPS_INNER_UPPER[4:7], mesh.LIPS_INNER_LOWER[4:7])
_OUTER = (mesh.LIPS_OUTER_UPPER[4:7], mesh.LIPS_OUTER_LOWER[4:7])
_CORNERS = (61, 291)
_NOSE_BASE = 2
_CHIN = 152
_FOREHEAD = 10
_EYE_OUTER = (33, 263)  # subject's right (picture left), subject's left
_EYE_CORNERS = ((33, 133), (263, 362))


def head_axes(points: np.ndarray) -> np.ndarray:
    """Rotation matrices (…×3×3) whose columns are the head's x, y, z axes in image axes."""
    p = np.asarray(points, np.float64)
    x = _unit(p[..., _EYE_OUTER[1], :] - p[..., _EYE_OUTER[0], :])
    down = p[..., _CHIN, :] - p[..., _FOREHEAD, :]
    y = _unit(down - np.sum(down * x, axis=-1, keepdims=True) * x)
    z = np.cross(x, y)
    return np.stack([x, y, z], axis=-1)


def pose(points: np.ndarray) -> np.ndarray:
    """(yaw, pitch, roll) in degrees (…×3), see the module docstring for the signs."""
    return _angles(head_axes(points))


def _angles(r: np.ndarray) -> np.ndarray:
    forward = -r[..., :, 2]  # the nose's direction, towards the camera for a frontal face
    yaw = np.arctan2(forward[..., 0], -forward[..., 2])
    pitch = np.arctan2(forward[..., 1], np.hypot(forward[..., 0], forward[..., 2]))
    roll = np.arctan2(-r[..., 1, 0], r[..., 0, 0])
    return np.degrees(np.stack([yaw, pitch, roll], axis=-1))


def inter_ocular(points: np.ndarray) -> np.ndarray:
    """Distance between the eyes' centres (the midpoints of their corners), in the landmarks'
    units (…)."""
    p = np.asarray(points, np.float64)
    right = p[..., list(_EYE_CORNERS[0]), :].mean(axis=-2)
    left = p[..., list(_EYE_CORNERS[1]), :].mean(axis=-2)
    return np.linalg.norm(left - right, axis=-1)


def measure(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lip features …×6, pose …×3, inter-ocular distance …) of landmarks in one go."""
    p = np.asarray(points, np.float64)
    r = head_axes(p)
    iod = inter_ocular(p)
    return _lips(p, r, np.maximum(iod, 1e-6)), _angles(r), iod


def lip_features(points: np.ndarray) -> np.ndarray:
    """The :data:`FEATURES` (…×6) of landmarks (…×478×3), in inter-ocular distances."""
    p = np.asarray(points, np.float64)
    return _lips(p, head_axes(p), np.maximum(inter_ocular(p), 1e-6))


def _lips(p: np.ndarray, r: np.ndarray, iod: np.ndarray) -> np.ndarray:
    # Head-frame coordinates, scaled to IOD units: local = (p − origin) · R / iod.
    origin = p[..., _NOSE_BASE:_NOSE_BASE + 1, :]
    local = np.einsum("...ni,...ij->...nj", p - origin, r) / iod[..., None, None]

    def gap(pairs: tuple[tuple[int, ...], tuple[int, ...]]) -> np.ndarray:
        upper, lower = (local[..., list(ids), 1] for ids in pairs)
        return (lower - upper).mean(axis=-1)

    corners = local[..., list(_CORNERS), :]
    middle = local[..., [mesh.LIPS_INNER_UPPER[5], mesh.LIPS_INNER_LOWER[5]], :].mean(axis=-2)
    lips_front = local[..., [mesh.LIPS_OUTER_UPPER[5], mesh.LIPS_OUTER_LOWER[5]], 2].mean(axis=-1)
    return np.stack([
        gap(_INNER),
        gap(_OUTER),
        np.linalg.norm(corners[..., 1, :] - corners[..., 0, :], axis=-1),
        corners[..., 2].mean(axis=-1) - lips_front,
        local[..., _CHIN, 1],  # the origin is the nose base
        middle[..., 1] - corners[..., 1].mean(axis=-1),
    ], axis=-1)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)
