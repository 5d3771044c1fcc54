"""Articulatory target poses: what each phone does to the ARKit mouth channels.

Poses are derived from the phone's features (:mod:`visemic.phonetics.ipa`), so every language's
phones get one. Each pose also says how strongly the phone holds each channel against its
neighbours (``strength``): vowels own the jaw, bilabials and labiodentals own the lips, most
consonants leave the lips to the surrounding vowels (so the /s/ of "soup" is already rounded).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from visemic.phonetics import ipa

# The channels speech drives (ARKit names).
MOUTH = (
    "jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthSmileLeft", "mouthSmileRight",
    "mouthStretchLeft", "mouthStretchRight", "mouthRollLower", "mouthRollUpper",
    "mouthShrugLower", "mouthShrugUpper", "mouthPressLeft", "mouthPressRight",
    "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "jawForward", "tongueOut",
)
JAW = ("jawOpen", "jawForward")
ROUNDING = ("mouthFunnel", "mouthPucker")

# How far each class of phone opens the jaw (its jawOpen target; the lips part by jawOpen −
# mouthClose). Real lips differ mostly by these classes, so they are what a calibration on
# tracked speakers and a personal profile (motion/profile.py) adjust. Calibrated on the
# tracked talking-head clips by bench/lip_motion.py (its all-clip fit; rest held closed; /u/
# kept a little open so the jaw still moves under the rounded lips; /i ɪ/ at 0.15, not the
# fitted 0.22, so that teeth still fill the opening of "ee" on portraits).
OPENING: dict[str, float] = {
    "rest": 0.0,
    "vowel_close": 0.15, "vowel_close_round": 0.05,
    "vowel_mid": 0.4, "vowel_mid_round": 0.17,
    "vowel_open_mid": 0.38, "vowel_open_mid_round": 0.23,
    "vowel_open": 0.81, "vowel_open_round": 0.47,
    "bilabial": 0.11, "labiodental": 0.0, "dental": 0.04, "alveolar": 0.2, "sibilant": 0.15,
    "postalveolar": 0.31, "rhotic": 0.09, "lateral": 0.05, "labial_glide": 0.04,
    "palatal": 0.12, "velar": 0.27, "glottal": 0.35,
}
CLASSES = tuple(OPENING)
# How firmly consonants hold the jaw against the vowels around them (a factor on their jaw
# strengths below; calibrated with OPENING: real lips close further between vowels than a
# weak hold lets them).
CONSONANT_HOLD = 2.5
# tongueOut up to this is the tongue's tip raised behind the upper teeth (/l/), beyond it the tip
# comes forward between the teeth (/θ ð/ at 0.25).
TONGUE_BEHIND = 0.12


@dataclass(frozen=True)
class Pose:
    values: dict[str, float]
    jaw_strength: float       # hold on the jaw against neighbours
    lip_strength: float       # hold on the lips
    round_lead: float         # seconds by which rounding anticipates the phone
    bilabial: bool = False
    labiodental: bool = False
    kind: str = "rest"        # its class in OPENING
    vowel: bool = False


def opening_class(f: ipa.Features) -> str:
    """The :data:`OPENING` class of a phone's features."""
    if f.vowel:
        if f in (ipa.VOWELS["ɚ"], ipa.VOWELS["ɝ"]):
            return "rhotic"
        height = ("close" if f.height < 0.25 else "mid" if f.height < 0.6
                  else "open_mid" if f.height < 0.75 else "open")
        return f"vowel_{height}" + ("_round" if f.rounded else "")
    place, manner = f.place, f.manner
    if place == "bilabial" and manner in ("stop", "nasal", "trill"):
        return "bilabial"
    if place in ("labiodental", "bilabial"):
        return "labiodental"
    if place == "dental":
        return "dental"
    if place in ("labial-velar", "labial-palatal"):
        return "labial_glide"
    if place == "postalveolar" or (place == "palatal" and manner != "approximant"):
        return "postalveolar"
    if _rhotic(f):
        return "rhotic"
    if place == "palatal":
        return "palatal"
    if manner == "fricative" and place == "alveolar":
        return "sibilant"
    if manner in ("lateral", "lateral approximant", "lateral-approximant") or (
            manner == "approximant" and place == "alveolar"):
        return "lateral"
    if place in ("velar", "uvular"):
        return "velar"
    if place in ("glottal", "pharyngeal"):
        return "glottal"
    return "alveolar"


def _sym(channels: dict[str, float]) -> dict[str, float]:
    """Expand "mouthSmile" → mouthSmileLeft/Right etc."""
    out: dict[str, float] = {}
    for k, v in channels.items():
        if k in ("mouthSmile", "mouthStretch", "mouthPress", "mouthLowerDown", "mouthUpperUp"):
            out[k + "Left"] = v
            out[k + "Right"] = v
        else:
            out[k] = v
    return out


def _vowel(f: ipa.Features) -> dict[str, float]:
    h, b = f.height, f.backness
    v = {"jawOpen": 0.1 + 0.5 * h, "mouthLowerDown": 0.08 + 0.3 * h,
         "mouthUpperUp": 0.04 + 0.12 * h}
    if f.rounded:
        v["mouthPucker"] = 0.25 + 0.55 * (1 - h)
        v["mouthFunnel"] = 0.25 + 0.35 * h
        v["jawOpen"] *= 0.8
    else:
        front = 1 - b
        v["mouthStretch"] = 0.28 * front * (1 - 0.5 * h)
        v["mouthSmile"] = 0.12 * front * (1 - h)
    if f in (ipa.VOWELS["ɚ"], ipa.VOWELS["ɝ"]):
        v.update(mouthFunnel=0.35, mouthPucker=0.2, jawOpen=0.2)
    return v


