"""ARPABET (CMU dictionary phones) → IPA."""

from __future__ import annotations

ARPABET_TO_IPA: dict[str, str] = {
    "AA": "ɑ", "AE": "æ", "AH": "ʌ", "AO": "ɔ", "AW": "aʊ", "AY": "aɪ", "B": "b", "CH": "tʃ",
    "D": "d", "DH": "ð", "EH": "ɛ", "ER": "ɝ", "EY": "eɪ", "F": "f", "G": "ɡ", "HH": "h",
    "IH": "ɪ", "IY": "i", "JH": "dʒ", "K": "k", "L": "l", "M": "m", "N": "n", "NG": "ŋ",
    "OW": "oʊ", "OY": "ɔɪ", "P": "p", "R": "ɹ", "S": "s", "SH": "ʃ", "T": "t", "TH": "θ",
    "UH": "ʊ", "UW": "u", "V": "v", "W": "w", "Y": "j", "Z": "z", "ZH": "ʒ",
}


def arpabet_to_ipa(label: str) -> tuple[str, int]:
    """(IPA, stress) for an ARPABET label such as ``"AH0"`` or ``"iy"``; unstressed AH is ə."""
    base = label.strip().upper()
    stress = 0
    if base and base[-1].isdigit():
        stress, base = int(base[-1]), base[:-1]
    if base not in ARPABET_TO_IPA:
        raise KeyError(label)
    if base == "AH" and label[-1:] == "0":
        return "ə", 0
    if base == "ER" and label[-1:] == "0":
        return "ɚ", 0
    return ARPABET_TO_IPA[base], stress
