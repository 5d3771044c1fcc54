"""Discrete viseme tracks from a timeline: Rhubarb A–H/X, Oculus 15, Azure 22 (DESIGN.md §3).

The tables below are the one place each mapping lives; symbols missing from a table are classed
by their articulatory features (:mod:`visemic.phonetics.ipa`), so every IPA phone gets a viseme.
Rhubarb tracks are shaped as an animator expects: a short non-decisive shape is absorbed by its
neighbours, closures are held long enough to read, short pauses close the lips, long ones rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from visemic.phonetics import ipa
from visemic.types import Cue, Phone, Timeline

SETS = ("rhubarb", "oculus", "azure")

RHUBARB_SHAPES = "ABCDEFGHX"
# Rhubarb's fallbacks when extended shapes are disabled (DESIGN.md §3).
RHUBARB_FALLBACK = {"G": "A", "H": "C", "X": "A"}
# Rhubarb's shape names in Preston Blair's vocabulary (for --datUsePrestonBlair).
PRESTON_BLAIR = {"A": "MBP", "B": "etc", "C": "E", "D": "AI", "E": "O", "F": "U", "G": "FV",
                 "H": "L", "X": "rest"}

OCULUS: dict[str, str] = {
    "p": "PP", "b": "PP", "m": "PP", "f": "FF", "v": "FF", "θ": "TH", "ð": "TH", "t": "DD",
    "d": "DD", "k": "kk", "g": "kk", "ɡ": "kk", "ŋ": "kk", "tʃ": "CH", "dʒ": "CH", "ʃ": "CH",
    "ʒ": "CH", "s": "SS", "z": "SS", "n": "nn", "l": "nn", "r": "RR", "ɹ": "RR", "ɑ": "aa",
    "a": "aa", "æ": "aa", "ʌ": "aa", "ə": "aa", "e": "E", "ɛ": "E", "eɪ": "E", "ɪ": "ih",
    "i": "ih", "j": "ih", "o": "oh", "ɔ": "oh", "oʊ": "oh", "ɔɪ": "oh", "u": "ou", "ʊ": "ou",
    "w": "ou", "ɝ": "RR", "ɚ": "RR", "aɪ": "aa", "aʊ": "aa", "h": "sil",
}
OCULUS_VISEMES = ("sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih",
                  "oh", "ou")

AZURE: dict[str, int] = {
    "æ": 1, "ə": 1, "ʌ": 1, "ɑ": 2, "a": 2, "ɔ": 3, "ɛ": 4, "ʊ": 4, "eɪ": 4, "e": 4, "ɝ": 5,
    "ɚ": 5, "j": 6, "i": 6, "ɪ": 6, "w": 7, "u": 7, "o": 8, "oʊ": 8, "aʊ": 9, "ɔɪ": 10,
    "aɪ": 11, "h": 12, "ɹ": 13, "r": 13, "l": 14, "s": 15, "z": 15, "ʃ": 16, "tʃ": 16,
    "dʒ": 16, "ʒ": 16, "ð": 17, "f": 18, "v": 18, "d": 19, "t": 19, "n": 19, "θ": 19, "k": 20,
    "g": 20, "ɡ": 20, "ŋ": 20, "p": 21, "b": 21, "m": 21,
}

# Seconds: pauses shorter than this close the lips (A) rather than going to rest. Inside speech
# such a gap is mostly a stop's silent closure or a breath-less break between words, and the
# lips meet in both; resting (X) would flash the idle mouth. (Recognised speech above all: the
# phone loop often hears a /p b/ closure as nothing, and bilabials went from 0.54 to 0.61.)
HOLD_PAUSE = 0.15
# Every shape shows this much before its phone sounds: the mouth leads the voice. (Measured on
# bench/accuracy.py's real speech: the open-shape lag goes from +10 ms to 0.)
VISUAL_LEAD = 0.005
# Shortest cue an animator wants to see (about one frame at 24 fps).
MIN_CUE = 0.04
MIN_CLOSURE = 2 / 24  # two frames at film rate: a closure an animator can see
# Closures and labiodentals start this much before the sound: lips move before the burst.
ANTICIPATE = 0.01
# Rounding starts earlier still: the lips protrude well before a rounded vowel sounds.
ROUND_LEAD = 0.03
DECISIVE = set("ACDEFG")  # shapes that must not be absorbed: each is some class's answer


def _vowel_shape(f: ipa.Features) -> str:
    if f.rounded:
        return "F" if f.height <= 0.35 else "E"
    if f == ipa.VOWELS["ɚ"] or f == ipa.VOWELS["ɝ"]:
        return "E"
    if f.height >= 0.9:
        return "D"
    if f.height >= 0.45:
        return "C"
    return "B"


def _consonant_shape(f: ipa.Features) -> str:
    if f.place == "bilabial" and f.manner in ("stop", "nasal", "trill"):
        return "A"
    if f.place in ("labiodental", "bilabial"):
        return "G"
    if f.place in ("labial-velar", "labial-palatal") and f.manner == "approximant":
        return "F"
    if f.manner == "lateral" and f.voiced:
        return "H"
    if f.manner == "approximant" and f.place in ("alveolar", "retroflex"):
        return "E"  # English /ɹ/ is labialised, as its rhotic vowels are
    return "B"


@lru_cache(maxsize=4096)
def rhubarb_shapes(symbol: str) -> tuple[str, str]:
    """(shape for the first part, shape for the last part) of a phone: a diphthong glides."""
    ph = ipa.parse(symbol)
    shapes = [(_vowel_shape(p) if p.vowel else _consonant_shape(p)) for p in ph.parts]
    if not ph.vowel:
        # Affricates and clusters read as their most visible part.
        first = next((s for s in shapes if s in "AGF"), shapes[0])
        return first, first
    return shapes[0], shapes[-1]


def _listed(table: dict, symbol: str):
    """The table's entry for ``symbol`` or for its bare letters (no length, tone, marks)."""
    if symbol in table:
        return table[symbol]
    return table.get("".join(ch for ch in symbol if ch in ipa.LETTERS))


