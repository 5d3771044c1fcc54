"""Parts of dubbing on drawn input: phones in context as targets, painting over the video's own
open lips, the head's pose from its rigid points."""

from __future__ import annotations

import cv2
import numpy as np

from visemic.dub import composite, geometry
from visemic.dub.atlas import phone_at, phone_class
from visemic.dub.shapes import CONTEXT_FULL, context_targets
from visemic.render.portrait import mesh
from visemic.types import Phone, Timeline


def timeline(*spans: tuple[str, float, float]) -> Timeline:
    return Timeline("en", phones=[Phone(s, a, b) for s, a, b in spans])


def test_phone_at_gives_the_phone_and_how_far_into_it():
    tl = timeline(("h", 0.0, 0.1), ("a", 0.1, 0.3), ("t", 0.5, 0.6))
    k, u = phone_at(tl, np.array([0.05, 0.2, 0.4, 0.55, 0.9]))
    assert list(k) == [0, 1, -1, 2, -1]
    assert np.allclose(u[[0, 1, 3]], 0.5) and u[2] == 0.0


def test_context_targets_are_the_reference_lips_of_the_same_phone_in_the_same_context():
    # Reference: "b a t" (the a wide open: 0.4) then "s a n" (the a less open: 0.2).
    ref = ["b", "a", "t", "s", "a", "n"]
    ref_k = np.repeat(np.arange(6), 10)
    ref_u = np.tile(np.linspace(0, 1, 10), 6)
    measured = np.zeros((60, 2))
    measured[10:20, 0] = 0.4
    measured[40:50, 0] = 0.2
    # Output: "b a t" (a known context), "o" (never said in the reference), a pause.
    out = ["b", "a", "t", "o"]
    out_k = np.array([1, 1, 1, 3, -1])
    out_u = np.array([0.2, 0.5, 0.8, 0.5, 0.0])
    got, trust = context_targets(out, out_k, out_u, ref, ref_k, ref_u, measured, phone_class)
    # The a of "b a t" is the reference's own "b a t" a, not the mean of both a's (0.3).
    assert np.all(got[:3, 0] > 0.37)
    assert np.all(trust[:3] > 0.5)
    assert trust[3] == 0.0 and trust[4] == 0.0
    # Without the "b a t" in the reference: the other context's a, trusted less.
    few = ref_k.copy()
    few[10:20] = -1
    g2, t2 = context_targets(out, out_k, out_u, ref, few, ref_u, measured, phone_class)
    assert abs(g2[1, 0] - 0.2) < 0.01
    assert 0 < t2[1] < trust[1] and CONTEXT_FULL > 0


def _mouth(cx: float, cy: float, half: float, gap: float) -> np.ndarray:
    """Landmarks (478×2, NaN elsewhere): outer lips an ellipse ``half`` wide opened by ``gap``,
    the inner lips' middles 13 (upper) and 14 (lower)."""
    pts = np.full((mesh.N_REFINED, 2), np.nan)
    ring = composite.LIPS_OUTER_RING
    n = len(ring)
    for i, k in enumerate(ring):
        a = 2 * np.pi * i / n
        pts[k] = (cx - half * np.cos(a), cy - (0.25 * half + gap / 2) * np.sin(a))
    pts[13] = (cx, cy - gap / 2)
    pts[14] = (cx, cy + gap / 2)
    return pts


