"""Portrait renderer: a generated face (the built-in avatar, which Face Mesh finds) and drawn
images with supplied landmarks; lip sync checked by running Face Mesh on the rendered frames."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from visemic.errors import NoFaceError, VisemicError
from visemic.motion import arkit
from visemic.motion.arkit import CHANNELS
from visemic.render.portrait import PortraitRenderer, detect_faces, mesh
from visemic.render.portrait.quality import MouthMeter, face_mask, mouth_opening, ssim
from visemic.types import Animation


@pytest.fixture(scope="module")
def renderer(face) -> PortraitRenderer:
    return PortraitRenderer(face)


@pytest.fixture(scope="module")
def meter():
    m = MouthMeter()
    yield m
    m.close()


@pytest.fixture(scope="module")
def drawing() -> np.ndarray:
    """A picture Face Mesh finds no face in: stripes, blobs and a gradient."""
    rng = np.random.default_rng(3)
    h, w = 400, 360
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = np.linspace(40, 220, w, dtype=np.uint8)[None, :, None]
    for _ in range(40):
        c = tuple(int(x) for x in rng.integers(0, 255, 3))
        cv2.circle(img, tuple(int(x) for x in rng.integers(0, 360, 2)), int(rng.integers(4, 30)),
                   c, -1)
    img[::9] = (10, 120, 30)
    return img


def test_finds_the_generated_face(renderer, face):
    assert renderer.size == (512, 512)
    pts = renderer.landmarks
    assert pts.shape == (478, 3)
    # Eyes above the nose above the mouth, the subject's left eye on the picture's right.
    left, right = pts[mesh.IRIS["left"][0]], pts[mesh.IRIS["right"][0]]
    assert left[0] > right[0]
    assert max(left[1], right[1]) < pts[1, 1] < pts[13, 1]


def test_rest_frame_is_the_portrait(renderer, face):
    rest = renderer.rest
    mask, (x0, y0, x1, y1) = face_mask(renderer.landmarks, face.shape)
    crop = (slice(y0, y1), slice(x0, x1))
    assert ssim(rest[crop], face[crop], mask) >= 0.95
    # Nearly at rest goes through the warp (not the cached rest frame) and must match too.
    near = renderer.render(arkit.frame(jawOpen=0.004, eyeBlinkLeft=0.004, headYaw=0.05))
    assert ssim(near[crop], face[crop], mask) >= 0.95
    # Outside the face's crop nothing moves, ever.
    talking = renderer.render(arkit.frame(jawOpen=0.5, headYaw=8, headPitch=-5, eyeBlinkRight=1))
    cx0, cy0, cx1, cy1 = renderer.crop
    outside = np.ones(face.shape[:2], bool)
    outside[cy0:cy1, cx0:cx1] = False
    assert np.array_equal(talking[outside][:, :3], face[outside])


def test_upper_face_keeps_its_identity_while_talking(renderer, face):
    frame = renderer.render(arkit.frame(jawOpen=0.4, mouthFunnel=0.3))
    mask, (x0, y0, x1, y1) = face_mask(renderer.landmarks, face.shape)
    crop = (slice(y0, y1), slice(x0, x1))
    above_nose = np.zeros_like(mask)
    above_nose[: int(renderer.landmarks[1, 1]) - y0] = True
    assert ssim(frame[crop], face[crop], mask & above_nose) >= 0.95


def test_no_black_torn_or_broken_frames(renderer, face):
    rng = np.random.default_rng(7)
    dark_source = int((face.max(axis=2) < 25).sum())
    crop = renderer.crop
    for _ in range(12):
        v = rng.uniform(0.0, 0.8, len(CHANNELS)).astype(np.float32)
        v[52:55] = rng.uniform(-8, 8, 3)
        frame = renderer.render(v)
        assert frame.shape == (512, 512, 4)
        assert frame[:, :, 3].min() == 255
        # Dark pixels only where a mouth can open (its cavity is dark), never large areas.
        mouth_w = np.hypot(*(renderer.landmarks[291, :2] - renderer.landmarks[61, :2]))
        dark = int((frame[:, :, :3].max(axis=2) < 25).sum())
        assert dark <= dark_source + 1.2 * mouth_w * mouth_w
        # No tears: pixels in the crop stay close to their neighbourhood in the source.
        x0, y0, x1, y1 = crop
        diff = np.abs(frame[y0:y1, x0:x1, :3].astype(int) - face[y0:y1, x0:x1].astype(int))
        assert diff.mean() < 20


def test_rig_closes_lids_and_lips_and_turns_the_head(renderer):
    rig = renderer.rig
    for side, name in (("left", "eyeBlinkLeft"), ("right", "eyeBlinkRight")):
        pts = rig.pose(arkit.frame(**{name: 1.0})).points
        upper = pts[list(mesh.EYE_UPPER[side][1:-1]), :2]
        lower = pts[list(mesh.EYE_LOWER[side][1:-1]), :2]
        assert np.max(np.abs((lower - upper) @ rig.ey)) < 0.02 * rig.iod
        other = "right" if side == "left" else "left"
        still = pts[list(mesh.EYE_UPPER[other]), :2]
        assert np.allclose(still, rig.rest[list(mesh.EYE_UPPER[other]), :2])
    opened = rig.pose(arkit.frame(jawOpen=0.5)).points
    assert mouth_opening(opened) > 0.1  # (real speakers: about 0.15 at this opening)
    sealed = rig.pose(arkit.frame(jawOpen=0.5, mouthClose=0.5)).points
    assert mouth_opening(sealed) < 0.005
    assert sealed[152, 1] > rig.rest[152, 1] + 0.07 * rig.iod  # the chin stays down
    turned = rig.pose(arkit.frame(headYaw=10)).points
    assert turned[1, 0] > rig.rest[1, 0] + 0.05 * rig.iod  # nose towards the picture's right
    nodded = rig.pose(arkit.frame(headPitch=10)).points
    assert nodded[1, 1] > rig.rest[1, 1] + 0.05 * rig.iod
    look = rig.pose(arkit.frame(eyeLookOutLeft=1.0, eyeLookInRight=1.0)).points
    for side in ("left", "right"):
        assert look[mesh.IRIS[side][0], 0] > rig.rest[mesh.IRIS[side][0], 0] + 0.02 * rig.iod
    smile = rig.pose(arkit.frame(mouthSmileLeft=1.0)).points
    assert smile[291, 1] < rig.rest[291, 1] - 0.03 * rig.iod
    assert np.allclose(smile[61], rig.rest[61], atol=0.02 * rig.iod)
    brows = rig.pose(arkit.frame(browInnerUp=1.0)).points
    assert brows[107, 1] < rig.rest[107, 1] - 0.05 * rig.iod


def test_still_and_motion_scale(face):
    still = PortraitRenderer(face, still=True, landmarks=detect_faces(face)[0])
    assert np.array_equal(still.render(arkit.frame(headYaw=10)), still.rest)
    half = PortraitRenderer(face, motion_scale=0.5, landmarks=still.landmarks)
    full = PortraitRenderer(face, landmarks=still.landmarks)
    nose_half = half.pose_landmarks(arkit.frame(headYaw=10))[1, 0] - still.landmarks[1, 0]
    nose_full = full.pose_landmarks(arkit.frame(headYaw=10))[1, 0] - still.landmarks[1, 0]
    assert nose_full > 0 and abs(nose_half - nose_full / 2) < 0.1 * nose_full


def test_lip_gap_seen_by_face_mesh_follows_jaw_open(renderer, meter):
    """The spec's check: the opening measured on the rendered frames tracks jawOpen."""
    t = np.arange(90) / 30.0
    jaw = np.clip(0.35 * np.abs(np.sin(2 * np.pi * 1.3 * t)) * (0.6 + 0.4 * np.sin(t)), 0, 1)
    measured = []
    for j in jaw:
        m = meter(renderer.render(arkit.frame(jawOpen=float(j))))
        assert m is not None, "Face Mesh lost the rendered face"
        measured.append(m[0])
    assert np.corrcoef(measured, jaw)[0, 1] >= 0.8


