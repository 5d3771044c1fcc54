"""The built-in avatar: hand-made channel vectors must change the picture the expected way."""

from __future__ import annotations

import numpy as np
import pytest

from visemic.errors import VisemicError
from visemic.motion.arkit import CHANNELS, INDEX
from visemic.render import LOOKS, AvatarRenderer

# Regions on the 512×512 reference layout (head centre 256, 226; mouth line near y 298).
MOUTH = (slice(262, 352), slice(196, 316))
EYES = (slice(190, 250), slice(170, 342))
FACE = slice(150, 300)  # rows holding the eyes whatever the head pose, above the shirt


def pose(**values: float) -> np.ndarray:
    v = np.zeros(len(CHANNELS), np.float32)
    for name, x in values.items():
        v[INDEX[name]] = x
    return v


def cavity(img: np.ndarray) -> int:
    """Pixels of the dark mouth interior (deep red-brown), not lips or the lip seam."""
    r, g, b = (img[..., i].astype(int) for i in range(3))
    return int(np.count_nonzero((r < 95) & (g < 40) & (b < 50)))


def teeth(img: np.ndarray) -> int:
    r, g, b = (img[..., i].astype(int) for i in range(3))
    return int(np.count_nonzero((r > 235) & (g > 232) & (b > 222) & (abs(r - b) < 20)))


def iris(img: np.ndarray) -> np.ndarray:
    """Mask of blue iris pixels (the default look has blue eyes; skin is red-dominant)."""
    r, b = img[..., 0].astype(int), img[..., 2].astype(int)
    return (b > r + 35) & (b > 90)


def lip_width(img: np.ndarray) -> int:
    """Horizontal extent of lip-coloured pixels (redder than skin) in the mouth region."""
    r, g, b = (img[..., i].astype(int) for i in range(3))
    lips = (r - g > 60) & (r > 120) & (b < 140)
    cols = np.flatnonzero(lips.any(axis=0))
    return int(cols[-1] - cols[0]) if len(cols) else 0


@pytest.fixture(scope="module")
def avatar() -> AvatarRenderer:
    return AvatarRenderer((512, 512))


def render(avatar: AvatarRenderer, **values: float) -> np.ndarray:
    return avatar.render(pose(**values), CHANNELS)


def test_frame_shape_and_type(avatar):
    img = render(avatar)
    assert img.shape == (512, 512, 4) and img.dtype == np.uint8
    assert (img[..., 3] == 255).all()
    # A new array each call: the caller may keep it.
    assert not np.shares_memory(img, render(avatar))


def test_rest_mouth_is_closed(avatar):
    img = render(avatar)
    assert cavity(img[MOUTH]) == 0
    assert teeth(img[MOUTH]) == 0
    assert lip_width(img[MOUTH]) > 50


def test_open_vowel_shows_interior_teeth_and_drops_chin(avatar):
    rest = render(avatar)
    open_ = render(avatar, jawOpen=0.55, mouthLowerDownLeft=0.2, mouthLowerDownRight=0.2)
    assert cavity(open_[MOUTH]) > 600
    assert teeth(open_[MOUTH]) > 40
    # The chin moves down: skin appears where the background/neck shadow was below the chin.
    assert np.abs(open_[352:380].astype(int) - rest[352:380].astype(int)).sum() > 10_000


def test_closure_when_mouth_close_matches_jaw(avatar):
    closure = render(avatar, jawOpen=0.12, mouthClose=0.12)
    slightly_open = render(avatar, jawOpen=0.12)
    assert cavity(closure[MOUTH]) == 0
    assert cavity(slightly_open[MOUTH]) > 0
    open_ = render(avatar, jawOpen=0.5)
    assert cavity(open_[MOUTH]) > cavity(slightly_open[MOUTH]) > cavity(closure[MOUTH])
    # Pressed lips are sealed too and differ from rest (jaw slightly down).
    assert not np.array_equal(closure[MOUTH], render(avatar)[MOUTH])


def test_rounded_vowel_is_narrow_and_round(avatar):
    rest = render(avatar)
    rounded = render(avatar, jawOpen=0.2, mouthPucker=0.6, mouthFunnel=0.45)
    assert lip_width(rounded[MOUTH]) < 0.75 * lip_width(rest[MOUTH])
    # A small round opening: some interior, far less than an open vowel.
    hole = cavity(rounded[MOUTH])
    assert 0 < hole < cavity(render(avatar, jawOpen=0.55))
    rows = np.flatnonzero(((rounded[MOUTH][..., 0] < 95) & (rounded[MOUTH][..., 1] < 40)).any(1))
    cols = np.flatnonzero(((rounded[MOUTH][..., 0] < 95) & (rounded[MOUTH][..., 1] < 40)).any(0))
    assert (rows[-1] - rows[0]) >= 0.4 * (cols[-1] - cols[0])  # not a slit


def test_labiodental_shows_upper_teeth_on_lower_lip(avatar):
    fv = render(avatar, jawOpen=0.1, mouthRollLower=0.6, mouthUpperUpLeft=0.35,
                mouthUpperUpRight=0.35)
    assert teeth(fv[MOUTH]) > 60
    # Teeth rest on the lip: next to no dark interior between them.
    assert cavity(fv[MOUTH]) < 0.1 * teeth(fv[MOUTH])