def test_open_lips_are_painted_over_with_skin_where_the_new_mouth_is_closer():
    skin = np.array([205, 160, 135], np.uint8)
    roi = np.tile(skin, (120, 160, 1))
    cur = _mouth(80, 60, 30, 24)
    # a wide-open mouth: red lips around a dark opening, drawn a little outside its landmarks
    outline = np.round(cur[composite.LIPS_OUTER_RING]).astype(np.int32)
    cv2.fillPoly(roi, [outline], (150, 40, 50))
    cv2.polylines(roi, [outline], True, (150, 40, 50), 5)
    cv2.ellipse(roi, (80, 60), (22, 10), 0, 0, 360, (30, 10, 10), -1)
    iod = 60.0
    closed = _mouth(80, 60, 30, 0.5)
    out = composite._hide_open_lips(roi, cur, closed, iod)
    assert out is not roi
    area = (slice(30, 92), slice(40, 122))
    reds = np.abs(out[area].astype(int) - skin).sum(axis=2)
    assert reds.max() < 40, "the video's own lips still show"
    # Outside the painted area nothing changes.
    assert np.array_equal(out[:, :20], roi[:, :20])
    # Only the face is painted over: beyond its outline (a turned head's far cheek) nothing.
    with_face = cur.copy()
    for i, k in enumerate(mesh.FACE_OVAL):
        a = 2 * np.pi * i / len(mesh.FACE_OVAL)
        with_face[k] = (80 + 42 * np.cos(a), 60 + 55 * np.sin(a))
    inside_face = composite._hide_open_lips(roi, with_face, closed, iod)
    assert not np.array_equal(inside_face[:, 60:100], roi[:, 60:100])
    assert np.array_equal(inside_face[:, 122:], roi[:, 122:])
    assert not np.array_equal(out[:, 122:], roi[:, 122:])
    # A new mouth as open or more: nothing to hide.
    assert composite._hide_open_lips(roi, cur, _mouth(80, 60, 30, 30), iod) is roi


def test_the_pose_is_fitted_on_points_that_do_not_move_with_the_jaw():
    rng = np.random.default_rng(3)
    rest = np.full((mesh.N_REFINED, 3), np.nan)
    rest[list(geometry.RIGID)] = rng.normal(0, 0.5, (len(geometry.RIGID), 3))
    rest[152] = (0.0, 1.6, -0.2)  # the chin
    a = np.radians(6.0)
    rot = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    moved = rest @ rot.T + np.array([0.02, -0.03, 0.01])
    moved[152] += (0.0, 0.4, 0.0)  # the jaw drops: no part of the pose
    r, t = geometry.rigid_fit(rest, moved)
    assert np.allclose(r, rot, atol=1e-6) and np.allclose(t, [0.02, -0.03, 0.01], atol=1e-6)


def _atlas_with_pause(pause_frames: int, fps: float = 25.0):
    """A drawn atlas: ``pause_frames`` lips apart in a pause, then speech with a few closures."""
    from visemic.dub.atlas import Atlas
    from visemic.video import features

    rng = np.random.default_rng(0)
    speech = np.r_[rng.uniform(0.08, 0.3, 40), [0.003, 0.004, 0.002, 0.005]]
    aperture = np.r_[np.full(pause_frames, 0.12) + rng.normal(0, 0.005, pause_frames), speech]
    n = len(aperture)
    f = np.zeros((n, len(features.FEATURES)), np.float32)
    f[:, features.FEATURES.index("inner_aperture")] = aperture
    f[:, features.FEATURES.index("mouth_width")] = 1.0
    return Atlas(scale=64.0, kept=np.arange(3), crops=np.zeros((n, 2, 2, 3), np.uint8),
                 points=np.zeros((n, 3, 2)), local=np.zeros((n, 3, 3)), features=f,
                 classes=np.zeros((n, 3), np.int64), silent=np.arange(n) < pause_frames,
                 source=np.arange(n), teeth=np.zeros(n), thumbs=np.zeros((n, 4)),
                 yaw=np.zeros(n), times=np.arange(n) / fps, rest=0)


def test_a_short_reference_pause_does_not_make_the_rest_open():
    from visemic.dub.atlas import REST_EVIDENCE, choose_rest
    from visemic.video import features

    ap = features.FEATURES.index("inner_aperture")
    # 0.4 s of pause (a short clip's breath before its first word, lips apart): too little to
    # say the person rests open; the rest is their closed mouth.
    short = _atlas_with_pause(10)
    assert short.features[choose_rest(short), ap] < 0.01
    # Seconds of pauses with the lips apart: this person rests open.
    long = _atlas_with_pause(int(25 * REST_EVIDENCE * 1.5))
    rest = choose_rest(long)
    assert long.silent[rest] and long.features[rest, ap] > 0.1


