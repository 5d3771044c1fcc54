"""Blinks and head sway for a live stream, generated as its frames come due.

The batch path plans blinks and head motion over the whole utterance
(:mod:`visemic.motion.eyes`, :mod:`visemic.motion.head`); a stream cannot look ahead, so here
blinks are drawn one at a time from the same renewal process (gamma intervals at about
``blink_rate`` a minute, a refractory gap, the same blink shape) and the head sways on the same
smooth random wander, a little wider while the speaker is silent. Seeded: a stream's motion
depends only on its seed and on time.
"""

from __future__ import annotations

import numpy as np

from visemic.motion import eyes, head

SWAY_BLOCK = 2.0   # seconds of head wander computed at once


class IdleMotion:
    """``frames(times, speaking)`` → (eyeBlink per frame, [frames × 3] head yaw/pitch/roll, °)."""

    def __init__(self, seed: int = 0, blink_rate: float = eyes.BLINK_RATE,
                 head_motion: float = 1.0) -> None:
        self._rng = np.random.default_rng(seed)
        self._seed = seed
        self._rate = blink_rate
        self._scale = head_motion
        self._blinks: list[tuple[float, float]] = []
        self._wide = 0.3          # extra sway while silent, eased towards 0 or 0.3
        self._wide_at: float | None = None
        self._grid: np.ndarray | None = None
        self._sway_grid = np.zeros((0, 3))
        gap = 60.0 / blink_rate if blink_rate > 0 else np.inf
        self._next = self._rng.uniform(0.3, gap) if blink_rate > 0 else np.inf

    def _sway(self, times: np.ndarray) -> np.ndarray:
        """The wander at ``times`` ([n × 3] degrees), computed a block ahead (it is smooth and
        depends only on time, so interpolating a 20 ms grid is exact enough)."""
        if self._grid is None or times[-1] > self._grid[-1] or times[0] < self._grid[0]:
            grid = times[0] + np.arange(0.0, SWAY_BLOCK + 0.04, 0.02)
            sway = np.empty((len(grid), 3))
            for k, amplitude in enumerate(head.SWAY_DEG):
                # A fresh generator with the stream's seed: the same wander in every block.
                rng = np.random.default_rng((self._seed, k))
                sway[:, k] = head.smooth_noise(grid, rng, amplitude)
            self._grid, self._sway_grid = grid, sway
        return np.stack([np.interp(times, self._grid, self._sway_grid[:, k]) for k in range(3)],
                        axis=1)

    def frames(self, times: np.ndarray, speaking: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean_gap = 60.0 / self._rate if self._rate > 0 else np.inf
        while self._next <= times[-1]:
            self._blinks.append((self._next, self._rng.uniform(eyes.BLINK_MIN, eyes.BLINK_MAX)))
            self._next += max(eyes.REFRACTORY, self._rng.gamma(3.0, mean_gap / 3.0))
        self._blinks = [b for b in self._blinks if b[0] + b[1] >= times[0]]
        t0 = times[0]
        # blink_curve expects times from 0: shift both.
        blink = eyes.blink_curve(times - t0, [(s - t0, d) for s, d in self._blinks])
        angles = np.zeros((len(times), 3), np.float32)
        if self._scale > 0:
            # Eased (0.5 s) so that starting or stopping speech never jolts the head.
            wider = np.empty(len(times))
            for i, talking in enumerate(speaking.tolist()):
                dt = times[i] - self._wide_at if self._wide_at is not None else 0.0
                target = 0.0 if talking else 0.3
                self._wide += (target - self._wide) * (1 - np.exp(-dt / 0.5))
                self._wide_at = times[i]
                wider[i] = 1.0 + self._wide
            angles = head.soft_clip(self._sway(times) * wider[:, None] * self._scale)
        return blink, angles
