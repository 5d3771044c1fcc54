// The visemic web page: analyse a dropped audio file (POST /v1/animate) and play it back on the
// avatar, with downloads made as server jobs; or drive the avatar live from the microphone over
// the WebSocket /v1/stream. The emotion control applies to both: a form field of the analysis,
// and for the live stream a query option at connect and a control message when it changes.
import { Avatar, sampleAnimation } from "./avatar.js";

const $ = (id) => document.getElementById(id);
const avatar = new Avatar($("avatar"));

// What the page is doing, readable by scripts (the browser tests read it).
const state = {
  mode: "file", analysed: false, frames: 0, streamFrames: 0, maxJawOpen: 0, maxGap: 0,
  lastTime: 0, done: false, downloads: [], error: null, lastFrameTime: -1, outOfOrder: 0,
  emotion: "", analysedEmotion: null, smile: 0, emotionMessages: 0,
  vrmModel: false, vrmAnimated: false, vrmWeights: {}, vrmHead: null, vrmTime: -1,
  dubProgress: [],
};
window.visemicState = state;
window.visemicAvatar = avatar;

const DOWNLOADS = [
  ["csv", "Live Link Face CSV"],
  ["rhubarb-tsv", "Rhubarb TSV"],
  ["rhubarb-xml", "Rhubarb XML"],
  ["phones", "Phones (IPA) JSON"],
  ["gltf", "glTF animation (ARKit morph targets)"],
  ["vrma", "VRM Animation (.vrma)"],
  ["mp4", "Avatar video (MP4)"],
];

// ------------------------------------------------------------------------------------------
// shared

function status(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
  if (isError) state.error = text;
}

