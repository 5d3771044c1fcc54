"""Head motion from prosody: nods on accents, tilts and turns at phrase starts, idle sway.

Speakers nod on stressed, loud syllables and reset their head posture at phrase starts (Hadar et
al. 1983; Graf et al. 2002); between phrases the head keeps drifting slowly. Angles are degrees
(headYaw, headPitch, headRoll; headPitch > 0 nods the nose down), scaled by ``scale`` and clipped
softly to ±:data:`LIMIT_DEG`.
"""

from __future__ import annotations

import numpy as np

from visemic.motion.speech_events import Accent

LIMIT_DEG = 15.0
NOD_DEG = 3.0        # nod of a full-strength accent
NOD_TAU = 0.12       # nod rise time (s); the head leads the syllable slightly
SWAY_DEG = (2.0, 1.2, 1.0)    # idle sway amplitude (yaw, pitch, roll)


def soft_clip(x: np.ndarray, limit: float = LIMIT_DEG) -> np.ndarray:
    """Linear near 0, approaching ±``limit`` smoothly (never reaching it)."""
    return limit * np.tanh(x / limit)


def smooth_noise(times: np.ndarray, rng: np.random.Generator, amplitude: float,
                 low: float = 0.05, high: float = 0.35) -> np.ndarray:
    """A smooth random wander: a few sinusoids with random frequencies in [low, high] Hz and
    random phases, of RMS about ``amplitude``."""
    k = 4
    freqs = rng.uniform(low, high, k)
    phases = rng.uniform(0, 2 * np.pi, k)
    weights = rng.uniform(0.5, 1.0, k) / np.sqrt(np.arange(1, k + 1))
    x = np.sum(weights[:, None] * np.sin(2 * np.pi * freqs[:, None] * times[None, :]
                                         + phases[:, None]), axis=0)
    return amplitude * x / max(1e-6, float(np.sqrt(np.sum(weights ** 2) / 2)))


def _smooth(x: np.ndarray, fps: float, sigma: float) -> np.ndarray:
    """Gaussian smoothing with ``sigma`` seconds (edges held)."""
    r = max(1, int(3 * sigma * fps))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / (sigma * fps)) ** 2)
    k /= k.sum()
    return np.convolve(np.pad(x, r, mode="edge"), k, mode="valid")


def motion(times: np.ndarray, accents: list[Accent], phrases: list[tuple[float, float]],
           speaking: np.ndarray, rng: np.random.Generator, scale: float = 1.0
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(yaw, pitch, roll) in degrees at ``times``, scaled by ``scale`` but not yet clipped (the
    caller adds posture and clips the sum with :func:`soft_clip`)."""
    n = len(times)
    if n == 0 or scale == 0:
        z = np.zeros(n, np.float32)
        return z, z.copy(), z.copy()
    fps = 1.0 / (times[1] - times[0]) if n > 1 else 60.0
    # Idle sway, a little larger while silent (the head is freer when the face is not busy).
    idle = 1.0 + 0.3 * (1.0 - speaking)
    yaw = smooth_noise(times, rng, SWAY_DEG[0]) * idle
    pitch = smooth_noise(times, rng, SWAY_DEG[1]) * idle
    roll = smooth_noise(times, rng, SWAY_DEG[2], 0.03, 0.2) * idle

    # Posture per phrase: a new tilt and turn at each phrase start, held through the phrase.
    pose_yaw = np.zeros(n)
    pose_roll = np.zeros(n)
    pose_pitch = np.zeros(n)
    for a, b in phrases:
        i0 = max(0, int((a - 0.15) * fps))
        i1 = min(n, int((b + 0.4) * fps))
        pose_yaw[i0:i1] = rng.normal(0.0, 2.5)
        pose_roll[i0:i1] = rng.choice([-1.0, 1.0]) * rng.uniform(1.0, 3.5)
        pose_pitch[i0:i1] = rng.uniform(-1.5, 0.5)  # phrase starts lift the chin a little
    yaw += _smooth(pose_yaw, fps, 0.25)
    roll += _smooth(pose_roll, fps, 0.3)
    pitch += _smooth(pose_pitch, fps, 0.3)

    # Nods: a quick down-and-back on each prominent syllable, a little sideways turn with it.
    nods = np.zeros(n)
    turns = np.zeros(n)
    for acc in accents:
        if acc.strength < 0.45:
            continue
        amp = NOD_DEG * (acc.strength - 0.3) / 0.7 * rng.uniform(0.7, 1.2)
        t0 = acc.start - 0.05
        i0, i1 = max(0, int(t0 * fps)), min(n, int((t0 + 8 * NOD_TAU) * fps) + 1)
        u = np.clip((times[i0:i1] - t0) / NOD_TAU, 0.0, None)
        bump = u * np.exp(1.0 - u)  # peaks at NOD_TAU after t0
        nods[i0:i1] += amp * bump
        turns[i0:i1] += 0.3 * amp * rng.choice([-1.0, 1.0]) * bump
    pitch += nods
    yaw += turns

    return tuple((scale * c).astype(np.float32) for c in (yaw, pitch, roll))
