"""Video writing through PyAV: an animation rendered frame by frame, muxed with the original audio.

Formats (by extension, or ``format=``):
- ``mp4``: H.264 yuv420p + AAC.
- ``webm``: VP9 + Opus; with ``transparent=True`` VP9 carries alpha (yuva420p).
- ``png``: an RGBA PNG sequence, into a directory or a pattern such as ``frames/%05d.png``
  (numbered from 0: frame ``i`` shows time ``i / fps``).

Frames are rendered and encoded one at a time, so memory stays flat however long the audio is.
Everything is written atomically: a failed or interrupted render leaves nothing under the final
name.
"""

from __future__ import annotations

import contextlib
import math
import os
import queue
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from visemic.errors import VisemicError
from visemic.outputs import frame_files
from visemic.outputs.atomic import atomic_path
from visemic.types import Animation, Audio

VIDEO_FORMATS = ("mp4", "webm", "png")
# Frame rate when none is asked for: the animation's, capped at 30 (a talking head reads well at
# 30 and it halves the encoding time of a 60 fps animation).
DEFAULT_VIDEO_FPS = 30.0
MAX_VIDEO_FPS = 240.0

Progress = Callable[[float], None]

# Sample rates each audio encoder takes; anything else is resampled to 48 kHz.
_AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)
_OPUS_RATES = (48000, 24000, 16000, 12000, 8000)

# H.264 pictures: BT.709 (what players assume for unlabelled HD video), limited range, and
# labelled so. The chroma is each 2×2 block's average, which sits at the block's centre: it is
# labelled centred (x264's default label, "left", makes a decoder shift the colours half a
# pixel: about 1 dB lost on a drawn face's colour edges, 1.5 on a 3D render).
_MP4_X264 = "chromaloc=1"
# The first frame (a portrait's first frame is the picture itself) is coded at this fixed
# quantiser whatever the CRF: at CRF 18 it would lose 2-8 dB of a picture's grain, and
# the frames after it predict from it, so the still background keeps it. It costs one larger
# keyframe: +15 to +330 kB (a 512² drawing to a 920×1080 painting).
FIRST_FRAME_QP = 10


def video_format(path: str | os.PathLike[str], format: str | None = None) -> str | None:
    """The video format for ``path`` ("mp4", "webm", "png") or None when it is not a video."""
    if format is not None:
        fmt = format.lower().lstrip(".")
        return fmt if fmt in VIDEO_FORMATS else None
    text = os.fspath(path)
    if frame_files.is_pattern(text):
        return "png"
    suffix = Path(text).suffix.lower().lstrip(".")
    if suffix in ("mp4", "m4v", "mov"):
        return "mp4"
    if suffix == "webm":
        return "webm"
    if text.endswith(("/", os.sep)) or Path(text).is_dir():
        return "png"
    return None


def resample_rows(animation: Animation, fps: float,
                  count: int) -> Iterator[tuple[float, np.ndarray]]:
    """(time, curve row) for ``count`` frames at ``fps``, linearly interpolated in time."""
    values = animation.values
    n = values.shape[0]
    if n == 0:
        zero = np.zeros(len(animation.channels), np.float32)
        for i in range(count):
            yield i / fps, zero
        return
    same = abs(fps - animation.fps) < 1e-9
    for i in range(count):
        t = i / fps
        if same:
            yield t, values[min(i, n - 1)]
            continue
        pos = t * animation.fps
        i0 = min(int(math.floor(pos)), n - 1)
        w = pos - i0
        if w <= 1e-9 or i0 >= n - 1:
            yield t, values[i0]
        else:
            yield t, (values[i0] * (1.0 - w) + values[i0 + 1] * w).astype(np.float32)


def make_renderer(renderer: Any = None, *, size: tuple[int, int] | None = None,
                  look: str | dict[str, Any] = "default", background: Any = None,
                  sprites: str | os.PathLike[str] | None = None,
                  face_image: str | os.PathLike[str] | None = None,
                  mouth_box: Sequence[float] | None = None, transparent: bool = False,
                  portrait: Any = None, landmarks: Any = None, face: int = 0) -> Any:
    """A renderer from a name ("avatar", "sprites", "portrait") or None, or ``renderer`` itself
    if it is one.

    A renderer is any object with ``size`` and ``frame(animation, t, values) -> H×W×4 uint8``.
    """
    if renderer is not None and not isinstance(renderer, str):
        if not hasattr(renderer, "frame") or not hasattr(renderer, "size"):
            raise VisemicError("renderer must have .size and .frame(animation, t, values)")
        return renderer
    name = (renderer or ("portrait" if portrait is not None else
                         "sprites" if sprites is not None else "avatar")).lower()
    bg = "transparent" if transparent else background
    if name == "avatar":
        from visemic.render.avatar import AvatarRenderer

        return AvatarRenderer(size=size or (512, 512), look=look, background=bg)
    if name == "sprites":
        if sprites is None:
            raise VisemicError("sprite mode needs a folder of mouth sprites (A.png … F.png)")
        from visemic.render.sprites import SpriteRenderer

        return SpriteRenderer(sprites, size=size, face_image=face_image, mouth_box=mouth_box,
                              background=bg)
    if name == "portrait":
        if portrait is None:
            raise VisemicError("portrait mode needs an image of a face (portrait=IMAGE)")
        from visemic.render.portrait import PortraitRenderer

        return PortraitRenderer(portrait, size=size, landmarks=landmarks, face=face)
    raise VisemicError(f"unknown renderer {renderer!r}; use avatar, sprites or portrait")


