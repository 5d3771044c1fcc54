"""A tiny VRM 1.0 model for the tests: the 15 required humanoid bones plus neck, chest and eyes,
and under the head a flat cartoon face (hair, skin, eyes, mouth) whose mesh has one morph target
per VRM preset expression, each bound to its expression at weight 1: the vowels shape the mouth,
blinks close the eyes, emotions bend both. Built here, so no third-party model is needed."""

from __future__ import annotations

import json
import struct

import numpy as np

# Bone → (parent, translation from the parent). A T-pose 1.6 m tall, facing +Z, its left at +X.
BONES: dict[str, tuple[str | None, tuple[float, float, float]]] = {
    "hips": (None, (0.0, 0.95, 0.0)),
    "spine": ("hips", (0.0, 0.1, 0.0)),
    "chest": ("spine", (0.0, 0.15, 0.0)),
    "neck": ("chest", (0.0, 0.22, 0.0)),
    "head": ("neck", (0.0, 0.08, 0.0)),
    "leftEye": ("head", (0.03, 0.06, 0.08)),
    "rightEye": ("head", (-0.03, 0.06, 0.08)),
    "leftUpperArm": ("chest", (0.18, 0.18, 0.0)),
    "leftLowerArm": ("leftUpperArm", (0.28, 0.0, 0.0)),
    "leftHand": ("leftLowerArm", (0.25, 0.0, 0.0)),
    "rightUpperArm": ("chest", (-0.18, 0.18, 0.0)),
    "rightLowerArm": ("rightUpperArm", (-0.28, 0.0, 0.0)),
    "rightHand": ("rightLowerArm", (-0.25, 0.0, 0.0)),
    "leftUpperLeg": ("hips", (0.09, -0.05, 0.0)),
    "leftLowerLeg": ("leftUpperLeg", (0.0, -0.42, 0.0)),
    "leftFoot": ("leftLowerLeg", (0.0, -0.42, 0.0)),
    "rightUpperLeg": ("hips", (-0.09, -0.05, 0.0)),
    "rightLowerLeg": ("rightUpperLeg", (0.0, -0.42, 0.0)),
    "rightFoot": ("rightLowerLeg", (0.0, -0.42, 0.0)),
}
EXPRESSIONS = ("aa", "ih", "ou", "ee", "oh", "blink", "blinkLeft", "blinkRight", "happy", "angry",
               "sad", "relaxed", "surprised")


_RIM = 20  # points around each disc


def _disc(cx: float, cy: float, rx: float, ry: float, z: float) -> tuple[np.ndarray, np.ndarray]:
    """A flat ellipse facing +Z: the centre, then the rim anticlockwise from +X."""
    a = np.arange(_RIM) * (2 * np.pi / _RIM)
    pts = np.zeros((_RIM + 1, 3), np.float32)
    pts[0] = cx, cy, z
    pts[1:, 0], pts[1:, 1], pts[1:, 2] = cx + rx * np.cos(a), cy + ry * np.sin(a), z
    tris = np.array([[0, 1 + k, 1 + (k + 1) % _RIM] for k in range(_RIM)], np.uint16)
    return pts, tris.reshape(-1)


# The face, in the head's frame (metres): skin and hair discs, eyes and a mouth in front.
_MOUTH = (0.0, 0.02, 0.025, 0.003)  # centre x, y, half width, half height (a closed line)
_EYES = {"left": (0.032, 0.075, 0.013, 0.009), "right": (-0.032, 0.075, 0.013, 0.009)}
_FACE_Z = 0.1


def _mouth_target(expression: str, rim: np.ndarray) -> np.ndarray:
    """How the mouth's points move for one expression (zeros for the others)."""
    cx, cy, w, h = _MOUTH
    x, y = rim[:, 0] - cx, rim[:, 1] - cy
    d = np.zeros_like(rim)
    # (widen factor, opening downwards, opening upwards, corners up)
    shapes = {"aa": (0.0, 0.032, 0.006, 0.0), "ih": (0.25, 0.006, 0.002, 0.002),
              "ou": (-0.5, 0.012, 0.006, 0.0), "ee": (0.15, 0.014, 0.004, 0.0),
              "oh": (-0.3, 0.022, 0.008, 0.0), "happy": (0.15, 0.004, 0.0, 0.01),
              "sad": (-0.1, 0.0, 0.0, -0.008), "angry": (-0.2, 0.0, 0.0, -0.004),
              "surprised": (-0.35, 0.02, 0.008, 0.0), "relaxed": (0.05, 0.0, 0.0, 0.004)}
    if expression not in shapes:
        return d
    widen, down, up, corners = shapes[expression]
    d[:, 0] = widen * x
    lower, upper = y < -1e-6, y > 1e-6
    shape = np.sqrt(np.clip(1 - (x / w) ** 2, 0, 1))  # full in the middle, none at the corners
    d[lower, 1] -= down * shape[lower]
    d[upper, 1] += up * shape[upper]
    d[:, 1] += corners * (1 - shape)
    return d


def _eye_target(expression: str, side: str, rim: np.ndarray) -> np.ndarray:
    d = np.zeros_like(rim)
    shut = {"blink": ("left", "right"), "blinkLeft": ("left",), "blinkRight": ("right",)}
    half = {"happy": 0.5, "angry": 0.35, "relaxed": 0.45, "sad": 0.25}
    amount = 1.0 if side in shut.get(expression, ()) else half.get(expression, 0.0)
    if expression == "surprised":
        amount = -0.4
    cy = _EYES[side][1]
    d[:, 1] = -(rim[:, 1] - cy) * amount * 0.92  # towards the eye's middle line
    return d


