"""Emotion mixes and emotion tracks, and the ARKit offsets they add to a face.

A *mix* maps emotion names (:data:`visemic.motion.emotion_poses.EMOTIONS`) to intensities in
0…1, written on the command line as ``happy:0.6,surprised:0.3`` (a bare name means 1). A *track*
is a list of keyframes (time, mix); between keyframes the mix eases smoothly (smoothstep) from
one to the next, before the first and after the last it holds.

Track files (``--emotion-track FILE``):

- JSON: ``{"keyframes": [{"time": 0.0, "emotion": "neutral"}, {"time": 2.5, "emotion":
  {"happy": 0.8}}]}`` (or the bare list); ``emotion`` is a mix string or an object.
- CSV with a header: either ``time,emotion`` (mix strings, quoted when they hold commas) or
  ``time,happy,sad,…`` (one column per emotion, intensities in the cells, empty = 0).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass

import numpy as np

from visemic.errors import VisemicError
from visemic.motion import arkit
from visemic.motion.emotion_poses import EMOTIONS
from visemic.textfile import read_text

Mix = dict[str, float]

_SIDED = ("eyeBlink", "eyeLookDown", "eyeLookIn", "eyeLookOut", "eyeLookUp", "eyeSquint",
          "eyeWide", "mouthSmile", "mouthFrown", "mouthDimple", "mouthStretch", "mouthPress",
          "mouthLowerDown", "mouthUpperUp", "browDown", "browOuterUp", "cheekSquint",
          "noseSneer")


def _expand(row: dict[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, v in row.items():
        if name in _SIDED:
            out[name + "Left"] = v
            out[name + "Right"] = v
        elif name in arkit.INDEX:
            out[name] = v
        else:  # a typo in the table must not pass silently
            raise KeyError(f"emotion table: unknown channel {name!r}")
    return out


# The table as a matrix: one row per emotion, one column per channel (arkit.CHANNELS).
NAMES: tuple[str, ...] = tuple(EMOTIONS)
POSES = np.zeros((len(NAMES), len(arkit.CHANNELS)), np.float32)
for _i, _name in enumerate(NAMES):
    for _ch, _v in _expand(EMOTIONS[_name]).items():
        POSES[_i, arkit.INDEX[_ch]] = _v


def check_mix(mix: Mix) -> Mix:
    """``mix`` validated: known names, finite intensities in 0…1. Raises VisemicError."""
    out: Mix = {}
    for name, value in mix.items():
        key = str(name).strip().lower()
        if key not in EMOTIONS:
            raise VisemicError(f"unknown emotion {name!r}; known: {', '.join(NAMES)}")
        try:
            v = float(value)
        except (TypeError, ValueError, OverflowError):
            raise VisemicError(f"emotion {key}: intensity must be a number, got "
                               f"{str(value)[:40]!r}") from None
        if not math.isfinite(v) or not 0.0 <= v <= 1.0:
            raise VisemicError(f"emotion {key}: intensity must be between 0 and 1, got {value}")
        out[key] = out.get(key, 0.0) + v
    return out


def parse_mix(text: str) -> Mix:
    """``"happy:0.6,surprised:0.3"`` → ``{"happy": 0.6, "surprised": 0.3}``; a bare name means 1.

    Raises VisemicError for unknown names, bad numbers and intensities outside 0…1.
    """
    mix: dict[str, float | str] = {}
    parts = [p.strip() for p in text.split(",")]
    if not any(parts):
        raise VisemicError("empty emotion (expected e.g. happy:0.6,surprised:0.3)")
    for part in parts:
        if not part:
            raise VisemicError(f"malformed emotion mix {text!r} (expected e.g. happy:0.6,sad:0.2)")
        name, sep, value = part.partition(":")
        if sep and not value.strip():
            raise VisemicError(f"emotion {name.strip()}: missing intensity after ':'")
        key = name.strip().lower()
        mix[key] = float(mix.get(key, 0.0)) + _number(value, key) if sep else 1.0
    return check_mix(mix)


def _number(text: str, name: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise VisemicError(f"emotion {name}: intensity must be a number, got {text.strip()!r}"
                           ) from None


@dataclass(frozen=True)
class Keyframe:
    time: float
    mix: Mix


@dataclass(frozen=True)
class EmotionTrack:
    """Keyframes in time order; the mix eases between them (see the module's docstring)."""

    keyframes: tuple[Keyframe, ...]

    @classmethod
    def constant(cls, mix: Mix) -> EmotionTrack:
        return cls((Keyframe(0.0, check_mix(mix)),))

    @classmethod
    def from_pairs(cls, pairs: list[tuple[float, Mix | str]]) -> EmotionTrack:
        """Keyframes from ``(time, mix or mix string)``; validates and sorts them."""
        if not pairs:
            raise VisemicError("an emotion track needs at least one keyframe")
        keys = []
        for t, mix in pairs:
            try:
                time = float(t)
            except (TypeError, ValueError, OverflowError):
                raise VisemicError(f"emotion track: keyframe time must be a number, got {t!r}"
                                   ) from None
            if not math.isfinite(time) or time < 0:
                raise VisemicError(f"emotion track: keyframe time must be ≥ 0, got {t!r}")
            keys.append(Keyframe(time, parse_mix(mix) if isinstance(mix, str)
                                 else check_mix(dict(mix))))
        keys.sort(key=lambda k: k.time)
        return cls(tuple(keys))

    def to_json(self) -> list[dict[str, object]]:
        return [{"time": k.time, "emotion": dict(k.mix)} for k in self.keyframes]

    def weights(self, times: np.ndarray) -> np.ndarray:
        """``[len(times) × len(NAMES)]`` intensities at each time."""
        keys = self.keyframes
        w = np.zeros((len(times), len(NAMES)), np.float32)
        mats = np.zeros((len(keys), len(NAMES)), np.float32)
        for i, k in enumerate(keys):
            for name, v in k.mix.items():
                mats[i, NAMES.index(name)] = v
        w[:] = mats[0]
        for i in range(1, len(keys)):
            t0, t1 = keys[i - 1].time, keys[i].time
            after = times >= t0
            if t1 - t0 < 1e-9:
                u = (times >= t1).astype(np.float32)
            else:
                u = np.clip((times - t0) / (t1 - t0), 0.0, 1.0)
                u = u * u * (3.0 - 2.0 * u)  # smoothstep: no kink at either keyframe
            w[after] = ((1.0 - u[after, None]) * mats[i - 1] + u[after, None] * mats[i])
        return w


def offsets(track: EmotionTrack, times: np.ndarray) -> np.ndarray:
    """The emotion layer: ``[len(times) × len(arkit.CHANNELS)]`` values to add to a face.

    Blendshape sums are capped at 1 (a mix of two emotions that share a channel does not
    exceed full activation).
    """
    out = track.weights(times) @ POSES
    out[:, :len(arkit.BLENDSHAPES)] = np.minimum(out[:, :len(arkit.BLENDSHAPES)], 1.0)
    return out


def as_track(emotion: str | Mix | EmotionTrack | None) -> EmotionTrack:
    """Whatever the API accepts for ``emotion`` as a track (None → neutral)."""
    if emotion is None:
        return EmotionTrack.constant({"neutral": 1.0})
    if isinstance(emotion, EmotionTrack):
        return emotion
    if isinstance(emotion, str):
        return EmotionTrack.constant(parse_mix(emotion))
    if isinstance(emotion, dict):
        return EmotionTrack.constant(emotion)
    raise VisemicError(f"emotion must be a mix string, a dict or an EmotionTrack, "
                       f"not {type(emotion).__name__}")


def load_track(path: str | os.PathLike[str]) -> EmotionTrack:
    """Read a JSON or CSV track file (format in the module's docstring). Raises VisemicError."""
    text = read_text(path, "emotion track")
    try:
        if text.lstrip()[:1] in ("{", "["):
            return _from_json(text)
        return _from_csv(text)
    except VisemicError as e:
        raise VisemicError(f"{path}: {e}") from None


def _from_json(text: str) -> EmotionTrack:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise VisemicError(f"not valid JSON ({e.msg}, line {e.lineno})") from None
    except RecursionError:
        raise VisemicError("not valid JSON (nested too deeply)") from None
    except ValueError:  # Python's limit on integer digits (4300)
        raise VisemicError("not valid JSON (a number with too many digits)") from None
    keys = data.get("keyframes") if isinstance(data, dict) else data
    if not isinstance(keys, list):
        raise VisemicError('expected {"keyframes": [{"time": …, "emotion": …}, …]}')
    pairs: list[tuple[float, Mix | str]] = []
    for k in keys:
        if not isinstance(k, dict) or "time" not in k or "emotion" not in k:
            raise VisemicError(f'each keyframe needs "time" and "emotion", got {k!r}')
        mix = k["emotion"]
        if not isinstance(mix, str | dict):
            raise VisemicError(f"keyframe emotion must be a mix string or object, got {mix!r}")
        pairs.append((k["time"], mix))
    return EmotionTrack.from_pairs(pairs)


def _from_csv(text: str) -> EmotionTrack:
    try:
        rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
    except csv.Error as e:
        raise VisemicError(f"not a readable CSV track ({e})") from None
    if len(rows) < 2:
        raise VisemicError("CSV track needs a header row (time,emotion or time,happy,…) and "
                           "at least one keyframe")
    header = [h.strip().lower() for h in rows[0]]
    if not header or header[0] != "time":
        raise VisemicError(f"CSV track: the first column must be 'time', got {rows[0][0]!r}")
    pairs: list[tuple[float, Mix | str]] = []
    for n, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise VisemicError(f"CSV track line {n}: {len(row)} cells, the header has "
                               f"{len(header)}")
        if header[1:] == ["emotion"]:
            pairs.append((_time(row[0], n), row[1]))
        else:
            mix = {name: _number(cell, name) for name, cell in zip(header[1:], row[1:],
                                                                      strict=True)
                   if cell.strip()}
            pairs.append((_time(row[0], n), mix or {"neutral": 1.0}))
    return EmotionTrack.from_pairs(pairs)


def _time(cell: str, line: int) -> float:
    try:
        return float(cell)
    except ValueError:
        raise VisemicError(f"CSV track line {line}: time must be a number, got {cell!r}"
                           ) from None
