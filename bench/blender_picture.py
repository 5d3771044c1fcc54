"""The README's Blender picture: frames of a head keyed by visemic's Blender add-on, rendered by
Blender (Cycles, headless).

    python bench/blender_picture.py --bpy-python PATH [-o docs/images/blender.png]

Needs a Python with the ``bpy`` wheel (``pip install bpy==4.2.0``; PATH is its interpreter).
Speaks a sentence with espeak-ng into visemic's JSON and glTF; in Blender, imports the glTF (its
mouth outline carries the 52 ARKit shape keys), adds a head and eyes with ARKit-named blink keys,
installs the add-on zip, keys both meshes from the JSON through the add-on's import operator
(ARKit mapping) and renders a few moments; the frames are put side by side here.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

import visemic
from visemic.integrations import addon

SENTENCE = "Bob saw two cool blue boats."

BLENDER = r"""
import json, sys
import bpy

spec = json.loads(sys.argv[-1])
for o in list(bpy.data.objects):
    bpy.data.objects.remove(o)
bpy.ops.preferences.addon_install(filepath=spec["zip"], overwrite=True)
bpy.ops.preferences.addon_enable(module="visemic_blender")
scene = bpy.context.scene
scene.render.fps = 30
bpy.ops.import_scene.gltf(filepath=spec["glb"])
mouth = next(o for o in scene.objects if o.type == "MESH")
mouth.scale = (3, 3, 3)
mouth.location = (0, -0.27, -0.13)


def material(name, rgba):
    m = bpy.data.materials.new(name)
    m.use_nodes = True
    m.node_tree.nodes["Principled BSDF"].inputs["Base Color"].default_value = rgba
    return m


mouth.data.materials.clear()
mouth.data.materials.append(material("lips", (0.45, 0.06, 0.08, 1)))
bpy.ops.mesh.primitive_uv_sphere_add(radius=0.3, location=(0, 0, 0), segments=48, ring_count=24)
head = bpy.context.active_object
head.scale = (0.85, 0.8, 1.05)
head.data.materials.append(material("skin", (0.9, 0.62, 0.5, 1)))
bpy.ops.object.shade_smooth()
eyes = []
for side, x in (("Left", 0.1), ("Right", -0.1)):
    bpy.ops.mesh.primitive_uv_sphere_add(radius=0.045, location=(x, -0.225, 0.07))
    eye = bpy.context.active_object
    eye.scale = (1.0, 0.5, 1.0)
    eye.data.materials.append(material("eye", (0.03, 0.03, 0.05, 1)))
    eye.shape_key_add(name="Basis")
    key = eye.shape_key_add(name="eyeBlink" + side)
    for v in key.data:
        v.co.z *= 0.12
    eyes.append(eye)
for obj in (mouth, *eyes):
    bpy.ops.object.select_all(action="DESELECT")
    obj.select_set(True)
    bpy.context.view_layer.objects.active = obj
    assert bpy.ops.visemic.import_file(filepath=spec["json"]) == {"FINISHED"}
bpy.ops.object.camera_add(location=(0, -2.2, 0.0), rotation=(1.5708, 0, 0))
scene.camera = bpy.context.active_object
scene.camera.data.type = "ORTHO"
scene.camera.data.ortho_scale = 0.72
bpy.ops.object.light_add(type="AREA", location=(0.6, -1.5, 0.9))
bpy.context.active_object.data.energy = 70
bpy.context.active_object.data.size = 2
world = bpy.data.worlds.new("w")
scene.world = world
world.use_nodes = True
world.node_tree.nodes["Background"].inputs["Color"].default_value = (0.85, 0.9, 0.93, 1)
world.node_tree.nodes["Background"].inputs["Strength"].default_value = 0.45
scene.render.engine = "CYCLES"
scene.view_settings.view_transform = "Standard"
scene.cycles.device = "CPU"
scene.cycles.samples = 24
scene.render.resolution_x = scene.render.resolution_y = spec["size"]
for i, frame in enumerate(spec["frames"]):
    scene.frame_set(frame)
    scene.render.filepath = f"{spec['out']}/frame{i}.png"
    bpy.ops.render.render(write_still=True)
"""


def moments(result: visemic.Result) -> list[tuple[str, float]]:
    """(label, time): an open vowel, a /b/ closure, a rounded vowel, a blink if there is one."""
    anim = result.animation
    t = np.arange(anim.frames) / anim.fps
    gap = anim.channel("jawOpen") - anim.channel("mouthClose")
    rounding = np.maximum(anim.channel("mouthPucker"), anim.channel("mouthFunnel"))
    blink = anim.channel("eyeBlinkLeft")
    speech = (t > result.timeline.words[0].start) & (t < result.timeline.words[-1].end)
    out = [("open", t[np.argmax(np.where(speech & (rounding < 0.3), gap, -1))]),
           ("rounded", t[np.argmax(np.where(speech, rounding, -1))])]
    closure = [p for p in result.timeline.phones if p.symbol == "b"]
    if closure:
        out.insert(1, ("closure /b/", (closure[0].start + closure[0].end) / 2))
    if blink.max() > 0.8:
        out.append(("blink", t[np.argmax(blink)]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bpy-python", required=True, help="a Python with the bpy wheel")
    parser.add_argument("-o", "--output", type=Path, default=Path("docs/images/blender.png"))
    parser.add_argument("--size", type=int, default=260)
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        result = visemic.say(SENTENCE, seed=2, blink_rate=40)
        result.save(folder / "talk.json")
        result.save(folder / "talk.glb")
        addon.write_addon(folder / "addon.zip")
        chosen = moments(result)
        fps = 30
        spec = {"zip": str(folder / "addon.zip"), "glb": str(folder / "talk.glb"),
                "json": str(folder / "talk.json"), "out": str(folder), "size": args.size,
                "frames": [1 + round(time * fps) for _, time in chosen]}
        script = folder / "render.py"
        script.write_text(BLENDER)
        env = {**os.environ, "HOME": str(folder), "BLENDER_USER_SCRIPTS": str(folder / "s"),
               "BLENDER_USER_CONFIG": str(folder / "c")}
        proc = subprocess.run([args.bpy_python, str(script), json.dumps(spec)], env=env,
                              capture_output=True, text=True)
        # (bpy 4.2 as a module may crash while shutting down, after the work is done.)
        if not all((folder / f"frame{i}.png").exists() for i in range(len(chosen))):
            raise SystemExit(f"Blender failed ({proc.returncode}):\n{proc.stdout[-2000:]}"
                             f"\n{proc.stderr[-2000:]}")
        fig, axes = plt.subplots(1, len(chosen), figsize=(2.3 * len(chosen), 2.6))
        for i, (ax, (label, time)) in enumerate(zip(axes, chosen, strict=True)):
            ax.imshow(plt.imread(folder / f"frame{i}.png"))
            ax.set_title(f"{label} ({time:.2f} s)", fontsize=9)
            ax.axis("off")
        fig.suptitle(f"Blender, keyed by the visemic add-on: \u201c{SENTENCE}\u201d", fontsize=10)
        fig.tight_layout()
        args.output.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.output, dpi=110)
    print(f"wrote {args.output}: {', '.join(f'{label} {time:.2f} s' for label, time in chosen)}")


if __name__ == "__main__":
    main()
