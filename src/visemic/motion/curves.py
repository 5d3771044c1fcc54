"""Timeline + prosody → ARKit-52 curves (plus head angles) at any frame rate.

Coarticulation follows the dominance idea of Cohen & Massaro: every phone pulls each channel
toward its target with a strength that is full inside the phone and decays outside it, faster
after the phone (carry-over) than before it for rounding (anticipation); the curve is the
strength-weighted mean of all targets. On top of the blend, hard articulatory constraints: lips
sealed through every /p b m/ (mouthClose = jawOpen, ARKit's convention), the lower lip tucked for
/f v/, rest in long pauses; jaw opening scales with loudness; no channel moves more than a
physiological amount per frame.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from visemic.motion import arkit, poses
from visemic.motion.poses import MOUTH, Pose
from visemic.types import Animation, Prosody, Timeline

if TYPE_CHECKING:
    from visemic.motion.profile import Profile

REST_GAP = 0.3       # pauses at least this long return the face to rest
# Timing, calibrated on tracked talking-head clips (bench/lip_motion.py): real lips move
# ahead of the sound, and faster than longer decays would let them. A longer or uncapped shift
# follows the tracked lips a little better still but leaves short open vowels closing at their
# acoustic middle (the open-vowel curve check of bench/accuracy.py).
LEAD = 0.06          # a phone's pull on the mouth starts this far ahead of its sound (s)
RELEASE = 0.03       # … and lets go this far ahead of its end (s)
SHIFT_SHARE = 0.45   # but never by more than this share of the phone before (lead) or itself

DECAY_POST = 0.03    # carry-over time constant (s)
DECAY_PRE = 0.02     # anticipation time constant for everything but rounding (s)
LOUDNESS = 0.35      # jaw gain per unit of loudness (0 quiet … 1 the speech level)
LOUDNESS_MID = 0.43  # the loudness at which the gain is 1
SEAL_LEAD = 0.01     # lips meet this long before a bilabial's acoustic onset (s)
SEAL_RAMP = 0.025    # and open/close over this long (s)
MAX_STEP_60 = 0.3    # largest per-frame change of any channel at 60 fps

_COL = {name: i for i, name in enumerate(MOUTH)}
_JAW_COLS = np.array([_COL[c] for c in poses.JAW])
_ROUND_COLS = np.array([_COL[c] for c in poses.ROUNDING])


def _segments(timeline: Timeline, duration: float, motion: Profile
              ) -> list[tuple[float, float, Pose, float]]:
    """(start, end, pose, strength scale) for phones (diphthongs as two halves) and pauses."""
    segs: list[tuple[float, float, Pose, float]] = []
    rest = motion.rest_pose()
    t = 0.0
    for p in sorted(timeline.phones, key=lambda p: p.start):
        if p.start - t > 1e-6:
            gap = p.start - t
            segs.append((t, p.start, rest, 1.6 if gap >= REST_GAP or t == 0 else 0.25))
        a, b = max(p.start, t), p.end
        if b <= a:
            continue
        first, last = motion.pose(p.symbol), motion.end_pose(p.symbol)
        if first is last:
            segs.append((a, b, first, 1.0))
        else:
            split = a + 0.6 * (b - a)
            segs.append((a, split, first, 1.0))
            segs.append((split, b, last, 0.9))
        t = b
    if duration - t > 1e-6:
        segs.append((t, duration, rest, 1.6))
    return segs


def shift(spans: list[tuple[float, float]], lead: float, release: float
          ) -> list[tuple[float, float]]:
    """Consecutive (start, end) pulls moved ahead of the sound: each starts ``lead`` early and
    ends ``release`` early, but by at most SHIFT_SHARE of the pull before it (a lead) or of its
    own length (a release), so a short vowel keeps its middle."""
    out = []
    before = None
    for start, end in spans:
        a = lead if before is None else min(lead, SHIFT_SHARE * before)
        out.append((start - a, end - min(release, SHIFT_SHARE * (end - start))))
        before = end - start
    return out


def _blend(segs: list[tuple[float, float, Pose, float]], times: np.ndarray,
           motion: Profile) -> np.ndarray:
    n, m = len(times), len(MOUTH)
    num = np.zeros((n, m), np.float64)
    den = np.full((n, m), 1e-6, np.float64)
    fps = 1.0 / (times[1] - times[0]) if n > 1 else 60.0
    reach = 0.4  # seconds beyond which a phone's pull is negligible
    pre_decay, post_decay = motion.decay_pre, motion.decay_post
    spans = shift([(a, b) for a, b, _, _ in segs], motion.lead, motion.release)
    for (start, end), (_, _, pose, scale) in zip(spans, segs, strict=True):
        i0 = max(0, int((start - reach) * fps))
        i1 = min(n, int((end + reach) * fps) + 2)
        if i1 <= i0:
            continue
        t = times[i0:i1, None]
        target = np.zeros(m)
        for name, v in pose.values.items():
            target[_COL[name]] = v
        strength = np.full(m, pose.lip_strength * scale)
        strength[_JAW_COLS] = pose.jaw_strength * scale
        lead = np.full(m, pre_decay)
        lead[_ROUND_COLS] = max(pose.round_lead, pre_decay) if target[_ROUND_COLS].any() \
            else pre_decay
        pre = np.clip(start - t, 0, None) / lead
        post = np.clip(t - end, 0, None) / post_decay
        d = strength * np.exp(-(pre + post))
        num[i0:i1] += d * target
        den[i0:i1] += d
    return num / den


def opening_basis(timeline: Timeline, prosody: Prosody, times: np.ndarray, duration: float,
                  profile: Profile) -> np.ndarray:
    """How the lips' opening (jawOpen − mouthClose) at ``times`` moves with each
    :data:`~visemic.motion.poses.OPENING` class's target: ``[len(times) × classes]``, the
    class's share of the jaw's dominance blend (as :func:`animate` blends, with ``profile``'s
    timing) times the loudness gain, zero through the lip seal. The opening is this matrix
    times the targets, up to the step limit and clipping; the calibration
    (:mod:`visemic.calibrate`) fits the targets on it. /p b m/ close the lips whatever their
    jaw, so their column is 0."""
    classes = {c: i for i, c in enumerate(poses.CLASSES)}
    n = len(times)
    num = np.zeros((n, len(classes)))
    den = np.full(n, 1e-6)
    reach = 0.4
    segs = _segments(timeline, duration, profile)
    spans = shift([(a, b) for a, b, _, _ in segs], profile.lead, profile.release)
    for (start, end), (_, _, pose, scale) in zip(spans, segs, strict=True):
        i0, i1 = np.searchsorted(times, [start - reach, end + reach])
        if i1 <= i0:
            continue
        t = times[i0:i1]
        d = pose.jaw_strength * scale * np.exp(-(np.clip(start - t, 0, None) / profile.decay_pre
                                                 + np.clip(t - end, 0, None)
                                                 / profile.decay_post))
        den[i0:i1] += d
        if pose.kind != "bilabial":
            num[i0:i1, classes[pose.kind]] += d
    # Loudness as animate computes it (50 ms mean at 100 frames/s), at ``times``.
    grid = np.arange(max(1, int(round(duration * 100)))) / 100.0
    loud = np.convolve(_frames_from(prosody, grid, prosody.loudness), np.ones(5) / 5, "same")
    gain = loudness_gain(np.interp(times, grid, loud), profile.loudness)
    return num / den[:, None] * (gain * (1.0 - seal_weight(timeline, times)))[:, None]


def _window(times: np.ndarray, start: float, end: float, ramp: float,
            ramp_out: float | None = None) -> np.ndarray:
    """1 on [start, end], linear ramps of length ``ramp`` before (``ramp_out`` after, default the
    same) outside, 0 beyond."""
    ramp_out = ramp if ramp_out is None else ramp_out
    w = np.ones_like(times)
    w = np.minimum(w, np.clip((times - (start - ramp)) / max(ramp, 1e-6), 0, 1))
    w = np.minimum(w, np.clip(((end + ramp_out) - times) / max(ramp_out, 1e-6), 0, 1))
    return w


def seal_weight(timeline: Timeline, times: np.ndarray) -> np.ndarray:
    """How firmly the lips must be sealed at each time, 0…1: 1 through every /p b m/ (from
    SEAL_LEAD before it), with SEAL_RAMP ramps. Layers drawn over speech re-impose the seal with
    ``mouthClose = (1 − w)·mouthClose + w·jawOpen``."""
    open_ = np.ones_like(times)
    phones = sorted(timeline.phones, key=lambda p: p.start)
    for i, p in enumerate(phones):
        if poses.pose(p.symbol).bilabial:
            # A short vowel beside the closure keeps at least its first (or last) half open:
            # the lips close and open fast, but not through the vowel's whole length.
            lead, ramp_in, ramp_out = SEAL_LEAD, SEAL_RAMP, SEAL_RAMP
            if i > 0 and poses.pose(phones[i - 1].symbol).vowel:
                room = 0.5 * (p.start - phones[i - 1].start)
                lead = min(lead, room / 3)
                ramp_in = max(0.0, min(ramp_in, room - lead))
            if i + 1 < len(phones) and poses.pose(phones[i + 1].symbol).vowel:
                ramp_out = min(ramp_out, 0.5 * (phones[i + 1].end - p.end))
            open_ *= 1.0 - _window(times, p.start - lead, p.end, ramp_in, ramp_out)
    return 1.0 - open_


def loudness_gain(loud: np.ndarray, weight: float = LOUDNESS) -> np.ndarray:
    """The jaw's gain from loudness (0…1): 1 at LOUDNESS_MID, ``weight`` more per unit."""
    return np.maximum(1.0 + weight * (loud - LOUDNESS_MID), 0.0)


