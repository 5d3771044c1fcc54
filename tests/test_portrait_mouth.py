"""Portrait mouth shapes: rounded vowels round (narrow, oval, lips fuller), spread vowels
spread, /p b m/ stay sealed, teeth read as teeth. Checked on the rig's landmarks, on rendered
frames measured by Face Mesh, and (where ../shared is present) on real portraits."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from visemic.motion import arkit
from visemic.motion.poses import TONGUE_BEHIND, pose
from visemic.render.portrait import PortraitRenderer, detect_faces, mesh
from visemic.render.portrait.rig import Rig

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "samples" / "portraits"


def phone(symbol: str) -> np.ndarray:
    """The ARKit target pose speech gives an IPA phone."""
    return arkit.frame(**pose(symbol).values)


def width(points: np.ndarray) -> float:
    """Corner-to-corner mouth width (outer lip corners)."""
    return float(np.hypot(*(points[291, :2] - points[61, :2])))


def opening(rig: Rig, points: np.ndarray) -> tuple[float, float]:
    """(width, height) of the inner-lip opening, in the face's own axes."""
    loop = points[list(mesh.inner_mouth()), :2]
    across, down = loop @ rig.ex, loop @ rig.ey
    return float(np.ptp(across)), float(np.ptp(down))


def upper_thickness(rig: Rig, points: np.ndarray) -> float:
    """Height of the upper lip at the middle (outer edge to inner edge)."""
    return float((points[13, :2] - points[0, :2]) @ rig.ey)


@pytest.fixture(scope="module")
def renderer(face) -> PortraitRenderer:
    return PortraitRenderer(face)


def test_pucker_narrows_the_mouth_and_fills_the_lips(renderer):
    rig = renderer.rig
    rest = rig.rest
    puckered = rig.pose(arkit.frame(mouthPucker=0.8)).points
    assert width(puckered) < 0.72 * width(rest)  # 30–40 % narrower
    assert width(puckered) > 0.55 * width(rest)
    assert upper_thickness(rig, puckered) > 1.05 * upper_thickness(rig, rest)
    # Both corners come in, by about as much (no sideways drift).
    centre_rest = (rest[61, :2] + rest[291, :2]) / 2
    centre = (puckered[61, :2] + puckered[291, :2]) / 2
    assert np.hypot(*(centre - centre_rest)) < 0.02 * rig.iod
    # Funnel rounds too, a little less, and opens a small hole on its own.
    funnel = rig.pose(arkit.frame(mouthFunnel=0.8)).points
    assert 0.6 * width(rest) < width(funnel) < 0.85 * width(rest)
    w, h = opening(rig, funnel)
    assert h > 0.04 * rig.iod


def test_rounded_vowels_are_oval_spread_vowels_wide(renderer):
    rig = renderer.rig
    w_oo, h_oo = opening(rig, rig.pose(arkit.frame(jawOpen=0.35, mouthPucker=0.6,
                                              mouthFunnel=0.3)).points)
    # An "O", not a slot (with the jaw's drop as real speakers' lips part, an oval about half
    # as high as wide).
    assert h_oo > 0.4 * w_oo
    w_oh, h_oh = opening(rig, rig.pose(phone("o")).points)
    w_ee, h_ee = opening(rig, rig.pose(phone("i")).points)
    w_ah, h_ah = opening(rig, rig.pose(phone("ɑ")).points)
    assert h_oh / w_oh > 2.0 * (h_ee / w_ee)
    assert w_ee > 1.5 * w_oh and w_ah > 1.3 * w_oh
    # "oo" is the narrowest mouth of all, "ee" the widest.
    widths = {s: width(rig.pose(phone(s)).points) for s in ("u", "o", "i", "ɑ")}
    assert min(widths, key=widths.get) == "u"
    assert max(widths, key=widths.get) == "i"


