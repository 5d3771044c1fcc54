"""visemic's results as named curves, read without Blender (so the tests read them too).

Names: the ARKit blendshapes and headYaw/Pitch/Roll as visemic writes them ("jawOpen"), the
viseme tracks as "rhubarb.A", "oculus.PP", "azure.21" (1 while the cue lasts, else 0), and the
VRM expressions of a ``.vrma`` as "vrm.aa", "vrm.blink", … Sources: visemic's JSON (curves and
visemes), its glTF/GLB (the 52 morph-target weights) and its VRM Animation (the expressions).
"""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


class CurveError(Exception):
    """A file that is not a visemic result."""


@dataclass
class Curves:
    """Sampled curves (``times`` in seconds, ``values`` per name) and step tracks (cues)."""

    times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    values: dict[str, np.ndarray] = field(default_factory=dict)
    cues: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    duration: float = 0.0

    def names(self) -> set[str]:
        return set(self.values) | set(self.cues)

    def sample(self, name: str, times: np.ndarray) -> np.ndarray:
        """The curve at ``times`` (linear between keys, held at the ends); 0 if unknown."""
        if name in self.values and len(self.times):
            return np.interp(times, self.times, self.values[name])
        out = np.zeros(len(times))
        for start, end in self.cues.get(name, ()):
            out[(times >= start) & (times < end)] = 1.0
        return out

    def merge(self, other: Curves) -> Curves:
        """These curves plus ``other``'s (resampled to these times when both have keys)."""
        if not len(self.times):
            return other if not self.cues else Curves(other.times, other.values,
                                                      {**other.cues, **self.cues},
                                                      max(self.duration, other.duration))
        values = dict(self.values)
        for name in other.values:
            values[name] = other.sample(name, self.times)
        return Curves(self.times, values, {**self.cues, **other.cues},
                      max(self.duration, other.duration))


def load(path: str | Path) -> Curves:
    """Curves from a visemic ``.json``, ``.gltf``, ``.glb`` or ``.vrma``."""
    path = Path(path)
    data = path.read_bytes()
    if data[:4] == b"glTF":
        return _from_gltf(*_glb(data))
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CurveError(f"{path.name}: not JSON or glTF ({e})") from None
    if isinstance(doc, dict) and "asset" in doc:
        uri = doc.get("buffers", [{}])[0].get("uri", "")
        if not uri.startswith("data:"):
            raise CurveError(f"{path.name}: only glTF with an embedded buffer is read")
        return _from_gltf(doc, base64.b64decode(uri.split(",", 1)[1]))
    return _from_json(doc, path.name)


def _from_json(doc: object, name: str) -> Curves:
    anim = doc.get("animation") if isinstance(doc, dict) else None
    if not isinstance(anim, dict) or "channels" not in anim:
        raise CurveError(f"{name}: not a visemic JSON result (no animation)")
    fps = float(anim["fps"])
    values = np.asarray(anim["values"], np.float64).reshape(-1, len(anim["channels"]))
    times = np.arange(len(values)) / fps
    curves = Curves(times, {c: values[:, i] for i, c in enumerate(anim["channels"])})
    for track, cues in (doc.get("visemes") or {}).items():
        for cue in cues:
            curves.cues.setdefault(f"{track}.{cue['value']}", []).append(
                (float(cue["start"]), float(cue["end"])))
    duration = (doc.get("audio") or {}).get("duration")
    curves.duration = float(duration) if duration else (times[-1] if len(times) else 0.0)
    return curves


def _glb(data: bytes) -> tuple[dict, bytes]:
    _, _, total = struct.unpack_from("<4sII", data, 0)
    n_json, _ = struct.unpack_from("<I4s", data, 12)
    doc = json.loads(data[20:20 + n_json])
    binary = b""
    if 20 + n_json < total:
        n_bin, _ = struct.unpack_from("<I4s", data, 20 + n_json)
        binary = data[28 + n_json:28 + n_json + n_bin]
    return doc, binary


_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}


def _accessor(doc: dict, data: bytes, i: int) -> np.ndarray:
    acc = doc["accessors"][i]
    view = doc["bufferViews"][acc["bufferView"]]
    width = _WIDTH[acc["type"]]
    offset = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    a = np.frombuffer(data, np.float32, acc["count"] * width, offset).astype(np.float64)
    return a.reshape(acc["count"], width) if width > 1 else a


def _from_gltf(doc: dict, data: bytes) -> Curves:
    """The morph-target weights (glTF export) or the VRM expressions (.vrma)."""
    animations = doc.get("animations") or []
    if not animations:
        return Curves()
    animation = animations[0]
    vrma = (doc.get("extensions") or {}).get("VRMC_vrm_animation")
    expression_nodes = {}
    if vrma:
        for group in ("preset", "custom"):
            for name, ref in (vrma.get("expressions", {}).get(group) or {}).items():
                expression_nodes[ref["node"]] = name
    curves = Curves()
    for channel in animation["channels"]:
        sampler = animation["samplers"][channel["sampler"]]
        node, path = channel["target"].get("node"), channel["target"]["path"]
        times = _accessor(doc, data, sampler["input"])
        out = _accessor(doc, data, sampler["output"])
        if path == "weights":
            names = doc["meshes"][doc["nodes"][node]["mesh"]].get("extras", {}).get("targetNames")
            if not names:
                continue
            out = out.reshape(len(times), len(names))
            for k, name in enumerate(names):
                curves.values[name] = out[:, k]
        elif path == "translation" and node in expression_nodes:
            curves.values[f"vrm.{expression_nodes[node]}"] = out[:, 0]
        else:
            continue
        curves.times = times
    duration = (doc.get("extras") or {}).get("duration")
    curves.duration = float(duration) if duration else (
        float(curves.times[-1]) if len(curves.times) else 0.0)
    return curves
