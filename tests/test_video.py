"""Video writing: MP4 (H.264 + AAC), WebM with alpha, PNG sequences, sprite mode, end to end."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import skia

from visemic.errors import VisemicError
from visemic.motion.arkit import CHANNELS, INDEX
from visemic.outputs.video import VIDEO_FORMATS, resample_rows, video_format, write_video
from visemic.render.sprites import SpriteRenderer, find_sprites
from visemic.types import Animation, Audio, Cue

SR = 16000


def tone(seconds: float = 2.0, rate: int = SR) -> Audio:
    t = np.arange(int(round(seconds * rate))) / rate
    return Audio((0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate)


def talking(seconds: float = 2.0, fps: float = 60.0) -> Animation:
    n = int(round(seconds * fps))
    values = np.zeros((n, len(CHANNELS)), np.float32)
    values[:, INDEX["jawOpen"]] = 0.25 * (1 + np.sin(np.arange(n) / 4.0))
    cues = [Cue(0.0, 0.5, "X"), Cue(0.5, 1.0, "A"), Cue(1.0, 1.5, "D"), Cue(1.5, seconds, "F")]
    return Animation(fps, list(CHANNELS), values, {"rhubarb": cues})


def decode_info(path: Path) -> dict:
    with av.open(str(path)) as c:
        info = {"types": sorted(s.type for s in c.streams),
                "duration": c.duration / 1e6 if c.duration else None}
        vs = c.streams.video[0]
        info["codec"] = vs.codec_context.name
        info["size"] = (vs.codec_context.width, vs.codec_context.height)
        frames = list(c.decode(video=0))
        info["frames"] = len(frames)
        info["first_pts"] = frames[0].pts
        info["first_time"] = frames[0].time
        info["last_time"] = frames[-1].time
        info["first"] = frames[0].to_ndarray(format="rgb24")
    if "audio" in info["types"]:
        with av.open(str(path)) as c:
            aframes = list(c.decode(audio=0))
            info["audio_first_time"] = aframes[0].time
            info["audio_rate"] = aframes[0].sample_rate
    return info


def test_formats_and_format_detection(tmp_path):
    assert set(VIDEO_FORMATS) == {"mp4", "webm", "png"}
    assert video_format("a.mp4") == "mp4" and video_format("a.MP4") == "mp4"
    assert video_format("a.webm") == "webm"
    assert video_format("out/%05d.png") == "png"
    assert video_format(str(tmp_path)) == "png"
    assert video_format("frames/") == "png"
    assert video_format("a.json") is None
    assert video_format("x.bin", format="mp4") == "mp4"


def test_mp4_has_audio_and_video_starting_together(tmp_path):
    out = tmp_path / "talk.mp4"
    progress: list[float] = []
    written = write_video(talking(), out, audio=tone(2.0), fps=30, progress=progress.append)
    assert written == out and out.is_file()
    info = decode_info(out)
    assert info["types"] == ["audio", "video"]
    assert info["codec"] == "h264" and info["size"] == (512, 512)
    assert info["frames"] == 60  # round(2.0 s × 30 fps)
    assert info["first_pts"] == 0 and info["first_time"] == 0.0
    assert info["audio_first_time"] == pytest.approx(0.0, abs=1e-3)
    assert info["duration"] == pytest.approx(2.0, abs=0.05)
    assert info["last_time"] == pytest.approx(59 / 30, abs=1e-3)
    assert progress[-1] == 1.0 and progress == sorted(progress) and len(progress) > 5
    # No temporary files left beside the output.
    assert [p.name for p in tmp_path.iterdir()] == ["talk.mp4"]


def test_mp4_from_a_result_like_object_default_fps_and_size(tmp_path):
    class Result:  # what visemic.Result offers the writer: .audio and .animation
        audio = tone(1.0, rate=22050)
        animation = talking(1.0, fps=25.0)

    out = tmp_path / "r.mp4"
    write_video(Result(), out, size=(320, 240))  # 25 fps: the animation's (≤ 30)
    info = decode_info(out)
    assert info["frames"] == 25 and info["size"] == (320, 240)
    assert info["audio_rate"] == 22050


@pytest.mark.parametrize(("fps", "seconds", "expected"), [(24, 2.0, 48), (25, 1.3, 32),
                                                          (29.97, 1.0, 30)])
def test_frame_count_follows_audio_duration(tmp_path, fps, seconds, expected):
    out = tmp_path / "n.mp4"
    write_video(talking(1.0), out, audio=tone(seconds, rate=44100), fps=fps, size=(64, 64))
    assert decode_info(out)["frames"] == expected


def test_default_fps_is_capped_at_30(tmp_path):
    out = tmp_path / "d.mp4"
    write_video(talking(1.0, fps=60.0), out, audio=tone(1.0), size=(64, 64))
    assert decode_info(out)["frames"] == 30


def test_odd_rate_audio_is_resampled(tmp_path):
    out = tmp_path / "odd.mp4"
    write_video(talking(1.0), out, audio=tone(1.0, rate=17000), size=(64, 64))
    info = decode_info(out)
    assert info["audio_rate"] == 48000 and info["duration"] == pytest.approx(1.0, abs=0.05)


def test_resampling_curves_is_linear():
    anim = Animation(10.0, ["jawOpen"], np.array([[0.0], [1.0], [0.0]], np.float32))
    rows = [(t, float(r[0])) for t, r in resample_rows(anim, 20.0, 6)]
    assert [t for t, _ in rows] == pytest.approx([0, 0.05, 0.1, 0.15, 0.2, 0.25])
    assert [v for _, v in rows] == pytest.approx([0.0, 0.5, 1.0, 0.5, 0.0, 0.0])


def test_webm_with_alpha(tmp_path):
    out = tmp_path / "alpha.webm"
    write_video(talking(1.0), out, audio=tone(1.0), size=(128, 128), transparent=True)
    with av.open(str(out)) as c:
        assert sorted(s.type for s in c.streams) == ["audio", "video"]
        stream = c.streams.video[0]
        assert stream.codec_context.name == "vp9"
        # FFmpeg's own VP9 decoder drops the alpha side data; libvpx's keeps it.
        decoder = av.CodecContext.create("libvpx-vp9", "r")
        frames = [f for packet in c.demux(stream) for f in decoder.decode(packet)]
    assert len(frames) == 30  # default: the 60 fps animation capped at 30
    rgba = frames[0].to_ndarray(format="rgba")
    assert frames[0].format.name == "yuva420p"
    assert rgba[2, 2, 3] < 10  # background transparent
    assert rgba[64, 64, 3] > 245  # face opaque


def test_transparent_mp4_is_refused(tmp_path):
    with pytest.raises(VisemicError, match="transparen"):
        write_video(talking(1.0), tmp_path / "x.mp4", audio=tone(1.0), transparent=True)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("target", ["frames/", "seq/frame_%04d.png"])
def test_png_sequence(tmp_path, target):
    out = f"{tmp_path}/{target}"
    write_video(talking(1.0), out, audio=tone(1.0), fps=10, size=(96, 96), transparent=True)
    folder = Path(out) if not out.endswith(".png") else Path(out).parent
    names = sorted(p.name for p in folder.iterdir())
    expected = [f"{i:05d}.png" if target == "frames/" else f"frame_{i:04d}.png"
                for i in range(10)]
    assert names == expected
    img = skia.Image.open(str(folder / names[0]))
    assert (img.width(), img.height()) == (96, 96)
    arr = img.toarray(colorType=skia.kRGBA_8888_ColorType, alphaType=skia.kUnpremul_AlphaType)
    assert arr[1, 1, 3] == 0 and arr[48, 48, 3] == 255
    # A shorter second run leaves no stale frames from the first.
    write_video(talking(0.5), out, audio=tone(0.5), fps=10, size=(96, 96))
    assert len(list(folder.iterdir())) == 5


def test_failed_render_leaves_nothing(tmp_path):
    class Broken:
        size = (64, 64)

        def __init__(self) -> None:
            self.calls = 0

        def frame(self, animation, t, values):
            self.calls += 1
            if self.calls > 5:
                raise RuntimeError("boom")
            return np.zeros((64, 64, 4), np.uint8)

    for target in ("x.mp4", "y.webm", "frames_dir/", "seq/%03d.png"):
        with pytest.raises(RuntimeError):
            write_video(talking(1.0), f"{tmp_path}/{target}", audio=tone(1.0),
                        renderer=Broken())
    assert list(tmp_path.iterdir()) == []


def make_sprites(folder: Path, shapes: str, ext: str = "png") -> dict[str, tuple[int, int, int]]:
    folder.mkdir(parents=True, exist_ok=True)
    colours = {}
    for i, shape in enumerate(shapes):
        colour = (40 * i % 256, 255 - 30 * i, (90 + 50 * i) % 256)
        arr = np.zeros((40, 60, 4), np.uint8)
        arr[..., :3] = colour
        arr[..., 3] = 255
        image = skia.Image.fromarray(arr, colorType=skia.kRGBA_8888_ColorType)
        name = shape.lower() if i % 2 else shape
        fmt = {"png": skia.kPNG, "jpg": skia.kJPEG, "webp": skia.kWEBP}[ext]
        image.save(str(folder / f"{name}.{ext}"), fmt)
        colours[shape] = colour
    return colours


def test_sprites_missing_are_named(tmp_path):
    make_sprites(tmp_path / "s", "ABDF")
    with pytest.raises(VisemicError) as err:
        find_sprites(tmp_path / "s")
    assert str(err.value) == f"sprites missing in {tmp_path / 's'}: C, E"
    with pytest.raises(VisemicError, match="sprites missing"):
        write_video(talking(1.0), tmp_path / "v.mp4", audio=tone(1.0), sprites=tmp_path / "s")
    assert not (tmp_path / "v.mp4").exists()


def test_sprite_fallbacks_and_lookup(tmp_path):
    colours = make_sprites(tmp_path / "s", "ABCDEF", ext="webp")
    rend = SpriteRenderer(tmp_path / "s")
    assert rend.size == (60, 40)
    for shape, fallback in (("G", "A"), ("H", "C"), ("X", "A")):
        assert np.array_equal(rend.render_shape(shape), rend.render_shape(fallback))
    cues = talking(2.0).visemes["rhubarb"]
    assert [rend.shape_at(cues, t) for t in (0.1, 0.7, 1.2, 1.9, 5.0)] == ["X", "A", "D", "F", "F"]
    px = rend.render_shape("D")[20, 30, :3]
    assert np.abs(px.astype(int) - np.array(colours["D"])).max() <= 3


def test_sprite_video_with_face_image(tmp_path):
    colours = make_sprites(tmp_path / "s", "ABCDEFX")
    face = np.zeros((200, 160, 4), np.uint8)
    face[...] = (230, 200, 170, 255)
    skia.Image.fromarray(face, colorType=skia.kRGBA_8888_ColorType).save(
        str(tmp_path / "face.png"), skia.kPNG)
    out = tmp_path / "sprites.mp4"
    write_video(talking(2.0), out, audio=tone(2.0), fps=10, renderer="sprites",
                sprites=tmp_path / "s", face_image=tmp_path / "face.png",
                mouth_box=(50, 120, 60, 40))
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.width == 160
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 20
    # Frame 12 (t = 1.2 s) shows D inside the box; outside the box is the face.
    mouth = frames[12][140, 80].astype(int)
    assert np.abs(mouth - np.array(colours["D"])).max() < 25
    assert np.abs(frames[12][20, 20].astype(int) - np.array((230, 200, 170))).max() < 25
    assert np.abs(frames[2][140, 80].astype(int) - np.array(colours["X"])).max() < 25


# ----------------------------------------------------------------------------- end to end

def _cavity(img: np.ndarray) -> int:
    r, g, b = (img[..., i].astype(int) for i in range(3))
    return int(np.count_nonzero((r < 95) & (g < 40) & (b < 50)))


@pytest.fixture(scope="module")
def speech_with_pause():
    """Two espeak sentences with 1.5 s of silence between them, animated with the transcript."""
    espeak = pytest.importorskip("visemic.phonetics.espeak")
    import visemic

    try:
        a1, t1 = espeak.synthesize("Mom bought a large cop of barley.", "en-us")
        a2, t2 = espeak.synthesize("Papa saw the bus.", "en-us")
    except Exception as exc:  # espeak-ng missing on this machine
        pytest.skip(f"espeak-ng unavailable: {exc}")
    gap = np.zeros(int(1.5 * a1.sample_rate), np.float32)
    offset = a1.duration + len(gap) / a1.sample_rate
    audio = Audio(np.concatenate([a1.samples, gap, a2.samples]), a1.sample_rate)
    phones = list(t1.phones) + list(t2.shifted(offset).phones)
    result = visemic.animate(audio, text="Mom bought a large cop of barley. Papa saw the bus.")
    return result, phones, (a1.duration, offset)


def test_end_to_end_open_vowel_closure_and_rest(speech_with_pause, tmp_path):
    from visemic.render import AvatarRenderer

    result, phones, (pause_start, pause_end) = speech_with_pause
    anim = result.animation
    avatar = AvatarRenderer((512, 512))
    mouth = (slice(250, 372), slice(186, 326))

    def frame_at(t: float) -> np.ndarray:
        return avatar.render(anim.values[min(anim.frames - 1, int(round(t * anim.fps)))],
                             anim.channels)

    def longest(symbols: set[str]):
        cands = [p for p in phones if p.symbol in symbols]
        assert cands, symbols
        return max(cands, key=lambda p: p.end - p.start)

    vowel = longest({"ɑ", "ɑː", "a", "aː", "ɒ"})
    closure = longest({"m", "b", "p"})
    open_img = frame_at((vowel.start + vowel.end) / 2)
    closed_img = frame_at((closure.start + closure.end) / 2)
    assert _cavity(open_img[mouth]) > 150
    assert _cavity(closed_img[mouth]) < 0.1 * _cavity(open_img[mouth])
    # The middle of a 1.5 s silence is at rest: lips (nearly) closed.
    rest = frame_at((pause_start + pause_end) / 2)
    assert _cavity(rest[mouth]) < 30

    out = tmp_path / "speech.mp4"
    write_video(result, out, fps=30)
    info = decode_info(out)
    assert info["frames"] == round(result.audio.duration * 30)
    assert info["types"] == ["audio", "video"]


def test_end_to_end_on_shared_sample(tmp_path):
    shared = Path(__file__).resolve().parents[1].parent / "shared"
    wav = shared / "samples" / "audio" / "goforward.wav"
    if not wav.is_file():
        pytest.skip("../shared is not present")
    import visemic

    result = visemic.animate(wav, text="go forward ten meters")
    out = tmp_path / "goforward.mp4"
    write_video(result, out, size=(256, 256), fps=25)
    info = decode_info(out)
    assert info["frames"] == round(result.audio.duration * 25)
    assert info["duration"] == pytest.approx(result.audio.duration, abs=0.08)


def test_unwritable_path_is_a_visemic_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(VisemicError, match="cannot write"):
        write_video(talking(0.5), blocker / "x.mp4", audio=tone(0.5), size=(64, 64))
    with pytest.raises(VisemicError, match="not a video path"):
        write_video(talking(0.5), tmp_path / "x.json", audio=tone(0.5))