def _parted_pauses_atlas(rest_open: bool):
    """A drawn atlas over real speech (espeak-ng): lips following the speech's jaw, parted
    (0.2 IOD) through its pauses; the rest entry closed or open."""
    import visemic
    from visemic.dub import pipeline
    from visemic.dub.atlas import Atlas, pauses
    from visemic.video import features

    a = visemic.say("Open the box and move along.")
    b = visemic.say("Please move along now, we are waiting.")
    gap = np.zeros(int(1.0 * a.audio.sample_rate), np.float32)
    from visemic.types import Audio

    audio = Audio(np.concatenate([a.audio.samples, gap, b.audio.samples]), a.audio.sample_rate)
    speech = visemic.animate(audio, text="Open the box and move along. Please move along now, "
                             "we are waiting.", fps=pipeline.CURVE_FPS)
    times = np.arange(0.0, audio.duration, 0.04)
    jaw = pipeline._sample(speech, times)[:, speech.animation.channels.index("jawOpen")]
    silent = pauses(speech.timeline, times, lead=0.1, lag=0.1)
    aperture = np.where(silent, 0.2, 0.02 + 0.4 * jaw)
    n = len(times)
    f = np.zeros((n, len(features.FEATURES)), np.float32)
    f[:, features.FEATURES.index("inner_aperture")] = aperture
    f[:, features.FEATURES.index("mouth_width")] = 1.0
    atlas = Atlas(scale=64.0, kept=np.arange(3), crops=np.zeros((n, 2, 2, 3), np.uint8),
                  points=np.zeros((n, 3, 2)), local=np.zeros((n, 3, 3)), features=f,
                  classes=np.zeros((n, 3), np.int64), silent=silent, source=np.arange(n),
                  teeth=np.zeros(n), thumbs=np.zeros((n, 4)), yaw=np.zeros(n), times=times,
                  rest=0)
    closed = np.flatnonzero(~silent)[np.argmin(aperture[~silent])]
    atlas.rest = int(np.flatnonzero(silent)[0]) if rest_open else int(closed)
    return atlas, speech


def test_a_learned_profile_rests_where_the_atlas_rests():
    from visemic.dub import pipeline

    # The person waits with parted lips; the fit learns an open rest from it. Where the dub's
    # pauses show a closed rest mouth, the curves rest closed with it.
    atlas, speech = _parted_pauses_atlas(rest_open=True)
    assert not pipeline._closed_rest(atlas)
    open_rest = pipeline._learn_profile(atlas, speech, 0.0, "parted.mp4")
    assert open_rest is not None and open_rest.opening["rest"] > 0.05
    atlas.rest = _parted_pauses_atlas(rest_open=False)[0].rest
    assert pipeline._closed_rest(atlas)
    closed = pipeline._learn_profile(atlas, speech, 0.0, "parted.mp4")
    assert closed is not None and closed.opening["rest"] == 0.0
    # Only the rest changes: the phones keep what was learned.
    assert {k: v for k, v in closed.opening.items() if k != "rest"} == {
        k: v for k, v in open_rest.opening.items() if k != "rest"}


def test_the_shape_profile_keeps_the_curves_correlation_and_the_person_s_range():
    from visemic.dub.shapes import DRIVERS, ReferenceProfile
    from visemic.video import features

    # A speaker whose lips are either shut or wide open (GRID-like: a step in the feature's
    # distribution) while the curves move smoothly: the mapped opening must keep the curves'
    # dips (matching every quantile bent them into the step), and span the person's range.
    rng = np.random.default_rng(1)
    channels = sorted({c for mix in DRIVERS.values() for c in mix})
    jaw = np.clip(rng.uniform(-0.1, 0.7, 400), 0, None)
    values = np.zeros((400, len(channels)))
    values[:, channels.index("jawOpen")] = jaw
    ap = features.FEATURES.index("inner_aperture")
    measured = np.full((400, len(features.FEATURES)), 0.5)
    measured[:, ap] = np.where(jaw > 0.15, 0.25 + 0.1 * jaw, 0.002) + rng.normal(0, 0.005, 400)
    profile = ReferenceProfile.fit(values, channels, measured)
    test = np.linspace(0.0, 0.7, 50)
    rows = np.zeros((50, len(channels)))
    rows[:, channels.index("jawOpen")] = test
    got = profile(rows, channels)[:, ap]
    assert np.all(np.diff(got) >= 0)
    assert got[0] < 0.02 and got[-1] > 0.25
    # half-way dips come out half-way, not wide open
    assert 0.08 < got[np.searchsorted(test, 0.2)] < 0.2