def test_rounded_lips_stay_sealed_and_pressed_lips_never_cross(renderer):
    rig = renderer.rig
    iu, il = list(mesh.LIPS_INNER_UPPER), list(mesh.LIPS_INNER_LOWER)
    for v in (arkit.frame(jawOpen=0.3, mouthClose=0.3, mouthPucker=0.7, mouthFunnel=0.3),
              phone("m"), phone("b"), arkit.frame(jawOpen=0.1, mouthClose=0.1, mouthPressLeft=1.0,
                                             mouthPressRight=1.0, mouthRollLower=0.6,
                                             mouthRollUpper=0.6)):
        pts = rig.pose(v).points
        gap = (pts[il, :2] - pts[iu, :2]) @ rig.ey
        assert np.all(np.abs(gap) < 0.01 * rig.iod), gap / rig.iod
    # Rendered: nothing of the interior (teeth, cavity) and no stray pixels show on a
    # closure: every pixel around the mouth has a colour found near it in the portrait.
    closed = renderer.render(phone("m"))[:, :, :3].astype(int)
    rest = renderer.rest[:, :, :3].astype(int)
    loop = renderer.landmarks[list(mesh.inner_mouth()), :2]
    x0, y0 = np.floor(loop.min(axis=0) - 6).astype(int)
    x1, y1 = np.ceil(loop.max(axis=0) + 6).astype(int)
    r = 4
    nearest = np.full((y1 - y0, x1 - x0), 999)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            shifted = rest[y0 + dy:y1 + dy, x0 + dx:x1 + dx]
            diff = np.abs(closed[y0:y1, x0:x1] - shifted).max(axis=2)
            np.minimum(nearest, diff, out=nearest)
    assert nearest.max() < 40


def test_face_mesh_sees_the_rounding(renderer, face):
    """Face Mesh, run on the rendered frames, finds the rounded mouth narrow and the spread
    one wide."""
    rest = detect_faces(face)[0]
    oo = detect_faces(renderer.render(phone("u"))[:, :, :3])[0]
    ee = detect_faces(renderer.render(phone("i"))[:, :, :3])[0]
    assert width(oo) < 0.85 * width(rest)
    assert width(ee) > width(oo) * 1.3


def test_teeth_are_light(renderer):
    """On "ee" the teeth fill the opening and are about as light as the skin, not grey."""
    frame = renderer.render(phone("i"))
    pts = renderer.pose_landmarks(phone("i"))
    mask = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(pts[list(mesh.inner_mouth())]).astype(np.int32)], 255)
    mask = cv2.erode(mask, np.ones((3, 3), np.uint8))
    inside = frame[mask > 0][:, :3].astype(float)
    assert len(inside) > 50
    luma = inside @ [0.299, 0.587, 0.114]
    cheek = renderer.landmarks[list(mesh.CHEEK["left"]), :2]
    skin_mask = np.zeros_like(mask)
    cv2.fillPoly(skin_mask, [cv2.convexHull(np.round(cheek).astype(np.int32))], 255)
    skin = float(np.median(frame[skin_mask > 0][:, :3].astype(float) @ [0.299, 0.587, 0.114]))
    # Most of the opening is teeth, the front ones nearly as light as the skin (the side teeth
    # are shaded towards the back of the mouth, and the corners are dark).
    assert np.median(luma) > 0.6 * skin
    assert np.percentile(luma, 90) > 0.85 * skin
    # Off-white: not tinted strongly towards any channel.
    teeth = inside[luma >= np.percentile(luma, 75)].mean(axis=0)
    assert teeth.max() - teeth.min() < 0.2 * teeth.mean()


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/samples/portraits not present")
@pytest.mark.parametrize("name", ["bouguereau_girl.jpg", "render_3d_boy.jpg",
                                  "vermeer_pearl_earring.jpg"])
def test_real_portraits_round_and_seal(name):
    path = SHARED / name
    if not path.is_file():
        pytest.skip(f"{name} not present")
    r = PortraitRenderer(path)
    rig = r.rig
    puckered = rig.pose(arkit.frame(mouthPucker=0.8)).points
    assert 0.55 * width(rig.rest) < width(puckered) < 0.72 * width(rig.rest)
    w, h = opening(rig, rig.pose(arkit.frame(jawOpen=0.35, mouthPucker=0.6,
                                        mouthFunnel=0.3)).points)
    assert h > 0.4 * w
    sealed = rig.pose(phone("m")).points
    gap = (sealed[list(mesh.LIPS_INNER_LOWER), :2] - sealed[list(mesh.LIPS_INNER_UPPER), :2])
    assert np.all(np.abs(gap @ rig.ey) < 0.01 * rig.iod)
    frame = r.render(phone("u"))
    assert frame.shape[:2] == (r.size[1], r.size[0])


def test_squinted_lids_taper_into_their_corners(renderer):
    """An angry squint lowers the upper lid most at the middle, little next to the corners
    (an even shift kinked the lid at the outer corner and broke its lash line)."""
    rig = renderer.rig
    squint = rig.pose(arkit.frame(eyeSquintLeft=1.0, eyeSquintRight=1.0, browDownLeft=1.0,
                             browDownRight=1.0)).points
    for side in mesh.SIDES:
        lid = list(mesh.EYE_UPPER[side])
        drop = (squint[lid, :2] - rig.rest[lid, :2]) @ rig.ey
        assert drop[4] > 0.0
        assert drop[1] < 0.75 * drop[4] and drop[-2] < 0.75 * drop[4]
        assert abs(drop[0]) < 0.15 * drop[4]  # the corner stays (nearly)
        # Along the margin the lid turns gently: no step between neighbours.
        assert np.max(np.abs(np.diff(drop))) < 0.5 * drop[4]


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., :3].astype(float) @ [0.299, 0.587, 0.114]


