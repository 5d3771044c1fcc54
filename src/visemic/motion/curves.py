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

import array
import itertools
from collections.abc import Iterable, Iterator
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
# Frames worked out at once: long files are animated a chunk at a time, in flat memory.
CHUNK = 4096

_COL = {name: i for i, name in enumerate(MOUTH)}
_JAW_COLS = np.array([_COL[c] for c in poses.JAW])
_ROUND_COLS = np.array([_COL[c] for c in poses.ROUNDING])


def _segments(timeline: Timeline, duration: float, motion: Profile
              ) -> Iterator[tuple[float, float, Pose, float]]:
    """(start, end, pose, strength scale) for phones (diphthongs as two halves) and pauses."""
    rest = motion.rest_pose()
    t = 0.0
    for p in sorted(timeline.phones, key=lambda p: p.start):
        if p.start - t > 1e-6:
            gap = p.start - t
            yield (t, p.start, rest, 1.6 if gap >= REST_GAP or t == 0 else 0.25)
        a, b = max(p.start, t), p.end
        if b <= a:
            continue
        first, last = motion.pose(p.symbol), motion.end_pose(p.symbol)
        if first is last:
            yield (a, b, first, 1.0)
        else:
            split = a + 0.6 * (b - a)
            yield (a, split, first, 1.0)
            yield (split, b, last, 0.9)
        t = b
    if duration - t > 1e-6:
        yield (t, duration, rest, 1.6)


def shift(spans: Iterable[tuple[float, float]], lead: float, release: float
          ) -> list[tuple[float, float]]:
    """Consecutive (start, end) pulls moved ahead of the sound: each starts ``lead`` early and
    ends ``release`` early, but by at most SHIFT_SHARE of the pull before it (a lead) or of its
    own length (a release), so a short vowel keeps its middle."""
    return list(_shifted(spans, lead, release))


def _shifted(spans: Iterable[tuple[float, float]], lead: float, release: float
             ) -> Iterator[tuple[float, float]]:
    """:func:`shift`, one pull at a time."""
    before = None
    for start, end in spans:
        a = lead if before is None else min(lead, SHIFT_SHARE * before)
        yield start - a, end - min(release, SHIFT_SHARE * (end - start))
        before = end - start


