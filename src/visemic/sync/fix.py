"""``--fix``: the same video with its audio moved in time, the picture untouched.

The video stream is copied packet for packet (no re-encoding, no quality loss); the audio is the
video's own track copied the same way with its timestamps moved by the shift, or, when the
speech came from another file, that file encoded as AAC at the shifted time. A positive shift
delays the audio (the fix for a picture that is late: ``offset_ms > 0``).
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from visemic.errors import VisemicError
from visemic.outputs.atomic import atomic_path
from visemic.types import Audio

MAX_SHIFT_MS = 10_000.0


def shift_audio(video: str | os.PathLike[str], out: str | os.PathLike[str], shift_ms: float,
                audio: str | os.PathLike[str] | Audio | None = None) -> Path:
    """Write ``out``: ``video``'s picture stream-copied, the audio delayed by ``shift_ms`` (a
    negative shift advances it). ``audio`` replaces the video's own track (encoded as AAC).
    Written atomically; returns ``out``."""
    if not np.isfinite(shift_ms) or abs(shift_ms) > MAX_SHIFT_MS:
        raise VisemicError(f"shift must be within ±{MAX_SHIFT_MS:.0f} ms, got {shift_ms}")
    src, dst = Path(video), Path(out)
    if dst.resolve() == src.resolve():
        raise VisemicError(f"{dst}: the fixed video must not overwrite its source")
    if dst.suffix.lower() not in (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".mpg", ".ts"):
        raise VisemicError(f"{dst}: give the fixed video a container extension "
                           "(.mp4 .mov .mkv .webm .ts)")
    try:
        with atomic_path(dst) as tmp:
            if audio is None:
                _copy_shifted(src, tmp, shift_ms / 1000.0)
            else:
                _with_new_audio(src, tmp, shift_ms / 1000.0, audio)
    except av.FFmpegError as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise VisemicError(f"{dst}: cannot write the fixed video ({reason}); the streams may "
                           "not fit this container: try .mkv") from None
    return dst


def _copy_shifted(src: Path, dst: Path, shift: float) -> None:
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = _video(inp, src)
        if not inp.streams.audio:
            raise VisemicError(f"{src}: has no audio track to shift")
        ain = inp.streams.audio[0]
        vout = out.add_stream_from_template(vin)
        aout = out.add_stream_from_template(ain)
        moved = round(shift / ain.time_base) if ain.time_base else 0
        for packet in inp.demux(vin, ain):
            if packet.dts is None:
                continue
            if packet.stream is ain:
                packet.pts = None if packet.pts is None else packet.pts + moved
                packet.dts += moved
                packet.stream = aout
            else:
                packet.stream = vout
            out.mux(packet)


def _with_new_audio(src: Path, dst: Path, shift: float,
                    audio: str | os.PathLike[str] | Audio) -> None:
    from visemic import audio as audio_io

    sound = audio_io.load(audio, rate=48000)
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = _video(inp, src)
        vout = out.add_stream_from_template(vin)
        codec = "libopus" if dst.suffix.lower() == ".webm" else "aac"
        aout = out.add_stream(codec, rate=48000, layout="mono")
        start = float(vin.start_time * vin.time_base) if vin.start_time is not None else 0.0
        samples = sound.samples
        pts0 = round((start + shift) * 48000)
        if pts0 < 0:  # advanced past the picture's start: that much of the audio is dropped
            samples, pts0 = samples[-pts0:], 0
        step = 48000
        for i in range(0, len(samples), step):
            chunk = np.ascontiguousarray(samples[i:i + step][None, :], np.float32)
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            frame.sample_rate = 48000
            frame.pts = pts0 + i
            frame.time_base = Fraction(1, 48000)
            for packet in aout.encode(frame):
                out.mux(packet)
        for packet in aout.encode(None):
            out.mux(packet)
        for packet in inp.demux(vin):
            if packet.dts is None:
                continue
            packet.stream = vout
            out.mux(packet)


def _video(container: av.container.InputContainer, src: Path) -> av.VideoStream:
    if not container.streams.video:
        raise VisemicError(f"{src}: contains no video stream")
    return container.streams.video[0]