def write_video(source: Any, path: str | os.PathLike[str], *, audio: Audio | None = None,
                size: tuple[int, int] | None = None, fps: float | None = None,
                renderer: Any = None, look: str | dict[str, Any] = "default",
                background: Any = None, sprites: str | os.PathLike[str] | None = None,
                face_image: str | os.PathLike[str] | None = None,
                mouth_box: Sequence[float] | None = None, transparent: bool = False,
                format: str | None = None, quality: int = 18,
                progress: Progress | None = None, portrait: Any = None, landmarks: Any = None,
                face: int = 0, mouth_from: str | os.PathLike[str] | None = None) -> Path:
    """Render ``source`` (a :class:`visemic.Result`, or an :class:`Animation` plus ``audio``) to a
    video at ``path`` and return the path written.

    The video lasts as long as the audio (``round(duration × fps)`` frames; without audio, as long
    as the animation) and starts with it at 0. ``size`` (width, height) defaults to 512×512 for the
    avatar and to the face image's (else the sprites') size in sprite mode. ``fps`` defaults to
    the animation's, at most :data:`DEFAULT_VIDEO_FPS`; curves are interpolated linearly when it
    differs. ``renderer`` is "avatar" (default), "sprites" (with ``sprites=DIR``, optional
    ``face_image`` and ``mouth_box``) or a renderer object. ``transparent`` needs .webm or a PNG
    sequence. ``quality`` is the encoder's CRF (lower is better; 18 keeps a photo's grain).
    ``progress`` is called with 0…1. ``portrait=IMAGE`` animates the face in a photo or
    painting (size: the image's own, at most 1080 on the long side); ``landmarks`` (a file or
    array) skips face detection, ``face`` picks one of several faces (0: the largest).
    ``mouth_from=CLIP`` (with ``portrait``) shows the mouths of a video of the same person
    where the lips part (dubbing's mouth atlas, :mod:`visemic.render.portrait.real_mouth`).
    """
    animation: Animation = getattr(source, "animation", source)
    if not isinstance(animation, Animation):
        raise VisemicError("write_video needs a Result or an Animation")
    if audio is None:
        audio = getattr(source, "audio", None)
    fmt = video_format(path, format)
    if fmt is None:
        raise VisemicError(f"not a video path: {os.fspath(path)} "
                           f"(use .mp4, .webm, a folder or frames/%05d.png)")
    if transparent and fmt == "mp4":
        raise VisemicError("MP4 (H.264) cannot carry transparency; write .webm or PNG frames")
    out_fps = float(fps) if fps else min(float(animation.fps), DEFAULT_VIDEO_FPS)
    if not (0 < out_fps <= MAX_VIDEO_FPS):
        raise VisemicError(f"frame rate {out_fps:g} is out of range (0…{MAX_VIDEO_FPS:g}]")
    duration = audio.duration if audio is not None else animation.frames / animation.fps
    count = max(1, int(round(duration * out_fps)))
    if mouth_from is not None and portrait is None:
        raise VisemicError("mouth_from (a video of the same person) goes with portrait=IMAGE")
    rend = make_renderer(renderer, size=size, look=look, background=background, sprites=sprites,
                         face_image=face_image, mouth_box=mouth_box, transparent=transparent,
                         portrait=portrait, landmarks=landmarks, face=face)
    if mouth_from is not None:
        _use_real_mouth(rend, source, mouth_from, out_fps, count)
    frames = _frames(rend, animation, out_fps, count, progress)
    try:
        if fmt == "png":
            return _write_png_sequence(frames, path, count)
        return _write_container(frames, rend.size, path, fmt, out_fps, audio, transparent,
                                quality)
    except OSError as e:
        raise VisemicError(f"cannot write {os.fspath(path)}: {e.strerror or e}") from e


