"""VRM Animation export: the expression weights follow the curves (fitted vowels, blinks,
emotions), the head and gaze turn as the curves say, the file is valid glTF (Khronos validator),
and three-vrm (the copy the web page serves) plays it on a VRM 1.0 model built by the tests,
in headless Chromium, with the weights, head rotation and gaze the file holds."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_gltf import accessor, load_glb
from vrm_model import build_vrm

import visemic
from visemic.motion import arkit, vrm
from visemic.motion.emotion import EmotionTrack
from visemic.outputs import formats, gltf, vrma
from visemic.types import Animation, Audio

WEB_DIR = Path(visemic.__file__).parent / "server" / "web"
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def happy(spoken_wav):
    """The test sentence with a happy emotion easing into surprise (an emotion track)."""
    track = EmotionTrack.from_pairs([(0.0, "happy:0.8"), (1.5, "surprised:0.6")])
    return visemic.animate(spoken_wav, text="Mom bought five blue boxes. Please wait. Then we"
                           " all go home for supper.", emotion=track, seed=3)


def tracks(blob: bytes) -> tuple[dict, dict[str, np.ndarray], np.ndarray]:
    """(the document, node name → its animated values, the key times)."""
    doc, data = load_glb(blob)
    animation = doc["animations"][0]
    out, times = {}, None
    for ch in animation["channels"]:
        sampler = animation["samplers"][ch["sampler"]]
        t = accessor(doc, data, sampler["input"])
        times = t if times is None else times
        assert np.array_equal(t, times)
        out[doc["nodes"][ch["target"]["node"]]["name"]] = accessor(doc, data, sampler["output"])
    return doc, out, times


def test_extension_names_every_preset_and_the_head(happy):
    doc, values, times = tracks(formats.render_bytes(happy, "vrma"))
    ext = doc["extensions"]["VRMC_vrm_animation"]
    assert doc["extensionsUsed"] == ["VRMC_vrm_animation"] and ext["specVersion"] == "1.0"
    assert set(ext["expressions"]["preset"]) == set(vrm.EXPRESSIONS)
    assert {"aa", "ih", "ou", "ee", "oh", "blink", "blinkLeft", "blinkRight", "happy", "angry",
            "sad", "relaxed", "surprised"} == set(vrm.EXPRESSIONS)
    head = ext["humanoid"]["humanBones"]["head"]["node"]
    assert doc["nodes"][head]["name"] == "head"
    assert doc["nodes"][ext["lookAt"]["node"]]["name"] == "lookAt"
    assert len(times) == happy.animation.frames
    assert np.allclose(times, np.arange(len(times)) / happy.animation.fps, atol=1e-6)
    for name in vrm.EXPRESSIONS:
        w = values[f"expression.{name}"]
        assert w.shape == (len(times), 3) and np.all(w[:, 1:] == 0)
        assert w[:, 0].min() >= 0.0 and w[:, 0].max() <= 1.0


def _weights(result) -> dict[str, np.ndarray]:
    _, values, _ = tracks(formats.render_bytes(result, "vrma"))
    return {name: values[f"expression.{name}"][:, 0] for name in vrm.EXPRESSIONS}


def test_vowels_are_a_smooth_mix_that_follows_the_phones(result_text):
    w = _weights(result_text)
    anim = result_text.animation
    vowels = np.stack([w[v] for v in vrm.VOWELS], axis=1)
    assert vowels.sum(axis=1).max() <= 1.0 + 1e-5
    # Not a one-hot switch: many frames mix two or more vowels, and the weights move only as
    # fast as the mouth does (the fit is continuous: no jump where the curves barely move).
    assert ((vowels > 0.05).sum(axis=1) >= 2).mean() > 0.1
    features = anim.values.astype(np.float64) @ vrm.feature_matrix(anim.channels)
    moved = np.linalg.norm(np.diff(features, axis=0), axis=1)
    assert np.all(np.abs(np.diff(vowels, axis=0)).max(axis=1) <= 6 * moved + 0.01)
    expected = {"u": "ou", "i": "ih", "oʊ": "oh", "ɑ": "aa", "ɔ": "oh", "ɛ": "ee", "æ": "aa"}
    hits, total = 0, 0
    for p in result_text.timeline.phones:
        if p.symbol in expected:
            k = int(round((p.start + p.end) / 2 * anim.fps))
            total += 1
            hits += max(vrm.VOWELS, key=lambda v: w[v][k]) == expected[p.symbol]
    assert total >= 6 and hits / total >= 0.7, (hits, total)
    # The mouth shut (the /m/ closures) gives no vowel.
    for p in result_text.timeline.phones:
        if p.symbol == "m":
            k = int(round((p.start + p.end) / 2 * anim.fps))
            assert vowels[k].sum() < 0.2


def test_fit_reproduces_each_vowel_and_mixes_between_them():
    protos = vrm.prototypes().T
    assert np.allclose(vrm.vowel_weights(protos), np.eye(len(vrm.VOWELS)), atol=1e-6)
    half = vrm.vowel_weights(0.5 * protos[:1] + 0.5 * protos[2:3])[0]  # between aa and ou
    assert abs(half[0] - 0.5) < 1e-6 and abs(half[2] - 0.5) < 1e-6
    assert np.all(vrm.vowel_weights(np.zeros((3, len(vrm.FEATURES)))) == 0)
    big = vrm.vowel_weights(3 * protos)  # beyond any vowel: capped at a sum of 1
    assert np.allclose(big.sum(axis=1), 1.0)


def test_blinks_split_into_shared_and_one_sided(result_text):
    w = _weights(result_text)
    anim = result_text.animation
    left, right = anim.channel("eyeBlinkLeft"), anim.channel("eyeBlinkRight")
    assert left.max() > 0.8  # the face does blink
    assert np.allclose(w["blink"] + w["blinkLeft"], np.clip(left, 0, 1), atol=1e-6)
    assert np.allclose(w["blink"] + w["blinkRight"], np.clip(right, 0, 1), atol=1e-6)
    assert np.all(np.minimum(w["blinkLeft"], w["blinkRight"]) == 0)


def test_emotions_follow_the_emotion_track(happy, result_text):
    w = _weights(happy)
    fps = happy.animation.fps
    assert abs(w["happy"][0] - 0.8) < 1e-6 and w["surprised"][0] == 0
    end = int(2.0 * fps)
    assert w["happy"][end] < 1e-6 and abs(w["surprised"][end] - 0.6) < 1e-6
    mid = int(0.75 * fps)
    assert 0.2 < w["happy"][mid] < 0.6 and 0.1 < w["surprised"][mid] < 0.5
    assert np.all(w["relaxed"] == 0) and np.all(w["sad"] == 0) and np.all(w["angry"] == 0)
    neutral = _weights(result_text)
    assert all(np.all(neutral[e] == 0) for e in vrm.EMOTIONS)


def test_head_and_gaze(result_text):
    _, values, _ = tracks(formats.render_bytes(result_text, "vrma"))
    anim = result_text.animation
    q = gltf.head_quaternions(*(anim.channel(h) for h in arkit.HEAD))
    assert np.allclose(values["head"], q, atol=1e-6)
    yaw, pitch = vrma.gaze(result_text, slice(None))
    assert np.abs(yaw).max() > 1.0  # the eyes do move
    look = values["lookAt"].astype(np.float64)
    x, y, z, w = look.T
    got_pitch = np.degrees(np.arcsin(np.clip(2 * (w * x - y * z), -1, 1)))
    got_yaw = np.degrees(np.arctan2(2 * (w * y + x * z), 1 - 2 * (x * x + y * y)))
    assert np.allclose(got_yaw, yaw, atol=0.01) and np.allclose(got_pitch, pitch, atol=0.01)


def test_empty_and_long_animations():
    for frames in (0, gltf.BLOCK_FRAMES + 5):
        values = np.random.default_rng(frames).random((frames, len(arkit.CHANNELS)),
                                                      dtype=np.float32)
        res = visemic.Result(audio=Audio(np.zeros(16000, np.float32), 16000),
                             timeline=visemic.Timeline("en"), prosody=None,
                             animation=Animation(30.0, list(arkit.CHANNELS), values))
        blob = formats.render_bytes(res, "vrma")
        if frames == 0:
            import struct
            n_json = struct.unpack_from("<I", blob, 12)[0]
            doc = json.loads(blob[20:20 + n_json])
            assert doc["animations"] == [] and "buffers" not in doc
            assert len(blob) == 20 + n_json
            continue
        _, got, _ = tracks(blob)
        assert got["expression.blink"].shape == (frames, 3)


def test_cli_by_extension_and_by_format(spoken_wav, tmp_path):
    for args, path in ((["-o", str(tmp_path / "talk.vrma")], tmp_path / "talk.vrma"),
                       (["-o", str(tmp_path / "talk.bin"), "--format", "vrma"],
                        tmp_path / "talk.bin")):
        proc = subprocess.run([sys.executable, "-m", "visemic", "animate", str(spoken_wav),
                               *args, "-q"], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        doc, _ = load_glb(path.read_bytes())
        assert doc["animations"][0]["name"] == Path(spoken_wav).stem
    assert formats.resolve_format("x.VRMA") == "vrma" and formats.is_binary("vrma")
    # Batch: one .vrma per item.
    lines = tmp_path / "lines"
    lines.mkdir()
    shutil.copy(spoken_wav, lines / "hello.wav")
    proc = subprocess.run([sys.executable, "-m", "visemic", "batch", str(lines), "-o",
                           str(tmp_path / "out"), "--format", "vrma,json", "--workers", "1"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    doc, _ = load_glb((tmp_path / "out" / "hello.vrma").read_bytes())
    assert "VRMC_vrm_animation" in doc["extensions"]


def _npm(root: Path, *packages: str) -> None:
    if shutil.which("npm") is None:
        pytest.skip("needs npm")
    install = subprocess.run(["npm", "install", "--prefix", str(root), "--silent", *packages],
                             capture_output=True, timeout=180)
    if install.returncode != 0:
        pytest.skip("npm could not install " + " ".join(packages) + " (offline?)")


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js for the validator")
def test_khronos_validator_finds_no_issue(happy, tmp_path):
    root = tmp_path / "gv"
    _npm(root, "gltf-validator@2.0.0-dev.3.10")
    path = tmp_path / "talk.vrma"
    formats.save(happy, path)
    script = ("const v=require('gltf-validator');const fs=require('fs');"
              "v.validateBytes(new Uint8Array(fs.readFileSync(process.argv[1])))"
              ".then(r=>console.log(JSON.stringify(r.issues)))")
    proc = subprocess.run(["node", "-e", script, str(path)], capture_output=True, text=True,
                          timeout=60, cwd=root)
    assert proc.returncode == 0, proc.stderr
    issues = json.loads(proc.stdout)
    assert issues["numErrors"] == 0 and issues["numWarnings"] == 0, issues
    # Information only: the validator does not know the VRM extension, and expression nodes
    # carry nothing but their animated translation.
    assert {m["code"] for m in issues["messages"]} <= {"UNSUPPORTED_EXTENSION", "NODE_EMPTY"}


# three-vrm in the browser: load the model and the animation as an app does, then sample.
HARNESS = """<!doctype html><meta charset="utf-8">
<script type="importmap">{"imports": {
  "three": "/vendor/three/three.module.min.js",
  "three/addons/": "/vendor/three/addons/",
  "@pixiv/three-vrm": "/vendor/three-vrm/three-vrm.module.min.js",
  "@pixiv/three-vrm-animation": "/vendor/three-vrm/three-vrm-animation.module.min.js"}}
