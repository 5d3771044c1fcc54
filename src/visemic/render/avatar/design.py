"""The avatar's static design: the reference canvas, where the head sits, the face outline and
the hair shapes, in head coordinates (x, y, depth[, tension]). Data, not drawing."""

from __future__ import annotations

from typing import Any

import numpy as np

from visemic.motion.arkit import BLENDSHAPES

REF = 512.0  # the reference canvas every shape is designed on
HEAD_X, HEAD_Y = 256.0, 226.0  # head centre on the reference canvas
NECK_PIVOT = (256.0, 372.0)  # roll turns the head about the top of the neck
JAW = 62.0  # lip gap in reference pixels at jawOpen − mouthClose = 1
LIT = (HEAD_X - 28.0, HEAD_Y - 50.0)  # where the light falls fullest on the face
LIT_R = 105.0  # radius of the unshaded disc around it

N_SHAPES = len(BLENDSHAPES)


# Face outline in head coordinates, right half from the crown down to the chin: (x, y, depth).
# Depth says how far a point stands out towards the camera, i.e. how much it follows a turn.
FACE_HALF = np.array([
    (0.0, -142.0, 30.0), (64.0, -133.0, 26.0), (101.0, -88.0, 8.0), (108.0, -22.0, 0.0),
    (100.0, 38.0, 8.0), (76.0, 94.0, 34.0), (38.0, 127.0, 66.0), (0.0, 136.0, 80.0),
])
# How far each outline point follows the jaw (chin fully, temples not at all).
FACE_JAW = np.array([0.0, 0.0, 0.0, 0.0, 0.12, 0.45, 0.85, 1.0])
FACE_PUFF = np.array([0.0, 0.0, 0.0, 0.25, 1.0, 0.55, 0.1, 0.0])


def mirror_closed(half: np.ndarray) -> np.ndarray:
    """Right half (crown → chin) → a closed loop crown → right → chin → left."""
    left = half[-2:0:-1].copy()
    left[:, 0] *= -1
    return np.concatenate([half, left], axis=0)


FACE = mirror_closed(FACE_HALF)
FACE_JAW_ALL = np.concatenate([FACE_JAW, FACE_JAW[-2:0:-1]])
FACE_PUFF_ALL = np.concatenate([FACE_PUFF, FACE_PUFF[-2:0:-1]])
FACE_SIDE = np.sign(FACE[:, 0])

# Hair shapes, (x, y, depth, tension), in head coordinates; "back" is drawn behind the head.
HAIR: dict[str, dict[str, list[tuple[float, float, float, float]]]] = {
    "swept": {
        "front": [
            (-106, -16, 0, 0), (-114, -60, 0, 1), (-118, -112, 6, 1), (-96, -162, 14, 1),
            (-48, -190, 22, 1), (16, -196, 26, 1), (76, -180, 20, 1), (114, -140, 8, 1),
            (120, -84, 2, 1), (112, -30, 0, 1), (106, -16, 0, 0), (101, -56, 4, 1),
            (92, -84, 10, 0), (78, -98, 18, 1), (66, -86, 22, 0), (40, -104, 30, 1),
            (10, -98, 32, 0), (-20, -112, 32, 1), (-56, -120, 28, 1), (-80, -116, 20, 1),
            (-98, -96, 10, 1), (-104, -60, 4, 1),
        ],
        "back": [],
    },
    "crop": {
        "front": [
            (-119, -24, -5, 1), (-124, -84, 0, 1), (-96, -146, 10, 1), (-40, -170, 22, 1),
            (36, -170, 22, 1), (98, -146, 10, 1), (124, -84, 0, 1), (119, -24, -5, 1),
            (110, -40, 0, 0), (100, -92, 10, 1), (50, -112, 24, 1), (0, -110, 30, 1),
            (-50, -112, 24, 1), (-100, -92, 10, 1), (-110, -40, 0, 0),
        ],
        "back": [],
    },
    "bob": {
        "front": [
            (-128, 40, -5, 1), (-136, -60, 0, 1), (-112, -140, 10, 1), (-50, -178, 22, 1),
            (30, -180, 24, 1), (104, -150, 12, 1), (136, -66, 0, 1), (130, 40, -5, 1),
            (116, 52, 0, 0), (112, -40, 6, 1), (96, -86, 14, 1), (40, -96, 30, 1),
            (-6, -92, 32, 1), (-60, -96, 28, 1), (-100, -80, 12, 1), (-113, -30, 4, 1),
            (-116, 52, 0, 0),
        ],
        "back": [
            (-150, 90, -30, 1), (-146, -40, -20, 1), (-110, -150, -10, 1), (0, -190, -10, 1),
            (110, -150, -10, 1), (146, -40, -20, 1), (150, 90, -30, 1), (100, 112, -30, 1),
            (0, 100, -40, 1), (-100, 112, -30, 1),
        ],
    },
    "bun": {
        "front": [
            (-118, -10, -5, 1), (-124, -80, 0, 1), (-98, -146, 10, 1), (-40, -172, 22, 1),
            (40, -172, 22, 1), (98, -146, 10, 1), (124, -80, 0, 1), (118, -10, -5, 1),
            (108, -24, 0, 0), (102, -80, 8, 1), (60, -112, 22, 1), (0, -118, 30, 1),
            (-60, -112, 22, 1), (-102, -80, 8, 1), (-108, -24, 0, 0),
        ],
        "back": [
            (-40, -176, -15, 1), (-38, -206, -15, 1), (0, -224, -15, 1), (38, -206, -15, 1),
            (40, -176, -15, 1), (0, -164, -15, 1),
        ],
    },
}


def spec(points: list[tuple[float, float, float, float]]) -> np.ndarray:
    return np.array(points, dtype=np.float64).reshape(-1, 4)


def is_transparent(background: Any) -> bool:
    return isinstance(background, str) and background.lower() in ("transparent", "none")
