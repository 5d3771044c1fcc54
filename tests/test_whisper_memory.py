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


def test_halves_encode_and_decode_as_the_whole_model_bit_for_bit(spoken, cache):
    """The encoder half encodes and the decoder half decodes exactly as the whole model."""
    import ctranslate2
    from faster_whisper.audio import pad_or_trim
    from faster_whisper.feature_extractor import FeatureExtractor

    folder = asr_models.int8_folder(asr_models.resolve("tiny.en"))
    halves = asr_models.halves(folder)
    assert halves is not None and all(h.parent.parent == cache for h in halves)
    sizes = [(h / "model.bin").stat().st_size for h in halves]
    whole_size = (folder / "model.bin").stat().st_size
    assert sizes[0] < 0.3 * whole_size and sizes[1] < 0.8 * whole_size  # each its own weights

    def load(path):
        return ctranslate2.models.Whisper(str(path), device="cpu", compute_type="int8",
                                          intra_threads=1)

    features = pad_or_trim(FeatureExtractor()(audio_io.load(spoken[0]).samples))[None]
    whole = load(folder)
    encoded = whole.encode(ctranslate2.StorageView.from_array(features))
    prompt = [[50257, 50362]]  # <|startoftranscript|><|notimestamps|> (English only)
    expected = whole.generate(encoded, prompt, beam_size=1, return_scores=True)[0]
    del whole
    split = whisper.Halves(load(halves[0]), halves, 1)
    assert split.is_multilingual is False and split.n_mels == 80
    mine = split.encode(ctranslate2.StorageView.from_array(features))
    assert np.array_equal(np.array(mine), np.array(encoded))
    got = split.generate(mine, prompt, beam_size=1, return_scores=True)[0]
    assert got.sequences_ids == expected.sequences_ids and len(got.sequences_ids[0]) > 3
    assert got.scores == expected.scores


def test_halves_made_once_and_rebuilt_when_damaged(cache):
    folder = asr_models.int8_folder(asr_models.resolve("tiny.en"))
    encoder, decoder = asr_models.halves(folder)
    mtime = (encoder / "model.bin").stat().st_mtime_ns
    assert asr_models.halves(folder) == (encoder, decoder)
    assert (encoder / "model.bin").stat().st_mtime_ns == mtime  # not written again
    assert {p.name for p in decoder.iterdir()} >= {"config.json", "tokenizer.json", "model.bin"}
    with open(decoder / "model.bin", "r+b") as fp:
        fp.seek(5000)
        fp.write(b"\x7f" * 32)
    assert asr_models.halves(folder) == (encoder, decoder)
    assert asr_models.sha256_of(decoder / "model.bin") == (
        decoder / "model.bin.sha256").read_text().strip()


