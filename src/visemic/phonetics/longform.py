"""Sharing a transcript out to the segments of a long recording by what is said in each.

Long files are analysed a segment at a time (:mod:`visemic.phonetics.segmenter`), and each
segment is force-aligned to its own words. Which words those are can't be guessed from elapsed
time (speech rate and pauses vary; a guess off by a few words makes the aligner squeeze or give
up). Instead each segment's phones are recognised (vocabulary-free, so any language) and matched
against the transcript's phones from where the previous segment ended; the split between two
segments is where the first's phones and the next one's phones together fit the transcript best
(:func:`boundary`). Recognition errors cost a little score, not the anchor, and each segment
re-anchors, so errors don't accumulate. One segment's audio is held ahead (a minute at most).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Iterable, Iterator

import numpy as np

from visemic.phonetics import align, recognize, refine, segmenter
from visemic.phonetics.arpabet import ARPABET_TO_IPA
from visemic.phonetics.lexicon import Pronunciation
from visemic.types import Audio, Timeline

# Alignment scores: a phone the recogniser heard as written, one it heard as another, and one
# it missed or inserted. Gaps cost as much as a mismatch: recognition drops and adds phones.
MATCH, MISMATCH, GAP = 2.0, -1.0, -1.0
# The transcript window searched for a segment's end: generous against fast speech (words/s).
MAX_WORD_RATE = 6.0
MIN_WINDOW_WORDS = 40


def _phones(pron: Pronunciation) -> list[str]:
    return [ARPABET_TO_IPA.get(m.rstrip("012"), m) for m in pron.model_flat]


def _last_row(heard: list[int], written: np.ndarray, free_start: bool) -> np.ndarray:
    """Row ``len(heard)`` of the alignment table: ``[j]`` the best score of all of ``heard``
    against ``written[:j]`` (or against any ``written[i:j]`` with ``free_start``)."""
    cols = np.arange(len(written) + 1, dtype=np.float64)
    row = np.zeros_like(cols) if free_start else cols * GAP
    for phone in heard:
        sub = np.where(written == phone, MATCH, MISMATCH)
        best = row + GAP  # a heard phone the transcript doesn't have
        best[1:] = np.maximum(best[1:], row[:-1] + sub)
        # Written phones not heard, within the row: a running max of best[k] - GAP*k.
        row = np.maximum.accumulate(best - GAP * cols) + GAP * cols
    return row


def boundary(here: list[str], after: list[str], written: list[list[str]]) -> int:
    """How many of the ``written`` words (each a list of phones) are spoken in the segment
    whose phones were heard as ``here``, when the next segment was heard as ``after``.

    The split point j maximises (``here`` against written[:j]) + (``after`` against
    written[j:…]): both sides of the cut vote, which pins it far better than where ``here``
    alone fades out. A word the split cuts goes to the side holding most of its phones."""
    flat = [p for word in written for p in word]
    if not flat:
        return 0
    symbols = {s: i for i, s in enumerate(dict.fromkeys(flat + here + after))}
    t = np.array([symbols[p] for p in flat])
    forward = _last_row([symbols[p] for p in here], t, free_start=False)
    # The next segment starts at j and ends anywhere: align it reversed, free at the far end.
    backward = _last_row([symbols[p] for p in reversed(after)], t[::-1], free_start=True)[::-1]
    end = int(np.argmax(forward + backward))
    count, used = 0, 0
    for word in written:
        if used + len(word) <= end:
            count += 1
            used += len(word)
            continue
        if end - used > len(word) / 2:
            count += 1
        break
    return count


def share(segments: Iterable[tuple[int, np.ndarray]], prons: list[Pronunciation],
          rate: int, heard_all: list[tuple[float, str]] | None = None
          ) -> Iterator[tuple[int, np.ndarray, int, int]]:
    """For each ``(offset, samples)`` segment, ``(offset, samples, first, end)``: the segment
    speaks ``prons[first:end]``. The last segment takes every word left. ``heard_all``, the
    phones already recognised in the whole input as (time, symbol), saves recognising each
    segment again."""

    def heard_in(offset: int, samples: np.ndarray) -> list[str]:
        if heard_all is None:
            return _heard(samples, rate)
        lo, hi = offset / rate, (offset + len(samples)) / rate
        return [symbol for t, symbol in heard_all if lo <= t < hi]

    written = [_phones(p) for p in prons]
    cursor = 0
    it = iter(segments)
    current = next(it, None)
    heard: list[str] | None = None
    while current is not None:
        following = next(it, None)
        offset, samples = current
        if following is None:
            end = len(prons)
        else:
            heard = heard if heard is not None else heard_in(offset, samples)
            heard_next = heard_in(*following)
            seconds = (len(samples) + len(following[1])) / rate
            window = max(MIN_WINDOW_WORDS, int(seconds * MAX_WORD_RATE))
            end = cursor + boundary(heard, heard_next, written[cursor:cursor + window])
            heard = heard_next
        yield offset, samples, cursor, end
        release_freed_memory()
        cursor = end
        current = following


def release_freed_memory() -> None:
    """Hand memory the decoders freed back to the system: each alignment's search space (and
    each stream's decoder, :mod:`visemic.stream.pool`) is allocated afresh by pocketsphinx,
    and glibc otherwise keeps the freed pages, so the resident size of a long file crept up
    segment by segment."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def _heard(samples: np.ndarray, rate: int) -> list[str]:
    tl = recognize.recognise(Audio(samples=samples, sample_rate=rate), method="phones")
    return [p.symbol for p in tl.phones]


