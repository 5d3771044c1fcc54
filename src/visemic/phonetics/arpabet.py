"""ARPABET (the CMU dictionary's phone set, also used by MFA's English models and TIMIT) → IPA.

Symbols are plain IPA without length marks (``AA`` → ``ɑ``, ``IY`` → ``i``), the usual broad
General American transcription. Unstressed ``AH0`` and ``ER0`` become the reduced vowels ``ə``
and ``ɚ``.
"""

from __future__ import annotations

import re

# The 39 phones of the CMU Pronouncing Dictionary.
ARPABET_TO_IPA: dict[str, str] = {
    "AA": "ɑ", "AE": "æ", "AH": "ʌ", "AO": "ɔ", "AW": "aʊ", "AY": "aɪ", "EH": "ɛ", "ER": "ɝ",
    "EY": "eɪ", "IH": "ɪ", "IY": "i", "OW": "oʊ", "OY": "ɔɪ", "UH": "ʊ", "UW": "u",
    "B": "b", "CH": "tʃ", "D": "d", "DH": "ð", "F": "f", "G": "ɡ", "HH": "h", "JH": "dʒ",
    "K": "k", "L": "l", "M": "m", "N": "n", "NG": "ŋ", "P": "p", "R": "ɹ", "S": "s", "SH": "ʃ",
    "T": "t", "TH": "θ", "V": "v", "W": "w", "Y": "j", "Z": "z", "ZH": "ʒ",
}

# Extra symbols of the wider ARPABET (TIMIT, Buckeye) that alignments sometimes carry.
ARPABET_EXTENDED: dict[str, str] = {
    "AX": "ə", "AXR": "ɚ", "AX-H": "ə", "IX": "ɨ", "UX": "ʉ", "DX": "ɾ", "NX": "ɾ̃", "EL": "l̩",
    "EM": "m̩", "EN": "n̩", "ENG": "ŋ̍", "Q": "ʔ", "WH": "ʍ", "H": "h", "HV": "ɦ",
}

class UnknownPhone(KeyError, ValueError):
    """A label that is not ARPABET (a ``KeyError`` for older callers, a ``ValueError`` too)."""

    def __str__(self) -> str:
        return f"not an ARPABET phone: {self.args[0]!r}"


_LABEL = re.compile(r"^([A-Za-z]+(?:-[Hh])?)([012])?$")


def arpabet_to_ipa(label: str) -> tuple[str, int]:
    """``"AY1"`` → ``("aɪ", 1)``: the IPA symbol and the stress (0 none, 1 primary, 2 secondary).

    Case-insensitive; the stress digit is optional. Raises ``UnknownPhone`` (a ``KeyError`` and a
    ``ValueError``) for a label that is not ARPABET.
    """
    m = _LABEL.match(label.strip())
    if not m:
        raise UnknownPhone(label)
    base, digit = m.group(1).upper(), m.group(2)
    ipa = ARPABET_TO_IPA.get(base) or ARPABET_EXTENDED.get(base)
    if ipa is None:
        raise UnknownPhone(label)
    stress = int(digit) if digit else 0
    # The CMU dictionary writes reduced vowels as unstressed AH/ER.
    if digit == "0" and base == "AH":
        ipa = "ə"
    elif digit == "0" and base == "ER":
        ipa = "ɚ"
    return ipa, stress


def is_arpabet(label: str) -> bool:
    """Whether ``label`` parses as an ARPABET phone (any case, optional stress digit)."""
    try:
        arpabet_to_ipa(label)
    except UnknownPhone:
        return False
    return True
