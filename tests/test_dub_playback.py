"""Playing a planned dub: frames edited as decoded (YUV 4:2:0) match frames edited as RGB, and
every pixel outside the edited box is the decoded one, byte for byte."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import visemic
from visemic.dub import playback
from visemic.dub.composite import Compositor
from visemic.video import decode


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    folder = tmp_path_factory.mktemp("playback")
    said = visemic.say("Open the window, then we can see the bay.", still=True, seed=3)
    clip = said.save(folder / "talking.mp4", size=(224, 224), fps=25)
    return visemic.dub(clip)


def test_yuv_edit_is_the_rgb_edit_and_nothing_else_changes(plan):
    edits = playback.Edits(plan)
    as_rgb = Compositor(plan.atlas, plan.rest_local)
    as_yuv = Compositor(plan.atlas, plan.rest_local)
    checked = 0
    for i, (k, yuv) in enumerate(playback._source_frames(plan, i420=True)):
        edit = edits(i, k)
        if edit is None:
            continue
        h, w = yuv.shape[0] * 2 // 3, yuv.shape[1]
        rgb = cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB_I420)
        before = yuv.copy()
        as_rgb.apply(rgb, edit)
        playback.apply_i420(as_yuv, yuv, edit)
        x0, y0, x1, y1 = as_yuv.region(edit, (h, w))
        outside = np.ones((h, w), bool)
        outside[max(0, y0 - 1):y1 + 1, max(0, x0 - 1):x1 + 1] = False
        assert np.array_equal(yuv[:h][outside], before[:h][outside])
        assert not np.array_equal(yuv, before)  # the mouth was edited
        got = cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB_I420).astype(np.int16)
        box = (slice(y0, y1), slice(x0, x1))
        diff = np.abs(got[box] - rgb[box].astype(np.int16))
        # The same edit, but for YUV's own rounding and the chroma shared by 2×2 pixels.
        assert diff.mean() < 1.5
        assert np.percentile(diff, 99) < 16
        checked += 1
    assert checked > 10


def test_mp4_output_keeps_the_pixels_outside_the_lower_face(plan, tmp_path):
    out = plan.save(tmp_path / "dub.mp4")
    source = [f.image for f in decode.frames(Path(plan.video))]
    dubbed = [f.image for f in decode.frames(out)]
    assert len(dubbed) == plan.frames
    for i in range(0, plan.frames, 5):
        k = int(plan.plan[i])
        top = int(np.nanmin(plan.track.full(k)[[1, 2, 98, 327], 1])) - 4  # above the nose base
        a = source[k][:top].astype(float)
        b = dubbed[i][:top].astype(float)
        psnr = 10 * np.log10(255 ** 2 / max(((a - b) ** 2).mean(), 1e-9))
        assert psnr > 38.0  # encoding alone (CRF 18)


def test_webm_output_has_every_frame(plan, tmp_path):
    out = plan.save(tmp_path / "dub.webm")
    assert len(list(decode.frames(out))) == plan.frames


def test_frames_stay_yuv_only_where_the_encoder_takes_them_as_decoded(plan, tmp_path):
    from dataclasses import replace

    assert playback.passes_yuv(plan.info, tmp_path / "a.mp4")
    assert playback.passes_yuv(plan.info, tmp_path / "a.webm")
    assert not playback.passes_yuv(plan.info, tmp_path / "frames" / "%05d.png")
    assert not playback.passes_yuv(replace(plan.info, rotation=90), tmp_path / "a.mp4")
    assert not playback.passes_yuv(replace(plan.info, width=225), tmp_path / "a.mp4")


def test_render_on_worker_threads_is_the_edit_done_frame_by_frame(plan, tmp_path):
    """The frames' edits are worked out on worker threads ahead of the one being finished
    (Compositor.prepare, then finish in order): the PNGs are those of Compositor.apply run on
    each frame in turn."""
    out = plan.save(tmp_path / "frames" / "%05d.png")
    edits = playback.Edits(plan)
    compositor = edits.compositor
    compared = 0
    for i, (k, rgb) in enumerate(playback._source_frames(plan)):
        edit = edits(i, k)
        if edit is None:
            compositor.reset()
        else:
            compositor.apply(rgb, edit)
        got = cv2.cvtColor(cv2.imread(str(out.parent / f"{i:05d}.png")), cv2.COLOR_BGR2RGB)
        assert np.array_equal(got, rgb), f"frame {i}"
        compared += 1
    assert compared == plan.frames


def test_in_order_keeps_the_order_and_hands_on_a_failure():
    import threading
    import time

    seen: set[str] = set()

    def slow_then_fast(x: int) -> int:
        seen.add(threading.current_thread().name)
        time.sleep(0.02 if x % 3 == 0 else 0.0)  # later items finish first
        return x * x

    got = list(playback.in_order(iter(range(20)), slow_then_fast))
    assert got == [(x, x * x) for x in range(20)]
    assert len(seen) >= 2  # on worker threads, more than one

    def fails_at_7(x: int) -> int:
        if x == 7:
            raise ValueError("seven")
        return x

    taken = []
    with pytest.raises(ValueError, match="seven"):
        for x, _ in playback.in_order(iter(range(20)), fails_at_7):
            taken.append(x)
    assert taken == list(range(7))


def test_the_mouth_fades_in_at_the_top_of_the_upper_lip(plan):
    """Where the pasted area ends at the upper lip's own outline (its middle) the mouth's mask
    fades in over the lip's top rows, whole a little inside the lip, rather than jumping from
    the frame to the mouth between two rows (that cut showed the atlas lip's light border as a
    thin bright line over the video's own lip edge)."""
    edits = playback.Edits(plan)
    compositor = edits.compositor
    steps = []
    for i, (k, picture) in enumerate(playback._source_frames(plan)):
        edit = edits(i, k)
        if edit is None or i % 3:
            continue
        layers = compositor.prepare(picture, edit)
        assert layers is not None
        x0, y0 = layers.box[:2]
        sx0, sy0 = layers.sub[:2]
        top = np.asarray(edit.target)[0] - (x0 + sx0, y0 + sy0)  # the lip's top, middle
        column = layers.alpha[:, int(round(top[0]))]
        row = int(np.floor(top[1]))
        assert column[:row].max() < 0.05  # the frame above the lip
        assert column[row + 2] > 0.9      # the atlas's lip inside it
        steps.append(float(np.abs(np.diff(column[:row + 4])).max()))
    assert len(steps) > 10
    # (the cut jumped 0 → 0.97 in every frame; at this face's 40 px between the eyes the fade
    # is two rows)
    assert max(steps) < 0.75
