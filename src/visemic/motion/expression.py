"""Expression: the speech curves with emotion, speaking style, eyes, brows and head on top.

Layering (what keeps the speech readable under any expression):

1. speech mouth shapes (:func:`visemic.motion.curves.animate`), scaled by the speaking style;
2. the emotion layer (:mod:`visemic.motion.emotion`) added: brows, eyes, cheeks, nose, mouth
   corners, a small jaw bias (parting the lips only where speech parts them), head posture;
   mouth-corner poses yield to rounded speech shapes, which need the corners;
3. the bilabial seal re-imposed last: through /p b m/ mouthClose follows jawOpen again and the
   channels that part the lips (upper lip up, lower lip down, funnel, shrug) are held at the speech
   value, whatever the emotion added;
4. blinks and gaze, brows following pitch accents and questions, head motion from prosody.

Everything random draws from ``numpy.random.default_rng([seed, part])``: one seed gives the same
animation every time, and each part (blinks, gaze, head) has its own stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from visemic.errors import VisemicError
from visemic.motion import arkit, brows, curves, eyes, head, speech_events
from visemic.motion import emotion as emotion_mod
from visemic.motion import style as style_mod
from visemic.motion.emotion import EmotionTrack
from visemic.motion.profile import Profile
from visemic.motion.style import Style
from visemic.types import Animation, Prosody, Timeline

# Channels that part the lips on top of jawOpen − mouthClose; held at their speech value
# while the lips are sealed.
LIP_PARTING = ("mouthUpperUpLeft", "mouthUpperUpRight", "mouthLowerDownLeft",
               "mouthLowerDownRight", "mouthFunnel", "mouthShrugUpper")
# Emotion channels at the mouth corners, which rounded speech shapes override.
CORNERS = ("mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight",
           "mouthDimpleLeft", "mouthDimpleRight", "mouthLeft", "mouthRight")
EYE_FOLLOW = 0.7   # share of a head turn the eyes counter-rotate, to keep looking at the camera
_PARTS = {"blinks": 1, "gaze": 2, "head": 3}


@dataclass(frozen=True)
class Expression:
    """The expression settings of one animation (all optional; the defaults give a neutral,
    natural face: blinks at 17/min, saccades, subtle head motion)."""

    emotion: EmotionTrack = field(default_factory=lambda: emotion_mod.as_track(None))
    style: Style = field(default_factory=Style)
    blink_rate: float = eyes.BLINK_RATE
    head_motion: float = 1.0
    still: bool = False
    seed: int = 0

    def to_json(self) -> dict[str, Any]:
        keys = self.emotion.keyframes
        emo: Any = dict(keys[0].mix) if len(keys) == 1 else self.emotion.to_json()
        return {"emotion": emo, "style": self.style.to_json(), "blink_rate": self.blink_rate,
                "head_motion": self.head_motion, "still": self.still, "seed": self.seed}


def settings(emotion: str | dict[str, float] | EmotionTrack | None = None,
             style: str | Style | None = None, blink_rate: float | None = None,
             head_motion: float | None = None, still: bool = False,
             seed: int | None = None) -> Expression:
    """An :class:`Expression` from the API's keyword arguments, validated (VisemicError)."""
    rate = eyes.BLINK_RATE if blink_rate is None else blink_rate
    scale = 1.0 if head_motion is None else head_motion
    if not isinstance(rate, int | float) or not 0.0 <= float(rate) <= 60.0:
        raise VisemicError(f"blink rate must be between 0 and 60 per minute, got {rate!r}")
    if not isinstance(scale, int | float) or not 0.0 <= float(scale) <= 3.0:
        raise VisemicError(f"head motion scale must be between 0 and 3, got {scale!r}")
    seed_ = 0 if seed is None else seed
    if isinstance(seed_, bool) or not isinstance(seed_, int) or seed_ < 0:
        raise VisemicError(f"seed must be a non-negative integer, got {seed_!r}")
    return Expression(emotion=emotion_mod.as_track(emotion), style=style_mod.as_style(style),
                      blink_rate=float(rate), head_motion=float(scale), still=bool(still),
                      seed=seed_)


