"""Subtitles (SubRip .srt, WebVTT .vtt) of the words, with visemic's aligned word times.

The text shown is the transcript as written (given with ``--text``, or as Whisper heard it, with
its casing and punctuation) where its words map one to one onto the timeline's; otherwise the
timeline's own (normalised) words. Cues break at pauses, after sentence ends, and before they grow
past two lines or a few seconds, as subtitle guides ask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from visemic.phonetics import text as text_mod

if TYPE_CHECKING:
    from visemic.result import Result

LINE = 42  # characters per line
LINES = 2
MAX_CUE = 7.0  # seconds
PAUSE = 0.7  # seconds of silence that end a cue
SENTENCE_END = tuple(".?!…。？！")

Span = tuple[str, float, float]


def written_words(result: Result) -> list[Span]:
    """(text as written, start, end) per displayed word."""
    words = result.timeline.words
    settings = result.settings
    text = settings.get("text") or (settings.get("asr") or {}).get("text")
    if text:
        spans: list[Span] = []
        i, pending = 0, ""
        for token in text.split():
            n = len(text_mod.normalize(token, result.timeline.language))
            if n == 0:  # punctuation on its own ("—"): goes with its neighbour
                if spans:
                    last = spans[-1]
                    spans[-1] = (f"{last[0]} {token}", last[1], last[2])
                else:
                    pending += token + " "
                continue
            if i + n > len(words):
                break
            spans.append((pending + token, words[i].start, words[i + n - 1].end))
            i, pending = i + n, ""
        else:
            if i == len(words):
                return spans
    return [(w.text, w.start, w.end) for w in words]


def cues(result: Result) -> list[Span]:
    """The subtitle cues: (text, possibly over two lines, start, end)."""
    out: list[Span] = []
    group: list[Span] = []

    def flush() -> None:
        if group:
            out.append((_lines(" ".join(g[0] for g in group)), group[0][1], group[-1][2]))
            group.clear()

    for span in written_words(result):
        if group:
            text = " ".join(g[0] for g in group) + " " + span[0]
            if (span[1] - group[-1][2] >= PAUSE or span[2] - group[0][1] > MAX_CUE
                    or len(text) > LINE * LINES or group[-1][0].endswith(SENTENCE_END)):
                flush()
        group.append(span)
    flush()
    return out


def _lines(text: str) -> str:
    """``text`` on two lines, broken at the space nearest the middle, when it is too long."""
    if len(text) <= LINE or " " not in text:
        return text
    middle = len(text) // 2
    spaces = [i for i, ch in enumerate(text) if ch == " "]
    cut = min(spaces, key=lambda i: abs(i - middle))
    return text[:cut] + "\n" + text[cut + 1:]


def _stamp(seconds: float, sep: str) -> str:
    ms = max(0, round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def write_srt(result: Result, out: TextIO) -> None:
    for n, (text, start, end) in enumerate(cues(result), 1):
        out.write(f"{n}\n{_stamp(start, ',')} --> {_stamp(end, ',')}\n{text}\n\n")


def write_vtt(result: Result, out: TextIO) -> None:
    out.write("WEBVTT\n\n")
    for text, start, end in cues(result):
        out.write(f"{_stamp(start, '.')} --> {_stamp(end, '.')}\n{text}\n\n")