def build_vrm(expressions: tuple[str, ...] = EXPRESSIONS) -> bytes:
    """The model as the bytes of a ``.vrm`` (GLB)."""
    names = list(BONES)
    nodes: list[dict] = [{"name": n, "translation": list(BONES[n][1])} for n in names]
    for n, (parent, _) in BONES.items():
        if parent is not None:
            nodes[names.index(parent)].setdefault("children", []).append(names.index(n))
    skin, face = len(nodes), len(nodes) + 1
    nodes.append({"name": "skin", "mesh": 0})
    nodes.append({"name": "face", "mesh": 1})
    nodes[names.index("head")]["children"] += [skin, face]

    blob = bytearray()
    views, accessors = [], []

    def add(a: np.ndarray, type_: str, component: int, target: int) -> int:
        views.append({"buffer": 0, "byteOffset": len(blob), "byteLength": a.nbytes,
                      "target": target})
        blob.extend(a.tobytes())
        blob.extend(b"\0" * ((-len(blob)) % 4))
        acc = {"bufferView": len(views) - 1, "componentType": component,
               "count": len(a), "type": type_}
        if type_ == "VEC3":
            acc["min"], acc["max"] = a.min(axis=0).tolist(), a.max(axis=0).tolist()
        accessors.append(acc)
        return len(accessors) - 1

    def primitive(pts: np.ndarray, tris: np.ndarray, material: int,
                  targets: list[np.ndarray] | None = None) -> dict:
        prim = {"attributes": {"POSITION": add(pts, "VEC3", 5126, 34962)},
                "indices": add(tris, "SCALAR", 5123, 34963), "material": material}
        if targets is not None:
            prim["targets"] = [{"POSITION": add(d.astype(np.float32), "VEC3", 5126, 34962)}
                               for d in targets]
        return prim

    hair = _disc(0.0, 0.07, 0.105, 0.118, _FACE_Z - 0.01)
    head = _disc(0.0, 0.05, 0.088, 0.105, _FACE_Z - 0.005)
    mouth = _disc(*_MOUTH, _FACE_Z)
    eyes = {side: _disc(*e, _FACE_Z) for side, e in _EYES.items()}
    eye_pts = np.concatenate([eyes["left"][0], eyes["right"][0]])
    eye_tris = np.concatenate([eyes["left"][1], eyes["right"][1] + len(eyes["left"][0])])
    eye_targets = [np.concatenate([_eye_target(e, "left", eyes["left"][0]),
                                   _eye_target(e, "right", eyes["right"][0])])
                   for e in expressions]
    mouth_targets = [_mouth_target(e, mouth[0]) for e in expressions]
    meshes = [
        {"name": "skin", "primitives": [primitive(*hair, 0), primitive(*head, 1)]},
        {"name": "face", "primitives": [primitive(*mouth, 2, mouth_targets),
                                        primitive(eye_pts, eye_tris, 3, eye_targets)],
         "weights": [0.0] * len(expressions), "extras": {"targetNames": list(expressions)}},
    ]
    materials = [{"name": n, "pbrMetallicRoughness": {"baseColorFactor": c, "metallicFactor": 0.0,
                                                      "roughnessFactor": 0.8}}
                 for n, c in (("hair", [0.16, 0.12, 0.2, 1]), ("skin", [0.98, 0.8, 0.7, 1]),
                              ("mouth", [0.55, 0.12, 0.16, 1]), ("eyes", [0.1, 0.1, 0.14, 1]))]

    vrm = {
        "specVersion": "1.0",
        "meta": {"name": "visemic test head", "version": "1", "authors": ["visemic tests"],
                 "licenseUrl": "https://vrm.dev/licenses/1.0/", "avatarPermission": "everyone",
                 "commercialUsage": "corporation", "creditNotation": "unnecessary",
                 "allowRedistribution": True, "modification": "allowModificationRedistribution"},
        "humanoid": {"humanBones": {n: {"node": i} for i, n in enumerate(names)}},
        "expressions": {"preset": {e: {"morphTargetBinds": [{"node": face, "index": k,
                                                             "weight": 1.0}],
                                       "isBinary": False, "overrideBlink": "none",
                                       "overrideLookAt": "none", "overrideMouth": "none"}
                                   for k, e in enumerate(expressions)}},
        "lookAt": {"type": "bone", "offsetFromHeadBone": [0.0, 0.06, 0.0],
                   **{f"rangeMap{r}": {"inputMaxValue": 90.0, "outputScale": 90.0}
                      for r in ("HorizontalInner", "HorizontalOuter", "VerticalDown",
                                "VerticalUp")}},
    }
    doc = {
        "asset": {"version": "2.0", "generator": "visemic tests"},
        "extensionsUsed": ["VRMC_vrm"],
        "extensions": {"VRMC_vrm": vrm},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": nodes,
        "meshes": meshes,
        "materials": materials,
        "accessors": accessors,
        "bufferViews": views,
        "buffers": [{"byteLength": len(blob)}],
    }
    text = json.dumps(doc).encode()
    text += b" " * ((-len(text)) % 4)
    out = struct.pack("<4sII", b"glTF", 2, 12 + 8 + len(text) + 8 + len(blob))
    out += struct.pack("<I4s", len(text), b"JSON") + text
    return out + struct.pack("<I4s", len(blob), b"BIN\0") + bytes(blob)
