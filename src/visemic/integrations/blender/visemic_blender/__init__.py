"""visemic lip sync for Blender: speech in, shape-key animation out.

In the 3D view's sidebar (N) → visemic: pick a sound strip of the scene or a sound file (and,
optionally, a transcript), run visemic (the installed ``visemic`` command or a ``visemic serve``
URL), and the selected mesh's shape keys get keyframes, one per scene frame: ARKit-named keys
directly, other rigs (VRM, VRoid, Oculus / Ready Player Me, Rhubarb mouths) through a mapping
that the panel can copy into a text block to edit. Or import a visemic JSON, glTF or VRM
Animation file made elsewhere. Install the zip that ``visemic blender-addon -o FILE.zip`` writes
(Edit → Preferences → Add-ons → Install).
"""

# No "from __future__ import annotations": Blender reads the property annotations as objects.
import math
import tempfile
from pathlib import Path

import bpy
import numpy as np
from bpy.props import EnumProperty, FloatProperty, PointerProperty, StringProperty
from bpy_extras.io_utils import ImportHelper

from . import curves as curve_files
from . import mapping as mappings
from . import run as runner

bl_info = {
    "name": "visemic lip sync",
    "author": "visemic",
    "version": (0, 1, 0),
    "blender": (3, 6, 0),
    "location": "3D View > Sidebar > visemic",
    "description": "Shape-key lip sync, blinks and emotion from speech audio with visemic",
    "category": "Animation",
}

MAPPING_ITEMS = [
    ("ARKIT", "ARKit names", "Shape keys named as ARKit's 52 blendshapes (jawOpen, …)"),
    ("VRM", "VRM expressions", "Shape keys named aa ih ou ee oh blink happy … (VRM 1.0)"),
    ("VROID", "VRoid (Fcl_*)", "VRoid Studio models: Fcl_MTH_A, Fcl_EYE_Close, …"),
    ("OCULUS", "Oculus visemes", "viseme_sil … viseme_U (Oculus, Ready Player Me)"),
    ("RHUBARB", "Rhubarb mouths", "mouth_A … mouth_X, one key per Rhubarb mouth shape"),
    ("CUSTOM", "Custom (text block)", "The rules in the chosen text block"),
]


class VisemicSettings(bpy.types.PropertyGroup):
    source: EnumProperty(name="Audio", items=[
        ("STRIP", "Sound strip", "A sound strip of the scene's sequencer"),
        ("FILE", "Sound file", "A sound file on disk")], default="FILE")
    strip: StringProperty(name="Strip", description="Name of the sound strip")
    audio_path: StringProperty(name="File", subtype="FILE_PATH")
    transcript: StringProperty(name="Transcript",
                               description="What is said (optional: aligns more accurately)")
    transcript_text: PointerProperty(name="Transcript text", type=bpy.types.Text,
                                     description="A text block holding the transcript")
    emotion: StringProperty(name="Emotion", description="e.g. happy:0.6 (optional)")
    backend: EnumProperty(name="Run", items=[
        ("COMMAND", "Command", "The visemic command installed on this computer"),
        ("SERVER", "Server", "A visemic server (visemic serve)")], default="COMMAND")
    command: StringProperty(name="Command", default="visemic",
                            description="visemic's command, e.g. visemic or a full path")
    server_url: StringProperty(name="URL", default="http://127.0.0.1:8000")
    api_key: StringProperty(name="API key", subtype="PASSWORD")
    mapping: EnumProperty(name="Mapping", items=MAPPING_ITEMS, default="ARKIT")
    mapping_text: PointerProperty(name="Rules", type=bpy.types.Text)
    strength: FloatProperty(name="Strength", default=1.0, min=0.0, max=2.0,
                            description="Scales every keyed value")


def mapping_rules(settings: VisemicSettings) -> dict[str, mappings.Rule]:
    if settings.mapping == "CUSTOM":
        if settings.mapping_text is None:
            raise mappings.MappingError("choose the text block holding the mapping")
        return mappings.parse(settings.mapping_text.as_string())
    return mappings.parse(mappings.PRESETS[settings.mapping])


def scene_fps(scene: bpy.types.Scene) -> float:
    return scene.render.fps / scene.render.fps_base


