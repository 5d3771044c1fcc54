"""Articulatory features of IPA symbols: the one table every phone-to-mouth mapping derives from.

A phone (``"aɪ"``, ``"tʃ"``, ``"ɛ̃ː"``, ``"i˥"``) is reduced to its base letters; each letter has
features. Vowels: height (0 close … 1 open), backness (0 front … 1 back), rounding. Consonants:
place and manner. Diacritics (length, nasalisation, tones, syllabicity) do not change the mouth
shape much and are read only for length and nasality. An unknown letter is logged once and
classed by its Unicode name, never silently dropped.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Features:
    vowel: bool
    height: float = 0.0       # vowels: 0 close … 1 open
    backness: float = 0.0     # vowels: 0 front … 1 back
    rounded: bool = False
    place: str = ""           # consonants: bilabial, labiodental, dental, alveolar, …
    manner: str = ""          # consonants: stop, nasal, fricative, affricate, approximant, …
    voiced: bool = True


def _v(height: float, backness: float, rounded: bool = False) -> Features:
    return Features(vowel=True, height=height, backness=backness, rounded=rounded)


def _c(place: str, manner: str, voiced: bool = True) -> Features:
    return Features(vowel=False, place=place, manner=manner, voiced=voiced)


# The IPA vowel chart (height from close 0 to open 1, backness from front 0 to back 1).
VOWELS: dict[str, Features] = {
    "i": _v(0.0, 0.0), "y": _v(0.0, 0.0, True), "ɨ": _v(0.0, 0.5), "ʉ": _v(0.0, 0.5, True),
    "ɯ": _v(0.0, 1.0), "u": _v(0.0, 1.0, True), "ɪ": _v(0.15, 0.15), "ʏ": _v(0.15, 0.15, True),
    "ʊ": _v(0.15, 0.85, True), "e": _v(0.33, 0.0), "ø": _v(0.33, 0.0, True),
    "ɘ": _v(0.33, 0.5), "ɵ": _v(0.33, 0.5, True), "ɤ": _v(0.33, 1.0), "o": _v(0.33, 1.0, True),
    "ə": _v(0.5, 0.5), "ɚ": _v(0.45, 0.5), "ɛ": _v(0.66, 0.0), "œ": _v(0.66, 0.0, True),
    "ɜ": _v(0.66, 0.5), "ɝ": _v(0.55, 0.5), "ɞ": _v(0.66, 0.5, True), "ʌ": _v(0.66, 0.9),
    "ɔ": _v(0.66, 1.0, True), "æ": _v(0.85, 0.0), "ɐ": _v(0.8, 0.5), "a": _v(1.0, 0.2),
    "ɶ": _v(1.0, 0.0, True), "ɑ": _v(1.0, 1.0), "ɒ": _v(1.0, 1.0, True),
    # Common non-IPA letters that transcriptions use for vowels.
    "ᵻ": _v(0.1, 0.4), "ᵿ": _v(0.1, 0.6, True),
}

CONSONANTS: dict[str, Features] = {
    # Stops.
    "p": _c("bilabial", "stop", False), "b": _c("bilabial", "stop"),
    "t": _c("alveolar", "stop", False), "d": _c("alveolar", "stop"),
    "ʈ": _c("retroflex", "stop", False), "ɖ": _c("retroflex", "stop"),
    "c": _c("palatal", "stop", False), "ɟ": _c("palatal", "stop"),
    "k": _c("velar", "stop", False), "g": _c("velar", "stop"), "ɡ": _c("velar", "stop"),
    "q": _c("uvular", "stop", False), "ɢ": _c("uvular", "stop"),
    "ʔ": _c("glottal", "stop", False), "ɾ": _c("alveolar", "tap"), "ɽ": _c("retroflex", "tap"),
    # Nasals.
    "m": _c("bilabial", "nasal"), "ɱ": _c("labiodental", "nasal"), "n": _c("alveolar", "nasal"),
    "ɳ": _c("retroflex", "nasal"), "ɲ": _c("palatal", "nasal"), "ŋ": _c("velar", "nasal"),
    "ɴ": _c("uvular", "nasal"),
    # Fricatives.
    "ɸ": _c("bilabial", "fricative", False), "β": _c("bilabial", "fricative"),
    "f": _c("labiodental", "fricative", False), "v": _c("labiodental", "fricative"),
    "θ": _c("dental", "fricative", False), "ð": _c("dental", "fricative"),
    "s": _c("alveolar", "fricative", False), "z": _c("alveolar", "fricative"),
    "ʃ": _c("postalveolar", "fricative", False), "ʒ": _c("postalveolar", "fricative"),
    "ʂ": _c("retroflex", "fricative", False), "ʐ": _c("retroflex", "fricative"),
    "ɕ": _c("palatal", "fricative", False), "ʑ": _c("palatal", "fricative"),
    "ç": _c("palatal", "fricative", False), "ʝ": _c("palatal", "fricative"),
    "x": _c("velar", "fricative", False), "ɣ": _c("velar", "fricative"),
    "χ": _c("uvular", "fricative", False), "ʁ": _c("uvular", "fricative"),
    "ħ": _c("pharyngeal", "fricative", False), "ʕ": _c("pharyngeal", "fricative"),
    "h": _c("glottal", "fricative", False), "ɦ": _c("glottal", "fricative"),
    "ɬ": _c("alveolar", "lateral", False), "ɮ": _c("alveolar", "lateral"),
    "ʍ": _c("labial-velar", "fricative", False),
    # Approximants, laterals, trills.
    "ʋ": _c("labiodental", "approximant"), "ɹ": _c("alveolar", "approximant"),
    "r": _c("alveolar", "trill"), "ʀ": _c("uvular", "trill"), "ʙ": _c("bilabial", "trill"),
    "ɻ": _c("retroflex", "approximant"), "j": _c("palatal", "approximant"),
    "ɰ": _c("velar", "approximant"), "w": _c("labial-velar", "approximant"),
    "ɥ": _c("labial-palatal", "approximant"), "l": _c("alveolar", "lateral"),
    "ɭ": _c("retroflex", "lateral"), "ʎ": _c("palatal", "lateral"), "ʟ": _c("velar", "lateral"),
    "ɫ": _c("velar", "lateral"),
    # Clicks and implosives are rare; class them by place.
    "ʘ": _c("bilabial", "stop", False), "ǀ": _c("dental", "stop", False),
    "ǃ": _c("alveolar", "stop", False), "ǂ": _c("palatal", "stop", False),
    "ǁ": _c("alveolar", "lateral", False), "ɓ": _c("bilabial", "stop"),
    "ɗ": _c("alveolar", "stop"), "ʄ": _c("palatal", "stop"), "ɠ": _c("velar", "stop"),
}

LETTERS: dict[str, Features] = {**VOWELS, **CONSONANTS}

# Marks that carry no articulation of their own.
_PROSODIC = set("ˈˌ.‿|‖ːˑ'-_ ") | {"\u0361", "\u035c"}
_TONE_LETTERS = set("˥˦˧˨˩") | set("0123456789")
_RHOTIC_HOOK = "˞"
_NASAL = "\u0303"
_SYLLABIC = "\u0329"


@dataclass(frozen=True)
class Phone:
    """A phone symbol parsed into its letters' features (a diphthong or affricate has two)."""

    symbol: str
    parts: tuple[Features, ...]
    long: bool = False
    nasal: bool = False
    tone: str = ""

    @property
    def first(self) -> Features:
        return self.parts[0]

    @property
    def last(self) -> Features:
        return self.parts[-1]

    @property
    def vowel(self) -> bool:
        return any(p.vowel for p in self.parts)


