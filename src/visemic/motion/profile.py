"""Personal profiles: one person's mouth motion, as a small versioned JSON file.

A profile replaces the generic tables of :mod:`visemic.motion.poses` (how far each class of phone
opens the jaw, :data:`~visemic.motion.poses.OPENING`, rest included: closed or parted) and the
timing constants of :mod:`visemic.motion.curves` (anticipation lead, coarticulation decays),
and scales the lip shapes per class (mouth width, rounding). It is learnt from a video of the
person speaking (:mod:`visemic.calibrate`), or from a Live Link Face capture with its audio.

This module is the one place where a profile is applied: the batch curves
(:func:`visemic.motion.curves.animate`) and the stream engine ask a :class:`Profile` for each
phone's pose and for the timing; :func:`generic` is the profile of the built-in tables, so both
paths have one code path with or without a personal profile.

>>> from visemic.motion import profile
>>> me = profile.load("me.profile.json")
>>> visemic.animate("speech.wav", profile=me)     # or profile="me.profile.json"

The JSON (``"format": "visemic-profile"``, ``"version": 1``) is documented in
docs/PROFILES.md; unknown keys are ignored, missing optional keys take the generic values.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from visemic.errors import VisemicError
from visemic.motion import curves, poses
from visemic.phonetics import ipa

FORMAT = "visemic-profile"
VERSION = 1

# The generic timing a profile overrides (seconds; see visemic.motion.curves) and how far
# loudness opens the jaw.
LEAD, RELEASE = curves.LEAD, curves.RELEASE
DECAY_PRE, DECAY_POST = curves.DECAY_PRE, curves.DECAY_POST
LOUDNESS = curves.LOUDNESS

# Bounds a profile's values are held to when read (a hand-edited or extreme file must not
# produce a broken face).
OPENING_RANGE = (0.0, 0.9)
SCALE_RANGE = (0.3, 2.5)
LEAD_RANGE = (-0.1, 0.2)
DECAY_RANGE = (0.01, 0.2)
LOUDNESS_RANGE = (0.0, 2.0)
HOLD_RANGE = (0.2, 5.0)

_WIDTH = ("mouthStretchLeft", "mouthStretchRight", "mouthSmileLeft", "mouthSmileRight")
_ROUND = ("mouthPucker", "mouthFunnel")
_FOLLOW_JAW = ("mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
               "mouthUpperUpRight")


@dataclass
class Profile:
    """One person's mouth (see the module docstring and docs/PROFILES.md).

    ``opening``: jawOpen target per class of :data:`visemic.motion.poses.OPENING` ("rest" is the
    mouth in pauses: 0 closed, above 0 parted); ``width`` and ``rounding``: per class, factors on
    the generic mouth width (stretch, smile) and rounding (pucker, funnel), 1 generic; ``lead``
    and ``release`` (how far ahead of a sound's start and end its pull on the mouth begins and
    ends), ``decay_pre``, ``decay_post``: timing in seconds; ``loudness``: how far loudness
    opens the jaw (:func:`visemic.motion.curves.loudness_gain`); ``consonant_hold``: a factor on how
    firmly consonants hold the jaw against the vowels around them; ``measured``: what was
    measured on the person (in inter-ocular distances), for information; ``source``: what it
    was learnt from.
    """

    opening: dict[str, float] = field(default_factory=lambda: dict(poses.OPENING))
    width: dict[str, float] = field(default_factory=dict)
    rounding: dict[str, float] = field(default_factory=dict)
    lead: float = LEAD
    release: float = RELEASE
    decay_pre: float = DECAY_PRE
    decay_post: float = DECAY_POST
    loudness: float = LOUDNESS
    consonant_hold: float = poses.CONSONANT_HOLD
    measured: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    _cache: dict[str, poses.Pose] = field(default_factory=dict, init=False, repr=False,
                                          compare=False)

    # ----------------------------------------------------------------- what the motion asks

    @property
    def rest(self) -> str:
        """"closed" or "parted": the lips at rest."""
        return "parted" if self.opening.get("rest", 0.0) >= 0.03 else "closed"

    def pose(self, symbol: str) -> poses.Pose:
        """The pose of an IPA phone (a diphthong's first part), made this person's."""
        got = self._cache.get(symbol)
        if got is None:
            got = self._personal(ipa.parse(symbol).first)
            self._cache[symbol] = got
        return got

    def end_pose(self, symbol: str) -> poses.Pose:
        """The pose a phone glides to (its last part); the same object as :meth:`pose` for a
        monophthong."""
        key = symbol + "\x00"
        got = self._cache.get(key)
        if got is None:
            ph = ipa.parse(symbol)
            got = self.pose(symbol) if len(ph.parts) == 1 else self._personal(ph.parts[-1])
            self._cache[key] = got
        return got

    def rest_pose(self) -> poses.Pose:
        """The face in pauses: closed (generic) or the person's parted rest."""
        got = self._cache.get("\x00rest")
        if got is None:
            jaw = self.opening.get("rest", 0.0)
            values = {"jawOpen": jaw} if jaw > 0 else {}
            if jaw > 0:
                values |= {"mouthLowerDownLeft": 0.3 * jaw, "mouthLowerDownRight": 0.3 * jaw}
            got = poses.Pose(values, jaw_strength=poses.REST.jaw_strength,
                             lip_strength=poses.REST.lip_strength, round_lead=0.0, kind="rest")
            self._cache["\x00rest"] = got
        return got

    def _personal(self, f: ipa.Features) -> poses.Pose:
        base = poses.pose_of(f)
        p = poses.pose_of(f, self.opening, self.consonant_hold)
        values = dict(p.values)
        generic_jaw = base.values.get("jawOpen", 0.0)
        if generic_jaw > 0 and p.kind != "bilabial":
            # The lips follow the jaw: a wider opening also lowers the lip more.
            k = min(2.0, max(0.5, values["jawOpen"] / generic_jaw))
            for name in _FOLLOW_JAW:
                if name in values:
                    values[name] = min(1.0, values[name] * k)
        for names, table in ((_WIDTH, self.width), (_ROUND, self.rounding)):
            k = table.get(p.kind, 1.0)
            if k != 1.0:
                for name in names:
                    if name in values:
                        values[name] = min(1.0, values[name] * k)
        return poses.Pose(values, p.jaw_strength, p.lip_strength, p.round_lead, p.bilabial,
                          p.labiodental, p.kind, p.vowel)

    # ------------------------------------------------------------------------------ JSON

    def to_json(self) -> dict[str, Any]:
        r4 = lambda d: {k: round(float(v), 4) for k, v in d.items()}  # noqa: E731
        return {"format": FORMAT, "version": VERSION, "name": self.name, "rest": self.rest,
                "opening": r4(self.opening), "width": r4(self.width),
                "rounding": r4(self.rounding),
                "timing": {"lead": round(self.lead, 4), "release": round(self.release, 4),
                           "decay_pre": round(self.decay_pre, 4),
                           "decay_post": round(self.decay_post, 4)},
                "loudness": round(self.loudness, 4),
                "consonant_hold": round(self.consonant_hold, 4),
                "measured": self.measured, "source": self.source}

    @classmethod
    def from_json(cls, data: Any, where: str = "profile") -> Profile:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise VisemicError(f"{where}: not a visemic profile (no \"format\": \"{FORMAT}\")")
        version = data.get("version")
        if not isinstance(version, int) or version < 1:
            raise VisemicError(f"{where}: bad profile version {version!r}")
        if version > VERSION:
            raise VisemicError(f"{where}: profile version {version} is newer than this visemic "
                               f"reads ({VERSION}); update visemic")
        timing = data.get("timing") or {}
        return cls(opening=dict(poses.OPENING) | _table(data.get("opening"), OPENING_RANGE,
                                                       where, "opening"),
                   width=_table(data.get("width"), SCALE_RANGE, where, "width"),
                   rounding=_table(data.get("rounding"), SCALE_RANGE, where, "rounding"),
                   lead=_number(timing.get("lead", LEAD), LEAD_RANGE, where, "timing.lead"),
                   release=_number(timing.get("release", RELEASE), LEAD_RANGE, where,
                                   "timing.release"),
                   decay_pre=_number(timing.get("decay_pre", DECAY_PRE), DECAY_RANGE, where,
                                     "timing.decay_pre"),
                   decay_post=_number(timing.get("decay_post", DECAY_POST), DECAY_RANGE, where,
                                      "timing.decay_post"),
                   loudness=_number(data.get("loudness", LOUDNESS), LOUDNESS_RANGE, where,
                                    "loudness"),
                   consonant_hold=_number(data.get("consonant_hold", poses.CONSONANT_HOLD),
                                          HOLD_RANGE, where, "consonant_hold"),
                   measured=dict(data.get("measured") or {}),
                   source=dict(data.get("source") or {}), name=str(data.get("name") or ""))


def generic() -> Profile:
    """The built-in tables as a profile (what every animation without a profile uses)."""
    return _GENERIC


_GENERIC = Profile()


def load(path: str | os.PathLike[str]) -> Profile:
    """Read a profile file (VisemicError when missing or not a valid profile)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise VisemicError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise VisemicError(f"{path}: cannot read the profile ({e})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise VisemicError(f"{path}: not JSON ({e.msg} at line {e.lineno})") from None
    return Profile.from_json(data, str(path))


def resolve(value: Profile | str | os.PathLike[str] | None) -> Profile | None:
    """A profile argument as the API takes it (a Profile, a path, or None) → Profile/None."""
    if value is None or isinstance(value, Profile):
        return value
    return load(value)


def dumps(profile: Profile) -> str:
    """The profile's JSON text (write it atomically: :func:`visemic.outputs.atomic.write_text`)."""
    return json.dumps(profile.to_json(), indent=2, ensure_ascii=False) + "\n"


def _number(value: Any, bounds: tuple[float, float], where: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise VisemicError(f"{where}: {key} must be a number, got {value!r}")
    return float(min(bounds[1], max(bounds[0], value)))


def _table(value: Any, bounds: tuple[float, float], where: str, key: str) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise VisemicError(f"{where}: {key} must be an object of class: number")
    unknown = sorted(set(value) - set(poses.CLASSES))
    if unknown:
        raise VisemicError(f"{where}: unknown phone class(es) in {key}: {', '.join(unknown)} "
                           f"(classes: {', '.join(poses.CLASSES)})")
    return {k: _number(v, bounds, where, f"{key}.{k}") for k, v in value.items()}