def animate(timeline: Timeline, prosody: Prosody, fps: float = 60.0,
            duration: float | None = None, expression: Expression | None = None,
            text: str | None = None, profile: Profile | None = None) -> Animation:
    """Speech curves (:func:`visemic.motion.curves.animate`) with the expression applied.

    ``text`` (the transcript, if any) lets questions marked "?" raise the brows; ``profile``
    (:mod:`visemic.motion.profile`) makes the speech motion one person's.
    """
    anim = curves.animate(timeline, prosody, fps=fps, duration=duration, profile=profile)
    apply(anim, timeline, prosody, expression or Expression(), text)
    return anim


def _emphasis_frames(stressed: list[tuple[float, float, float]], times: np.ndarray
                     ) -> np.ndarray:
    """Each frame's word emphasis, from (start, end, emphasis) of the emphasised words."""
    out = np.zeros(len(times))
    for start, end, e in stressed:
        # Inside the word only, with 40 ms ramps, so pauses around it are not opened. Outside
        # it the ramp is 0: only the frames inside are worked out.
        i0, i1 = np.searchsorted(times, [start, end], side="right")
        t = times[i0:i1]
        ramp = np.clip(np.minimum(t - start, end - t) / 0.04, 0.0, 1.0)
        out[i0:i1] = np.maximum(out[i0:i1], e * ramp)
    return out


def seal_reach(fps: float) -> int:
    """Frames beyond the seal the per-frame step limit needs to bring a channel from 1 to 0."""
    return int(np.ceil(1.0 / (curves.MAX_STEP_60 * 60.0 / fps))) - 1


def widen_seal(seal: np.ndarray, fps: float) -> np.ndarray:
    """The seal weight held :func:`seal_reach` frames longer each side: the lip-parting
    channels an emotion may hold near 1 then yield in time for a short closure."""
    # Imported here: scipy.ndimage's 140 modules (11 MB resident) only once the curves are
    # made, not while Whisper, the heaviest stage, runs (issue 22).
    from scipy.ndimage import maximum_filter1d

    reach = seal_reach(fps)
    return maximum_filter1d(seal, 2 * reach + 1) if reach > 0 and len(seal) > 1 else seal


def layer_emotion(values: np.ndarray, speech: np.ndarray, layer: np.ndarray, seal: np.ndarray,
                  lip_seal: np.ndarray, speech_gap: np.ndarray | None = None) -> np.ndarray:
    """Add an emotion ``layer`` (:func:`visemic.motion.emotion.offsets`) to ``values`` in place,
    keeping the speech readable, and return the head posture it adds (``[n × 3]`` degrees).

    ``values`` and ``speech`` are ``[n × ≥52]`` rows in :data:`arkit.CHANNELS` order: the face
    so far and the speech mouth alone. Mouth-corner poses give way to rounded speech shapes;
    the jaw bias parts the lips only where speech parts them; then, with ``seal`` (1 through
    /p b m/, :func:`visemic.motion.curves.seal_weight`), nothing may part the lips further than
    ``speech_gap`` (default: the speech's jawOpen − mouthClose), and the lip-parting channels
    fall back to speech over ``lip_seal`` (:func:`widen_seal`).
    """
    idx = arkit.INDEX
    ji, ci = idx["jawOpen"], idx["mouthClose"]
    rounding = np.maximum(speech[:, idx["mouthPucker"]], speech[:, idx["mouthFunnel"]])
    # Half way only: smiled speech keeps some smile through "oo", and a deeper give-way made
    # the corners dip faster than the lips round (steps of 0.18 a frame in happy speech).
    give_way = 1.0 - 0.5 * np.clip(rounding / 0.6, 0.0, 1.0)
    layer = layer.copy()
    for name in CORNERS:
        layer[:, idx[name]] *= give_way
    # Where the speech lips are together (pauses, closures) mouthClose follows the jaw bias and
    # the lips stay together.
    gap_speech = speech[:, ji] - speech[:, ci]
    layer[:, ci] += layer[:, ji] * (1.0 - np.clip((gap_speech - 0.04) / 0.12, 0.0, 1.0))
    blend = len(arkit.BLENDSHAPES)
    values[:, :blend] += layer[:, :blend]
    # The seal, last of the mouth. Speech curves are sealed already, so only the gap the layer
    # (or a speaking style) added is taken back.
    allowed = gap_speech if speech_gap is None else speech_gap
    gap = values[:, ji] - values[:, ci]
    values[:, ci] = values[:, ji] - ((1 - seal) * gap + seal * np.minimum(gap, allowed))
    for name in LIP_PARTING:
        c = idx[name]
        values[:, c] = ((1 - lip_seal) * values[:, c]
                        + lip_seal * np.minimum(values[:, c], speech[:, c]))
    return layer[:, blend:blend + 3]


