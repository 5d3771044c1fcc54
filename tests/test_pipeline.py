"""The core engine end to end on speech with known phone timings (espeak-ng), and each stage."""

from __future__ import annotations

import numpy as np
import pytest

import visemic
from visemic import audio as audio_io
from visemic import evaluation as ev
from visemic.errors import VisemicError
from visemic.motion import arkit, visemes
from visemic.motion.poses import MOUTH
from visemic.phonetics import ipa
from visemic.phonetics.text import normalize
from visemic.types import Phone, Timeline

# --- audio in -------------------------------------------------------------------------------

def test_robustness_files_decode_or_fail_cleanly(shared):
    for path in sorted((shared / "samples" / "robustness").iterdir()):
        try:
            a = audio_io.load(path)
        except VisemicError as exc:
            assert str(exc).startswith(str(path)) and "\n" not in str(exc)
            continue
        assert a.sample_rate == 16000 and a.samples.dtype == np.float32
        assert a.duration == pytest.approx(10.0, abs=0.05)
        assert np.abs(a.samples).max() <= 1.05  # channels averaged, not summed


def test_every_sample_format_decodes(shared):
    for path in sorted((shared / "samples" / "audio").iterdir()):
        if path.suffix in (".wav", ".flac", ".mp3"):
            a = audio_io.load(path)
            assert a.duration > 1.0 and np.isfinite(a.samples).all()


def test_arrays_are_scaled_downmixed_and_resampled():
    t = np.arange(44100) / 44100
    tone = (np.sin(2 * np.pi * 440 * t) * 16000).astype(np.int16)
    stereo = np.stack([tone, tone], axis=1)
    a = audio_io.load(stereo, sample_rate=44100)
    assert a.sample_rate == 16000 and len(a.samples) == 16000
    assert np.abs(a.samples).max() == pytest.approx(16000 / 32768, rel=0.02)


@pytest.mark.parametrize("bad", [np.zeros(0), np.full(100, np.nan)])
def test_bad_arrays_are_errors(bad):
    with pytest.raises(VisemicError):
        audio_io.load(bad, sample_rate=16000)


def test_missing_and_non_audio_files(tmp_path):
    with pytest.raises(VisemicError, match="no such file"):
        audio_io.load(tmp_path / "nope.wav")
    junk = tmp_path / "junk.wav"
    junk.write_text("this is not audio at all" * 20)
    with pytest.raises(VisemicError, match="junk.wav"):
        audio_io.load(junk)


# --- text -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, words", [
    ("Go forward 10 meters!", ["go", "forward", "ten", "meters"]),
    ("It's 3:00, I paid $5.50.", ["it's", "three", "o'clock", "i", "paid", "five", "dollars",
                                  "fifty", "cents"]),
    ("Meet at 9:05 or 14:30.", ["meet", "at", "nine", "oh", "five", "or", "fourteen", "thirty"]),
    ("gonna cough here <vocnoise> yeah [laughs] so", ["gonna", "cough", "here", "yeah", "so"]),
    ("The 21st of May, 1999", ["the", "twenty", "first", "of", "may", "nineteen", "ninety",
                               "nine"]),
    ("rock-and-roll & “jazz”", ["rock", "and", "roll", "and", "jazz"]),
])
def test_normalize(text, words):
    assert normalize(text) == words


# --- phonetics ------------------------------------------------------------------------------

def _boundary_errors(truth: Timeline, pred: Timeline) -> np.ndarray:
    return ev.boundary_errors(truth.phones, pred.phones)


def test_alignment_matches_known_timings(spoken, result_text):
    _, truth = spoken
    pred = result_text.timeline
    assert pred.source == "aligned"
    assert [w.text for w in pred.words][:3] == ["mom", "bought", "five"]
    errs = _boundary_errors(truth, pred)
    assert len(errs) > 0.8 * 2 * len(truth.phones)
    assert np.median(errs) < 0.03
    assert np.mean(errs < 0.05) > 0.8


