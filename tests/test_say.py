"""`visemic say`, `visemic plot`, `--alignment`, and the IPA coverage of the languages `say`
speaks."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

import visemic
from visemic.cli import main
from visemic.motion import visemes
from visemic.phonetics import espeak, imports, ipa, japanese

# Ten-plus languages from different families and scripts, with sentences that exercise their
# characteristic sounds (front rounded and nasal vowels, umlauts, retroflexes, clicks of tone).
SENTENCES = {
    "en": "The quick brown fox jumps over the lazy dog.",
    "fr": "Un bon vin blanc, très élégant, sur une jolie plume.",
    "de": "Fünf Bäume über der Brücke, schöne Grüße.",
    "es": "El perro de Roque no tiene rabo, señor.",
    "it": "Gli gnocchi sono buonissimi, grazie mille.",
    "pt": "Não há pão, mãe, só vinho.",
    "ru": "Съешь же ещё этих мягких французских булок.",
    "pl": "Chrząszcz brzmi w trzcinie.",
    "nl": "Goede morgen, hoe gaat het met u?",
    "sv": "Sju sjösjuka sjömän sköttes av sju sköna sjuksköterskor.",
    "cmn": "我们明天去北京吃烤鸭。",
    "ja": "今日はとても良い天気ですね。",
    "hi": "मेरा नाम राम है और मैं दिल्ली में रहता हूँ।",
    "ar": "مرحبا، كيف حالك اليوم؟",
    "tr": "Bugün hava çok güzel, öğleden sonra görüşürüz.",
    "vi": "Tôi rất vui được gặp bạn.",
    "sw": "Habari za asubuhi, rafiki yangu.",
    "ko": "안녕하세요, 만나서 반갑습니다.",
}


def run(argv: list[str | Path], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("language", sorted(SENTENCES))
def test_say_timeline_matches_espeak_phonemes(language: str, tmp_path: Path, capsys) -> None:
    text = SENTENCES[language]
    out = tmp_path / "say.json"
    code, _, err = run(["say", text, "--language", language, "-o", out, "-q"], capsys)
    assert code == 0, err
    data = json.loads(out.read_text())
    tl = data["timeline"]
    assert tl["source"] == "synthesised" and tl["language"] == language
    phones = [p["phone"] for p in tl["phones"]]
    if language == "ja":  # kanji are read through pykakasi (espeak-ng reads kana only)
        text = japanese.kana_text(text)
    expected = [p for w in espeak.phonemize(text, language) for p in w.phones]
    assert phones == expected and phones
    assert "aɪ" not in phones or language != "ja"  # no "Chinese letter"
    # The animation covers the speech, and the mouth moves during it.
    anim = data["animation"]
    jaw = np.array(anim["values"])[:, anim["channels"].index("jawOpen")]
    assert len(jaw) == round(data["audio"]["duration"] * anim["fps"])
    assert jaw.max() > 0.2
    cues = data["visemes"]["rhubarb"]
    assert {c["value"] for c in cues} - {"X"}, "speech without a single mouth shape"


def test_every_symbol_of_every_language_has_a_viseme(caplog) -> None:
    """No phone espeak-ng emits for these languages is unknown to the feature table, and each
    maps to a speech viseme in all three sets (never to silence)."""
    symbols = set()
    for language, text in SENTENCES.items():
        for w in espeak.phonemize(text, language):
            symbols.update(w.phones)
    ipa._warned.clear()
    with caplog.at_level(logging.WARNING, logger="visemic.phonetics.ipa"):
        for s in sorted(symbols):
            ipa.parse(s)
            assert set(visemes.rhubarb_shapes(s)) <= set("ABCDEFGH"), s
            # Oculus has no glottal viseme: /h ʔ/ are its "sil" (the lips follow the neighbours).
            assert visemes.oculus(s) != "sil" or s[0] in "hɦʔ", s
            assert visemes.azure(s) != 0, s
    assert not caplog.records, [r.getMessage() for r in caplog.records]
    assert len(symbols) > 90


def test_say_api_and_video(tmp_path: Path) -> None:
    result = visemic.say("Bob, move the map.", fps=30)
    assert result.audio.sample_rate == espeak.SAMPLE_RATE
    assert result.timeline.source == "synthesised"
    assert [w.text for w in result.timeline.words] == ["Bob", "move", "the", "map"]
    # Lips seal on every /b m p/ the synthesiser says.
    gap = result.animation.channel("jawOpen") - result.animation.channel("mouthClose")
    for p in result.timeline.phones:
        if p.symbol in ("b", "m", "p"):
            frame = int(round((p.start + p.end) / 2 * 30))
            assert gap[frame] <= 0.05, p
    import av

    out = result.save(tmp_path / "bob.mp4", size=(128, 128))
    with av.open(str(out)) as c:
        assert {s.type for s in c.streams} == {"video", "audio"}


def test_say_writes_wav_and_reports_bad_input(tmp_path: Path, capsys) -> None:
    wav, js = tmp_path / "hi.wav", tmp_path / "hi.tsv"
    code, _, err = run(["say", "Hi there.", "-o", js, "--wav", wav], capsys)
    assert code == 0, err
    audio = visemic.api.audio_io.load(wav)
    assert 0.3 < audio.duration < 3
    assert js.read_text().splitlines()[0].startswith("0.00\t")
    for argv, words in [
        (["say", "", "-o", js], "empty"),
        (["say", "-o", js], "nothing to say"),
        (["say", "hello", "--language", "xx-nope", "-o", js], "unknown language"),
        (["say", "hello", "--voice", "nobody", "-o", js], "unknown voice"),
        (["say", "hello", "--rate", "5", "-o", js], "out of range"),
        (["say", "hello", "-o", tmp_path / "x.unknown"], "format"),
    ]:
        code, _, err = run(argv, capsys)
        assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
        assert words in err, err


def test_languages_command(capsys) -> None:
    code, out, _ = run(["languages"], capsys)
    assert code == 0
    codes = out.splitlines()[0].split()
    assert {"en", "fr", "de", "cmn", "ja", "hi", "ar"} <= set(codes)
    assert len(codes) > 100


@pytest.fixture(scope="module")
def said(tmp_path_factory) -> tuple[Path, Path, visemic.Result]:
    folder = tmp_path_factory.mktemp("said")
    result = visemic.say("Please pass the blue marker, Bob.")
    wav = visemic.api.audio_io.save_wav(result.audio, folder / "line.wav")
    grid = folder / "line.TextGrid"
    imports.save_textgrid(result.timeline, grid)
    return wav, grid, result


def test_alignment_file_replaces_the_analysis(said, tmp_path: Path, capsys) -> None:
    wav, grid, result = said
    out = tmp_path / "imported.json"
    code, _, err = run(["animate", wav, "--alignment", grid, "-o", out], capsys)
    assert code == 0, err
    data = json.loads(out.read_text())
    assert data["timeline"]["source"] == "imported"
    assert data["settings"]["method"] == "imported"
    got = data["timeline"]["phones"]
    want = result.timeline.phones
    assert [p["phone"] for p in got] == [p.symbol for p in want]
    assert np.allclose([p["start"] for p in got], [p.start for p in want], atol=0.001)
    # The same timeline gives the same Rhubarb track as the synthesised result.
    assert [c["value"] for c in data["visemes"]["rhubarb"]] == \
        [c.value for c in result.animation.visemes["rhubarb"]]


def test_alignment_errors(said, tmp_path: Path, capsys) -> None:
    wav, grid, _ = said
    bad = tmp_path / "bad.TextGrid"
    bad.write_text("this is not a TextGrid")
    too_long = tmp_path / "long.ctm"
    too_long.write_text("line 1 0.00 0.50 hello\nline 1 30.00 0.50 there\n")
    for argv, words in [
        (["animate", wav, "--alignment", tmp_path / "missing.TextGrid", "-o", tmp_path / "a.json"],
         "no such file"),
        (["animate", wav, "--alignment", bad, "-o", tmp_path / "a.json"], "cannot read"),
        (["animate", wav, "--alignment", too_long, "-o", tmp_path / "a.json"], "right file"),
        (["animate", wav, "--alignment", grid, "--text", "hi", "-o", tmp_path / "a.json"],
         "not allowed with"),
    ]:
        code, _, err = run(argv, capsys)
        assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
        assert words in err, err
        assert not (tmp_path / "a.json").exists()


def test_plot_command(said, tmp_path: Path, capsys) -> None:
    wav, grid, _ = said
    out = tmp_path / "timeline.png"
    code, _, err = run(["plot", wav, "--alignment", grid, "-o", out,
                        "--channels", "gap,mouthPucker"], capsys)
    assert code == 0, err
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, _, err = run(["plot", wav, "--text", "Please pass the blue marker, Bob.",
                        "-o", tmp_path / "aligned.png"], capsys)
    assert code == 0, err
    for argv, words in [
        (["plot", wav, "-o", tmp_path / "t.jpg"], "PNG"),
        (["plot", wav, "-o", tmp_path / "t.png", "--channels", "noSuchChannel"], "unknown"),
        (["plot", tmp_path / "nope.wav", "-o", tmp_path / "t.png"], "no such file"),
    ]:
        code, _, err = run(argv, capsys)
        assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
        assert words in err, err
        assert not (tmp_path / "t.png").exists()
