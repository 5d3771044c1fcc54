"""Dubbing, end to end: VIDEO + new speech → the same video, its mouth speaking the speech.

:func:`dub` analyses (the speech with :func:`visemic.animate`, on a thread of its own while the
video is decoded, on another, and its face tracked; the mouth atlas from the reference clip; the
person's motion profile, learned from the reference's tracked lips and its own speech; the
choice of a real mouth per output frame) and returns a :class:`Dub`; :meth:`Dub.save` renders
it as a stream (:mod:`visemic.dub.playback`: decode → edit → encode, decoding and encoding on
their own threads, the edits of the frames to come worked out on worker threads), so memory
stays flat in the video's length (per frame only a few kB of tracking and choices are held).

Timing: the output's clock starts at the video's first frame. With the video's own audio the
speech keeps its place in the container; a separate AUDIO starts with the first frame. When the
speech is longer than the video the video plays forward, then backward, then forward … (no
frame is shown twice at a turn, so there is no visible jump); when it is shorter the video is
cut where the speech ends.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from visemic.dub import geometry, playback, select, untouched
from visemic.dub.atlas import CLASSES, Atlas, AtlasBuilder, context, pauses
from visemic.dub.encode import output_kind, refuse_inputs
from visemic.dub.playback import prefetched
from visemic.dub.shapes import ReferenceProfile, ShapeProfile, coupled, widened
from visemic.errors import NoFaceError, VisemicError
from visemic.render.portrait import mesh
from visemic.result import Result
from visemic.video import decode, features
from visemic.video.tracker import Tracker, smoothed

log = logging.getLogger(__name__)

Progress = Callable[[float], None]

CURVE_FPS = 100.0       # the speech's curves are computed this finely, then sampled per frame
MIN_IOD_PX = 12.0       # smaller faces are passed through
FADE_FRAMES = 4         # the edit fades in and out over this many frames around lost faces
YAW_MARGIN = (8.0, 22.0)  # degrees beyond the atlas's turn: full edit … none (profile views)
CUT_JUMP = 0.5          # landmarks moving this many eye distances in one frame: a cut
SILENCE_LAG, SILENCE_LEAD = 0.04, 0.08  # the mouth settles after speech, opens before it
# ... in pauses longer than SILENCE_EDGE_AFTER only, each at most SILENCE_EDGE_SHARE of the
# rest of the pause: a pause is rest in at least 80 % of its frames (issue 18), and in one of
# 300 ms (8 frames at 25 fps) the full lead and lag, and the blend of each edge's mouth with
# its speaking neighbour, moved 3 of its frames.
SILENCE_EDGE_SHARE, SILENCE_EDGE_AFTER = 0.1, 0.6
TRACK_SMOOTHING = 2     # passes of centred [1 2 1] over the video's landmarks (less shimmer)
# Share of the target shape taken from the reference's own lips for the same phone in the same
# context (where the reference has it; the rest from the curves through the shape profile).
CONTEXT_SHARE = 0.5
LEARN_FRAMES = 300     # reference frames the motion profile is learned from, at most
# The plan's progress: the video's scan and the speech's analysis (at once) end at PLAN_SHARE,
# the speech counting SPEECH_SHARE of it; reported at least every PROGRESS_EVERY seconds.
PLAN_SHARE, SPEECH_SHARE, PROGRESS_EVERY = 0.9, 0.5, 0.25
REST_FRAMES = 5        # the video's most closed frames its rest shape is the median of, at least


@dataclass
class FaceTrack:
    """The dubbed video's face per source frame: ``times`` [n], ``points`` [n × K × 3] the
    ``kept`` landmarks in source pixels (smoothed, NaN where lost), ``strength`` [n] 0…1."""

    times: np.ndarray
    kept: np.ndarray
    points: np.ndarray
    strength: np.ndarray

    def full(self, k: int) -> np.ndarray:
        out = np.full((mesh.N_REFINED, 3), np.nan)
        out[self.kept] = self.points[k]
        return out

    def head_faces(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """(source frame indices, their faces in the head frame [n × 478 × 3], NaN where not
        kept) of up to ``count`` frames where the face was found, evenly spread."""
        found = np.flatnonzero(np.isfinite(self.points[:, :, 0]).all(axis=1))
        pick = found[np.linspace(0, len(found) - 1, min(len(found), count)).astype(int)]
        faces = np.full((len(pick), mesh.N_REFINED, 3), np.nan)
        for j, k in enumerate(pick):
            full = self.full(int(k))
            faces[j] = geometry.to_local(full, geometry.head_frame(np.nan_to_num(full)))
        return pick, faces


@dataclass
class Dub:
    """A planned dub: what :func:`dub` worked out, ready to :meth:`save`.

    ``speech`` is visemic's analysis of the new speech (a :class:`~visemic.Result`); ``plan``
    [frames] the source frame shown at each output frame (ping-pong or trimmed), ``times`` their
    output times; ``choice`` the atlas entry per output frame; ``silent`` the pause frames;
    ``shapes`` the lip features asked for; ``classes`` the phone class per frame; ``edit``
    [frames] how much of each frame's edit is applied (0 where a pause is left as the video has
    it, :mod:`visemic.dub.untouched`; None: all of it everywhere).
    """

    video: str
    info: decode.VideoInfo
    speech: Result
    audio_path: str
    audio_offset: float
    track: FaceTrack
    atlas: Atlas
    rest_local: np.ndarray
    plan: np.ndarray
    times: np.ndarray
    choice: np.ndarray
    silent: np.ndarray
    shapes: np.ndarray
    classes: np.ndarray
    stats: dict[str, Any] = field(default_factory=dict)
    reference: str = ""
    edit: np.ndarray | None = None

    @property
    def frames(self) -> int:
        return len(self.plan)

    def __repr__(self) -> str:
        # The dataclass's own repr prints every array: tens of kilobytes for a short clip.
        return (f"Dub(video={self.video!r}, audio={self.audio_path!r}, "
                f"frames={self.frames}, fps={float(self.info.fps):g}, "
                f"size={self.info.width}x{self.info.height}, "
                f"pause_frames={int(np.count_nonzero(self.silent))})")

    def save(self, path: str | os.PathLike[str], progress: Progress | None = None) -> Path:
        """Render to ``path`` (.mp4, .webm or frames/%05d.png) and return it. Raises
        :class:`VisemicError` for a path that is not a video path or is one of the dub's own
        inputs (the video, the audio, the mouths' clip)."""
        output_kind(path)
        refuse_inputs(path, {"the video": self.video, "the audio": self.audio_path,
                             "the mouths' clip": self.reference})
        return playback.render(self, path, progress)


def dub(video: str | os.PathLike[str], audio: str | os.PathLike[str] | None = None, *,
        text: str | None = None, language: str | None = None,
        mouth_from: str | os.PathLike[str] | None = None, mouth_language: str | None = None,
        face: int = 0,
        emotion: Any = None, profile: Any = None, shapes: ShapeProfile | None = None,
        progress: Progress | None = None) -> Dub:
    """Plan a dub of ``video`` speaking ``audio`` (default: the video's own audio, re-synced).

    ``text``/``language`` as in :func:`visemic.animate` (no language: detected from each
    clip's speech); ``mouth_from`` a clip whose mouths are
    used (default: ``video``'s own); ``mouth_language`` the language of the speech heard in that
    reference clip, whose phones label its mouths (default: ``language``, or the clip's own
    detected where no word of ``language`` is heard in it; give it when the reference speaks
    another language than the new speech: a German clip labelled with English phones picks the
    wrong mouths); ``face`` which face (0: the largest); ``emotion`` an
    emotion mix for the curves; ``profile`` a personal motion profile (``visemic profile``; a
    path or :class:`~visemic.motion.profile.Profile`) that makes the curves move like this
    person's mouth; ``shapes`` maps visemic's curves to this person's lip features in the
    picture (default: learned from the reference clip,
    :class:`~visemic.dub.shapes.ReferenceProfile`).
    Raises :class:`VisemicError` for unreadable inputs, a video without audio when no ``audio``
    is given, a clip without a usable mouth, and :class:`NoFaceError` when no face is found.
    """
    from visemic import api
    from visemic.phonetics import espeak

    if mouth_language is not None:
        espeak.check_language(mouth_language)  # before any work; also where it goes unused
    video = os.fspath(video)
    info = decode.probe(video)
    if audio is None and not info.has_audio:
        raise VisemicError(f"{video} has no audio track: give the new speech as AUDIO")
    audio_path = os.fspath(audio) if audio is not None else video
    if profile is not None:
        from visemic.motion.profile import resolve

        profile = resolve(profile)
    # The speech's time 0 on the output clock (which starts at the video's first frame).
    offset = (info.video_start - info.audio_start) if audio is None else 0.0
    reference = os.fspath(mouth_from) if mouth_from is not None else video
    same = os.path.abspath(reference) == os.path.abspath(video)
    ref_info = info if same else decode.probe(reference)
    ref_language = mouth_language if mouth_language is not None else language

    # Each analysis's own 0…1 (the new speech's, the reference's), written by its thread.
    heard = [0.0, 1.0 if same and audio is None else 0.0]

    def hearing(k: int) -> Progress:
        def report(fraction: float) -> None:
            heard[k] = max(heard[k], fraction)
        return report

    def analyse() -> tuple[Result, Result | None]:
        new = api.animate(audio_path, text, language=language, fps=CURVE_FPS, emotion=emotion,
                          profile=profile, progress=hearing(0))
        heard[0] = 1.0
        own = new if same and audio is None else _own_speech(
            reference, ref_info, ref_language, profile, hearing(1),
            assumed=mouth_language is None)
        heard[1] = 1.0
        return new, own

    def planned(seen: float) -> None:
        # Both run at once, so the plan's progress counts the video's scan and the speech's
        # analysis half each (a bar that waited at the scan's end for the speech jumped).
        if progress is not None:
            progress(PLAN_SHARE * ((1 - SPEECH_SHARE) * seen + SPEECH_SHARE * sum(heard) / 2))

    scanning = _Stages(planned)

    # The speech is analysed on a thread of its own while the video is decoded and tracked
    # (recognition, decoding and Face Mesh all release the GIL: both cores work).
    with ThreadPoolExecutor(1, thread_name_prefix="visemic-dub-speech") as pool:
        analysis = pool.submit(analyse)
        try:
            kept = None
            if same:
                scanning.begin("track", 1.0)
                builder = AtlasBuilder(kept=np.zeros(0, np.int32), stride=_stride(info))
                track = _scan(video, info, face, builder, scanning.report)
                atlas_builder = builder
            else:
                scanning.begin("atlas", 0.6)
                atlas_builder = AtlasBuilder(kept=np.zeros(0, np.int32),
                                             stride=_stride(ref_info))
                _scan(reference, ref_info, 0, atlas_builder, scanning.report, reference=True)
                kept = atlas_builder.kept
                scanning.begin("track", 1.0)
                track = _scan(video, info, face, None, scanning.report, kept=kept)
            while True:
                try:
                    speech, ref_speech = analysis.result(timeout=PROGRESS_EVERY)
                    break
                except TimeoutError:
                    planned(1.0)
        except BaseException:
            analysis.cancel()
            raise
    atlas = _finish_atlas(atlas_builder, ref_speech, ref_info, reference, ref_language)
    timeline = ref_speech.timeline if ref_speech is not None else None
    stage = _Stages(progress, start=PLAN_SHARE)
    stage.begin("select", 1.0)
    learned = None
    if profile is None and ref_speech is not None:
        # The reference is tracked and its speech analysed already: the person's own motion
        # (issue 17's profile) is learned from it, and both speeches are animated with it.
        learned = _learn_profile(atlas, ref_speech, ref_info.audio_start or 0.0, reference)

        if learned is not None:
            same_speech = ref_speech is speech
            ref_speech = _reanimated(ref_speech, learned, emotion if same_speech else None)
            speech = ref_speech if same_speech else _reanimated(speech, learned, emotion)
    if shapes is None:
        shapes = _reference_shapes(atlas, ref_speech, ref_info)
    length = speech.audio.duration - offset
    if audio is None:  # re-syncing: the video's own length (its audio may run a little longer)
        length = min(length, playback.video_length(track.times, info.fps))
    plan, times = playback.schedule(track.times, length, info.fps)
    own_lips = None
    if timeline is not None and ref_speech is not None:
        own_lips = (ref_speech, atlas.times - (ref_info.audio_start or 0.0))
    choice, targets, classes, silent = choose_mouths(atlas, shapes, speech, times + offset,
                                                     own_lips)
    rest_local = _rest_shape(track)
    atlas.neutral = _matched_neutral(atlas, track, rest_local)
    _rest_at_video_rest(atlas)
    lost = int((track.strength[plan] <= 0).sum())
    if lost:
        log.warning("%d of %d frames passed through unchanged (face lost, too small, turned "
                    "away or a cut)", lost, len(plan))
    # jumps: output frames whose mouth is not the reference frame that followed the previous one
    stats = {"frames": len(plan), "passed_through": lost, "atlas": atlas.size,
             "profile": "given" if profile is not None else
             "learned" if learned is not None else "generic",
             "jumps": int((np.diff(atlas.source[choice]) != 1).sum()) if len(choice) > 1 else 0}
    d = Dub(video=video, info=info, speech=speech, audio_path=audio_path,
            audio_offset=offset, track=track, atlas=atlas, rest_local=rest_local, plan=plan,
            times=times, choice=choice, silent=silent, shapes=targets,
            classes=classes[:, 1].copy(), stats=stats, reference=reference)
    leave_resting(d)
    stage.report(1.0)
    return d


def leave_resting(d: Dub) -> None:
    """Set ``d.edit``: the pauses where the video's own mouth already rests as the dub would
    show it are left as they are (:mod:`visemic.dub.untouched`); counted in ``d.stats``."""
    step = float(np.median(np.diff(d.times))) if d.frames > 1 else 1.0 / (d.info.fps or 25)
    d.edit = untouched.edit_weights(d.silent, playback.rest_distances(d), step)
    d.stats["untouched"] = int((d.edit <= 0).sum())
    # What those frames show is the video's own lips: that is the shape asked for there.
    left = np.flatnonzero(d.edit < 1)
    if len(left):
        own = features.lip_features(np.stack([d.track.full(int(d.plan[i])) for i in left]))
        ok = np.isfinite(own).all(axis=1)
        w = d.edit[left[ok], None]
        d.shapes[left[ok]] = w * d.shapes[left[ok]] + (1 - w) * own[ok]


def reference_mouths(clip: str | os.PathLike[str], *, language: str | None = None,
                     profile: Any = None, progress: Progress | None = None
                     ) -> tuple[Atlas, ShapeProfile]:
    """The mouth atlas of ``clip`` (a video of the person speaking, :mod:`visemic.dub.atlas`)
    and the map from visemic's curves to that person's lip shapes, learned on the clip's own
    speech: what a dub with ``mouth_from=clip`` shows, for other renderers (a portrait's
    ``mouth_from``). Raises :class:`VisemicError` for a clip without a usable mouth."""
    clip = os.fspath(clip)
    info = decode.probe(clip)
    if profile is not None:
        from visemic.motion.profile import resolve

        profile = resolve(profile)
    stage = _Stages(progress)
    stage.begin("speech", 0.3)
    speech = _own_speech(clip, info, language, profile)
    stage.begin("atlas", 1.0)
    builder = AtlasBuilder(kept=np.zeros(0, np.int32), stride=_stride(info))
    _scan(clip, info, 0, builder, stage.report, reference=True)
    atlas = _finish_atlas(builder, speech, info, clip, language)
    return atlas, _reference_shapes(atlas, speech, info)


def _finish_atlas(builder: AtlasBuilder, speech: Result | None, info: decode.VideoInfo,
                  clip: str, language: str | None) -> Atlas:
    """The atlas of ``clip``, its mouths labelled with the phones of its own ``speech``
    (all "other" and none silent without it)."""
    timeline = speech.timeline if speech is not None else None
    atlas = builder.finish(timeline or _empty_timeline(language or "en"),
                           info.audio_start or 0.0, clip)
    if timeline is None:
        atlas.classes[:] = CLASSES.index("other")
        atlas.silent[:] = False
    return atlas


def choose_mouths(atlas: Atlas, shapes: ShapeProfile, speech: Result, times: np.ndarray,
                  reference: tuple[Result, np.ndarray] | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A real mouth for each of ``times`` (seconds of ``speech``): (atlas entry, the lip
    features asked for, phone classes [n × 3], pause frames), chosen by
    :func:`visemic.dub.select.choose`; in pauses the person's rest. ``reference`` (the atlas
    clip's own speech, and each atlas entry's time in it) blends into the targets the person's
    own lips for the same phone in the same context, where the reference has it."""
    values = _sample(speech, times)
    targets = np.asarray(shapes(values, speech.animation.channels), np.float64)
    if reference is not None and CONTEXT_SHARE > 0:
        from visemic.dub.atlas import phone_at, phone_class
        from visemic.dub.shapes import context_targets

        ref_speech, ref_times = reference
        ref_k, ref_u = phone_at(ref_speech.timeline, ref_times)
        out_k, out_u = phone_at(speech.timeline, times)
        seen, trust = context_targets([p.symbol for p in speech.timeline.phones], out_k, out_u,
                                      [p.symbol for p in ref_speech.timeline.phones], ref_k,
                                      ref_u, atlas.features, phone_class)
        share = (CONTEXT_SHARE * trust)[:, None]
        targets = (1 - share) * targets + share * seen
        # The person's opening as their own voice predicts it (learned on the reference, used
        # as far as it predicted the reference's held-out lips better).
        from visemic.dub import voice

        gap = atlas.features[:, features.FEATURES.index("inner_aperture")]
        model = voice.VoiceModel.fit(ref_speech, ref_times, gap, atlas.silent)
        targets = voice.blend(targets, model, speech, times)
    classes = context(speech.timeline, times)
    silent = pauses(speech.timeline, times, lag=SILENCE_LAG, lead=SILENCE_LEAD,
                    edge_share=SILENCE_EDGE_SHARE, edge_after=SILENCE_EDGE_AFTER)
    # The blends above narrowed the opening; it spreads as the person's own does.
    ap = features.FEATURES.index("inner_aperture")
    targets[:, ap] = widened(targets[:, ap], ~silent, atlas.features[:, ap], ~atlas.silent)
    # The features that follow the opening, as the person's own lips make them follow it.
    targets = coupled(targets, atlas.features, ~atlas.silent)
    # In pauses the shape asked for is the person's rest.
    targets[silent] = atlas.features[atlas.rest]
    return select.choose(atlas, targets, classes, silent), targets, classes, silent


# --------------------------------------------------------------------------- analysis


class _Stages:
    """Maps each stage's own 0…1 onto its share of the whole."""

    def __init__(self, progress: Progress | None, start: float = 0.0) -> None:
        self.progress = progress
        self.start = start
        self.end = start

    def begin(self, name: str, end: float) -> None:
        self.start, self.end = self.end, end
        self.report(0.0)

    def report(self, fraction: float) -> None:
        if self.progress is not None:
            self.progress(self.start + (self.end - self.start) * min(1.0, max(0.0, fraction)))


def _stride(info: decode.VideoInfo) -> int:
    from visemic.dub.atlas import MAX_FRAMES

    expected = info.frames or int(info.duration * (info.fps or 25))
    return max(1, math.ceil(expected / MAX_FRAMES))


def _own_speech(path: str, info: decode.VideoInfo, language: str | None,
                profile: Any = None, progress: Progress | None = None,
                assumed: bool = False) -> Result | None:
    """visemic's analysis of a clip's own audio (its phones label the atlas); None without one.

    ``assumed``: ``language`` is the new speech's, not known to be the clip's. Where no word
    of it is heard and aligned there (a German presenter given an English line without
    ``mouth_language``: Whisper's English model heard nothing, or English words that could not
    be aligned, and every mouth was labelled by the phone loop), the clip's language is
    detected instead, and the phone loop's warning is not shown."""
    from visemic import api

    if not info.has_audio:
        log.warning("%s has no audio: its mouths are chosen by shape only", path)
        return None
    if not assumed or language is None:
        return api.animate(path, language=language, fps=CURVE_FPS, profile=profile,
                           progress=progress)
    with _held_warnings("visemic.phonetics.timeline") as held:
        own = api.animate(path, language=language, fps=CURVE_FPS, profile=profile,
                          progress=progress)
    if own.timeline.words:  # Whisper's words, aligned: the language was the clip's
        for record in held:
            logging.getLogger(record.name).handle(record)
        return own
    log.warning("no %s words heard in %s, the mouths' clip: its language is detected instead "
                "(give it with --mouth-language)", language, path)
    return api.animate(path, language=None, fps=CURVE_FPS, profile=profile, progress=progress)


@contextlib.contextmanager
def _held_warnings(name: str) -> Iterator[list[logging.LogRecord]]:
    """The records logger ``name`` logs on this thread while the block runs, held back (the
    caller re-emits them or not)."""
    held: list[logging.LogRecord] = []
    me = threading.get_ident()

    def hold(record: logging.LogRecord) -> bool:
        if record.thread == me:
            held.append(record)
            return False
        return True

    logger = logging.getLogger(name)
    logger.addFilter(hold)
    try:
        yield held
    finally:
        logger.removeFilter(hold)


def _learn_profile(atlas: Atlas, speech: Result, audio_start: float, name: str) -> Any:
    """The person's motion profile (:func:`visemic.calibrate.learn`) from the reference's atlas
    frames (their tracked lips) and its own speech; None where the clip has too little tracked
    speech to learn from (the generic motion is used)."""
    from visemic import calibrate

    # At most LEARN_FRAMES frames, evenly: the fit's least squares on more rows cross
    # OpenBLAS's threading threshold, and with the cores shared that is ~15× slower (45 s
    # against 2.6 s for 600 frames); 300 frames fit as well (r 0.588 against 0.593).
    order = np.argsort(atlas.times)
    order = order[::max(1, math.ceil(len(order) / LEARN_FRAMES))]
    f = atlas.features[order].astype(np.float64)
    col = features.FEATURES.index
    obs = calibrate.Observation(
        os.path.basename(name), atlas.times[order] - audio_start, f[:, col("inner_aperture")],
        f[:, col("mouth_width")], f[:, col("protrusion")], np.ones(len(order)),
        speech.timeline, speech.prosody, speech.audio.duration, "iod")
    try:
        learned = calibrate.learn(obs)
    except VisemicError as exc:
        log.info("generic motion: %s", exc)
        return None
    if _closed_rest(atlas):
        # Pauses show the atlas's rest, and it is closed: the curves rest closed too. A rest
        # learned open (people who wait with parted lips, or breathe in through the mouth
        # before a phrase) would hold the jaw open where the picture shows closed lips, and
        # lift the short gaps between words with it.
        from visemic.motion import profile as profile_mod

        rest = profile_mod.generic().opening["rest"]
        learned = replace(learned, opening={**learned.opening, "rest": rest})
    return replace(learned, name=f"learned from {os.path.basename(name)}")


def _closed_rest(atlas: Atlas) -> bool:
    """Whether the mouth the atlas shows in pauses is closed (as :func:`~visemic.dub.atlas.
    choose_rest` decides it, :func:`~visemic.dub.atlas.closed_gap`)."""
    from visemic.dub.atlas import closed_gap

    aperture = atlas.features[:, features.FEATURES.index("inner_aperture")]
    return bool(aperture[atlas.rest] < closed_gap(atlas))


def _reanimated(result: Result, profile: Any, emotion: Any = None) -> Result:
    """``result``'s speech animated again (same phones) with a motion ``profile``."""
    from visemic import api

    return api.animate(result.audio, alignment=result.timeline,
                       language=result.timeline.language, fps=CURVE_FPS, emotion=emotion,
                       profile=profile)


def _empty_timeline(language: str) -> Any:
    from visemic.types import Timeline

    return Timeline(language=language)


def _scan(path: str, info: decode.VideoInfo, face: int, builder: AtlasBuilder | None,
          progress: Progress, kept: np.ndarray | None = None,
          reference: bool = False) -> FaceTrack:
    """Decode and track ``path`` once; feed usable frames to ``builder`` (the atlas)."""
    expected = max(1, info.frames or int(info.duration * (info.fps or 25)))
    times: list[float] = []
    rows: list[np.ndarray | None] = []
    found = False
    tracker: Tracker | None = None
    try:
        for frame in prefetched(decode.frames(path)):
            if tracker is None:
                tracker = Tracker(face, pixel_scale=1.0)
            result = tracker.update(frame.image, frame.time)
            pts = result.landmarks
            found = found or pts is not None
            if pts is not None and kept is None:
                kept = geometry.kept_points(pts)
                if builder is not None:
                    builder.kept = kept
            if builder is not None:
                builder.add(frame.image, pts, frame.index, frame.time)
            times.append(frame.time)
            rows.append(None if pts is None else pts[kept].astype(np.float32))
            if len(times) % 10 == 0:
                progress(min(0.99, len(times) / expected))
    finally:
        if tracker is not None:
            tracker.close()
    if not times:
        raise VisemicError(f"{path}: no video frames decode")
    if not found or kept is None:
        if reference:
            raise VisemicError(f"{path}: no usable mouth for dubbing (no face found)")
        if face > 0:
            raise VisemicError(f"face {face} asked for, but fewer faces were found in {path} "
                               f"(numbered from 0, largest first)")
        raise NoFaceError(path)
    points = np.full((len(rows), len(kept), 3), np.nan, np.float32)
    for i, r in enumerate(rows):
        if r is not None:
            points[i] = r
    progress(1.0)
    raw = points.copy()
    points = smoothed(points, TRACK_SMOOTHING).astype(np.float32)
    return FaceTrack(times=np.asarray(times), kept=kept, points=points,
                     strength=_strength(raw, kept))


def _strength(points: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Per frame 0…1: how fully to edit (0 where the face is lost, small, turned or at a
    cut), faded in and out over :data:`FADE_FRAMES`."""
    n = len(points)
    full = np.full((n, mesh.N_REFINED, 3), np.nan, np.float32)
    full[:, kept] = points
    found = np.isfinite(points[:, :, 0]).all(axis=1)
    s = np.zeros(n)
    safe = np.nan_to_num(full)
    iod = features.inter_ocular(safe)
    yaw = np.abs(features.pose(safe)[:, 0])
    lo, hi = 30.0 + YAW_MARGIN[0], 30.0 + YAW_MARGIN[1]
    s = np.where(found & (iod >= MIN_IOD_PX), np.clip((hi - yaw) / (hi - lo), 0, 1), 0.0)
    jump = np.zeros(n, bool)
    step = np.linalg.norm(np.diff(points[:, :, :2], axis=0), axis=2)
    med = np.full(max(n - 1, 0), np.nan)
    rows = np.isfinite(step).any(axis=1)
    if rows.any():
        med[rows] = np.nanmedian(step[rows], axis=1)
    for i, m in enumerate(med):
        if np.isfinite(m) and m > CUT_JUMP * max(iod[i + 1], 1.0):
            jump[i] = jump[i + 1] = True
    s[jump] = 0.0
    # Fade: a frame is no stronger than its neighbours' minimum nearby, then eased.
    k = FADE_FRAMES
    padded = np.pad(s, k, mode="edge")
    low = np.min(np.lib.stride_tricks.sliding_window_view(padded, 2 * k + 1), axis=1)
    kernel = np.hanning(2 * k + 3)[1:-1]
    eased = np.convolve(np.pad(low, k, mode="edge"), kernel / kernel.sum(), mode="valid")
    return np.where(s > 0, np.minimum(eased, s), 0.0)


def _video_faces(track: FaceTrack) -> tuple[np.ndarray, np.ndarray]:
    """(head-frame faces [n × 478 × 3], NaN where not kept; inner-lip gaps [n]) of up to 400
    found frames of the video, evenly spread."""
    pick, faces = track.head_faces(400)
    gaps = [features.lip_features(np.nan_to_num(track.full(int(k))))[0] for k in pick]
    return faces, np.asarray(gaps)


def _rest_shape(track: FaceTrack) -> np.ndarray:
    """The video's face at rest (478×3 local, NaN where not kept): the median of its most closed
    frames (a tenth of them, at least :data:`REST_FRAMES`). A closed rest is shown in pauses
    as it is (:func:`_rest_at_video_rest`): the most closed quarter's median was parted 0.036
    eye distances on the older GRID speaker, and Face Mesh read her pauses open."""
    shapes_a, gaps_a = _video_faces(track)
    closed = np.argsort(gaps_a, kind="stable")[:max(REST_FRAMES, len(gaps_a) // 10)]
    return np.median(shapes_a[closed], axis=0)


def _matched_neutral(atlas: Atlas, track: FaceTrack, rest_local: np.ndarray) -> np.ndarray:
    """The atlas's neutral face (478×3 local) as the same mouth as the video's rest
    ``rest_local``: the rest less the difference between the video's face and the atlas's at
    one and the same lip gap (the lower quartile of both clips' gaps), each read off a
    straight line through all of that clip's frames against its gap.

    Each pasted mouth lands at the video's rest plus its difference from the atlas's neutral,
    so the two must be the same mouth. Medians of each clip's most closed quarter alone were
    not: a quarter of a few seconds is a handful of frames, often at one head pose (the 3/4
    clip's sat 0.06 eye distances above its mean mouth against none in the video; a GRID
    speaker's 0.03 to the side), and every pasted mouth carried the difference. The lines use
    every frame; compared at the same gap, how open each clip's mouths were on the whole does
    not matter."""
    vid, vid_gaps = _video_faces(track)
    ref = np.full((atlas.size, mesh.N_REFINED, 3), np.nan)
    ref[:, atlas.kept] = atlas.local
    ref_gaps = atlas.features[:, features.FEATURES.index("inner_aperture")].astype(np.float64)
    neutral = _matched(rest_local, vid, vid_gaps, ref, ref_gaps)
    return playback.atlas_neutral(replace(atlas, neutral=None)) if neutral is None else neutral


def _rest_at_video_rest(atlas: Atlas) -> None:
    """Where the atlas rests closed, place its rest mouth exactly at its neutral face, so a
    pause shows the video's own closed rest shape (a mouth is moved by its difference from
    the neutral). The rest entry is one frame, and its own difference from the neutral (its
    pose, its slightly parted or pressed lips) put every pause 0.02–0.05 eye distances from
    where the video's lips close (GRID halves: LMD in pauses 0.044 → 0.016 on lwbsza,
    0.020 → 0.014 on lbbc2a)."""
    if atlas.neutral is None or not _closed_rest(atlas):
        return  # a parted rest keeps its own shape (people who wait with their lips apart)
    want = atlas.neutral[atlas.kept]
    atlas.local[atlas.rest] = np.where(np.isfinite(want), want, atlas.local[atlas.rest])


def _matched(rest: np.ndarray, video: np.ndarray, video_gaps: np.ndarray, ref: np.ndarray,
             ref_gaps: np.ndarray) -> np.ndarray | None:
    """``rest`` less (the video's face − the reference's) at the lower quartile of both clips'
    gaps (see :func:`_matched_neutral`); None with too few frames or gaps that hardly vary."""
    both = np.r_[video_gaps, ref_gaps]
    both = both[np.isfinite(both)]
    if len(video) < 8 or len(ref) < 8 or len(both) == 0:
        return None
    gap = float(np.quantile(both, 0.25))
    on_video, on_ref = _face_at(video, video_gaps, gap), _face_at(ref, ref_gaps, gap)
    if on_video is None or on_ref is None:
        return None
    return np.asarray(rest, np.float64) - (on_video - on_ref)


def _face_at(faces: np.ndarray, gaps: np.ndarray, gap: float) -> np.ndarray | None:
    """Per coordinate, the least-squares line through ``faces`` [n × P × 3] against ``gaps``
    [n], read at ``gap`` (None when the gaps hardly vary)."""
    ok = np.isfinite(gaps)
    x, y = np.asarray(gaps, np.float64)[ok], np.asarray(faces, np.float64)[ok]
    xc = x - x.mean()
    if len(x) < 8 or float(xc @ xc) < 1e-10:
        return None
    mean = y.mean(axis=0)
    slope = np.tensordot(xc, y - mean, axes=(0, 0)) / float(xc @ xc)
    return mean + slope * (gap - x.mean())


def _sample(result: Result, times: np.ndarray) -> np.ndarray:
    """The curves at ``times`` (seconds of the speech), linearly interpolated."""
    anim = result.animation
    v = anim.values
    pos = np.clip(np.asarray(times) * anim.fps, 0, max(0, len(v) - 1))
    i0 = np.floor(pos).astype(int)
    i1 = np.minimum(i0 + 1, len(v) - 1)
    w = (pos - i0)[:, None]
    return v[i0] * (1 - w) + v[i1] * w


def _reference_shapes(atlas: Atlas, speech: Result | None,
                      info: decode.VideoInfo) -> ShapeProfile:
    """Curves → this person's lip features, fitted on the reference's own speech (flat
    without it)."""
    if speech is None:
        return _flat_profile(atlas)
    values = _sample(speech, atlas.times - (info.audio_start or 0.0))
    return ReferenceProfile.fit(values, speech.animation.channels, atlas.features,
                                speech=~atlas.silent)


def _flat_profile(atlas: Atlas) -> ShapeProfile:
    """Without the reference's own speech: the person's shapes spread over jawOpen alone."""
    ap = atlas.features
    q = np.linspace(0.02, 0.98, 25)
    fq = np.quantile(ap, q, axis=0).T
    dq = np.tile(np.linspace(0.0, 0.6, 25), (ap.shape[1], 1))
    return ReferenceProfile(driver_q=dq, feature_q=fq)
