"""Placing a new mouth on the video's own: anchored at the frame's upper lip, the jaw and chin
moved as the video's chin moves with its lower lip (drawn faces, head-frame coordinates)."""

from __future__ import annotations

import numpy as np

from visemic.dub import geometry
from visemic.render.portrait import mesh


def face(gap: float, drop: float = 0.0, shift: tuple[float, float] = (0.0, 0.0),
         lift: float = 0.0, chin_gain: float = 0.6) -> np.ndarray:
    """A drawn face (478×3 head frame, NaN off the mouth and chin): lips at y 0.35, the inner
    gap ``gap``, the lower lip and chin dropping with it (the chin ``chin_gain`` of the lower
    lip's drop), the upper lip rising ``lift`` × gap; the whole moved by ``shift`` (x, y)."""
    p = np.full((mesh.N_REFINED, 3), np.nan)
    up_y = 0.33 + lift * gap
    lo_y = up_y + 0.02 + gap
    for k, x in zip(mesh.LIPS_OUTER_UPPER, np.linspace(-0.4, 0.4, 11), strict=True):
        p[k] = (x, up_y - 0.06 * np.cos(x * np.pi / 0.8), 0.0)
    for k, x in zip(mesh.LIPS_INNER_UPPER, np.linspace(-0.35, 0.35, 11), strict=True):
        p[k] = (x, up_y + 0.01, 0.0)
    for k, x in zip(mesh.LIPS_INNER_LOWER, np.linspace(-0.35, 0.35, 11), strict=True):
        p[k] = (x, up_y + 0.01 + gap * np.cos(x * np.pi / 0.8), 0.0)
    for k, x in zip(mesh.LIPS_OUTER_LOWER, np.linspace(-0.4, 0.4, 11), strict=True):
        p[k] = (x, lo_y + 0.08 * np.cos(x * np.pi / 0.8), 0.0)
    p[61] = (-0.4, up_y + 0.01 + gap / 2, 0.0)
    p[291] = (0.4, up_y + 0.01 + gap / 2, 0.0)
    drop_lo = p[geometry.LOWER_LIP, 1] - (0.33 + 0.02 + 0.08)
    p[geometry.CHIN] = (0.0, 1.05 + drop + chin_gain * drop_lo, 0.0)
    p[:, 0] += shift[0]
    p[:, 1] += shift[1]
    return p


def test_the_video_s_own_mouth_motion_is_measured_from_its_frames():
    gaps = np.linspace(0.0, 0.3, 40)
    faces = np.stack([face(g, lift=-0.1, chin_gain=0.7) for g in gaps])
    how = geometry.anchoring(faces, face(0.0))
    assert abs(how.lift + 0.1) < 0.01
    assert how.chin is not None and abs(how.chin - 0.7) < 0.02
    # The jaw weight: none on the lips, all on the chin.
    assert how.jaw[13] == 0.0 and how.jaw[geometry.LOWER_LIP] == 0.0
    assert how.jaw[geometry.CHIN] == 1.0
    # A video whose mouth hardly moves says nothing about its jaw: the new mouth's chin is kept.
    still = np.stack([face(0.01) for _ in range(40)])
    assert geometry.anchoring(still, face(0.0)).chin is None


def test_a_new_mouth_lands_on_the_frame_s_upper_lip_and_the_chin_follows_the_lower_lip():
    how = geometry.Anchoring(lift=-0.1, chin=0.7, jaw=geometry.anchoring(
        np.stack([face(g) for g in np.linspace(0, 0.3, 20)]), face(0.0)).jaw)
    current = face(0.05, shift=(0.02, 0.01))      # the video's frame, its mouth a little open
    # The new mouth (wide open) as its reference frame placed it: 0.04 IOD low and to the side
    # (the reference frame's pose error), its chin off too.
    new = face(0.25, shift=(-0.03, 0.04), drop=0.05)
    out = geometry.anchored(new, current, how)
    up = list(geometry.UPPER_ANCHOR)
    # The upper lip where the frame's is, raised by the video's lift for the wider opening.
    rise = geometry.inner_gap(new) - geometry.inner_gap(current)
    assert 0.19 < rise < 0.2
    want = current[up, :2].mean(axis=0) + (0.0, -0.1 * rise)
    assert np.allclose(out[up, :2].mean(axis=0), want, atol=1e-9)
    # The new mouth's own shape (its opening, its lips) is kept.
    assert np.isclose(geometry.inner_gap(out), geometry.inner_gap(new))
    lips = list(mesh.LIPS_INNER_LOWER)
    assert np.allclose(out[lips, :2] - out[up, :2].mean(axis=0),
                       new[lips, :2] - new[up, :2].mean(axis=0))
    # The chin: the frame's own, moved 0.7 of the lower lip's move.
    moved = out[geometry.LOWER_LIP, 1] - current[geometry.LOWER_LIP, 1]
    assert moved > 0.15
    assert np.isclose(out[geometry.CHIN, 1] - current[geometry.CHIN, 1], 0.7 * moved)


def test_a_mouth_already_in_place_stays_where_it_is():
    how = geometry.Anchoring(lift=0.0, chin=None, jaw=np.zeros(mesh.N_REFINED))
    new = face(0.1)
    out = geometry.anchored(new, face(0.1), how)
    assert np.allclose(out, new, equal_nan=True)