def test_speech_sync_and_sealed_bilabials(spoken, result_text, face, meter):
    """Curves of real speech: the measured lip gap follows jawOpen − mouthClose (the lips are
    apart by that in ARKit) and the lips measure closed in the middle of /p b m/."""
    from visemic.outputs.video import resample_rows

    _, timeline = spoken
    animation: Animation = result_text.animation
    r = PortraitRenderer(face)
    jaw, close = CHANNELS.index("jawOpen"), CHANNELS.index("mouthClose")
    index = [animation.channels.index(c) for c in CHANNELS]
    fps = 15.0
    count = int(animation.frames / animation.fps * fps)
    measured, intended, jaw_open = [], [], []
    for t, row in resample_rows(animation, fps, count):
        m = meter(r.frame(animation, t, row))
        assert m is not None
        measured.append(m[0])
        v = row[index]
        intended.append(v[jaw] - v[close])
        jaw_open.append(v[jaw])
    assert np.corrcoef(measured, intended)[0, 1] >= 0.8
    assert np.corrcoef(measured, jaw_open)[0, 1] >= 0.5  # closures seal over an open jaw
    rest_gap = meter(face)[0]
    bilabials = [p for p in timeline.phones if p.symbol in ("p", "b", "m")]
    closed = 0
    for p in bilabials:
        mid = (p.start + p.end) / 2
        row = animation.values[min(int(round(mid * animation.fps)), animation.frames - 1)]
        gap = meter(r.render(row, animation.channels))[0]
        closed += gap <= rest_gap + 0.02
    assert closed >= 0.8 * len(bilabials)