def test_halves_of_a_model_that_is_not_whispers_are_none(cache, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    with open(mine / "model.bin", "wb") as out:
        out.write(struct.pack("<I", 6))
        ct2_int8._put_string(out, "TransformerSpec")
        out.write(struct.pack("<II", 1, 0))
    assert asr_models.halves(mine) is None


def test_lean_tokenizer_decodes_as_the_library():
    import random

    import tokenizers

    from visemic.phonetics.whisper_tokens import LeanTokenizer

    path = asr_models.resolve("tiny.en").path / "tokenizer.json"
    library = tokenizers.Tokenizer.from_file(str(path))
    lean = LeanTokenizer(library, path)
    text = " Umm, naïve café — 你好 ♪"
    ids = library.encode(text, add_special_tokens=False).ids
    assert lean.encode(text, add_special_tokens=False).ids == ids
    lean.done()
    n = library.get_vocab_size(with_added_tokens=True)
    assert all(lean.decode([i]) == library.decode([i]) for i in range(n))
    rng = random.Random(0)
    for _ in range(500):  # special tokens skipped; bytes split across tokens joined or replaced
        seq = [rng.randrange(n) for _ in range(rng.randrange(1, 12))]
        assert lean.decode(seq) == library.decode(seq)
    assert lean.decode(ids) == library.decode(ids) == text
    for token in ("<|endoftext|>", "<|notimestamps|>", "<|0.00|>", "hello"):
        assert lean.token_to_id(token) == library.token_to_id(token)
    assert lean.encode(text, add_special_tokens=False).ids == ids  # remembered


def test_recognition_leaves_out_what_it_does_not_use(spoken, cache, tmp_path):
    """Recognising loads the model in halves with the lean tokenizer, and imports none of the
    libraries only later stages use (resident beside Whisper's peak otherwise)."""
    import subprocess
    import sys

    wav = audio_io.save_wav(audio_io.load(spoken[0]), tmp_path / "spoken.wav")  # 16 kHz
    other = audio_io.save_wav(spoken[0], tmp_path / "spoken-22k.wav")  # resampled by ffmpeg

    code = (
        "import sys\n"
        "import visemic, visemic.api, visemic.phonetics.align, visemic.phonetics.recognize\n"
        "import visemic.motion.expression, visemic.outputs.formats\n"
        "from visemic import audio\n"
        "from visemic.phonetics import whisper\n"
        "whisper.keep_loaded(True)\n"
        f"heard = whisper.recognise(audio.load({str(wav)!r}), 'en')\n"
        "model = next(iter(whisper._loaded.values()))\n"
        "print(heard.text)\n"
        "print(type(model.model).__name__, type(model.hf_tokenizer).__name__)\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'scipy', 'num2words', 'cv2', 'mediapipe', 'onnxruntime', 'torch', 'av'})) or '-')\n"
        # PyAV, deferred while faster-whisper was imported, loads where it is needed.
        f"print(len(audio.load({str(other)!r}).samples), type(sys.modules['av']).__name__)\n"
        "import faster_whisper.audio\n"
        f"print(len(faster_whisper.audio.decode_audio({str(wav)!r})))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out[0].strip()
    assert out[1] == "Halves LeanTokenizer"
    assert out[2] == "-"
    assert out[3] == f"{round(spoken[0].duration * 16000)} module"
    assert int(out[4]) == len(audio_io.load(wav).samples)


def test_long_file_recognised_with_one_model_load(spoken, tmp_path, monkeypatch):
    """A long file's segments are all recognised first, with one model (not one load each),
    and then aligned: the same words and times as each segment analysed on its own."""
    import visemic
    from visemic import api
    from visemic.phonetics import segmenter
    from visemic.phonetics import timeline as timeline_mod
    from visemic.types import Audio

    speech = spoken[0]
    gap = np.zeros(speech.sample_rate // 2, np.float32)
    long = np.concatenate([speech.samples, gap] * 5)
    path = tmp_path / "long.wav"
    audio_io.save_wav(Audio(long, speech.sample_rate), path)
    monkeypatch.setattr(api, "LONG_FILE", 5.0)
    monkeypatch.setattr(segmenter, "WHISPER_BOUNDS", (4.0, 8.0))
    loads = []
    real = whisper._whisper_model
    monkeypatch.setattr(whisper, "_whisper_model", lambda *a: loads.append(a) or real(*a))
    res = visemic.animate(path, language="en")
    assert len(loads) == 1 and not whisper._loaded
    expected = []
    for offset, samples in segmenter.segments(audio_io.stream(path),
                                              bounds=segmenter.WHISPER_BOUNDS):
        tl, _ = timeline_mod.analyse_speech(Audio(samples, audio_io.RATE), language="en")
        expected += [(w.text, round(w.start + offset / audio_io.RATE, 6)) for w in tl.words]
    assert len(loads) > 2  # once a segment, analysed one by one
    got = [(w.text, round(w.start, 6)) for w in res.timeline.words]
    assert got == expected and len(got) >= 5