</script>
<script type="module">
import * as THREE from "three";
import { GLTFLoader } from "three/addons/loaders/GLTFLoader.js";
import { VRMLoaderPlugin } from "@pixiv/three-vrm";
import { VRMAnimationLoaderPlugin, VRMLookAtQuaternionProxy, createVRMAnimationClip }
  from "@pixiv/three-vrm-animation";
window.sample = async (frames, fps, names) => {
  const loader = new GLTFLoader();
  loader.register((p) => new VRMLoaderPlugin(p));
  loader.register((p) => new VRMAnimationLoaderPlugin(p));
  const vrm = (await loader.loadAsync("/model.vrm")).userData.vrm;
  const proxy = new VRMLookAtQuaternionProxy(vrm.lookAt);
  proxy.name = "lookAtProxy";
  vrm.scene.add(proxy);
  const anim = (await loader.loadAsync("/talk.vrma")).userData.vrmAnimations[0];
  const clip = createVRMAnimationClip(anim, vrm);
  const mixer = new THREE.AnimationMixer(vrm.scene);
  mixer.clipAction(clip).play();
  let face = null;
  vrm.scene.traverse((o) => { if (o.morphTargetInfluences && !face) face = o; });
  const out = [];
  for (const k of frames) {
    mixer.setTime(k / fps);
    vrm.update(0);
    out.push({
      weights: names.map((n) => vrm.expressionManager.getValue(n)),
      morphs: Array.from(face.morphTargetInfluences),
      head: vrm.humanoid.getNormalizedBoneNode("head").quaternion.toArray(),
      yaw: vrm.lookAt.yaw, pitch: vrm.lookAt.pitch,
    });
  }
  return { out, duration: clip.duration, tracks: clip.tracks.map((t) => t.name) };
};
window.ready = true;
</script>"""


def serve_files(page, files: dict[str, bytes]) -> None:
    """Answer http://visemic.test/… from ``files`` and the web page's vendored scripts."""
    def handle(route):
        path = route.request.url.split("visemic.test", 1)[1].split("?")[0]
        if path.startswith("/vendor/"):
            body = (WEB_DIR / path.lstrip("/")).read_bytes()
            return route.fulfill(status=200, body=body, content_type="text/javascript")
        if path in files:
            return route.fulfill(status=200, body=files[path],
                                 content_type="text/html" if path.endswith(".html")
                                 else "application/octet-stream")
        return route.fulfill(status=404, body=b"")
    page.route("http://visemic.test/**", handle)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("needs Chromium at /usr/bin/chromium (apt install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM),
                              args=["--headless", "--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def test_three_vrm_plays_it_on_a_vrm_model(browser, happy):
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    serve_files(page, {"/index.html": HARNESS.encode(), "/model.vrm": build_vrm(),
                       "/talk.vrma": formats.render_bytes(happy, "vrma")})
    page.goto("http://visemic.test/index.html")
    page.wait_for_function("window.ready === true")
    anim = happy.animation
    frames = list(range(0, anim.frames, 7))
    got = page.evaluate("([f, fps, names]) => window.sample(f, fps, names)",
                        [frames, anim.fps, list(vrm.EXPRESSIONS)])
    page.close()
    assert errors == []
    assert abs(got["duration"] - (anim.frames - 1) / anim.fps) < 1e-3
    assert "lookAtProxy.quaternion" in got["tracks"]
    want = vrma.expression_weights(happy)
    head = gltf.head_quaternions(*(anim.channel(h) for h in arkit.HEAD))
    yaw, pitch = vrma.gaze(happy, slice(None))
    weights = np.array([s["weights"] for s in got["out"]])
    assert np.allclose(weights, want[frames], atol=1e-4)
    # The model's morph targets (one per expression, weight 1) show the same weights.
    assert np.allclose(np.array([s["morphs"] for s in got["out"]]), want[frames], atol=1e-4)
    assert weights[:, :5].max() > 0.5 and weights[:, vrm.EXPRESSIONS.index("happy")].max() > 0.7
    q = np.array([s["head"] for s in got["out"]])
    same = np.minimum(np.abs(q - head[frames]).max(axis=1), np.abs(q + head[frames]).max(axis=1))
    assert same.max() < 1e-4
    assert np.allclose([s["yaw"] for s in got["out"]], yaw[frames], atol=0.05)
    assert np.allclose([s["pitch"] for s in got["out"]], pitch[frames], atol=0.05)
