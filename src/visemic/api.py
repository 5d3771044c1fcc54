"""The one Python API that the CLI, server and batch runner stand on."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from visemic import audio as audio_io
from visemic import prosody as prosody_mod
from visemic.motion import curves, visemes
from visemic.phonetics import timeline as timeline_mod
from visemic.types import Animation, Audio, Prosody, Timeline

Progress = Callable[[float], None]


@dataclass
class Result:
    """Everything one run produced. ``save`` writes any export format (or video)."""

    audio: Audio
    timeline: Timeline
    prosody: Prosody
    animation: Animation
    settings: dict[str, Any] = field(default_factory=dict)

    def save(self, path: str | os.PathLike[str], format: str | None = None,
             **options: Any) -> Path:
        """Write the result to ``path`` atomically; ``format`` defaults to the extension's.

        Formats: json, csv, rhubarb-tsv, rhubarb-xml, rhubarb-json, rhubarb-dat, phones, and the
        video formats of :mod:`visemic.outputs.video`. Returns the path written.
        """
        from visemic.outputs import formats

        return formats.save(self, path, format=format, **options)


def animate(source: str | os.PathLike[str] | Audio | np.ndarray, text: str | None = None, *,
            sample_rate: int | None = None, language: str = "en", fps: float = 60.0,
            method: str = "words", progress: Progress | None = None) -> Result:
    """Speech → phonetic timeline → ARKit-52 curves + viseme tracks.

    ``source`` is a path to any audio file, an :class:`Audio`, or a NumPy array of samples (then
    ``sample_rate`` is required). With ``text`` the transcript is force-aligned to the speech;
    without it the speech is recognised. ``progress`` is called with 0…1 as work advances.
    Raises :class:`visemic.errors.VisemicError` on bad input.
    """
    audio = audio_io.load(source, sample_rate=sample_rate)
    tl = timeline_mod.analyse(audio, text=text, language=language, method=method,
                              progress=progress)
    pros = prosody_mod.analyse(audio)
    anim = curves.animate(tl, pros, fps=fps, duration=audio.duration)
    anim.visemes = visemes.tracks(tl, duration=audio.duration)
    settings = {"text": text, "language": language, "fps": fps,
                "method": method if text is None else "align"}
    if progress:
        progress(1.0)
    return Result(audio=audio, timeline=tl, prosody=pros, animation=anim, settings=settings)