_warned: set[str] = set()


def _guess(letter: str) -> Features:
    """Class a letter missing from the tables by its Unicode name (logged once)."""
    if letter not in _warned:
        _warned.add(letter)
        log.warning("unknown phone symbol %r (U+%04X); classed by its name", letter, ord(letter))
    name = unicodedata.name(letter, "").upper()
    base = unicodedata.normalize("NFD", letter)[0]
    if base != letter and base in LETTERS:
        return LETTERS[base]
    for key, feats in (("LATIN SMALL LETTER " + c.upper(), f) for c, f in LETTERS.items()
                       if c.isascii()):
        if name.startswith(key):
            return feats
    if any(w in name for w in ("VOWEL", "SCHWA")):
        return VOWELS["ə"]
    return _c("alveolar", "approximant")


@lru_cache(maxsize=4096)
def parse(symbol: str) -> Phone:
    """Parse an IPA phone symbol. Never fails: unknown letters are classed by their name."""
    parts: list[Features] = []
    long = nasal = False
    tone = ""
    for ch in unicodedata.normalize("NFD", symbol):
        if ch in "ːˑ":
            long = True
        elif ch == _NASAL:
            nasal = True
        elif ch in _TONE_LETTERS:
            tone += ch
        elif ch == _RHOTIC_HOOK and parts and parts[-1].vowel:
            parts[-1] = VOWELS["ɚ"]
        elif ch in _PROSODIC or unicodedata.category(ch) in ("Mn", "Lm", "Sk", "Zs"):
            # Combining marks and modifier letters (ʰ ʷ ʲ ̪ ̩ …) refine, not redefine, a phone.
            continue
        elif ch in LETTERS:
            parts.append(LETTERS[ch])
        else:
            parts.append(_guess(ch))
    if not parts:
        parts.append(VOWELS["ə"] if tone else _c("glottal", "stop", False))
    return Phone(symbol=symbol, parts=tuple(parts), long=long, nasal=nasal, tone=tone)