@lru_cache(maxsize=4096)
def oculus(symbol: str) -> str:
    if (listed := _listed(OCULUS, symbol)) is not None:
        return listed
    f = ipa.parse(symbol).first
    if f.vowel:
        if f.rounded:
            return "ou" if f.height <= 0.2 else "oh"
        return "ih" if f.height < 0.3 else ("E" if f.height < 0.8 and f.backness < 0.5 else "aa")
    by_place = {"bilabial": "PP", "labiodental": "FF", "dental": "TH", "velar": "kk",
                "uvular": "kk", "postalveolar": "CH", "palatal": "CH", "retroflex": "CH",
                "labial-velar": "ou", "labial-palatal": "ou", "glottal": "sil",
                "pharyngeal": "kk"}
    if f.manner in ("fricative",) and f.place == "alveolar":
        return "SS"
    if f.manner in ("nasal", "lateral"):
        return "PP" if f.place == "bilabial" else "nn"
    if f.manner in ("trill", "approximant", "tap") and f.place in ("alveolar", "retroflex",
                                                                   "uvular"):
        return "RR"
    return by_place.get(f.place, "DD")


@lru_cache(maxsize=4096)
def azure(symbol: str) -> int:
    if (listed := _listed(AZURE, symbol)) is not None:
        return listed
    f = ipa.parse(symbol).first
    if f.vowel:
        if f.rounded:
            return 7 if f.height <= 0.2 else (8 if f.height < 0.5 else 3)
        if f.height < 0.3:
            return 6
        return 4 if f.backness < 0.4 and f.height < 0.8 else (2 if f.height >= 0.9 else 1)
    by_place = {"bilabial": 21, "labiodental": 18, "dental": 17, "alveolar": 19,
                "postalveolar": 16, "retroflex": 16, "palatal": 6, "velar": 20, "uvular": 20,
                "glottal": 12, "pharyngeal": 12, "labial-velar": 7, "labial-palatal": 7}
    if f.place == "alveolar" and f.manner == "fricative":
        return 15
    if f.manner == "lateral":
        return 14
    if f.manner in ("approximant", "trill", "tap") and f.place in ("alveolar", "uvular"):
        return 13
    return by_place.get(f.place, 19)


def _merge(cues: list[Cue]) -> list[Cue]:
    out: list[Cue] = []
    for c in cues:
        if c.end - c.start <= 1e-9:
            continue
        if out and out[-1].value == c.value and abs(out[-1].end - c.start) < 1e-6:
            out[-1] = Cue(out[-1].start, c.end, c.value)
        else:
            out.append(c)
    return out


def _segments(phones: Sequence[Phone], duration: float, shape_of) -> list[Cue]:
    """Cues following phone boundaries, VISUAL_LEAD early, with rest ("_") in the gaps."""
    cues: list[Cue] = []
    t = 0.0
    for p in sorted(phones, key=lambda p: p.start):
        start, end = max(p.start - VISUAL_LEAD, t), min(p.end - VISUAL_LEAD, duration)
        if start > t:
            cues.append(Cue(t, start, "_"))
        if end <= start:
            continue
        for a, b, v in shape_of(p, start, end):
            cues.append(Cue(a, b, v))
        t = end
    if t < duration:
        cues.append(Cue(t, duration, "_"))
    return cues


def rhubarb(timeline: Timeline, duration: float, extended: str = "GHX") -> list[Cue]:
    """The Rhubarb mouth-shape track (A–F plus the enabled extended shapes of G, H, X)."""

    def shape_of(p: Phone, start: float, end: float):
        first, last = rhubarb_shapes(p.symbol)
        if first == last:
            return [(start, end, first)]
        split = start + 0.7 * (end - start)  # the glide of a diphthong comes in its last third
        return [(start, split, first), (split, end, last)]

    raw = _segments(timeline.phones, duration, shape_of)
    # Pauses: short ones inside speech close the lips; longer ones rest (X).
    cues: list[Cue] = []
    for i, c in enumerate(raw):
        if c.value != "_":
            cues.append(c)
            continue
        if c.end - c.start >= HOLD_PAUSE or i in (0, len(raw) - 1):
            cues.append(Cue(c.start, c.end, "X"))
        elif c.end - c.start >= MIN_CUE:
            cues.append(Cue(c.start, c.end, "A"))
        else:  # too short to show: the mouth holds its shape through it
            prev = cues[-1].value
            cues.append(Cue(c.start, c.end, prev if prev in "BCH" else "B"))
    cues = _merge(cues)
    cues = _anticipate(cues)
    cues = _absorb_short(cues)
    cues = _widen(cues, "A", MIN_CLOSURE)
    if extended != "GHX":
        cues = _merge([Cue(c.start, c.end, c.value if c.value in "ABCDEF" or c.value in extended
                           else RHUBARB_FALLBACK[c.value]) for c in cues])
    return cues


