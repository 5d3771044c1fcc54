"""The acoustic model's phone set (pocketsphinx en-us, ARPABET) and how any IPA phone maps onto it.

English phones map one to one. Other languages' phones map to the nearest English model phone
(or a short sequence: /ts/ → T S), which lets the English acoustic model align any language.
"""

from __future__ import annotations

from functools import lru_cache

from visemic.phonetics import ipa
from visemic.phonetics.arpabet import ARPABET_TO_IPA

MODEL_PHONES: tuple[str, ...] = (
    "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH",
    "IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH",
    "UW", "V", "W", "Y", "Z", "ZH",
)

# Explicit choices for common non-English phones, where "nearest by features" would be a guess.
_NEAREST: dict[str, tuple[str, ...]] = {
    "e": ("EY",), "o": ("OW",), "ø": ("ER",), "œ": ("ER",), "y": ("UW",), "ʏ": ("UH",),
    "ɐ": ("AH",), "a": ("AA",), "ɒ": ("AA",), "ɨ": ("IH",), "ɯ": ("UH",), "ɤ": ("AH",),
    "ɘ": ("AH",), "ɵ": ("ER",), "ɜ": ("ER",), "ɞ": ("ER",), "ɶ": ("AA",), "ʉ": ("UW",),
    "ts": ("T", "S"), "dz": ("D", "Z"), "tɕ": ("CH",), "dʑ": ("JH",), "ʈʂ": ("CH",),
    "ɖʐ": ("JH",), "pf": ("P", "F"), "ɕ": ("SH",), "ʑ": ("ZH",), "ʂ": ("SH",), "ʐ": ("ZH",),
    "ç": ("HH",), "x": ("HH",), "χ": ("HH",), "ɣ": ("G",), "ʁ": ("R",), "ʀ": ("R",),
    "r": ("R",), "ɾ": ("D",), "ɽ": ("D",), "ɲ": ("N", "Y"), "ʎ": ("L", "Y"), "ɳ": ("N",),
    "ɴ": ("NG",), "ʋ": ("V",), "β": ("V",), "ɸ": ("F",), "ʔ": (), "ɦ": ("HH",),
    "ɥ": ("Y",), "ɫ": ("L",), "ɭ": ("L",), "ɻ": ("R",), "ʈ": ("T",), "ɖ": ("D",),
    "c": ("K",), "ɟ": ("G",), "q": ("K",), "ɢ": ("G",), "ħ": ("HH",), "ʕ": ("HH",),
    "ɬ": ("SH",), "ɮ": ("ZH",), "ɰ": ("W",), "ʍ": ("W",), "ɱ": ("M",), "ɡ": ("G",),
}

_IPA_TO_MODEL: dict[str, tuple[str, ...]] = {v: (k,) for k, v in ARPABET_TO_IPA.items()}


def _strip(symbol: str) -> str:
    """The phone without length, tone, stress and other marks (as :mod:`ipa` reads it)."""
    keep = []
    for ch in symbol:
        if ch in ipa.LETTERS:
            keep.append(ch)
    return "".join(keep)


@lru_cache(maxsize=4096)
def to_model(symbol: str) -> tuple[str, ...]:
    """Model phones for one IPA phone (empty for a glottal stop, which the model lacks)."""
    if symbol in _IPA_TO_MODEL:
        return _IPA_TO_MODEL[symbol]
    base = _strip(symbol)
    for key in (base, base[:2], base[:1]):
        if key in _IPA_TO_MODEL:
            return _IPA_TO_MODEL[key]
        if key in _NEAREST:
            return _NEAREST[key]
    return _by_features(symbol)


def _by_features(symbol: str) -> tuple[str, ...]:
    """Nearest English model phone by articulatory features, one per letter of the phone."""
    out: list[str] = []
    for feats in ipa.parse(symbol).parts:
        best, best_d = "AH", 1e9
        for arpa, ipa_sym in ARPABET_TO_IPA.items():
            other = ipa.parse(ipa_sym).first
            if other.vowel != feats.vowel:
                continue
            if feats.vowel:
                d = (abs(other.height - feats.height) + abs(other.backness - feats.backness)
                     + 0.5 * (other.rounded != feats.rounded))
            else:
                d = ((other.place != feats.place) + 0.7 * (other.manner != feats.manner)
                     + 0.2 * (other.voiced != feats.voiced))
            if d < best_d:
                best, best_d = arpa, d
        if not out or out[-1] != best:
            out.append(best)
    return tuple(out)