function authHeaders() {
  const key = $("api-key").value.trim();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

$("api-key").value = localStorage.getItem("visemic-api-key") || "";
$("api-key").addEventListener("change", () => {
  localStorage.setItem("visemic-api-key", $("api-key").value.trim());
});

// Submit a form as a job, follow its progress on `bar` (and `onProgress(fraction)`), and
// return the result as a Blob.
async function runJob(url, body, bar, onProgress = () => {}) {
  const submitted = await fetch(url, { method: "POST", body, headers: authHeaders() });
  if (!submitted.ok) throw new Error(await errorText(submitted));
  let job = await submitted.json();
  while (job.status === "queued" || job.status === "running") {
    await new Promise((r) => setTimeout(r, 400));
    const polled = await fetch(`/v1/jobs/${job.id}`, { headers: authHeaders() });
    if (!polled.ok) throw new Error(await errorText(polled));
    job = await polled.json();
    bar.value = job.progress;
    onProgress(job.progress);
  }
  if (job.status !== "done") throw new Error(job.error || job.status);
  const got = await fetch(job.result, { headers: authHeaders() });
  if (!got.ok) throw new Error(await errorText(got));
  return got.blob();
}

async function errorText(response) {
  try {
    const body = await response.json();
    return body.error || JSON.stringify(body);
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

function show(values, head, viseme) {
  avatar.set(values, head);
  state.smile = ((values.mouthSmileLeft || 0) + (values.mouthSmileRight || 0)) / 2;
  const jaw = values.jawOpen || 0;
  const gap = Math.max(0, jaw - (values.mouthClose || 0));
  const round = Math.max(values.mouthFunnel || 0, values.mouthPucker || 0);
  $("m-jaw").style.width = `${Math.round(jaw * 100)}%`;
  $("m-gap").style.width = `${Math.round(Math.min(1, gap * 2) * 100)}%`;
  $("m-round").style.width = `${Math.round(round * 100)}%`;
  if (viseme) $("viseme").textContent = viseme;
  state.maxJawOpen = Math.max(state.maxJawOpen, jaw);
  state.maxGap = Math.max(state.maxGap, gap);
}

function setTab(mode) {
  state.mode = mode;
  for (const [tab, pane, m] of [["tab-file", "pane-file", "file"], ["tab-mic", "pane-mic", "mic"],
    ["tab-dub", "pane-dub", "dub"]]) {
    $(tab).classList.toggle("active", m === mode);
    $(tab).setAttribute("aria-selected", String(m === mode));
    $(pane).hidden = m !== mode;
  }
  if (mode !== "mic") stopMic();
  if (mode !== "file") $("player").pause();
}
$("tab-file").addEventListener("click", () => setTab("file"));
$("tab-mic").addEventListener("click", () => setTab("mic"));
$("tab-dub").addEventListener("click", () => setTab("dub"));

// ------------------------------------------------------------------------------------------
// dub a video: POST /v1/dub (a job), follow its progress, show and offer the result

$("dub-video").addEventListener("change", () => {
  $("dub-btn").disabled = !$("dub-video").files.length;
});
$("dub-btn").addEventListener("click", async () => {
  const video = $("dub-video").files[0];
  const format = $("dub-format").value;
  const body = new FormData();
  body.append("video", video);
  if ($("dub-audio").files.length) body.append("audio", $("dub-audio").files[0]);
  if ($("dub-mouth").files.length) body.append("mouth_from", $("dub-mouth").files[0]);
  if ($("dub-text").value.trim()) body.append("text", $("dub-text").value.trim());
  // empty: the server detects the language from the speech, as `visemic dub` does
  if ($("dub-language").value.trim()) body.append("language", $("dub-language").value.trim());
  body.append("face", String(Math.max(0, Math.floor(Number($("dub-face").value) || 0))));
  body.append("format", format);
  const emotion = emotionMix(); // the emotion control above applies to the dub's mouth too
  if (emotion) body.append("emotion", emotion);
  const bar = $("dub-progress");
  bar.hidden = false;
  bar.value = 0;
  $("dub-btn").disabled = true;
  $("dub-download").textContent = "";
  $("dub-result").hidden = true;
  if ($("dub-result").src.startsWith("blob:")) URL.revokeObjectURL($("dub-result").src);
  state.dubProgress = [];
  status("dubbing… 0 %");
  try {
    const blob = await runJob("/v1/dub", body, bar, (p) => {
      state.dubProgress.push(p);
      status(`dubbing… ${Math.round(p * 100)} %`);
    });
    const url = URL.createObjectURL(blob);
    $("dub-result").src = url;
    $("dub-result").hidden = false;
    const name = `${video.name.replace(/\.[^.]*$/, "") || "video"}.dubbed.${format}`;
    const a = document.createElement("a");
    a.href = url;
    a.download = name;
    a.textContent = `Download ${name}`;
    $("dub-download").append(a);
    status("dubbed");
  } catch (err) {
    status(`dub failed: ${err.message}`, true);
  } finally {
    bar.hidden = true;
    $("dub-btn").disabled = false;
  }
});

// ------------------------------------------------------------------------------------------
// emotion: a name and an intensity, sent as a mix string ("happy:0.70"; "" is neutral)

const EMOTION_EASE = 0.3; // seconds the live face takes to ease to a new emotion
const EMOTION_INTERVAL = 150; // ms between control messages while the slider is dragged

function emotionMix() {
  const name = $("emotion").value;
  return name === "neutral" ? "" : `${name}:${Number($("intensity").value).toFixed(2)}`;
}

fetch("/health").then((r) => r.json()).then((health) => {
  for (const name of health.emotions || []) {
    if (name === "neutral") continue;
    const option = document.createElement("option");
    option.value = name;
    option.textContent = name;
    $("emotion").append(option);
  }
}).catch(() => {}); // without the list the page still works, neutral only

function emotionChanged() {
  state.emotion = emotionMix();
  $("intensity").disabled = $("emotion").value === "neutral";
  $("intensity-value").textContent = Number($("intensity").value).toFixed(2);
  if (mic) sendEmotion();
  else if (result && result.emotion !== state.emotion) {
    status("Emotion changed: press Animate to apply it to the recording.");
  }
}
$("emotion").addEventListener("change", emotionChanged);
$("intensity").addEventListener("input", emotionChanged);

// The live face eases to the new emotion; while the slider moves, at most one message per
// EMOTION_INTERVAL, the last one always sent.
function sendEmotion() {
  if (!mic || mic.socket.readyState !== WebSocket.OPEN) return;
  clearTimeout(mic.emotionTimer);
  const wait = mic.emotionSentAt + EMOTION_INTERVAL - performance.now();
  if (wait > 0) {
    mic.emotionTimer = setTimeout(sendEmotion, wait);
    return;
  }
  mic.emotionSentAt = performance.now();
  const mix = emotionMix();
  mic.socket.send(JSON.stringify({ emotion: mix || null, ease: EMOTION_EASE }));
  state.emotionMessages += 1;
}

// ------------------------------------------------------------------------------------------
// audio file → full result → playback

let file = null;
let result = null; // the full JSON result: {animation: {fps, channels, values}, visemes, …}
                   // plus .emotion, the mix it was made with (downloads use the same)

function chooseFile(f) {
  if (!f) return;
  file = f;
  $("drop-text").innerHTML = "";
  const name = document.createElement("strong");
  name.textContent = f.name;
  $("drop-text").append(name, ` — ${(f.size / 1024).toFixed(0)} KB, ready`);
  $("animate-btn").disabled = false;
  status("");
}

// A drop zone (a label around a file input): a chosen or dropped file goes to `choose`.
function dropZone(zone, input, choose) {
  input.addEventListener("change", (e) => choose(e.target.files[0]));
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    choose(e.dataTransfer.files[0]);
  });
}
dropZone($("drop"), $("audio-file"), chooseFile);

$("portrait-file").addEventListener("change", (e) => {
  const image = e.target.files[0];
  $("portrait-thumb").hidden = !image;
  if (image) $("portrait-thumb").src = URL.createObjectURL(image);
  const mp4 = document.querySelector("li[data-format=mp4] .name");
  if (mp4) mp4.textContent = image ? "Portrait video (MP4)" : "Avatar video (MP4)";
});

function form(format, emotion) {
  const data = new FormData();
  data.append("audio", file, "audio");
  const portrait = $("portrait-file").files[0];
  if (portrait && (format === "mp4" || format === "webm")) {
    data.append("portrait", portrait, "portrait");
  }
  const text = $("transcript").value.trim();
  if (text) data.append("text", text);
  data.append("language", $("language").value.trim() || "en");
  data.append("format", format);
  if (emotion) data.append("emotion", emotion);
  return data;
}

$("animate-btn").addEventListener("click", async () => {
  if (!file) return;
  $("animate-btn").disabled = true;
  status("Analysing…");
  state.analysed = false;
  const started = performance.now();
  const emotion = emotionMix();
  try {
    const response = await fetch("/v1/animate", {
      method: "POST", body: form("json", emotion), headers: authHeaders(),
    });
    if (!response.ok) throw new Error(await errorText(response));
    const text = await response.text();
    result = JSON.parse(text);
    result.emotion = emotion;
    state.analysedEmotion = emotion;
    const anim = result.animation;
    state.analysed = true;
    state.frames = anim.values.length;
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const phones = result.timeline.phones.length;
    status(`Analysed ${result.audio.duration.toFixed(1)} s of speech in ${seconds} s: ` +
      `${phones} phones, ${anim.values.length} frames at ${anim.fps} fps` +
      (emotion ? `, ${emotion.replace(":", " ")}.` : "."));
    $("frame-count").textContent = `${anim.values.length} frames · ${anim.channels.length} channels`;
    offerDownloads(new Blob([text], { type: "application/json" }));
    const player = $("player");
    player.src = URL.createObjectURL(file);
    player.hidden = false;
    player.play().catch(() => status("Press play to watch the avatar speak."));
    animateVrm();
  } catch (err) {
    status(`Error: ${err.message}`, true);
  } finally {
    $("animate-btn").disabled = false;
  }
});

function visemeAt(t) {
  const cues = (result && result.visemes && result.visemes.rhubarb) || [];
  for (const cue of cues) if (t >= cue.start && t < cue.end) return cue.value;
  return "X";
}

function tick() {
  const player = $("player");
  if (state.mode === "file" && result && !player.hidden) {
    const t = player.currentTime;
    if (!player.paused || t !== state.lastTime) {
      const frame = sampleAnimation(result.animation, t);
      show(frame.values, frame.head, visemeAt(t));
      state.lastTime = t;
    }
  }
  if (viewer) {
    viewer.update(player.currentTime);
    if (viewer.mixer) {
      state.vrmWeights = viewer.weights();
      state.vrmHead = viewer.headQuaternion();
      state.vrmTime = player.currentTime;
      showVrmMeters(state.vrmWeights);
    }
  }
  requestAnimationFrame(tick);
}
requestAnimationFrame(tick);

function link(li, blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.textContent = "download";
  li.append(a);
  state.downloads.push(name);
}

function offerDownloads(jsonBlob) {
  const list = $("download-list");
  list.innerHTML = "";
  state.downloads = [];
  const li = document.createElement("li");
  li.innerHTML = '<span class="name">Full result (JSON)</span>';
  li.dataset.format = "json";
  link(li, jsonBlob, "visemic.json");
  list.append(li);
  for (const [format, label] of DOWNLOADS) {
    const item = document.createElement("li");
    item.dataset.format = format;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = format === "mp4" && $("portrait-file").files[0]
      ? "Portrait video (MP4)" : label;
    const button = document.createElement("button");
    button.textContent = "make";
    button.addEventListener("click", () => makeDownload(item, button, format));
    item.append(name, button);
    list.append(item);
  }
  $("downloads").hidden = false;
}

const EXTENSIONS = {
  csv: "csv", "rhubarb-tsv": "tsv", "rhubarb-xml": "xml", phones: "json", gltf: "gltf",
  vrma: "vrma", mp4: "mp4",
};

// Each download is a server job: submit, follow its progress, fetch the result.
async function makeDownload(item, button, format) {
  button.remove();
  const bar = document.createElement("progress");
  bar.max = 1;
  bar.value = 0;
  item.append(bar);
  try {
    const blob = await runJob("/v1/animate?async=1", form(format, result.emotion), bar);
    bar.remove();
    link(item, blob, `visemic.${EXTENSIONS[format] || format}`);
  } catch (err) {
    bar.remove();
    const span = document.createElement("span");
    span.className = "small";
    span.textContent = `failed: ${err.message}`;
    item.append(span);
  }
}

// ------------------------------------------------------------------------------------------
// live microphone → WebSocket → avatar

let mic = null; // {stream, context, node, socket}

async function startMic() {
  $("mic-btn").disabled = true;
  $("mic-state").textContent = "starting…";
  state.streamFrames = 0;
  state.done = false;
  state.lastFrameTime = -1;
  try {
    const media = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false,
        autoGainControl: false },
    });
    const context = new AudioContext();
    await context.audioWorklet.addModule("/static/pcm-worklet.js");
    const source = context.createMediaStreamSource(media);
    const node = new AudioWorkletNode(context, "pcm-downsampler");
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const params = new URLSearchParams({ language: $("language").value.trim() || "en" });
    const emotion = emotionMix();
    if (emotion) params.set("emotion", emotion);
    const key = $("api-key").value.trim();
    if (key) params.set("api_key", key);
    const socket = new WebSocket(`${scheme}://${location.host}/v1/stream?${params}`);
    socket.binaryType = "arraybuffer";
    mic = { media, context, node, socket, sent: 0, started: performance.now(),
      emotion, emotionSentAt: 0, emotionTimer: null };
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = () => reject(new Error("cannot open the WebSocket /v1/stream"));
    });
    socket.onmessage = (event) => onFrame(JSON.parse(event.data));
    // the emotion may have changed while the socket was opening
    if (emotionMix() !== emotion) sendEmotion();
    socket.onclose = (event) => {
      if (event.code !== 1000 && event.code !== 1005) {
        status(`Stream closed: ${event.reason || event.code}`, true);
      }
      stopMic(false);
    };
    const live = mic;
    node.port.onmessage = (event) => {
      if (socket.readyState === WebSocket.OPEN) {
        socket.send(event.data);
        live.sent += event.data.byteLength / 2;
      }
    };
    source.connect(node);
    // keep the graph pulling audio without playing the microphone back
    const mute = context.createGain();
    mute.gain.value = 0;
    node.connect(mute).connect(context.destination);
    $("mic-btn").textContent = "Stop";
    $("mic-btn").classList.add("live");
    $("mic-state").textContent = "live";
    status("Listening…");
  } catch (err) {
    status(`Microphone: ${err.message}`, true);
    stopMic(false);
  } finally {
    $("mic-btn").disabled = false;
  }
}