def key_mesh(obj: bpy.types.Object, curves: curve_files.Curves, rules: dict[str, mappings.Rule],
             scene: bpy.types.Scene, start_frame: float, name: str, strength: float = 1.0
             ) -> tuple[int, list[str]]:
    """Key ``obj``'s shape keys from ``curves`` at every scene frame from ``start_frame``;
    returns (number of keys keyed, rule keys not keyed). The keys get a new action."""
    keys = obj.data.shape_keys if obj and obj.type == "MESH" else None
    if keys is None:
        raise mappings.MappingError("select a mesh with shape keys")
    names = [k.name for k in keys.key_blocks[1:]]  # the first is the basis
    chosen, missing = mappings.resolve(rules, names, curves)
    if not chosen:
        raise mappings.MappingError("no shape key of the mesh matches the mapping "
                                    f"(keys: {', '.join(names[:8]) or 'none'})")
    fps = scene_fps(scene)
    count = int(math.floor(curves.duration * fps + 1e-6)) + 1
    times = np.arange(count) / fps
    frames = start_frame + np.arange(count, dtype=np.float64)
    if keys.animation_data is None:
        keys.animation_data_create()
    action = bpy.data.actions.new(name)
    keys.animation_data.action = action
    for key, terms in chosen.items():
        values = mappings.evaluate(terms, curves, times) * strength
        fcurve = action.fcurves.new(f'key_blocks["{bpy.utils.escape_identifier(key)}"].value',
                                    action_group="visemic")
        fcurve.keyframe_points.add(count)
        co = np.empty(2 * count, np.float32)
        co[0::2], co[1::2] = frames, values
        fcurve.keyframe_points.foreach_set("co", co)
        fcurve.keyframe_points.foreach_set("interpolation", [1] * count)  # LINEAR
        fcurve.update()
    end = int(math.ceil(frames[-1]))
    if scene.frame_end < end:
        scene.frame_end = end
    return len(chosen), missing


def _report_result(op: bpy.types.Operator, keyed: int, missing: list[str]) -> None:
    note = f"; not in the mesh or the result: {', '.join(missing[:6])}" if missing else ""
    op.report({"INFO"}, f"visemic: keyed {keyed} shape keys{note}")


class VISEMIC_OT_run(bpy.types.Operator):
    """Run visemic on the audio and key the selected mesh's shape keys"""

    bl_idname = "visemic.run"
    bl_label = "Lip-sync selected mesh"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        settings = context.scene.visemic
        try:
            rules = mapping_rules(settings)
            audio, start = self._audio(context, settings)
            text = (settings.transcript_text.as_string() if settings.transcript_text
                    else settings.transcript)
            with tempfile.TemporaryDirectory(prefix="visemic-") as tmp:
                folder = Path(tmp)
                vrm = mappings.needs_vrm(rules)
                fps = scene_fps(context.scene)
                if settings.backend == "SERVER":
                    files = runner.run_server(settings.server_url, settings.api_key, audio, text,
                                              fps, settings.emotion, folder, vrm)
                else:
                    files = runner.run_command(settings.command, audio, text, fps,
                                               settings.emotion, folder, vrm)
                result = curve_files.load(files[0])
                for extra in files[1:]:
                    result = result.merge(curve_files.load(extra))
            keyed, missing = key_mesh(context.active_object, result, rules, context.scene, start,
                                      f"visemic {audio.stem}", settings.strength)
        except (runner.RunError, mappings.MappingError, curve_files.CurveError, OSError) as e:
            self.report({"ERROR"}, f"visemic: {e}")
            return {"CANCELLED"}
        _report_result(self, keyed, missing)
        return {"FINISHED"}

    @staticmethod
    def _audio(context: bpy.types.Context, settings: VisemicSettings) -> tuple[Path, float]:
        """(the sound file, the frame where it starts)."""
        if settings.source == "STRIP":
            editor = context.scene.sequence_editor
            strip = editor.sequences_all.get(settings.strip) if editor else None
            if strip is None or strip.type != "SOUND" or strip.sound is None:
                raise mappings.MappingError(f"no sound strip named {settings.strip!r}")
            return Path(bpy.path.abspath(strip.sound.filepath)), float(strip.frame_start)
        if not settings.audio_path:
            raise mappings.MappingError("choose a sound file")
        path = Path(bpy.path.abspath(settings.audio_path))
        if not path.is_file():
            raise mappings.MappingError(f"no such file: {path}")
        return path, float(context.scene.frame_start)


