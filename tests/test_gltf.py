"""glTF export: a valid glTF 2.0 file whose morph-target weights and head rotation are the
result's curves, read back here through the accessors as any importer reads them."""

from __future__ import annotations

import base64
import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import visemic
from visemic.errors import VisemicError
from visemic.motion import arkit
from visemic.outputs import formats, gltf
from visemic.types import Animation, Audio

COMPONENTS = {5126: np.float32, 5123: np.uint16}
WIDTH = {"SCALAR": 1, "VEC3": 3, "VEC4": 4}


def load(text: str) -> tuple[dict, bytes]:
    doc = json.loads(text)
    uri = doc["buffers"][0]["uri"]
    assert uri.startswith("data:application/octet-stream;base64,")
    data = base64.b64decode(uri.split(",", 1)[1])
    assert len(data) == doc["buffers"][0]["byteLength"]
    return doc, data


def load_glb(blob: bytes) -> tuple[dict, bytes]:
    magic, version, total = struct.unpack_from("<4sII", blob, 0)
    assert (magic, version, total) == (b"glTF", 2, len(blob))
    n_json, kind = struct.unpack_from("<I4s", blob, 12)
    assert kind == b"JSON" and n_json % 4 == 0
    doc = json.loads(blob[20:20 + n_json])
    n_bin, kind = struct.unpack_from("<I4s", blob, 20 + n_json)
    assert kind == b"BIN\0" and n_bin % 4 == 0
    data = blob[28 + n_json:28 + n_json + n_bin]
    assert len(data) == n_bin and 28 + n_json + n_bin == len(blob)
    assert doc["buffers"] == [{"byteLength": n_bin}]
    return doc, data


def accessor(doc: dict, data: bytes, i: int) -> np.ndarray:
    acc = doc["accessors"][i]
    view = doc["bufferViews"][acc["bufferView"]]
    width = WIDTH[acc["type"]]
    dtype = np.dtype(COMPONENTS[acc["componentType"]])
    assert view["byteOffset"] % 4 == 0
    assert acc["count"] * width * dtype.itemsize <= view["byteLength"]
    assert view["byteOffset"] + view["byteLength"] <= len(data)
    a = np.frombuffer(data, dtype, acc["count"] * width, view["byteOffset"])
    if "min" in acc:
        rows = a.reshape(acc["count"], width)
        assert np.allclose(rows.min(axis=0), acc["min"]) and np.allclose(rows.max(axis=0),
                                                                          acc["max"])
    return a.reshape(acc["count"], width) if width > 1 else a


@pytest.fixture(scope="module")
def result(result_text):
    return result_text


def test_weights_and_times_are_the_curves(result):
    doc, data = load(formats.render(result, "gltf"))
    anim = result.animation
    mesh = doc["meshes"][0]
    assert mesh["extras"]["targetNames"] == list(arkit.BLENDSHAPES)
    assert len(mesh["primitives"][0]["targets"]) == 52
    animation = doc["animations"][0]
    weights = next(c for c in animation["channels"] if c["target"]["path"] == "weights")
    sampler = animation["samplers"][weights["sampler"]]
    assert doc["nodes"][weights["target"]["node"]]["mesh"] == 0
    times = accessor(doc, data, sampler["input"])
    assert len(times) == anim.frames
    assert np.allclose(times, np.arange(anim.frames) / anim.fps, atol=1e-6)
    assert np.all(np.diff(times) > 0)  # glTF: strictly increasing keys
    w = accessor(doc, data, sampler["output"]).reshape(anim.frames, 52)
    cols = [anim.channels.index(n) for n in arkit.BLENDSHAPES]
    assert np.array_equal(w, anim.values[:, cols].astype(np.float32))
    assert doc["extras"]["fps"] == anim.fps
    assert doc["asset"]["version"] == "2.0" and visemic.__version__ in doc["asset"]["generator"]


def test_head_rotation_follows_the_head_angles(result):
    doc, data = load(formats.render(result, "gltf"))
    animation = doc["animations"][0]
    rot = next(c for c in animation["channels"] if c["target"]["path"] == "rotation")
    assert doc["nodes"][rot["target"]["node"]]["name"] == "head"
    q = accessor(doc, data, animation["samplers"][rot["sampler"]]["output"])
    assert q.shape == (result.animation.frames, 4)
    assert np.allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-5)
    # Back to angles (yaw about Y, then pitch about X, then roll about Z).
    x, y, z, w = q.T.astype(np.float64)
    pitch = np.degrees(np.arcsin(np.clip(2 * (w * x - y * z), -1, 1)))
    yaw = np.degrees(np.arctan2(2 * (w * y + x * z), 1 - 2 * (x * x + y * y)))
    roll = np.degrees(np.arctan2(2 * (w * z + x * y), 1 - 2 * (x * x + z * z)))
    anim = result.animation
    for got, name in ((yaw, "headYaw"), (pitch, "headPitch"), (roll, "headRoll")):
        assert np.abs(anim.channel(name)).max() > 0.5  # the head does move
        assert np.allclose(got, anim.channel(name), atol=0.01), name