function onFrame(message) {
  if (message.error) {
    status(`Stream: ${message.error}`, true);
    return;
  }
  if (message.done) {
    state.done = true;
    return;
  }
  state.streamFrames += 1;
  if (message.time <= state.lastFrameTime) state.outOfOrder += 1;
  state.lastFrameTime = message.time;
  show(message.values, message.head, message.viseme);
  const heard = mic ? mic.sent / 16000 : 0;
  const behind = Math.max(0, heard - message.time);
  $("mic-stats").textContent = `${state.streamFrames} frames · ${message.time.toFixed(1)} s ` +
    `of audio · frame ${Math.round(behind * 1000)} ms behind the audio sent`;
  $("frame-count").textContent = `${state.streamFrames} live frames`;
}

function stopMic(sendEnd = true) {
  if (!mic) return;
  const { media, context, socket } = mic;
  clearTimeout(mic.emotionTimer);
  mic = null;
  media.getTracks().forEach((t) => t.stop());
  context.close();
  if (sendEnd && socket.readyState === WebSocket.OPEN) socket.send("end");
  $("mic-btn").textContent = "Start microphone";
  $("mic-btn").classList.remove("live");
  $("mic-state").textContent = "off";
  if (state.error === null) status("Microphone off.");
}

$("mic-btn").addEventListener("click", () => (mic ? stopMic() : startMic()));