def test_the_atlas_neutral_is_the_video_rest_s_mouth_despite_a_pose_in_its_closed_frames():
    from visemic.dub import pipeline

    # The same mouth in two clips (the reference's sits 0.05 lower in its head frame); in the
    # reference the closed frames happen to come at a head pose that lifts the lips by 0.06.
    # A pasted mouth lands at the video's rest + (entry − neutral): the neutral must be the
    # reference's face where the video's rest is, 0.05 lower, not what its closed frames show.
    rng = np.random.default_rng(3)
    base = rng.normal(0, 0.3, (12, 3))
    opening = np.zeros((12, 3))
    opening[6:, 1] = 1.0  # the lower-lip points drop with the gap

    def faces(gaps: np.ndarray, shift: float, closed_lift: float) -> np.ndarray:
        f = base[None] + gaps[:, None, None] * opening[None] + rng.normal(0, 0.004, (len(gaps),
                                                                                     12, 3))
        f[:, :, 1] += shift
        f[gaps <= np.quantile(gaps, 0.25), :, 1] -= closed_lift
        return f

    vid_gaps, ref_gaps = rng.uniform(0, 0.3, 120), rng.uniform(0, 0.3, 60)
    video, ref = faces(vid_gaps, 0.0, 0.0), faces(ref_gaps, 0.05, 0.06)
    rest = np.median(video[vid_gaps <= np.quantile(vid_gaps, 0.25)], axis=0)
    neutral = pipeline._matched(rest, video, vid_gaps, ref, ref_gaps)
    want = rest + [0.0, 0.05, 0.0]
    old = np.median(ref[ref_gaps <= np.quantile(ref_gaps, 0.25)], axis=0)
    # (the lines see part of the lift too: about half of it is left, not all)
    assert np.abs(neutral - want).mean() < 0.6 * np.abs(old - want).mean()
    # too few frames: no answer (the closed-quarter median is used)
    assert pipeline._matched(rest, video[:5], vid_gaps[:5], ref, ref_gaps) is None


def test_a_short_pause_is_rest_nearly_to_its_edges_a_long_one_keeps_its_lead():
    from visemic.dub import pipeline
    from visemic.dub.atlas import pauses

    times = np.arange(0.0, 4.4, 0.04)
    # 0.32 s between "a" and "b" (8 frames), 2 s between "b" and "c".
    tl = timeline(("a", 0.0, 1.0), ("b", 1.32, 1.8), ("c", 3.8, 4.4))
    silent = pauses(tl, times, lead=pipeline.SILENCE_LEAD, lag=pipeline.SILENCE_LAG,
                    edge_share=pipeline.SILENCE_EDGE_SHARE,
                    edge_after=pipeline.SILENCE_EDGE_AFTER)
    short = (times >= 1.0) & (times < 1.32)
    assert silent[short].all()
    # The long pause: the mouth opens SILENCE_LEAD before the speech and closes SILENCE_LAG
    # after it.
    long = (times >= 1.8) & (times < 3.8)
    inside = (times >= 1.8 + pipeline.SILENCE_LAG) & (times < 3.8 - pipeline.SILENCE_LEAD)
    assert (silent[long] == inside[long]).all() and not inside[long].all()
    # Without the share, the same short pause loses its edges to the full lead and lag.
    full = pauses(tl, times, lead=pipeline.SILENCE_LEAD, lag=pipeline.SILENCE_LAG)
    assert full[short].sum() < silent[short].sum()


