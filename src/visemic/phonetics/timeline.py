"""Audio (+ optional transcript) → phonetic timeline: the phonetics stage's entry point.

Without a transcript the words are recognised (``method`` "whisper", the default: Whisper's text,
then aligned like a transcript) or the phones decoded directly ("phones": pocketsphinx's phone
loop, vocabulary-free; "words": pocketsphinx's word recogniser). Where Whisper hears no words or
its words cannot be aligned, the phone loop stands in, with a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from visemic.errors import VisemicError
from visemic.phonetics import align, espeak, lexicon, longform, recognize, refine, silence
from visemic.phonetics import text as text_mod
from visemic.types import Audio, Timeline

if TYPE_CHECKING:
    from visemic.phonetics.whisper import Recognition

log = logging.getLogger(__name__)

METHODS = ("whisper", *recognize.METHODS)


def pronunciations(words: list[str], language: str) -> list[lexicon.Pronunciation]:
    if language.split("-")[0].lower() == "en":
        return [lexicon.english(w) for w in words]
    return [lexicon.from_g2p(w, language) for w in words]


def analyse(audio: Audio, text: str | None = None, language: str | None = "en",
            method: str = "whisper", progress: Callable[[float], None] | None = None,
            asr_model: str | None = None) -> Timeline:
    """The timeline of ``audio`` (16 kHz): aligned to ``text`` when given, else recognised.
    ``language`` None: detected from the audio (Whisper), else English."""
    return analyse_speech(audio, text, language, method, progress, asr_model)[0]


def analyse_speech(audio: Audio, text: str | None = None, language: str | None = "en",
                   method: str = "whisper", progress: Callable[[float], None] | None = None,
                   asr_model: str | None = None) -> tuple[Timeline, dict[str, Any]]:
    """:func:`analyse`, and what the recogniser reported (model, language, text; empty with a
    transcript or without Whisper)."""
    if method not in METHODS:
        raise VisemicError(f"unknown recognition method {method!r} (one of {', '.join(METHODS)})")
    if text is not None and not text.strip():
        raise VisemicError("the transcript is empty")
    report: dict[str, Any] = {}
    if text is None and method == "whisper":
        tl, report = recognise_words(audio, language, asr_model)
        if progress:
            progress(0.8)
        return tl, report  # refined already
    if text is None:
        tl = _phone_loop(audio, method, language or "en")
    else:
        language = language or "en"
        words = text_mod.normalize(text, language)
        if not words:
            raise VisemicError("the transcript has no words to align")
        if audio.duration > longform.PIECE_LONGEST + longform.PIECE_SHORTEST:
            # In pieces (already refined): the aligner's memory grows with the length.
            tl = silence.trim_to_speech(longform.align_pieces(
                audio, words, pronunciations(words, language), language, method), audio)
            if progress:
                progress(0.8)
            return tl, report
        tl = _align_or_recognise(audio, words, language, method)
    if progress:
        progress(0.8)
    return refine.refine(tl, audio), report


def analyse_words(audio: Audio, words: list[str], language: str = "en",
                  method: str = "phones") -> Timeline:
    """Like :func:`analyse` with an already normalised word list (possibly empty: then the
    phones are recognised)."""
    if not words:
        return refine.refine(_phone_loop(audio, method, language), audio)
    return refine.refine(_align_or_recognise(audio, words, language, method), audio)


def _phone_loop(audio: Audio, method: str, language: str) -> Timeline:
    """pocketsphinx's recognition (the phone loop unless ``method`` is "words")."""
    method = method if method in recognize.METHODS else "phones"
    tl = silence.drop_silent_phones(recognize.recognise(audio, method=method), audio)
    tl.language = language
    return tl


def recognise_words(audio: Audio, language: str | None = None,
                    asr_model: str | None = None) -> tuple[Timeline, dict[str, Any]]:
    """Whisper's words for ``audio``, aligned like a transcript; the phone loop where there are
    no words to align (music, noise, a language without pronunciations), with a warning.

    Returns the timeline (refined, :mod:`visemic.phonetics.refine`) and Whisper's report for
    the result's settings: model, detected language, text, and ``fallback`` (why the phone loop
    was used) where it was.
    """
    tl, report, refined = _recognise_words(audio, language, asr_model)
    return (tl if refined else refine.refine(tl, audio)), report


def _recognise_words(audio: Audio, language: str | None, asr_model: str | None
                     ) -> tuple[Timeline, dict[str, Any], bool]:
    """:func:`recognise_words`, and whether the timeline is refined already."""
    return _words_timeline(audio, language, hear(audio, language, asr_model))


def hear(audio: Audio, language: str | None, asr_model: str | None) -> Recognition | None:
    """What Whisper heard in ``audio``; None for a language Whisper does not know (but
    espeak-ng does: the phone loop stands in). Raises VisemicError for one neither knows."""
    from visemic.phonetics import whisper

    if language is not None and whisper.whisper_language(language) is None:
        espeak.check_language(language)  # known to neither: a typo, not a reason to guess
        return None
    return whisper.recognise(audio, language, asr_model)


