"""Silence detection: pauses are found by level, and quiet steady voicing is not a pause."""

from __future__ import annotations

import numpy as np

from visemic.phonetics import espeak, silence
from visemic.types import Audio, Timeline

RATE = 16000


def _murmur(seconds: float, f0: float, rng: np.random.Generator) -> np.ndarray:
    """A hummed "mm": a gliding pitch, harmonics falling off fast (a nasal murmur)."""
    t = np.arange(int(seconds * RATE)) / RATE
    phase = 2 * np.pi * np.cumsum(np.linspace(f0, f0 * 0.9, len(t))) / RATE
    x = sum(np.sin(k * phase) / k ** 2 for k in range(1, 8))
    return (x / np.abs(x).max()).astype(np.float32)


def _scene(murmur_gain: float = 0.006) -> tuple[Audio, slice, slice]:
    """Speech, then 0.6 s of noise, 0.6 s of quiet murmur in that noise, 0.6 s of noise, speech.
    Returns the audio and the murmur's and the second noise stretch's 10 ms frames."""
    rng = np.random.default_rng(0)
    speech, _ = espeak.synthesize("Hello there, how are you today?", "en")
    s = speech.samples / np.abs(speech.samples).max() * 0.5
    n = int(0.6 * RATE)
    noise = rng.normal(0.0, 1.0, 3 * n).astype(np.float32) * 0.003  # about 46 dB below the speech
    gap = noise.copy()
    gap[n:2 * n] += _murmur(0.6, 110.0, rng) * murmur_gain  # a few dB above the noise floor
    x = np.concatenate([s, gap, s]).astype(np.float32)
    k = len(s) // 160
    return Audio(x, RATE), slice(k + 65, k + 115), slice(k + 125, k + 175)


def test_quiet_steady_voicing_is_speech_but_noise_is_a_pause():
    audio, murmur, noise = _scene()
    pauses = silence.pauses(audio)
    assert not pauses[murmur].any()
    assert pauses[noise].all()


def test_without_the_voicing_rule_the_murmur_would_be_a_pause(monkeypatch):
    # The murmur is too quiet for the level rule alone: the test above is about voicing.
    audio, murmur, _ = _scene()
    monkeypatch.setattr(silence, "MIN_VOICED", 10.0)
    assert silence.pauses(audio)[murmur].all()


def test_noise_that_correlates_at_the_shortest_lag_is_not_voicing():
    # Low-pass noise correlates most at the shortest lag of the pitch search: no pitch there.
    rng = np.random.default_rng(1)
    x = np.convolve(rng.normal(0, 1, RATE), np.ones(24) / 24, "same").astype(np.float32)
    assert silence.steady_voicing(x, RATE).mean() < 0.05


def _streamed_pauses(audio: Audio) -> list[tuple[float, float]]:
    """Every pause the streaming engine's energy gate held at some point, in seconds."""
    from visemic.stream import StreamAnimator

    engine = StreamAnimator(sample_rate=RATE)
    seen: dict[float, float] = {}
    for i in range(0, len(audio.samples), 480):  # 30 ms chunks, as a microphone sends them
        engine.push(audio.samples[i:i + 480])
        for a, b in engine._pauses:
            seen[a] = b
    engine.flush()
    return sorted(seen.items())


def _paused(pauses: list[tuple[float, float]], frames: slice) -> float:
    t = np.arange(frames.start, frames.stop) / 100.0
    return float(np.mean([any(a <= x < b for a, b in pauses) for x in t]))


# Quieter than the offline scene: the stream's running levels put its threshold a little lower.
STREAM_MURMUR = 0.005


def test_the_stream_keeps_a_quiet_murmur_too():
    audio, murmur, noise = _scene(STREAM_MURMUR)
    pauses = _streamed_pauses(audio)
    assert _paused(pauses, murmur) == 0.0
    assert _paused(pauses, noise) > 0.8


def test_without_the_voicing_rule_the_stream_would_pause_in_the_murmur(monkeypatch):
    audio, murmur, _ = _scene(STREAM_MURMUR)
    monkeypatch.setattr(silence, "MIN_VOICED", 10.0)
    assert _paused(_streamed_pauses(audio), murmur) > 0.5


def _hesitant(middle: str) -> tuple[Audio, Timeline, tuple[float, float]]:
    """ "So." and "I thought so." spoken by espeak-ng with ``middle`` between them ("uh": a
    filled pause; "breath": an inhalation, loud unvoiced noise; "murmur": a hum far quieter
    than speech; "": nothing), each apart from the words by 0.2 s of quiet noise. The timeline
    has the words' phones only (as Whisper's words give them); the middle's span is returned."""
    rng = np.random.default_rng(2)
    so, so_tl = espeak.synthesize("So.", "en-us")
    rest, rest_tl = espeak.synthesize("I thought so.", "en-us")
    sr = so.sample_rate
    scale = 0.5 / max(np.abs(so.samples).max(), np.abs(rest.samples).max())
    gap = int(0.2 * sr)
    if middle == "breath":
        mid = rng.normal(0.0, 0.05, int(0.35 * sr))  # about 20 dB below the speech, unvoiced
    elif middle == "murmur":
        t = np.arange(int(0.35 * sr)) / sr  # a quiet hum, 40 dB below the speech: "mm"
        mid = sum(np.sin(2 * np.pi * 110.0 * k * t) / k ** 2 for k in range(1, 8)) * 0.005
    elif middle:
        mid = espeak.synthesize(middle, "en-us")[0].samples * scale
    else:
        mid = np.zeros(0)
    parts = [so.samples * scale, np.zeros(gap), mid, np.zeros(gap), rest.samples * scale]
    x = np.concatenate(parts)
    x = (x + rng.normal(0.0, 0.002, len(x))).astype(np.float32)
    start = (len(so.samples) + gap) / sr
    end = start + len(mid) / sr
    tl = Timeline("en-us", words=so_tl.words, phones=so_tl.phones, source="recognised")
    later = rest_tl.shifted(end + gap / sr, len(tl.words))
    tl = Timeline("en-us", words=tl.words + later.words, phones=tl.phones + later.phones,
                  source="recognised")
    return Audio(x, sr), tl, (start, end)


