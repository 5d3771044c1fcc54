"""Rhubarb Lip Sync's four output formats, byte for byte as its 1.14 exporters write them.

Rhubarb works in whole centiseconds: cue boundaries are multiples of 0.01 s, the duration is the
audio's length truncated to a centisecond, and neighbouring cues with the same shape are joined.
We quantise our float cue track the same way before writing, so every format agrees with every
other and with what a plug-in expects (times printed with two decimals, the last TSV line a
closed mouth at the very end). Layout details (XML declaration and two-space indentation from
Boost's property-tree writer, the hand-formatted JSON, the DAT frame numbering
``1 + int(fps × t)`` with repeated frames skipped) follow Rhubarb's ``src/exporters``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, TextIO

from visemic.errors import VisemicError
from visemic.motion import visemes
from visemic.motion.visemes import PRESTON_BLAIR, RHUBARB_FALLBACK

if TYPE_CHECKING:
    from visemic.result import Result

BASIC = "ABCDEF"
EXTENDED = "GHX"
DEFAULT_EXTENDED = "GHX"
DAT_MIN_FPS = 24.0
DAT_MAX_FPS = 100.0

# (start, end, shape) with times in whole centiseconds.
CsCue = tuple[int, int, str]


def parse_extended(extended: str | None) -> str:
    """Rhubarb's ``--extendedShapes`` value as the enabled subset of "GHX", in that order.

    Letters are case-insensitive, as in Rhubarb; basic shapes may be listed (they are always on).
    """
    if extended is None:
        return DEFAULT_EXTENDED
    letters = set()
    for ch in extended:
        up = ch.upper()
        if up not in BASIC + EXTENDED:
            raise VisemicError(f"{ch} is not a valid Shape value (extended shapes are G, H, X)")
        letters.add(up)
    return "".join(c for c in EXTENDED if c in letters)


def closed_shape(extended: str) -> str:
    """The closed mouth Rhubarb writes at the end: X, or its fallback when X is disabled."""
    return "X" if "X" in extended else RHUBARB_FALLBACK["X"]


def duration_cs(result: Result) -> int:
    """The audio's duration in whole centiseconds, truncated as Rhubarb does."""
    # The epsilon keeps 2.53 s (stored as 2.5299999…) from truncating to 2.52.
    return max(0, math.floor(result.audio.duration * 100 + 1e-6))


def cues(result: Result, extended: str = DEFAULT_EXTENDED) -> list[CsCue]:
    """The Rhubarb cue track of ``result`` for the enabled extended shapes, in centiseconds.

    With all extended shapes the track the engine computed is used; with fewer it is rebuilt
    (:func:`visemic.motion.visemes.rhubarb` re-merges the fallbacks, as Rhubarb animates with
    the target shape set rather than substituting afterwards).
    """
    extended = parse_extended(extended)
    end = duration_cs(result)
    track = result.animation.visemes.get("rhubarb") if extended == DEFAULT_EXTENDED else None
    if track is None:
        track = visemes.rhubarb(result.timeline, result.audio.duration, extended=extended)
    out: list[CsCue] = []
    for c in track:
        value = c.value
        if value not in BASIC and value not in extended:
            value = RHUBARB_FALLBACK[value]  # a track from elsewhere may still hold them
        start = min(end, max(0, round(c.start * 100)))
        stop = min(end, max(0, round(c.end * 100)))
        if out:
            start = out[-1][1]  # contiguous, like Rhubarb's continuous timeline
        if stop <= start:
            continue
        if out and out[-1][2] == value:
            out[-1] = (out[-1][0], stop, value)
        else:
            out.append((start, stop, value))
    if out:
        # Cover the whole recording: Rhubarb's timeline spans [0, duration].
        out[0] = (0, out[0][1], out[0][2])
        out[-1] = (out[-1][0], end, out[-1][2])
    return out


def fmt_cs(cs: int) -> str:
    """Centiseconds as Rhubarb's ``formatDuration`` prints seconds: two decimals."""
    return f"{cs // 100}.{cs % 100:02d}"


def _dummy_if_empty(track: list[CsCue], extended: str) -> list[CsCue]:
    # Rhubarb's exporters always emit at least one (zero-length) cue.
    return track or [(0, 0, closed_shape(extended))]


def sound_file_for(result: Result, sound_file: str | os.PathLike[str] | None) -> str:
    """The ``soundFile`` metadata: the given string verbatim, else the audio's absolute path.

    Rhubarb writes ``std::filesystem::absolute(input)``: the working directory joined to a
    relative path, without normalising it.
    """
    if sound_file is not None:
        return os.fspath(sound_file)
    if not result.audio.path:
        return ""
    path = os.fspath(result.audio.path)
    return path if os.path.isabs(path) else os.path.join(os.getcwd(), path)


