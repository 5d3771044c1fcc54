"""The streaming engine: live audio chunks in, ARKit-52 animation frames out, with low latency.

One :class:`StreamAnimator` per stream (they share nothing, so streams are isolated). Inside:

- the phone-loop recogniser of the batch path (pocketsphinx, :mod:`visemic.phonetics.recognize`)
  decodes incrementally; after every chunk its current best path gives the phones heard so far;
- a frame at time ``t`` is computed once audio up to ``t + lookahead`` has arrived, from the
  phones around ``t`` (the best path settles within a few frames) with the batch path's pose
  tables and coarticulation constants (:mod:`visemic.motion.poses`, :mod:`visemic.motion.curves`):
  dominance blending, lips sealed through /p b m/, lower lip tucked for /f v/, rest in pauses,
  jaw scaled by loudness, per-frame step limits (no pops);
- an energy gate (:mod:`visemic.stream.gate`: the rules of :mod:`visemic.phonetics.silence`,
  steady voicing included, with a running noise floor and speech level) drops phones "heard" in
  pauses, and the recogniser's utterance is restarted in pauses so its work per chunk stays flat
  however long it runs.

A frame, once returned, is final. Frames come out in time order, exactly one per ``1/fps`` of
audio; :meth:`StreamAnimator.flush` returns the ones still held back for look-ahead.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pocketsphinx

from visemic.errors import VisemicError
from visemic.limits import check_fps
from visemic.motion import arkit, curves, expression, eyes, poses, visemes
from visemic.motion import emotion as emotion_mod
from visemic.motion import profile as profile_mod
from visemic.motion.emotion import EmotionTrack, Keyframe
from visemic.motion.profile import Profile
from visemic.phonetics.arpabet import ARPABET_TO_IPA
from visemic.stream.gate import FRAME, RATE, EnergyGate
from visemic.stream.idle import IdleMotion

LOOKAHEAD = 0.08             # seconds of audio held back before a frame is computed
REACH = 0.4                  # seconds beyond which a phone no longer pulls on a frame
UTTERANCE_MIN = 2.0          # restart the recogniser in a pause once an utterance is this long
UTTERANCE_MAX = 20.0         # ... and anyway at this length (noise without pauses)
CMN_UPDATE = 0.25            # how often (seconds) the recogniser's cepstral mean is updated
MIN_CUE = visemes.MIN_CUE    # shortest non-decisive viseme, seconds
EMOTION_EASE = 0.3           # seconds a change of emotion (set_emotion) takes by default
NO_PHONE = ""                # a stretch with no phone: silence

_MOUTH_COLS = np.array([arkit.INDEX[name] for name in poses.MOUTH])
_BLINK_COLS = np.array([arkit.INDEX["eyeBlinkLeft"], arkit.INDEX["eyeBlinkRight"]])
# Step-limited each frame: every blendshape but the blinks (the idle model shapes those).
_LIMIT_COLS = np.setdiff1d(np.arange(len(arkit.BLENDSHAPES)), _BLINK_COLS)
_COL = {name: i for i, name in enumerate(poses.MOUTH)}
_JAW = _COL["jawOpen"]
_CLOSE = _COL["mouthClose"]
_ROLL_LOWER = _COL["mouthRollLower"]
_GAIN_COLS = np.array([_COL[n] for n in ("jawOpen", "mouthLowerDownLeft",
                                         "mouthLowerDownRight")])


# A frame's JSON with its 52 blendshape names filled in; %r of a float is JSON's float text.
_JSON_FRAME = ('{"frame":%d,"time":%r,"values":{'
               + ",".join(f'"{name}":%r' for name in arkit.BLENDSHAPES)
               + '},"viseme":"%s","head":[%r,%r,%r]}')


@dataclass(frozen=True)
class StreamFrame:
    """One animation frame of a stream.

    ``index`` counts frames from 0; ``time`` is the instant of audio the frame shows, ``index /
    fps`` seconds after the stream's first sample (as in :class:`visemic.types.Animation`).
    ``values`` holds the 52 ARKit blendshapes in Apple's order (:data:`visemic.motion.arkit.
    BLENDSHAPES`), float32 in 0…1; ``head`` is (yaw, pitch, roll) in degrees; ``viseme`` the
    Rhubarb mouth shape (A–H or X) showing at ``time``.
    """

    index: int
    time: float
    values: np.ndarray
    head: tuple[float, float, float]
    viseme: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"frame", "time", "values": {arkit_name: value}, "viseme", "head"}``."""
        return {"frame": self.index, "time": round(self.time, 6),
                "values": {name: round(float(v), 4)
                           for name, v in zip(arkit.BLENDSHAPES, self.values, strict=True)},
                "viseme": self.viseme, "head": [float(a) for a in self.head]}

    def to_json(self) -> str:
        """:meth:`to_dict` as compact JSON text (``separators=(",", ":")``), the same text made
        five times faster: a server sends 60 of these a second per stream."""
        values = np.round(self.values.astype(np.float64), 4).tolist()
        return _JSON_FRAME % (self.index, round(self.time, 6), *values, self.viseme,
                              *(float(a) for a in self.head))


@dataclass(frozen=True)
class _Segment:
    """A stretch of the phone timeline: an IPA phone, or NO_PHONE for silence."""

    symbol: str
    start: float
    end: float


class _Pose:
    """A phone's pose as arrays over :data:`poses.MOUTH` (cached: built once per symbol)."""

    __slots__ = ("target", "strength", "lead", "arrays", "bilabial", "labiodental")

    def __init__(self, pose: poses.Pose, scale: float = 1.0,
                 decay_pre: float = curves.DECAY_PRE) -> None:
        m = len(poses.MOUTH)
        self.target = np.zeros(m)
        for name, v in pose.values.items():
            self.target[_COL[name]] = v
        self.strength = np.full(m, pose.lip_strength * scale)
        jaw_cols = [_COL[c] for c in poses.JAW]
        round_cols = [_COL[c] for c in poses.ROUNDING]
        self.strength[jaw_cols] = pose.jaw_strength * scale
        self.lead = np.full(m, decay_pre)
        if self.target[round_cols].any():
            self.lead[round_cols] = max(pose.round_lead, decay_pre)
        self.arrays = np.stack([self.lead, self.strength, self.target])  # stacked once
        self.bilabial = pose.bilabial
        self.labiodental = pose.labiodental


class _PoseTable:
    """The poses of one motion (the generic tables or a personal profile), built once per
    symbol: a phone's first pose, or (``last``) the one it glides to (a diphthong's end)."""

    def __init__(self, motion: Profile) -> None:
        self.motion = motion
        self._poses: dict[str, _Pose] = {}
        self._lock = threading.Lock()
        rest = motion.rest_pose()
        self.rest_long = _Pose(rest, 1.6, motion.decay_pre)    # pauses of REST_GAP or more
        self.rest_short = _Pose(rest, 0.25, motion.decay_pre)  # short gaps between phones

    def get(self, symbol: str, last: bool) -> _Pose:
        key = symbol + ("\x00" if last else "")
        cached = self._poses.get(key)
        if cached is None:
            m = self.motion
            if last and m.end_pose(symbol) is m.pose(symbol):
                return self.get(symbol, False)
            # The batch path weights a diphthong's second half 0.9.
            cached = (_Pose(m.end_pose(symbol), 0.9, m.decay_pre) if last
                      else _Pose(m.pose(symbol), 1.0, m.decay_pre))
            with self._lock:
                self._poses[key] = cached
        return cached


_GENERIC_POSES: _PoseTable | None = None


def _pose_table(motion: Profile | None) -> _PoseTable:
    """The generic table is shared by every stream; a profile gets its own."""
    global _GENERIC_POSES
    if motion is not None:
        return _PoseTable(motion)
    if _GENERIC_POSES is None:
        _GENERIC_POSES = _PoseTable(profile_mod.generic())
    return _GENERIC_POSES


# The phone loop's search. pbeam (the beam on phones leaving a frame for the next phone) is
# the batch path's 1e-20 narrowed to 1e-7: the recogniser then costs 0.025 s a second of audio
# instead of 0.040 (its acoustic scores are most of what is left) for the same streamed shapes
# (bench/stream.py --accuracy: macro hit rate 0.617 vs 0.621 on ../shared/eval, 0.568 vs 0.560
# on espeak speech); at 1e-5 and wider it starts losing phones (0.586, 0.541).
DECODER_SEARCH = {"beam": 1e-20, "pbeam": 1e-7, "lw": 2.0, "pip": 0.8}


def _decoder() -> pocketsphinx.Decoder:
    """A phone-loop decoder set up as the batch recogniser's (one per stream: it holds state)."""
    model = os.path.join(pocketsphinx.get_model_path(), "en-us")
    # cmninit: the cepstral mean a stream starts from (c0 is log energy). The model's default
    # (40) suits quiet close-talk audio; ordinary recordings measure 39–66, median ≈ 52 (batch
    # means of ../shared/eval/speech); streams then update it every CMN_UPDATE seconds.
    # dict=None: the phone loop needs no word dictionary, and pocketsphinx would otherwise load
    # its 134,000-word one into every decoder (28 MB a stream; 6 MB without; same phones).
    return pocketsphinx.Decoder(allphone=os.path.join(model, "en-us-phone.lm.bin"), lm=None,
                                dict=None, loglevel="FATAL", cmninit="50,3,-1", **DECODER_SEARCH)


def _to_float(samples: Any) -> np.ndarray:
    """Validate one chunk and return it as float32 in -1…1."""
    if not isinstance(samples, np.ndarray):
        raise VisemicError(f"audio chunks must be NumPy arrays, got {type(samples).__name__}")
    if samples.ndim == 2 and 1 in samples.shape:
        samples = samples.reshape(-1)
    if samples.ndim != 1:
        raise VisemicError(f"audio chunks must be 1-D mono sample arrays, got shape "
                           f"{samples.shape}")
    if samples.dtype == np.int16:
        return samples.astype(np.float32) / 32768.0
    if samples.dtype.kind == "f":
        x = samples.astype(np.float32, copy=False)
        if not np.isfinite(x).all():
            raise VisemicError("audio chunk holds NaN or infinite samples")
        return np.clip(x, -1.0, 1.0)
    raise VisemicError(f"audio chunks must be int16 or float32 samples, got {samples.dtype}")


class StreamAnimator:
    """Animation frames from live audio, one instance per stream.

    ``push(samples)`` takes the next chunk (1-D int16 or float32 mono at ``sample_rate``; any
    length, also empty) and returns the frames that became ready, in order; ``flush()`` ends the
    stream and returns the rest. Every frame ``i`` (time ``i / fps``) is returned exactly once;
    a stream of ``d`` seconds has ``round(d * fps)`` frames. A frame is returned as soon as
    ``lookahead`` seconds of audio after its time have arrived, so the delay from a chunk's
    arrival to its frame is the look-ahead plus the time ``push`` takes.

    Eyes blink (about ``blink_rate`` a minute) and the head sways (``head_motion`` scales it;
    0 holds it still), seeded by ``seed``: see :mod:`visemic.stream.idle`.

    ``emotion`` lays an emotion over the speech as in the batch path
    (:mod:`visemic.motion.expression`; the lips still seal on /p b m/): a mix such as
    ``"happy:0.6,surprised:0.3"`` or ``{"sad": 0.8}``, or an
    :class:`~visemic.motion.emotion.EmotionTrack` whose keyframe times are stream seconds.
    :meth:`set_emotion` changes it while the stream runs.

    ``profile``: a personal profile (:mod:`visemic.motion.profile`, or its file's path) makes
    the mouth motion that person's, as in the batch path.

    ``language`` is recorded for the caller; the recogniser is the batch path's phone loop
    (English models, vocabulary-free, so other languages animate too, less accurately).
    Methods are serialised by a lock, but one stream's chunks must come from one source in order.
    Bad input raises :class:`visemic.errors.VisemicError`.
    """

    def __init__(self, sample_rate: int = RATE, fps: float = 60.0, language: str = "en",
                 lookahead: float = LOOKAHEAD, seed: int = 0,
                 blink_rate: float = eyes.BLINK_RATE, head_motion: float = 1.0,
                 emotion: str | dict[str, float] | EmotionTrack | None = None,
                 profile: Profile | str | os.PathLike[str] | None = None) -> None:
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int | np.integer) \
                or not 1000 <= sample_rate <= 384000:
            raise VisemicError(f"sample_rate must be an integer in 1000…384000 Hz, "
                               f"got {sample_rate!r}")
        if not isinstance(fps, int | float):
            raise VisemicError(f"fps must be a number, got {fps!r}")
        check_fps(fps)
        if not 0 <= lookahead <= 1.0:
            raise VisemicError(f"lookahead must be between 0 and 1 s, got {lookahead!r}")
        if not isinstance(language, str) or not language.strip():
            raise VisemicError("language must be a language code such as 'en'")
        if not 0 <= blink_rate <= 120 or not 0 <= head_motion <= 3:
            raise VisemicError("blink_rate must be 0…120 a minute and head_motion 0…3")
        self._poses = _pose_table(profile_mod.resolve(profile))
        self._idle = IdleMotion(seed, blink_rate, head_motion)
        self._emotion = emotion_mod.as_track(emotion)
        self._layer_row: tuple[EmotionTrack, np.ndarray] | None = None
        self.sample_rate = int(sample_rate)
        self.fps = float(fps)
        self.language = language
        self.lookahead = float(lookahead)
        self._lock = threading.Lock()
        self._resampler = None
        if self.sample_rate != RATE:
            import soxr

            self._resampler = soxr.ResampleStream(self.sample_rate, RATE, 1, dtype="float32")
        self._decoder = _decoder()
        self._decoder.start_utt()
        self._utt_start = 0          # 16 kHz samples before the current utterance
        self._received = 0           # 16 kHz samples so far
        self._cmn_at = 0             # when the cepstral mean was last updated
        self._gate = EnergyGate()
        self._done: list[_Segment] = []   # phones of finished utterances (trimmed as frames go)
        self._current: list[_Segment] = []  # the current utterance's best path
        self._next_frame = 0
        self._previous: np.ndarray | None = None   # the last frame's step-limited values
        self._shape = "X"
        self._shape_since = 0.0
        self._flushed = False

    # -- public ---------------------------------------------------------------------------------

    @property
    def received(self) -> float:
        """Seconds of audio received so far."""
        return self._received / RATE

    @property
    def _pauses(self) -> list[list[float]]:
        """The energy gate's pauses held now (for tests)."""
        return self._gate.pauses

    @property
    def _recent_db(self) -> np.ndarray:
        return self._gate.recent_db

    @property
    def frames_emitted(self) -> int:
        return self._next_frame

    @property
    def emotion(self) -> EmotionTrack:
        """The emotion as a track in stream time (a constant mix is one keyframe)."""
        return self._emotion

    def set_emotion(self, emotion: str | dict[str, float] | None,
                    ease: float = EMOTION_EASE) -> None:
        """From the next frame on, ease from the current emotion mix to ``emotion`` (a mix
        string or dict; None is neutral) over ``ease`` seconds (smoothstep)."""
        if emotion is not None and not isinstance(emotion, str | dict):
            raise VisemicError("set_emotion takes a mix such as 'happy:0.6' or {'sad': 0.8}")
        if not isinstance(ease, int | float) or not 0.0 <= ease <= 60.0:
            raise VisemicError(f"ease must be between 0 and 60 s, got {ease!r}")
        new = emotion_mod.as_track(emotion).keyframes[0].mix
        with self._lock:
            t = self._next_frame / self.fps
            now = self._emotion.weights(np.array([t]))[0]
            current = {name: float(min(1.0, w))
                       for name, w in zip(emotion_mod.NAMES, now.tolist(), strict=True) if w > 0}
            self._emotion = EmotionTrack((Keyframe(t, current or {"neutral": 1.0}),
                                          Keyframe(t + float(ease), dict(new))))

    def push(self, samples: np.ndarray) -> list[StreamFrame]:
        """Feed the next chunk; return the frames that are now ready (possibly none)."""
        with self._lock:
            if self._flushed:
                raise VisemicError("this stream has ended (flush was called)")
            x = _to_float(samples)
            if self._resampler is not None:
                self._feed(self._resampler.resample_chunk(x))
            else:  # PCM16 goes to the recogniser as it came
                self._feed(x, samples if samples.dtype == np.int16 else None)
            return self._emit(self._ready_frames())

    def flush(self) -> list[StreamFrame]:
        """End the stream: return every frame not yet returned. Later pushes raise."""
        with self._lock:
            if self._flushed:
                return []
            if self._resampler is not None:
                self._feed(self._resampler.resample_chunk(np.zeros(0, np.float32), last=True))
            self._flushed = True
            self._end_utterance()
            total = int(round(self._received / RATE * self.fps))
            frames = self._emit(total)
            self._decoder = None
            return frames

    # -- audio in -------------------------------------------------------------------------------

    def _feed(self, x: np.ndarray, pcm: np.ndarray | None = None) -> None:
        if not len(x):
            return
        if pcm is None:
            pcm = (x * 32767.0).astype(np.int16)
        self._decoder.process_raw(pcm.astype("<i2", copy=False).tobytes(), False, False)
        self._received += len(x)
        self._gate.measure(x, self._next_frame / self.fps - REACH)
        self._read_hypothesis()
        utt = (self._received - self._utt_start) / RATE
        if (utt >= UTTERANCE_MIN and self._gate.paused) or utt >= UTTERANCE_MAX:
            self._end_utterance()
            self._decoder.start_utt()
            self._utt_start = self._received

    def _read_hypothesis(self) -> None:
        if self._received - self._cmn_at >= CMN_UPDATE * RATE:
            # Pocketsphinx updates its live mean only between utterances unless asked; asking
            # often adapts a stream to its microphone within a second.
            self._decoder.get_cmn(True)
            self._cmn_at = self._received
        # seg() alone (None before the first path): hyp() would walk the path a second time.
        self._current = self._segments(self._decoder.seg())

    def _end_utterance(self) -> None:
        self._decoder.end_utt()
        if self._decoder.seg() is not None:
            self._current = self._segments(self._decoder.seg())
        self._done.extend(self._current)
        self._current = []

    def _segments(self, segs: Any) -> list[_Segment]:
        offset = self._utt_start / RATE
        # Phones that ended before the reach of the next frame can pull on no frame any more.
        since = self._next_frame / self.fps - REACH
        out = []
        for s in segs or ():  # None when the decoder found no path yet
            end = offset + (s.end_frame + 1) * FRAME
            if end <= since:
                continue
            symbol = ARPABET_TO_IPA.get(s.word.upper())
            if symbol is None:  # silence and fillers
                continue
            start = offset + s.start_frame * FRAME
            if not self._gate.in_pause((start + end) / 2):
                out.append(_Segment(symbol, start, end))
        return out

    # -- frames out -----------------------------------------------------------------------------

    def _ready_frames(self) -> int:
        """How many frames in all can be computed with the audio received so far."""
        known = self._received / RATE - self.lookahead
        ready = int(np.floor(known * self.fps + 1e-9)) + 1 if known >= 0 else 0
        # Never past the frame count of the audio so far (what flush would end on), so that
        # a stream ending now has exactly round(duration × fps) frames.
        return max(0, min(ready, int(round(self._received / RATE * self.fps))))

    def _emit(self, upto: int) -> list[StreamFrame]:
        if upto <= self._next_frame:
            return []
        idx = np.arange(self._next_frame, upto)
        times = idx / self.fps
        phones = self._timeline(times[0] - REACH)
        mouth, seal, lip_seal = self._mouth(phones, times)
        speech = np.zeros((len(times), len(arkit.CHANNELS)))
        speech[:, _MOUTH_COLS] = np.clip(mouth, 0.0, 1.0)
        face = speech.copy()
        layer = self._layer(times)
        posture = (expression.layer_emotion(face, speech, layer, seal, lip_seal)
                   if layer.any() else np.zeros((len(times), 3)))
        face = np.clip(face[:, :len(arkit.BLENDSHAPES)], 0.0, 1.0)
        out = []
        max_step = curves.MAX_STEP_60 * 60.0 / self.fps
        shapes = [self._viseme(phones, float(t)) for t in times]
        blink, head = self._idle.frames(times, np.array([v != "X" for v in shapes]))
        head = head + posture
        for k, i in enumerate(idx.tolist()):
            row = face[k]
            if self._previous is not None:
                row[_LIMIT_COLS] = np.clip(row[_LIMIT_COLS], self._previous - max_step,
                                           self._previous + max_step)
            row[_MOUTH_COLS[_CLOSE]] = min(row[_MOUTH_COLS[_CLOSE]], row[_MOUTH_COLS[_JAW]])
            self._previous = row[_LIMIT_COLS]
            values = row.astype(np.float32)
            values[_BLINK_COLS] = np.maximum(values[_BLINK_COLS], blink[k])
            out.append(StreamFrame(i, float(times[k]), values,
                                   (float(head[k, 0]), float(head[k, 1]), float(head[k, 2])),
                                   shapes[k]))
        self._next_frame = upto
        self._trim(upto / self.fps - REACH)
        return out

    def _layer(self, times: np.ndarray) -> np.ndarray:
        """The emotion layer at ``times``: after the track's last keyframe it is one row,
        worked out once (a constant mix is one keyframe)."""
        keys = self._emotion.keyframes
        if times[0] < keys[-1].time:
            return emotion_mod.offsets(self._emotion, times)
        if self._layer_row is None or self._layer_row[0] is not self._emotion:
            self._layer_row = (self._emotion, emotion_mod.offsets(self._emotion, times[:1]))
        return np.repeat(self._layer_row[1], len(times), axis=0)

    def _timeline(self, since: float) -> list[_Segment]:
        return [s for s in self._done + self._current if s.end > since]

    def _trim(self, before: float) -> None:
        while self._done and self._done[0].end < before:
            self._done.pop(0)

    def _mouth(self, phones: list[_Segment], times: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Dominance blend of the phones' poses and rest (as :mod:`visemic.motion.curves`),
        and the seal weight through /p b m/: tight and widened (for an emotion layer, see
        :func:`visemic.motion.expression.layer_emotion`)."""
        pulls: list[tuple[_Pose, float, float]] = []
        cursor = times[0] - REACH if not phones else min(phones[0].start, times[0] - REACH)
        first = True
        for p in phones:
            if p.start - cursor > 1e-6:
                pulls.append((self._rest(cursor, p.start, first), cursor, p.start))
            first = False
            start = max(p.start, cursor)
            if p.end <= start:
                continue
            a, b = self._poses.get(p.symbol, False), self._poses.get(p.symbol, True)
            if a is b:
                pulls.append((a, start, p.end))
            else:
                split = start + 0.6 * (p.end - start)
                pulls += [(a, start, split), (b, split, p.end)]
            cursor = p.end
        now = self._received / RATE
        if now - cursor > 1e-6:
            pulls.append((self._rest(cursor, now, first), cursor, now))

        # [frames, pulls, channels] at once: a push computes one or two frames from ~10 pulls.
        motion = self._poses.motion
        spans = np.array(curves.shift([(s, e) for _, s, e in pulls], motion.lead,
                                      motion.release))
        starts, ends = spans[None, :, 0, None], spans[None, :, 1, None]
        t = times[:, None, None]
        lead, strength, target = np.stack([pz.arrays for pz, _, _ in pulls], axis=1)[:, None]
        d = strength * np.exp(-(np.maximum(starts - t, 0) / lead
                                + np.maximum(t - ends, 0) / motion.decay_post))
        mouth = (d * target).sum(axis=1) / (d.sum(axis=1) + 1e-6)

        gain = curves.loudness_gain(self._gate.loudness(times), motion.loudness)
        mouth[:, _GAIN_COLS] *= gain[:, None]
        jaw, close, roll = mouth[:, _JAW], mouth[:, _CLOSE], mouth[:, _ROLL_LOWER]
        seal = np.zeros(len(times))
        lip_seal = np.zeros(len(times))
        widen = expression.seal_reach(self.fps) / self.fps  # as expression.widen_seal
        for p in phones:
            pose = self._poses.get(p.symbol, False)
            if not (pose.bilabial or pose.labiodental):
                continue
            w = _window(times, p.start - curves.SEAL_LEAD, p.end, curves.SEAL_RAMP)
            if pose.bilabial:
                close[:] = (1 - w) * close + w * jaw
                seal = np.maximum(seal, w)
                lip_seal = np.maximum(lip_seal, _window(times, p.start - curves.SEAL_LEAD - widen,
                                                        p.end + widen, curves.SEAL_RAMP))
            else:
                roll[:] = np.maximum(roll, 0.5 * w)
                close[:] = np.maximum(close, w * np.maximum(jaw - 0.06, 0))
        return mouth, seal, lip_seal

    def _rest(self, start: float, end: float, first: bool) -> _Pose:
        # A gap is a pause (rest firmly) once it is long enough or known to be silence;
        # an open gap at the stream's end counts only as long as it has lasted so far.
        long = first or end - start >= curves.REST_GAP or self._gate.in_pause((start + end) / 2)
        return self._poses.rest_long if long else self._poses.rest_short

    def _viseme(self, phones: list[_Segment], t: float) -> str:
        """The Rhubarb shape at ``t``: the phone's shape (closures and /f v/ a little early),
        short gaps hold the mouth, pauses rest; a non-decisive shape must last MIN_CUE."""
        raw = self._raw_shape(phones, t)
        ahead = self._raw_shape(phones, t + visemes.ANTICIPATE)
        if ahead in "AG" and raw not in visemes.DECISIVE:
            raw = ahead
        if raw != self._shape:
            held = t - self._shape_since
            # Keep a decisive shape on screen long enough to read; ignore flickers.
            blocked = (self._shape in visemes.DECISIVE and held < MIN_CUE - 1e-9) or (
                raw not in visemes.DECISIVE and
                self._raw_shape(phones, min(t + MIN_CUE, self.received)) != raw)
            if not blocked:
                self._shape, self._shape_since = raw, t
        return self._shape

    def _raw_shape(self, phones: list[_Segment], t: float) -> str:
        prev = None
        for p in phones:
            if p.start <= t < p.end:
                first, last = visemes.rhubarb_shapes(p.symbol)
                return first if t < p.start + 0.6 * (p.end - p.start) else last
            if p.end <= t:
                prev = p
            else:
                gap_end = p.start
                break
        else:
            gap_end = None
        if prev is None:
            return "X"
        gap = (gap_end if gap_end is not None else self.received) - prev.end
        if gap < visemes.HOLD_PAUSE and not self._gate.in_pause(t):
            shape = visemes.rhubarb_shapes(prev.symbol)[1]
            return shape if shape in "BCH" else "B"
        return "X"


def _window(times: np.ndarray, start: float, end: float, ramp: float) -> np.ndarray:
    """1 on [start, end], linear ramps of length ``ramp`` outside, 0 beyond."""
    return np.minimum(np.clip((times - (start - ramp)) / ramp, 0, 1),
                      np.clip(((end + ramp) - times) / ramp, 0, 1))
