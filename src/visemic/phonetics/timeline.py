"""Audio (+ optional transcript) → phonetic timeline: the phonetics stage's entry point."""

from __future__ import annotations

import logging
from collections.abc import Callable

from visemic.errors import VisemicError
from visemic.phonetics import align, lexicon, longform, recognize, refine, silence
from visemic.phonetics import text as text_mod
from visemic.types import Audio, Timeline

log = logging.getLogger(__name__)


def pronunciations(words: list[str], language: str) -> list[lexicon.Pronunciation]:
    if language.split("-")[0].lower() == "en":
        return [lexicon.english(w) for w in words]
    return [lexicon.from_g2p(w, language) for w in words]


def analyse(audio: Audio, text: str | None = None, language: str = "en",
            method: str = "phones", progress: Callable[[float], None] | None = None) -> Timeline:
    """The timeline of ``audio`` (16 kHz): aligned to ``text`` when given, else recognised."""
    if text is not None and not text.strip():
        raise VisemicError("the transcript is empty")
    if text is None:
        tl = silence.drop_silent_phones(recognize.recognise(audio, method=method), audio)
    else:
        words = text_mod.normalize(text, language)
        if not words:
            raise VisemicError("the transcript has no words to align")
        if audio.duration > longform.PIECE_LONGEST + longform.PIECE_SHORTEST:
            # In pieces (already refined): the aligner's memory grows with the length.
            tl = longform.align_pieces(audio, words, pronunciations(words, language), language,
                                       method)
            if progress:
                progress(0.8)
            return tl
        tl = _align_or_recognise(audio, words, language, method)
    if progress:
        progress(0.8)
    return refine.refine(tl, audio)


def analyse_words(audio: Audio, words: list[str], language: str = "en",
                  method: str = "phones") -> Timeline:
    """Like :func:`analyse` with an already normalised word list (possibly empty)."""
    if not words:
        tl = silence.drop_silent_phones(recognize.recognise(audio, method=method), audio)
        return refine.refine(tl, audio)
    return refine.refine(_align_or_recognise(audio, words, language, method), audio)


def _align_or_recognise(audio: Audio, words: list[str], language: str, method: str) -> Timeline:
    prons = pronunciations(words, language)
    try:
        return align.align(audio, prons, language)
    except align.AlignmentError as exc:
        # Speech that does not fit the text at all: animate what is heard rather than fail.
        log.warning("transcript could not be aligned (%s); recognising instead", exc)
        tl = silence.drop_silent_phones(recognize.recognise(audio, method=method), audio)
        tl.language = language
        return tl
