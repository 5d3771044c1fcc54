"""Video in: decode frames one at a time with PyAV, upright and with their exact times.

Times are each frame's presentation time in seconds on the container's clock (``pts ×
time_base``), so variable-frame-rate video keeps its true timing and the audio stream's start
(:attr:`VideoInfo.audio_start`) is on the same clock. Pictures are turned upright by the
stream's display-matrix rotation (phones store portrait video sideways with a rotation tag) and
optionally scaled down in ffmpeg's scaler, so only one RGB frame at the working size is held.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from visemic.errors import VisemicError


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video, before decoding it.

    ``width``/``height`` are the upright picture's (after ``rotation``, the degrees
    counter-clockwise the stored picture is turned for display: 0, 90, 180 or 270). ``fps`` is
    the stream's average rate (nominal for variable-frame-rate video), ``duration`` in seconds
    (0 when unknown), ``frames`` the declared frame count (0 when unknown). ``video_start`` and
    ``audio_start`` are the streams' first presentation times in seconds (``audio_start`` None
    when there is no audio stream).
    """

    path: str
    width: int
    height: int
    rotation: int
    fps: float
    duration: float
    frames: int
    video_start: float
    audio_start: float | None

    @property
    def has_audio(self) -> bool:
        return self.audio_start is not None


@dataclass
class Frame:
    """One decoded frame: ``image`` H×W×3 RGB uint8, upright; ``time`` its presentation time in
    seconds; ``index`` its position in decoding order; ``scale`` the image's size over the
    upright source size (1.0 unless scaled down)."""

    time: float
    index: int
    image: np.ndarray
    scale: float


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Read a video's :class:`VideoInfo` (cheap: decodes at most one frame, for its rotation)."""
    p = _checked(path)
    with _open(p) as container:
        stream = _video_stream(container, p)
        rotation = 0
        for frame in container.decode(stream):
            rotation = _rotation(frame)
            break
        w, h = stream.codec_context.width, stream.codec_context.height
        if rotation in (90, 270):
            w, h = h, w
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        duration = 0.0
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        audio_start = None
        if container.streams.audio:
            audio_start = _start(container.streams.audio[0])
        return VideoInfo(path=str(p), width=w, height=h, rotation=rotation, fps=fps,
                         duration=duration, frames=int(stream.frames or 0),
                         video_start=_start(stream), audio_start=audio_start)


def frames(path: str | os.PathLike[str], max_side: int | None = None) -> Iterator[Frame]:
    """Yield every frame of ``path`` upright, scaled so its long side is at most ``max_side``.

    Raises :class:`VisemicError` when the file is missing, not a video, or has no video stream.
    A file truncated mid-stream yields what decodes (as players do).
    """
    p = _checked(path)
    with _open(p) as container:
        stream = _video_stream(container, p)
        stream.thread_type = "AUTO"
        fps = float(stream.average_rate or stream.guessed_rate or 25)
        last = None
        index = 0
        try:
            for frame in container.decode(stream):
                t = frame.time
                if t is None:  # no timestamp: the next one at the nominal rate
                    t = 0.0 if last is None else last + 1.0 / fps
                last = t
                rotation = _rotation(frame)
                w, h = frame.width, frame.height
                scale = 1.0
                if max_side and max(w, h) > max_side:
                    scale = max_side / max(w, h)
                    w, h = max(2, round(w * scale)), max(2, round(h * scale))
                image = frame.to_ndarray(format="rgb24", width=w, height=h)
                if rotation:
                    image = np.ascontiguousarray(np.rot90(image, rotation // 90))
                yield Frame(time=float(t), index=index, image=image, scale=scale)
                index += 1
        except av.FFmpegError as exc:
            if index == 0:
                raise VisemicError(f"{p}: not a readable video ({_reason(exc)})") from None


# ------------------------------------------------------------------------------ internals


def _checked(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    if not p.exists():
        raise VisemicError(f"{p}: no such file")
    if p.is_dir():
        raise VisemicError(f"{p}: is a directory, not a video file")
    if p.stat().st_size == 0:
        raise VisemicError(f"{p}: file is empty")
    return p


def _open(p: Path) -> av.container.InputContainer:
    try:
        return av.open(str(p))
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise VisemicError(f"{p}: not a readable video file ({_reason(exc)})") from None


def _video_stream(container: av.container.InputContainer, p: Path) -> av.VideoStream:
    # A cover picture (an attached still) is not the video.
    streams = [s for s in container.streams.video if not s.disposition & 1024]
    if not streams:
        raise VisemicError(f"{p}: contains no video stream")
    return streams[0]


def _rotation(frame: av.VideoFrame) -> int:
    """Degrees counter-clockwise to turn the stored picture upright (multiples of 90)."""
    try:
        angle = float(frame.rotation or 0)
    except (AttributeError, TypeError, ValueError):
        return 0
    return int(round(angle / 90.0)) % 4 * 90


def _start(stream: av.stream.Stream) -> float:
    if stream.start_time is None or stream.time_base is None:
        return 0.0
    return float(stream.start_time * stream.time_base)


def _reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.strip().rstrip(".") or type(exc).__name__
