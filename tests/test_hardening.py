"""Hostile and careless input (issue 22): each case ends in correct output or a user error."""

from __future__ import annotations

import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from visemic import audio as audio_io
from visemic.errors import VisemicError


def multichannel_wav(path: Path, channels: int, seconds: float = 1.0,
                     rate: int = 16000) -> np.ndarray:
    """A PCM WAV with ``channels`` channels of noise; returns the expected mono mix."""
    rng = np.random.default_rng(channels)
    pcm = (rng.standard_normal((int(seconds * rate), channels)) * 3000).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return pcm.astype(np.float64).mean(axis=1) / 32768


def multichannel_flac(path: Path, layout: str = "7.1", rate: int = 16000) -> None:
    import av

    channels = len(av.AudioLayout(layout).channels)
    rng = np.random.default_rng(0)
    pcm = (rng.standard_normal((1, rate * channels)) * 3000).astype(np.int16)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("flac", rate=rate, layout=layout)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout=layout)
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


# --- 1. any channel count is mixed down -------------------------------------------------------

_LOAD = "import sys; from visemic import audio; print(audio.load(sys.argv[1]).samples.size)"


@pytest.mark.parametrize("channels", [2, 8, 12, 24])
def test_wav_of_many_channels_is_mixed_down(tmp_path, channels):
    path = tmp_path / f"c{channels}.wav"
    expected = multichannel_wav(path, channels)
    # In a child first: before the fix, 8+ channels killed the process with SIGSEGV.
    done = subprocess.run([sys.executable, "-c", _LOAD, str(path)], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr[-500:]
    got = audio_io.load(path).samples
    assert got.size == expected.size
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_flac_of_eight_channels_is_mixed_down(tmp_path):
    path = tmp_path / "c8.flac"
    multichannel_flac(path)
    done = subprocess.run([sys.executable, "-c", _LOAD, str(path)], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.strip() == "16000"


# --- 2. fps is bounded everywhere -------------------------------------------------------------

TINY_FPS = ["1e-9", "1e-320", "0.5", "241", "1e308", "inf", "nan", "-60", "x"]


@pytest.fixture(scope="module")
def short_wav(tmp_path_factory) -> Path:
    from visemic.phonetics import espeak

    audio, _ = espeak.synthesize("Hello there.", "en-us")
    path = tmp_path_factory.mktemp("short") / "hello.wav"
    audio_io.save_wav(audio, path)
    return path


@pytest.mark.parametrize("fps", TINY_FPS)
def test_fps_is_bounded_in_the_api_and_cli(short_wav, tmp_path, capsys, fps):
    import visemic
    from visemic.cli import main
    from visemic.limits import check_fps

    with pytest.raises(VisemicError, match="fps"):
        check_fps(fps)
    value = float(fps) if fps != "x" else fps
    with pytest.raises(VisemicError, match="fps"):
        visemic.animate(short_wav, fps=value)
    with pytest.raises(VisemicError, match="fps"):
        visemic.say("hi", fps=value)
    code = main(["animate", str(short_wav), "-o", str(tmp_path / "out.json"), "--fps", fps])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error:") and "fps" in err and err.count("\n") == 1
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("fps", ["1e-9", "1e-320", "1e999"])
def test_fps_is_bounded_in_batch_stream_and_server(short_wav, tmp_path, fps):
    from fastapi.testclient import TestClient

    from visemic.batch.inputs import Defaults, discover
    from visemic.server.app import create_app
    from visemic.stream.engine import StreamAnimator

    manifest = tmp_path / "items.csv"
    manifest.write_text(f"audio,fps\n{short_wav},{fps}\n")
    (item,) = discover(manifest, Defaults())
    assert item.problem and "fps" in item.problem
    with pytest.raises(VisemicError, match="fps"):
        StreamAnimator(fps=float(fps))
    with TestClient(create_app(data_dir=tmp_path / "data", workers=1)) as client:
        r = client.post("/v1/animate", files={"audio": ("a.wav", short_wav.read_bytes())},
                        data={"fps": fps})
        assert r.status_code == 400 and "fps" in r.json()["error"]
        with client.websocket_connect(f"/v1/stream?fps={fps}") as ws:
            assert "fps" in ws.receive_json()["error"]


# --- 5. NaN and infinite samples are refused --------------------------------------------------

def float_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    import av

    with av.open(str(path), "w", format="wav") as out:
        stream = out.add_stream("pcm_f32le", rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples.astype(np.float32)[None, :], format="flt",
                                           layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("rate", [16000, 44100])
def test_nan_or_inf_samples_are_refused(short_wav, tmp_path, capsys, bad, rate):
    from visemic.cli import main

    samples = 0.1 * np.sin(np.arange(rate) * 0.05)
    samples[rate // 2] = bad
    path = float_wav(tmp_path / "bad.wav", samples, rate)
    with pytest.raises(VisemicError, match="NaN or infinite"):
        audio_io.load(path)
    out = tmp_path / "out.json"
    assert main(["animate", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "NaN or infinite" in err and not out.exists()
    with pytest.raises(VisemicError, match="NaN or infinite"):
        audio_io.from_array(samples, rate)