def _rhotic(f: ipa.Features) -> bool:
    return f.manner in ("approximant", "trill", "tap") and f.place in ("alveolar", "retroflex")


def _consonant(f: ipa.Features) -> dict[str, float]:
    place, manner = f.place, f.manner
    if place == "bilabial" and manner in ("stop", "nasal", "trill"):
        press = 0.35 if manner == "stop" else 0.15
        return {"jawOpen": 0.1, "mouthClose": 0.1, "mouthPress": press, "mouthRollLower": 0.1,
                "mouthRollUpper": 0.08}
    if place in ("labiodental", "bilabial"):
        return {"jawOpen": 0.1, "mouthClose": 0.04, "mouthRollLower": 0.55,
                "mouthUpperUp": 0.22, "mouthShrugUpper": 0.1}
    if place == "dental":
        return {"jawOpen": 0.14, "tongueOut": 0.25, "mouthUpperUp": 0.1}
    if place in ("labial-velar", "labial-palatal"):
        return {"jawOpen": 0.08, "mouthPucker": 0.75, "mouthFunnel": 0.25}
    if place in ("postalveolar",) or (place == "palatal" and manner != "approximant"):
        return {"jawOpen": 0.12, "mouthFunnel": 0.45, "mouthPucker": 0.2, "mouthUpperUp": 0.15,
                "mouthLowerDown": 0.1}
    if _rhotic(f):
        return {"jawOpen": 0.15, "mouthFunnel": 0.35, "mouthPucker": 0.25}
    if place == "palatal":
        return {"jawOpen": 0.1, "mouthStretch": 0.25, "mouthSmile": 0.08}
    if manner == "fricative" and place == "alveolar":
        return {"jawOpen": 0.07, "mouthStretch": 0.2, "mouthUpperUp": 0.08,
                "mouthLowerDown": 0.08}
    if manner == "lateral" and place in ("alveolar", "dental", "retroflex"):
        # /l/: the tongue's tip is raised behind the upper teeth; a little tongueOut shows it
        # (renderers draw it behind the teeth below TONGUE_BEHIND, between them above).
        return {"jawOpen": 0.16, "mouthLowerDown": 0.08, "mouthUpperUp": 0.05,
                "tongueOut": TONGUE_BEHIND}
    if place in ("velar", "uvular"):
        return {"jawOpen": 0.2, "mouthLowerDown": 0.1}
    if place in ("glottal", "pharyngeal"):
        return {"jawOpen": 0.22}
    return {"jawOpen": 0.15, "mouthLowerDown": 0.08, "mouthUpperUp": 0.05}


@lru_cache(maxsize=4096)
def pose(symbol: str) -> Pose:
    """The target pose of an IPA phone (a diphthong or affricate: its first part)."""
    return pose_of(ipa.parse(symbol).first)


def pose_of(f: ipa.Features, opening: dict[str, float] | None = None,
            hold: float = CONSONANT_HOLD) -> Pose:
    """The pose of one set of features, its jaw opened as :data:`OPENING` (or ``opening``,
    a table with the same classes) says, a consonant's jaw held ``hold`` times its strength."""
    kind = opening_class(f)
    jaw = (OPENING if opening is None else opening)[kind]
    if f.vowel:
        values = _sym(_vowel(f))
        values["jawOpen"] = jaw
        return Pose(values, jaw_strength=1.0, lip_strength=0.8,
                    round_lead=0.12 if f.rounded else 0.04, kind=kind, vowel=True)
    values = _sym(_consonant(f))
    values["jawOpen"] = jaw
    if "mouthClose" in values and kind == "bilabial":
        values["mouthClose"] = jaw  # sealed: the lips stay together however far the jaw drops
    bil = f.place == "bilabial" and f.manner in ("stop", "nasal", "trill")
    lab = f.place in ("labiodental", "bilabial") and not bil
    # English /ɹ/ is labialised like /ʃ/: its lips round whatever the neighbours do.
    lips_matter = (bil or lab or _rhotic(f)
                   or f.place in ("labial-velar", "labial-palatal", "postalveolar"))
    jaw_hold = 0.4 if (bil or lab) else (0.12 if f.place in ("glottal", "pharyngeal") else 0.25)
    # The hold applies to the tongue's consonants: /p b m/ seal the lips whatever the jaw does,
    # and a firm jaw there would close the vowel before them early.
    jaw_hold *= 1.0 if bil else hold
    return Pose(values, jaw_strength=jaw_hold, lip_strength=1.2 if lips_matter else 0.15,
                round_lead=0.1 if f.place == "labial-velar" else 0.04,
                bilabial=bil, labiodental=lab, kind=kind)


@lru_cache(maxsize=4096)
def end_pose(symbol: str) -> Pose:
    """The pose a phone glides to (its last part); the same as :func:`pose` for monophthongs."""
    ph = ipa.parse(symbol)
    if len(ph.parts) == 1:
        return pose(symbol)
    return pose_of(ph.parts[-1])


REST = Pose({}, jaw_strength=1.0, lip_strength=1.0, round_lead=0.0)
