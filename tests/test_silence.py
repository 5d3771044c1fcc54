"""Silence detection: pauses are found by level, and quiet steady voicing is not a pause."""

from __future__ import annotations

import numpy as np

from visemic.phonetics import espeak, silence
from visemic.types import Audio

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
