"""Splitting IPA strings (as espeak-ng writes them) into phones with stress.

Phone conventions (see :func:`split_ipa`):

- Affricates (``tʃ dʒ ts dz tɕ dʑ ʈʂ ɖʐ pf``) and diphthongs (``aɪ aʊ ɔɪ eɪ oʊ`` …, and any vowel
  sequence espeak treats as one phoneme, e.g. Mandarin ``ɑu``, German ``ɔø``) are single phones.
- Length marks and diacritics stay on their phone (``ɑː``, ``ɔ̃``, ``rʲ``, ``tʰ``); tie bars go.
- A phoneme that espeak writes as vowel + consonant (English ``əl``, ``ɑːɹ``, ``ɪɹ``) is two
  phones, sharing its time in proportion (vowel 2 : consonant 1).
- **Tones are dropped.** espeak's phoneme events carry no tone at all, and its IPA text writes
  tones as bare digits (with tone 3 printed as ``ɜ``), so they could not be kept consistently.
- Stress (``ˈ`` 1, ``ˌ`` 2) goes on the syllable's vowel. Pauses are gaps, never phones.
"""

from __future__ import annotations

import re
import unicodedata

VOWELS = frozenset("iyɨʉɯuɪʏʊeøɘɵɤoəɛœɜɞʌɔæɐaɶɑɒɚɝᵻᵿɩɷɿʅʮʯ")
# Second elements that make a diphthong with the vowel before them in free IPA text; the close
# vowels i u y only after a vowel that is not close itself (ai, au, ou, but not iu).
_OFFGLIDES = frozenset("ɪʊəɐʏɚ")
_CLOSE_GLIDES = frozenset("iuy")
_CLOSE = frozenset("iyɨʉɯuɪʏʊ")
AFFRICATES = frozenset({
    "ts", "dz", "tʃ", "dʒ", "tɕ", "dʑ", "ʈʂ", "ɖʐ", "pf", "tɬ", "dɮ", "cç", "ɟʝ",
})
LIGATURES = str.maketrans({"ʧ": "tʃ", "ʤ": "dʒ", "ʦ": "ts", "ʣ": "dz", "ʨ": "tɕ", "ʥ": "dʑ",
                            "g": "ɡ"})
_STOPS = frozenset("pbtdʈɖcɟkɡqɢ")
_TIES = frozenset("\u0361\u035c")
_NON_SYLLABIC = "\u032f"
# Tone marks: digits (espeak), Chao tone letters, combining tone diacritics.
_TONES = frozenset("0123456789˥˦˧˨˩\u0300\u0301\u0302\u0304\u030b\u030c\u030f\u1dc4\u1dc5"
                   "\u1dc6\u1dc7\u1dc8\u1dc9") | frozenset(chr(c) for c in range(0xA700, 0xA720))
# espeak's language-switch markers, e.g. "(en)" before an English word in Russian text.
_LANG_SWITCH = re.compile(r"\([a-z]{2,3}(?:-[a-z0-9]+)*\)", re.IGNORECASE)


def _base(ch: str) -> str:
    # Precomposed letters (ä, ö) count as their base letter; ç stays a consonant anyway.
    return unicodedata.normalize("NFD", ch)[0]


def _is_vowel(ch: str) -> bool:
    return _base(ch) in VOWELS


def _attaches(ch: str) -> bool:
    """Length marks, modifier letters (ʰ ʲ ʷ ᵝ) and combining diacritics join the phone before."""
    if ch in "ˈˌ":
        return False
    return unicodedata.category(ch) in ("Lm", "Mn", "Me")


class _Unit:
    __slots__ = ("base", "extra", "vowel", "stress")

    def __init__(self, ch: str, vowel: bool, stress: int) -> None:
        self.base, self.extra, self.vowel, self.stress = ch, "", vowel, stress

    @property
    def symbol(self) -> str:
        return self.base + self.extra


def parse_units(s: str, single: bool = False) -> tuple[list[_Unit], str, int]:
    """Segment IPA text. ``single``: ``s`` is one espeak phoneme, so adjacent vowels always form
    one phone and an ``h`` after a stop is aspiration (Mandarin ``tɕh``).

    Returns the phones, any leading diacritics with no phone to attach to (espeak sends
    palatalisation ``ʲ`` as a phoneme of its own), and a stress mark that found no vowel.
    """
    s = _LANG_SWITCH.sub(" ", s).translate(LIGATURES)
    units: list[_Unit] = []
    orphan = ""
    pending = 0
    joinable = False  # the previous unit may absorb the next letter (no separator between)
    tie = False
    for i, ch in enumerate(s):
        if ch == "ˈ":
            pending, joinable = 1, False
        elif ch == "ˌ":
            pending, joinable = pending or 2, False
        elif ch in _TIES:
            tie = bool(units)
        elif ch in _TONES:
            continue
        elif _attaches(ch):
            if units:
                units[-1].extra += ch
            else:
                orphan += ch
        elif not (ch.isalpha() or ch in "ʔʕʡʢǀǁǂǃʘ"):
            joinable, tie = False, False  # separators: space . | ‖ _ - ‿ and punctuation
        else:
            vowel = _is_vowel(ch)
            prev = units[-1] if units else None
            join = False
            if prev is not None and tie:
                join = True
            elif prev is not None and joinable:
                if vowel and prev.vowel:
                    nxt = s[i + 1] if i + 1 < len(s) else ""
                    join = (single or ch in _OFFGLIDES or nxt == _NON_SYLLABIC
                            or (ch in _CLOSE_GLIDES and _base(prev.base[-1]) not in _CLOSE))
                elif not vowel and not prev.vowel and not prev.extra:
                    join = prev.base + ch in AFFRICATES
                    if single and ch == "h" and prev.base[-1] in _STOPS | {"ʃ", "ɕ", "ʂ", "s"}:
                        prev.extra += "ʰ"
                        joinable = True
                        continue
            if join and prev is not None:
                prev.base, prev.extra = prev.symbol + ch, ""
                if vowel and not prev.vowel:  # a tie bar joined a vowel to a consonant
                    prev.vowel = True
                    prev.stress, pending = pending, 0
            else:
                stress = 0
                if vowel:
                    stress, pending = pending, 0
                units.append(_Unit(ch, vowel, stress))
            joinable, tie = True, False
    return units, orphan, pending


def split_ipa(s: str) -> list[tuple[str, int]]:
    """Split IPA text into ``(phone, stress)`` pairs.

    ``"ˈtʃɜːtʃ"`` → ``[("tʃ", 0), ("ɜː", 1), ("tʃ", 0)]``. Affricates and diphthongs are single
    phones (tie bars join anything); diacritics and length marks stay on their phone; stress
    marks set the stress of the next vowel; tones, separators (space . | _ - ‿) and espeak's
    language-switch markers ``(en)`` are dropped. Two vowels make one diphthong when nothing
    (no stress mark, no separator) stands between them and the second is an off-glide
    (ɪ ʊ ə ɐ ʏ ɚ), non-syllabic (◌̯), or i u y after a vowel that is not close (``ai``, ``ou``).
    """
    units, _, _ = parse_units(s)
    return [(u.symbol, u.stress) for u in units]


def phone_weight(symbol: str) -> float:
    """Typical relative duration, for spreading phones over a span: vowels outlast consonants."""
    letters = [c for c in symbol if not _attaches(c)]
    vowels = sum(_is_vowel(c) for c in letters)
    if vowels:
        return 2.0 + 0.5 * (vowels > 1) + 0.5 * ("ː" in symbol)
    return 1.0
