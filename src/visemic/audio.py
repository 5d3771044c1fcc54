"""Audio in: decode any format (PyAV's bundled ffmpeg), downmix and resample once to 16 kHz mono.

Everything downstream works on 16 kHz float32 mono, the acoustic model's rate. Decoding is
streamed frame by frame through ffmpeg's resampler, so only the 16 kHz result is ever held, and
:func:`stream` yields it in chunks for files too long to hold at all. A well-formed WAV of 16-bit
PCM already at that rate is read without ffmpeg (the same samples, bit for bit): PyAV's libraries
are 18 MB resident for the rest of the process, beside Whisper's peak (issue 22).
"""

from __future__ import annotations

import builtins
import collections
import contextlib
import contextvars
import importlib
import os
import struct
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import soxr

from visemic.errors import VisemicError
from visemic.types import Audio

if TYPE_CHECKING:
    import av

RATE = 16000
# Shorter than any speech sound: such a "file" is a broken header, not a recording.
MIN_SECONDS = 0.02

# The most audio a file may decode to (seconds; None: no limit), set by a server for the analyses
# it runs (:func:`duration_limit`). Counted from decoded samples: a header can claim anything.
_MAX_SECONDS: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "visemic_max_seconds", default=None)


@contextlib.contextmanager
def duration_limit(seconds: float | None) -> Iterator[None]:
    """Within the block, decoding a file longer than ``seconds`` raises :class:`VisemicError`
    as soon as that much has decoded (so a 12-hour file costs no more than the limit)."""
    token = _MAX_SECONDS.set(seconds)
    try:
        yield
    finally:
        _MAX_SECONDS.reset(token)


def load(source: str | os.PathLike[str] | Audio | np.ndarray, sample_rate: int | None = None,
         rate: int = RATE) -> Audio:
    """Return ``source`` as mono float32 at ``rate`` Hz.

    ``source`` may be a path to any audio (or video) file, an :class:`Audio`, or an array of
    samples (``[n]`` or ``[n, channels]``; integers are scaled from their type's range) with its
    ``sample_rate``.
    """
    if isinstance(source, Audio):
        return from_array(source.samples, source.sample_rate, rate, path=source.path)
    if isinstance(source, np.ndarray):
        if not sample_rate:
            raise VisemicError("sample_rate is required when passing an array of samples")
        return from_array(source, sample_rate, rate)
    path = Path(source)
    chunks = list(stream(path, rate=rate))
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    if samples.size == 0:
        raise VisemicError(f"{path}: no audio samples in the file")
    if samples.size < MIN_SECONDS * rate:
        raise VisemicError(f"{path}: only {samples.size / rate * 1000:.0f} ms of audio decodes;"
                           " the file looks truncated")
    return Audio(samples=samples, sample_rate=rate, path=str(path))


def from_array(samples: np.ndarray, sample_rate: int, rate: int = RATE,
               path: str | None = None) -> Audio:
    """Downmix, scale to float32 and resample an array of samples."""
    x = np.asarray(samples)
    if np.issubdtype(x.dtype, np.integer):
        info = np.iinfo(x.dtype)
        x = (x.astype(np.float32) - (info.max + info.min + 1) / 2) / (info.max + 1 - info.min) * 2
    if x.ndim == 2:
        # Accept both [n, channels] and [channels, n]: channels are the short axis.
        x = x.mean(axis=0 if x.shape[0] < x.shape[1] else 1)
    elif x.ndim != 1:
        raise VisemicError(f"audio array must be 1-D or 2-D, got shape {x.shape}")
    x = x.astype(np.float32, copy=False)
    if x.size == 0:
        raise VisemicError("no audio samples")
    if not np.all(np.isfinite(x)):
        raise VisemicError("audio contains NaN or infinite samples")
    if sample_rate <= 0:
        raise VisemicError(f"invalid sample rate {sample_rate}")
    if sample_rate != rate:
        x = soxr.resample(x, sample_rate, rate).astype(np.float32, copy=False)
    return Audio(samples=x, sample_rate=rate, path=path)


class _Deferred(types.ModuleType):
    """What ``import av`` gives a thread within :func:`ffmpeg_deferred`: PyAV itself is loaded
    at the stand-in's first use."""

    def __getattr__(self, name: str) -> Any:
        return getattr(_ffmpeg(), name)


_STAND_IN = _Deferred("av")


class _DeferringImport:
    """``builtins.__import__`` while some thread is within :func:`ffmpeg_deferred`: that thread's
    ``import av`` (PyAV not yet imported) gives the stand-in; every other import, and every
    other thread's, is the plain one. The stand-in never enters ``sys.modules``, so a thread
    importing PyAV meanwhile gets PyAV (a stand-in there raced with it: ``import av.audio``
    failed, a concurrent first import could be overwritten)."""

    def __init__(self, plain: Any) -> None:
        self.plain = plain
        self.threads: collections.Counter[int] = collections.Counter()

    def __call__(self, name: str, globals: Any = None, locals: Any = None,
                 fromlist: Any = (), level: int = 0) -> Any:
        if (name == "av" and level == 0 and not fromlist and "av" not in sys.modules
                and threading.get_ident() in self.threads):
            return _STAND_IN
        return self.plain(name, globals, locals, fromlist, level)


