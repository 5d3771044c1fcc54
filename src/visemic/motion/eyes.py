"""Eyes: blinks and gaze (saccades between holds), as eyeBlink* and eyeLook* curves.

Blinks are a renewal process: gamma-distributed intervals (more regular than Poisson) at a base
rate, a refractory gap, and extra blinks just after phrase boundaries, where people blink most
(Doughty 2001; Nakano & Kitazawa 2009). Each blink lasts 150–300 ms: a fast close, a short hold
and a slower open. Gaze holds for 0.4–2.5 s, jumps in 3-frame saccades to a point near the camera
(farther at phrase starts, the usual look-away while planning speech), and drifts back toward the
camera during a hold. Eye angles map to the eyeLook* blendshapes at :data:`EYE_RANGE_DEG` per
unit, the range used for ARKit rigs.
"""

from __future__ import annotations

import numpy as np

BLINK_RATE = 17.0            # blinks per minute, the adult conversational mean
BLINK_MIN, BLINK_MAX = 0.15, 0.30   # blink duration (s)
REFRACTORY = 0.6             # no blink starts sooner than this after the last (s)
EYE_RANGE_DEG = 30.0         # eye rotation (degrees) at eyeLook* = 1


def blink_times(duration: float, rate: float, boundaries: list[float],
                rng: np.random.Generator) -> list[tuple[float, float]]:
    """(start, duration) of each blink over ``duration`` seconds at about ``rate`` per minute,
    blinks placed preferentially just after the times in ``boundaries``."""
    if rate <= 0 or duration <= 0:
        return []
    starts: list[float] = []
    # About half the boundaries get a blink 0.05–0.35 s after them.
    for b in boundaries:
        if rng.random() < 0.55:
            starts.append(b + rng.uniform(0.05, 0.35))
    # Background blinks make up the rest of the rate.
    want = rate * duration / 60.0
    background = max(0.35 * rate, (want - len(starts)) * 60.0 / duration)
    mean_gap = 60.0 / background
    shape = 3.0
    t = rng.uniform(0.3, mean_gap)
    while t < duration:
        starts.append(t)
        t += max(REFRACTORY, rng.gamma(shape, mean_gap / shape))
    starts.sort()
    out: list[tuple[float, float]] = []
    for s in starts:
        if s >= duration - 0.05:
            continue
        if out and s - out[-1][0] < max(REFRACTORY, out[-1][1] + 0.15):
            continue
        out.append((s, rng.uniform(BLINK_MIN, BLINK_MAX)))
    return out


def blink_curve(times: np.ndarray, blinks: list[tuple[float, float]]) -> np.ndarray:
    """eyeBlink 0…1: each blink closes in ~35 % of its duration (eased), holds ~10 %, opens in
    the rest (slower, easing out)."""
    out = np.zeros(len(times), np.float32)
    fps = 1.0 / (times[1] - times[0]) if len(times) > 1 else 60.0
    for start, dur in blinks:
        close = max(0.085, 0.35 * dur)
        hold = 0.1 * dur
        opening = dur - close - hold
        i0 = max(0, int(np.floor(start * fps)))
        i1 = min(len(times), int(np.ceil((start + dur) * fps)) + 1)
        t = times[i0:i1] - start
        v = np.where(t < close, np.sin(0.5 * np.pi * np.clip(t / close, 0, 1)) ** 2, 1.0)
        u = np.clip((t - close - hold) / opening, 0.0, 1.0)
        v = np.where(t > close + hold, 1.0 - u * u * (3.0 - 2.0 * u), v)
        v = np.where(t < 0, 0.0, v)
        out[i0:i1] = np.maximum(out[i0:i1], v)
    return out


