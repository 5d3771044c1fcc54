"""External alignments: TextGrid, CTM and JSON readers, TextGrid/CTM writers, ARPABET."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from visemic.errors import VisemicError
from visemic.phonetics.arpabet import ARPABET_TO_IPA, arpabet_to_ipa
from visemic.phonetics.espeak import synthesize
from visemic.phonetics.imports import load_alignment, save_ctm, save_textgrid
from visemic.types import Phone, Timeline, Word

# MFA-style: speaker-prefixed tier names, ARPABET phones with stress digits, silences.
WORDS = [("", 0.0, 0.2), ("hello", 0.2, 0.7), ("world", 0.7, 1.5), ("", 1.5, 1.8)]
PHONES = [("sil", 0.0, 0.2), ("HH", 0.2, 0.3), ("AH0", 0.3, 0.4), ("L", 0.4, 0.5),
          ("OW1", 0.5, 0.7), ("W", 0.7, 0.8), ("ER1", 0.8, 1.0), ("L", 1.0, 1.1),
          ("D", 1.1, 1.5), ("sp", 1.5, 1.8)]
EXPECTED = [("h", 0), ("ə", 0), ("l", 0), ("oʊ", 1), ("w", 0), ("ɝ", 1), ("l", 0), ("d", 0)]


def _long_textgrid(tiers: list[tuple[str, list[tuple[str, float, float]]]]) -> str:
    xmax = max(b for _, items in tiers for _, _, b in items)
    out = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "", "xmin = 0 ",
           f"xmax = {xmax} ", "tiers? <exists> ", f"size = {len(tiers)} ", "item []: "]
    for i, (name, items) in enumerate(tiers, 1):
        out += [f"    item [{i}]:", '        class = "IntervalTier" ', f'        name = "{name}" ',
                "        xmin = 0 ", f"        xmax = {xmax} ",
                f"        intervals: size = {len(items)} "]
        for k, (label, a, b) in enumerate(items, 1):
            out += [f"        intervals [{k}]:", f"            xmin = {a} ",
                    f"            xmax = {b} ", f'            text = "{label}" ']
    return "\n".join(out) + "\n"


def _short_textgrid(tiers: list[tuple[str, list[tuple[str, float, float]]]]) -> str:
    xmax = max(b for _, items in tiers for _, _, b in items)
    out = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "", "0", str(xmax),
           "<exists>", str(len(tiers))]
    for name, items in tiers:
        out += ['"IntervalTier"', f'"{name}"', "0", str(xmax), str(len(items))]
        for label, a, b in items:
            out += [str(a), str(b), f'"{label}"']
    return "\n".join(out) + "\n"


def _check_hello_world(tl: Timeline) -> None:
    assert tl.source == "imported"
    assert [(w.text, w.start, w.end) for w in tl.words] == [("hello", 0.2, 0.7),
                                                          ("world", 0.7, 1.5)]
    assert [(p.symbol, p.stress) for p in tl.phones] == EXPECTED
    assert [p.word for p in tl.phones] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert tl.phones[0].start == 0.2 and tl.phones[-1].end == 1.5


@pytest.mark.parametrize("fmt", ["long", "short"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-16-le"])
def test_textgrid_formats_and_encodings(tmp_path: Path, fmt: str, encoding: str) -> None:
    tiers = [("spk1 - words", WORDS), ("spk1 - phones", PHONES)]
    text = (_long_textgrid if fmt == "long" else _short_textgrid)(tiers)
    path = tmp_path / "a.TextGrid"
    path.write_bytes(text.encode(encoding))  # "utf-16" writes a byte-order mark, -le does not
    _check_hello_world(load_alignment(path))


def test_textgrid_tiers_by_name_then_order(tmp_path: Path) -> None:
    # Named tiers in an unusual order, plus an unrelated tier.
    path = tmp_path / "named.TextGrid"
    path.write_text(_long_textgrid([("phones", PHONES), ("notes", [("x", 0.0, 1.8)]),
                                    ("words", WORDS)]))
    _check_hello_world(load_alignment(path))
    # Unnamed tiers: the first is words, the second phones.
    path = tmp_path / "unnamed.TextGrid"
    path.write_text(_long_textgrid([("tier A", WORDS), ("tier B", PHONES)]))
    _check_hello_world(load_alignment(path))


def test_textgrid_ipa_phones_and_quotes(tmp_path: Path) -> None:
    words = [('say "hi"', 0.0, 0.5)]
    phones = [("s", 0.0, 0.1), ("ˈeɪ", 0.1, 0.3), ("h", 0.3, 0.35), ("a͡ɪ", 0.35, 0.5)]
    path = tmp_path / "ipa.TextGrid"
    path.write_text(_long_textgrid([("words", [(t.replace('"', '""'), a, b)
                                               for t, a, b in words]), ("phones", phones)]))
    tl = load_alignment(path, language="en")
    assert tl.words[0].text == 'say "hi"'
    assert [(p.symbol, p.stress) for p in tl.phones] == [("s", 0), ("eɪ", 1), ("h", 0),
                                                         ("aɪ", 0)]


def test_textgrid_words_only_derives_phones(tmp_path: Path) -> None:
    path = tmp_path / "w.TextGrid"
    path.write_text(_long_textgrid([("words", [("", 0.0, 0.3), ("mom", 0.3, 0.9)])]))
    tl = load_alignment(path)
    assert [p.symbol for p in tl.phones][0] == "m" and tl.phones[-1].symbol == "m"
    assert tl.phones[0].start == 0.3 and tl.phones[-1].end == pytest.approx(0.9)
    vowel = tl.phones[1]
    assert vowel.end - vowel.start > tl.phones[0].end - tl.phones[0].start


def test_textgrid_round_trip(tmp_path: Path) -> None:
    _, tl = synthesize("Hello mom, out of the house!", "en-us")
    tl.language = "en"
    path = tmp_path / "rt.TextGrid"
    save_textgrid(tl, path)
    back = load_alignment(path, language="en")
    assert [w.text for w in back.words] == [w.text for w in tl.words]
    assert [(p.symbol, p.stress, p.word) for p in back.phones] == [
        (p.symbol, p.stress, p.word) for p in tl.phones]
    for a, b in zip(back.phones, tl.phones, strict=True):
        assert a.start == pytest.approx(b.start, abs=1e-6)
        assert a.end == pytest.approx(b.end, abs=1e-6)
    assert not list(tmp_path.glob(".*part*"))  # written atomically, no leftovers


def test_ctm_word_and_phone_levels(tmp_path: Path) -> None:
    words = tmp_path / "words.ctm"
    words.write_text(";; comment\nutt1 1 0.20 0.50 hello 0.98\nutt1 1 0.70 0.80 world\n"
                     "utt1 1 1.50 0.30 <eps>\n")
    tl = load_alignment(words)
    assert [(w.text, w.start, w.end) for w in tl.words] == [("hello", 0.2, 0.7),
                                                          ("world", 0.7, 1.5)]
    assert tl.phones and all(p.word in (0, 1) for p in tl.phones)
    assert tl.phones[0].symbol == "h" and tl.phones[-1].symbol == "d"
    # Kaldi phone CTM with word-position suffixes.
    phones = tmp_path / "phones.ctm"
    phones.write_text("".join(f"utt1 A {a:.2f} {b - a:.2f} {lab}_{'B' if k % 2 else 'I'}\n"
                              for k, (lab, a, b) in enumerate(PHONES) if lab not in ("sil", "sp"))
                      + "utt1 A 0.00 0.20 SIL\n")
    tl = load_alignment(phones)
    assert tl.words == []
    assert [(p.symbol, p.stress) for p in tl.phones] == EXPECTED
    assert all(p.word == -1 for p in tl.phones)


@pytest.mark.parametrize("level", ["words", "phones"])
def test_ctm_round_trip(tmp_path: Path, level: str) -> None:
    _, tl = synthesize("Good morning, world.", "en-us")
    path = tmp_path / "rt.ctm"
    save_ctm(tl, path, level=level)
    back = load_alignment(path, language="en-us")
    if level == "words":
        # CTM stores start and duration: the end comes back within float rounding.
        assert [w.text for w in back.words] == [w.text for w in tl.words]
        for got, want in zip(back.words, tl.words, strict=True):
            assert got.start == pytest.approx(want.start, abs=2e-6)
            assert got.end == pytest.approx(want.end, abs=2e-6)
        assert [p.symbol for p in back.phones] == [p.symbol for p in tl.phones]
    else:
        assert [(p.symbol, p.stress) for p in back.phones] == [
            (p.symbol, p.stress) for p in tl.phones]
        assert [round(p.start, 6) for p in back.phones] == [round(p.start, 6) for p in tl.phones]


def test_json_visemic_format(tmp_path: Path) -> None:
    data = {"language": "en",
            "words": [{"word": t, "start": a, "end": b} for t, a, b in WORDS if t],
            "phones": [{"phone": p, "start": a, "end": b, "word": 0}
                       for p, a, b in [("h", 0.2, 0.3), ("ə", 0.3, 0.4), ("l", 0.4, 0.5),
                                       ("ˈoʊ", 0.5, 0.7), ("w", 0.7, 0.8), ("ˈɝ", 0.8, 1.0),
                                       ("l", 1.0, 1.1), ("d", 1.1, 1.5)]]}
    path = tmp_path / "a.json"
    path.write_text(json.dumps(data, ensure_ascii=False))
    _check_hello_world(load_alignment(path, language="fr"))
    assert load_alignment(path, language="fr").language == "en"  # the file says
    # visemic's full result nests the same under "timeline".
    path.write_text(json.dumps({"visemic": "0.1.0", "timeline": data}))
    _check_hello_world(load_alignment(path))


def test_json_whisperx(tmp_path: Path) -> None:
    data = {"segments": [{"start": 0.1, "end": 2.0, "text": " Hello mom, 2024 today.",
                          "words": [{"word": " Hello", "start": 0.1, "end": 0.5, "score": 0.9},
                                    {"word": "mom,", "start": 0.55, "end": 0.9},
                                    {"word": "2024"},  # WhisperX leaves numbers untimed
                                    {"word": "today.", "start": 1.4, "end": 2.0}]}],
            "language": "en"}
    path = tmp_path / "wx.json"
    path.write_text(json.dumps(data))
    tl = load_alignment(path)
    assert [w.text for w in tl.words] == ["Hello", "mom,", "2024", "today."]
    assert tl.words[2].start == pytest.approx(0.9) and tl.words[2].end == pytest.approx(1.4)
    mom = [p for p in tl.phones if p.word == 1]
    assert [p.symbol for p in mom][0] == "m" and mom[-1].symbol == "m"
    assert mom[0].start == pytest.approx(0.55) and mom[-1].end == pytest.approx(0.9)
    assert mom[1].end - mom[1].start > mom[0].end - mom[0].start  # the vowel is longer
    for a, b in zip(tl.phones, tl.phones[1:], strict=False):
        assert a.start < a.end <= b.start + 1e-9
    for p in tl.phones:
        w = tl.words[p.word]
        assert w.start - 1e-9 <= p.start and p.end <= w.end + 1e-9


@pytest.mark.parametrize("name, content, reason", [
    ("a.TextGrid", "", "not a Praat TextGrid"),
    ("b.TextGrid", 'File type = "ooTextFile"\nObject class = "TextGrid"\n0\n1\n<exists>\n2\n',
     "ends early"),
    ("c.TextGrid", "ooBinaryFile\0\0", "binary"),
    ("d.json", "{not json", "invalid JSON"),
    ("e.json", '{"foo": 1}', "unrecognised JSON"),
    ("f.json", '{"words": [{"word": "a", "start": "x", "end": 1}]}', "finite number"),
    ("g.ctm", "utt 1 zero 0.5 hello\n", "line 1"),
    ("h.ctm", "utt 1 0.5\n", "line 1"),
    ("i.ctm", "utt 1 0.5 -0.2 hello\n", "ends"),
    ("j.ctm", "", "no CTM lines"),
])
def test_bad_files(tmp_path: Path, name: str, content: str, reason: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(VisemicError, match=reason) as info:
        load_alignment(path)
    message = str(info.value)
    assert name in message and "\n" not in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(VisemicError, match="nope.TextGrid"):
        load_alignment(tmp_path / "nope.TextGrid")


def test_arpabet_table() -> None:
    assert len(ARPABET_TO_IPA) == 39
    assert arpabet_to_ipa("AY1") == ("aɪ", 1)
    assert arpabet_to_ipa("ah0") == ("ə", 0)
    assert arpabet_to_ipa("AH1") == ("ʌ", 1)
    assert arpabet_to_ipa("ER0") == ("ɚ", 0)
    assert arpabet_to_ipa("CH") == ("tʃ", 0)
    assert arpabet_to_ipa("ng") == ("ŋ", 0)
    with pytest.raises(KeyError):
        arpabet_to_ipa("XYZ")
    with pytest.raises(ValueError):
        arpabet_to_ipa("AA9")


def test_writers_handle_gaps_and_empty(tmp_path: Path) -> None:
    tl = Timeline("en", [Word("a", 0.5, 0.6)], [Phone("ɐ", 0.5, 0.6, 0, 0)], "imported")
    save_textgrid(tl, tmp_path / "g.TextGrid")
    back = load_alignment(tmp_path / "g.TextGrid")
    assert back.words == tl.words and back.phones == tl.phones
    empty = Timeline("en")
    save_textgrid(empty, tmp_path / "e.TextGrid")
    assert load_alignment(tmp_path / "e.TextGrid").phones == []
    with pytest.raises(VisemicError):
        save_ctm(tl, tmp_path / "x.ctm", level="syllables")
