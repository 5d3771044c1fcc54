"""How far a portrait's mouth opens on clear speech, and what the opening shows.

The speech curves put a loud, stressed /ɑ/ near jawOpen 0.9. Real talking faces (the tracked
clips of bench/lip_motion.py) part their lips at most about 0.17-0.48 eye distances (median
speaker 0.28) at that opening, and show a dark red mouth with the tongue in it, not a black
hole: the rig bends the jaw's turn over at large values, the painter lights the inside."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from visemic.render.portrait import PortraitRenderer, mesh
from visemic.render.portrait.quality import MouthMeter
from visemic.render.portrait.rig_jaw import jaw_turn

TEXT = "My father saw a boot."


def test_the_jaw_bends_over_at_loud_open_vowels():
    steps = np.linspace(0.0, 1.0, 21)
    turn = np.array([jaw_turn(j) for j in steps])
    assert turn[0] == 0.0 and np.all(np.diff(turn) > 0.0)  # never flat
    small = (jaw_turn(0.2) - jaw_turn(0.0)) / 0.2
    large = (jaw_turn(1.0) - jaw_turn(0.8)) / 0.2
    assert large < 0.4 * small
    assert jaw_turn(0.9) < 0.45 * 0.9  # about half the linear turn at a loud open vowel


@pytest.fixture(scope="module")
def widest(face):
    """(renderer, curve row, channels) of the widest frame of TEXT spoken by espeak-ng,
    animated with its transcript, on the generated face."""
    import visemic
    from visemic.phonetics import espeak

    audio, _ = espeak.synthesize(TEXT, "en-us")
    animation = visemic.animate(audio, text=TEXT).animation
    jaw = animation.values[:, animation.channels.index("jawOpen")]
    assert jaw.max() > 0.75  # the curves do open wide on it
    row = animation.values[int(np.argmax(jaw))].copy()
    row[52:] = 0.0
    return PortraitRenderer(face), row, animation.channels


def test_a_loud_open_vowel_opens_as_far_as_real_lips(widest):
    renderer, row, channels = widest
    meter = MouthMeter()
    try:
        gap = meter(renderer.render(row, channels)[:, :, :3])[0]
    finally:
        meter.close()
    # Face Mesh on the rendered frame, as on the real clips (0.58 with a linear jaw).
    assert 0.18 < gap < 0.4


def _luma(image: np.ndarray) -> np.ndarray:
    return image[:, :, :3].astype(float) @ [0.299, 0.587, 0.114]


def test_the_wide_opening_is_a_lit_mouth_not_a_black_hole(widest):
    renderer, row, channels = widest
    frame = renderer.render(row, channels)
    pts = renderer.pose_landmarks(row, channels)
    inside = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(inside, [np.round(pts[list(mesh.inner_mouth())]).astype(np.int32)], 1)
    inside = cv2.erode(inside, np.ones((3, 3), np.uint8)) > 0
    third = (pts[308, 0] - pts[78, 0]) / 6
    cols = slice(int(pts[13, 0] - third), int(pts[13, 0] + third))
    luma = _luma(frame)
    profile = np.array([luma[y, cols][inside[y, cols]].mean()
                        for y in range(frame.shape[0]) if inside[y, cols].any()])
    n = len(profile)
    assert n > 8
    lips = np.zeros(frame.shape[:2], np.uint8)
    outline = mesh.LIPS_OUTER_UPPER + tuple(reversed(mesh.LIPS_OUTER_LOWER))
    cv2.fillPoly(lips, [np.round(renderer.landmarks[list(outline), :2]).astype(np.int32)], 1)
    lip = float(np.median(_luma(renderer.image)[lips > 0]))
    # Under the upper teeth the darkest of the mouth, yet dark red, not black (0.11 of the
    # lips' light before); lower down the lit tongue (0.27 before).
    darkest = float(profile[: n // 2].min())
    tongue = float(profile[int(0.45 * n):int(0.8 * n)].mean())
    assert darkest > 0.2 * lip
    assert tongue > 0.5 * lip
    assert tongue > 1.4 * darkest
