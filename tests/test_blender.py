"""The Blender add-on: ``visemic blender-addon`` writes an installable zip; its file readers and
mappings (plain Python) read visemic's JSON, glTF and VRM Animation; and in Blender itself (the
``bpy`` wheel, headless) the installed add-on keys a generated mesh's shape keys with values
that match the curves, from a file or by running visemic.

The Blender part needs a Python with ``bpy`` (``pip install bpy==4.2.0`` on Python 3.11): this
interpreter if it has it, else the one named by VISEMIC_BPY_PYTHON; otherwise it skips.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest
from test_server import transcript
from test_vrma import tracks
from test_web import server as server  # noqa: F401 (the fixture)

from visemic.integrations import addon
from visemic.motion import vrm
from visemic.outputs import formats


def _addon_module(name: str) -> types.ModuleType:
    """One of the add-on's plain-Python modules, imported without its package's __init__ (which
    needs Blender)."""
    if "visemic_blender" not in sys.modules:
        package = types.ModuleType("visemic_blender")
        package.__path__ = [str(addon.ADDON_DIR)]
        sys.modules["visemic_blender"] = package
    return importlib.import_module(f"visemic_blender.{name}")


addon_curves = _addon_module("curves")
addon_mapping = _addon_module("mapping")
addon_run = _addon_module("run")


def test_cli_writes_the_zip_atomically(tmp_path):
    out = tmp_path / "visemic_addon.zip"
    proc = subprocess.run([sys.executable, "-m", "visemic", "blender-addon", "-o", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    with zipfile.ZipFile(out) as z:
        names = z.namelist()
        init = z.read("visemic_blender/__init__.py").decode()
    assert set(names) == {f"visemic_blender/{p.name}" for p in addon.addon_files()}
    assert "bl_info" in init and "def register" in init
    assert out.read_bytes() == addon.addon_zip()  # reproducible
    assert [p.name for p in tmp_path.iterdir()] == ["visemic_addon.zip"]  # no temporary left
    bad = subprocess.run([sys.executable, "-m", "visemic", "blender-addon", "-o",
                          str(tmp_path / "addon.txt")], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and bad.stderr.startswith("error: ")
    assert len(bad.stderr.strip().splitlines()) == 1


def test_readers_give_the_curves(result_text, tmp_path):
    anim = result_text.animation
    for name in ("r.json", "r.gltf", "r.glb"):
        formats.save(result_text, tmp_path / name)
        got = addon_curves.load(tmp_path / name)
        assert np.allclose(got.times, np.arange(anim.frames) / anim.fps, atol=1e-6)
        # (JSON keeps 4 decimals)
        assert np.allclose(got.values["jawOpen"], anim.channel("jawOpen"), atol=6e-5)
    got = addon_curves.load(tmp_path / "r.json")
    assert got.sample("rhubarb.A", np.array([0.0])).shape == (1,)
    cue = json.loads((tmp_path / "r.json").read_text())["visemes"]["oculus"][3]
    mid = (cue["start"] + cue["end"]) / 2
    assert got.sample(f"oculus.{cue['value']}", np.array([mid]))[0] == 1.0
    formats.save(result_text, tmp_path / "r.vrma")
    got = addon_curves.load(tmp_path / "r.vrma")
    _, values, _ = tracks((tmp_path / "r.vrma").read_bytes())
    assert set(got.values) == {f"vrm.{e}" for e in vrm.EXPRESSIONS}
    assert np.allclose(got.values["vrm.aa"], values["expression.aa"][:, 0])
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(addon_curves.CurveError):
        addon_curves.load(tmp_path / "bad.json")


def test_mapping_rules():
    rules = addon_mapping.parse("# mine\nOpen = 0.5 * jawOpen - mouthClose + vrm.aa\n* = *\n")
    assert rules == {"Open": [(0.5, "jawOpen"), (-1.0, "mouthClose"), (1.0, "vrm.aa")], "*": []}
    curves = addon_curves.Curves(np.array([0.0, 1.0]), {"jawOpen": np.array([0.0, 1.0]),
                                                        "mouthClose": np.array([0.0, 0.2])})
    chosen, missing = addon_mapping.resolve(rules, ["Open", "jawOpen", "other"], curves)
    assert chosen == {"jawOpen": [(1.0, "jawOpen")], "Open": rules["Open"]}
    assert missing == []
    assert np.allclose(addon_mapping.evaluate(rules["Open"], curves, np.array([0.5, 1.0])),
                       [0.15, 0.3])
    for preset in addon_mapping.PRESETS.values():
        assert addon_mapping.parse(preset)
    assert addon_mapping.needs_vrm(addon_mapping.parse(addon_mapping.PRESETS["VROID"]))
    assert not addon_mapping.needs_vrm(addon_mapping.parse(addon_mapping.PRESETS["OCULUS"]))
    for bad in ("no equals sign", "a = 2 *", "* = jawOpen", "a = jaw Open"):
        with pytest.raises(addon_mapping.MappingError):
            addon_mapping.parse(bad)


def test_run_against_a_server(server, spoken, spoken_wav, tmp_path):
    """The add-on's server mode (plain Python): JSON, then the .vrma, over HTTP."""
    audio, timeline = spoken
    files = addon_run.run_server(server.url, "", spoken_wav, transcript(timeline), 30.0,
                                 "happy:0.5", tmp_path, vrm=True)
    assert [f.name for f in files] == ["visemic.json", "visemic.vrma"]
    got = addon_curves.load(files[0]).merge(addon_curves.load(files[1]))
    assert abs(len(got.times) - audio.duration * 30) <= 2
    assert np.allclose(got.values["vrm.happy"], 0.5, atol=1e-6)
    assert got.values["jawOpen"].max() > 0.3 and got.values["vrm.aa"].max() > 0.3
    with pytest.raises(addon_run.RunError, match="fps"):
        addon_run.run_server(server.url, "", spoken_wav, "", 0.0, "", tmp_path, vrm=False)
    with pytest.raises(addon_run.RunError, match="cannot reach"):
        addon_run.run_server("http://127.0.0.1:9", "", spoken_wav, "", 30.0, "", tmp_path,
                             vrm=False)
    with pytest.raises(addon_run.RunError, match="command not found"):
        addon_run.run_command("no-such-visemic-command", spoken_wav, "", 30.0, "", tmp_path,
                              vrm=False)


