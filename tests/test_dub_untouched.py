"""Pauses a dub leaves as they are (visemic.dub.untouched): the weights alone, and a re-synced
video of the built-in avatar that rests in a pause of its own speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import spoken_with_pause

import visemic
from visemic.dub import untouched
from visemic.video import decode

STEP = 0.04


def test_a_long_still_stretch_is_left_with_the_edit_fading_at_its_ends():
    silent = np.zeros(40, bool)
    silent[10:30] = True
    distance = np.full(40, 0.005)
    w = untouched.edit_weights(silent, distance, STEP)
    assert (w[:10] == 1).all() and (w[30:] == 1).all()  # speech is edited
    assert (w[13:27] == 0).all()                          # the middle is the video's own
    # the edit fades out and back in, never jumping from all to none
    assert 0 < w[10] < 1 and 0 < w[29] < 1
    assert (np.diff(w[10:13]) < 0).all() and (np.diff(w[27:30]) > 0).all()


def test_short_stretches_parted_lips_and_unknown_frames_are_edited():
    silent = np.ones(30, bool)
    near = np.full(30, 0.005)
    # shorter than MIN_RUN: a flicker between edited and not
    few = int(untouched.MIN_RUN / STEP) - 1
    short = near.copy()
    short[few:] = 0.05
    assert (untouched.edit_weights(silent, short, STEP) == 1).all()
    # the video's mouth further than NEAR from the rest placed (parted, moving)
    assert (untouched.edit_weights(silent, np.full(30, untouched.NEAR * 1.5), STEP) == 1).all()
    assert (untouched.edit_weights(silent, np.full(30, np.nan), STEP) == 1).all()
    # nothing is left where the new speech speaks, however still the video's mouth
    assert (untouched.edit_weights(np.zeros(30, bool), near, STEP) == 1).all()


def test_a_stretch_at_the_clip_s_start_needs_no_fade():
    silent = np.zeros(30, bool)
    silent[:15] = True
    w = untouched.edit_weights(silent, np.full(30, 0.005), STEP)
    assert w[0] == 0 and (w[15:] == 1).all() and 0 < w[14] < 1


@pytest.fixture(scope="module")
def resting(tmp_path_factory) -> Path:
    """The built-in avatar speaking, resting through a second of silence, speaking again."""
    folder = tmp_path_factory.mktemp("resting")
    speech = spoken_with_pause("Open the box.", "Move along, please.", 1.0,
                               folder / "speech.wav")
    return visemic.animate(speech, still=True, seed=1).save(folder / "resting.mp4",
                                                            size=(256, 256), fps=25)


def test_a_resync_leaves_the_pause_the_video_rests_in_as_it_is(resting, tmp_path):
    import cv2

    plan = visemic.dub(resting)
    assert plan.stats["untouched"] >= 10
    left = plan.edit <= 0
    assert plan.silent[left].all()
    out = plan.save(tmp_path / "frames" / "%05d.png")
    dub = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)
           for p in sorted(Path(out).parent.glob("*.png"))]
    src = [f.image for f in decode.frames(resting)]
    for i in np.flatnonzero(left):
        assert np.array_equal(dub[i], src[int(plan.plan[i])])
    # speech is still dubbed: the mouths there are pasted ones
    speaking = np.flatnonzero(~plan.silent)
    changed = [np.abs(dub[i].astype(int) - src[int(plan.plan[i])]).max() for i in speaking]
    assert np.mean(np.asarray(changed) > 0) > 0.9
    # the shape asked for where the video is left is the video's own: it reads as asked
    assert np.isfinite(plan.shapes[left]).all()