_defer_lock = threading.Lock()
_deferring: _DeferringImport | None = None


@contextlib.contextmanager
def ffmpeg_deferred() -> Iterator[None]:
    """Within the block, this thread's ``import av`` (not yet imported) gives a stand-in that
    loads PyAV when first used: faster-whisper imports it for files this module decodes itself,
    and a WAV file analysed never needs it (18 MB resident beside Whisper's peak). Other threads
    import PyAV as usual meanwhile."""
    global _deferring
    me = threading.get_ident()
    with _defer_lock:
        if _deferring is None:
            _deferring = _DeferringImport(builtins.__import__)
            builtins.__import__ = _deferring
        hook = _deferring
        hook.threads[me] += 1
    try:
        yield
    finally:
        with _defer_lock:
            hook.threads[me] -= 1
            if hook.threads[me] <= 0:
                del hook.threads[me]
            if not hook.threads:
                # Put back only our own hook (another may have been put over it: ours then stays
                # beneath it, passing every import through).
                if builtins.__import__ is hook:
                    builtins.__import__ = hook.plain
                _deferring = None


def _ffmpeg() -> Any:
    """PyAV, loaded (not through ``__import__``: within :func:`ffmpeg_deferred` that would give
    the stand-in again)."""
    return importlib.import_module("av")


class PcmWav(NamedTuple):
    """Where a WAV file's 16-bit PCM samples are."""

    rate: int
    channels: int
    offset: int  # of the data, in bytes
    frames: int


WAVE_FORMAT_PCM = 1


