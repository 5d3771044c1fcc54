"""The full-result JSON and the ``phones`` JSON (DESIGN.md §2).

Times and values are rounded to 4 decimals (0.1 ms, 1e-4 of a blendshape's range): finer than
any consumer can use, and it keeps files a fraction of the size. The value matrix is streamed a
block of rows at a time, one row per line, so an hour of animation never becomes one string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

import visemic
from visemic.types import Cue, Timeline

if TYPE_CHECKING:
    from visemic.result import Result

DECIMALS = 4
# Rows formatted per block: big enough to amortise NumPy calls, small enough to stay flat.
BLOCK = 2048
# "1.0" → "1", "0.0" → "0": a quarter of a typical file is these two characters.
_TRAILING_ZERO = re.compile(r"\.0(?=[,\]])")


def r4(x: float) -> float:
    """Round to 4 decimals; ``+ 0.0`` turns -0.0 into 0.0."""
    return round(float(x), DECIMALS) + 0.0


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(", ", ": "), default=str)


# Lists (words, phones, cues) are made and written an item at a time: an hour of speech has
# ~40,000 phones, and a list of their dicts, or one string of them, would cost tens of MB.
def words_json(tl: Timeline) -> Iterator[dict[str, Any]]:
    return ({"word": w.text, "start": r4(w.start), "end": r4(w.end)} for w in tl.words)


def phones_json(tl: Timeline, stress: bool = True) -> Iterator[dict[str, Any]]:
    for p in tl.phones:
        item: dict[str, Any] = {"phone": p.symbol, "start": r4(p.start), "end": r4(p.end),
                                "word": p.word}
        if stress:
            item["stress"] = p.stress
        yield item


def cues_json(track: list[Cue]) -> Iterator[dict[str, Any]]:
    return ({"start": r4(c.start), "end": r4(c.end), "value": c.value} for c in track)


def _write_list(out: TextIO, items: Iterator[Any], indent: str) -> None:
    """A JSON array with one item per line (readable, diff-friendly)."""
    first = True
    for item in items:
        out.write(("[\n" if first else ",\n") + indent + _dumps(item))
        first = False
    out.write("[]" if first else "]")


def value_rows(values: np.ndarray) -> Iterator[str]:
    """Each frame's values as a JSON array, rounded to 4 decimals."""
    for i in range(0, len(values), BLOCK):
        block = np.round(values[i:i + BLOCK].astype(np.float64), DECIMALS) + 0.0
        if not np.all(np.isfinite(block)):
            # JSON has no NaN/Infinity; a non-finite curve value is a bug upstream, but the
            # file must still parse.
            block = np.nan_to_num(block, nan=0.0, posinf=0.0, neginf=0.0)
        for row in block.tolist():
            yield _TRAILING_ZERO.sub("", json.dumps(row, separators=(",", ":")))


def write_full(result: Result, out: TextIO) -> None:
    """The whole result as one JSON object (DESIGN.md §2)."""
    tl = result.timeline
    anim = result.animation
    audio = {"path": result.audio.path, "duration": r4(result.audio.duration),
             "sample_rate": result.audio.sample_rate}
    out.write("{" + f'"visemic": {_dumps(visemic.__version__)},\n')
    out.write(f' "settings": {_dumps(result.settings)},\n')
    out.write(f' "audio": {_dumps(audio)},\n')
    out.write(f' "timeline": {{"language": {_dumps(tl.language)}, "source": {_dumps(tl.source)},\n')
    asr = result.settings.get("asr")
    if asr and "text" in asr:  # what the recogniser heard, as it wrote it
        out.write(f'  "transcript": {_dumps(asr["text"])},\n')
    out.write('  "words": ')
    _write_list(out, words_json(tl), "   ")
    out.write(',\n  "phones": ')
    _write_list(out, phones_json(tl), "   ")
    out.write("},\n")
    out.write(f' "animation": {{"fps": {_dumps(anim.fps)}, "channels": {_dumps(anim.channels)},\n')
    out.write('  "values": [')
    first = True
    for row in value_rows(anim.values):
        out.write(("\n   " if first else ",\n   ") + row)
        first = False
    out.write("]},\n")
    out.write(' "visemes": {')
    sets = list(anim.visemes.items())
    for k, (name, track) in enumerate(sets):
        sep = ",\n  " if k else "\n  "
        out.write(f"{sep}{_dumps(name)}: ")
        _write_list(out, cues_json(track), "   ")
    out.write("}}\n")


def write_phones(result: Result, out: TextIO) -> None:
    """``{"language", "words": [{word,start,end}], "phones": [{phone,start,end,word}]}``."""
    tl = result.timeline
    out.write(f'{{"language": {_dumps(tl.language)},\n')
    out.write(' "words": ')
    _write_list(out, words_json(tl), "  ")
    out.write(',\n "phones": ')
    _write_list(out, phones_json(tl, stress=False), "  ")
    out.write("}\n")