def _use_real_mouth(renderer: Any, source: Any, clip: str | os.PathLike[str], fps: float,
                    count: int) -> None:
    """Give a portrait renderer the mouths of ``clip``, chosen for ``source``'s speech (by
    shape alone when ``source`` is an Animation without phones)."""
    from visemic.render.portrait.real_mouth import RealMouth
    from visemic.result import Result

    # The clip's own language is detected: it need not be the new speech's.
    real = RealMouth.from_clip(clip)
    renderer.use_real_mouth(real)  # (first: the mouths are chosen by the rig's lip shapes)
    if isinstance(source, Result):
        real.plan(source, fps, count)


def _frames(renderer: Any, animation: Animation, fps: float, count: int,
            progress: Progress | None) -> Iterator[np.ndarray]:
    step = max(1, count // 100)
    for i, (t, row) in enumerate(resample_rows(animation, fps, count)):
        yield renderer.frame(animation, t, row)
        if progress is not None and (i + 1) % step == 0:
            progress(min(1.0, (i + 1) / count))
    if progress is not None:
        progress(1.0)


def _rate(fps: float) -> Fraction:
    # 29.97 → 30000/1001, 25 → 25/1.
    return Fraction(fps).limit_denominator(1001)


def _write_container(frames: Iterator[np.ndarray], size: tuple[int, int],
                     path: str | os.PathLike[str], fmt: str, fps: float, audio: Audio | None,
                     transparent: bool, quality: int) -> Path:
    import av

    w, h = int(size[0]), int(size[1])
    # 4:2:0 chroma needs even dimensions: drop an odd last row/column.
    ew, eh = w - w % 2, h - h % 2
    rate = _rate(fps)
    with atomic_path(path) as tmp:
        options = {"movflags": "+faststart"} if fmt == "mp4" else {}
        with av.open(str(tmp), "w", format=fmt, options=options) as container:
            if fmt == "mp4":
                vstream = container.add_stream("libx264", rate=rate)
                vstream.pix_fmt = "yuv420p"
                vstream.options = {"crf": str(quality), "preset": "veryfast",
                                   "tune": "animation",
                                   "x264-params": f"{_MP4_X264}:zones=0,0,q={FIRST_FRAME_QP}"}
                ctx = vstream.codec_context
                ctx.colorspace = ctx.color_primaries = ctx.color_trc = 1  # BT.709
                ctx.color_range = 1  # limited ("tv")
            else:
                vstream = container.add_stream("libvpx-vp9", rate=rate)
                vstream.pix_fmt = "yuva420p" if transparent else "yuv420p"
                vstream.options = {"crf": str(quality + 12), "b": "0", "deadline": "realtime",
                                   "cpu-used": "8", "row-mt": "1"}
            vstream.width, vstream.height = ew, eh
            vstream.codec_context.time_base = 1 / rate
            feeder = _AudioFeeder(container, audio, fmt) if audio is not None else None
            encoder = _Encoder(container, vstream, feeder, fps,
                               _to_yuv420 if fmt == "mp4" else None)
            try:
                for i, frame in enumerate(frames):
                    arr = frame if (ew, eh) == (w, h) else frame[:eh, :ew]
                    vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format="rgba")
                    vf.pts = i
                    encoder.put(vf)
            except BaseException:
                encoder.abort()
                raise
            encoder.finish()
    return Path(path)


def _to_yuv420(frame: Any) -> Any:
    """An RGB(A) frame as H.264's pictures (see :data:`_MP4_X264`): BT.709, limited range,
    chroma averaged over 2×2 blocks, rounded accurately."""
    from av.video.reformatter import ColorRange, Colorspace, Interpolation

    pts = frame.pts
    out = frame.reformat(format="yuv420p", dst_colorspace=Colorspace.ITU709,
                         dst_color_range=ColorRange.MPEG,
                         interpolation=Interpolation.AREA | Interpolation.FULL_CHR_H_INP
                         | Interpolation.ACCURATE_RND)
    out.pts = pts
    return out


def hand_over(items: queue.Queue, thread: threading.Thread, item: Any) -> bool:
    """Put ``item`` on the bounded queue of the worker ``thread`` (an encoder), waiting while
    the queue is full; False if the worker has ended (it stopped on an error) instead."""
    while thread.is_alive():
        try:
            items.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def raise_encoder_error(error: BaseException | None) -> None:
    """Raise what stopped an encoder thread (handed over by the thread) in the caller's."""
    if error is not None:
        raise error
    raise VisemicError("video encoder stopped unexpectedly")