// ------------------------------------------------------------------------------------------
// VRM viewer: a dropped .vrm plays the server's .vrma of the analysed recording

let viewer = null; // a VrmViewer once a model has been dropped (./vrm-viewer.js, loaded then)
let vrmFor = null; // the result whose animation the viewer plays

function vrmStatus(text, isError = false) {
  $("vrm-status").textContent = text;
  $("vrm-status").classList.toggle("error", isError);
  if (isError) state.error = text;
}

function showVrmMeters(weights) {
  const list = $("vrm-meters");
  if (!list.children.length) {
    for (const name of Object.keys(weights)) {
      const li = document.createElement("li");
      li.innerHTML = `${name}<i><b data-name="${name}"></b></i>`;
      list.append(li);
    }
  }
  for (const bar of list.querySelectorAll("b")) {
    bar.style.width = `${Math.round((weights[bar.dataset.name] || 0) * 100)}%`;
  }
}

async function chooseVrm(f) {
  if (!f) return;
  vrmStatus(`Loading ${f.name}…`);
  try {
    if (!viewer) {
      const { VrmViewer } = await import("./vrm-viewer.js");
      viewer = new VrmViewer($("vrm-canvas"));
    }
    const vrm = await viewer.loadModel(f);
    vrmFor = null;
    state.vrmModel = true;
    state.vrmAnimated = false;
    const name = (vrm.meta && (vrm.meta.name || vrm.meta.title)) || f.name;
    $("vrm-drop-text").textContent = `${name} — drop another to replace it`;
    const next = result ? "" : " Animate a recording to see it speak.";
    vrmStatus(viewer.renderer ? `Model loaded.${next}` : `Model loaded (no WebGL here: `
      + `${viewer.renderError}; the meters still follow the animation).${next}`);
    await animateVrm();
  } catch (err) {
    vrmStatus(`Error: ${err.message}`, true);
  }
}

// Fetch the .vrma of the current recording (same audio, transcript and emotion) for the model.
async function animateVrm() {
  if (!viewer || !viewer.vrm || !result || !file || vrmFor === result) return;
  const made = result;
  vrmFor = made;
  vrmStatus("Making the VRM animation…");
  try {
    const response = await fetch("/v1/animate", {
      method: "POST", body: form("vrma", made.emotion), headers: authHeaders(),
    });
    if (!response.ok) throw new Error(await errorText(response));
    const bytes = await response.arrayBuffer();
    if (made !== result) return; // a newer analysis replaced it meanwhile
    await viewer.setAnimation(bytes);
    state.vrmAnimated = true;
    vrmStatus(`Playing the VRM animation (${(bytes.byteLength / 1024).toFixed(0)} KB) with the`
      + " audio.");
  } catch (err) {
    vrmFor = null;
    vrmStatus(`Error: ${err.message}`, true);
  }
}

dropZone($("vrm-drop"), $("vrm-file"), chooseVrm);