def test_out_of_dictionary_words_are_pronounced(spoken_wav):
    text = "Mom bought five blue boxes. Please wait. Then we all go home for supperz."
    res = visemic.animate(spoken_wav, text=text)
    assert res.timeline.words[-1].text == "supperz"
    assert any(p.word == len(res.timeline.words) - 1 for p in res.timeline.phones)


def test_mismatched_transcript_degrades_gracefully(spoken, spoken_wav):
    # A word added and one missing: the timeline must still follow the speech.
    text = "Mom bought five big blue boxes. Please wait. Then we all go home."
    res = visemic.animate(spoken_wav, text=text)
    truth = spoken[1]
    home = next(w for w in truth.words if w.text.lower() == "home")
    got = next(w for w in res.timeline.words if w.text == "home")
    assert abs(got.start - home.start) < 0.25


def test_recognition_without_transcript(spoken, result_notext):
    tl = result_notext.timeline
    assert tl.source == "recognised" and len(tl.phones) > 0.6 * len(spoken[1].phones)
    assert all(0 <= p.start < p.end <= result_notext.audio.duration + 1e-6 for p in tl.phones)


def test_every_phone_symbol_maps_somewhere():
    symbols = set(ipa.LETTERS) | {"aɪ", "tʃ", "ɛ̃", "iː", "ts", "ɚ", "a˥˩", "ʁ", "ŋ̍", "☃"}
    for s in symbols:
        first, last = visemes.rhubarb_shapes(s)
        assert first in visemes.RHUBARB_SHAPES and last in visemes.RHUBARB_SHAPES
        assert visemes.oculus(s) in visemes.OCULUS_VISEMES
        assert 0 <= visemes.azure(s) <= 21


@pytest.mark.parametrize("symbol, shape, cls", [
    ("m", "A", "BILABIAL"), ("p", "A", "BILABIAL"), ("f", "G", "LABIODENTAL"),
    ("u", "F", "ROUNDED"), ("ɔ", "E", "ROUNDED"), ("ɑ", "D", "OPEN"), ("æ", "C", "OPEN"),
    ("s", "B", None), ("l", "H", None), ("aɪ", "D", "OPEN"), ("oʊ", "F", "ROUNDED"),
])
def test_decisive_shapes(symbol, shape, cls):
    assert visemes.rhubarb_shapes(symbol)[0] == shape
    assert ev.decisive_class(symbol) == cls


# --- motion ---------------------------------------------------------------------------------

def test_curves_follow_the_articulation(spoken, result_text):
    truth = spoken[1]
    anim = result_text.animation
    dur = result_text.audio.duration
    assert anim.channels == list(arkit.CHANNELS) and len(arkit.BLENDSHAPES) == 52
    assert anim.frames == round(dur * 60)
    assert anim.values.dtype == np.float32
    assert (anim.values[:, :52] >= 0).all() and (anim.values[:, :52] <= 1).all()
    checks = ev.check_curves(truth.phones, anim, dur)
    assert checks.rate(checks.sealed) >= 0.95
    assert checks.rate(checks.open) >= 0.9
    assert checks.rate(checks.rounded) >= 0.85
    assert checks.rate(checks.silent) >= 0.9
    assert checks.max_jump <= 0.35


def test_shapes_score_on_known_timings(spoken, result_text):
    truth = spoken[1]
    tally = ev.score_shapes(truth.phones, result_text.animation.visemes["rhubarb"],
                            result_text.audio.duration)
    assert tally.macro() >= 0.85


def test_silence_is_rest():
    rate = 16000
    silence = np.zeros(rate * 2, np.float32)
    res = visemic.animate(silence, sample_rate=rate)
    # The mouth rests; eyes and head keep their idle motion (blinks, gaze, sway).
    mouth = [res.animation.channels.index(c) for c in MOUTH]
    assert np.abs(res.animation.values[:, mouth]).max() < 1e-3
    assert [c.value for c in res.animation.visemes["rhubarb"]] == ["X"]


