"""The portrait rig's tuning, as data: how far each ARKit channel moves which landmarks, how
the jaw, lips, lids and teeth move, in units of the distance between the eyes. Read by
:mod:`visemic.render.portrait.rig`."""

from __future__ import annotations

import numpy as np

# Lower-lip drop at jawOpen = 1, in eye distances (a wide-open jaw: about 45 mm for a 63 mm
# eye distance would be 0.7; speech rarely passes half of that).
JAW_DROP = 0.42
# How much of that turn a jawOpen value shows (rig_jaw.jaw_turn): JAW_GAIN × (JAW_LINEAR × j +
# (1 − JAW_LINEAR) × JAW_KNEE × tanh(j / JAW_KNEE)). Fitted to real talking faces: on the
# tracked clips of bench/lip_motion.py the median speaker's inner-lip gap at the 50th, 90th
# and 99th percentile of the speech curves' opening (0.14, 0.43, 0.76) is 0.10, 0.18 and 0.27
# eye distances, its widest 0.28 at 0.85; a linear JAW_DROP rendered 0.12, 0.30 and 0.50
# (Face Mesh on the rendered frames, both): too wide by a share that grows with the opening.
# Loud open vowels (jawOpen 0.8-0.9 on clear speech) now open about as far as a real
# speaker's widest vowels; jawOpen 1 still opens further (the curve never goes flat).
JAW_GAIN, JAW_LINEAR, JAW_KNEE = 0.7, 0.15, 0.38
# The jaw hinge: this far behind the lower lip (eye distances) and at the height of the cheeks'
# widest points (landmarks 234 and 454) plus this much.
HINGE_DEPTH = 1.1
HINGE_BELOW_CHEEKS = 0.1
# Head rotation centre: below the eye line and behind the lips (eye distances).
NECK_BELOW_EYES = 1.1
NECK_DEPTH = 1.4
# Share of the head's motion followed by the inner and the outer anchor ring: the hair and
# neck next to the face turn with it, the picture beyond the outer ring stays as it was (the
# last ring is the still boundary: nothing outside it is warped).
RING_FOLLOW = (0.9, 0.0)
ANCHOR_JAW = 0.9  # share of the jaw's drop the inner ring's anchors below the hinge take
RING_SCALE = (1.3, 1.65)  # anchor rings: the face oval scaled about its centre
BOUNDARY_SPACING = 0.12  # the still ring's points at most this far apart (eye distances)
# Turns use a flattened depth: no landmark lies more than TURN_SLOPE × its distance (in the
# picture) behind any other. Face Mesh's depth rises steeply at the face's outline, where the
# picture shows a cheek or a temple edge-on; turned with that depth, those slivers would
# open up into wide streaks (the far eye and cheek of a face photographed three-quarter). At
# 15° no edge of the mesh grows by more than about 1 + 0.26 × TURN_SLOPE. (Flatter still, the
# jaw line stops moving with small turns, and Face Mesh reads lips sealed over a dropped jaw
# as parted.)
TURN_SLOPE = 1.5
# The lids close onto the line this share of the way from the upper to the lower lid.
LID_MEET = 0.8
# The skin above the upper lid and below the lower lid follows the lid's margin, less and
# less up to this many eye heights away (upper, lower): the stretch a closing lid needs is
# spread thin over the lid and the skin under the brow (which comes down a little as the eye
# shuts), not pulled out of the narrow band of lid the picture shows into streaks.
LID_SKIN_REACH = (1.2, 0.8)
BROW_FOLLOW = 0.3  # the most the brow follows a closing lid
LID_RIGID = 0.4  # the skin next to the upper margin that moves with it, at most, × the reach
# How much of a lid's raise or drop each of its 7 inner margin points takes (outer → inner).
LID_TAPER = np.sin(np.pi * np.arange(1, 8) / 8.0)
# Gaze: iris travel at full eyeLook*, as a share of the eye's half width / half height.
GAZE_SIDEWAYS = 0.42
GAZE_VERTICAL = 0.3
# Teeth: visible edge of the upper incisors below the mouth line at rest, and of the lower
# incisors above the lower lip (eye distances).
UPPER_TEETH = 0.045
LOWER_TEETH = 0.015

