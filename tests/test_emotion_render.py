"""The renderers draw the channels emotions rely on: browDown slants the brows into a V and
lowers the lids, noseSneer wrinkles the nose, mouthUpperUp bares the upper teeth, eyeSquint
narrows the eyes (built-in avatar), and the portrait rig moves the same landmarks."""

from __future__ import annotations

import numpy as np
import pytest

from visemic.motion import arkit
from visemic.motion.arkit import CHANNELS
from visemic.render.avatar import AvatarRenderer
from visemic.render.portrait import mesh


@pytest.fixture(scope="module")
def avatar() -> AvatarRenderer:
    return AvatarRenderer((512, 512))


def draw(avatar: AvatarRenderer, **named: float) -> np.ndarray:
    return avatar.render(arkit.frame(**named), CHANNELS)[:, :, :3].astype(np.int32)


def near(img: np.ndarray, colour: tuple[int, int, int], tol: float) -> np.ndarray:
    return np.linalg.norm(img - np.array(colour), axis=2) < tol


BROW_ROWS = slice(140, 225)  # between the fringe and the eyes, on the 512 canvas


def brow_ends(img: np.ndarray) -> tuple[float, float, float]:
    """For the brow on the picture's left: (inner end's x, inner end's mean y, outer end's mean
    y), from the pixels of the brow colour."""
    import cv2

    dark = near(img[BROW_ROWS, :256], (68, 44, 31), 12)  # not the darker lashes
    _, labels, stats, _ = cv2.connectedComponentsWithStats(dark.astype(np.uint8))
    dark = labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))  # the brow itself
    cols = np.flatnonzero(dark.any(axis=0))
    assert len(cols) > 30
    ys = [np.flatnonzero(dark[:, c]).mean() for c in cols]
    return float(cols[-1]), float(np.mean(ys[-6:])), float(np.mean(ys[:6]))


def test_brow_down_makes_a_v_and_lowers_the_lids(avatar):
    rest = draw(avatar)
    frown = draw(avatar, browDownLeft=1.0, browDownRight=1.0)
    x0, inner0, outer0 = brow_ends(rest)
    x1, inner1, outer1 = brow_ends(frown)
    assert inner1 - inner0 >= 10          # the inner end drops a lot ...
    assert outer1 - outer0 <= 5           # ... the outer end a little: a V
    assert x1 >= x0 + 4                   # and slides towards the nose
    eye = (slice(190, 250), slice(150, 362))
    open_ = (np.linalg.norm(rest[eye] - 250, axis=2) < 12).sum()
    lowered = (np.linalg.norm(frown[eye] - 250, axis=2) < 12).sum()
    assert lowered < 0.85 * open_
    # Frown lines between the brows: the strip over the nose's root gets darker lines.
    mid = (slice(160, 215), slice(236, 276))
    assert np.abs(np.diff(frown[mid].mean(axis=2), axis=1)).sum() > \
        1.5 * np.abs(np.diff(rest[mid].mean(axis=2), axis=1)).sum()


def test_squint_narrows_the_eyes(avatar):
    eye = (slice(190, 250), slice(150, 362))

    def visible(img: np.ndarray) -> int:
        sclera = np.linalg.norm(img[eye] - 250, axis=2) < 12
        return int(sclera.sum())

    rest = visible(draw(avatar))
    assert visible(draw(avatar, eyeSquintLeft=1.0, eyeSquintRight=1.0)) < 0.7 * rest
    assert visible(draw(avatar, eyeWideLeft=1.0, eyeWideRight=1.0)) > 1.1 * rest


def test_nose_sneer_wrinkles_and_lifts_the_nostrils(avatar):
    rest = draw(avatar)
    sneer = draw(avatar, noseSneerLeft=1.0, noseSneerRight=1.0)
    bridge = (slice(236, 252), slice(246, 266))
    edges = [np.abs(np.diff(img[bridge].mean(axis=2), axis=0)).sum() for img in (rest, sneer)]
    assert edges[1] > 3 * edges[0]        # wrinkles across the bridge

    def nostril_y(img: np.ndarray) -> float:
        box = img[255:285, 236:276].mean(axis=2)
        rows = np.flatnonzero((box < box.max() - 60).any(axis=1))
        return float(rows.mean())

    assert nostril_y(sneer) <= nostril_y(rest) - 4
    # Folds from the nose wings down towards the mouth corners, on both cheeks.
    for cols in (slice(222, 238), slice(274, 290)):
        box = (slice(270, 292), cols)
        assert np.abs(rest[box] - sneer[box]).sum(axis=2).max() > 40


def test_upper_lip_raise_bares_the_teeth(avatar):
    mouth = (slice(280, 320), slice(216, 296))

    def teeth(img: np.ndarray) -> int:
        return int(near(img[mouth], (251, 249, 243), 12).sum())

    assert teeth(draw(avatar)) == 0
    assert teeth(draw(avatar, mouthUpperUpLeft=0.7, mouthUpperUpRight=0.7)) > 60


@pytest.fixture(scope="module")
def rig(avatar):
    from visemic.render.portrait.renderer import PortraitRenderer

    return PortraitRenderer(np.ascontiguousarray(avatar.rest[:, :, :3])).rig


def test_portrait_rig_moves_the_emotion_landmarks(rig):
    rest = rig.to_face(rig.rest)
    frown = rig.to_face(rig.pose(arkit.frame(browDownLeft=1.0, browDownRight=1.0)).points)
    for side in mesh.SIDES:
        inner, outer = mesh.BROW_UPPER[side][-1], mesh.BROW_UPPER[side][0]
        drop_in = frown[inner, 1] - rest[inner, 1]
        drop_out = frown[outer, 1] - rest[outer, 1]
        assert drop_in > 0.1 and drop_in > drop_out + 0.05, side        # a V
        assert abs(frown[inner, 0]) < abs(rest[inner, 0]) - 0.04, side  # towards the nose
        lid = mesh.EYE_UPPER[side][4]
        assert frown[lid, 1] > rest[lid, 1] + 0.01, side                 # lid lowered
    sneer = rig.to_face(rig.pose(arkit.frame(noseSneerLeft=1.0, noseSneerRight=1.0)).points)
    for side in mesh.SIDES:
        wing = list(mesh.NOSE_WING[side])
        assert (rest[wing, 1] - sneer[wing, 1]).mean() > 0.05, side
    raised = rig.to_face(rig.pose(arkit.frame(mouthUpperUpLeft=1.0, mouthUpperUpRight=1.0)).points)
    upper = list(mesh.LIPS_OUTER_UPPER[1:-1])
    assert (rest[upper, 1] - raised[upper, 1]).mean() > 0.06