@pytest.mark.parametrize("fps", [24, 30, 100])
def test_any_frame_rate(spoken_wav, fps):
    res = visemic.animate(spoken_wav, fps=fps)
    assert res.animation.fps == fps
    assert res.animation.frames == round(res.audio.duration * fps)


def test_viseme_tracks_cover_the_audio(result_text):
    dur = result_text.audio.duration
    for name, cues in result_text.animation.visemes.items():
        assert cues[0].start == 0 and cues[-1].end == pytest.approx(dur), name
        for a, b in zip(cues, cues[1:], strict=False):
            assert a.end == pytest.approx(b.start) and a.value != b.value, name
    for c in result_text.animation.visemes["rhubarb"]:
        assert c.end - c.start >= visemes.MIN_CUE - 1e-6


def test_short_pauses_close_the_lips_long_ones_rest():
    # "a . a" with a 100 ms gap (a stop closure, a break between words), then 500 ms of pause.
    tl = Timeline("en", phones=[Phone("ɑ", 0.1, 0.3), Phone("ɑ", 0.4, 0.6),
                                Phone("ɑ", 1.1, 1.3)])
    cues = visemes.rhubarb(tl, 1.5)
    shape = {round(t, 2): ev.shape_at(cues, t) for t in (0.35, 0.85, 1.4)}
    assert shape == {0.35: "A", 0.85: "X", 1.4: "X"}


def test_a_short_closure_between_vowels_still_shows():
    tl = Timeline("en", phones=[Phone("u", 0.1, 0.3), Phone("b", 0.3, 0.32),
                                Phone("ɑ", 0.32, 0.5)])
    cues = visemes.rhubarb(tl, 0.8)
    closure = [c for c in cues if c.value == "A"]
    assert len(closure) == 1 and closure[0].end - closure[0].start >= visemes.MIN_CUE - 1e-9
    assert [c.value for c in cues] == ["X", "F", "A", "D", "X"]
    assert min(c.end - c.start for c in cues) >= visemes.MIN_CUE - 1e-9


def test_a_short_closure_between_consonant_shapes_is_held_two_film_frames():
    tl = Timeline("en", phones=[Phone("ɪ", 0.1, 0.3), Phone("b", 0.3, 0.32),
                                Phone("ɪ", 0.32, 0.5)])
    closure = [c for c in visemes.rhubarb(tl, 0.8) if c.value == "A"]
    assert len(closure) == 1 and closure[0].end - closure[0].start >= visemes.MIN_CLOSURE - 1e-9


def test_extended_shapes_fall_back():
    tl = Timeline("en", phones=[Phone("f", 0.1, 0.2), Phone("l", 0.2, 0.3)])
    cues = visemes.rhubarb(tl, 1.0, extended="")
    assert {c.value for c in cues} <= set("ABCDEF")


def test_long_files_are_analysed_in_segments(spoken, tmp_path, monkeypatch):
    """The segment-by-segment path (used for files over LONG_FILE) gives a full result."""
    from visemic import api
    from visemic.audio import save_wav as write_wav
    from visemic.phonetics import segmenter

    speech = spoken[0]
    gap = np.zeros(speech.sample_rate // 2, np.float32)
    long = np.concatenate([speech.samples, gap] * 8)
    path = tmp_path / "long.wav"
    write_wav(visemic.Audio(long, speech.sample_rate), path)
    monkeypatch.setattr(api, "LONG_FILE", 5.0)
    monkeypatch.setattr(segmenter, "MIN_SEGMENT", 6.0)
    monkeypatch.setattr(segmenter, "MAX_SEGMENT", 10.0)
    res = visemic.animate(path)
    assert res.audio.samples.size == 0 and res.audio.duration == pytest.approx(
        len(long) / speech.sample_rate, abs=0.01)
    assert res.animation.frames == round(res.audio.duration * 60)
    starts = [p.start for p in res.timeline.phones]
    assert starts == sorted(starts) and starts[-1] > 0.8 * res.audio.duration