def _opening_mask(renderer, values, erode: int = 3) -> np.ndarray:
    pts = renderer.pose_landmarks(values)
    mask = np.zeros(renderer.image.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(pts[list(mesh.inner_mouth())]).astype(np.int32)], 255)
    return cv2.erode(mask, np.ones((erode, erode), np.uint8)) > 0


def test_interior_has_depth_teeth_and_gums(renderer):
    """A wide-open mouth: a dark cavity, darker deep inside than next to the lips; a row of
    separate upper teeth (dark seams between light crowns); lower teeth above the lower lip."""
    v = arkit.frame(jawOpen=0.6)
    frame = renderer.render(v)
    pts = renderer.pose_landmarks(v)
    inside = _opening_mask(renderer, v)
    luma = _luma(frame)
    # Dark overall (the cavity), but with light teeth in it.
    assert np.percentile(luma[inside], 30) < 60 and np.percentile(luma[inside], 95) > 150
    # Down the middle: teeth at the top, then the cavity, darkest in its depth, not at the lips.
    # (a little off the midline, which is the seam between the front teeth)
    x = int(round((pts[13, 0] + pts[14, 0]) / 2 + 0.04 * renderer.rig.iod))
    top, bottom = int(np.ceil(pts[13, 1])) + 1, int(pts[14, 1]) - 1
    column = luma[top:bottom, x - 1:x + 2].mean(axis=1)
    assert column[: len(column) // 5].mean() > 120  # enamel under the upper lip
    deepest = int(np.argmin(column))
    assert len(column) // 5 < deepest < len(column) - 2
    # Individually shaded upper teeth: across a row just above their edge, several seams.
    edge = renderer.rig.pose(v).teeth_upper
    y = int(round(float(edge[5, 1]) + renderer.crop[1] - 0.04 * renderer.rig.iod))
    x0, x1 = (int(p) + renderer.crop[0] for p in (edge[2, 0], edge[8, 0]))
    row = luma[y, x0:x1]
    dips = [i for i in range(2, len(row) - 2)
            if row[i] < row[i - 2] - 8 and row[i] < row[i + 2] - 8]
    seams = len([i for k, i in enumerate(dips) if k == 0 or i - dips[k - 1] > 2])
    assert seams >= 3, row.round()
    # Lower teeth: light pixels just above the lower lip's middle (their edges: the lip covers
    # the rest at this opening).
    low_y = int(pts[14, 1]) - 1
    assert luma[low_y - 3:low_y, x - 3:x + 4].mean() > 100


def _middle_of_opening(renderer, values):
    """The mouth opening's pixels within a third of its width around the lips' middle."""
    inside = _opening_mask(renderer, values)
    pts = renderer.pose_landmarks(values)
    middle = np.zeros_like(inside)
    third = (pts[308, 0] - pts[78, 0]) / 6
    middle[:, int(pts[13, 0] - third):int(pts[13, 0] + third)] = True
    return inside & middle


def test_tongue_shows_on_dental_fricatives(renderer):
    """/θ/ puts the tongue's tip between the teeth: the middle of the opening turns red."""
    plain = arkit.frame(jawOpen=0.2)
    theta = arkit.frame(jawOpen=0.2, tongueOut=0.25)
    inside = _middle_of_opening(renderer, theta)
    redness = []
    for v in (plain, theta):
        rgb = renderer.render(v)[inside][:, :3].astype(float)
        redness.append(float(np.mean(rgb[:, 0] - rgb[:, 1])))
    assert redness[1] > redness[0] + 4


def test_interior_matches_the_pictures_grain_and_sharpness(face):
    """The painted interior is blurred and grained like the picture: measured from it."""
    from visemic.render.portrait.mouth import MouthPainter

    pts = detect_faces(face)[0]
    rng = np.random.default_rng(5)
    soft = cv2.GaussianBlur(face, (0, 0), 2.0)
    grainy = np.clip(face + rng.normal(0, 8, face.shape), 0, 255).astype(np.uint8)
    iod = float(np.hypot(*(pts[468, :2] - pts[473, :2])))
    sharp_p, soft_p, grainy_p = (MouthPainter(img, pts[:, :2], iod)
                                 for img in (face, soft, grainy))
    assert soft_p.blur > sharp_p.blur
    assert grainy_p.noise > sharp_p.noise + 4


def test_labiodentals_tuck_the_lower_lip_under_the_upper_teeth(renderer):
    """/f/ as speech gives it: the lower lip's inner edge comes up to the upper teeth (which
    rest on it), where a plain small opening leaves it below them."""
    rig = renderer.rig
    f = phone("f")
    f[arkit.INDEX["jawOpen"]] = 0.3  # with the jaw as open as after an open vowel
    for values, tucked in ((phone("f"), True), (f, True),
                           (arkit.frame(jawOpen=0.3, mouthClose=0.04), False)):
        pose = rig.pose(values)
        lip = pose.points[list(mesh.LIPS_INNER_LOWER[3:8]), :2]
        below = (lip - pose.teeth_upper[3:8]) @ rig.ey  # > 0: the lip is below the teeth
        if tucked:
            assert np.all(below < 0.02 * rig.iod)
        else:
            assert np.all(below > 0.03 * rig.iod)


def test_lower_lip_rides_the_jaw_and_keeps_its_thickness(renderer):
    """Opening wide, the lower lip goes down with the jaw as a whole lip: it keeps (about) its
    thickness, and on the rendered frame it still shows as lip between the painted interior
    and the chin."""
    rig = renderer.rig
    def thickness(points: np.ndarray) -> float:
        return float((points[17, :2] - points[14, :2]) @ rig.ey)

    rest = thickness(rig.rest)
    for jaw in (0.3, 0.6, 0.9):
        pts = rig.pose(arkit.frame(jawOpen=jaw, mouthLowerDownLeft=0.3,
                                   mouthLowerDownRight=0.3)).points
        assert 0.8 * rest < thickness(pts) < 1.4 * rest
        assert pts[14, 1] > rig.rest[14, 1] + 0.1 * jaw * rig.iod  # it went down
    frame = renderer.render(arkit.frame(jawOpen=0.6))
    pts = renderer.pose_landmarks(arkit.frame(jawOpen=0.6))
    x = int(round(pts[14, 0]))
    band = frame[int(pts[14, 1]) + 2:int(pts[17, 1]) - 1, x - 2:x + 3, :3].reshape(-1, 3)
    lip = renderer.image[int(renderer.landmarks[14, 1]) + 2:int(renderer.landmarks[17, 1]) - 1,
                         x - 2:x + 3, :3].reshape(-1, 3)
    assert len(band) > 0 and len(lip) > 0
    assert np.abs(band.mean(axis=0) - lip.mean(axis=0)).max() < 30


def test_tongue_tip_rises_behind_the_upper_teeth_on_l(renderer):
    """/l/ raises the tongue's tip behind the upper teeth: the gap under the upper teeth turns
    to tongue, and the upper teeth stay in front of it (unlike /θ/, where the tip comes out)."""
    ell = phone("l")
    assert 0.0 < ell[arkit.INDEX["tongueOut"]] <= TONGUE_BEHIND
    # (the jaw open far enough for room between the rows of teeth: at the /l/ pose's own
    # opening the teeth fill a speaker's small gap, as on real lips)
    values = arkit.frame(jawOpen=0.5, mouthLowerDownLeft=0.08, mouthLowerDownRight=0.08,
                          tongueOut=TONGUE_BEHIND)
    plain = arkit.frame(jawOpen=0.5, mouthLowerDownLeft=0.08, mouthLowerDownRight=0.08)
    inside = _middle_of_opening(renderer, values)
    tongue, without = renderer.render(values), renderer.render(plain)
    # Between the rows of teeth, the dark inside becomes the tongue: a good share of the
    # middle of the opening changes to the tongue's colour.
    rows = np.nonzero(inside.any(axis=1))[0]
    changed = np.abs(tongue[inside][:, :3].astype(int) - without[inside][:, :3]).max(axis=1)
    assert (changed > 20).mean() > 0.15
    colour = renderer.mouth.tongue
    near = np.linalg.norm(tongue[inside][:, :3] - colour, axis=1) < 60
    assert near.mean() > (np.linalg.norm(without[inside][:, :3] - colour, axis=1) < 60).mean()
    # The upper teeth are still there in front of it: the light enamel along the top.
    top = inside.copy()
    top[rows[0] + max(2, len(rows) // 5):] = False
    enamel = float((tongue[top][:, :3] @ [0.299, 0.587, 0.114]).mean())
    assert enamel > 0.9 * float((without[top][:, :3] @ [0.299, 0.587, 0.114]).mean())
