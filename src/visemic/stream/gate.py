"""The stream's energy gate: running levels, noise floor and speech level, and pauses.

The rules of :mod:`visemic.phonetics.silence` applied as audio arrives: 10 ms RMS levels, a
noise floor and speech level re-estimated every :data:`LEVEL_UPDATE` seconds from the last
:data:`LEVEL_HISTORY` seconds, quiet frames (below the speech threshold) and pauses (quiet for at
least :data:`visemic.phonetics.silence.MIN_PAUSE`), where steady voicing a little above the floor
(a murmured "uh", "mm") is speech after all, as offline. The engine drops phones heard in pauses,
rests the face there, and scales the jaw by :meth:`EnergyGate.loudness`.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from visemic.phonetics import silence
from visemic.prosody import speech_range

RATE = 16000                 # samples per second of the audio measured
FRAME = 0.01                 # one level frame, seconds
HOP = int(RATE * FRAME)
LEVEL_HISTORY = 10.0         # seconds of levels the noise floor and speech level come from
LEVEL_UPDATE = 0.25          # how often (seconds) those two are re-estimated
VOICING_CONTEXT = 0.1        # seconds of earlier audio the pitch of new level frames sees
RECENT = 0.8                 # seconds of recent levels kept for the loudness of frames


class EnergyGate:
    """Levels, quiet runs and pauses of one stream's 16 kHz audio, measured chunk by chunk."""

    def __init__(self) -> None:
        self._tail = np.zeros(0, np.float32)   # samples not yet a whole 10 ms level frame
        self._levels: deque[float] = deque(maxlen=int(LEVEL_HISTORY / FRAME))
        self.count = 0               # 10 ms level frames so far
        self.recent_db = np.zeros(0)  # levels of the last RECENT seconds (and the new ones)
        self.recent_start = 0        # level frame index of recent_db[0]
        self.floor, self.peak = -90.0, -20.0
        self._next_update = 0
        self.quiet_run = 0           # quiet level frames at the end of the stream so far
        self._voiced_run = 0         # of those, steadily voiced ones in a row (a murmur)
        self._context = np.zeros(0, np.float32)  # the last VOICING_CONTEXT s of level frames
        self.pauses: list[list[float]] = []  # [start, end] of pauses ≥ MIN_PAUSE (seconds)
        self._min_run = int(round(silence.MIN_PAUSE / FRAME))

    def measure(self, x: np.ndarray, horizon: float) -> None:
        """Take the next samples (float32, -1…1); pauses ending before ``horizon`` (seconds)
        no longer matter to any frame and are forgotten."""
        buf = np.concatenate([self._tail, x]) if len(self._tail) else x
        n = len(buf) // HOP
        self._tail = buf[n * HOP:].copy()
        if not n:
            return
        frames = buf[:n * HOP].reshape(n, HOP)
        # The mean square as np.mean computes it (the same sum, divided by the count).
        db = 20.0 * np.log10(np.sqrt(np.square(frames).sum(axis=1) / HOP + 1e-12) + 1e-9)
        self._levels.extend(db.tolist())
        self.count += n
        if self.count >= self._next_update:
            self.floor, self.peak = speech_range(np.fromiter(self._levels, float))
            self._next_update = self.count + int(LEVEL_UPDATE / FRAME)
        keep = int(RECENT / FRAME) + n
        self.recent_db = np.concatenate([self.recent_db, db])[-keep:]
        self.recent_start = self.count - len(self.recent_db)
        threshold = max(silence.ABSOLUTE_FLOOR_DB, self.floor + silence.ABOVE_NOISE_DB,
                        self.peak - silence.BELOW_PEAK_DB)
        quiet = db <= threshold
        samples = frames.reshape(-1)
        voiced = self._voiced(samples, db, quiet)
        self._context = np.concatenate([self._context, samples])[-int(VOICING_CONTEXT * RATE):]
        if not quiet.any() and not self.quiet_run and not self._voiced_run:
            self._forget(horizon)
            return  # all speech: nothing below changes
        min_run = self._min_run
        min_voiced = int(round(silence.MIN_VOICED / FRAME))
        for i, (q, v) in enumerate(zip(quiet.tolist(), voiced.tolist(), strict=True)):
            self._voiced_run = self._voiced_run + 1 if q and v else 0
            if not q or self._voiced_run > min_voiced:
                self.quiet_run = 0
                continue
            end = (self.count - n + i + 1) * FRAME
            if self._voiced_run == min_voiced:
                # Steady voicing (a murmured "uh", "mm"): speech after all, as offline.
                self._unpause(end - min_voiced * FRAME)
                self.quiet_run = 0
                continue
            self.quiet_run += 1
            if self.quiet_run == min_run:
                self.pauses.append([end - min_run * FRAME, end])
            elif self.quiet_run > min_run:
                self.pauses[-1][1] = end
        self._forget(horizon)

    @property
    def paused(self) -> bool:
        """Whether the stream is in a pause now."""
        return self.quiet_run * FRAME >= silence.MIN_PAUSE

    def _forget(self, horizon: float) -> None:
        while len(self.pauses) > 1 and self.pauses[0][1] < horizon:
            self.pauses.pop(0)

    def _voiced(self, samples: np.ndarray, db: np.ndarray, quiet: np.ndarray) -> np.ndarray:
        """Per new level frame: steady voicing a little above the noise floor
        (:func:`visemic.phonetics.silence.steady_voicing`, with some earlier audio as context).
        Only quiet frames can be murmurs: the pitch is looked for only when one of them is loud
        enough to count (the answer is all False otherwise)."""
        loud = db > max(silence.ABSOLUTE_FLOOR_DB, self.floor + silence.ABOVE_FLOOR_VOICED_DB)
        if not (quiet & loud).any():
            return np.zeros(len(db), bool)
        x = np.concatenate([self._context, samples])
        steady = silence.steady_voicing(x, RATE)[-len(db):]
        return steady & loud

    def _unpause(self, t: float) -> None:
        """End the latest pause at ``t``; drop it if what is left is too short to be one."""
        if self.pauses and self.pauses[-1][1] > t:
            self.pauses[-1][1] = t
            if self.pauses[-1][1] - self.pauses[-1][0] < silence.MIN_PAUSE - 1e-9:
                self.pauses.pop()

    def in_pause(self, t: float) -> bool:
        return any(a <= t < b for a, b in self.pauses)

    def loudness(self, times: np.ndarray) -> np.ndarray:
        """0…1 relative to the running speech level, averaged over 50 ms around each time."""
        if not len(self.recent_db):
            return np.zeros(len(times))
        loud = np.clip((self.recent_db - self.floor) / max(self.peak - self.floor, 1e-3),
                       0.0, 1.0)
        src = (self.recent_start + np.arange(len(loud)) + 0.5) * FRAME
        if len(loud) >= 5:  # 50 ms of 10 ms levels
            loud = np.convolve(loud, np.full(5, 0.2), mode="same")
        return np.interp(times, src, loud)