def test_open_mouthed_portrait_is_closed_at_rest(meter):
    from visemic.render import AvatarRenderer

    avatar = AvatarRenderer((512, 512))
    opened = np.ascontiguousarray(avatar.render(arkit.frame(jawOpen=0.45), CHANNELS)[:, :, :3])
    source_gap = meter(opened)[0]
    assert source_gap > 0.1
    r = PortraitRenderer(opened)
    assert r.rig.mouth_was_open
    assert mouth_opening(r.rig.rest) < 0.005
    assert meter(r.rest)[0] < 0.3 * source_gap  # Face Mesh sees the lips (nearly) together
    assert meter(r.render(arkit.frame(jawOpen=0.45)))[0] > 0.1


def test_no_face_is_one_clear_error(drawing):
    assert detect_faces(drawing) == []
    with pytest.raises(NoFaceError, match="no face found"):
        PortraitRenderer(drawing)


def test_supplied_landmarks_animate_a_drawing(face, drawing, tmp_path):
    # The avatar's landmarks, moved onto the drawing: 2-D only and without irises (468 points).
    pts = detect_faces(face)[0][:468, :2] * 0.6 + [60, 70]
    path = tmp_path / "drawing.json"
    path.write_text(json.dumps(pts.tolist()))
    r = PortraitRenderer(drawing, landmarks=path)
    assert r.size == (360, 400)
    assert np.array_equal(r.rest[:, :, :3], drawing)
    opened = r.render(arkit.frame(jawOpen=0.6))
    mouth = pts[list(mesh.inner_mouth())]
    y0, y1 = int(mouth[:, 1].min()), int(mouth[:, 1].max()) + 20
    x0, x1 = int(mouth[:, 0].min()), int(mouth[:, 0].max())
    assert np.abs(opened[y0:y1, x0:x1, :3].astype(int) - drawing[y0:y1, x0:x1]).mean() > 10
    blink = r.render(arkit.frame(eyeBlinkLeft=1.0, eyeBlinkRight=1.0))
    assert not np.array_equal(blink, r.rest)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(pts[:100].tolist()))
    with pytest.raises(VisemicError, match="468 or 478"):
        PortraitRenderer(drawing, landmarks=bad)
    bad.write_text("{not json")
    with pytest.raises(VisemicError, match="not JSON"):
        PortraitRenderer(drawing, landmarks=bad)


def test_face_chooses_among_several(face):
    small = cv2.resize(face, (300, 300), interpolation=cv2.INTER_AREA)
    group = np.full((560, 900, 3), 230, np.uint8)
    group[24:536, 0:512] = face
    group[130:430, 580:880] = small
    faces = detect_faces(group)
    assert len(faces) == 2
    big = PortraitRenderer(group)
    assert big.landmarks[1, 0] < 512
    second = PortraitRenderer(group, face=1)
    assert second.landmarks[1, 0] > 580
    with pytest.raises(VisemicError, match="2 face"):
        PortraitRenderer(group, face=2)


