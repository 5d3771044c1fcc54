"""The plain data passed between pipeline stages (DESIGN.md §1).

Every stage takes and returns these: dataclasses holding Python scalars and NumPy arrays, so a
stage can be tested, swapped or streamed on its own. Times are seconds from the start of the audio.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Audio:
    """Mono float32 samples in -1…1 at ``sample_rate`` Hz.

    For files too long to hold, ``samples`` may be empty and ``length`` gives the sample count;
    the samples are then read again from ``path`` by whoever needs them (the video writer).
    """

    samples: np.ndarray
    sample_rate: int
    path: str | None = None
    length: int | None = None

    @property
    def duration(self) -> float:
        n = self.length if self.length is not None else len(self.samples)
        return n / float(self.sample_rate)


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Phone:
    """One phone in IPA. ``word`` indexes ``Timeline.words`` (-1: outside any word);
    ``stress`` is 0 (none), 1 (primary) or 2 (secondary)."""

    symbol: str
    start: float
    end: float
    word: int = -1
    stress: int = 0


# How a timeline was obtained.
SOURCES = ("aligned", "recognised", "synthesised", "imported")


@dataclass
class Timeline:
    language: str
    words: list[Word] = field(default_factory=list)
    phones: list[Phone] = field(default_factory=list)
    source: str = "aligned"

    def shifted(self, offset: float, word_offset: int = 0) -> Timeline:
        """A copy with every time moved by ``offset`` and word indices by ``word_offset``."""
        return Timeline(
            language=self.language,
            words=[Word(w.text, w.start + offset, w.end + offset) for w in self.words],
            phones=[
                Phone(p.symbol, p.start + offset, p.end + offset,
                      p.word + word_offset if p.word >= 0 else -1, p.stress)
                for p in self.phones
            ],
            source=self.source,
        )


@dataclass
class Prosody:
    """Per-frame features at ``rate`` frames per second: ``loudness`` (0…1, relative to the
    utterance's speech level), ``f0`` in Hz (0 where unvoiced) and ``voiced`` (bool)."""

    rate: float
    loudness: np.ndarray
    f0: np.ndarray
    voiced: np.ndarray

    @property
    def duration(self) -> float:
        return len(self.loudness) / self.rate


@dataclass(frozen=True, slots=True)
class Cue:
    """One discrete viseme held from ``start`` to ``end``."""

    start: float
    end: float
    value: str


@dataclass
class Animation:
    """Curves: ``values`` is ``[frames × channels]`` float32, blendshapes in 0…1, head angles in
    degrees. Frame ``i`` shows time ``i / fps``. ``visemes`` maps a viseme set ("rhubarb",
    "oculus", "azure") to its cue track."""

    fps: float
    channels: list[str]
    values: np.ndarray
    visemes: dict[str, list[Cue]] = field(default_factory=dict)

    @property
    def frames(self) -> int:
        return int(self.values.shape[0])

    def channel(self, name: str) -> np.ndarray:
        return self.values[:, self.channels.index(name)]
