"""Forced alignment of a transcript to speech with pocketsphinx's bundled en-us acoustic model.

Two passes, as pocketsphinx does it: a word-level alignment (with optional silences between
words), then a phone/state-level pass over that word sequence. Every word is aligned with the
model phones of its :class:`~visemic.phonetics.lexicon.Pronunciation`, so dictionary words,
espeak-ng pronunciations and other languages' phones (mapped to their nearest English phones)
all go through the same path. Times come back on the model's 10 ms frame grid; see
:mod:`visemic.phonetics.refine` for the sub-frame boundary correction.
"""

from __future__ import annotations

import numpy as np
import pocketsphinx

from visemic.phonetics import lexicon
from visemic.phonetics.lexicon import Pronunciation
from visemic.types import Audio, Phone, Timeline, Word

# The model's native 10 ms frames (5 ms frames were measured: no better on tier-B boundaries).
FRAME_RATE = 100
FRAME = 1.0 / FRAME_RATE
# Every model phone lasts at least 3 frames (30 ms at 100 fps): fast speech leaves no path
# ("Failed to set up sub-word alignment"), so a refused alignment is retried at 5 ms frames.
FAST_FRAME_RATE = 200

def decoder(frame_rate: int = FRAME_RATE) -> pocketsphinx.Decoder:
    """A new alignment decoder (≈70 ms). One per alignment: a reused decoder carries state
    between utterances, so results depended on what was aligned before, and it occasionally
    refused the second pass ("Failed to set up sub-word alignment")."""
    # Wide beams: with the default ones, hesitant or noisy speech finds no path at all.
    return pocketsphinx.Decoder(lm=None, loglevel="FATAL", bestpath=False,
                                frate=frame_rate, beam=1e-200, pbeam=1e-200, wbeam=1e-200)


def pcm16(audio: Audio) -> bytes:
    return (np.clip(audio.samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def _key(dec: pocketsphinx.Decoder, pron: Pronunciation) -> str:
    """The dictionary entry to align ``pron`` with: the word itself when the dictionary already
    says it this way, else a private entry named after its phones."""
    if pron.from_dictionary and pron.word.isascii():
        return pron.word
    key = "_v_" + "_".join(pron.model_flat).lower()
    if dec.lookup_word(key) is None:
        dec.add_word(key, " ".join(pron.model_flat), True)
    return key


def _run(dec: pocketsphinx.Decoder, prons: list[Pronunciation], data: bytes):
    keys = [_key(dec, p) for p in prons]
    dec.set_align_text(" ".join(keys))
    dec.start_utt()
    dec.process_raw(data, full_utt=True)
    dec.end_utt()
    dec.set_alignment()
    dec.start_utt()
    dec.process_raw(data, full_utt=True)
    dec.end_utt()
    return dec.get_alignment()


class AlignmentError(RuntimeError):
    """The transcript could not be aligned to the audio at all."""


def align(audio: Audio, prons: list[Pronunciation], language: str = "en",
          offset: float = 0.0) -> Timeline:
    """Align pronunciations (one per spoken word, in order) to ``audio`` (16 kHz).

    Returns a timeline with IPA phones; times are shifted by ``offset``. Raises
    :class:`AlignmentError` when no alignment path exists (speech far too short for the text).
    """
    if audio.sample_rate != 16000:
        raise ValueError("alignment needs 16 kHz audio")
    if not prons:
        return Timeline(language=language, source="aligned")
    data = pcm16(audio)
    try:
        return _align(data, prons, language, offset, FRAME_RATE)
    except AlignmentError:
        return _align(data, prons, language, offset, FAST_FRAME_RATE)


def _align(data: bytes, prons: list[Pronunciation], language: str, offset: float,
           frame_rate: int) -> Timeline:
    frame = 1.0 / frame_rate
    try:
        result = _run(decoder(frame_rate), prons, data)
    except RuntimeError as exc:
        raise AlignmentError(str(exc)) from None
    if result is None:
        raise AlignmentError("no alignment path")
    # Flat iteration only: iterating the Alignment object itself crashes pocketsphinx 5.1.1.
    fillers = ("<sil>", "<s>", "</s>", "SIL", "+NSN+", "+SPN+")
    entries = [(w.name, w.start, w.duration) for w in result.words() if w.name not in fillers]
    all_phones = [(p.start, p.duration) for p in result.phones() if p.name not in fillers]
    if len(entries) != len(prons):
        raise AlignmentError(f"aligned {len(entries)} words, expected {len(prons)}")
    # The aligner may choose a dictionary alternate ("word(2)"): use the one it chose.
    prons = [lexicon.english(name) if "(" in name and p.from_dictionary else p
             for (name, _, _), p in zip(entries, prons, strict=True)]
    if len(all_phones) != sum(len(p.model_flat) for p in prons):
        raise AlignmentError("phone count does not match the pronunciations")

    words: list[Word] = []
    phones: list[Phone] = []
    cursor = 0
    for wi, ((_, w_start, w_dur), pron) in enumerate(zip(entries, prons, strict=True)):
        n = len(pron.model_flat)
        model_segs = [(s * frame, (s + d) * frame) for s, d in all_phones[cursor:cursor + n]]
        cursor += n
        words.append(Word(pron.word, w_start * frame + offset, (w_start + w_dur) * frame + offset))
        # Regroup model phones into the word's IPA phones.
        k = 0
        pending_start: float | None = None
        for sym, stress, group in zip(pron.ipa, pron.stress, pron.model, strict=True):
            if not group:
                # A phone the model cannot realise (a glottal stop): give it no time of its own;
                # it starts where the next one does.
                if pending_start is None and k < len(model_segs):
                    pending_start = model_segs[k][0]
                continue
            start = model_segs[k][0] if pending_start is None else pending_start
            end = model_segs[k + len(group) - 1][1]
            k += len(group)
            pending_start = None
            phones.append(Phone(sym, start + offset, end + offset, wi, stress))
    return Timeline(language=language, words=words, phones=phones, source="aligned")
