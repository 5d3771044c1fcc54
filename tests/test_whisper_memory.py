"""Whisper's memory: the int8 copy of a model (the same numbers, a smaller load), log-Mel
features in blocks (bit for bit), and the model freed once its words are out."""

from __future__ import annotations

import shutil
import struct

import numpy as np
import pytest

from visemic import audio as audio_io
from visemic.phonetics import asr_models, ct2_int8, whisper


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VISEMIC_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_int8_copy_encodes_bit_for_bit(spoken, cache):
    """The encoder's output from the int8 copy equals the one from the float16 file quantised
    by CTranslate2 at load, so recognition is unchanged."""
    from faster_whisper import WhisperModel
    from faster_whisper.audio import pad_or_trim

    resolved = asr_models.resolve("tiny.en")
    folder = asr_models.int8_folder(resolved)
    assert folder.parent == cache and folder != resolved.path
    assert not ct2_int8.is_int8(resolved.path / "model.bin")
    assert ct2_int8.is_int8(folder / "model.bin")
    # Weights of one byte instead of two: about half the file.
    assert (folder / "model.bin").stat().st_size < 0.55 * (resolved.path / "model.bin").stat(
        ).st_size
    original = WhisperModel(str(resolved.path), device="cpu", compute_type="int8", cpu_threads=1)
    copy = WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=1)
    samples = audio_io.load(spoken[0]).samples
    features = pad_or_trim(original.feature_extractor(samples))
    a, b = np.array(original.encode(features)), np.array(copy.encode(features))
    assert a.shape == b.shape and np.array_equal(a, b)


def test_int8_copy_is_made_once_and_rebuilt_when_damaged(cache):
    resolved = asr_models.resolve("tiny.en")
    folder = asr_models.int8_folder(resolved)
    mtime = (folder / "model.bin").stat().st_mtime_ns
    assert asr_models.int8_folder(resolved) == folder
    assert (folder / "model.bin").stat().st_mtime_ns == mtime  # not written again
    assert {p.name for p in folder.iterdir()} >= {"config.json", "tokenizer.json",
                                                   "vocabulary.txt", "model.bin"}
    with open(folder / "model.bin", "r+b") as fp:
        fp.seek(5000)
        fp.write(b"\x7f" * 32)
    again = asr_models.int8_folder(resolved)
    assert again == folder and ct2_int8.is_int8(again / "model.bin")
    assert asr_models.sha256_of(again / "model.bin") == (again / "model.bin.sha256").read_text(
        ).strip()


def test_int8_copy_of_a_model_already_int8_is_the_model(cache, tmp_path):
    folder = asr_models.int8_folder(asr_models.resolve("tiny.en"))
    mine = tmp_path / "mine"
    shutil.copytree(folder, mine)
    resolved = asr_models.resolve(str(mine))
    assert asr_models.int8_folder(resolved) == mine


def test_unknown_file_layout_is_loaded_as_it_is(cache, tmp_path):
    mine = tmp_path / "mine"
    shutil.copytree(asr_models.resolve("tiny.en").path, mine)
    with open(mine / "model.bin", "r+b") as fp:
        fp.write(struct.pack("<I", 99))  # a binary version this module does not know
    assert asr_models.int8_folder(asr_models.ResolvedModel("mine", mine, None)) == mine


def test_quantisation_per_row():
    rows = np.array([[0.5, -1.0, 0.25], [0, 0, 0], [3.0, 1.5, -0.75]], np.float16)
    q, scale = ct2_int8.quantize_rows(rows)
    assert q.dtype == np.int8 and scale.dtype == np.float32
    assert q[0].tolist() == [64, -127, 32] and scale[0] == np.float32(127)
    assert q[1].tolist() == [0, 0, 0] and scale[1] == 1  # an all-zero row
    assert q[2].tolist() == [127, 64, -32]  # 63.5 and -31.75 rounded half to even / nearest


@pytest.mark.parametrize("seconds", [0.0, 0.01, 3.0, 10.0, 10.01, 30.0, 65.3, 181.0])
def test_log_mel_in_blocks_is_faster_whispers_bit_for_bit(seconds):
    from faster_whisper.feature_extractor import FeatureExtractor

    fe = FeatureExtractor()
    rng = np.random.default_rng(int(seconds * 100))
    t = np.arange(int(seconds * 16000)) / 16000
    samples = (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(t))
               + 0.05 * rng.standard_normal(len(t))).astype(np.float32)
    whole = fe(samples)
    blocks = whisper.log_mel(fe, samples)
    assert whole.shape == blocks.shape and whole.dtype == blocks.dtype
    assert np.array_equal(whole, blocks)


def test_model_freed_after_recognition_unless_kept(spoken, cache):
    audio = audio_io.load(spoken[0])  # at 16 kHz
    heard = whisper.recognise(audio, "en")
    assert heard.model == "tiny.en" and heard.text
    assert not whisper._loaded
    whisper.keep_loaded(True)
    try:
        assert whisper.recognise(audio, "en").text == heard.text
        assert len(whisper._loaded) == 1
    finally:
        whisper.keep_loaded(False)
        whisper.release()
    assert not whisper._loaded