# ---------------------------------------------------------------------------------------------
# In Blender

def bpy_python() -> str | None:
    if importlib.util.find_spec("bpy") is not None:
        return sys.executable
    named = os.environ.get("VISEMIC_BPY_PYTHON")
    if not named or not Path(named).is_file():
        return None
    # `make test` names its bpy venv's Python even where installing bpy failed: skip then.
    probe = "import importlib.util, sys; sys.exit(importlib.util.find_spec('bpy') is None)"
    return named if subprocess.run([named, "-c", probe]).returncode == 0 else None


BLENDER_SCRIPT = r"""
import json, sys
import bpy

zip_path, out_path, spec = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
bpy.ops.preferences.addon_install(filepath=zip_path, overwrite=True)
bpy.ops.preferences.addon_enable(module="visemic_blender")
scene = bpy.context.scene
scene.render.fps, scene.render.fps_base = spec["fps"], 1.0
scene.frame_start = spec["start"]
bpy.ops.mesh.primitive_plane_add()
obj = bpy.context.active_object
obj.shape_key_add(name="Basis")
for name in spec["keys"]:
    obj.shape_key_add(name=name)
settings = scene.visemic
settings.mapping = spec["mapping"]
if spec["mode"] == "import":
    result = bpy.ops.visemic.import_file(filepath=spec["file"])
else:
    settings.source, settings.audio_path = "FILE", spec["audio"]
    settings.transcript, settings.command = spec["text"], spec["command"]
    result = bpy.ops.visemic.run()
action = obj.data.shape_keys.animation_data.action
out = {"result": sorted(result), "frame_end": scene.frame_end,
       "fcurves": {fc.data_path: [[kp.co[0], kp.co[1], kp.interpolation]
                                  for kp in fc.keyframe_points] for fc in action.fcurves}}
json.dump(out, open(out_path, "w"))
"""