def _frames_from(prosody: Prosody, times: np.ndarray, values: np.ndarray) -> np.ndarray:
    src_t = (np.arange(len(values)) + 0.5) / prosody.rate
    return np.interp(times, src_t, values) if len(values) else np.zeros_like(times)


def limit_steps(x: np.ndarray, max_step: float) -> np.ndarray:
    """Clamp each frame-to-frame change, forward then backward so both edges stay smooth.

    ``x`` is one curve or ``[frames × curves]``."""
    y = x.copy()
    for i in range(1, len(y)):
        y[i] = np.clip(y[i], y[i - 1] - max_step, y[i - 1] + max_step)
    for i in range(len(y) - 2, -1, -1):
        y[i] = np.clip(y[i], y[i + 1] - max_step, y[i + 1] + max_step)
    return y


def hold_seal(jaw: np.ndarray, close: np.ndarray, seal: np.ndarray, max_step: float,
              allowed: np.ndarray | float = 0.0) -> np.ndarray:
    """mouthClose raised, within the step limit, so that the lips part by at most ``allowed``
    (jawOpen − mouthClose) wherever ``seal`` (:func:`seal_weight`) is on, and never above
    ``jaw``. A step-limited mouthClose lags a fast jaw; where a /b/ is short and the vowel after
    it pulls the jaw down early, the lag would leave the lips apart in the closure. Instead the
    lips start closing a frame or two earlier, as real lips do."""
    need = np.where(seal >= 0.99, jaw - allowed, -np.inf)
    # The lowest curve within the step limit that reaches every requirement: a cone under each.
    for i in range(1, len(need)):
        need[i] = max(need[i], need[i - 1] - max_step)
    for i in range(len(need) - 2, -1, -1):
        need[i] = max(need[i], need[i + 1] - max_step)
    return np.minimum(np.maximum(close, need), jaw)


