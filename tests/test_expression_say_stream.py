"""Expression beyond ``animate``: ``visemic.say`` and ``visemic say`` take the same expression
settings, and the streaming engine (``StreamAnimator``, ``visemic stream``, the server's
WebSocket) lays an emotion over live speech, changeable while it runs, with the lips still
sealing on /p b m/."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soxr

import visemic
from visemic.cli import main
from visemic.errors import VisemicError
from visemic.motion import arkit
from visemic.motion.emotion_poses import EMOTIONS
from visemic.stream.engine import StreamAnimator

BILABIAL_TEXT = "Maybe my mother bought a map. Bob will bring both boxes back by noon."


def ch(anim, name):
    return anim.channel(name).astype(np.float64)


# ------------------------------------------------------------------------------------ say()


@pytest.fixture(scope="module")
def said():
    """say() of BILABIAL_TEXT, neutral and with every emotion at full intensity (seed 3)."""
    out = {name: visemic.say(BILABIAL_TEXT, seed=3,
                             emotion=None if name == "neutral" else {name: 1.0})
           for name in EMOTIONS}
    out["settings"] = visemic.say(BILABIAL_TEXT, emotion="happy:0.6,surprised:0.3",
                                  style="clear", blink_rate=30, head_motion=0.5, seed=7)
    out["still"] = visemic.say(BILABIAL_TEXT, emotion="sad", still=True)
    return out


def test_say_records_and_applies_the_expression(said):
    expr = said["settings"].settings["expression"]
    assert expr["emotion"] == {"happy": 0.6, "surprised": 0.3}
    assert expr["style"]["articulation"] > 1.0   # "clear" articulates more
    assert (expr["blink_rate"], expr["head_motion"], expr["seed"]) == (30.0, 0.5, 7)
    neutral = said["neutral"].animation
    for name, channels in {"angry": ["browDownLeft", "browDownRight", "eyeSquintLeft"],
                           "disgusted": ["noseSneerLeft", "noseSneerRight"],
                           "happy": ["mouthSmileLeft", "cheekSquintRight"],
                           "surprised": ["eyeWideLeft", "browInnerUp"]}.items():
        anim = said[name].animation
        for c in channels:
            assert ch(anim, c).mean() - ch(neutral, c).mean() > 0.25, (name, c)
    still = said["still"].animation
    for c in arkit.HEAD:
        assert np.ptp(ch(still, c)) == 0.0


@pytest.mark.parametrize("name", list(EMOTIONS))
def test_say_keeps_bilabials_sealed(said, name):
    res = said[name]
    anim = res.animation
    gap = ch(anim, "jawOpen") - ch(anim, "mouthClose")
    mids = [(p.start + p.end) / 2 for p in res.timeline.phones if p.symbol in ("p", "b", "m")]
    assert len(mids) >= 12
    assert max(gap[int(round(t * anim.fps))] for t in mids) <= 0.05


def test_say_rejects_bad_expression():
    for kwargs, message in [({"emotion": "joy"}, "unknown emotion 'joy'"),
                            ({"emotion": "sad:2"}, "between 0 and 1"),
                            ({"blink_rate": -1}, "blink rate"),
                            ({"style": "shouty"}, "style")]:
        with pytest.raises(VisemicError, match=message):
            visemic.say("Hello there.", **kwargs)


def test_say_cli_expression_flags(tmp_path, capsys):
    out = tmp_path / "angry.json"
    track = tmp_path / "track.csv"
    track.write_text('time,emotion\n0,neutral\n0.6,neutral\n0.9,"angry:0.9"\n')
    assert main(["say", "Put the map back.", "-o", str(out), "-q", "--emotion-track",
                 str(track), "--seed", "4", "--head-motion", "0.5"]) == 0
    data = json.loads(out.read_text())
    expr = data["settings"]["expression"]
    assert expr["emotion"][2] == {"time": 0.9, "emotion": {"angry": 0.9}}
    assert expr["seed"] == 4 and expr["head_motion"] == 0.5
    names = data["animation"]["channels"]
    values = np.array(data["animation"]["values"])
    brow = values[:, names.index("browDownLeft")]
    fps = data["animation"]["fps"]
    assert brow[: int(0.5 * fps)].max() < 0.05 and brow[-5:].min() > 0.6

    capsys.readouterr()
    assert main(["say", "Hello.", "-o", str(tmp_path / "x.json"), "--emotion", "joy"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown emotion 'joy'") and err.count("\n") == 1
    assert not (tmp_path / "x.json").exists()


# ------------------------------------------------------------------------------------ stream


@pytest.fixture(scope="module")
def speech16k():
    """BILABIAL_TEXT spoken by espeak-ng at 16 kHz int16, and its phone timeline."""
    from visemic.phonetics import espeak

    audio, tl = espeak.synthesize(BILABIAL_TEXT, "en-us")
    x = soxr.resample(audio.samples, audio.sample_rate, 16000)
    pcm = np.concatenate([np.zeros(8000), x, np.zeros(8000)])
    return (np.clip(pcm, -1, 1) * 32767).astype(np.int16), tl


def stream(pcm: np.ndarray, switch: tuple[float, str] | None = None, **kwargs) -> list:
    """All frames of a stream fed 20 ms chunks (with ``switch`` = (time, mix): set_emotion
    called once that much audio has gone in)."""
    eng = StreamAnimator(sample_rate=16000, fps=60, **kwargs)
    frames = []
    for i in range(0, len(pcm), 320):
        if switch is not None and i >= switch[0] * 16000:
            eng.set_emotion(switch[1])
            switch = None
        frames += eng.push(pcm[i:i + 320])
    return frames + eng.flush()


def values(frames, name: str) -> np.ndarray:
    return np.array([f.values[arkit.INDEX[name]] for f in frames], np.float64)


@pytest.fixture(scope="module")
def streamed(speech16k):
    pcm, _ = speech16k
    out = {name: stream(pcm, emotion=None if name == "neutral" else {name: 1.0})
           for name in ("neutral", "angry", "surprised", "happy")}
    out["switch"] = stream(pcm, switch=(1.5, "happy"))
    return out


def test_stream_emotion_moves_its_channels(streamed):
    neutral = streamed["neutral"]
    assert len(streamed["angry"]) == len(neutral)
    for name, channels in {"angry": ["browDownLeft", "browDownRight", "eyeSquintLeft",
                                     "noseSneerRight"],
                           "surprised": ["browInnerUp", "eyeWideRight"],
                           "happy": ["cheekSquintLeft", "mouthSmileRight"]}.items():
        for c in channels:
            lift = values(streamed[name], c).mean() - values(neutral, c).mean()
            assert lift > 0.25, (name, c)
    # Posture: angry lowers the head (pitch down), surprised lifts it.
    pitch = {n: np.mean([f.head[1] for f in streamed[n]]) for n in ("neutral", "angry",
                                                                    "surprised")}
    assert pitch["angry"] > pitch["neutral"] + 2.0 > pitch["surprised"] + 3.0
    for frames in streamed.values():
        v = np.stack([f.values for f in frames])
        assert v.min() >= 0.0 and v.max() <= 1.0
        assert np.abs(np.diff(v, axis=0)).max() <= 0.3 + 1e-6


def test_stream_emotion_keeps_closed_lips_closed(streamed):
    """Where the neutral stream has the lips together (closures, pauses), the emotion does not
    part them; and it still opens where speech opens."""
    neutral = streamed["neutral"]
    gap0 = values(neutral, "jawOpen") - values(neutral, "mouthClose")
    closed = gap0 < 0.01
    assert closed.sum() > 60
    for name in ("angry", "surprised", "happy"):
        frames = streamed[name]
        gap = values(frames, "jawOpen") - values(frames, "mouthClose")
        assert gap[closed].max() <= 0.05, name
        assert gap.max() > 0.2, name


def test_stream_set_emotion_eases_in(streamed):
    frames = streamed["switch"]
    smile = values(frames, "mouthSmileLeft")
    cheek = values(frames, "cheekSquintLeft")
    t = np.array([f.time for f in frames])
    assert cheek[t < 1.3].max() == 0.0          # neutral before the switch (frames lag 80 ms)
    assert cheek[t > 2.0].min() > 0.6           # happy after it
    assert smile[t > 2.0].mean() > 0.5
    rising = cheek[(t > 1.3) & (t < 2.0)]
    assert np.all(np.diff(rising) >= -1e-6) and np.abs(np.diff(rising)).max() < 0.1


def test_stream_emotion_errors():
    with pytest.raises(VisemicError, match="unknown emotion 'joy'"):
        StreamAnimator(emotion="joy")
    eng = StreamAnimator()
    with pytest.raises(VisemicError, match="between 0 and 1"):
        eng.set_emotion("sad:3")
    with pytest.raises(VisemicError, match="ease"):
        eng.set_emotion("sad", ease=-1)


def test_stream_cli_emotion(tmp_path, speech16k, capsys):
    from visemic.audio import save_wav
    from visemic.types import Audio

    pcm, _ = speech16k
    wav = tmp_path / "speech.wav"
    save_wav(Audio(pcm.astype(np.float32) / 32768, 16000), wav)
    out = tmp_path / "frames.jsonl"
    assert main(["stream", str(wav), "--no-realtime", "-o", str(out), "-q",
                 "--emotion", "angry:0.8"]) == 0
    frames = [json.loads(line) for line in out.read_text().splitlines()]
    brow = np.array([f["values"]["browDownLeft"] for f in frames])
    assert len(frames) > 100 and brow[10:].min() > 0.7
    capsys.readouterr()
    assert main(["stream", str(wav), "--no-realtime", "-o", str(tmp_path / "b.jsonl"),
                 "--emotion", "happy:7"]) == 2
    assert "between 0 and 1" in capsys.readouterr().err


def test_server_stream_takes_an_emotion(tmp_path, speech16k):
    from fastapi.testclient import TestClient

    from visemic.server.app import create_app

    pcm, _ = speech16k
    with TestClient(create_app(tmp_path)) as c:
        with c.websocket_connect("/v1/stream?emotion=disgusted:0.9") as ws:
            data = pcm[:16000].tobytes()
            for i in range(0, len(data), 6400):
                ws.send_bytes(data[i:i + 6400])
            ws.send_text("end")
            frames = []
            while "done" not in (m := ws.receive_json()):
                frames.append(m)
        sneer = np.array([f["values"]["noseSneerLeft"] for f in frames])
        assert len(frames) == 60 and sneer[20:].min() > 0.8
        with c.websocket_connect("/v1/stream?emotion=joy") as ws:
            assert "unknown emotion" in ws.receive_json()["error"]
            closing = ws.receive()
            assert closing["type"] == "websocket.close" and closing["code"] == 1008
