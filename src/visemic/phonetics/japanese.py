"""Japanese text → hiragana, which espeak-ng can read.

espeak-ng's Japanese voice reads only kana: it says "Chinese letter" for every kanji. pykakasi
(offline, its dictionary in the wheel) gives each word's reading and splits the unspaced text
into words as it goes.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Any


def applies(language: str) -> bool:
    """Whether ``language`` (an espeak-ng / ISO code such as "ja" or "ja-JP") is Japanese."""
    return language.split("-")[0].lower() in ("ja", "jpn")


@lru_cache(maxsize=1)
def _converter() -> Any:
    import pykakasi  # imported on first use: most runs never meet Japanese

    return pykakasi.kakasi()


# pykakasi reads 今日は as the greeting everywhere; before more words of its sentence it is
# "kyō wa" (today …).
_GREETING, _TODAY = "こんにちは", "きょうは"


def _readings(text: str) -> list[tuple[str, str]]:
    """(original, hiragana) per pykakasi item, with the greeting misreading corrected."""
    items = [(item["orig"], item["hira"]) for item in _converter().convert(text)]
    for i, (orig, hira) in enumerate(items):
        if orig.startswith("今日は") and hira.startswith(_GREETING):
            following = items[i + 1][0] if i + 1 < len(items) else ""
            rest = orig[len("今日は"):]
            if rest or _letters(following):
                items[i] = (orig, _TODAY + hira[len(_GREETING):])
    return items


def _letters(text: str) -> str:
    """``text`` without punctuation and spaces (letters, marks and digits kept)."""
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LMN")


def kana_text(text: str) -> str:
    """``text`` (kanji, kana and Latin mixed) in hiragana, punctuation kept (for speaking:
    pauses stay where the text has them)."""
    return "".join(hira for _, hira in _readings(text))


def kana_words(text: str) -> list[str]:
    """The words of ``text`` in hiragana; punctuation dropped.

    >>> kana_words("電球がともっていた。")
    ['でんきゅう', 'がともっていた']
    """
    words = []
    for _, hira in _readings(text):
        word = _letters(hira)
        if word:
            words.append(word)
    return words