def animate(timeline: Timeline, prosody: Prosody, fps: float = 60.0,
            duration: float | None = None, profile: Profile | None = None) -> Animation:
    """Curves for every ARKit channel (Apple's order) and the head angles, ``fps`` frames/s.

    The frame count is ``round(duration × fps)`` (at least 1); frame ``i`` shows time ``i/fps``.
    ``profile`` (:mod:`visemic.motion.profile`) makes the poses and timing one person's.
    """
    if fps <= 0:
        raise ValueError("fps must be positive")
    if duration is None:
        duration = prosody.duration
    if profile is None:
        from visemic.motion.profile import generic

        profile = generic()
    n = max(1, int(round(duration * fps)))
    times = np.arange(n) / fps
    mouth = _blend(_segments(timeline, duration, profile), times, profile)

    # Loudness opens the jaw more on stressed, loud syllables and less in soft speech.
    loud = _frames_from(prosody, times, prosody.loudness)
    # A window no longer than the clip: "same" mode returns max(n, k) values.
    k = max(1, min(n, int(round(0.05 * fps))))
    loud = np.convolve(loud, np.ones(k) / k, mode="same")
    gain = loudness_gain(loud, profile.loudness)
    for name in ("jawOpen", "mouthLowerDownLeft", "mouthLowerDownRight"):
        mouth[:, _COL[name]] *= gain

    jaw = mouth[:, _COL["jawOpen"]]
    close = mouth[:, _COL["mouthClose"]]
    roll_lower = mouth[:, _COL["mouthRollLower"]]
    seal = seal_weight(timeline, times)
    close[:] = (1 - seal) * close + seal * jaw
    for p in timeline.phones:
        pose = poses.pose(p.symbol)
        if pose.labiodental:
            w = _window(times, p.start - SEAL_LEAD, p.end, SEAL_RAMP)
            roll_lower[:] = np.maximum(roll_lower, 0.5 * w)
            close[:] = np.maximum(close, w * np.maximum(jaw - 0.06, 0))

    out = np.zeros((n, len(arkit.CHANNELS)), np.float32)
    max_step = MAX_STEP_60 * 60.0 / fps
    # All mouth channels at once: each is limited on its own, one row operation per frame.
    block = np.clip(mouth[:, list(_COL.values())], 0.0, 1.0)
    out[:, [arkit.INDEX[name] for name in _COL]] = limit_steps(block, max_step) if n > 1 \
        else block
    # Lips apart by jawOpen − mouthClose: keep mouthClose ≤ jawOpen after limiting, and the
    # lips together through /p b m/.
    ji, ci = arkit.INDEX["jawOpen"], arkit.INDEX["mouthClose"]
    out[:, ci] = hold_seal(out[:, ji], out[:, ci], seal, max_step)
    return Animation(fps=float(fps), channels=list(arkit.CHANNELS), values=out)
