"""The MediaPipe Face Mesh topology the portrait rig works on: landmark groups and triangles.

Indices are MediaPipe's (468 surface points, then 10 iris points with ``refine_landmarks``).
"Left"/"right" are the *subject's* (ARKit's convention): the subject's left eye is on the
picture's right. The surface triangles come from MediaPipe's own tessellation, which leaves
holes at the mouth and the eyes; :func:`triangles` fills those holes so that the warp covers
the whole face.
"""

from __future__ import annotations

import functools

import numpy as np

N_SURFACE = 468
N_REFINED = 478

# Lip contours, each from the subject's right corner to the left corner.
LIPS_OUTER_UPPER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LIPS_OUTER_LOWER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
LIPS_INNER_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LIPS_INNER_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
MOUTH_CORNERS = (61, 291, 78, 308)

# Eyelid margins from the outer to the inner corner.
EYE_UPPER = {"right": (33, 246, 161, 160, 159, 158, 157, 173, 133),
             "left": (263, 466, 388, 387, 386, 385, 384, 398, 362)}
EYE_LOWER = {"right": (33, 7, 163, 144, 145, 153, 154, 155, 133),
             "left": (263, 249, 390, 373, 374, 380, 381, 382, 362)}
# The fold above the upper lid and the skin below the lower lid (they follow the lids a little).
EYE_UPPER_FOLD = {"right": (247, 30, 29, 27, 28, 56, 190, 113, 225, 224, 223, 222, 221, 189),
                  "left": (467, 260, 259, 257, 258, 286, 414, 342, 445, 444, 443, 442, 441, 413)}
EYE_LOWER_SKIN = {"right": (130, 25, 110, 24, 23, 22, 26, 112, 243),
                  "left": (359, 255, 339, 254, 253, 252, 256, 341, 463)}
# Iris centre, then four points on its rim (refined landmarks only).
IRIS = {"right": (468, 469, 470, 471, 472), "left": (473, 474, 475, 476, 477)}

# Eyebrows from the outer to the inner end, upper edge then lower edge.
BROW_UPPER = {"right": (70, 63, 105, 66, 107), "left": (300, 293, 334, 296, 336)}
BROW_LOWER = {"right": (46, 53, 52, 65, 55), "left": (276, 283, 282, 295, 285)}

CHEEK = {"right": (50, 101, 118, 117, 123, 36, 205, 187, 207, 147),
         "left": (280, 330, 347, 346, 352, 266, 425, 411, 427, 376)}
NOSE_WING = {"right": (129, 49, 48, 64, 98, 102), "left": (358, 279, 278, 294, 327, 331)}
CHIN = (152, 148, 377, 176, 400, 175, 199, 200, 18, 83, 313)

# The silhouette, clockwise from the top of the forehead.
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378,
             400, 377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54,
             103, 67, 109)

SIDES = ("right", "left")


def eye_contour(side: str) -> tuple[int, ...]:
    """The eye opening as a closed loop: upper lid outer→inner, lower lid inner→outer."""
    return EYE_UPPER[side] + tuple(reversed(EYE_LOWER[side][1:-1]))


def inner_mouth() -> tuple[int, ...]:
    """The mouth opening as a closed loop: upper inner lip right→left, lower left→right."""
    return LIPS_INNER_UPPER + tuple(reversed(LIPS_INNER_LOWER[1:-1]))


@functools.lru_cache(maxsize=1)
def surface_triangles() -> np.ndarray:
    """MediaPipe's face tessellation as triangles (T×3), rebuilt from its edge list.

    MediaPipe publishes the tessellation as edges; its faces are the 3-cycles of that graph,
    less the few 3-cycles that are not faces (their three edges each border three cycles).
    """
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_TESSELATION

    edges = {(min(a, b), max(a, b)) for a, b in FACEMESH_TESSELATION}
    adjacent: dict[int, set[int]] = {}
    for a, b in edges:
        adjacent.setdefault(a, set()).add(b)
        adjacent.setdefault(b, set()).add(a)
    cycles = {tuple(sorted((a, b, c))) for a, b in edges for c in adjacent[a] & adjacent[b]}
    uses: dict[tuple[int, int], int] = {}
    for a, b, c in cycles:
        for e in ((a, b), (a, c), (b, c)):
            uses[e] = uses.get(e, 0) + 1
    faces = [t for t in cycles
             if not all(uses[e] > 2 for e in ((t[0], t[1]), (t[0], t[2]), (t[1], t[2])))]
    return np.array(sorted(faces), np.int32)


def _strip(upper: tuple[int, ...], lower: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """Triangles filling the band between two contours that share their end points."""
    tris = []
    for i in range(len(upper) - 1):
        if i > 0:
            tris.append((upper[i], upper[i + 1], lower[i]))
        if i + 1 < len(upper) - 1:
            tris.append((upper[i + 1], lower[i + 1], lower[i]))
    return tris


@functools.lru_cache(maxsize=1)
def hole_triangles() -> dict[str, np.ndarray]:
    """Triangles filling the mouth opening ("mouth") and each eye opening ("eye_right",
    "eye_left"; fans around the iris centre, so that moving it moves the iris)."""
    holes = {"mouth": np.array(_strip(LIPS_INNER_UPPER, LIPS_INNER_LOWER), np.int32)}
    for side in SIDES:
        loop = eye_contour(side)
        centre = IRIS[side][0]
        holes[f"eye_{side}"] = np.array(
            [(centre, loop[i], loop[(i + 1) % len(loop)]) for i in range(len(loop))], np.int32)
    return holes
