"""Emotion through the server: the ``emotion`` form field of ``POST /v1/animate`` (sync, jobs,
video with the avatar and with a portrait) and the WebSocket's emotion control message."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from test_server import at_16k, pcm16, transcript, wait_job

from visemic.motion.curves import MAX_STEP_60
from visemic.server.app import create_app
from visemic.server.streaming import StreamLimits
from visemic.stream.engine import LOOKAHEAD

SMILE = ("mouthSmileLeft", "mouthSmileRight")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    # The test reads frames only after sending the whole stream: room for all of them.
    limits = StreamLimits(queue_frames=5000)
    app = create_app(tmp_path_factory.mktemp("emotion") / "data", stream_limits=limits)
    with TestClient(app) as c:
        yield c


def animate(client, wav: bytes, **fields) -> dict:
    r = client.post("/v1/animate", files={"audio": ("a.wav", wav)}, data=fields)
    assert r.status_code == 200, r.text
    return r.json()


def smile(result: dict) -> np.ndarray:
    channels = result["animation"]["channels"]
    values = np.array(result["animation"]["values"])
    return values[:, [channels.index(c) for c in SMILE]].mean(axis=1)


@pytest.fixture(scope="module")
def neutral(client, spoken, spoken_wav) -> dict:
    return animate(client, spoken_wav.read_bytes(), text=transcript(spoken[1]))


# ---------------------------------------------------------------------------------------------
# POST /v1/animate


def test_emotion_field_reaches_the_result(client, spoken, spoken_wav, neutral):
    happy = animate(client, spoken_wav.read_bytes(), text=transcript(spoken[1]),
                    emotion="happy:0.9")
    assert neutral["settings"]["expression"]["emotion"] == {"neutral": 1.0}
    assert happy["settings"]["expression"]["emotion"] == {"happy": 0.9}
    # Same speech, same timeline: the corners rise throughout, by most of the happy pose's smile.
    assert happy["timeline"]["phones"] == neutral["timeline"]["phones"]
    rise = smile(happy) - smile(neutral)
    assert np.median(rise) > 0.4 and rise.min() > -0.05
    spec = client.get("/openapi.json").json()
    form = spec["paths"]["/v1/animate"]["post"]["requestBody"]["content"]
    field = form["multipart/form-data"]["schema"]["properties"]["emotion"]
    assert "surprised" in field["description"]


def test_bad_emotion_is_a_400_naming_the_problem(client, spoken_wav):
    wav = spoken_wav.read_bytes()
    cases = [("glad", "unknown emotion 'glad'"), ("happy:2", "between 0 and 1"),
             ("happy:lots", "must be a number"), ("happy:", "missing intensity"),
             ("happy,,sad", "malformed"), ("x" * 500, "too long")]
    for mix, reason in cases:
        for query in ("", "?async=1"):
            r = client.post(f"/v1/animate{query}", files={"audio": ("a.wav", wav)},
                            data={"emotion": mix, "format": "csv"})
            assert r.status_code == 400, (mix, r.text)
            error = r.json()["error"]
            assert error.startswith("emotion") and reason in error, error
    # Blank means neutral, as when the field is left out.
    r = client.post("/v1/animate", files={"audio": ("a.wav", wav)},
                    data={"emotion": "  ", "format": "rhubarb-tsv"})
    assert r.status_code == 200


def test_async_job_keeps_the_emotion(client, spoken, spoken_wav, neutral):
    wav = spoken_wav.read_bytes()
    fields = {"format": "csv", "text": transcript(spoken[1]), "emotion": "Happy:0.5, sad:0.2"}
    r = client.post("/v1/animate?async=1", files={"audio": ("a.wav", wav)}, data=fields)
    assert r.status_code == 202, r.text
    job = wait_job(client.get, r.json()["id"])
    assert job["status"] == "done", job
    # Read back from the job database: the request as checked, in its canonical form.
    assert job["request"]["emotion"] == "happy:0.5,sad:0.2"
    assert client.get("/v1/jobs").json()["jobs"][0]["request"]["emotion"] == "happy:0.5,sad:0.2"
    csv = client.get(job["result"]).text.splitlines()
    header = csv[0].split(",")
    rows = np.array([[float(v) for v in line.split(",")[2:]] for line in csv[1:]])
    left = rows[:, header.index("MouthSmileLeft") - 2]
    assert np.median(left) > np.median(smile(neutral)) + 0.2
    # The same request answered at once gives the same bytes.
    direct = client.post("/v1/animate", files={"audio": ("a.wav", wav)}, data=fields)
    assert direct.text.splitlines() == csv


def first_frame(video: bytes) -> np.ndarray:
    import av

    with av.open(io.BytesIO(video)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return frames[len(frames) // 2].astype(np.float32)


@pytest.mark.parametrize("fmt, portrait", [("mp4", False), ("webm", True)])
def test_video_shows_the_emotion(client, spoken, face, tmp_path, fmt, portrait):
    """The same second of speech rendered neutral and happy: the pictures differ in the face."""
    import cv2

    from visemic.audio import save_wav
    from visemic.types import Audio

    audio = spoken[0]
    wav = tmp_path / "short.wav"
    save_wav(Audio(audio.samples[: int(1.0 * audio.sample_rate)], audio.sample_rate), wav)
    files = {"audio": ("a.wav", wav.read_bytes())}
    if portrait:
        files["portrait"] = ("p.png", cv2.imencode(".png", face[:, :, ::-1])[1].tobytes())
    shots = {}
    for emotion in ("", "happy:1"):
        r = client.post("/v1/animate", files=files,
                        data={"format": fmt, "fps": "30", "emotion": emotion})
        assert r.status_code == 200, r.text
        shots[emotion] = first_frame(r.content)
    diff = np.abs(shots["happy:1"] - shots[""]).mean(axis=2)
    h, w = diff.shape
    # The lower half of the face (mouth corners, cheeks) changes; the corners of the picture do
    # not.
    assert diff[h // 2: 3 * h // 4, w // 3: 2 * w // 3].mean() > 3.0, diff.mean()
    assert diff[: h // 8, : w // 8].mean() < 1.0


# ---------------------------------------------------------------------------------------------
# WebSocket /v1/stream


def stream(client, pcm: bytes, controls: dict[int, object], chunk: int = 3200) -> list[dict]:
    """Send ``pcm`` in chunks, the control message ``controls[i]`` before chunk ``i``, then
    ``end``; return the frames (after checking the stream ended well)."""
    with client.websocket_connect("/v1/stream") as ws:
        for n, i in enumerate(range(0, len(pcm), chunk)):
            if n in controls:
                ws.send_text(json.dumps(controls[n]))
            ws.send_bytes(pcm[i:i + chunk])
        ws.send_text("end")
        frames = []
        while True:
            m = ws.receive_json()
            if "values" not in m:
                assert m == {"done": True}, m
                break
            frames.append(m)
        assert ws.receive()["code"] == 1000
    return frames


def frame_smile(frames: list[dict]) -> np.ndarray:
    return np.array([np.mean([f["values"][c] for c in SMILE]) for f in frames])


def test_control_message_eases_the_face_mid_stream(client, spoken):
    pcm = pcm16(at_16k(spoken[0]))
    chunk = 3200  # 0.1 s
    n = len(pcm) // chunk
    on, off = n // 3, 2 * n // 3
    reference = frame_smile(stream(client, pcm, {}))
    frames = stream(client, pcm, {on: {"emotion": {"happy": 1}, "ease": 0.3},
                                  off: {"emotion": None, "ease": 0.5}})
    values = frame_smile(frames)
    assert len(values) == len(reference)
    times = np.array([f["time"] for f in frames])
    changed = np.flatnonzero(np.abs(values - reference) > 1e-4)
    # Frames computed before the message keep the old emotion: the first changed frame is the
    # first one whose look-ahead had not yet arrived when the message came.
    t_on = on * chunk / 2 / 16000
    assert t_on - LOOKAHEAD - 0.1 <= times[changed[0]] <= t_on - LOOKAHEAD + 0.05, \
        (times[changed[0]], t_on)
    start = changed[0]
    rise = values - reference
    assert np.abs(np.diff(values)).max() <= MAX_STEP_60 + 1e-6  # no jump beyond the step limit
    # Eased in over 0.3 s: a few hundredths a frame at first. The same change with ease 0 jumps
    # by the step limit at once.
    assert rise[start:start + 4].max() < 0.06, rise[start:start + 4]
    instant = frame_smile(stream(client, pcm, {on: {"emotion": "happy", "ease": 0}}))
    first = np.flatnonzero(np.abs(instant - reference) > 1e-4)[0]
    assert instant[first] - reference[first] > MAX_STEP_60 - 0.05
    # Smiling while happy (the middle third), back to the reference after null eased out.
    t_off = off * chunk / 2 / 16000
    middle = (times > times[start] + 0.4) & (times < t_off - LOOKAHEAD - 0.1)
    assert np.median(rise[middle]) > 0.5
    late = times > t_off + 0.5 + 0.2
    assert np.abs(rise[late]).max() < 0.02


def test_bad_control_message_closes_1003(client):
    cases = [
        ("{oops", "not valid JSON"),
        ('{"emotion": "glad"}', "unknown emotion 'glad'; known: neutral, happy"),
        ('{"emotion": {"happy": 1.5}}', "between 0 and 1"),
        ('{"emotion": 3}', "must be a mix string"),
        ('{"emotion": "happy", "ease": -1}', '"ease" must be'),
        ('{"emotion": "happy", "ease": "slow"}', '"ease" must be'),
        ('{"mood": "happy"}', "unknown key 'mood'"),
        ('{"ease": 1}', 'no "emotion"'),
        ("[1, 2]", "unexpected text message"),
        ('{"emotion": "' + "happy," * 1000 + '"}', "too long"),
    ]
    for message, reason in cases:
        with client.websocket_connect("/v1/stream") as ws:
            ws.send_bytes(bytes(3200))
            ws.send_text(message)
            replies = []
            while (m := ws.receive())["type"] == "websocket.send":
                replies.append(json.loads(m["text"]))
            # Oversized is 1009, "message too big" (issue 22); the rest 1003.
            assert m["code"] == (1009 if reason == "too long" else 1003), (message, m)
            error = replies[-1]["error"]
            assert reason in error, error
    # A good message with no audio at all is fine.
    with client.websocket_connect("/v1/stream?emotion=sad") as ws:
        ws.send_text('{"emotion": "happy:0.6,surprised:0.3", "ease": 0}')
        ws.send_text("end")
        assert ws.receive_json() == {"done": True}
