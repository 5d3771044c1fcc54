"""A tiny VRM 1.0 model for the tests: the 15 required humanoid bones plus neck, chest and eyes,
and under the head a face (one quad) with one morph target per VRM preset expression, each bound
to its expression at weight 1. Built here, so no third-party model is needed."""

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


def build_vrm(expressions: tuple[str, ...] = EXPRESSIONS) -> bytes:
    """The model as the bytes of a ``.vrm`` (GLB)."""
    names = list(BONES)
    nodes: list[dict] = [{"name": n, "translation": list(BONES[n][1])} for n in names]
    for n, (parent, _) in BONES.items():
        if parent is not None:
            nodes[names.index(parent)].setdefault("children", []).append(names.index(n))
    face = len(nodes)
    nodes.append({"name": "face", "mesh": 0, "translation": [0.0, 0.0, 0.09]})
    nodes[names.index("head")]["children"].append(face)

    quad = np.array([[-0.05, -0.05, 0], [0.05, -0.05, 0], [0.05, 0.05, 0], [-0.05, 0.05, 0]],
                    np.float32)
    indices = np.array([0, 1, 2, 0, 2, 3], np.uint16)
    blob = bytearray()
    views, accessors = [], []

    def add(a: np.ndarray, type_: str, component: int, target: int, bounds: bool) -> int:
        views.append({"buffer": 0, "byteOffset": len(blob), "byteLength": a.nbytes,
                      "target": target})
        blob.extend(a.tobytes())
        blob.extend(b"\0" * ((-len(blob)) % 4))
        acc = {"bufferView": len(views) - 1, "componentType": component,
               "count": len(a), "type": type_}
        if bounds:
            acc["min"], acc["max"] = a.min(axis=0).tolist(), a.max(axis=0).tolist()
        accessors.append(acc)
        return len(accessors) - 1

    pos = add(quad, "VEC3", 5126, 34962, True)
    idx = add(indices, "SCALAR", 5123, 34963, False)
    targets = []
    for k in range(len(expressions)):
        d = np.zeros((4, 3), np.float32)
        d[k % 4, 2] = 0.001 * (k + 1)
        targets.append({"POSITION": add(d, "VEC3", 5126, 34962, True)})

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
        "meshes": [{"name": "face", "primitives": [{"attributes": {"POSITION": pos},
                                                     "indices": idx, "targets": targets}],
                    "weights": [0.0] * len(expressions),
                    "extras": {"targetNames": list(expressions)}}],
        "accessors": accessors,
        "bufferViews": views,
        "buffers": [{"byteLength": len(blob)}],
    }
    text = json.dumps(doc).encode()
    text += b" " * ((-len(text)) % 4)
    out = struct.pack("<4sII", b"glTF", 2, 12 + 8 + len(text) + 8 + len(blob))
    out += struct.pack("<I4s", len(text), b"JSON") + text
    return out + struct.pack("<I4s", len(blob), b"BIN\0") + bytes(blob)