def apply(anim: Animation, timeline: Timeline, prosody: Prosody, expr: Expression,
          text: str | None = None) -> None:
    """Layer ``expr`` onto ``anim`` (speech curves from :func:`curves.animate`) in place.

    As there, memory stays flat with length: the curves that draw random numbers over the whole
    clip (head, gaze, blinks) and the brow raises are whole, one value per frame, but every
    ``[frames × channels]`` step is worked out :data:`curves.CHUNK` frames at a time."""
    values = anim.values
    n = values.shape[0]
    idx = arkit.INDEX
    if [c for c in anim.channels] != list(arkit.CHANNELS):
        raise ValueError("apply() needs an animation with arkit.CHANNELS")
    fps = anim.fps
    times = np.arange(n) / fps
    accents = speech_events.accents(timeline, prosody)
    spans = speech_events.phrases(timeline)
    stressed = [(w.start, w.end, e) for w, e in
                zip(timeline.words, speech_events.word_emphasis(timeline, accents), strict=True)
                if e > 0]
    seals = curves.seal_windows(timeline)
    reach = seal_reach(fps)
    ji, ci = idx["jawOpen"], idx["mouthClose"]
    blend = len(arkit.BLENDSHAPES)

    # Whole curves: eyes, brows, head.
    starts = [a for a, _ in spans]
    pauses = [b for _, b in spans]
    rng = {part: np.random.default_rng([expr.seed, k]) for part, k in _PARTS.items()}
    blink = eyes.blink_curve(times, eyes.blink_times(n / fps, expr.blink_rate, pauses,
                                                     rng["blinks"]))
    raise_ = brows.raise_curve(times, accents,
                               speech_events.question_ends(timeline, prosody, text))
    if expr.still:
        head_yaw = head_pitch = head_roll = gaze_yaw = gaze_pitch = np.zeros(n, np.float32)
    else:
        head_yaw, head_pitch, head_roll = head.motion(
            times, accents, spans, speech_events.speaking(timeline, times), rng["head"],
            expr.head_motion * expr.style.head)
        gaze_yaw, gaze_pitch = eyes.gaze(times, starts, rng["gaze"])

    def layer_chunk(f0: int, f1: int) -> np.ndarray:
        """Layer the expression onto frames f0 … f1 − 1 of ``values``, in place, up to the
        step limit; returns which blendshapes it changed."""
        t = times[f0:f1]
        v = values[f0:f1]
        speech = v.copy()
        speech_gap[f0:f1] = np.maximum(speech[:, ji] - speech[:, ci], 0.0)
        # 1. Speaking style on the speech mouth.
        jaw_gain, lip_gain = style_mod.gains(expr.style, _emphasis_frames(stressed, t))
        for name in style_mod.JAW_CHANNELS:
            v[:, idx[name]] *= jaw_gain
        for name in style_mod.LIP_CHANNELS:
            v[:, idx[name]] *= lip_gain

        # 2. Emotion, 3. the seal (widened over ``reach`` frames either side).
        layer = emotion_mod.offsets(expr.emotion, t)
        e0, e1 = max(0, f0 - reach), min(n, f1 + reach)
        around = curves.seal_at(seals, times[e0:e1])
        seal = around[f0 - e0:f1 - e0]
        lip_seal = widen_seal(around, fps)[f0 - e0:f1 - e0]
        posture = layer_emotion(v, speech, layer, seal, lip_seal,
                                jaw_gain * (speech[:, ji] - speech[:, ci]))

        # 4. Eyes, brows, head.
        for name in ("eyeBlinkLeft", "eyeBlinkRight"):
            v[:, idx[name]] = np.maximum(v[:, idx[name]], blink[f0:f1])
        # A frown (angry, disgusted) holds the brows down: accents barely lift them out of it.
        frown = 0.5 * (layer[:, idx["browDownLeft"]] + layer[:, idx["browDownRight"]])
        lift = raise_[f0:f1] * (1.0 - 0.8 * np.clip(frown, 0.0, 1.0))
        for name in ("browInnerUp", "browOuterUpLeft", "browOuterUpRight"):
            v[:, idx[name]] += lift
        yaw, pitch, roll = head_yaw[f0:f1], head_pitch[f0:f1], head_roll[f0:f1]
        look_yaw, look_pitch = gaze_yaw[f0:f1], gaze_pitch[f0:f1]
        if not expr.still:
            yaw = head.soft_clip(yaw + posture[:, 0])
            pitch = head.soft_clip(pitch + posture[:, 1])
            roll = head.soft_clip(roll + posture[:, 2])
            look_yaw = look_yaw - EYE_FOLLOW * (yaw - posture[:, 0])
            look_pitch = look_pitch - EYE_FOLLOW * (pitch - posture[:, 1])
        for name, curve in eyes.look_channels(look_yaw, look_pitch).items():
            v[:, idx[name]] += curve
        v[:, idx["headYaw"]] = yaw
        v[:, idx["headPitch"]] = pitch
        v[:, idx["headRoll"]] = roll
        # Keep every channel in range (DESIGN.md §3); the step limit follows.
        np.clip(v[:, :blend], 0.0, 1.0, out=v[:, :blend])
        return np.any(v[:, :blend] != speech[:, :blend], axis=0)

    # Every blendshape the expression changed is held within the per-frame step limit. The
    # limit's forward pass runs with the layering, keeping each chunk's last row for every
    # blendshape; then the changed ones are limited from the last chunk to the first.
    step = curves.MAX_STEP_60 * 60.0 / fps
    spans_ = curves.chunks(n)
    changed = np.zeros(blend, bool)
    speech_gap = np.zeros(n, np.float32)  # the speech curves' own lip gap, for the seal
    before: list[np.ndarray | None] = [None]
    for k, (f0, f1) in enumerate(spans_):
        changed |= layer_chunk(f0, f1)
        if k + 1 < len(spans_):
            before.append(curves.forward_steps(values[f0:f1, :blend], step,
                                                    before[-1])[-1].copy())
    cols = np.flatnonzero(changed)
    after = None
    for (f0, f1), start in zip(reversed(spans_), reversed(before), strict=True):
        if n > 1 and len(cols):
            y = curves.forward_steps(values[f0:f1, cols], step,
                                     None if start is None else start[cols])
            y = curves.backward_steps(y, step, after)
            after = y[0].copy()
            values[f0:f1, cols] = y
        values[f0:f1, ci] = np.minimum(values[f0:f1, ci], values[f0:f1, ji])
    if n > 1 and len(cols):
        # Limiting mouthClose alone would let a styled (bigger, faster) jaw part the lips.
        values[:, ci] = curves.hold_seal(values[:, ji], values[:, ci],
                                         curves.seal_at(seals, times), step, speech_gap)