def pcm_wav(path: str | os.PathLike[str]) -> PcmWav | None:
    """``path`` as a plain WAV file of 16-bit PCM (format 1, its data chunk whole in the file),
    else None (anything else, or anything odd, is ffmpeg's to read)."""
    # Not the standard library's wave: it trusts the RIFF size, which streaming writers leave
    # 0 or wrong (wave then refuses the file, or reads a short one silently where ffmpeg reads
    # it all), and does not say where the data chunk lies, to check it is whole in the file.
    try:
        with open(path, "rb") as fp:
            size = os.fstat(fp.fileno()).st_size
            head = fp.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:] != b"WAVE":
                return None
            fmt = None
            while True:
                chunk = fp.read(8)
                if len(chunk) < 8:
                    return None
                name, length = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if name == b"fmt ":
                    if length < 16:
                        return None
                    fmt = struct.unpack("<HHIIHH", fp.read(16))
                    fp.seek(length - 16 + (length & 1), 1)
                elif name == b"data":
                    if fmt is None:
                        return None
                    tag, channels, rate, _, align, bits = fmt
                    start = fp.tell()
                    if (tag != WAVE_FORMAT_PCM or bits != 16 or channels < 1 or rate < 1
                            or align != 2 * channels or length == 0 or length % align
                            or start + length > size):
                        return None
                    return PcmWav(rate, channels, start, length // align)
                else:
                    fp.seek(length + (length & 1), 1)
    except (OSError, struct.error):
        return None


def _read_pcm_wav(path: Path, wav: PcmWav, chunk_seconds: float) -> Iterator[np.ndarray]:
    """The samples of a :func:`pcm_wav` file as float32 mono, as ffmpeg gives them (x / 32768,
    the channels' mean), ``chunk_seconds`` at a time."""
    step = max(1, int(chunk_seconds * wav.rate))
    limit = _MAX_SECONDS.get()
    most = int(limit * wav.rate) if limit is not None else None
    with open(path, "rb") as fp:
        fp.seek(wav.offset)
        for start in range(0, wav.frames, step):
            if most is not None and start + min(step, wav.frames - start) > most:
                raise VisemicError(f"{path}: the audio is longer than this server's limit of "
                                   f"{_duration(limit)}")
            n = min(step, wav.frames - start)
            pcm = np.frombuffer(fp.read(n * 2 * wav.channels), "<i2")
            x = pcm.astype(np.float32) * np.float32(1 / 32768)
            if wav.channels > 1:
                x = x.reshape(-1, wav.channels).mean(axis=1, dtype=np.float32)
            yield x


def probe_duration(path: str | os.PathLike[str]) -> float | None:
    """The container's declared duration in seconds, if it states one (cheap: no decoding)."""
    wav = pcm_wav(path)
    if wav is not None:
        return wav.frames / wav.rate
    av = _ffmpeg()
    try:
        with av.open(str(path)) as container:
            stream_ = container.streams.audio[0]
            if stream_.duration is not None and stream_.time_base is not None:
                return float(stream_.duration * stream_.time_base)
            if container.duration is not None:
                return container.duration / 1_000_000
    except (av.FFmpegError, IndexError, OSError):
        return None
    return None


def stream(path: str | os.PathLike[str], rate: int = RATE,
           chunk_seconds: float = 10.0) -> Iterator[np.ndarray]:
    """Decode ``path`` to mono float32 at ``rate``, yielding chunks of about ``chunk_seconds``.

    Raises :class:`VisemicError` naming the file when it is missing, not audio, or broken before
    any audio could be read. A file truncated mid-stream yields what decodes (as players do).
    """
    path = Path(path)
    if not path.exists():
        raise VisemicError(f"{path}: no such file")
    if path.is_dir():
        raise VisemicError(f"{path}: is a directory, not an audio file")
    if path.stat().st_size == 0:
        raise VisemicError(f"{path}: file is empty")
    wav = pcm_wav(path)
    if wav is not None and wav.rate == rate:
        yield from _read_pcm_wav(path, wav, chunk_seconds)
        return
    av = _ffmpeg()
    try:
        container = av.open(str(path))
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise VisemicError(f"{path}: not a readable audio file ({_reason(exc)})") from None
    with container:
        if not container.streams.audio:
            raise VisemicError(f"{path}: contains no audio stream")
        audio_stream = container.streams.audio[0]
        # Keep the channels and average them ourselves: ffmpeg's mono downmix adds channels at
        # -3 dB, which overshoots full scale when they are correlated. Packed (interleaved)
        # output, one plane whatever the channel count: PyAV reads planar frames of more than 8
        # channels past the end of AVFrame.data (SIGSEGV).
        resampler = av.AudioResampler(format="flt", rate=rate)
        target = int(chunk_seconds * rate)
        limit = _MAX_SECONDS.get()
        most = int(limit * rate) if limit is not None else None
        pending: list[np.ndarray] = []
        held = decoded = 0
        got_any = False
        setup = None
        try:
            for frame in container.decode(audio_stream):
                # A stream may change rate or channels midway (a damaged or spliced file); the
                # resampler is set up for one input, so drain it and start another.
                frame_setup = (frame.format.name, frame.layout.name, frame.sample_rate)
                if setup is not None and frame_setup != setup:
                    pending.extend(_mono(out) for out in resampler.resample(None))
                    resampler = av.AudioResampler(format="flt", rate=rate)
                setup = frame_setup
                for out in resampler.resample(frame):
                    pending.append(_mono(out))
                    held += pending[-1].size
                    decoded += pending[-1].size
                if most is not None and decoded > most:
                    raise VisemicError(f"{path}: the audio is longer than this server's limit of "
                                       f"{_duration(limit)}")
                if held >= target:
                    got_any = True
                    yield _finite(np.concatenate(pending), path)
                    pending, held = [], 0
        except (av.FFmpegError, ValueError) as exc:  # ValueError: PyAV refusing a frame
            if not got_any and held == 0:
                raise VisemicError(f"{path}: cannot decode audio ({_reason(exc)})") from None
            # Truncated or damaged tail: keep what decoded, like media players do.
        for out in resampler.resample(None):
            pending.append(_mono(out))
        if pending:
            yield _finite(np.concatenate(pending), path)


def _duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def _finite(samples: np.ndarray, path: Path) -> np.ndarray:
    """``samples`` if every one is a number: a NaN or infinity (a damaged float file) would turn
    every curve it reaches into NaN, so it is refused rather than computed on."""
    if not np.isfinite(samples).all():
        bad = int(samples.size - np.count_nonzero(np.isfinite(samples)))
        raise VisemicError(f"{path}: the audio holds NaN or infinite samples ({bad} in one "
                           f"stretch); the file is damaged")
    return samples


def _mono(frame: av.AudioFrame) -> np.ndarray:
    """The mean of a packed float frame's channels (any count)."""
    channels = len(frame.layout.channels)
    interleaved = frame.to_ndarray().reshape(-1)
    if channels <= 1:
        return interleaved.astype(np.float32, copy=False)
    return interleaved.reshape(-1, channels).mean(axis=1, dtype=np.float32)


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    # PyAV prefixes "[Errno N] "; keep the human part.
    return text.split("] ", 1)[-1].split(": '", 1)[0]


def save_wav(audio: Audio, path: str | os.PathLike[str]) -> Path:
    """Write ``audio`` as 16-bit PCM mono WAV at its own rate, atomically; returns the path."""
    from visemic.outputs.atomic import atomic_path

    av = _ffmpeg()

    pcm = (np.clip(audio.samples, -1, 1) * 32767).astype(np.int16)[None, :]
    path = Path(path)
    try:
        with atomic_path(path) as tmp, av.open(str(tmp), "w", format="wav") as out:
            stream = out.add_stream("pcm_s16le", rate=audio.sample_rate, layout="mono")
            frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
            frame.sample_rate = audio.sample_rate
            for packet in stream.encode(frame):
                out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
    except OSError as e:
        raise VisemicError(f"cannot write {path}: {e.strerror or e}") from None
    return path