def recognise_segments(segments: Iterable[tuple[int, np.ndarray]], rate: int,
                       language: str | None, asr_model: str | None,
                       progress: Callable[[int], None] | None = None
                       ) -> list[tuple[str | None, Recognition | None]]:
    """The first pass over a long file: Whisper's recognition of each ``(offset, samples)``
    segment (at ``rate`` Hz), with the language to align it in, for :func:`words_timeline` to align
    in a second pass. The model is loaded once for all of them, and nothing else of the
    analysis is resident beside it and its encoder (the peak of an analysis without a
    transcript): aligning as it went, a long file's later segments were recognised with the
    CMU dictionary and the file's timeline so far beside the model (an hour: +60 MB).

    A language not given is detected in each segment until one has words in a language with
    pronunciations; that one is then given for the rest (and English picks tiny.en).
    ``progress`` is called with each segment's end (in samples)."""
    from visemic.phonetics import whisper

    out: list[tuple[str | None, Recognition | None]] = []
    with whisper.held():
        for offset, samples in segments:
            heard = hear(Audio(samples=samples, sample_rate=rate), language, asr_model)
            out.append((language, heard))
            if language is None and heard is not None and heard.text:
                lang = whisper.espeak_language(heard.language)
                if lang is not None and text_mod.normalize(heard.text, lang):
                    language = lang
            if progress:
                progress(offset + len(samples))
    return out


def words_timeline(audio: Audio, language: str | None, heard: Recognition | None
                   ) -> tuple[Timeline, dict[str, Any]]:
    """:func:`recognise_words` of ``audio`` from what Whisper heard in it (:func:`hear`); what
    the aligner freed goes back to the system (as :func:`longform.share` does for a transcript's
    segments: without, glibc kept up to 64 MB of it after Whisper, and 10 minutes peaked at
    236 MB while aligning, not recognising)."""
    tl, report, refined = _words_timeline(audio, language, heard)
    tl = tl if refined else refine.refine(tl, audio)
    longform.release_freed_memory()
    return tl, report


def _words_timeline(audio: Audio, language: str | None, heard: Recognition | None
                    ) -> tuple[Timeline, dict[str, Any], bool]:
    from visemic.phonetics import whisper

    if heard is None:
        assert language is not None
        return (*_fallback(audio, language, {"recognizer": "whisper"},
                           f"Whisper does not know the language {language!r}"), False)
    report = heard.settings()
    lang = language or whisper.espeak_language(heard.language)
    if lang is None:
        return (*_fallback(audio, heard.language, report, f"Whisper heard language "
                           f"{heard.language!r}, which has no pronunciations for alignment"),
                False)
    words = text_mod.normalize(heard.text, lang) if heard.text else []
    if not words:
        return (*_fallback(audio, lang, report, "Whisper heard no words"), False)
    if audio.duration > longform.PIECE_LONGEST + longform.PIECE_SHORTEST:
        # In pieces, as a transcript is: the aligner's memory grows with the length (60 s
        # aligned whole: +130 MB).
        tl = longform.align_pieces(audio, words, pronunciations(words, lang), lang)
        tl.source = "recognised"
        return _heard(tl, audio), report, True
    try:
        tl = align.align(audio, pronunciations(words, lang), lang)
    except align.AlignmentError as exc:
        # pocketsphinx sometimes finds no path for a long text that a few sentences at a time
        # align well: align Whisper's segments one by one instead.
        if len(heard.segments) < 2:
            return (*_fallback(audio, lang, report,
                               f"Whisper's words could not be aligned ({exc})"), False)
        tl, failed = _align_stretches(audio, heard.segments, lang)
        if failed:
            report = {**report, "fallback": f"{failed} of {len(heard.segments)} stretches"}
    tl.source = "recognised"
    return _heard(tl, audio), report, False


def _heard(tl: Timeline, audio: Audio) -> Timeline:
    """Whisper's words as aligned, their phones kept out of the pauses and the filled pauses
    Whisper left out put back (:mod:`visemic.phonetics.silence`)."""
    return silence.fill_hesitations(silence.trim_to_speech(tl, audio), audio)


def _align_stretches(audio: Audio, segments: list[tuple[float, float, str]],
                     language: str) -> tuple[Timeline, int]:
    """Align each stretch of Whisper's text in its own span of the audio (spans cut halfway
    between Whisper's segments, whose times are rough); the phone loop where one fails.
    Returns the joined timeline and the number of stretches that fell back."""
    sr = audio.sample_rate
    cuts = [0.0] + [(a[1] + b[0]) / 2 for a, b in zip(segments, segments[1:], strict=False)]
    cuts.append(audio.duration)
    parts: list[Timeline] = []
    failed = 0
    for (start, end), (_, _, text) in zip(zip(cuts, cuts[1:], strict=False), segments,
                                          strict=True):
        span = Audio(audio.samples[int(start * sr):int(end * sr)], sr)
        words = text_mod.normalize(text, language)
        try:
            if not words or span.duration <= 0:
                raise align.AlignmentError("no words")
            part = align.align(span, pronunciations(words, language), language)
        except align.AlignmentError as exc:
            failed += 1
            log.warning("Whisper's words could not be aligned (%s) in %.1f–%.1f s; using the "
                        "phone loop there", exc, start, end)
            part = _phone_loop(span, "phones", language) if span.duration > 0 else Timeline(
                language)
        parts.append(part.shifted(start, sum(len(p.words) for p in parts)))
    return Timeline(language, words=[w for p in parts for w in p.words],
                    phones=[ph for p in parts for ph in p.phones]), failed


def _fallback(audio: Audio, language: str, report: dict[str, Any],
              reason: str) -> tuple[Timeline, dict[str, Any]]:
    log.warning("%s in %.1f s of audio; using the phone loop there", reason, audio.duration)
    report = {**report, "fallback": reason}
    return _phone_loop(audio, "phones", language), report


def _align_or_recognise(audio: Audio, words: list[str], language: str, method: str) -> Timeline:
    prons = pronunciations(words, language)
    try:
        return silence.trim_to_speech(align.align(audio, prons, language), audio)
    except align.AlignmentError as exc:
        # Speech that does not fit the text at all: animate what is heard rather than fail.
        log.warning("transcript could not be aligned (%s); recognising instead", exc)
        return _phone_loop(audio, method, language)
