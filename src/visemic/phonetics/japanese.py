"""Japanese text → words in hiragana, which espeak-ng can read.

espeak-ng's Japanese voice reads only kana: it says "Chinese letter" for every kanji. pykakasi
(offline, its dictionary in the wheel) gives each word's reading and splits the unspaced text
into words as it goes.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import pykakasi


@lru_cache(maxsize=1)
def _converter() -> pykakasi.kakasi:
    return pykakasi.kakasi()


def kana_words(text: str, keep_punctuation: bool = False) -> list[str]:
    """The words of ``text`` (kanji, kana and Latin mixed) as hiragana; punctuation dropped
    unless ``keep_punctuation`` (for speaking: pauses stay where the text has them).

    >>> kana_words("電球がともっていた。")
    ['でんきゅう', 'がともっていた']
    """
    words = []
    for item in _converter().convert(text):
        word = item["hira"] if keep_punctuation else "".join(
            ch for ch in item["hira"] if unicodedata.category(ch)[0] in "LMN")
        if word:
            words.append(word)
    return words
