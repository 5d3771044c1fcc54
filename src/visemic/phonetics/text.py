"""Transcript normalisation: real-world text → the spoken words a dictionary can look up.

Handles casing, punctuation, quotes, numbers (cardinals, ordinals, years, decimals, currency,
percentages, clock times, via num2words), symbols (&, %, +), hyphenated words and common
contractions. Words are kept with their apostrophes ("don't", "i'm"): the CMU dictionary spells
contractions so. Annotations in angle or square brackets ("<cough>", "[laughter]") are not
speech and are dropped.
"""

from __future__ import annotations

import re
import unicodedata

from visemic.phonetics import japanese

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'"})
_SYMBOLS = {"&": "and", "%": "percent", "+": "plus", "@": "at", "=": "equals", "#": "number"}
_CURRENCY = {"$": ("dollar", "dollars"), "£": ("pound", "pounds"), "€": ("euro", "euros")}
_NUMBER = re.compile(r"(?P<cur>[$£€])?"
                     r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
                     r"(?P<suf>st|nd|rd|th|s|%)?", re.IGNORECASE)
_CLOCK = re.compile(r"\b(?P<h>[012]?\d):(?P<m>[0-5]\d)\b")
# Transcription conventions for non-speech events: <vocnoise>, [laughs], [inaudible].
_ANNOTATION = re.compile(r"<[^<>]*>|\[[^\[\]]*\]")
_DIGIT = re.compile(r"\d")  # what _NUMBER and _CLOCK need to match


def _num_lang(language: str) -> str | None:
    # num2words is imported where numbers are spelled (its 62 modules: 3 MB resident).
    from num2words import CONVERTER_CLASSES

    code = language.replace("-", "_")
    for cand in (code, code.split("_")[0]):
        if cand in CONVERTER_CLASSES:
            return cand
    return None


def _spell_number(m: re.Match[str], lang: str, spaced: bool = True) -> str:
    from num2words import num2words

    raw = m.group("num").replace(",", "")
    cur, suf = m.group("cur"), (m.group("suf") or "").lower()
    if cur and lang == "en" and "." in raw:
        whole, cents = raw.split(".", 1)
        cents = (cents + "0")[:2]
        units = _CURRENCY[cur][0 if whole == "1" else 1]
        spoken = f"{num2words(int(whole), lang=lang)} {units}"
        if int(cents):
            spoken += f" {num2words(int(cents), lang=lang)} cent" + ("" if cents == "01" else "s")
        return f" {spoken} "
    try:
        value: float | int = float(raw) if "." in raw else int(raw)
        if suf in ("st", "nd", "rd", "th") and isinstance(value, int):
            words = num2words(value, lang=lang, to="ordinal")
        elif (isinstance(value, int) and 1100 <= value <= 2099 and not cur and suf != "%"
              and "," not in m.group("num") and lang == "en"):
            words = num2words(value, lang=lang, to="year")
        else:
            words = num2words(value, lang=lang)
    except (NotImplementedError, OverflowError, ValueError):
        return m.group(0)
    if suf == "s" and lang == "en":  # "1990s" → "nineteen nineties"
        words = re.sub(r"y$", "ies", words) if words.endswith("y") else words + "s"
    if suf == "%":
        words += " percent"
    if cur and lang == "en":
        words += " " + _CURRENCY[cur][0 if value == 1 else 1]
    return f" {words} " if spaced else words


def _spell_clock(m: re.Match[str]) -> str:
    """English clock times: 3:00 → "three o'clock", 3:05 → "three oh five", 14:30 → "fourteen
    thirty"."""
    from num2words import num2words

    hours, minutes = int(m.group("h")), int(m.group("m"))
    spoken = num2words(hours, lang="en")
    if minutes == 0:
        return f" {spoken} o'clock "
    prefix = "oh " if minutes < 10 else ""
    return f" {spoken} {prefix}{num2words(minutes, lang='en')} "


def normalize(text: str, language: str = "en") -> list[str]:
    """Split ``text`` into lower-case spoken words, numbers spelled out.

    >>> normalize("Go forward 10 meters!")
    ['go', 'forward', 'ten', 'meters']
    """
    text = unicodedata.normalize("NFC", text).translate(_APOSTROPHES)
    text = _ANNOTATION.sub(" ", text)
    lang = _num_lang(language) if _DIGIT.search(text) else None  # no number: none to spell
    if lang == "en":
        text = _CLOCK.sub(_spell_clock, text)
    # Japanese numerals stay joined to their counter: 3時 → 三時 → さんじ (apart, 時 is "toki").
    spaced = not japanese.applies(language)
    if lang:
        text = _NUMBER.sub(lambda m: _spell_number(m, lang, spaced), text)
    if japanese.applies(language):
        text = " ".join(japanese.kana_words(text))
    if language.split("-")[0] == "en":
        for sym, word in _SYMBOLS.items():
            text = text.replace(sym, f" {word} ")
    text = text.lower().replace("-", " ")
    words = []
    for token in text.split():
        # Keep letters (any script), digits and inner apostrophes; drop the rest.
        token = "".join(ch for ch in token if ch == "'" or unicodedata.category(ch)[0] in "LMN")
        token = token.strip("'")
        if token:
            words.append(token)
    return words