def test_blink_hides_the_iris(avatar):
    rest = render(avatar)
    assert iris(rest[EYES]).sum() > 400
    blink = render(avatar, eyeBlinkLeft=1.0, eyeBlinkRight=1.0)
    assert iris(blink[EYES]).sum() == 0
    half = render(avatar, eyeBlinkLeft=0.5, eyeBlinkRight=0.5)
    assert 0 < iris(half[EYES]).sum() < iris(rest[EYES]).sum()
    # One eye only: the picture's right eye is the character's left.
    left = render(avatar, eyeBlinkLeft=1.0)
    assert iris(left[EYES][:, 86:]).sum() == 0 and iris(left[EYES][:, :86]).sum() > 200


def _centroid_x(mask: np.ndarray) -> float:
    return float(np.nonzero(mask)[1].mean())


def test_gaze_moves_the_irises(avatar):
    rest = _centroid_x(iris(render(avatar)[EYES]))
    right = _centroid_x(iris(render(avatar, eyeLookOutLeft=0.8, eyeLookInRight=0.8)[EYES]))
    left = _centroid_x(iris(render(avatar, eyeLookInLeft=0.8, eyeLookOutRight=0.8)[EYES]))
    assert right > rest + 3 and left < rest - 3


def test_head_turn_moves_features_and_roll_tilts(avatar):
    rest = render(avatar)
    turned = render(avatar, headYaw=20.0)
    assert _centroid_x(iris(turned[FACE])) > _centroid_x(iris(rest[FACE])) + 10
    assert (_centroid_x(iris(render(avatar, headYaw=-20.0)[FACE]))
            < _centroid_x(iris(rest[FACE])) - 10)
    nod = render(avatar, headPitch=15.0)
    assert np.nonzero(iris(nod[FACE]))[0].mean() > np.nonzero(iris(rest[FACE]))[0].mean() + 5
    tilt = iris(render(avatar, headRoll=15.0)[FACE])
    # Top of the head towards the picture's left: the left eye drops, the right rises.
    ys_left = np.nonzero(tilt[:, :256])[0].mean()
    ys_right = np.nonzero(tilt[:, 256:])[0].mean()
    assert ys_left > ys_right + 5


def test_brows_smile_and_other_channels_change_the_picture(avatar):
    rest = render(avatar)
    for name, value in [("browInnerUp", 1.0), ("browDownLeft", 1.0), ("mouthSmileLeft", 1.0),
                        ("cheekPuff", 1.0), ("tongueOut", 1.0), ("noseSneerLeft", 1.0),
                        ("mouthFunnel", 1.0), ("eyeWideLeft", 1.0), ("jawLeft", 1.0)]:
        extra = {"jawOpen": 0.4} if name == "tongueOut" else {}
        base = render(avatar, **extra) if extra else rest
        assert not np.array_equal(render(avatar, **{name: value}, **extra), base), name


def test_channel_subset_order_and_clamping(avatar):
    full = render(avatar, jawOpen=0.5)
    # Any channel list works; unknown names are ignored, missing ones are 0.
    sub = avatar.render(np.array([0.0, 0.5, 3.0], np.float32), ["custom", "jawOpen", "bogus"])
    assert np.array_equal(full, sub)
    over = avatar.render(np.array([7.0], np.float32), ["jawOpen"])
    assert np.array_equal(over, render(avatar, jawOpen=1.0))
    with pytest.raises(VisemicError):
        avatar.render(np.zeros(3, np.float32), ["jawOpen"])


def test_sizes_looks_and_backgrounds():
    wide = AvatarRenderer((640, 360))
    assert wide.rest.shape == (360, 640, 4)
    for name in LOOKS:
        img = AvatarRenderer((128, 128), look=name).rest
        assert img.shape == (128, 128, 4)
    clear = AvatarRenderer((128, 128), background="transparent").rest
    assert clear[0, 0, 3] == 0 and clear[64, 64, 3] == 255
    solid = AvatarRenderer((64, 64), background="#ff0000").rest
    assert tuple(solid[0, 0]) == (255, 0, 0, 255)
    image_bg = np.zeros((10, 20, 3), np.uint8)
    image_bg[..., 1] = 200
    green = AvatarRenderer((64, 64), background=image_bg).rest
    assert tuple(green[0, 0, :3]) == (0, 200, 0)
    custom = AvatarRenderer((64, 64), look={"shirt": "#ff00ff"}).rest
    assert custom.shape == (64, 64, 4)
    with pytest.raises(VisemicError):
        AvatarRenderer((64, 64), look="nope")
    with pytest.raises(VisemicError):
        AvatarRenderer((64, 64), background="#zz0000")


def test_speech_labiodentals_tuck_the_lower_lip_under_the_teeth(avatar):
    """/f v/ as speech gives them (the lips nearly sealed over a slightly open jaw, the lower
    lip rolled in): upper teeth on the lower lip; /p/ with the same jaw stays closed lips."""
    for jaw, close in ((0.13, 0.06), (0.23, 0.17)):
        fv = render(avatar, jawOpen=jaw, mouthClose=close, mouthRollLower=0.5,
                    mouthUpperUpLeft=0.2, mouthUpperUpRight=0.2, mouthShrugUpper=0.08)
        assert teeth(fv[MOUTH]) > 200
        assert cavity(fv[MOUTH]) < 0.1 * teeth(fv[MOUTH])
    p = render(avatar, jawOpen=0.23, mouthClose=0.23, mouthPressLeft=0.35,
               mouthPressRight=0.35, mouthRollLower=0.1)
    assert teeth(p[MOUTH]) == 0
