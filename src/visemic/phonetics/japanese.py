"""Japanese text → hiragana, which espeak-ng can read.

espeak-ng's Japanese voice reads only kana: it says "Chinese letter" for every kanji. pykakasi
(offline, its dictionary in the wheel) gives each word's reading and splits the unspaced text
into words as it goes. It reads kana as written, so the particles は, へ and を would be said
"ha", "he", "wo"; a morphological analysis (fugashi, MeCab with UniDic from the unidic-lite
wheel) finds the particles first and writes them as said: わ, え, お.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any


def applies(language: str) -> bool:
    """Whether ``language`` (an espeak-ng / ISO code such as "ja" or "ja-JP") is Japanese."""
    return language.split("-")[0].lower() in ("ja", "jpn")


@lru_cache(maxsize=1)
def _tagger() -> Any:
    import fugashi  # MeCab + UniDic (unidic-lite); imported on first use, like pykakasi

    return fugashi.Tagger()


# Particles written with one kana and said with another.
_PARTICLES = {"は": "わ", "へ": "え", "を": "お"}


def spoken_particles(text: str) -> str:
    """``text`` with the particles は, へ, を written as said (わ, え, お); every other character
    unchanged. 今日は standing alone is the greeting こんにちは and is left to the reading."""
    tokens = list(_tagger()(text))
    out = list(text)
    pos = 0
    for i, token in enumerate(tokens):
        surface = token.surface
        start = text.find(surface, pos)
        if start < 0:
            continue
        pos = start + len(surface)
        if surface not in _PARTICLES or token.feature.pos1 != "助詞":
            continue
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        if (surface == "は" and i > 0 and tokens[i - 1].surface == "今日"
                and (after is None or not _letters(after.surface))):
            continue  # the greeting
        out[start] = _PARTICLES[surface]
    return "".join(out)


@lru_cache(maxsize=1)
def _converter() -> Any:
    import pykakasi  # imported on first use: most runs never meet Japanese

    return pykakasi.kakasi()


# pykakasi reads 今日は as the greeting everywhere; before more words of its sentence it is
# "kyō wa" (today …).
_GREETING, _TODAY = "こんにちは", "きょうは"


# Numerals are read here, not by pykakasi, which says し and しち for 4 and 7 where counting
# says よん and なな (四百 is よんひゃく), and splits long numerals into several items.
_DIGITS = {"一": "いち", "二": "に", "三": "さん", "四": "よん", "五": "ご", "六": "ろく",
           "七": "なな", "八": "はち", "九": "きゅう"}
# Place values with the sound changes of the digits before them.
_PLACES = (("千", "せん", {"一": "いっせん", "三": "さんぜん", "八": "はっせん"}),
           ("百", "ひゃく", {"三": "さんびゃく", "六": "ろっぴゃく", "八": "はっぴゃく"}),
           ("十", "じゅう", {}))
_GROUPS = (("兆", "ちょう", {"一": "いっちょう"}), ("億", "おく", {}), ("万", "まん", {}))
_NUMERAL = re.compile("[一二三四五六七八九十百千万億兆]+")


def _under_10000(text: str) -> str | None:
    out = ""
    for unit, reading, changed in _PLACES:
        if unit in text:
            head, text = text.split(unit, 1)
            if head in changed:
                out += changed[head]
            elif head in ("", "一"):
                out += reading
            elif head in _DIGITS:
                out += _DIGITS[head] + reading
            else:
                return None
    if text and text not in _DIGITS:
        return None
    return out + _DIGITS.get(text, "")


def numeral_reading(text: str) -> str | None:
    """The reading of a kanji numeral as counted (二千二十四 → にせんにじゅうよん), or None
    when ``text`` is not one."""
    if not _NUMERAL.fullmatch(text):
        return None
    out = ""
    for unit, reading, changed in _GROUPS:
        if unit in text:
            head, text = text.split(unit, 1)
            group = changed.get(head) or ((_under_10000(head) or "") + reading if head else None)
            if group is None or (head and _under_10000(head) is None):
                return None
            out += group
    rest = _under_10000(text) if text else ""
    return None if rest is None else out + rest


# A numeral's last digit joins the counter after it (二十四年 is にじゅう + よねん, not
# にじゅうよん ねん): pykakasi knows the digit-and-counter words but splits longer numerals off.
# The joined reading is kept only when it is the digit's Sino-Japanese reading (sound changes
# included): native ones such as ふつか (二日) or ひとり (一人) are for the bare number alone.
_DIGIT_READINGS = {"一": ("いち", "いっ"), "二": ("に",), "三": ("さん",), "四": ("よん", "よ"),
                   "五": ("ご",), "六": ("ろく", "ろっ"), "七": ("なな", "しち"),
                   "八": ("はち", "はっ"), "九": ("きゅう", "く")}


def _numerals(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Consecutive numeral items merged and read by :func:`numeral_reading`; each last digit
    then read together with the counter after it."""
    out: list[tuple[str, str]] = []
    for orig, hira in items:
        if out and _NUMERAL.fullmatch(out[-1][0]) and _NUMERAL.fullmatch(orig):
            orig = out.pop()[0] + orig
        out.append((orig, numeral_reading(orig) or hira))
    for i in range(len(out) - 1):
        num, counter = out[i][0], out[i + 1][0]
        if (not _NUMERAL.fullmatch(num) or num[-1] not in _DIGIT_READINGS
                or _NUMERAL.match(counter) or not _letters(counter[:1])):
            continue
        joined = _converter().convert(num[-1] + counter[0])
        head = numeral_reading(num[:-1]) if len(num) > 1 else ""
        if (head is None or len(joined) != 1
                or not joined[0]["hira"].startswith(_DIGIT_READINGS[num[-1]])):
            continue
        out[i] = (num, head + joined[0]["hira"])
        out[i + 1] = (counter, "".join(item["hira"] for item in
                                       _converter().convert(counter[1:])))
    return out


def _readings(text: str) -> list[tuple[str, str]]:
    """(original, hiragana) per pykakasi item, with the greeting misreading corrected and
    numerals read with their counters."""
    items: list[tuple[str, str]] = []
    # Line by line: pykakasi repeats the item before a line break (…いた\n → いた, いた).
    for part in re.split(r"(\s+)", spoken_particles(text)):
        if part.isspace():
            items.append((part, " "))
        elif part:
            items.extend((item["orig"], item["hira"]) for item in _converter().convert(part))
    items = _numerals(items)
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