def _added(tl: Timeline, filled: Timeline) -> list:
    return [p for p in filled.phones if p not in tl.phones]


def test_a_filled_pause_left_out_between_words_gets_the_hesitation_vowel():
    audio, tl, (start, end) = _hesitant("uh")
    added = _added(tl, silence.fill_hesitations(tl, audio))
    assert len(added) == 1
    p = added[0]
    assert p.symbol == silence.HESITATION and p.word == -1
    assert start - 0.02 <= p.start and p.end <= end + 0.02
    assert p.end - p.start >= 0.6 * (end - start)


def test_an_um_closes_on_its_m():
    audio, tl, (start, end) = _hesitant("um")
    vowel, hum = _added(tl, silence.fill_hesitations(tl, audio))
    assert (vowel.symbol, hum.symbol) == (silence.HESITATION, silence.NASAL)
    assert vowel.end == hum.start
    # espeak-ng's "um": 0.19 s of /ʌ/, then 0.13 s of /m/.
    assert abs(hum.start - (start + 0.186)) < 0.04
    assert start - 0.02 <= vowel.start and hum.end <= end + 0.02


def test_voicing_before_the_first_word_is_left_alone():
    # A word the recogniser dropped at a clip's edge, not a filled pause: "So." left out.
    audio, tl, _ = _hesitant("uh")
    later = Timeline(tl.language, words=tl.words[1:],
                     phones=[p for p in tl.phones if p.word >= 1], source=tl.source)
    assert silence.fill_hesitations(later, audio) is later


def test_a_breath_a_murmur_or_nothing_between_words_stays_a_gap():
    for middle in ("breath", "murmur", ""):
        audio, tl, _ = _hesitant(middle)
        assert silence.fill_hesitations(tl, audio) is tl


def test_voicing_running_on_from_a_word_is_that_word_s():
    # The aligner ended "So" 0.15 s early: its vowel's voicing touches the gap's start.
    from visemic.types import Phone

    audio, tl, _ = _hesitant("")
    last = max(i for i, p in enumerate(tl.phones) if p.word == 0)
    p = tl.phones[last]
    short = Phone(p.symbol, p.start, p.end - 0.15, p.word, p.stress)
    tl = Timeline(tl.language, words=tl.words,
                  phones=tl.phones[:last] + [short] + tl.phones[last + 1:], source=tl.source)
    assert silence.fill_hesitations(tl, audio) is tl


def _two_phrases() -> tuple[Audio, Timeline]:
    """ "So." then "I thought so." by espeak-ng, 0.5 s of quiet noise between, and their exact
    timeline."""
    rng = np.random.default_rng(3)
    so, so_tl = espeak.synthesize("So.", "en-us")
    rest, rest_tl = espeak.synthesize("Thought so.", "en-us")
    sr = so.sample_rate
    x = np.concatenate([so.samples, np.zeros(int(0.5 * sr)), rest.samples])
    x = (x / np.abs(x).max() * 0.5 + rng.normal(0.0, 0.002, len(x))).astype(np.float32)
    later = rest_tl.shifted(so.duration + 0.5, len(so_tl.words))
    return Audio(x, sr), Timeline("en-us", words=so_tl.words + later.words,
                                  phones=so_tl.phones + later.phones, source="aligned")


def _moved(tl: Timeline, index: int, start: float, end: float) -> Timeline:
    from visemic.types import Phone

    p = tl.phones[index]
    phones = list(tl.phones)
    phones[index] = Phone(p.symbol, start, end, p.word, p.stress)
    return Timeline(tl.language, words=tl.words, phones=phones, source=tl.source)


def test_a_word_s_first_phone_stretched_back_over_a_pause_starts_after_it():
    audio, tl = _two_phrases()
    k = next(i for i, p in enumerate(tl.phones) if p.word == 1)  # "thought"'s /θ/
    before = tl.phones[k - 1].end
    trimmed = silence.trim_to_speech(_moved(tl, k, before, tl.phones[k].end), audio)
    assert abs(trimmed.phones[k].start - tl.phones[k].start) < 0.05
    assert abs(trimmed.words[1].start - tl.phones[k].start) < 0.05
    assert trimmed.phones[:k] == tl.phones[:k] and trimmed.phones[k + 1:] == tl.phones[k + 1:]


def test_a_word_s_last_phone_stretched_on_over_a_pause_ends_before_it():
    audio, tl = _two_phrases()
    k = max(i for i, p in enumerate(tl.phones) if p.word == 0)  # "so"'s vowel
    after = tl.phones[k + 1].start
    trimmed = silence.trim_to_speech(_moved(tl, k, tl.phones[k].start, after), audio)
    assert abs(trimmed.phones[k].end - tl.phones[k].end) < 0.05
    assert abs(trimmed.words[0].end - tl.phones[k].end) < 0.05


def test_phones_clear_of_the_pauses_are_left_alone():
    audio, tl = _two_phrases()
    assert silence.trim_to_speech(tl, audio) is tl