class VISEMIC_OT_import(bpy.types.Operator, ImportHelper):
    """Key the selected mesh's shape keys from a visemic JSON, glTF or VRM Animation file"""

    bl_idname = "visemic.import_file"
    bl_label = "Import visemic file"
    bl_options = {"REGISTER", "UNDO"}
    filter_glob: StringProperty(default="*.json;*.gltf;*.glb;*.vrma", options={"HIDDEN"})
    start_frame: FloatProperty(name="Start frame", default=-1.0,
                               description="Frame of time 0 (-1: the scene's start)")

    def execute(self, context: bpy.types.Context) -> set[str]:
        settings = context.scene.visemic
        start = self.start_frame if self.start_frame >= 0 else float(context.scene.frame_start)
        try:
            rules = mapping_rules(settings)
            result = curve_files.load(self.filepath)
            keyed, missing = key_mesh(context.active_object, result, rules, context.scene, start,
                                      f"visemic {Path(self.filepath).stem}", settings.strength)
        except (mappings.MappingError, curve_files.CurveError, OSError, ValueError,
                KeyError) as e:
            self.report({"ERROR"}, f"visemic: {e}")
            return {"CANCELLED"}
        _report_result(self, keyed, missing)
        return {"FINISHED"}


class VISEMIC_OT_edit_mapping(bpy.types.Operator):
    """Copy the chosen mapping into a text block to edit (Text Editor), and use that"""

    bl_idname = "visemic.edit_mapping"
    bl_label = "Edit mapping"

    def execute(self, context: bpy.types.Context) -> set[str]:
        settings = context.scene.visemic
        preset = settings.mapping if settings.mapping != "CUSTOM" else "ARKIT"
        text = bpy.data.texts.new("visemic_mapping.txt")
        text.write("# visemic mapping: 'shape key = source' or a weighted sum such as\n"
                   "# 'MouthOpen = 0.8 * jawOpen + 0.2 * vrm.aa'; '* = *' keys every shape key\n"
                   "# named as a source. Sources: ARKit names, headYaw/Pitch/Roll, vrm.aa …,\n"
                   "# rhubarb.A …, oculus.PP …, azure.0 … (see the visemic README)\n")
        text.write(mappings.PRESETS[preset])
        settings.mapping_text = text
        settings.mapping = "CUSTOM"
        self.report({"INFO"}, f"visemic: mapping copied to text block {text.name!r}")
        return {"FINISHED"}


class VISEMIC_PT_panel(bpy.types.Panel):
    bl_label = "visemic lip sync"
    bl_idname = "VISEMIC_PT_panel"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "visemic"

    def draw(self, context: bpy.types.Context) -> None:
        settings = context.scene.visemic
        layout = self.layout
        obj = context.active_object
        has_keys = bool(obj and obj.type == "MESH" and obj.data.shape_keys)
        layout.label(text=f"Mesh: {obj.name}" if has_keys else "Select a mesh with shape keys",
                     icon="MESH_DATA" if has_keys else "ERROR")
        box = layout.box()
        box.prop(settings, "source", expand=True)
        if settings.source == "STRIP":
            editor = context.scene.sequence_editor
            if editor:
                box.prop_search(settings, "strip", editor, "sequences_all", text="Strip")
            else:
                box.label(text="The scene has no sound strips")
        else:
            box.prop(settings, "audio_path")
        box.prop(settings, "transcript")
        box.prop(settings, "transcript_text", text="or text")
        box.prop(settings, "emotion")
        box = layout.box()
        box.prop(settings, "backend", expand=True)
        if settings.backend == "SERVER":
            box.prop(settings, "server_url")
            box.prop(settings, "api_key")
        else:
            box.prop(settings, "command")
        box = layout.box()
        row = box.row(align=True)
        row.prop(settings, "mapping", text="")
        row.operator("visemic.edit_mapping", text="", icon="TEXT")
        if settings.mapping == "CUSTOM":
            box.prop(settings, "mapping_text")
        box.prop(settings, "strength")
        col = layout.column(align=True)
        col.enabled = has_keys
        col.operator("visemic.run", icon="PLAY_SOUND")
        col.operator("visemic.import_file", icon="IMPORT")


CLASSES = (VisemicSettings, VISEMIC_OT_run, VISEMIC_OT_import, VISEMIC_OT_edit_mapping,
           VISEMIC_PT_panel)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.visemic = PointerProperty(type=VisemicSettings)


def unregister() -> None:
    del bpy.types.Scene.visemic
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