def test_axes_single_turns():
    # Yaw turns the nose (+Z) towards +X (the character's left); pitch > 0 nods it down (−Y);
    # roll > 0 tilts the top of the head (+Y) towards −X.
    def rotate(q, v):
        x, y, z, w = q
        u = np.array([x, y, z])
        return v + 2 * np.cross(u, np.cross(u, v) + w * v)

    one = np.array([30.0])
    zero = np.zeros(1)
    nose, top = np.array([0.0, 0.0, 1.0]), np.array([0.0, 1.0, 0.0])
    assert rotate(gltf.head_quaternions(one, zero, zero)[0], nose)[0] > 0.4
    assert rotate(gltf.head_quaternions(zero, one, zero)[0], nose)[1] < -0.4
    assert rotate(gltf.head_quaternions(zero, zero, one)[0], top)[0] < -0.4


def test_mouth_preview_opens_and_closes(result):
    """The preview mesh's lower lip drops with jawOpen and comes back with mouthClose."""
    doc, data = load(formats.render(result, "gltf"))
    prim = doc["meshes"][0]["primitives"][0]
    base = accessor(doc, data, prim["attributes"]["POSITION"])
    targets = {name: accessor(doc, data, t["POSITION"])
               for name, t in zip(arkit.BLENDSHAPES, prim["targets"], strict=True)}
    lower = [5, 6, 7]
    assert np.all(targets["jawOpen"][lower, 1] < -0.01)
    assert np.allclose(targets["jawOpen"] + targets["mouthClose"], 0.0)
    assert np.all(targets["eyeBlinkLeft"] == 0.0)
    idx = accessor(doc, data, prim["indices"])
    assert idx.max() < len(base) and len(idx) % 3 == 0


def test_empty_and_long_animations():
    for frames in (0, 1, gltf.BLOCK_FRAMES * 2 + 7):
        values = np.random.default_rng(frames).random((frames, len(arkit.CHANNELS)),
                                                      dtype=np.float32)
        anim = Animation(fps=30.0, channels=list(arkit.CHANNELS), values=values)
        res = visemic.Result(audio=Audio(np.zeros(16000, np.float32), 16000),
                             timeline=visemic.Timeline("en"), prosody=None, animation=anim)
        doc, data = load(formats.render(res, "gltf"))
        if frames == 0:
            assert doc["animations"] == []
            continue
        sampler = doc["animations"][0]["samplers"][0]
        w = accessor(doc, data, sampler["output"]).reshape(frames, 52)
        assert np.array_equal(w, values[:, :52])


def test_glb_holds_the_same_document_and_data(result):
    doc, data = load_glb(formats.render_bytes(result, "glb"))
    text_doc, text_data = load(formats.render(result, "gltf"))
    text_doc["buffers"] = doc["buffers"]
    assert doc == text_doc and data == text_data
    with pytest.raises(VisemicError, match="binary"):
        formats.render(result, "glb")


def test_cli_writes_gltf_by_extension(spoken_wav, tmp_path):
    out = tmp_path / "face.gltf"
    proc = subprocess.run([sys.executable, "-m", "visemic", "animate", str(spoken_wav), "-o",
                           str(out), "-q"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    doc, _ = load(out.read_text(encoding="utf-8"))
    assert doc["animations"][0]["name"] == Path(spoken_wav).stem
    glb = tmp_path / "face.glb"
    proc = subprocess.run([sys.executable, "-m", "visemic", "animate", str(spoken_wav), "-o",
                           str(glb), "-q"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert load_glb(glb.read_bytes())[0]["animations"][0]["name"] == Path(spoken_wav).stem


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js for the validator")
def test_khronos_validator_finds_no_issue(result, tmp_path):
    """The Khronos glTF-Validator (npm gltf-validator), where it is installed."""
    root = tmp_path / "gv"
    root.mkdir()
    install = subprocess.run(["npm", "install", "--prefix", str(root), "--silent",
                              "gltf-validator@2.0.0-dev.3.10"], capture_output=True, timeout=120)
    if install.returncode != 0:
        pytest.skip("npm could not install gltf-validator (offline?)")
    script = ("const v=require('gltf-validator');const fs=require('fs');"
              "v.validateBytes(new Uint8Array(fs.readFileSync(process.argv[1])))"
              ".then(r=>console.log(JSON.stringify(r.issues)))")
    for name in ("face.gltf", "face.glb"):
        path = tmp_path / name
        formats.save(result, path)
        proc = subprocess.run(["node", "-e", script, str(path)], capture_output=True, text=True,
                              timeout=60, cwd=root)
        assert proc.returncode == 0, proc.stderr
        issues = json.loads(proc.stdout)
        assert issues["numErrors"] == 0 and issues["numWarnings"] == 0, (name, issues)
