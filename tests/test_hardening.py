"""Hostile and careless input (issue 22): each case ends in correct output or a user error."""

from __future__ import annotations

import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from visemic import audio as audio_io


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
