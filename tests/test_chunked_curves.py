"""Long files are animated a chunk of frames at a time (flat memory, issue 22): the chunked path
must give exactly the curves of the whole-clip path. A short clip is one chunk; with a chunk of a
few dozen frames the same clip crosses many chunk edges (the step limit's state, the loudness
mean, the widened seal and every pull's reach all straddle them)."""

from __future__ import annotations

import numpy as np
import pytest

from visemic import prosody as prosody_mod
from visemic.motion import curves, expression


@pytest.mark.parametrize("fps, kwargs", [
    (60.0, {}),
    (24.0, {"emotion": "happy:0.7,surprised:0.4", "style": "clear", "seed": 3}),
    (240.0, {"emotion": "angry", "style": "mumbled", "still": True}),
])
@pytest.mark.parametrize("chunk", [1, 7, 37])
def test_chunked_curves_equal_the_whole_clip(spoken, monkeypatch, fps, kwargs, chunk):
    audio, tl = spoken
    pros = prosody_mod.analyse(audio)
    expr = expression.settings(kwargs.get("emotion"), kwargs.get("style"), None, None,
                               kwargs.get("still", False), kwargs.get("seed"))
    frames = round(audio.duration * fps)
    whole = expression.animate(tl, pros, fps=fps, duration=audio.duration, expression=expr,
                               text="Mom bought five blue boxes?")
    speech = curves.animate(tl, pros, fps=fps, duration=audio.duration)
    assert whole.frames == frames and frames <= curves.CHUNK  # one chunk by default
    monkeypatch.setattr(curves, "CHUNK", chunk)
    assert len(curves.chunks(frames)) > 1
    parts = expression.animate(tl, pros, fps=fps, duration=audio.duration, expression=expr,
                               text="Mom bought five blue boxes?")
    np.testing.assert_array_equal(parts.values, whole.values)
    np.testing.assert_array_equal(
        curves.animate(tl, pros, fps=fps, duration=audio.duration).values, speech.values)
    # The step limit held across chunk edges: no jump beyond it anywhere.
    step = curves.MAX_STEP_60 * 60.0 / fps
    assert np.abs(np.diff(parts.values[:, :52], axis=0)).max() <= step + 1e-6
