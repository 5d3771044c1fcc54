"""A WAV file of 16-bit PCM at 16 kHz is read without ffmpeg: the same samples, errors and
durations as PyAV gives (issue 22: PyAV's libraries are 18 MB resident)."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from visemic import audio as audio_io
from visemic.errors import VisemicError

WAVE_FORMAT_EXTENSIBLE = 0xFFFE


def _wav(path, pcm: np.ndarray, rate: int = 16000, chunks_before: bytes = b"",
         chunks_after: bytes = b"", data_size: int | None = None, bits: int = 16,
         tag: int = 1, riff_size: int | None = None) -> None:
    channels = pcm.shape[1] if pcm.ndim == 2 else 1
    data = pcm.astype("<i2").tobytes() if bits == 16 else pcm.astype("u1").tobytes()
    align = channels * bits // 8
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, bits)
    if tag == WAVE_FORMAT_EXTENSIBLE:  # valid bits, channel mask, sub-format (PCM's GUID)
        fmt += struct.pack("<HHI", 22, bits, 0) + bytes.fromhex(
            "0100000000001000800000aa00389b71")
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + chunks_before + b"data"
            + struct.pack("<I", len(data) if data_size is None else data_size) + data
            + chunks_after)
    riff = len(body) if riff_size is None else riff_size
    path.write_bytes(b"RIFF" + struct.pack("<I", riff) + body)


def _by_ffmpeg(path, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(audio_io, "pcm_wav", lambda _path: None)
        try:
            return audio_io.load(path).samples, audio_io.probe_duration(path)
        except VisemicError as e:
            return str(e), audio_io.probe_duration(path)


rng = np.random.default_rng(7)
SPEECH = (rng.standard_normal(16000 * 2 + 3) * 6000).clip(-32768, 32767)
CASES = {
    "mono": dict(pcm=SPEECH),
    "extremes": dict(pcm=np.array([-32768, 32767, 0, 1, -1] * 4000)),
    "stereo": dict(pcm=np.stack([SPEECH, SPEECH[::-1]], axis=1)),
    "three channels": dict(pcm=np.stack([SPEECH, -SPEECH, SPEECH / 3], axis=1)),
    "chunks around the data": dict(pcm=SPEECH, chunks_before=b"LIST" + struct.pack("<I", 5)
                                   + b"INFOx\0", chunks_after=b"junk" + struct.pack("<I", 4)
                                   + b"abcd"),
    "44.1 kHz": dict(pcm=SPEECH, rate=44100),
    "8-bit": dict(pcm=(SPEECH / 256 + 128).clip(0, 255), bits=8),
    "data longer than the file": dict(pcm=SPEECH, data_size=len(SPEECH) * 2 + 4000),
    "streamed (size 0)": dict(pcm=SPEECH, data_size=0),
    # The RIFF size as streaming writers leave it: ffmpeg (and this reader) go by the chunks.
    "RIFF size 0": dict(pcm=SPEECH, riff_size=0),
    "RIFF size too small": dict(pcm=SPEECH, riff_size=1000),
    "RIFF size unknown": dict(pcm=SPEECH, riff_size=0xFFFFFFFF),
    "extensible format": dict(pcm=SPEECH, tag=WAVE_FORMAT_EXTENSIBLE),  # ffmpeg's to read
}


@pytest.mark.parametrize("case", CASES)
def test_wav_read_as_ffmpeg_reads_it(tmp_path, monkeypatch, case):
    path = tmp_path / "x.wav"
    _wav(path, **CASES[case])
    expected, declared = _by_ffmpeg(path, monkeypatch)
    direct = audio_io.pcm_wav(path) is not None
    assert direct == (case in ("mono", "extremes", "stereo", "three channels",
                               "chunks around the data", "44.1 kHz", "RIFF size 0",
                               "RIFF size too small", "RIFF size unknown"))
    try:
        got = audio_io.load(path).samples
    except VisemicError as e:
        got = str(e)
    if isinstance(expected, str):
        assert got == expected
    else:
        assert got.dtype == np.float32 and got.shape == expected.shape
        assert np.array_equal(got, expected)
    assert audio_io.probe_duration(path) == declared


def test_wav_read_in_chunks_and_within_the_limit(tmp_path):
    path = tmp_path / "x.wav"
    _wav(path, np.tile(SPEECH, 12))  # 24 s
    chunks = list(audio_io.stream(path, chunk_seconds=10.0))
    assert [len(c) for c in chunks[:2]] == [160000, 160000]
    assert np.array_equal(np.concatenate(chunks), audio_io.load(path).samples)
    with audio_io.duration_limit(15.0), pytest.raises(VisemicError, match="limit of 15 s"):
        list(audio_io.stream(path))