@pytest.fixture(scope="module")
def blender(tmp_path_factory):
    python = bpy_python()
    if python is None:
        pytest.skip("needs a Python with bpy (pip install bpy==4.2.0, or VISEMIC_BPY_PYTHON)")
    root = tmp_path_factory.mktemp("blender")
    zip_path = root / "visemic_addon.zip"
    addon.write_addon(zip_path)
    script = root / "drive.py"
    script.write_text(BLENDER_SCRIPT)
    # Blender's user folders (where the add-on is installed) go to a temporary home.
    env = {**os.environ, "HOME": str(root), "BLENDER_USER_CONFIG": str(root / "config"),
           "BLENDER_USER_SCRIPTS": str(root / "scripts")}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parents[1] / "src"),
                                         env.get("PYTHONPATH", "")])

    def drive(spec: dict) -> dict:
        out = root / "out.json"
        proc = subprocess.run([python, str(script), str(zip_path), str(out), json.dumps(spec)],
                              capture_output=True, text=True, timeout=600, env=env, cwd=root)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(out.read_text())

    return drive


def key_values(got: dict, key: str) -> np.ndarray:
    """``[keys × 2]``: frame, value."""
    return np.array([k[:2] for k in got["fcurves"][f'key_blocks["{key}"].value']], np.float64)


def test_blender_keys_arkit_shape_keys_from_json(blender, result_text, tmp_path):
    path = tmp_path / "talk.json"
    formats.save(result_text, path)
    got = blender({"mode": "import", "file": str(path), "fps": 24, "start": 10,
                   "mapping": "ARKIT", "keys": ["jawOpen", "mouthClose", "eyeBlinkLeft",
                                                "not_arkit"]})
    assert got["result"] == ["FINISHED"]
    assert set(got["fcurves"]) == {f'key_blocks["{k}"].value'
                                   for k in ("jawOpen", "mouthClose", "eyeBlinkLeft")}
    anim = result_text.animation
    times = np.arange(anim.frames) / anim.fps
    for name in ("jawOpen", "mouthClose", "eyeBlinkLeft"):
        keys = key_values(got, name)
        frames, values = keys[:, 0], keys[:, 1]
        assert frames[0] == 10 and np.all(np.diff(frames) == 1)  # every scene frame
        assert abs(len(frames) - result_text.audio.duration * 24) <= 2
        want = np.clip(np.interp((frames - 10) / 24, times, anim.channel(name)), 0, 1)
        assert np.allclose(values, want, atol=1e-4), name  # JSON keeps 4 decimals
        assert values.max() > 0.3
        assert {k[2] for k in got["fcurves"][f'key_blocks["{name}"].value']} == {"LINEAR"}
    assert got["frame_end"] >= key_values(got, "jawOpen")[-1, 0]


def test_blender_keys_vrm_expressions_from_vrma(blender, result_text, tmp_path):
    path = tmp_path / "talk.vrma"
    formats.save(result_text, path)
    _, values, times = tracks(path.read_bytes())
    got = blender({"mode": "import", "file": str(path), "fps": 30, "start": 1, "mapping": "VRM",
                   "keys": ["aa", "ou", "blink", "happy"]})
    for name in ("aa", "ou", "blink"):
        keys = key_values(got, name)
        want = np.interp((keys[:, 0] - 1) / 30, times, values[f"expression.{name}"][:, 0])
        assert np.allclose(keys[:, 1], want, atol=1e-5), name
    assert key_values(got, "aa")[:, 1].max() > 0.3


def test_blender_runs_visemic_for_a_vroid_model(blender, spoken_wav, spoken):
    """The Run button with the visemic command: JSON, then a .vrma for the Fcl_* keys."""
    got = blender({"mode": "run", "audio": str(spoken_wav), "text": transcript(spoken[1]),
                   "command": f"{sys.executable} -m visemic", "fps": 25, "start": 1,
                   "mapping": "VROID", "keys": ["Fcl_MTH_A", "Fcl_MTH_U", "Fcl_EYE_Close"]})
    assert got["result"] == ["FINISHED"]
    mouth = key_values(got, "Fcl_MTH_A")
    assert abs(len(mouth) - spoken[0].duration * 25) <= 2
    assert mouth[:, 1].max() > 0.3 and key_values(got, "Fcl_EYE_Close")[:, 1].max() > 0.5