def test_a_speaker_with_a_small_opening_who_closes_in_pauses_rests_closed():
    from visemic.dub.atlas import choose_rest, closed_gap
    from visemic.video import features

    ap = features.FEATURES.index("inner_aperture")
    atlas = _atlas_with_pause(40)
    # Speech opening a median 0.045 IOD (0.3 of it: 0.0135); in the pauses lips mostly parted
    # 0.05, a few frames closed at 0.015–0.02.
    rng = np.random.default_rng(1)
    a = atlas.features[:, ap]
    a[~atlas.silent] = rng.uniform(0.03, 0.06, (~atlas.silent).sum())
    a[:40] = 0.05
    a[[3, 9, 17, 25, 31]] = [0.015, 0.018, 0.02, 0.016, 0.019]
    assert closed_gap(atlas) > 0.02
    rest = choose_rest(atlas)
    assert atlas.silent[rest] and a[rest] < 0.02


def test_a_pause_frame_shows_the_rest_alone_not_blended_with_the_speech_next_to_it():
    from visemic.dub import playback
    from visemic.dub.pipeline import Dub

    atlas = _atlas_with_pause(10)
    atlas.local = np.random.default_rng(2).normal(0, 0.1, (atlas.size, 3, 3))
    rest_pose = atlas.full_local(atlas.rest)
    choice = np.array([atlas.rest, atlas.rest, 20, 21])
    silent = np.array([True, True, False, False])
    d = Dub(video="", info=None, speech=None, audio_path="", audio_offset=0.0, track=None,
            atlas=atlas, rest_local=rest_pose, plan=np.arange(4), times=np.arange(4) * 0.04,
            choice=choice, silent=silent, shapes=np.zeros((4, 6)), classes=np.zeros(4, int))
    zero = np.zeros_like(rest_pose)
    # The last pause frame, next to speech: exactly the rest.
    assert np.allclose(playback._displacement(d, 1, rest_pose)[:3], zero[:3])
    # The first speech frame blends in its silent neighbour (the mouth opens from the rest).
    first = playback._displacement(d, 2, rest_pose)[:3]
    assert np.allclose(first, (atlas.full_local(20) * 2 + atlas.full_local(21)
                               - 3 * rest_pose)[:3] / 4)


def test_http_dub_form_takes_the_mouth_clip_s_language():
    import pytest

    from visemic.errors import VisemicError
    from visemic.server import dubbing

    request = dubbing.parse_request({"language": "en", "mouth_language": "de"}, True, True)
    assert request.mouth_language == "de" and request.language == "en"
    assert dubbing.parse_request({}, True, False).mouth_language is None
    stored = dubbing.request_from_dict(request.to_dict())
    assert stored == request
    with pytest.raises(VisemicError, match="^mouth_language: language"):
        dubbing.parse_request({"mouth_language": "../../etc"}, True, True)


def test_a_bilabial_is_not_shown_teeth():
    from visemic.dub import select
    from visemic.dub.atlas import CLASSES
    from visemic.video import features

    ap = features.FEATURES.index("inner_aperture")
    atlas = _atlas_with_pause(0)
    atlas.features[:, ap] = np.linspace(0.0, 0.3, atlas.size)
    # Two mouths of the same shape, one showing its teeth.
    k = atlas.size // 2
    atlas.features[k + 1] = atlas.features[k]
    atlas.teeth[k + 1] = 0.4
    # /b/ between two vowels: the curves ask it open (the jaw between them).
    asked = np.tile(atlas.features[k], (2, 1))
    other, bilabial = CLASSES.index("other"), CLASSES.index("bilabial")
    classes = np.array([[other, bilabial, other], [other, other, other]])
    cost = select.target_costs(atlas, asked, classes)
    assert cost[0, k + 1] > cost[0, k] + 0.5      # on the /b/ the teeth cost
    assert np.isclose(cost[1, k + 1], cost[1, k])  # elsewhere they do not