# The aligner's memory grows with the audio's length (~3 MB a second of speech, in pocketsphinx):
# longer speech is aligned in pause-delimited pieces of at most this many seconds.
PIECE_SHORTEST, PIECE_LONGEST = 6.0, 12.0


def align_pieces(audio: Audio, words: list[str], prons: list[Pronunciation], language: str,
                 method: str = "phones") -> Timeline:
    """:func:`analyse_segment` for audio of any length, a piece at a time (each piece
    getting its own words, as segments of a long file do)."""
    pieces = segmenter.segments([audio.samples], audio.sample_rate,
                                bounds=(PIECE_SHORTEST, PIECE_LONGEST))
    recognised = recognize.recognise(audio, method="phones")  # once, not once per piece
    heard_all = [((p.start + p.end) / 2, p.symbol) for p in recognised.phones]
    out = Timeline(language=language, source="aligned")
    for offset, samples, first, end in share(pieces, prons, audio.sample_rate, heard_all):
        piece = Audio(samples=samples, sample_rate=audio.sample_rate)
        tl = analyse_segment(piece, words[first:end], prons[first:end], language, method)
        tl = tl.shifted(offset / audio.sample_rate, len(out.words))
        out.words += tl.words
        out.phones += tl.phones
    return out


# A segment the aligner refuses ("Failed to set up sub-word alignment" happens to correct
# transcripts too) is halved at its quietest point near the middle and each half aligned to its
# share of the words (the word at the split tried on either side too), halving again up to this
# depth before its words are given up for recognition.
MAX_DEPTH = 3
MIN_SPLIT_SECONDS = 1.5


def analyse_segment(audio: Audio, words: list[str], prons: list[Pronunciation],
                    language: str, method: str = "phones") -> Timeline:
    """The timeline of one segment speaking ``words`` (times from the segment's start):
    aligned; if the aligner refuses, aligned in parts; failing that, recognised."""
    from visemic.phonetics import timeline as timeline_mod

    if words and audio.duration > PIECE_LONGEST + PIECE_SHORTEST:
        return align_pieces(audio, words, prons, language, method)
    if words:
        tl = _aligned(audio, prons, language, 0)
        if tl is not None:
            return tl
    # Recognises instead, with a warning (timeline._align_or_recognise).
    return timeline_mod.analyse_words(audio, words, language, method=method)


def _direct(audio: Audio, prons: list[Pronunciation], language: str) -> Timeline | None:
    if not prons:  # the transcript says nothing is spoken here
        return Timeline(language=language, source="aligned")
    try:
        return refine.refine(align.align(audio, prons, language), audio)
    except align.AlignmentError:
        return None


def _aligned(audio: Audio, prons: list[Pronunciation], language: str,
             depth: int) -> Timeline | None:
    tl = _direct(audio, prons, language)
    if tl is not None or depth >= MAX_DEPTH or len(prons) < 2 \
            or audio.duration < MIN_SPLIT_SECONDS:
        return tl
    n, rate = len(audio.samples), audio.sample_rate
    cut = segmenter.quietest(audio.samples, n // 3, 2 * n // 3, int(0.1 * rate))
    left = Audio(samples=audio.samples[:cut], sample_rate=rate)
    right = Audio(samples=audio.samples[cut:], sample_rate=rate)
    k = boundary(_heard(left.samples, rate), _heard(right.samples, rate),
                 [_phones(p) for p in prons])

    def joined(first: Timeline, second: Timeline) -> Timeline:
        second = second.shifted(cut / rate, len(first.words))
        return Timeline(language=language, words=first.words + second.words,
                        phones=first.phones + second.phones, source="aligned")

    for split in (k, k - 1, k + 1):  # the halves as they are, with the split word either side
        if 0 <= split <= len(prons):
            first = _direct(left, prons[:split], language)
            second = _direct(right, prons[split:], language) if first is not None else None
            if first is not None and second is not None:
                return joined(first, second)
    first = _aligned(left, prons[:k], language, depth + 1)
    second = _aligned(right, prons[k:], language, depth + 1) if first is not None else None
    return joined(first, second) if first is not None and second is not None else None