# Per-channel displacements: channel → [(group, outward, up, radius, region)], offsets and the
# falloff radius in eye distances. "{S}"/"{s}" expand to Left/Right and left/right; "outward"
# points away from the face's midline on that side (for unsided channels: the picture's right).
# Region "lower" limits the falloff to the jaw's side of the mouth, "upper" to the skull's.
MOVES: dict[str, list[tuple[str, float, float, float, str]]] = {
    # Corners far enough that an emotion reads on a photograph (Face Mesh sees about half of
    # a corner's move on the rendered frame: bench/portrait_quality.py).
    "mouthSmile{S}": [("corner_{s}", 0.09, 0.15, 0.2, "all")],
    "mouthFrown{S}": [("corner_{s}", 0.02, -0.11, 0.2, "all")],
    "mouthDimple{S}": [("corner_{s}", 0.05, 0.01, 0.2, "all")],
    "mouthStretch{S}": [("corner_{s}", 0.08, -0.03, 0.25, "all")],
    "mouthPress{S}": [("upper_outer_{s}", 0.0, -0.02, 0.06, "upper"),
                      ("lower_outer_{s}", 0.0, 0.025, 0.06, "lower")],
    "mouthLowerDown{S}": [("lower_lip_{s}", 0.0, -0.09, 0.12, "lower")],
    "mouthUpperUp{S}": [("upper_lip_{s}", 0.0, 0.1, 0.12, "upper")],
    "mouthLeft": [("lips", 0.09, 0.0, 0.2, "all")],
    "mouthRight": [("lips", -0.09, 0.0, 0.2, "all")],
    # Funnel opens a small hole; the gathering of both rounding channels is in ROUNDING.
    "mouthFunnel": [("upper_inner", 0.0, 0.05, 0.05, "upper"),
                    ("lower_inner", 0.0, -0.07, 0.05, "lower")],
    "mouthRollLower": [("lower_outer", 0.0, 0.035, 0.05, "lower")],
    "mouthRollUpper": [("upper_outer", 0.0, -0.03, 0.05, "upper")],
    "mouthShrugLower": [("lower_lip", 0.0, 0.04, 0.2, "lower")],
    "mouthShrugUpper": [("upper_lip", 0.0, 0.025, 0.15, "upper")],
    # The inner end drops further and slides towards the nose: the brows slant into a V.
    "browDown{S}": [("brow_{s}", -0.02, -0.05, 0.2, "all"),
                    ("brow_inner_{s}", -0.06, -0.1, 0.12, "all")],
    "browInnerUp": [("brow_inner_right", 0.0, 0.1, 0.2, "all"),
                    ("brow_inner_left", 0.0, 0.1, 0.2, "all")],
    "browOuterUp{S}": [("brow_outer_{s}", 0.0, 0.09, 0.22, "all")],
    "cheekPuff": [("cheek_right", -0.06, 0.0, 0.3, "all"),
                  ("cheek_left", 0.06, 0.0, 0.3, "all")],
    "cheekSquint{S}": [("cheek_{s}", 0.0, 0.04, 0.18, "all")],
    # The wing lifts, taking the upper lip and the cheek beside it a little way along.
    "noseSneer{S}": [("nose_wing_{s}", 0.01, 0.075, 0.12, "all"),
                     ("upper_lip_{s}", 0.0, 0.025, 0.1, "upper"),
                     ("cheek_{s}", 0.0, 0.02, 0.15, "all")],
    "jawLeft": [("jaw", 0.08, 0.0, 0.0, "lower")],
    "jawRight": [("jaw", -0.08, 0.0, 0.0, "lower")],
    "jawForward": [("jaw", 0.0, -0.02, 0.0, "lower")],
}
# Rounding (the avatar's mouth does the same): channel → (gather, inset, thicken, seal).
# gather: the lips and the skin around them close in towards the mouth's centre line by this
# share of their distance from it (pucker 0.8: the mouth about 35 % narrower); inset: the
# opening's ends close in further, so that it ends inside thick, pushed-forward corners;
# thicken: each lip's outer edge moves away from the mouth line by this much at the middle
# (eye distances), less towards the corners; seal: pucker presses the lips together, the gap
# shrinking by this share of itself.
ROUNDING: dict[str, tuple[float, float, float, float]] = {
    "mouthPucker": (0.45, 0.3, 0.035, 0.35),
    "mouthFunnel": (0.3, 0.2, 0.03, 0.0),
}
ROUND_REACH = 0.22  # falloff (eye distances) of the gathering beyond the lips
# Rounded lips make an oval of the opening and, half as much, of their outline.
ROUND_OPENING = 1.0
ROUND_OUTLINE = 0.5
ROUND_PUSH = 0.12  # lips forward at full rounding (eye distances; shows on a head turn)
# Protruding lips hide the teeth further back: the upper edge rises, the lower sinks (eye
# distances at full rounding).
ROUND_TEETH = (0.035, 0.03)

# /f v/: mouthRollLower beyond TUCK_FROM tucks the lower lip up under the upper teeth (fully
# by TUCK_FROM + TUCK_FULL), its inner edge TUCK_UNDER (eye distances) behind the teeth' edge.
TUCK_FROM = 0.15
TUCK_FULL = 0.3
TUCK_UNDER = 0.01

# Lid channels, as shares of the eye's height: (upper lid up, lower lid up).
LIDS: dict[str, tuple[float, float]] = {
    "eyeWide{S}": (0.3, -0.05),
    "eyeSquint{S}": (-0.12, 0.3),
    "browDown{S}": (-0.15, 0.0),  # a lowered brow pushes the upper lid down
    "eyeLookUp{S}": (0.12, 0.05),
    "eyeLookDown{S}": (-0.25, -0.05),
}
