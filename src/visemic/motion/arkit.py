"""ARKit blendshape names in Apple's order (DESIGN.md §3) and the head channels after them."""

from __future__ import annotations

import numpy as np

BLENDSHAPES: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
    "eyeSquintLeft", "eyeWideLeft", "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight",
    "eyeLookOutRight", "eyeLookUpRight", "eyeSquintRight", "eyeWideRight", "jawForward",
    "jawLeft", "jawRight", "jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft",
    "mouthRight", "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthPressLeft",
    "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
    "mouthUpperUpRight", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft",
    "browOuterUpRight", "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft",
    "noseSneerRight", "tongueOut",
)

# Head rotation in degrees: yaw (left/right), pitch (nod), roll (tilt).
HEAD: tuple[str, ...] = ("headYaw", "headPitch", "headRoll")

CHANNELS: tuple[str, ...] = BLENDSHAPES + HEAD

INDEX: dict[str, int] = {name: i for i, name in enumerate(CHANNELS)}

assert len(BLENDSHAPES) == 52


def frame(**named: float) -> np.ndarray:
    """One frame of :data:`CHANNELS` (float32, Apple's order) with the named channels set and
    the rest 0, e.g. ``frame(jawOpen=0.5, mouthPucker=0.8)`` for a renderer."""
    v = np.zeros(len(CHANNELS), np.float32)
    for name, x in named.items():
        v[INDEX[name]] = x
    return v