def _anticipate(cues: list[Cue]) -> list[Cue]:
    """Start closures and labiodentals a little early, taking the time from a non-decisive
    predecessor, as lips close before the burst."""
    out = list(cues)
    for i in range(1, len(out)):
        cur, prev = out[i], out[i - 1]
        lead = ANTICIPATE if cur.value in "AG" else ROUND_LEAD if cur.value in "EF" else 0.0
        if lead and prev.value not in DECISIVE:
            shift = min(lead, (prev.end - prev.start) / 2)
            out[i - 1] = Cue(prev.start, prev.end - shift, prev.value)
            out[i] = Cue(cur.start - shift, cur.end, cur.value)
    return out


def _widen(cues: list[Cue], value: str, width: float) -> list[Cue]:
    """Stretch every ``value`` cue to at least ``width``, evenly about its centre, taking the
    time from non-decisive neighbours; one still shorter than MIN_CUE then takes what it lacks
    from decisive neighbours too."""
    out = list(cues)
    for i, c in enumerate(out):
        if c.value != value:
            continue
        half = (width - (c.end - c.start)) / 2
        for j in (i - 1, i + 1):
            if 0 <= j < len(out) and out[j].value not in DECISIVE:
                _borrow(out, i, j, half)
        for j in (i - 1, i + 1):
            if 0 <= j < len(out):
                _borrow(out, i, j, MIN_CUE - (out[i].end - out[i].start))
    return _merge(out)


def _borrow(out: list[Cue], i: int, j: int, want: float) -> None:
    """Move up to ``want`` seconds from the neighbouring cue ``out[j]`` into ``out[i]``, leaving
    the neighbour at least MIN_CUE long."""
    n, c = out[j], out[i]
    take = min(want, (n.end - n.start) - MIN_CUE)
    if take <= 0:
        return
    if j < i:
        out[j], out[i] = Cue(n.start, c.start - take, n.value), Cue(c.start - take, c.end, c.value)
    else:
        out[j], out[i] = Cue(c.end + take, n.end, n.value), Cue(c.start, c.end + take, c.value)


def _absorb_short(cues: list[Cue]) -> list[Cue]:
    """Give every cue at least MIN_CUE: a short non-decisive cue merges into a neighbour, a short
    decisive one borrows time from its non-decisive neighbours."""
    out = list(cues)
    changed = True
    while changed:
        changed = False
        for i, c in enumerate(out):
            if c.end - c.start >= MIN_CUE - 1e-9:
                continue
            prev = out[i - 1] if i > 0 else None
            nxt = out[i + 1] if i + 1 < len(out) else None
            if c.value in DECISIVE:
                for j in (i + 1, i - 1):  # the next neighbour first
                    if 0 <= j < len(out) and out[j].value not in DECISIVE:
                        _borrow(out, i, j, MIN_CUE - (out[i].end - out[i].start))
                changed = changed or out[i] != c
                continue
            # Non-decisive and short: join the longer neighbour.
            if prev is None and nxt is None:
                continue
            if nxt is None or (prev is not None and
                               prev.end - prev.start >= nxt.end - nxt.start):
                out[i - 1] = Cue(prev.start, c.end, prev.value)
            else:
                out[i + 1] = Cue(c.start, nxt.end, nxt.value)
            del out[i]
            changed = True
            break
    return _merge(out)


def oculus_track(timeline: Timeline, duration: float) -> list[Cue]:
    return _merge(_rest_as(_segments(timeline.phones, duration,
                                     lambda p, a, b: [(a, b, oculus(p.symbol))]), "sil"))


def azure_track(timeline: Timeline, duration: float) -> list[Cue]:
    return _merge(_rest_as(_segments(timeline.phones, duration,
                                     lambda p, a, b: [(a, b, str(azure(p.symbol)))]), "0"))


def _rest_as(cues: list[Cue], rest: str) -> list[Cue]:
    return [Cue(c.start, c.end, rest) if c.value == "_" else c for c in cues]


def tracks(timeline: Timeline, duration: float) -> dict[str, list[Cue]]:
    """All viseme tracks: {"rhubarb": …, "oculus": …, "azure": …}."""
    return {"rhubarb": rhubarb(timeline, duration),
            "oculus": oculus_track(timeline, duration),
            "azure": azure_track(timeline, duration)}
