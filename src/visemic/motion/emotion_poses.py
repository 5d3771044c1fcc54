"""The emotion pose table: what each basic emotion does to the face at full intensity.

One row per emotion, ARKit channel → value in 0…1 (head angles in degrees, same signs as
:mod:`visemic.render.avatar`: headPitch > 0 nods the nose down). The rows follow the FACS action
units of each prototype (Ekman & Friesen; EMFACS): happy AU6+12, sad AU1+4+15+17, angry
AU4+7+9+23+24, surprised AU1+2+5+26, disgusted AU9+10+15+17, afraid AU1+2+4+5+20+26, contempt
AU14 on one side (with a one-sided AU9/10 sneer). Channels written without a side ("mouthSmile")
mean both sides.

Mouth rows only shape the corners, cheeks and lip tension (plus a small jaw bias): speech owns the
lips' opening, and :mod:`visemic.motion.expression` re-seals the lips on /p b m/ after layering.
"""

from __future__ import annotations

# Emotion name → {channel: value at intensity 1}.
EMOTIONS: dict[str, dict[str, float]] = {
    "neutral": {},
    "happy": {
        "mouthSmile": 0.9, "cheekSquint": 0.7, "eyeSquint": 0.45, "mouthDimple": 0.25,
        "browOuterUp": 0.1, "mouthUpperUp": 0.08, "jawOpen": 0.03, "headPitch": -1.5,
    },
    "sad": {
        "browInnerUp": 1.0, "browDown": 0.1, "mouthFrown": 0.75, "mouthShrugLower": 0.35,
        "mouthPress": 0.2, "eyeSquint": 0.3, "eyeLookDown": 0.25, "mouthRollLower": 0.05,
        "headPitch": 5.0, "headRoll": 2.0,
    },
    "angry": {
        "browDown": 1.0, "eyeSquint": 0.6, "noseSneer": 0.35, "mouthPress": 0.6,
        "mouthRollLower": 0.15, "mouthFrown": 0.45, "mouthRollUpper": 0.1, "jawForward": 0.15,
        "mouthStretch": 0.2, "headPitch": 4.0,
    },
    "surprised": {
        "browInnerUp": 0.95, "browOuterUp": 0.95, "eyeWide": 0.85, "jawOpen": 0.14,
        "mouthFunnel": 0.08, "mouthLowerDown": 0.1, "headPitch": -3.0,
    },
    "disgusted": {
        "noseSneer": 1.0, "mouthUpperUp": 0.65, "browDown": 0.45, "cheekSquint": 0.6,
        "eyeSquint": 0.45, "mouthFrown": 0.4, "mouthShrugLower": 0.45, "mouthRollLower": 0.1,
        "mouthLeft": 0.1, "headPitch": -3.0, "headYaw": -4.0, "headRoll": -2.0,
    },
    "afraid": {
        "browInnerUp": 0.95, "browOuterUp": 0.4, "browDown": 0.35, "eyeWide": 0.95,
        "mouthStretch": 0.8, "mouthFrown": 0.25, "jawOpen": 0.08, "mouthLowerDown": 0.2,
        "headPitch": -2.0,
    },
    "contempt": {
        "mouthDimpleLeft": 0.85, "mouthSmileLeft": 0.55, "mouthPressLeft": 0.3, "mouthLeft": 0.3,
        "noseSneerLeft": 0.4, "mouthUpperUpLeft": 0.15, "cheekSquintLeft": 0.35,
        "eyeSquint": 0.3, "browDownRight": 0.25, "browOuterUpLeft": 0.3,
        "headPitch": -5.0, "headRoll": 3.0, "headYaw": 4.0,
    },
}