def test_cli_portrait_video(spoken_wav, face, drawing, tmp_path, capfd):
    import av

    from visemic.cli import main

    portrait = tmp_path / "face.png"
    cv2.imwrite(str(portrait), face[:, :, ::-1])
    out = tmp_path / "talk.mp4"
    assert main(["animate", str(spoken_wav), "-o", str(out), "--portrait", str(portrait),
                 "-q"]) == 0
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (512, 512)
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) > 30
    assert min(float(f.mean()) for f in frames) > 0.5 * float(face.mean())
    capfd.readouterr()

    drawn = tmp_path / "drawing.png"
    cv2.imwrite(str(drawn), drawing[:, :, ::-1])
    out2 = tmp_path / "none.mp4"
    assert main(["animate", str(spoken_wav), "-o", str(out2), "--portrait", str(drawn)]) == 2
    err = capfd.readouterr().err
    assert err.startswith("error: no face found") and err.count("\n") == 1
    assert "--landmarks FILE" in err  # the command line's remedy
    assert not out2.exists()
    marks = tmp_path / "marks.json"
    marks.write_text(json.dumps((detect_faces(face)[0][:, :2] * 0.6 + [60, 70]).tolist()))
    assert main(["animate", str(spoken_wav), "-o", str(out2), "--portrait", str(drawn),
                 "--landmarks", str(marks), "-q"]) == 0
    assert out2.stat().st_size > 0
    assert main(["animate", str(spoken_wav), "-o", str(tmp_path / "x.json"),
                 "--face", "1"]) == 2