def write_tsv(result: Result, out: TextIO, extended: str = DEFAULT_EXTENDED) -> None:
    """One ``start<TAB>shape`` line per cue, then the end time with a closed mouth."""
    extended = parse_extended(extended)
    track = cues(result, extended)
    for start, _, value in track:
        out.write(f"{fmt_cs(start)}\t{value}\n")
    out.write(f"{fmt_cs(duration_cs(result))}\t{closed_shape(extended)}\n")


def xml_escape(text: str) -> str:
    """Boost property_tree's ``encode_char_entities``."""
    if text and not text.strip(" "):
        # Boost encodes an all-space string's first space so that it survives a round trip.
        return "&#32;" + " " * (len(text) - 1)
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&apos;"))


def write_xml(result: Result, out: TextIO, extended: str = DEFAULT_EXTENDED,
              sound_file: str | os.PathLike[str] | None = None) -> None:
    """``<rhubarbResult>`` with metadata and one ``<mouthCue>`` element per cue."""
    extended = parse_extended(extended)
    sound = sound_file_for(result, sound_file)
    out.write('<?xml version="1.0" encoding="utf-8"?>\n')
    out.write("<rhubarbResult>\n  <metadata>\n")
    # Boost writes an element without text or children as an empty-element tag.
    out.write(f"    <soundFile>{xml_escape(sound)}</soundFile>\n" if sound
              else "    <soundFile/>\n")
    out.write(f"    <duration>{fmt_cs(duration_cs(result))}</duration>\n")
    out.write("  </metadata>\n  <mouthCues>\n")
    for start, end, value in _dummy_if_empty(cues(result, extended), extended):
        out.write(f'    <mouthCue start="{fmt_cs(start)}" end="{fmt_cs(end)}">{value}'
                  "</mouthCue>\n")
    out.write("  </mouthCues>\n</rhubarbResult>\n")


def json_string(text: str) -> str:
    """Rhubarb's ``escapeJsonString`` (UTF-16 escapes for non-ASCII), in quotes."""
    return json.dumps(text, ensure_ascii=True)


def write_json(result: Result, out: TextIO, extended: str = DEFAULT_EXTENDED,
               sound_file: str | os.PathLike[str] | None = None) -> None:
    """The hand-formatted JSON of Rhubarb: metadata, then one cue object per line."""
    extended = parse_extended(extended)
    sound = sound_file_for(result, sound_file)
    out.write("{\n")
    out.write('  "metadata": {\n')
    out.write(f'    "soundFile": {json_string(sound)},\n')
    out.write(f'    "duration": {fmt_cs(duration_cs(result))}\n')
    out.write("  },\n")
    out.write('  "mouthCues": [\n')
    out.write(",\n".join(
        f'    {{ "start": {fmt_cs(s)}, "end": {fmt_cs(e)}, "value": "{v}" }}'
        for s, e, v in _dummy_if_empty(cues(result, extended), extended)))
    out.write("\n  ]\n}\n")


def check_dat_fps(fps: float) -> float:
    """Rhubarb accepts 24–100 fps for DAT output."""
    try:
        value = float(fps)
    except (TypeError, ValueError):
        raise VisemicError(f"dat frame rate must be a number, got {fps!r}") from None
    if not (DAT_MIN_FPS <= value <= DAT_MAX_FPS):
        raise VisemicError(f"Frame rate must be between {DAT_MIN_FPS:g} and {DAT_MAX_FPS:g} fps"
                           f" (got {value:g}).")
    return value


def dat_lines(track: Iterable[CsCue], end_cs: int, fps: float, closed: str,
              preston_blair: bool) -> list[str]:
    """``FRAME SHAPE`` lines: a cue starts on frame ``1 + int(fps × t)``; a cue landing on the
    frame of the previous one is skipped; the closed mouth marks the end (a frame later if the
    end falls on the last cue's frame)."""
    def name(shape: str) -> str:
        return PRESTON_BLAIR[shape] if preston_blair else shape

    def frame(cs: int) -> int:
        # The same double arithmetic as Rhubarb: seconds = cs / 100, then truncation.
        return 1 + int(fps * (cs / 100.0))

    lines = []
    last = 0
    for start, _, value in track:
        f = frame(start)
        if f == last:
            continue
        lines.append(f"{f} {name(value)}")
        last = f
    f = frame(end_cs)
    if f == last:
        f += 1
    lines.append(f"{f} {name(closed)}")
    return lines


def write_dat(result: Result, out: TextIO, extended: str = DEFAULT_EXTENDED,
              dat_fps: float = 24.0, preston_blair: bool = False) -> None:
    """Moho / OpenToonz switch data: ``MohoSwitch1`` then ``FRAME SHAPE`` lines."""
    extended = parse_extended(extended)
    fps = check_dat_fps(dat_fps)
    out.write("MohoSwitch1\n")
    for line in dat_lines(cues(result, extended), duration_cs(result), fps,
                          closed_shape(extended), preston_blair):
        out.write(line + "\n")
