"""Where live audio comes from: a file played out in real time (or as fast as possible), or the
microphone. Both yield float32 mono chunks at 16 kHz."""

from __future__ import annotations

import os
import queue
import time
from collections.abc import Iterator

import numpy as np

from visemic import audio as audio_io
from visemic.errors import VisemicError

RATE = audio_io.RATE
CHUNK = 0.02           # seconds per chunk handed to the engine
MIC_BACKLOG = 2.0      # seconds of microphone audio that may wait for the engine


def file_chunks(path: str | os.PathLike[str], realtime: bool = True,
                chunk: float = CHUNK) -> Iterator[np.ndarray]:
    """The file's audio in ``chunk``-second pieces; with ``realtime`` each piece is yielded
    when it would have finished arriving from a live source (as a player would play it)."""
    n = max(1, int(round(chunk * RATE)))
    start = time.monotonic()
    sent = 0
    rest = np.zeros(0, np.float32)
    for block in audio_io.stream(path, chunk_seconds=1.0):
        rest = np.concatenate([rest, block]) if len(rest) else block
        whole = len(rest) // n * n
        for i in range(0, whole, n):
            sent += n
            if realtime:
                _sleep_until(start + sent / RATE)
            yield rest[i:i + n]
        rest = rest[whole:]
    if len(rest):
        sent += len(rest)
        if realtime:
            _sleep_until(start + sent / RATE)
        yield rest


def _sleep_until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def microphone_chunks(seconds: float | None = None, device: str | None = None,
                      chunk: float = CHUNK) -> Iterator[np.ndarray]:
    """Chunks from the default (or named) input device until ``seconds`` have been captured
    (forever when None; stop with Ctrl-C).

    Needs the ``sounddevice`` package and the PortAudio library; raises ``VisemicError`` in one
    line when either is missing or the device cannot be opened. The capture callback hands audio
    over through a queue bounded to ``MIC_BACKLOG`` seconds: if the consumer falls that far
    behind, the stream stops with an error rather than buffering without limit.
    """
    try:
        import sounddevice
    except (ImportError, OSError) as exc:
        raise VisemicError(f"microphone input needs the sounddevice package and the PortAudio "
                           f"library ({exc}); stream a file instead") from None
    blocksize = max(1, int(round(chunk * RATE)))
    backlog: queue.Queue[np.ndarray | None] = queue.Queue(
        maxsize=max(2, int(MIC_BACKLOG / chunk)))
    overflowed = []

    def callback(indata: np.ndarray, frames: int, when: object, status: object) -> None:
        try:
            backlog.put_nowait(indata[:, 0].copy())
        except queue.Full:
            overflowed.append(True)

    try:
        stream = sounddevice.InputStream(samplerate=RATE, channels=1, dtype="float32",
                                         blocksize=blocksize, device=device, callback=callback)
    except Exception as exc:  # PortAudioError, ValueError for bad devices
        raise VisemicError(f"cannot open the microphone ({exc})") from None
    captured = 0
    limit = None if seconds is None else int(seconds * RATE)
    with stream:
        while limit is None or captured < limit:
            if overflowed:
                raise VisemicError("the animation fell more than "
                                   f"{MIC_BACKLOG:g} s behind the microphone")
            try:
                block = backlog.get(timeout=2.0)
            except queue.Empty:
                raise VisemicError("the microphone delivers no audio") from None
            if limit is not None:
                block = block[:limit - captured]
            captured += len(block)
            yield block