class _Encoder:
    """Encodes and muxes on a second thread while the caller renders the next frames.

    The renderer holds the GIL but PyAV's conversion and encoding largely do not, so on two
    cores the stages overlap. The queue is short: memory stays flat.
    """

    def __init__(self, container: Any, vstream: Any, feeder: _AudioFeeder | None,
                 fps: float, convert: Callable[[Any], Any] | None = None) -> None:
        self.container, self.vstream, self.feeder, self.fps = container, vstream, feeder, fps
        self.convert = convert
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=6)
        self.error: BaseException | None = None
        self.stopped = False
        self.thread = threading.Thread(target=self._run, name="visemic-encoder", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while True:
                frame = self.queue.get()
                if frame is None:
                    break
                if self.convert is not None:
                    frame = self.convert(frame)
                for packet in self.vstream.encode(frame):
                    self.container.mux(packet)
                if self.feeder is not None:
                    # Keep audio in step with the pictures so the file interleaves as it grows.
                    self.feeder.feed_until((frame.pts + 1) / self.fps)
            if not self.stopped:
                for packet in self.vstream.encode(None):
                    self.container.mux(packet)
                if self.feeder is not None:
                    self.feeder.finish()
        except BaseException as exc:  # handed to the caller's thread
            self.error = exc
            # Drain so that a producer blocked on put() wakes up.
            with contextlib.suppress(queue.Empty):
                while True:
                    self.queue.get_nowait()

    def put(self, frame: Any) -> None:
        if not hand_over(self.queue, self.thread, frame):
            raise_encoder_error(self.error)

    def finish(self) -> None:
        self.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error

    def abort(self) -> None:
        self.stopped = True
        with contextlib.suppress(Exception):
            hand_over(self.queue, self.thread, None)
        self.thread.join()


class _AudioFeeder:
    """Streams the audio into the container in step with the video."""

    def __init__(self, container: Any, audio: Audio, fmt: str) -> None:
        import av

        rates = _AAC_RATES if fmt == "mp4" else _OPUS_RATES
        self.src_rate = int(audio.sample_rate)
        self.rate = self.src_rate if self.src_rate in rates else 48000
        codec = "aac" if fmt == "mp4" else "libopus"
        self.stream = container.add_stream(codec, rate=self.rate, layout="mono")
        if fmt == "mp4":
            self.stream.bit_rate = 128000
        self.container = container
        samples = np.asarray(audio.samples, dtype=np.float32)
        if samples.ndim > 1:
            samples = samples.mean(axis=1 if samples.shape[1] < samples.shape[0] else 0)
        self.samples = np.clip(samples, -1.0, 1.0)
        self.pos = 0
        self.resampler = (av.AudioResampler(format="fltp", layout="mono", rate=self.rate)
                          if self.rate != self.src_rate else None)

    def feed_until(self, t: float) -> None:
        end = len(self.samples) if math.isinf(t) else min(len(self.samples),
                                                          int(round(t * self.src_rate)))
        if end > self.pos:
            self._encode(self.samples[self.pos:end])
            self.pos = end

    def _encode(self, chunk: np.ndarray | None) -> None:
        import av

        frames: list[Any]
        if chunk is None:
            frames = self.resampler.resample(None) if self.resampler is not None else []
            frames.append(None)
        else:
            frame = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
            frame.sample_rate = self.src_rate
            if self.resampler is not None:
                frames = self.resampler.resample(frame)
            else:
                frame.pts = self.pos
                frame.time_base = Fraction(1, self.src_rate)
                frames = [frame]
        for f in frames:
            for packet in self.stream.encode(f):
                self.container.mux(packet)

    def finish(self) -> None:
        self.feed_until(math.inf)
        self._encode(None)


def _write_png_sequence(frames: Iterator[np.ndarray], path: str | os.PathLike[str],
                        count: int) -> Path:
    """Frames as RGBA PNGs; written into a hidden folder first, then moved into place."""
    import skia

    folder, pattern = frame_files.split(path)
    created = not folder.exists()
    tmp = frame_files.staging(folder)
    try:
        for i, frame in enumerate(frames):
            image = skia.Image.fromarray(np.ascontiguousarray(frame),
                                         colorType=skia.kRGBA_8888_ColorType,
                                         alphaType=skia.kUnpremul_AlphaType)
            data = image.encodeToData(skia.kPNG, 100)
            if data is None:
                raise VisemicError("PNG encoding failed")
            (tmp / frame_files.name(pattern, i)).write_bytes(bytes(data))
        # All frames rendered: into place, and a longer earlier run's extra frames gone.
        frame_files.publish(tmp, folder, pattern, count)
    except BaseException:
        if created:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
