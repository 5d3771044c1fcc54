"""Portrait blinks on the shared portraits (a three-quarter painting among them): the shut lid
covers the whole eye, iris and catch-light included, and keeps a dark lash line."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from visemic.motion import arkit
from visemic.render.portrait import PortraitRenderer, mesh


@pytest.fixture(scope="module", params=["bouguereau_girl", "render_3d_boy",
                                        "vermeer_pearl_earring"])
def portrait(request, shared) -> PortraitRenderer:
    path = shared / "samples" / "portraits" / f"{request.param}.jpg"
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    return PortraitRenderer(path)


def _lab(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(image[:, :, :3]), cv2.COLOR_RGB2LAB).astype(float)


def test_shut_lids_cover_iris_and_white(portrait):
    r = portrait
    rest = r.rest
    shut = r.render(arkit.frame(eyeBlinkLeft=1.0, eyeBlinkRight=1.0))
    lab_rest, lab_shut = _lab(rest), _lab(shut)
    pts = r.landmarks[:, :2]
    now = r.pose_landmarks(arkit.frame(eyeBlinkLeft=1.0, eyeBlinkRight=1.0))
    iod = float(np.hypot(*(pts[mesh.IRIS["left"][0]] - pts[mesh.IRIS["right"][0]])))
    for side in mesh.SIDES:
        # The lash line drawn along the shut lid's edge is dark, as an iris may be: it is
        # left out of the iris's check.
        lashes = np.zeros(rest.shape[:2], np.uint8)
        cv2.polylines(lashes, [np.round(now[list(mesh.EYE_UPPER[side])]).astype(np.int32)],
                      False, 1, max(3, int(round(0.1 * iod))))
        iris = pts[list(mesh.IRIS[side])]
        radius = float(np.hypot(*(iris[1:] - iris[0]).T).mean())
        opening = np.zeros(rest.shape[:2], np.uint8)
        cv2.fillPoly(opening, [np.round(pts[list(mesh.eye_contour(side))]).astype(np.int32)], 1)
        disc = np.zeros_like(opening)
        cv2.circle(disc, tuple(int(v) for v in np.round(iris[0])), max(2, int(0.8 * radius)), 1,
                   -1)
        eye = (disc & opening).astype(bool)
        if eye.sum() < 10:
            continue
        # The iris's own colour (its median in the picture) is gone from where it was...
        colour = np.median(lab_rest[eye], axis=0)
        left = np.linalg.norm(lab_shut[eye & ~lashes.astype(bool)] - colour, axis=1) < 10
        assert left.mean() < 0.15, (side, left.mean())
        # ...and so are the white and the catch-light: nothing in the eye's place is as light
        # as the lightest tenth of the open eye, where that is lighter than the skin around.
        inside = opening.astype(bool)
        ring = cv2.dilate(opening, np.ones((15, 15), np.uint8)).astype(bool) & ~inside
        light = max(np.percentile(lab_rest[inside][:, 0], 90),
                    np.median(lab_rest[ring][:, 0]) + 5)
        assert (lab_shut[inside][:, 0] >= light - 3).mean() < 0.03, side
        # The lash line stays dark: somewhere across the shut eye, darker than the lid.
        band = cv2.dilate(opening, np.ones((5, 5), np.uint8)).astype(bool)
        assert np.percentile(lab_shut[band][:, 0], 3) < 0.75 * np.median(lab_shut[band][:, 0])


def test_half_shut_lid_leaves_no_ghost_above_its_edge(portrait):
    """Half way, whatever lies above the moved lid's edge is lid, not the iris dragged
    down with it."""
    r = portrait
    rest = r.rest
    half = r.render(arkit.frame(eyeBlinkLeft=0.6, eyeBlinkRight=0.6))
    pose = r.pose_landmarks(arkit.frame(eyeBlinkLeft=0.6, eyeBlinkRight=0.6))
    lab_rest, lab_half = _lab(rest), _lab(half)
    pts = r.landmarks[:, :2]
    iod = float(np.hypot(*(pts[mesh.IRIS["left"][0]] - pts[mesh.IRIS["right"][0]])))
    for side in mesh.SIDES:
        opening = np.zeros(rest.shape[:2], np.uint8)
        cv2.fillPoly(opening, [np.round(pts[list(mesh.eye_contour(side))]).astype(np.int32)], 1)
        now = np.zeros_like(opening)
        cv2.fillPoly(now, [np.round(pose[list(mesh.eye_contour(side))]).astype(np.int32)], 1)
        iris = pts[list(mesh.IRIS[side])]
        radius = float(np.hypot(*(iris[1:] - iris[0]).T).mean())
        disc = np.zeros_like(opening)
        cv2.circle(disc, tuple(int(v) for v in np.round(iris[0])), max(2, int(0.8 * radius)), 1,
                   -1)
        eye = (disc & opening).astype(bool)
        covered = (opening & ~cv2.dilate(now, np.ones((5, 5), np.uint8))).astype(bool)
        # (not the lash line along the lid's edge: dark, as an iris may be)
        lashes = np.zeros_like(opening)
        cv2.polylines(lashes, [np.round(pose[list(mesh.EYE_UPPER[side])]).astype(np.int32)],
                      False, 1, max(3, int(round(0.12 * iod))))
        covered &= ~lashes.astype(bool)
        if eye.sum() < 10 or covered.sum() < 10:
            continue
        colour = np.median(lab_rest[eye], axis=0)
        lid = np.median(lab_rest[cv2.dilate(opening, np.ones((15, 15), np.uint8)).astype(bool)
                                 & ~opening.astype(bool)], axis=0)
        if np.linalg.norm(colour - lid) < 25:
            continue  # an iris too like the skin to tell apart by colour
        ghost = np.linalg.norm(lab_half[covered] - colour, axis=1) < 10
        assert ghost.mean() < 0.1, (side, ghost.mean())



def test_drawn_eye_lids_fit_to_its_lash_ring(shared):
    """A 3D-render's big cartoon eye, Face Mesh's outline well inside its white and its lash
    ring: the lower lid is fitted out to the lower lash line (else a shut eye keeps a pale rim
    of white and a second lash line under it), the outer corner out past the white, and the
    shut lid leaves no white (the lid's own pale rim aside)."""
    path = shared / "samples" / "portraits" / "render_3d_boy.jpg"
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    r = PortraitRenderer(path)
    luma = cv2.cvtColor(np.ascontiguousarray(r.image[:, :, :3]), cv2.COLOR_RGB2GRAY)
    fitted = r.rig.rest[:, :2] + r.crop[:2]
    pts = r.landmarks[:, :2]
    reach = int(0.15 * r.rig.iod)
    shut = _lab(r.render(arkit.frame(eyeBlinkLeft=1.0, eyeBlinkRight=1.0)))
    for side in mesh.SIDES:
        lower = pts[list(mesh.EYE_LOWER[side])]
        fit = fitted[list(mesh.EYE_LOWER[side])]
        x0, x1 = np.sort(lower[[0, -1], 0])
        xs = np.arange(int(x0 + 0.3 * (x1 - x0)), int(x1 - 0.3 * (x1 - x0)))
        o, fo = np.argsort(lower[:, 0]), np.argsort(fit[:, 0])
        ok = []
        for x in xs:
            y = int(np.interp(x, lower[o, 0], lower[o, 1]))
            lash = y + int(np.argmin(luma[y:y + reach, x]))  # the lower lash line
            ok.append(np.interp(x, fit[fo, 0], fit[fo, 1]) >= lash - 1.0)
        assert np.mean(ok) > 0.8, (side, np.mean(ok))
        # Shut: nothing as light as the open eye's white within the fitted outline.
        opening = np.zeros(luma.shape, np.uint8)
        cv2.fillPoly(opening, [np.round(fitted[list(mesh.eye_contour(side))]).astype(
            np.int32)], 1)
        inside = opening.astype(bool)
        white = np.percentile(luma[inside], 90)
        # (The pale rim of the lid itself comes down over it: a few per cent.)
        assert (shut[inside][:, 0] >= white - 5).mean() < 0.04, side
