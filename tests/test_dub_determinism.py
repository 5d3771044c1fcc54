"""Dubbing is repeatable: the same inputs give the same bytes, and frames played backward (the
ping-pong that covers speech longer than the video) are exactly the source's frames, also in
MPEG program streams, where seeking lands late."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

import visemic
from visemic.audio import load, save_wav
from visemic.dub import playback
from visemic.types import Audio
from visemic.video import decode


@pytest.fixture(scope="module")
def talking_mpg(tmp_path_factory) -> Path:
    """The built-in avatar speaking, as MPEG-1 in an MPEG program stream (12-frame GOPs with
    B-frames, as the GRID corpus's clips are), with its speech."""
    folder = tmp_path_factory.mktemp("mpg")
    result = visemic.say("We will meet at the station at nine, and then we walk home.",
                       still=True, seed=1)
    mp4 = result.save(folder / "talking.mp4", size=(192, 192), fps=25)
    out = folder / "talking.mpg"
    rate = 44100
    with av.open(str(out), "w", format="mpeg") as o:
        v = o.add_stream("mpeg1video", rate=25)
        v.width, v.height, v.pix_fmt = 192, 192, "yuv420p"
        v.options = {"g": "12", "bf": "2", "qscale": "3"}
        a = o.add_stream("mp2", rate=rate, layout="mono")
        for f in decode.frames(mp4):
            vf = av.VideoFrame.from_ndarray(f.image, format="rgb24")
            vf.pts, vf.time_base = f.index, Fraction(1, 25)
            for p in v.encode(vf):
                o.mux(p)
        for p in v.encode(None):
            o.mux(p)
        samples = load(mp4, rate=rate).samples
        for k in range(0, len(samples), 1152):
            block = samples[k:k + 1152]
            af = av.AudioFrame.from_ndarray(block[None, :].astype(np.float32), format="fltp",
                                            layout="mono")
            af.sample_rate, af.pts, af.time_base = rate, k, Fraction(1, rate)
            for p in a.encode(af):
                o.mux(p)
        for p in a.encode(None):
            o.mux(p)
    return out


@pytest.fixture(scope="module")
def longer_speech(tmp_path_factory) -> Path:
    """Speech about twice as long as the clip, with a pause: the video plays back and forth."""
    a = visemic.say("Open the box.")
    b = visemic.say("Move along, please, move along now, and then we all go home, where the "
                    "fire is warm and the lights are on.")
    gap = np.zeros(int(0.6 * a.audio.sample_rate), np.float32)
    samples = np.concatenate([a.audio.samples, gap, b.audio.samples])
    return save_wav(Audio(samples, a.audio.sample_rate),
                    tmp_path_factory.mktemp("speech") / "speech.wav")


def test_frames_played_backward_are_the_source_frames(talking_mpg):
    forward = list(decode.frames(talking_mpg))
    times = np.array([f.time for f in forward])
    n = len(forward)
    chunk = 192 * 192 * 3 * 20  # bytes: 20 frames at a time, so it seeks several times
    assert n > 2 * 20
    backward = list(playback._backward(str(talking_mpg), times, n - 2, 1, budget=chunk))
    assert [k for k, _ in backward] == list(range(n - 2, 0, -1))
    for k, image in backward:
        assert np.array_equal(image, forward[k].image), f"frame {k} is not the source's"


def test_a_dub_is_byte_identical_run_to_run(talking_mpg, longer_speech, tmp_path):
    digests = []
    for run in range(2):
        plan = visemic.dub(talking_mpg, longer_speech, language="en")
        assert plan.frames > len(list(decode.frames(talking_mpg)))  # ping-pong
        out = plan.save(tmp_path / f"run{run}.mp4")
        digests.append(hashlib.sha256(out.read_bytes()).hexdigest())
    assert digests[0] == digests[1]