def gaze(times: np.ndarray, phrase_starts: list[float],
         rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(yaw, pitch) of the gaze in degrees (yaw > 0: towards the character's left; pitch > 0:
    down), holds joined by quick saccades."""
    n = len(times)
    yaw = np.zeros(n)
    pitch = np.zeros(n)
    if n == 0:
        return yaw.astype(np.float32), pitch.astype(np.float32)
    fps = 1.0 / (times[1] - times[0]) if n > 1 else 60.0
    duration = float(times[-1]) + 1.0 / fps
    pending = sorted(phrase_starts)
    # Hold targets: (time, yaw, pitch).
    holds: list[tuple[float, float, float]] = [(0.0, 0.0, 0.0)]
    t = rng.uniform(0.4, 1.5)
    while t < duration:
        away = bool(pending and abs(pending[0] - t) < 0.4)
        while pending and pending[0] < t + 0.4:
            pending.pop(0)
        if away and rng.random() < 0.6:
            # Look away while starting a phrase: sideways and often up.
            y = rng.choice([-1.0, 1.0]) * rng.uniform(5.0, 11.0)
            p = rng.uniform(-6.0, 2.0)
            hold_len = rng.uniform(0.3, 0.9)
        else:
            y = rng.normal(0.0, 2.5)
            p = rng.normal(0.0, 1.5)
            hold_len = rng.uniform(0.5, 2.5)
        holds.append((t, float(np.clip(y, -12, 12)), float(np.clip(p, -8, 8))))
        t += hold_len
    saccade = 3.0 / fps
    drift_tau = 2.0  # seconds: during a hold the eyes settle back toward the camera
    for k, (t0, y0, p0) in enumerate(holds):
        t1 = holds[k + 1][0] if k + 1 < len(holds) else duration + 1.0
        i0, i1 = int(np.ceil(t0 * fps)), min(n, int(np.ceil(t1 * fps)))
        if i1 <= i0:
            continue
        dt = times[i0:i1] - t0
        settle = 0.6 + 0.4 * np.exp(-dt / drift_tau)
        yaw[i0:i1] = y0 * settle
        pitch[i0:i1] = p0 * settle
        if k:
            # The saccade itself: a quick eased move from where the eyes were.
            prev_y, prev_p = yaw[i0 - 1] if i0 else 0.0, pitch[i0 - 1] if i0 else 0.0
            u = np.clip(dt / saccade, 0.0, 1.0)
            u = u * u * (3.0 - 2.0 * u)
            yaw[i0:i1] = prev_y + (yaw[i0:i1] - prev_y) * u
            pitch[i0:i1] = prev_p + (pitch[i0:i1] - prev_p) * u
    return yaw.astype(np.float32), pitch.astype(np.float32)


def look_channels(yaw: np.ndarray, pitch: np.ndarray) -> dict[str, np.ndarray]:
    """Gaze angles (degrees, both eyes parallel) → the eight eyeLook* blendshapes.

    "Left"/"Right" are the character's eyes: looking to the character's left is eyeLookOutLeft
    with eyeLookInRight.
    """
    y = yaw / EYE_RANGE_DEG
    p = pitch / EYE_RANGE_DEG
    pos, neg = np.clip(y, 0, 1), np.clip(-y, 0, 1)
    return {
        "eyeLookOutLeft": pos, "eyeLookInRight": pos,
        "eyeLookInLeft": neg, "eyeLookOutRight": neg,
        "eyeLookDownLeft": np.clip(p, 0, 1), "eyeLookDownRight": np.clip(p, 0, 1),
        "eyeLookUpLeft": np.clip(-p, 0, 1), "eyeLookUpRight": np.clip(-p, 0, 1),
    }


def eye_angles(values: dict[str, np.ndarray], side: str) -> tuple[np.ndarray, np.ndarray]:
    """(yaw, pitch) in degrees of one eye (``side`` "Left" or "Right") from its eyeLook*
    blendshapes: the inverse of :func:`look_channels`, same signs."""
    out_, in_ = values["eyeLookOut" + side], values["eyeLookIn" + side]
    yaw = (out_ - in_) if side == "Left" else (in_ - out_)
    pitch = values["eyeLookDown" + side] - values["eyeLookUp" + side]
    return yaw * EYE_RANGE_DEG, pitch * EYE_RANGE_DEG