def test_first_frame_is_the_photo_and_motion_eases_in(renderer, face):
    """Frame 0 of a video is the picture itself, whatever the curves say there; head motion
    and expression come in over the first half second, and far from the face nothing moves."""
    from visemic.render.portrait.quality import psnr

    row = arkit.frame(jawOpen=0.4, mouthSmileLeft=0.8, browInnerUp=0.8, headYaw=8, headPitch=4)
    animation = Animation(30.0, list(CHANNELS), np.tile(row, (30, 1)))
    first = renderer.frame(animation, 0.0, row).copy()
    assert psnr(first, face) >= 40.0
    early = renderer.frame(animation, 0.1, row).copy()
    later = renderer.frame(animation, 1.0, row).copy()
    assert psnr(later, face) < psnr(early, face) < psnr(first, face)
    nose = [renderer.pose_landmarks(row * k)[1, 0] for k in (0.0, 1.0)]
    assert nose[1] > nose[0] + 1.0  # the head did turn by the end
    x0, y0, x1, y1 = renderer.crop
    outside = np.ones(face.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    for frame in (early, later):
        assert psnr(frame, face, outside) >= 40.0


def test_first_frame_of_the_mp4_is_the_photo(face, tmp_path):
    """Frame 0 of the MP4, as a player shows it (the file's colour labels read, the chroma
    interpolated), is within 40 dB of the picture: a small face on a grainy background, whose
    colour detail is what H.264's half-resolution chroma and a CRF 18 keyframe lose first."""
    import av
    from av.video.reformatter import Interpolation

    from visemic.outputs.video import write_video
    from visemic.render.portrait.quality import psnr

    rng = np.random.default_rng(2)
    canvas = np.clip(rng.normal(150, 20, (360, 360, 3)), 0, 255).astype(np.uint8)
    canvas = cv2.GaussianBlur(canvas, (0, 0), 1.0)
    canvas[92:268, 92:268] = cv2.resize(face, (176, 176), interpolation=cv2.INTER_AREA)
    renderer = PortraitRenderer(canvas)
    row = arkit.frame(jawOpen=0.4, eyeBlinkLeft=1.0, eyeBlinkRight=1.0, headYaw=5)
    out = tmp_path / "talk.mp4"
    write_video(Animation(30.0, list(CHANNELS), np.tile(row, (20, 1))), out, renderer=renderer)
    with av.open(str(out)) as container:
        first = next(container.decode(video=0))
        shown = first.reformat(format="rgb24", interpolation=Interpolation.BILINEAR
                               | Interpolation.FULL_CHR_H_INT
                               | Interpolation.ACCURATE_RND).to_ndarray()
        assert int(first.colorspace) == 1  # labelled BT.709, as converted
    assert psnr(shown, canvas) >= 40.0


def test_first_frame_of_an_open_mouthed_photo_is_the_photo(meter):
    from visemic.render import AvatarRenderer
    from visemic.render.portrait.quality import psnr

    avatar = AvatarRenderer((512, 512))
    opened = np.ascontiguousarray(avatar.render(arkit.frame(jawOpen=0.45), CHANNELS)[:, :, :3])
    r = PortraitRenderer(opened)
    assert r.rig.mouth_was_open
    rest = arkit.frame()
    animation = Animation(30.0, list(CHANNELS), np.tile(rest, (30, 1)))
    assert psnr(r.frame(animation, 0.0, rest), opened) >= 40.0
    # Once eased in, the silent mouth is closed (the rig's rest), not the photo's open one.
    assert meter(r.frame(animation, 1.0, rest))[0] < 0.3 * meter(opened)[0]


def _changed(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Share of the pixels in ``mask`` that differ visibly."""
    return float((np.abs(a[:, :, :3].astype(int) - b[:, :, :3]).max(axis=2)[mask] > 30).mean())


def _eye_band(renderer, side: str, lo: float, hi: float) -> np.ndarray:
    """The rows from ``lo`` to ``hi`` (shares of its height from the top) of the eye's
    opening at rest, slightly eroded."""
    pts = renderer.rig.rest[:, :2] + renderer.crop[:2]
    mask = np.zeros(renderer.image.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(pts[list(mesh.eye_contour(side))]).astype(np.int32)], 1)
    opening = cv2.erode(mask, np.ones((3, 3), np.uint8)) > 0
    ys = np.nonzero(opening)[0]
    top, height = ys.min(), np.ptp(ys)
    rows = np.arange(mask.shape[0])[:, None]
    return opening & (rows >= top + lo * height) & (rows <= top + hi * height)


def test_blink_slides_the_lid_over_the_eye(renderer, face):
    """A blink warps the lid down over the eyeball: at half way the lower part of the eye is
    untouched (the eye is covered, not squashed); shut, the opening shows lid skin and the
    dark lash line, not the white of the eye or the iris."""
    rest = renderer.rest
    luma_rest = rest[:, :, :3].astype(float) @ [0.299, 0.587, 0.114]
    for side, name in (("right", "eyeBlinkRight"), ("left", "eyeBlinkLeft")):
        opening = _eye_band(renderer, side, 0.0, 1.0)
        half = renderer.render(arkit.frame(**{name: 0.5}))
        assert _changed(half, rest, _eye_band(renderer, side, 0.55, 0.8)) < 0.05
        assert _changed(half, rest, _eye_band(renderer, side, 0.0, 0.33)) > 0.5
        shut = renderer.render(arkit.frame(**{name: 1.0}))
        luma = shut[:, :, :3].astype(float) @ [0.299, 0.587, 0.114]
        # The white of the eye (the lightest pixels of the open eye) is gone...
        white = np.percentile(luma_rest[opening], 90)
        assert (luma[opening] >= white - 5).mean() < 0.03
        # ...the pixels are skin coloured or the lash line, which stays dark.
        skin = np.median(luma_rest[(cv2.dilate(opening.astype(np.uint8), np.ones((25, 25)))
                                    > 0) & ~cv2.dilate(opening.astype(np.uint8),
                                                       np.ones((9, 9))).astype(bool)])
        width = np.ptp(np.nonzero(opening)[1])
        assert (luma[opening] < 0.5 * skin).sum() >= 0.6 * width  # a line of lashes across
        # The lid's skin, away from the lash line along its edge (the lashes slide down with
        # the lid, as thick as they are).
        edge = np.zeros(opening.shape, np.uint8)
        shut_pts = renderer.pose_landmarks(arkit.frame(**{name: 1.0}))
        cv2.polylines(edge, [np.round(shut_pts[list(mesh.EYE_UPPER[side])]).astype(np.int32)],
                      False, 1, max(3, int(round(0.12 * renderer.rig.iod))))
        assert np.median(luma[opening & ~edge.astype(bool)]) > 0.75 * skin


def test_squint_lowers_the_same_lid(renderer):
    """A squint is part-way lids (the lower one mostly): the bottom of the eye is covered,
    the middle, where the iris is, untouched."""
    rest = renderer.rest
    squint = renderer.render(arkit.frame(eyeSquintLeft=1.0, eyeSquintRight=1.0))
    for side in ("right", "left"):
        assert _changed(squint, rest, _eye_band(renderer, side, 0.3, 0.55)) < 0.05
        assert _changed(squint, rest, _eye_band(renderer, side, 0.8, 1.0)) > 0.3
