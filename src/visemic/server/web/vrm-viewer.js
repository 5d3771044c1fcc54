// The VRM viewer: a VRM 1.0 model the user drops in, playing visemic's VRM Animation (.vrma,
// made by the server from the same recording) in time with the audio. three.js and three-vrm
// are served with the page (/static/vendor, see vendor/README.md) and only loaded once a model
// is dropped, so the rest of the page never waits for them.
import * as THREE from "three";
import { GLTFLoader } from "three/addons/loaders/GLTFLoader.js";
import { VRMLoaderPlugin, VRMUtils } from "@pixiv/three-vrm";
import {
  VRMAnimationLoaderPlugin, VRMLookAtQuaternionProxy, createVRMAnimationClip,
} from "@pixiv/three-vrm-animation";

// The expressions visemic animates, shown as meters beside the model.
export const EXPRESSIONS = ["aa", "ih", "ou", "ee", "oh", "blink", "blinkLeft", "blinkRight",
  "happy", "angry", "sad", "relaxed", "surprised"];

function loader() {
  const l = new GLTFLoader();
  l.register((parser) => new VRMLoaderPlugin(parser));
  l.register((parser) => new VRMAnimationLoaderPlugin(parser));
  return l;
}

export class VrmViewer {
  constructor(canvas) {
    this.canvas = canvas;
    this.scene = new THREE.Scene();
    this.camera = new THREE.PerspectiveCamera(24, 1, 0.05, 20);
    this.scene.add(new THREE.HemisphereLight(0xffffff, 0x667788, 2.2));
    const sun = new THREE.DirectionalLight(0xffffff, 1.6);
    sun.position.set(0.5, 1.5, 2);
    this.scene.add(sun);
    this.vrm = null;
    this.mixer = null;
    this.clipDuration = 0;
    this.lastUpdate = null; // performance.now() of the last update (spring bones need the step)
    try {
      this.renderer = new THREE.WebGLRenderer({ canvas, antialias: true, alpha: true });
      this.renderer.setPixelRatio(window.devicePixelRatio || 1);
    } catch (err) {
      // No WebGL (some locked-down or GPU-less browsers): the animation still runs and the
      // meters show it; only the picture is missing.
      this.renderer = null;
      this.renderError = String(err.message || err);
    }
  }

  // Load a .vrm (File or ArrayBuffer); replaces any model shown before.
  async loadModel(source) {
    const bytes = source instanceof ArrayBuffer ? source : await source.arrayBuffer();
    const gltf = await loader().parseAsync(bytes, "");
    const vrm = gltf.userData.vrm;
    if (!vrm) throw new Error("not a VRM model (no VRMC_vrm or VRM extension)");
    if (this.vrm) {
      this.scene.remove(this.vrm.scene);
      VRMUtils.deepDispose(this.vrm.scene);
    }
    VRMUtils.rotateVRM0(vrm); // VRM 0.x models face −Z; turn them to face the camera too
    const proxy = new VRMLookAtQuaternionProxy(vrm.lookAt);
    proxy.name = "lookAtQuaternionProxy";
    vrm.scene.add(proxy);
    this.scene.add(vrm.scene);
    this.vrm = vrm;
    this.mixer = null;
    this.frameHead();
    return vrm;
  }

  // Point the camera at the head (or the whole model when it has none).
  frameHead() {
    const head = this.vrm.humanoid.getNormalizedBoneNode("head");
    this.vrm.scene.updateMatrixWorld(true);
    const target = new THREE.Vector3();
    if (head) head.getWorldPosition(target).add(new THREE.Vector3(0, 0.05, 0));
    else new THREE.Box3().setFromObject(this.vrm.scene).getCenter(target);
    this.camera.position.set(target.x, target.y, target.z + 1.1);
    this.camera.lookAt(target);
  }

  // The .vrma bytes (ArrayBuffer) to play on the loaded model.
  async setAnimation(bytes) {
    if (!this.vrm) throw new Error("load a VRM model first");
    const gltf = await loader().parseAsync(bytes, "");
    const animation = gltf.userData.vrmAnimations && gltf.userData.vrmAnimations[0];
    if (!animation) throw new Error("no VRM animation in the file");
    const clip = createVRMAnimationClip(animation, this.vrm);
    this.mixer = new THREE.AnimationMixer(this.vrm.scene);
    this.mixer.clipAction(clip).play();
    this.clipDuration = clip.duration;
  }

  // Show the animation at `time` seconds (the audio's current time) and draw.
  update(time) {
    const now = performance.now();
    const delta = this.lastUpdate === null ? 0 : (now - this.lastUpdate) / 1000;
    this.lastUpdate = now;
    if (!this.vrm) return;
    if (this.mixer) this.mixer.setTime(Math.min(Math.max(time, 0), this.clipDuration));
    this.vrm.update(delta);
    if (this.renderer) {
      const { clientWidth: w, clientHeight: h } = this.canvas;
      if (w && h && (this.canvas.width !== w || this.canvas.height !== h)) {
        this.renderer.setSize(w, h, false);
        this.camera.aspect = w / h;
        this.camera.updateProjectionMatrix();
      }
      this.renderer.render(this.scene, this.camera);
    }
  }

  // Current expression weights as the model sees them, and the gaze.
  weights() {
    const out = {};
    if (!this.vrm || !this.vrm.expressionManager) return out;
    for (const name of EXPRESSIONS) out[name] = this.vrm.expressionManager.getValue(name) || 0;
    return out;
  }

  headQuaternion() {
    const head = this.vrm && this.vrm.humanoid.getNormalizedBoneNode("head");
    return head ? head.quaternion.toArray() : null;
  }
}
