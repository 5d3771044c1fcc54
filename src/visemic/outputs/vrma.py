"""VRM Animation export (``.vrma``): the ``VRMC_vrm_animation`` glTF extension, in a GLB.

VRM avatars (VTuber apps, VRChat-style worlds, three-vrm, UniVRM) play a ``.vrma`` on any VRM
1.0 model: its humanoid bones and preset expressions are matched by name, not by mesh. The file
holds one animation, one key per frame, linear:

- the preset expressions as nodes whose translation x is the weight (the extension's
  convention): aa ih ou ee oh fitted to visemic's mouth curves, blink blinkLeft blinkRight, and
  the emotions happy angry sad relaxed surprised from the run's emotion setting
  (:mod:`visemic.motion.vrm` has the tables and the fit);
- the humanoid ``head`` bone turning with headYaw/Pitch/Roll, under a rest skeleton hips →
  spine → chest → neck → head with no rest rotations (VRM's T-pose: +Y up, facing +Z), so the
  rotation is the same quaternion as the glTF export's head (:func:`visemic.outputs.gltf.
  head_quaternions`);
- ``lookAt``: a node under the head whose rotation is the gaze (yaw about +Y towards the
  character's left, then pitch about +X, down), both eyes' eyeLook* curves averaged at
  :data:`visemic.motion.eyes.EYE_RANGE_DEG` per unit.

Written with the glTF exporter's buffer layout and GLB container (:mod:`visemic.outputs.gltf`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

import visemic
from visemic.motion import vrm
from visemic.motion.arkit import HEAD
from visemic.motion.eyes import eye_angles
from visemic.outputs import gltf

if TYPE_CHECKING:
    from visemic.result import Result

EXTENSION = "VRMC_vrm_animation"
# The rest skeleton: bone, translation from its parent (metres, a 1.6 m figure's proportions).
SKELETON: tuple[tuple[str, tuple[float, float, float]], ...] = (
    ("hips", (0.0, 0.95, 0.0)), ("spine", (0.0, 0.1, 0.0)), ("chest", (0.0, 0.15, 0.0)),
    ("neck", (0.0, 0.22, 0.0)), ("head", (0.0, 0.08, 0.0)),
)
LOOK_AT_OFFSET = (0.0, 0.06, 0.0)  # the eyes above the head bone
_EYE_LOOKS = ("eyeLookDown", "eyeLookIn", "eyeLookOut", "eyeLookUp")


def expression_weights(result: Result) -> np.ndarray:
    """``[frames × len(vrm.EXPRESSIONS)]`` float32 weights in 0…1, in that order."""
    anim = result.animation
    index = {name: i for i, name in enumerate(anim.channels)}
    features = vrm.feature_matrix(anim.channels)
    track = vrm.emotion_track(result.settings)
    blink_cols = [index.get("eyeBlinkLeft"), index.get("eyeBlinkRight")]
    out = np.zeros((anim.frames, len(vrm.EXPRESSIONS)), np.float32)
    nv, nb = len(vrm.VOWELS), len(vrm.BLINKS)
    previous = None
    for i in range(0, anim.frames, gltf.BLOCK_FRAMES):
        rows = anim.values[i:i + gltf.BLOCK_FRAMES].astype(np.float64)
        x = rows @ features
        out[i:i + len(rows), :nv] = vowels = vrm.vowel_track(x, previous)
        previous = (x[-1], vowels[-1].astype(np.float64))
        if None not in blink_cols:
            out[i:i + len(rows), nv:nv + nb] = vrm.blinks(rows[:, blink_cols[0]],
                                                          rows[:, blink_cols[1]])
        times = np.arange(i, i + len(rows)) / anim.fps
        out[i:i + len(rows), nv + nb:] = vrm.emotion_weights(track, times)
    return out


def gaze(result: Result, rows: slice) -> tuple[np.ndarray, np.ndarray]:
    """(yaw, pitch) in degrees of both eyes together, for the frames ``rows``."""
    anim = result.animation
    n = len(range(*rows.indices(anim.frames)))
    names = {f"{look}{side}" for look in _EYE_LOOKS for side in ("Left", "Right")}
    if not names <= set(anim.channels):
        return np.zeros(n), np.zeros(n)
    looks = {name: anim.values[rows, anim.channels.index(name)].astype(np.float64)
             for name in names}
    (yl, pl), (yr, pr) = eye_angles(looks, "Left"), eye_angles(looks, "Right")
    return (yl + yr) / 2, (pl + pr) / 2


def _look_blocks(result: Result) -> Iterator[bytes]:
    for i in range(0, result.animation.frames, gltf.BLOCK_FRAMES):
        yaw, pitch = gaze(result, slice(i, i + gltf.BLOCK_FRAMES))
        yield gltf.head_quaternions(yaw, pitch, np.zeros_like(yaw)).astype(np.float32).tobytes()


def _translation_blocks(weights: np.ndarray) -> Iterator[bytes]:
    for i in range(0, len(weights), gltf.BLOCK_FRAMES):
        w = weights[i:i + gltf.BLOCK_FRAMES]
        xyz = np.zeros((len(w), 3), np.float32)
        xyz[:, 0] = w
        yield xyz.tobytes()


def document(result: Result) -> tuple[dict[str, Any], Iterator[bytes], int]:
    """(the glTF JSON without its buffer, the buffer's bytes in pieces, its length)."""
    anim = result.animation
    n = anim.frames
    bones = [name for name, _ in SKELETON]
    look_at = len(SKELETON)
    first_expression = look_at + 1
    nodes: list[dict[str, Any]] = []
    for k, (bone, offset) in enumerate(SKELETON):
        node: dict[str, Any] = {"name": bone, "translation": list(offset)}
        if k + 1 < len(SKELETON):
            node["children"] = [k + 1]
        nodes.append(node)
    nodes[bones.index("head")]["children"] = [look_at]
    nodes.append({"name": "lookAt", "translation": list(LOOK_AT_OFFSET)})
    nodes += [{"name": f"expression.{name}"} for name in vrm.EXPRESSIONS]
    expression_nodes = {name: first_expression + j for j, name in enumerate(vrm.EXPRESSIONS)}

    layout = gltf.Layout()
    pieces: list[Any] = []
    name = Path(result.audio.path).stem if result.audio.path else "speech"
    animation: dict[str, Any] = {"name": name, "channels": [], "samplers": []}
    if n:
        times = (np.arange(n, dtype=np.float64) / anim.fps).astype(np.float32)
        t_acc = layout.add(4 * n, n, "SCALAR", bounds=([0.0], [float(times[-1])]))
        pieces.append(gltf.blocks(times))

        def channel(node: int, path: str, acc: int) -> None:
            animation["samplers"].append({"input": t_acc, "output": acc,
                                          "interpolation": "LINEAR"})
            animation["channels"].append({"sampler": len(animation["samplers"]) - 1,
                                          "target": {"node": node, "path": path}})

        index = {c: i for i, c in enumerate(anim.channels)}
        heads = [index[h] for h in HEAD] if all(h in index for h in HEAD) else None
        channel(bones.index("head"), "rotation", layout.add(16 * n, n, "VEC4"))
        pieces.append(gltf.rotation_blocks(anim.values, heads, n))
        channel(look_at, "rotation", layout.add(16 * n, n, "VEC4"))
        pieces.append(_look_blocks(result))
        weights = expression_weights(result)
        for j, expr in enumerate(vrm.EXPRESSIONS):
            channel(expression_nodes[expr], "translation", layout.add(12 * n, n, "VEC3"))
            pieces.append(_translation_blocks(weights[:, j]))
    doc: dict[str, Any] = {
        "asset": {"version": "2.0", "generator": f"visemic {visemic.__version__}"},
        "extensionsUsed": [EXTENSION],
        "extensions": {EXTENSION: {
            "specVersion": "1.0",
            "humanoid": {"humanBones": {bone: {"node": k} for k, bone in enumerate(bones)}},
            "expressions": {"preset": {expr: {"node": i}
                                       for expr, i in expression_nodes.items()}},
            "lookAt": {"node": look_at},
        }},
        "scene": 0,
        "scenes": [{"name": "visemic", "nodes": [0, *expression_nodes.values()]}],
        "nodes": nodes,
        "animations": [animation] if n else [],
        "accessors": layout.accessors,
        "bufferViews": layout.views,
        "extras": {"fps": anim.fps, "frames": n, "duration": result.audio.duration,
                   "audio": Path(result.audio.path).name if result.audio.path else None},
    }
    return doc, gltf.padded_pieces(pieces), layout.length


def write_vrma(result: Result, out: BinaryIO) -> None:
    """The ``.vrma`` file (GLB container)."""
    gltf.write_container(*document(result), out)
