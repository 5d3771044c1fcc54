"""glTF 2.0 export: the ARKit-52 curves as morph-target weights and the head as a rotation.

One self-contained file that Blender, three.js, Babylon.js, Godot and Unity's glTF importers
read: ``.gltf`` (JSON, the binary buffer embedded as a base64 data URI) or ``.glb`` (the binary
container, a quarter smaller); either is written a block at a time. It holds:

- node ``head``, whose rotation follows headYaw, headPitch and headRoll. glTF axes: +Y up, the
  face looking along +Z; yaw turns about +Y (nose towards the character's left), pitch about +X
  (nose down), roll about +Z (top of the head towards the character's right), as the avatar
  renderer reads them; applied in that order (yaw, then pitch, then roll);
- node ``face`` under it, with a mesh whose 52 morph targets are the ARKit blendshapes in
  Apple's order, named in ``mesh.extras.targetNames`` (the convention those importers follow);
- one animation with the 52 weights and the head rotation, one key per frame, linear.

The mesh is a flat mouth outline, a few centimetres wide, that the mouth blendshapes open, close,
round, widen and lift, so a glTF viewer shows the lips moving in time; the other targets do not
move it. The animation is the point: imported into Blender it is a shape-key action on keys
named as ARKit names them, which drives any rig with ARKit shape keys.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

import numpy as np

import visemic
from visemic.motion.arkit import BLENDSHAPES, HEAD

if TYPE_CHECKING:
    from visemic.result import Result

FLOAT, USHORT = 5126, 5123  # glTF component types
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963
MOUTH_AT = (0.0, -0.05, 0.09)  # the mouth relative to the head's pivot, metres
# A block of frames is packed and encoded at a time: an hour of animation never becomes one
# string. (A multiple of 3 bytes per block keeps the base64 pieces joinable.)
BLOCK_FRAMES = 3 * 1024

# The mouth outline: 8 rim points (0 and 4 the corners, 1–3 upper lip, 5–7 lower lip; x > 0 is
# the character's left) around a centre point 8.
_HALF_WIDTH, _HALF_GAP = 0.025, 0.002
_ANGLES = np.arange(8) * (np.pi / 4)
_BASE = np.zeros((9, 3), np.float32)
_BASE[:8, 0] = _HALF_WIDTH * np.cos(_ANGLES)
_BASE[:8, 1] = _HALF_GAP * np.sign(np.round(np.sin(_ANGLES), 6))
_INDICES = np.array([[8, k, (k + 1) % 8] for k in range(8)], np.uint16).reshape(-1)
_UPPER, _LOWER = [1, 2, 3], [5, 6, 7]
_LEFT_CORNER, _RIGHT_CORNER = 0, 4


def _target(moves: dict[int, tuple[float, float]]) -> np.ndarray:
    d = np.zeros((9, 3), np.float32)
    for v, (dx, dy) in moves.items():
        d[v, :2] = dx, dy
    return d


def _towards_centre(share: float) -> dict[int, tuple[float, float]]:
    return {v: (-share * float(_BASE[v, 0]), 0.0) for v in range(8)}


# Displacements (metres) of the mouth outline per blendshape; the rest leave it still. The lips
# part by jawOpen − mouthClose, as ARKit's convention has it.
_MOVES: dict[str, dict[int, tuple[float, float]]] = {
    "jawOpen": {**{v: (0.0, -0.03) for v in _LOWER}, 8: (0.0, -0.015)},
    "mouthClose": {**{v: (0.0, 0.03) for v in _LOWER}, 8: (0.0, 0.015)},
    "mouthFunnel": {**_towards_centre(0.4), 1: (-0.006, 0.004), 2: (0.0, 0.005),
                    3: (0.006, 0.004), 5: (0.006, -0.004), 6: (0.0, -0.005),
                    7: (-0.006, -0.004)},
    "mouthPucker": _towards_centre(0.5),
    "mouthSmileLeft": {_LEFT_CORNER: (0.004, 0.008)},
    "mouthSmileRight": {_RIGHT_CORNER: (-0.004, 0.008)},
    "mouthFrownLeft": {_LEFT_CORNER: (0.0, -0.006)},
    "mouthFrownRight": {_RIGHT_CORNER: (0.0, -0.006)},
    "mouthStretchLeft": {_LEFT_CORNER: (0.006, -0.002)},
    "mouthStretchRight": {_RIGHT_CORNER: (-0.006, -0.002)},
    "mouthUpperUpLeft": {1: (0.0, 0.006), 2: (0.0, 0.003)},
    "mouthUpperUpRight": {3: (0.0, 0.006), 2: (0.0, 0.003)},
    "mouthLowerDownLeft": {7: (0.0, -0.006), 6: (0.0, -0.003)},
    "mouthLowerDownRight": {5: (0.0, -0.006), 6: (0.0, -0.003)},
    "mouthRollUpper": {v: (0.0, -0.003) for v in _UPPER},
    "mouthRollLower": {v: (0.0, 0.003) for v in _LOWER},
    "mouthLeft": {v: (0.006, 0.0) for v in range(9)},
    "mouthRight": {v: (-0.006, 0.0) for v in range(9)},
    "jawLeft": {v: (0.004, 0.0) for v in [*_LOWER, 8]},
    "jawRight": {v: (-0.004, 0.0) for v in [*_LOWER, 8]},
}
TARGETS: dict[str, np.ndarray] = {name: _target(m) for name, m in _MOVES.items()}


def head_quaternions(yaw: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """``[n × 4]`` unit quaternions (x, y, z, w; glTF's order) of yaw about +Y, then pitch about
    +X, then roll about +Z, from angles in degrees."""
    def axis(angle: np.ndarray, k: int) -> np.ndarray:
        half = np.radians(angle.astype(np.float64)) / 2
        q = np.zeros((len(angle), 4))
        q[:, k], q[:, 3] = np.sin(half), np.cos(half)
        return q

    q = _multiply(_multiply(axis(yaw, 1), axis(pitch, 0)), axis(roll, 2))
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def _multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton products of quaternion rows (x, y, z, w)."""
    ax, ay, az, aw = a.T
    bx, by, bz, bw = b.T
    return np.stack([aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw,
                     aw * bw - ax * bx - ay * by - az * bz], axis=1)


class _Layout:
    """Buffer views and accessors, laid out one after another (each 4-byte aligned)."""

    def __init__(self) -> None:
        self.views: list[dict[str, Any]] = []
        self.accessors: list[dict[str, Any]] = []
        self.length = 0

    def add(self, nbytes: int, count: int, type_: str, component: int = FLOAT,
            target: int | None = None, bounds: tuple[list[float], list[float]] | None = None
            ) -> int:
        view: dict[str, Any] = {"buffer": 0, "byteOffset": self.length, "byteLength": nbytes}
        if target is not None:
            view["target"] = target
        self.views.append(view)
        self.length += nbytes + (-nbytes) % 4
        acc: dict[str, Any] = {"bufferView": len(self.views) - 1, "componentType": component,
                               "count": count, "type": type_}
        if bounds is not None:
            acc["min"], acc["max"] = bounds
        self.accessors.append(acc)
        return len(self.accessors) - 1


def _bounds(a: np.ndarray) -> tuple[list[float], list[float]]:
    return a.min(axis=0).tolist(), a.max(axis=0).tolist()


def _padded(data: bytes) -> bytes:
    return data + b"\0" * ((-len(data)) % 4)


def document(result: Result) -> tuple[dict[str, Any], Iterator[bytes], int]:
    """(the glTF JSON without its buffer URI, the buffer's bytes in pieces, its length)."""
    anim = result.animation
    index = {name: i for i, name in enumerate(anim.channels)}
    n = anim.frames
    layout = _Layout()
    base = layout.add(_BASE.nbytes, 9, "VEC3", target=ARRAY_BUFFER, bounds=_bounds(_BASE))
    indices = layout.add(_INDICES.nbytes, len(_INDICES), "SCALAR", USHORT,
                         target=ELEMENT_ARRAY_BUFFER)
    zero = np.zeros((9, 3), np.float32)
    still = layout.add(zero.nbytes, 9, "VEC3", target=ARRAY_BUFFER, bounds=_bounds(zero))
    moving = {name: layout.add(d.nbytes, 9, "VEC3", target=ARRAY_BUFFER, bounds=_bounds(d))
              for name, d in TARGETS.items()}
    times = np.arange(n, dtype=np.float64) / anim.fps
    pieces: list[Any] = [_BASE.tobytes(), _INDICES.tobytes(), zero.tobytes(),
                         *(TARGETS[name].tobytes() for name in moving)]
    name = Path(result.audio.path).stem if result.audio.path else "speech"
    doc_animation: dict[str, Any] = {"name": name, "channels": [], "samplers": []}
    if n:
        t_acc = layout.add(4 * n, n, "SCALAR", bounds=([0.0], [float(np.float32(times[-1]))]))
        w_acc = layout.add(4 * n * len(BLENDSHAPES), n * len(BLENDSHAPES), "SCALAR")
        r_acc = layout.add(16 * n, n, "VEC4")
        cols = [index[name] for name in BLENDSHAPES]
        heads = [index[name] for name in HEAD] if all(h in index for h in HEAD) else None
        pieces += [_blocks(times.astype(np.float32)), _weight_blocks(anim.values, cols),
                   _rotation_blocks(anim.values, heads, n)]
        doc_animation["samplers"] = [{"input": t_acc, "output": w_acc, "interpolation": "LINEAR"},
                                     {"input": t_acc, "output": r_acc, "interpolation": "LINEAR"}]
        doc_animation["channels"] = [{"sampler": 0, "target": {"node": 1, "path": "weights"}},
                                     {"sampler": 1, "target": {"node": 0, "path": "rotation"}}]
    targets = [{"POSITION": moving.get(name, still)} for name in BLENDSHAPES]
    doc: dict[str, Any] = {
        "asset": {"version": "2.0", "generator": f"visemic {visemic.__version__}"},
        "scene": 0,
        "scenes": [{"name": "visemic", "nodes": [0]}],
        "nodes": [{"name": "head", "children": [1]},
                  {"name": "face", "mesh": 0, "translation": list(MOUTH_AT)}],
        "meshes": [{"name": "face", "primitives": [{"attributes": {"POSITION": base},
                                                     "indices": indices, "targets": targets}],
                    "weights": [0.0] * len(BLENDSHAPES),
                    "extras": {"targetNames": list(BLENDSHAPES)}}],
        "animations": [doc_animation] if n else [],
        "accessors": layout.accessors,
        "bufferViews": layout.views,
        "extras": {"fps": anim.fps, "frames": n, "duration": result.audio.duration,
                   "audio": Path(result.audio.path).name if result.audio.path else None},
    }
    return doc, _padded_pieces(pieces), layout.length


def _blocks(a: np.ndarray) -> Iterator[bytes]:
    for i in range(0, len(a), BLOCK_FRAMES):
        yield np.ascontiguousarray(a[i:i + BLOCK_FRAMES]).tobytes()


def _weight_blocks(values: np.ndarray, cols: list[int]) -> Iterator[bytes]:
    # A block at a time: the selected, clipped copy of an hour's curves is never whole.
    for i in range(0, len(values), BLOCK_FRAMES):
        block = np.clip(values[i:i + BLOCK_FRAMES, cols], 0.0, 1.0)
        yield block.astype(np.float32).tobytes()


def _rotation_blocks(values: np.ndarray, heads: list[int] | None, n: int) -> Iterator[bytes]:
    for i in range(0, n, BLOCK_FRAMES):
        rows = values[i:i + BLOCK_FRAMES]
        if heads is None:
            q = np.tile(np.array([0.0, 0.0, 0.0, 1.0]), (len(rows), 1))
        else:
            q = head_quaternions(rows[:, heads[0]], rows[:, heads[1]], rows[:, heads[2]])
        yield q.astype(np.float32).tobytes()


def _padded_pieces(pieces: list[Any]) -> Iterator[bytes]:
    """Each part (bytes, or an iterator of bytes) padded to 4 bytes, as the layout placed it."""
    for part in pieces:
        if isinstance(part, bytes):
            yield _padded(part)
            continue
        total = 0
        for chunk in part:
            total += len(chunk)
            yield chunk
        yield b"\0" * ((-total) % 4)


def write_glb(result: Result, out: BinaryIO) -> None:
    """The ``.glb`` file: a 12-byte header, the JSON chunk, then the binary chunk."""
    doc, pieces, length = document(result)
    doc["buffers"] = [{"byteLength": length}]
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    text += b" " * ((-len(text)) % 4)  # the JSON chunk is padded with spaces
    total = 12 + 8 + len(text) + 8 + length
    out.write(struct.pack("<4sII", b"glTF", 2, total))
    out.write(struct.pack("<I4s", len(text), b"JSON") + text)
    out.write(struct.pack("<I4s", length, b"BIN\0"))
    for piece in pieces:
        out.write(piece)


def write_gltf(result: Result, out: TextIO) -> None:
    """The ``.gltf`` file: JSON with the buffer embedded as a base64 data URI."""
    doc, pieces, length = document(result)
    head = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    # The buffer goes last, so its URI can be streamed: the JSON is closed around it.
    out.write(head[:-1] + f',"buffers":[{{"byteLength":{length},'
                          f'"uri":"data:application/octet-stream;base64,')
    carry = b""
    for piece in pieces:
        data = carry + piece
        cut = len(data) - len(data) % 3
        out.write(base64.b64encode(data[:cut]).decode("ascii"))
        carry = data[cut:]
    out.write(base64.b64encode(carry).decode("ascii") + '"}]}\n')
