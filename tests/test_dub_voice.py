"""The person's voice → lip opening model (visemic.dub.voice) on real synthesised speech, and
the pause mouth placed at the video's own rest."""

from __future__ import annotations

import numpy as np
import pytest

from visemic.dub import voice


def _speech(text: str):
    import visemic
    from visemic.phonetics import espeak

    audio, timeline = espeak.synthesize(text, "en-us")
    return visemic.animate(audio, alignment=timeline, fps=100.0)


def _trailing_lips(result, times: np.ndarray, lag: float = 0.08) -> np.ndarray:
    """A drawn speaker whose lip gap follows the loudness of their own voice ``lag`` late: the
    audio's RMS in 40 ms windows, an opening of up to 0.3 eye distances."""
    x = result.audio.samples.astype(np.float64)
    rate = result.audio.sample_rate
    half = int(0.02 * rate)
    rms = np.array([np.sqrt(np.mean(x[max(0, int((t - lag) * rate) - half):
                                      max(1, int((t - lag) * rate) + half)] ** 2))
                    for t in times])
    return 0.3 * rms / max(float(rms.max()), 1e-9)


@pytest.fixture(scope="module")
def reference():
    res = _speech("Mom bought five blue boxes. Please wait. Then we all go home for supper. "
                  "A quiet old man sat by the window and watched the rain.")
    times = np.arange(0.0, res.audio.duration, 0.04)
    return res, times, _trailing_lips(res, times)


def test_a_voice_the_lips_trail_is_learned_and_predicts_new_speech(reference):
    res, times, gap = reference
    silent = gap < 0.01
    model = voice.VoiceModel.fit(res, times, gap, silent)
    assert model is not None
    # Held out within the reference, the sound predicted the lips better than the curves'
    # profile, so it gets a weight.
    assert model.cv_r > model.cv_r_profile
    assert model.cv_r > 0.8
    assert model.weight > 0.3
    # On other speech of the same voice it follows the (lagging) lips.
    other = _speech("Set white in z three now. Lay blue by c two again, please.")
    t = np.arange(0.0, other.audio.duration, 0.04)
    want = _trailing_lips(other, t)
    got = model(other, t)
    assert got is not None
    speaking = want >= 0.01
    assert np.corrcoef(got[speaking], want[speaking])[0, 1] > 0.7
    # within the range the reference showed
    assert got.min() >= model.low - 1e-12 and got.max() <= model.high + 1e-12
    targets = np.full((len(t), 6), 0.1)
    mixed = voice.blend(targets, model, other, t)
    assert np.allclose(mixed[:, 1:], 0.1)
    assert np.allclose(mixed[:, 0], (1 - model.weight) * 0.1 + model.weight * got)


def test_too_little_speech_or_no_samples_learns_nothing(reference):
    from dataclasses import replace

    from visemic.types import Audio

    res, times, gap = reference
    few = np.ones(len(times), bool)
    few[:voice.MIN_FRAMES - 1] = False
    assert voice.VoiceModel.fit(res, times, gap, few) is None
    held_elsewhere = replace(res, audio=Audio(np.zeros(0, np.float32), res.audio.sample_rate,
                                              length=len(res.audio.samples)))
    assert voice.VoiceModel.fit(held_elsewhere, times, gap, gap < 0.01) is None
    targets = np.full((3, 6), 0.2)
    assert voice.blend(targets, None, res, times[:3]) is targets


def test_a_closed_pause_mouth_is_placed_at_the_video_s_rest():
    from visemic.dub import pipeline
    from visemic.dub.atlas import Atlas

    rng = np.random.default_rng(3)
    kept = np.array([0, 13, 14, 61, 291], np.int32)
    n = 6
    local = rng.normal(0, 0.1, (n, len(kept), 3)).astype(np.float32)
    atlas = Atlas(scale=40.0, kept=kept, crops=np.zeros((n, 4, 4, 3), np.uint8),
                  points=np.zeros((n, len(kept), 2), np.float32), local=local.copy(),
                  features=np.zeros((n, 6), np.float32), classes=np.zeros((n, 3), np.int32),
                  silent=np.zeros(n, bool), source=np.arange(n), teeth=np.zeros(n),
                  thumbs=np.zeros((n, 192), np.float32), yaw=np.zeros(n), times=np.arange(n),
                  rest=2)
    atlas.neutral = np.full((478, 3), np.nan)
    atlas.neutral[kept] = rng.normal(0, 0.1, (len(kept), 3))
    pipeline._rest_at_video_rest(atlas)
    # The rest entry moves nothing away from the neutral (the video's rest); the others keep
    # their shapes.
    assert np.allclose(atlas.full_local(2)[kept], atlas.neutral[kept], atol=1e-6)
    others = [j for j in range(n) if j != 2]
    assert np.array_equal(atlas.local[others], local[others])
    # A person who rests with parted lips keeps their own rest mouth.
    atlas.local = local.copy()
    atlas.features[:, 0] = 0.05
    atlas.features[2, 0] = 0.2
    pipeline._rest_at_video_rest(atlas)
    assert np.array_equal(atlas.local, local)
