"""Shape-key mappings: which curve (or mix of curves) drives which shape key.

A mapping is text, one rule a line: ``shape key = source`` or a weighted sum such as
``MouthOpen = 0.8 * jawOpen + 0.2 * vrm.aa``; ``#`` starts a comment. The rule ``* = *`` keys
every shape key whose name is a source's name (the ARKit preset). Sources are the names of
:mod:`.curves`. The presets below cover the common rigs; "Edit mapping" in the panel copies one
into a text block to change.
"""

from __future__ import annotations

import re

import numpy as np

from .curves import Curves

_VRM = ("aa", "ih", "ou", "ee", "oh", "blink", "blinkLeft", "blinkRight", "happy", "angry", "sad",
        "relaxed", "surprised")
# Oculus viseme → the shape key Oculus / Ready Player Me avatars give it.
_OCULUS = {v: f"viseme_{v}" for v in ("sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR",
                                      "aa", "E")} | {"ih": "viseme_I", "oh": "viseme_O",
                                                     "ou": "viseme_U"}
# VRoid Studio's shape keys (as the VRM importer for Blender names them).
_VROID = {"Fcl_MTH_A": "aa", "Fcl_MTH_I": "ih", "Fcl_MTH_U": "ou", "Fcl_MTH_E": "ee",
          "Fcl_MTH_O": "oh", "Fcl_EYE_Close": "blink", "Fcl_EYE_Close_L": "blinkLeft",
          "Fcl_EYE_Close_R": "blinkRight", "Fcl_ALL_Joy": "happy", "Fcl_ALL_Angry": "angry",
          "Fcl_ALL_Sorrow": "sad", "Fcl_ALL_Fun": "relaxed", "Fcl_ALL_Surprised": "surprised"}

PRESETS: dict[str, str] = {
    "ARKIT": "# every shape key named as ARKit names it (jawOpen, eyeBlinkLeft, …)\n* = *\n",
    "VRM": "# VRM 1.0 expression names (visemic's VRM Animation)\n"
           + "".join(f"{n} = vrm.{n}\n" for n in _VRM),
    "VROID": "# VRoid Studio models (Fcl_* shape keys)\n"
             + "".join(f"{k} = vrm.{v}\n" for k, v in _VROID.items()),
    "OCULUS": "# Oculus / Ready Player Me visemes (viseme_sil … viseme_U)\n"
              + "".join(f"{key} = oculus.{v}\n" for v, key in _OCULUS.items()),
    "RHUBARB": "# one shape key per Rhubarb mouth (mouth_A … mouth_X)\n"
               + "".join(f"mouth_{s} = rhubarb.{s}\n" for s in "ABCDEFGHX"),
}

# One term: an optional "number *" then a source name ("0.5 * jawOpen", "vrm.aa").
_TERM = re.compile(r"^(?:(\d+(?:\.\d*)?|\.\d+)\s*\*\s*)?([A-Za-z_][\w.]*)$")


class MappingError(Exception):
    pass


Rule = list[tuple[float, str]]


def parse(text: str) -> dict[str, Rule]:
    """``{shape key: [(coefficient, source), …]}``; the wildcard rule is key ``"*"``."""
    rules: dict[str, Rule] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if "=" not in line:
            raise MappingError(f"line {number}: expected 'shape key = source', got {raw!r}")
        key, expr = (part.strip() for part in line.split("=", 1))
        if key == "*":
            if expr != "*":
                raise MappingError(f"line {number}: the wildcard rule is '* = *'")
            rules["*"] = []
            continue
        terms: Rule = []
        for part in expr.replace("-", "+-").split("+"):
            part = part.strip()
            if not part:
                continue
            sign = -1.0 if part.startswith("-") else 1.0
            m = _TERM.match(part.lstrip("-").strip())
            if not m:
                raise MappingError(f"line {number}: cannot read {part!r} "
                                   "(write 'source' or 'number * source', joined by + or -)")
            terms.append((sign * (float(m.group(1)) if m.group(1) else 1.0), m.group(2)))
        if not terms:
            raise MappingError(f"line {number}: no source after '='")
        rules[key] = terms
    return rules


def resolve(rules: dict[str, Rule], shape_keys: list[str], curves: Curves
            ) -> tuple[dict[str, Rule], list[str]]:
    """(the rules for the shape keys present, with the wildcard expanded; the rules' keys that
    the mesh lacks or whose sources the curves lack)."""
    names = curves.names()
    out: dict[str, Rule] = {}
    if "*" in rules:
        out.update({k: [(1.0, k)] for k in shape_keys if k in names})
    missing = []
    for key, terms in rules.items():
        if key == "*":
            continue
        if key in shape_keys and any(src in names for _, src in terms):
            out[key] = terms
        else:
            missing.append(key)
    return out, missing


def evaluate(terms: Rule, curves: Curves, times: np.ndarray) -> np.ndarray:
    """A rule's value at ``times``, clipped to 0…1 as shape keys expect."""
    total = np.zeros(len(times))
    for coef, src in terms:
        total += coef * curves.sample(src, times)
    return np.clip(total, 0.0, 1.0)


def needs_vrm(rules: dict[str, Rule]) -> bool:
    """Whether any rule reads a VRM expression (so a .vrma must be made too)."""
    return any(src.startswith("vrm.") for terms in rules.values() for _, src in terms)
