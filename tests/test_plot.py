"""The timeline plot: one readable PNG from a result, written atomically."""

from __future__ import annotations

import numpy as np
import pytest
import skia

from visemic.errors import VisemicError
from visemic.motion.arkit import CHANNELS, INDEX
from visemic.outputs.plot import plot_timeline
from visemic.types import Animation, Audio, Cue, Phone, Timeline, Word


class FakeResult:
    """What the plot reads from :class:`visemic.Result`."""

    def __init__(self, seconds: float = 2.0, head: bool = True) -> None:
        sr, fps = 16000, 60.0
        t = np.arange(int(seconds * sr)) / sr
        self.audio = Audio((0.4 * np.sin(2 * np.pi * 180 * t) * (t > 0.3)).astype(np.float32),
                           sr, path="/tmp/speech.wav")
        self.timeline = Timeline(
            language="en",
            words=[Word("mom", 0.3, 0.8), Word("saw", 0.9, 1.4)],
            phones=[Phone("m", 0.3, 0.4, 0), Phone("ɑ", 0.4, 0.7, 0, 1), Phone("m", 0.7, 0.8, 0),
                    Phone("s", 0.9, 1.05, 1), Phone("ɔ", 1.05, 1.4, 1, 1)],
        )
        n = int(seconds * fps)
        values = np.zeros((n, len(CHANNELS)), np.float32)
        values[:, INDEX["jawOpen"]] = np.clip(np.sin(np.arange(n) / 8.0), 0, 1) * 0.5
        values[:, INDEX["eyeBlinkLeft"]] = values[:, INDEX["eyeBlinkRight"]] = (
            (np.arange(n) % 90) < 6)
        if head:
            values[:, INDEX["headYaw"]] = 4 * np.sin(np.arange(n) / 30.0)
        cues = [Cue(0, 0.3, "X"), Cue(0.3, 0.4, "A"), Cue(0.4, 0.7, "D"), Cue(0.7, 0.8, "A"),
                Cue(0.8, 1.05, "B"), Cue(1.05, 1.4, "E"), Cue(1.4, seconds, "X")]
        self.animation = Animation(fps, list(CHANNELS), values, {"rhubarb": cues})


def read_png(path) -> np.ndarray:
    image = skia.Image.open(str(path))
    assert image is not None
    return image.toarray(colorType=skia.kRGBA_8888_ColorType)


def test_plot_writes_a_png(tmp_path):
    out = tmp_path / "timeline.png"
    assert plot_timeline(FakeResult(), out) == out
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = read_png(out)
    assert img.shape[1] >= 900 and img.shape[0] >= 600
    # Not blank: the viseme colours are there (D's red-orange block).
    r, g, b = (img[..., i].astype(int) for i in range(3))
    assert np.count_nonzero((abs(r - 0xD8) < 6) & (abs(g - 0x45) < 6) & (abs(b - 0x2F) < 6)) > 200
    assert [p.name for p in tmp_path.iterdir()] == ["timeline.png"]


def test_plot_width_grows_with_duration(tmp_path):
    plot_timeline(FakeResult(2.0, head=False), tmp_path / "short.png")
    plot_timeline(FakeResult(12.0), tmp_path / "long.png")
    assert read_png(tmp_path / "long.png").shape[1] > read_png(tmp_path / "short.png").shape[1]


def test_plot_custom_channels(tmp_path):
    out = tmp_path / "c.png"
    plot_timeline(FakeResult(), out, channels=["gap", "mouthSmile", "browInnerUp"])
    assert out.is_file()
    with pytest.raises(VisemicError, match="nosuch"):
        plot_timeline(FakeResult(), tmp_path / "bad.png", channels=["nosuch"])
    assert not (tmp_path / "bad.png").exists()


def test_plot_real_result(tmp_path):
    pytest.importorskip("visemic.phonetics.espeak")
    import visemic
    from visemic.phonetics import espeak

    try:
        audio, _ = espeak.synthesize("Five blue boxes.", "en-us")
    except Exception as exc:  # espeak-ng missing
        pytest.skip(f"espeak-ng unavailable: {exc}")
    result = visemic.animate(audio, text="Five blue boxes.")
    out = tmp_path / "real.png"
    plot_timeline(result, out)
    assert read_png(out).shape[0] > 500


def test_japanese_words_are_drawn_with_a_font_that_has_them(tmp_path, recwarn, caplog):
    """Kana and kanji need a font DejaVu Sans does not cover: without the bundled fallback,
    matplotlib warns of each missing glyph and draws boxes."""
    import logging

    result = FakeResult()
    result.timeline.words = [Word("今日", 0.3, 0.8), Word("わ", 0.9, 1.4)]
    result.timeline.language = "ja"
    with caplog.at_level(logging.WARNING):
        plot_timeline(result, tmp_path / "ja.png")
    missing = [str(w.message) for w in recwarn if "missing from" in str(w.message)]
    assert missing == []
    assert not [r for r in caplog.records if r.name.startswith("matplotlib")]
    assert (tmp_path / "ja.png").stat().st_size > 0
