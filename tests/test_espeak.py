"""espeak-ng layer: IPA segmentation, G2P, synthesis with exact phone timings."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from visemic.errors import VisemicError
from visemic.phonetics.espeak import (
    SAMPLE_RATE,
    G2PWord,
    languages,
    phonemize,
    synthesize,
    voices,
)
from visemic.phonetics.ipa_split import split_ipa

VOWELS = set("iyɨʉɯuɪʏʊeøɘɵɤoəɛœɜɞʌɔæɐaɶɑɒɚɝᵻäë")


def _is_vowel(phone: str) -> bool:
    return any(c in VOWELS for c in phone)


@pytest.mark.parametrize("ipa, expected", [
    ("ˈtʃɜːtʃ", [("tʃ", 0), ("ɜː", 1), ("tʃ", 0)]),
    ("dʒˈʌdʒ", [("dʒ", 0), ("ʌ", 1), ("dʒ", 0)]),
    ("t͡sa͡ɪt", [("ts", 0), ("aɪ", 0), ("t", 0)]),            # tie bars join, then vanish
    ("həlˈoʊ", [("h", 0), ("ə", 0), ("l", 0), ("oʊ", 1)]),
    ("ˈkæt", [("k", 0), ("æ", 1), ("t", 0)]),                 # stress moves to the vowel
    ("ɔɪ aʊ eɪ eə ɪə ʊə əʊ", [(d, 0) for d in "ɔɪ aʊ eɪ eə ɪə ʊə əʊ".split()]),
    ("bɔ̃ʒˈuʁ", [("b", 0), ("ɔ̃", 0), ("ʒ", 0), ("u", 1), ("ʁ", 0)]),
    ("prʲivʲˈet", [("p", 0), ("rʲ", 0), ("i", 0), ("vʲ", 0), ("e", 1), ("t", 0)]),
    ("ni2χˈɑu2", [("n", 0), ("i", 0), ("χ", 0), ("ɑu", 1)]),  # tones dropped
    ("ma˨˩˦", [("m", 0), ("a", 0)]),
    ("ˈbɜːdɚ ɝ", [("b", 0), ("ɜː", 1), ("d", 0), ("ɚ", 0), ("ɝ", 0)]),
    ("tɕʰi ʈʂa pfə", [("tɕʰ", 0), ("i", 0), ("ʈʂ", 0), ("a", 0), ("pf", 0), ("ə", 0)]),
    ("ʧʤ", [("tʃ", 0), ("dʒ", 0)]),
    ("(en)tʃˈaɪ(ja)lə", [("tʃ", 0), ("aɪ", 1), ("l", 0), ("ə", 0)]),
    ("poˈeta", [("p", 0), ("o", 0), ("e", 1), ("t", 0), ("a", 0)]),  # hiatus across stress
    ("ai̯.ˌaɪə", [("ai̯", 0), ("aɪə", 2)]),
    ("bˈʌʔn̩", [("b", 0), ("ʌ", 1), ("ʔ", 0), ("n̩", 0)]),
    ("", []),
])
def test_split_ipa(ipa: str, expected: list[tuple[str, int]]) -> None:
    assert split_ipa(ipa) == expected


SENTENCES = {
    "en-us": ("Hello mom, how are you today?", 6),
    "fr": ("Bonjour, je m'appelle Jean et j'aime le vin.", 8),
    "de": ("Guten Tag, wie geht es dir?", 6),
    "es": ("¿Cómo estás? Muy bien, gracias.", 5),
}


@pytest.mark.parametrize("language", sorted(SENTENCES))
def test_phonemize_word_counts(language: str) -> None:
    text, count = SENTENCES[language]
    words = phonemize(text, language)
    assert len(words) == count
    assert all(isinstance(w, G2PWord) and w.phones for w in words)
    for w in words:
        assert len(w.stress) == len(w.phones)
        assert all(p and "ˈ" not in p and "ˌ" not in p for p in w.phones)
        # Stress sits on vowels, never on an onset consonant.
        assert all(_is_vowel(p) for p, s in zip(w.phones, w.stress, strict=True) if s)


def test_phonemize_known_english_words() -> None:
    words = phonemize("mom church judge")
    assert [w.text for w in words] == ["mom", "church", "judge"]
    mom, church, judge = (w.phones for w in words)
    assert mom[0] == "m" and mom[-1] == "m" and len(mom) == 3
    assert church[0] == "tʃ" and church[-1] == "tʃ"      # affricates are single phones
    assert judge[0] == "dʒ" and judge[-1] == "dʒ"
    assert words[0].stress == (0, 1, 0)
    (how,) = phonemize("how")
    assert "aʊ" in how.phones                               # diphthongs are single phones


def test_phonemize_numbers_and_folded_words() -> None:
    words = phonemize("I paid 123 dollars, out of the house.")
    assert [w.text for w in words] == ["I", "paid", "123", "dollars", "out", "of", "the",
                                      "house"]
    assert len(words[2].phones) > 10                        # one hundred and twenty three
    assert all(w.phones for w in words)                     # "of" keeps its share of "out of"


def test_phonemize_mandarin_and_japanese() -> None:
    zh = phonemize("你好，我叫王小明。", "cmn")
    assert "".join(w.text for w in zh) == "你好我叫王小明"
    assert len(zh) >= 5 and all(w.phones for w in zh)
    flat = [p for w in zh for p in w.phones]
    assert not any(c.isdigit() for p in flat for c in p)    # tones dropped
    assert "tɕ" in flat
    ja = phonemize("こんにちは、せかい。", "ja")
    assert [w.text for w in ja] == ["こんにちは", "せかい"]
    assert all(w.phones for w in ja)


def test_phonemize_long_ipa_names() -> None:
    # espeak's phoneme events hold 8 bytes; stressed Portuguese ˈɐ̃ʊ̃ needs 10.
    assert phonemize("Não, pão.", "pt")[1].phones == ("p", "ɐ̃ʊ̃")


def test_phonemize_a_paragraph_word_by_word() -> None:
    """A long text gives one entry per word, each as phonemize gives that word alone (its
    speed is measured by bench/speed.py, not here)."""
    text = " ".join(["the quick brown fox jumps over the lazy dog"] * 12)[:600]
    words = phonemize(text)
    assert len(words) == len(text.split())
    for w in words[:9]:
        assert w.phones == phonemize(w.text)[0].phones


def test_unknown_language_and_voice() -> None:
    with pytest.raises(VisemicError, match=r"unknown language 'xx' \(see visemic languages\)"):
        phonemize("hello", "xx")
    with pytest.raises(VisemicError, match="unknown voice"):
        synthesize("hello", "en-us", voice="no-such-voice")
    with pytest.raises(VisemicError, match="rate"):
        synthesize("hello", rate=5)


def test_languages_and_voices() -> None:
    codes = languages()
    for code in ("en", "en-us", "en-gb", "fr", "de", "cmn", "ja", "es", "ru"):
        assert code in codes
    assert "f3" in voices()
    assert phonemize("hello", "EN_US")[0].phones == phonemize("hello", "en-us")[0].phones


SYNTH = {
    "en-us": "Hello mom, out of the house! I paid 123 dollars.",
    "en-gb": "Her fire is here; go home now.",
    "fr": "Un bon vin blanc, très élégant.",
    "de": "Guten Tag, wie geht's? Zeitung und Pfeife.",
    "es": "Hola, ¿cómo estás? El perro corre.",
    "it": "Buongiorno, come stai?",
    "pt": "Olá, tudo bem? Pão e vinho.",
    "ru": "Привет, как дела?",
    "cmn": "你好，我叫王小明。今天天气很好。",
    "yue": "你好，今日天氣好好。",
    "ja": "こんにちは、せかい。",
    "hi": "नमस्ते, आप कैसे हैं?",
    "pl": "Cześć, jak się masz?",
    "tr": "Merhaba, nasılsın?",
    "vi": "Xin chào, bạn khỏe không?",
}


@pytest.mark.parametrize("language", sorted(SYNTH))
def test_synthesize_timeline(language: str) -> None:
    text = SYNTH[language]
    audio, tl = synthesize(text, language)
    assert audio.sample_rate == SAMPLE_RATE == 22050
    assert audio.samples.dtype == np.float32 and audio.duration > 0.5
    assert np.abs(audio.samples).max() <= 1.0
    assert tl.source == "synthesised" and tl.language == language
    # The same phones as phonemize, word by word.
    g2p = [w for w in phonemize(text, language) if w.phones]
    assert [w.text for w in tl.words] == [w.text for w in g2p]
    assert [p.symbol for p in tl.phones] == [p for w in g2p for p in w.phones]
    assert [p.stress for p in tl.phones] == [s for w in g2p for s in w.stress]
    # Monotonic, non-overlapping, every phone visible, inside the audio.
    prev_end = 0.0
    for p in tl.phones:
        assert prev_end - 1e-9 <= p.start < p.end <= audio.duration + 1e-9
        prev_end = p.end
        w = tl.words[p.word]
        assert w.start - 1e-9 <= p.start and p.end <= w.end + 1e-9
    for a, b in zip(tl.words, tl.words[1:], strict=False):
        assert a.end <= b.start + 1e-9


def _rms(audio, start: float, end: float) -> float:
    seg = audio.samples[int(round(start * audio.sample_rate)):int(round(end * audio.sample_rate))]
    return float(np.sqrt(np.mean(np.square(seg, dtype=np.float64)))) if len(seg) else 0.0


@pytest.mark.parametrize("language, text, before", [
    ("en-us", "Hello mom, out of the house! Go home now.", ["mom", "house"]),
    ("de", "Guten Tag, wie geht's? Gut.", ["Tag", "geht's"]),
    ("cmn", "你好，我叫王小明。", ["你好"]),
])
def test_synthesised_gaps_are_silent(language: str, text: str, before: list[str]) -> None:
    audio, tl = synthesize(text, language)
    gaps = [(a.end, b.start, a.word) for a, b in zip(tl.phones, tl.phones[1:], strict=False)
            if b.start - a.end > 0.05]
    # A pause at each punctuation mark, after the word before it.
    assert [tl.words[w].text for _, _, w in gaps] == before
    sr = audio.sample_rate
    for start, end, _ in gaps:
        assert _rms(audio, start, end) < 1e-3
        # The boundaries are sample-exact: sound stops and resumes right at them.
        assert np.abs(audio.samples[int(start * sr) - 44:int(start * sr)]).max() > 1e-3
        assert np.abs(audio.samples[int(end * sr) + 1:int(end * sr) + 45]).max() > 1e-3
    # Leading and trailing silence stay gaps too.
    assert _rms(audio, 0.0, tl.phones[0].start) < 1e-3
    assert _rms(audio, tl.phones[-1].end, audio.duration) < 1e-3
    vowels = [p for p in tl.phones if _is_vowel(p.symbol)]
    assert vowels
    for p in vowels:
        assert _rms(audio, p.start, p.end) > 0.02, p


def test_synthesize_voice_rate_and_empty() -> None:
    slow, tl_slow = synthesize("Speak a little faster please.", "en-us", rate=120)
    fast, tl_fast = synthesize("Speak a little faster please.", "en-us", voice="f3", rate=350)
    assert fast.duration < 0.6 * slow.duration
    assert [p.symbol for p in tl_fast.phones] == [p.symbol for p in tl_slow.phones]
    audio, tl = synthesize("", "en-us")
    assert tl.words == [] and tl.phones == [] and audio.sample_rate == SAMPLE_RATE
    assert phonemize("   ") == []


def test_threads() -> None:
    texts = [("en-us", "Thread one says hello."), ("fr", "Le fil deux dit bonjour."),
             ("de", "Faden drei sagt hallo."), ("cmn", "第四个线程说你好。")]
    expected = {t: [p.symbol for p in synthesize(t, lang)[1].phones] for lang, t in texts}
    results: dict[str, list[list[str]]] = {t: [] for _, t in texts}
    errors: list[BaseException] = []

    def work(lang: str, text: str) -> None:
        try:
            for _ in range(5):
                results[text].append([p.symbol for p in synthesize(text, lang)[1].phones])
                results[text].append(
                    [p for w in phonemize(text, lang) for p in w.phones])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=lt) for lt in texts * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for text, runs in results.items():
        assert len(runs) == 20 and all(r == expected[text] for r in runs)


@pytest.mark.parametrize("before", [[], ["We will meet at the station at nine."],
                                    ["Hello?", "Open the box."], ["Bonjour."]])
def test_synthesis_does_not_depend_on_earlier_speech(before: list[str]) -> None:
    # espeak's wave generator keeps state between texts (pitch flutter, wave phase): the same
    # text must still give the same samples whatever was spoken (or phonemized) before it.
    reference, _ = synthesize("Open the box.", "en")
    for text in before:
        synthesize(text, "fr" if text == "Bonjour." else "en")
        phonemize(text)
    audio, _ = synthesize("Open the box.", "en")
    again, _ = synthesize("Open the box.", "en")
    assert np.array_equal(audio.samples, reference.samples)
    assert np.array_equal(again.samples, reference.samples)
