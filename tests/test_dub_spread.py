"""The opening a dub asks for spreads as the person's own lips do (visemic.dub.shapes.widened):
on speech synthesised by espeak-ng, and on a shared GRID clip where present."""

from __future__ import annotations

import numpy as np
import pytest

from visemic.dub import shapes


def _opening(text: str) -> tuple[np.ndarray, np.ndarray]:
    """(visemic's jawOpen − mouthClose for ``text`` spoken by espeak-ng at 25 fps, the frames
    inside its phones)."""
    import visemic
    from visemic.phonetics import espeak

    audio, timeline = espeak.synthesize(text, "en-us")
    res = visemic.animate(audio, alignment=timeline, fps=25.0)
    a = res.animation
    gap = a.channel("jawOpen") - a.channel("mouthClose")
    t = np.arange(len(gap)) / a.fps
    inside = np.zeros(len(t), bool)
    for p in timeline.phones:
        inside |= (t >= p.start) & (t < p.end)
    return np.asarray(gap, np.float64), inside


@pytest.fixture(scope="module")
def person():
    """A speaker who opens wide (0.45 eye distances per unit of the curves' opening) and rests
    closed, and another utterance asked of them with the opening narrowed to a quarter about
    its mean (as a blend of poorly agreeing predictions narrows it)."""
    ref_gap, ref_speaking = _opening("Bin blue at f two now. Place red with g nine soon.")
    lips = 0.45 * np.clip(ref_gap, 0, None)
    gap, speaking = _opening("Lay green by z four please. Set white in a seven again.")
    full = 0.45 * np.clip(gap, 0, None)
    mean = full[speaking].mean()
    narrow = np.where(speaking, mean + (full - mean) / 4, 0.0)
    return lips, ref_speaking, narrow, speaking


def test_a_narrowed_opening_gets_the_person_s_spread_back(person):
    lips, ref_speaking, narrow, speaking = person
    got = shapes.widened(narrow, speaking, lips, ref_speaking)
    want = shapes.SPREAD_SHARE * lips[ref_speaking].std()
    assert narrow[speaking].std() < 0.6 * want
    assert got[speaking].std() == pytest.approx(want, rel=0.1)
    # the same timing: a straight line of the asked (before the range's ends)
    assert np.corrcoef(got[speaking], narrow[speaking])[0, 1] > 0.99
    assert got[speaking].mean() == pytest.approx(narrow[speaking].mean(), abs=0.01)
    # within the person's range, and the pauses are left to the caller
    lo, hi = np.quantile(lips, shapes.SPAN)
    assert got[speaking].min() >= lo - 1e-12 and got[speaking].max() <= hi + 1e-12
    assert np.array_equal(got[~speaking], narrow[~speaking])


def test_the_gain_is_bounded_and_a_wide_opening_is_not_narrowed(person):
    lips, ref_speaking, narrow, speaking = person
    mean = narrow[speaking].mean()
    flat = np.where(speaking, mean + (narrow - mean) / 20, 0.0)
    got = shapes.widened(flat, speaking, lips, ref_speaking)
    assert got[speaking].std() <= shapes.SPREAD_GAIN * flat[speaking].std() * (1 + 1e-9)
    wide = np.where(speaking, mean + 3 * (narrow - mean), 0.0)
    assert np.array_equal(shapes.widened(wide, speaking, lips, ref_speaking), wide)
    # too few frames: as asked
    few = np.zeros(len(speaking), bool)
    few[:2] = True
    assert np.array_equal(shapes.widened(narrow, few, lips, ref_speaking), narrow)


def test_a_grid_dub_asks_for_an_opening_that_follows_the_real_lips(grid_dub_plan):
    """Self-reenactment of a shared GRID clip (bench/dub_targets.py): the opening asked for
    spreads at least SPREAD_SHARE of the first half's, and follows the second half's real
    lips at r ≥ 0.6 (0.86 measured; 0.80 before the widening)."""
    import dub_targets

    case, d = grid_dub_plan
    ap = 0
    ref = case.atlas.features[~case.atlas.silent, ap]
    speaking = ~d.silent
    assert d.shapes[speaking, ap].std() >= 0.95 * shapes.SPREAD_SHARE * ref.std()
    assert dub_targets.score(d, case)["r"] >= 0.6