class _Blend:
    """The dominance blend of :func:`animate`, computed for any run of frames on its own (a
    long file is blended a chunk at a time): each phone's pull, its reach in frames and its
    target are worked out once."""

    REACH = 0.4  # seconds beyond which a phone's pull is negligible

    def __init__(self, segs: Iterable[tuple[float, float, Pose, float]], n: int, fps: float,
                 motion: Profile) -> None:
        self.fps = fps
        self.decay_pre, self.post_decay = motion.decay_pre, motion.decay_post
        # The frame step as the whole-clip time axis gives it (1 / (1 / fps) may differ from
        # fps in the last bit), so the reach in frames is the same whatever the chunk.
        step_fps = 1.0 / (np.arange(2) / fps)[1] if n > 1 else 60.0
        # One pass over the pulls (an hour has ~75,000), keeping only numbers per pull; each
        # (pose, scale)'s target, strength and decays are worked out once.
        segs, ahead = itertools.tee(segs)
        spans = _shifted(((a, b) for a, b, _, _ in ahead), motion.lead, motion.release)
        self.kinds: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        kind_of: dict[tuple[int, float], int] = {}
        held: list[Pose] = []
        rows = array.array("d")
        for (start, end), (_, _, pose, scale) in zip(spans, segs, strict=True):
            i0 = max(0, int((start - self.REACH) * step_fps))
            i1 = min(n, int((end + self.REACH) * step_fps) + 2)
            if i1 <= i0:
                continue
            key = (id(pose), scale)
            if key not in kind_of:
                kind_of[key] = len(self.kinds)
                self.kinds.append(self._kind(pose, scale))
                held.append(pose)  # alive while keyed by its id
            rows.extend((start, end, i0, i1, kind_of[key]))
        table = np.frombuffer(rows, np.float64).reshape(-1, 5)
        self.start, self.end = table[:, 0], table[:, 1]
        self.first, self.last, self.kind = (table[:, c].astype(np.int64) for c in (2, 3, 4))

    def _kind(self, pose: Pose, scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(target, strength, anticipation decay) per mouth channel of ``pose`` at ``scale``."""
        m = len(MOUTH)
        target = np.zeros(m)
        for name, v in pose.values.items():
            target[_COL[name]] = v
        strength = np.full(m, pose.lip_strength * scale)
        strength[_JAW_COLS] = pose.jaw_strength * scale
        lead = np.full(m, self.decay_pre)
        lead[_ROUND_COLS] = max(pose.round_lead, self.decay_pre) if target[_ROUND_COLS].any() \
            else self.decay_pre
        return target, strength, lead

    def frames(self, f0: int, f1: int) -> np.ndarray:
        """The blended mouth ``[f1 − f0 × len(MOUTH)]`` (float64) at frames ``f0 … f1 − 1``."""
        times = np.arange(f0, f1) / self.fps
        num = np.zeros((f1 - f0, len(MOUTH)), np.float64)
        den = np.full((f1 - f0, len(MOUTH)), 1e-6, np.float64)
        # Pulls in their original order, so each frame sums them exactly as the whole clip does.
        for k in np.flatnonzero((self.first < f1) & (self.last > f0)):
            start, end = float(self.start[k]), float(self.end[k])
            target, strength, lead = self.kinds[self.kind[k]]
            i0, i1 = max(int(self.first[k]), f0) - f0, min(int(self.last[k]), f1) - f0
            t = times[i0:i1, None]
            pre = np.clip(start - t, 0, None) / lead
            post = np.clip(t - end, 0, None) / self.post_decay
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
    segs = list(_segments(timeline, duration, profile))
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


def seal_windows(timeline: Timeline) -> list[tuple[float, float, float, float]]:
    """(start, end, ramp in, ramp out) of the seal window of every /p b m/ (:func:`_window`),
    for :func:`seal_at`."""
    out = []
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
            out.append((p.start - lead, p.end, ramp_in, ramp_out))
    return out


def _span(times: np.ndarray, ordered: bool, lo: float, hi: float) -> slice:
    """The frames of ``times`` that can lie in (``lo``, ``hi``): a window is 0 outside, so only
    these need computing (all of them if ``times`` is not in order)."""
    if not ordered:
        return slice(0, len(times))
    i0, i1 = int(np.searchsorted(times, lo, "left")), int(np.searchsorted(times, hi, "right"))
    return slice(i0, max(i0, i1))


def _in_order(times: np.ndarray) -> bool:
    return len(times) < 2 or bool(np.all(times[1:] >= times[:-1]))


def seal_at(windows: list[tuple[float, float, float, float]], times: np.ndarray
            ) -> np.ndarray:
    """:func:`seal_weight` from the timeline's :func:`seal_windows`, at ``times``."""
    open_ = np.ones_like(times)
    ordered = _in_order(times)
    for start, end, ramp_in, ramp_out in windows:
        # Outside its span a window is 0 and would multiply by exactly 1.
        s = _span(times, ordered, start - ramp_in, end + ramp_out)
        open_[s] *= 1.0 - _window(times[s], start, end, ramp_in, ramp_out)
    return 1.0 - open_


def seal_weight(timeline: Timeline, times: np.ndarray) -> np.ndarray:
    """How firmly the lips must be sealed at each time, 0…1: 1 through every /p b m/ (from
    SEAL_LEAD before it), with SEAL_RAMP ramps. Layers drawn over speech re-impose the seal with
    ``mouthClose = (1 − w)·mouthClose + w·jawOpen``."""
    return seal_at(seal_windows(timeline), times)


def loudness_gain(loud: np.ndarray, weight: float = LOUDNESS) -> np.ndarray:
    """The jaw's gain from loudness (0…1): 1 at LOUDNESS_MID, ``weight`` more per unit."""
    return np.maximum(1.0 + weight * (loud - LOUDNESS_MID), 0.0)


def _frames_from(prosody: Prosody, times: np.ndarray, values: np.ndarray) -> np.ndarray:
    src_t = (np.arange(len(values)) + 0.5) / prosody.rate
    return np.interp(times, src_t, values) if len(values) else np.zeros_like(times)


def forward_steps(x: np.ndarray, max_step: float, before: np.ndarray | None = None
                  ) -> np.ndarray:
    """The forward half of :func:`limit_steps` on a copy of ``x``, continuing from the row
    ``before`` (the limited frame before ``x``'s first, if any)."""
    y = x.copy()
    if before is not None and len(y):
        y[0] = np.clip(y[0], before - max_step, before + max_step)
    for i in range(1, len(y)):
        y[i] = np.clip(y[i], y[i - 1] - max_step, y[i - 1] + max_step)
    return y


def backward_steps(y: np.ndarray, max_step: float, after: np.ndarray | None = None
                   ) -> np.ndarray:
    """The backward half of :func:`limit_steps`, in place on ``y``, continuing from the row
    ``after`` (the finished frame after ``y``'s last, if any)."""
    if after is not None and len(y):
        y[-1] = np.clip(y[-1], after - max_step, after + max_step)
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


def limit_steps(x: np.ndarray, max_step: float) -> np.ndarray:
    """Clamp each frame-to-frame change, forward then backward so both edges stay smooth.

    ``x`` is one curve or ``[frames × curves]``. A long run can be limited a chunk at a time with
    the same result: :func:`forward_steps` over the chunks in order, keeping each one's last
    row, then :func:`backward_steps` from the last chunk to the first (:func:`animate`)."""
    return backward_steps(forward_steps(x, max_step), max_step)


def chunks(n: int) -> list[tuple[int, int]]:
    """``[(start, end), …]``: frames ``0 … n − 1`` in runs of at most :data:`CHUNK`."""
    return [(a, min(n, a + CHUNK)) for a in range(0, n, CHUNK)]


def animate(timeline: Timeline, prosody: Prosody, fps: float = 60.0,
            duration: float | None = None, profile: Profile | None = None) -> Animation:
    """Curves for every ARKit channel (Apple's order) and the head angles, ``fps`` frames/s.

    The frame count is ``round(duration × fps)`` (at least 1); frame ``i`` shows time ``i/fps``.
    ``profile`` (:mod:`visemic.motion.profile`) makes the poses and timing one person's.

    Memory stays flat with length: the frames are worked out :data:`CHUNK` at a time, every
    step of which depends only on nearby frames except the step limit, whose state is carried
    from chunk to chunk; only the float32 result is whole.
    """
    if fps <= 0:
        raise ValueError("fps must be positive")
    if duration is None:
        duration = prosody.duration
    if profile is None:
        from visemic.motion.profile import generic

        profile = generic()
    n = max(1, int(round(duration * fps)))
    blend = _Blend(_segments(timeline, duration, profile), n, fps, profile)
    seals = seal_windows(timeline)
    tucks = [(p.start - SEAL_LEAD, p.end) for p in timeline.phones
             if poses.pose(p.symbol).labiodental]
    # Loudness opens the jaw more on stressed, loud syllables and less in soft speech: its
    # 50 ms mean, a window no longer than the clip ("same" mode returns max(n, k) values).
    k = max(1, min(n, int(round(0.05 * fps))))
    src_t = (np.arange(len(prosody.loudness)) + 0.5) / prosody.rate

    def mouth(f0: int, f1: int) -> np.ndarray:
        """Frames f0 … f1 − 1 of the mouth channels, clipped to 0…1, before the step limit."""
        times = np.arange(f0, f1) / fps
        m = blend.frames(f0, f1)
        # The mean needs k frames either side; at the clip's ends it pads as the whole does.
        e0, e1 = max(0, f0 - k), min(n, f1 + k)
        around = np.arange(e0, e1) / fps
        loud = (np.interp(around, src_t, prosody.loudness) if len(prosody.loudness)
                else np.zeros_like(around))
        loud = np.convolve(loud, np.ones(k) / k, mode="same")[f0 - e0:f1 - e0]
        gain = loudness_gain(loud, profile.loudness)
        for name in ("jawOpen", "mouthLowerDownLeft", "mouthLowerDownRight"):
            m[:, _COL[name]] *= gain

        jaw = m[:, _COL["jawOpen"]]
        close = m[:, _COL["mouthClose"]]
        roll_lower = m[:, _COL["mouthRollLower"]]
        seal = seal_at(seals, times)
        close[:] = (1 - seal) * close + seal * jaw
        for start, end in tucks:
            s = _span(times, True, start - SEAL_RAMP, end + SEAL_RAMP)
            w = _window(times[s], start, end, SEAL_RAMP)
            roll_lower[s] = np.maximum(roll_lower[s], 0.5 * w)
            close[s] = np.maximum(close[s], w * np.maximum(jaw[s] - 0.06, 0))
        return np.clip(m, 0.0, 1.0)

    out = np.zeros((n, len(arkit.CHANNELS)), np.float32)
    max_step = MAX_STEP_60 * 60.0 / fps
    cols = [arkit.INDEX[name] for name in MOUTH]
    ji, ci = arkit.INDEX["jawOpen"], arkit.INDEX["mouthClose"]
    spans = chunks(n)
    # The step limit's forward pass leaves each chunk with its last row; the backward pass then
    # runs from the end, the blend worked out again for each chunk but the last.
    before: list[np.ndarray | None] = [None]
    for f0, f1 in spans[:-1]:
        before.append(forward_steps(mouth(f0, f1), max_step, before[-1])[-1].copy())
    after = None
    for (f0, f1), start in zip(reversed(spans), reversed(before), strict=True):
        block = mouth(f0, f1)
        if n > 1:
            block = backward_steps(forward_steps(block, max_step, start), max_step, after)
            after = block[0].copy()
        out[f0:f1, cols] = block
        # Lips apart by jawOpen − mouthClose: keep mouthClose ≤ jawOpen after limiting.
        out[f0:f1, ci] = np.minimum(out[f0:f1, ci], out[f0:f1, ji])
    # … and the lips together through /p b m/ (whole columns: one number a frame).
    out[:, ci] = hold_seal(out[:, ji], out[:, ci], seal_at(seals, np.arange(n) / fps), max_step)
    return Animation(fps=float(fps), channels=list(arkit.CHANNELS), values=out)
