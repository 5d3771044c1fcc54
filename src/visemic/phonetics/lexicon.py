"""Pronunciations: the CMU dictionary that ships with pocketsphinx, and espeak-ng for the rest.

A word missing from the dictionary is never dropped: espeak-ng's grapheme-to-phoneme rules give
its IPA phones, which are mapped onto the acoustic model's phones for alignment.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass
from functools import lru_cache

import pocketsphinx

from visemic.phonetics import model_phones
from visemic.phonetics.arpabet import ARPABET_TO_IPA


@dataclass(frozen=True)
class Pronunciation:
    """A word's phones in IPA, and for each IPA phone the model phones that realise it."""

    word: str
    ipa: tuple[str, ...]
    stress: tuple[int, ...]
    model: tuple[tuple[str, ...], ...]
    from_dictionary: bool

    @property
    def model_flat(self) -> list[str]:
        return [m for group in self.model for m in group]


def dictionary_path() -> str:
    return os.path.join(pocketsphinx.get_model_path(), "en-us", "cmudict-en-us.dict")


_lock = threading.Lock()


@lru_cache(maxsize=1)
def _cmudict() -> dict[str, tuple[str, ...]]:
    """Entries as the decoder names them: "word" and its alternates "word(2)", "word(3)" …

    The ~40 phone names are interned: one string object each instead of one per use, which
    halves the table (47 → 25 MB resident for its 135,000 entries, held for the process's
    life; issue 22's memory target)."""
    entries: dict[str, tuple[str, ...]] = {}
    with open(dictionary_path(), encoding="utf-8") as f:
        for line in f:
            word, _, phones = line.partition(" ")
            entries[word] = tuple(map(sys.intern, phones.split()))
    return entries


def english(word: str) -> Pronunciation:
    """The pronunciation of an English ``word`` (lower case, apostrophes kept); ``"word(2)"``
    names the dictionary's second pronunciation, as the aligner reports it."""
    with _lock:
        arpa = _cmudict().get(word)
    if arpa:
        word = word.split("(")[0]
        ipa = tuple(ARPABET_TO_IPA[p] for p in arpa)
        return Pronunciation(word, ipa, _default_stress(ipa), tuple((p,) for p in arpa), True)
    return from_g2p(word, "en-us")


def from_g2p(word: str, language: str) -> Pronunciation:
    """A pronunciation from espeak-ng's rules (any language), mapped to model phones."""
    from visemic.phonetics import espeak

    g2p = espeak.phonemize(word, language)
    ipa: list[str] = []
    stress: list[int] = []
    for w in g2p:
        ipa.extend(w.phones)
        stress.extend(w.stress)
    model = tuple(model_phones.to_model(p) for p in ipa)
    keep = [i for i, m in enumerate(model) if m]  # phones the model cannot realise (ʔ) align
    if not keep:                                    # as part of their neighbours
        return Pronunciation(word, ("ə",), (0,), (("AH",),), False)
    return Pronunciation(word, tuple(ipa), tuple(stress), model, False)


def _default_stress(ipa_phones: tuple[str, ...]) -> tuple[int, ...]:
    # pocketsphinx's dictionary has no stress marks; mark the first full vowel as stressed.
    from visemic.phonetics.ipa import parse

    out, done = [], False
    for p in ipa_phones:
        is_full = parse(p).vowel and p not in ("ə", "ɚ", "ɪ")
        out.append(1 if is_full and not done else 0)
        done = done or is_full
    return tuple(out)
