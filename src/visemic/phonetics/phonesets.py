"""Other phone sets → IPA: ARPABET, SAMPA / X-SAMPA (incl. German MAUS labels), pinyin
initials and finals, IPA variants.

Used to read alignments made by other tools (MFA, MAUS, Praat, Rhubarb's pocketsphinx) and to
score against them.
"""

from __future__ import annotations

from visemic.phonetics.arpabet import arpabet_to_ipa

# SAMPA (English and German, MAUS conventions) and the X-SAMPA letters they use.
SAMPA: dict[str, str] = {
    "A": "ɑ", "{": "æ", "6": "ɐ", "Q": "ɒ", "E": "ɛ", "@": "ə", "3": "ɜ", "I": "ɪ", "O": "ɔ",
    "2": "ø", "9": "œ", "&": "ɶ", "U": "ʊ", "}": "ʉ", "V": "ʌ", "Y": "ʏ", "B": "β", "C": "ç",
    "D": "ð", "G": "ɣ", "L": "ʎ", "J": "ɲ", "N": "ŋ", "R": "ʁ", "S": "ʃ", "T": "θ", "H": "ɥ",
    "Z": "ʒ", "?": "ʔ", "r\\": "ɹ", "4": "ɾ", "x": "x", "h\\": "ɦ", "P": "ʋ", "M": "ɯ",
    "1": "ɨ", "7": "ɤ", "8": "ɵ", "e": "e", "o": "o", "i": "i", "u": "u", "y": "y", "a": "a",
    "g": "ɡ", "r": "r", "l": "l", ":": "ː", "~": "\u0303", "=": "\u0329", "_h": "ʰ",
    "aI": "aɪ", "aU": "aʊ", "OY": "ɔʏ", "OI": "ɔɪ", "eI": "eɪ", "@U": "əʊ", "oU": "oʊ",
    "I@": "ɪə", "e@": "eə", "U@": "ʊə", "tS": "tʃ", "dZ": "dʒ", "pf": "pf", "ts": "ts",
}
# IPA-like labels that tools write for IPA (MFA's "aj", "aw", "ej", "ow" and friends).
IPA_VARIANTS: dict[str, str] = {
    "aj": "aɪ", "aw": "aʊ", "ej": "eɪ", "ow": "oʊ", "ɔj": "ɔɪ", "g": "ɡ", "r": "ɹ",
    "ʧ": "tʃ", "ʤ": "dʒ", "ɝ": "ɝ", "ɚ": "ɚ",
}

# Mandarin pinyin, split into initials and finals as aligners label them (Charsiu, MFA's pinyin
# dictionaries): "v" is ü, "ii" the apical vowel of zi/ci/si, "iii" that of zhi/chi/shi/ri.
# Broad IPA, one string per label; tone digits are dropped before the lookup.
PINYIN_INITIALS: dict[str, str] = {
    "b": "p", "p": "pʰ", "m": "m", "f": "f", "d": "t", "t": "tʰ", "n": "n", "l": "l",
    "g": "k", "k": "kʰ", "h": "x", "j": "tɕ", "q": "tɕʰ", "x": "ɕ", "zh": "ʈʂ", "ch": "ʈʂʰ",
    "sh": "ʂ", "r": "ɻ", "z": "ts", "c": "tsʰ", "s": "s", "y": "j", "w": "w",
}
PINYIN_FINALS: dict[str, str] = {
    "a": "a", "o": "wo", "e": "ɤ", "ai": "aɪ", "ei": "eɪ", "ao": "ɑʊ", "ou": "oʊ", "an": "an",
    "en": "ən", "ang": "ɑŋ", "eng": "əŋ", "ong": "ʊŋ", "er": "ɚ", "i": "i", "ia": "ja",
    "ie": "jɛ", "iao": "jɑʊ", "iu": "joʊ", "iou": "joʊ", "ian": "jɛn", "in": "in",
    "iang": "jɑŋ", "ing": "iŋ", "iong": "jʊŋ", "u": "u", "ua": "wa", "uo": "wo", "uai": "waɪ",
    "ui": "weɪ", "uei": "weɪ", "uan": "wan", "un": "wən", "uen": "wən", "uang": "wɑŋ",
    "ueng": "wəŋ", "v": "y", "ve": "ɥɛ", "van": "ɥɛn", "vn": "yn", "ii": "ɨ", "iii": "ɨ",
    "io": "jo", "ue": "ɥɛ",
}


def pinyin_to_ipa(label: str) -> str:
    """IPA for one pinyin initial or final (tone digits ignored); unknown labels unchanged."""
    bare = label.rstrip("012345").lower().replace("ü", "v")
    return PINYIN_INITIALS.get(bare) or PINYIN_FINALS.get(bare) or label


def sampa_to_ipa(label: str) -> str:
    """Convert one SAMPA / X-SAMPA phone label (longest match first)."""
    out, i = [], 0
    while i < len(label):
        for n in (3, 2, 1):
            piece = label[i:i + n]
            if len(piece) == n and piece in SAMPA:
                out.append(SAMPA[piece])
                i += n
                break
        else:
            out.append(label[i])
            i += 1
    return "".join(out)


def to_ipa(label: str, phone_set: str) -> str:
    """IPA for ``label`` in ``phone_set`` (a free-form name: "arpabet …", "sampa …", "ipa …")."""
    kind = phone_set.lower()
    if kind.startswith("arpabet"):
        try:
            return arpabet_to_ipa(label)[0]
        except (KeyError, ValueError):
            # Tool-specific labels such as praatIO's "PT" cluster: read letter by letter.
            return "".join(arpabet_to_ipa(ch)[0] for ch in label if ch.isalpha())
    if "sampa" in kind:
        return sampa_to_ipa(label)
    if kind.startswith("pinyin"):
        return pinyin_to_ipa(label)
    return IPA_VARIANTS.get(label, label)
