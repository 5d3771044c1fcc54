"""Writing a dubbed video: frames with their exact times, the new speech muxed beside them.

- ``.mp4``: H.264 at CRF :data:`CRF` (visually lossless), yuv420p, AAC; x264's preset
  ``superfast``, ``ultrafast`` above 720p (:data:`PRESETS`).
- ``.webm``: VP9 (constant quality), Opus.
- ``frames/%05d.png`` (or a folder): PNG pictures, numbered from 0, no sound.

Each frame keeps its own presentation time (on a 90 kHz clock in MP4, milliseconds in WebM), so
29.97 fps stays 30000/1001 and variable-frame-rate video keeps its rhythm. Encoding and muxing
run on a second thread (PyAV releases the GIL while it encodes) with a short queue, so memory
stays flat. Everything is written atomically: a failure leaves nothing at the output path.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import threading
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from visemic.errors import VisemicError
from visemic.outputs import frame_files
from visemic.outputs.atomic import atomic_path
from visemic.outputs.video import hand_over, raise_encoder_error

CRF = 18
# (largest picture in pixels, x264 preset), first match. At CRF 18 "superfast" is closer to the
# source than "veryfast" (luma PSNR 48.3 against 46.9 dB at 700², 49.9 against 48.5 at
# 1080×1920) at 60 % of its CPU (4.9 against 8.2 ms a frame at 700²), for files 1.7–2.2× as
# large. Above 720p x264 is the largest stage: "ultrafast" (no deblocking, no CABAC; 49.4 dB,
# still above veryfast) takes 9.5 against 23 ms a 1080×1920 frame, for files 1.5× as large
# (~9 Mbit/s at 30 fps). See bench/dub_speed.py.
PRESETS = ((1280 * 720, "superfast"), (1 << 40, "ultrafast"))
VP9_CRF = 24
AUDIO_RATE = 48000


def output_kind(path: str | os.PathLike[str]) -> str:
    """"mp4", "webm" or "png" for an output path; a :class:`VisemicError` for anything else."""
    text = os.fspath(path)
    suffix = Path(text).suffix.lower()
    if suffix in (".mp4", ".m4v", ".mov"):
        return "mp4"
    if suffix == ".webm":
        return "webm"
    if frame_files.is_pattern(text) or text.endswith(("/", os.sep)) \
            or Path(text).is_dir():
        return "png"
    if suffix == ".png":
        raise VisemicError(f"{text}: PNG frames need a frame number in the name, "
                           f"e.g. {Path(text).parent / '%05d.png'}")
    raise VisemicError(f"not a video path: {text} (use .mp4, .webm or frames/%05d.png)")


def refuse_inputs(path: str | os.PathLike[str], inputs: dict[str, str | None],
                  label: str = "") -> None:
    """A :class:`VisemicError` when ``path`` is one of ``inputs`` (role → path; None skipped):
    the finished dub would replace its own source. ``label`` starts the message (``"-o "``)."""
    out = os.fspath(path)
    if not Path(out).is_file():
        return
    for role, given in inputs.items():
        if given and Path(given).is_file() and os.path.samefile(out, given):
            raise VisemicError(f"{label}{out} is {role}: write the dub to another file (it would "
                               "replace its own source)")


class AudioTrack:
    """The new speech, decoded as a stream: ``offset`` seconds of it are skipped (negative:
    silence first) and it ends at ``duration`` seconds."""

    def __init__(self, path: str, offset: float, duration: float) -> None:
        self.container = av.open(path)
        if not self.container.streams.audio:
            self.container.close()
            raise VisemicError(f"{path}: contains no audio stream")
        src = self.container.streams.audio[0]
        layout = "stereo" if (src.codec_context.channels or 1) >= 2 else "mono"
        self.rate = AUDIO_RATE
        self.layout = layout
        self.resampler = av.AudioResampler(format="fltp", layout=layout, rate=self.rate)
        self.frames = self.container.decode(src)
        self.skip = int(round(max(0.0, offset) * self.rate))
        self.pad = int(round(max(0.0, -offset) * self.rate))
        self.end = int(round(duration * self.rate))
        self.written = 0
        self.done = False

    def chunks(self, until: float) -> list[np.ndarray]:
        """Sample blocks (channels × n float32) up to ``until`` seconds of output."""
        want = min(self.end, int(round(until * self.rate)))
        out: list[np.ndarray] = []
        channels = 2 if self.layout == "stereo" else 1
        if self.pad and self.written < want:
            n = min(self.pad, want - self.written)
            out.append(np.zeros((channels, n), np.float32))
            self.pad -= n
            self.written += n
        while self.written < want and not self.done:
            try:
                frame = next(self.frames)
                resampled = self.resampler.resample(frame)
            except StopIteration:
                self.done = True
                resampled = self.resampler.resample(None)
            except av.FFmpegError:
                self.done = True
                resampled = []
            for f in resampled:
                block = f.to_ndarray().astype(np.float32).reshape(channels, -1)
                if self.skip:
                    cut = min(self.skip, block.shape[1])
                    block = block[:, cut:]
                    self.skip -= cut
                block = block[:, :max(0, self.end - self.written)]
                if block.shape[1]:
                    out.append(block)
                    self.written += block.shape[1]
        return out

    def close(self) -> None:
        self.container.close()


class VideoWriter:
    """Encodes RGB frames with their times (see the module docstring). Use as a context
    manager: leaving it with an exception removes everything written."""

    def __init__(self, path: str | os.PathLike[str], size: tuple[int, int], fps: float,
                 audio: AudioTrack | None = None) -> None:
        self.path = Path(path)
        self.kind = output_kind(path)
        self.width, self.height = size[0] - size[0] % 2, size[1] - size[1] % 2
        self.fps = fps
        self.audio = audio
        self.count = 0
        self._last_pts = -1
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> VideoWriter:
        if self.kind == "png":
            self._open_png()
        else:
            self._open_container()
        return self

    # ---------------------------------------------------------------- containers

    def _open_container(self) -> None:
        tmp = self._stack.enter_context(atomic_path(self.path))
        options = {"movflags": "+faststart"} if self.kind == "mp4" else {}
        self.container = self._stack.enter_context(
            av.open(str(tmp), "w", format=self.kind, options=options))
        rate = Fraction(self.fps).limit_denominator(1001)
        if self.kind == "mp4":
            self.clock = Fraction(1, 90000)
            v = self.container.add_stream("libx264", rate=rate)
            pixels = self.width * self.height
            preset = next(name for most, name in PRESETS if pixels <= most)
            v.options = {"crf": str(CRF), "preset": preset}
        else:
            self.clock = Fraction(1, 1000)
            v = self.container.add_stream("libvpx-vp9", rate=rate)
            v.options = {"crf": str(VP9_CRF), "b": "0", "deadline": "realtime",
                         "cpu-used": "6", "row-mt": "1"}
        v.pix_fmt = "yuv420p"
        v.width, v.height = self.width, self.height
        v.codec_context.time_base = self.clock
        self.vstream = v
        self.astream = None
        if self.audio is not None:
            codec = "aac" if self.kind == "mp4" else "libopus"
            self.astream = self.container.add_stream(codec, rate=self.audio.rate,
                                                     layout=self.audio.layout)
            if self.kind == "mp4":
                self.astream.bit_rate = 192000
            self._audio_pts = 0
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=4)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="visemic-dub-encoder",
                                       daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while True:
                item = self.queue.get()
                if item is None:
                    break
                image, t, i420 = item
                # OpenCV's BT.601 limited-range conversion is FFmpeg's (swscale's) to within a
                # level, at a twentieth of the time (at 1080×1920: ~1.5 against ~25 ms a frame).
                yuv = image if i420 else cv2.cvtColor(image, cv2.COLOR_RGB2YUV_I420)
                frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
                frame.pts = t
                frame.time_base = self.clock
                for packet in self.vstream.encode(frame):
                    self.container.mux(packet)
                self._feed_audio(float(t * self.clock) + 0.5)
            for packet in self.vstream.encode(None):
                self.container.mux(packet)
            self._feed_audio(float("inf"), final=True)
        except BaseException as exc:  # handed to the caller's thread
            self.error = exc
            with contextlib.suppress(queue.Empty):
                while True:
                    self.queue.get_nowait()

    def _feed_audio(self, until: float, final: bool = False) -> None:
        if self.audio is None or self.astream is None:
            return
        for block in self.audio.chunks(until if until != float("inf") else 1e9):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format="fltp",
                                               layout=self.audio.layout)
            frame.sample_rate = self.audio.rate
            frame.pts = self._audio_pts
            frame.time_base = Fraction(1, self.audio.rate)
            self._audio_pts += block.shape[1]
            for packet in self.astream.encode(frame):
                self.container.mux(packet)
        if final:
            for packet in self.astream.encode(None):
                self.container.mux(packet)

    # ---------------------------------------------------------------- PNG frames

    def _open_png(self) -> None:
        self.folder, self.pattern = frame_files.split(self.path)
        self.created = not self.folder.exists()
        self.tmp = frame_files.staging(self.folder)

    # ---------------------------------------------------------------- frames

    def put(self, image: np.ndarray, time: float, i420: bool = False) -> None:
        """Add the next frame (H×W×3 RGB uint8; with ``i420`` planar YUV 4:2:0, (H·3/2)×W,
        of the writer's even size) shown at ``time`` seconds of the output.
        The writer reads ``image`` on its own thread a little later: do not change it after."""
        if i420:
            if image.shape != (self.height * 3 // 2, self.width):
                raise ValueError(f"a YUV 4:2:0 picture of {self.width}×{self.height} expected")
            pic = image if self.kind != "png" else cv2.cvtColor(image, cv2.COLOR_YUV2RGB_I420)
        else:
            pic = image[:self.height, :self.width]  # (no copy: 6 ms a frame at 1080×1920)
        if self.kind == "png":
            path = self.tmp / frame_files.name(self.pattern, self.count)
            if not cv2.imwrite(str(path), cv2.cvtColor(pic, cv2.COLOR_RGB2BGR)):
                raise VisemicError(f"cannot write {path}")
            self.count += 1
            return
        pts = max(int(round(time / self.clock)), self._last_pts + 1)
        self._last_pts = pts
        if not hand_over(self.queue, self.thread, (pic, pts, i420)):
            raise_encoder_error(self.error)
        self.count += 1

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        if self.kind == "png":
            try:
                if exc is None:
                    frame_files.publish(self.tmp, self.folder, self.pattern, self.count)
                elif self.created:
                    shutil.rmtree(self.folder, ignore_errors=True)
            finally:
                shutil.rmtree(self.tmp, ignore_errors=True)
            return
        try:
            hand_over(self.queue, self.thread, None)
            self.thread.join()
            if exc is None and self.error is not None:
                raise self.error
        finally:
            if self.audio is not None:
                self.audio.close()
            if exc is None and self.error is None:
                self._stack.close()
            else:
                self._stack.__exit__(type(exc or self.error), exc or self.error, None)
