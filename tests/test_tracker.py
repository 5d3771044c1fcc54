"""Video face tracking on generated videos (the built-in avatar, which Face Mesh finds, with a
known mouth opening) and on the shared clips where present."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from visemic.errors import VisemicError
from visemic.motion.arkit import CHANNELS, INDEX
from visemic.render import AvatarRenderer
from visemic.video import FEATURES, decode, track
from visemic.video.tracker import smoothed

SIZE = 320


def opening(n: int) -> np.ndarray:
    """jawOpen per frame: closed, a few openings of different sizes, closed."""
    k = np.arange(n)
    return np.clip(0.8 * np.sin(k / 3.0) ** 2 * (k > 4) * (k < n - 5), 0.0, 1.0)


def vfr_times(n: int) -> np.ndarray:
    """Variable frame rate: steps alternate 30 and 47 ms (pts in ms)."""
    return np.concatenate([[0.0], np.cumsum(np.where(np.arange(n - 1) % 2, 0.047, 0.030))])


def write(path: Path, pictures: list[np.ndarray], times: np.ndarray, rotation: int = 0) -> Path:
    """H.264 in MP4 with millisecond pts; ``rotation`` stores the pictures turned clockwise
    and tags the stream to turn them back counter-clockwise for display."""
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=30)
        s.codec_context.time_base = Fraction(1, 1000)
        h, w = pictures[0].shape[:2]
        s.width, s.height = (h, w) if rotation in (90, 270) else (w, h)
        s.pix_fmt = "yuv420p"
        s.options = {"crf": "12", "bf": "0"}
        if rotation:
            s.set_display_rotation(rotation)
        for pic, t in zip(pictures, times, strict=True):
            stored = np.ascontiguousarray(np.rot90(pic, -rotation // 90)) if rotation else pic
            f = av.VideoFrame.from_ndarray(np.ascontiguousarray(stored[:, :, :3]), format="rgb24")
            f.pts = round(t * 1000)
            f.time_base = Fraction(1, 1000)
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


@pytest.fixture(scope="module")
def avatar_video(tmp_path_factory) -> tuple[Path, np.ndarray, np.ndarray, list[np.ndarray]]:
    n = 48
    jaw = opening(n)
    r = AvatarRenderer((SIZE, SIZE))
    pictures = []
    for v in jaw:
        row = np.zeros(len(CHANNELS), np.float32)
        row[INDEX["jawOpen"]] = v
        pictures.append(r.render(row, CHANNELS)[:, :, :3].copy())
    times = vfr_times(n)
    path = write(tmp_path_factory.mktemp("track") / "avatar.mp4", pictures, times)
    return path, jaw, times, pictures


def test_tracks_a_known_mouth_opening_with_exact_times(avatar_video):
    path, jaw, times, _ = avatar_video
    t = track(path, landmarks=True)
    assert t.frames == len(jaw)
    assert np.allclose(t.times, times, atol=5e-4)  # variable frame rate kept exactly
    assert t.found.all() and (t.confidence > 0.9).all()
    gap = t.feature("inner_aperture")
    assert np.corrcoef(gap, jaw)[0, 1] > 0.9
    assert gap[jaw > 0.6].mean() > gap[jaw < 0.05].mean() + 0.1  # in eye distances
    assert np.abs(np.r_[gap[:4], gap[-4:]]).max() < 0.03  # closed lips read as closed
    # The jaw drops with the opening; the outer lips open too.
    assert np.corrcoef(t.feature("jaw_drop"), jaw)[0, 1] > 0.8
    assert np.corrcoef(t.feature("outer_aperture"), jaw)[0, 1] > 0.8
    assert t.features.shape == (len(jaw), len(FEATURES))
    assert np.abs(t.pose).max() < 12  # a frontal face
    assert t.landmarks is not None and t.landmarks.shape == (len(jaw), 478, 3)
    # Landmarks in source pixels: the mouth is in the lower middle of the picture.
    mouth = t.landmarks[:, 13, :2]
    assert (mouth[:, 0] > 0.35 * SIZE).all() and (mouth[:, 0] < 0.65 * SIZE).all()
    assert (mouth[:, 1] > 0.5 * SIZE).all()


def test_rotation_metadata_turns_the_picture_upright(avatar_video, tmp_path):
    path, jaw, times, pictures = avatar_video
    sideways = write(tmp_path / "sideways.mp4", pictures, times, rotation=90)
    info = decode.probe(sideways)
    assert info.rotation == 90 and (info.width, info.height) == (SIZE, SIZE)
    first = next(decode.frames(sideways)).image
    assert np.abs(first.astype(int) - pictures[0].astype(int)).mean() < 4  # upright again
    upright, turned = track(path), track(sideways)
    assert np.corrcoef(upright.feature("inner_aperture"),
                       turned.feature("inner_aperture"))[0, 1] > 0.95
    assert np.abs(turned.pose[:, 2]).max() < 12  # no 90° roll


def test_chooses_a_face_by_size_and_keeps_it(tmp_path):
    """Two avatars, a big one and a small one, opening their mouths out of step."""
    n = 30
    big, small = AvatarRenderer((240, 240)), AvatarRenderer((150, 150))
    jaw_big = opening(n)
    jaw_small = np.roll(jaw_big, 5)
    pictures = []
    for a, b in zip(jaw_big, jaw_small, strict=True):
        canvas = np.full((240, 420, 3), 90, np.uint8)
        for r, v, x0, y0 in ((big, a, 0, 0), (small, b, 260, 60)):
            row = np.zeros(len(CHANNELS), np.float32)
            row[INDEX["jawOpen"]] = v
            pic = r.render(row, CHANNELS)[:, :, :3]
            canvas[y0:y0 + pic.shape[0], x0:x0 + pic.shape[1]] = pic
        pictures.append(canvas)
    path = write(tmp_path / "two.mp4", pictures, np.arange(n) / 25.0)
    t0, t1 = track(path, face=0), track(path, face=1)
    assert t0.found.all() and t1.found.all()
    g0, g1 = t0.feature("inner_aperture"), t1.feature("inner_aperture")
    assert np.corrcoef(g0, jaw_big)[0, 1] > 0.85
    assert np.corrcoef(g1, jaw_small)[0, 1] > 0.85
    with pytest.raises(VisemicError, match="face 5 asked for"):
        track(path, face=5)


def test_no_face_and_bad_files(tmp_path):
    rng = np.random.default_rng(1)
    blank = [np.full((96, 128, 3), 40 + 10 * i, np.uint8) for i in range(8)]
    blank[3] = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)
    path = write(tmp_path / "empty.mp4", blank, np.arange(8) / 25.0)
    with pytest.raises(VisemicError, match=r"^no face found in .*empty\.mp4"):
        track(path)
    with pytest.raises(VisemicError, match="no such file"):
        track(tmp_path / "missing.mp4")
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all\n")
    with pytest.raises(VisemicError, match="not a readable video"):
        track(text)
    from visemic.audio import save_wav
    from visemic.types import Audio

    wav = tmp_path / "tone.wav"
    save_wav(Audio(np.zeros(1600, np.float32), 16000), wav)
    with pytest.raises(VisemicError, match="no video stream"):
        track(wav)


def test_smoothing_is_centred_and_leaves_gaps_alone():
    x = np.zeros(21)
    x[10] = 1.0
    x[15] = np.nan
    y = smoothed(x, 3)
    assert np.nanargmax(y) == 10 and np.isclose(y[9], y[11])  # no delay
    assert np.isnan(y[15]) and np.isfinite(y[14]) and np.isfinite(y[16])
    assert np.isclose(np.nansum(y[:15]), 1.0, atol=0.05)


def test_shared_clips(shared):
    clips = sorted((shared / "samples" / "video").glob("*.mp*"))
    if not clips:
        pytest.skip("no shared video clips")
    for clip in clips:
        t = track(clip)
        info = t.info
        assert t.frames >= 0.95 * info.duration * info.fps, clip.name
        assert np.all(np.diff(t.times) > 0), clip.name
        assert t.found.mean() > 0.9, clip.name
        gap = t.feature("inner_aperture")[t.found]
        assert np.isfinite(gap).all() and np.ptp(gap) > 0.05, clip.name  # the lips move
        assert np.isfinite(t.feature("mouth_width")[t.found]).all()
        # Mouth width is about one eye distance on every face.
        assert 0.6 < np.median(t.feature("mouth_width")[t.found]) < 1.4, clip.name
