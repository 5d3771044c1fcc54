"""How well a dub's *targets* (the lip shapes it asks for) follow the real lips, in seconds.

The self-reenactment of bench/dub_quality.py without rendering: each clip of
../shared/samples/video/ is cut into halves A and B; B is dubbed with its own audio and mouths
from A, and what the dub plans (:func:`visemic.dub.pipeline.choose_mouths`' targets and mouths,
and the lip landmarks :class:`visemic.dub.playback.Edits` places) is scored against the real B
tracked by Face Mesh:

- ``r``: r of the inner-lip aperture asked for with the real one (``r_sp``: over the speech
  frames only; ``sil``: the share of pause frames, asked for the rest shape);
- ``rms``: RMS error per feature (IOD), in :data:`visemic.video.features.FEATURES` order, and
  ``r`` per feature over the speech frames;
- ``lmd``: the lip landmarks the warp aims for against the real B's (mean distance ÷ IOD, as
  the benchmark's LMD but before warping, pasting and re-tracking), for the dub and for the
  "frozen" plan (the rest mouth everywhere); ``ratio`` = dub / frozen.

The cuts, both tracks and both speech analyses are cached (``--cache``, default a folder in the
temp dir), so a rerun takes seconds; the targets are built by the project's own code each run.

    PYTHONPATH=src python bench/dub_targets.py [--clips NAME,...] [--cache DIR] [--oracle]
        [--cross]

The ratio follows the benchmark's (dub / frozen LMD of the rendered, re-tracked dub) within
0.10 on every clip (0.61–1.26 here against 0.59–1.25 there at the start of session 11), r
within 0.06.

(``--oracle``: also the real B's own features as targets, the ceiling of the shape targets:
all six ("oracle"), the opening alone ("or_ap"), the other five ("or_rest"); ``--cross``:
each clip's B speaking the next clip's B speech, r of the opening asked for with visemic's
jawOpen, a proxy for the benchmark's cross-dub.)
"""

from __future__ import annotations

import argparse
import copy
import pickle
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dub_quality  # noqa: E402  (bench/dub_quality.py, beside this file)

from visemic import api  # noqa: E402
from visemic.dub import pipeline, playback  # noqa: E402
from visemic.dub.atlas import AtlasBuilder  # noqa: E402
from visemic.video import decode, features  # noqa: E402
from visemic.video.tracker import track  # noqa: E402

LIP_POINTS = dub_quality.LIP_POINTS


@dataclass
class Case:
    """One clip's halves, analysed once (see the module doc)."""

    name: str
    language: str
    atlas: Any              # the atlas of A (crops left out: nothing here looks at pixels)
    ref_info: decode.VideoInfo
    info: decode.VideoInfo
    ref_speech: Any         # visemic's analysis of A's audio
    speech: Any             # … of B's
    track: pipeline.FaceTrack       # B tracked as the dub tracks it
    real: np.ndarray        # [frames × 478 × 3] B's landmarks (pixels), as the benchmark's
    real_features: np.ndarray       # [frames × 6] B's lip features (IOD), as the benchmark's


def prepare(clip: Path, cache: Path) -> Case:
    """The clip's :class:`Case`, from the cache or made (cut, tracked, analysed) and cached."""
    path = cache / f"{clip.stem}.pkl"
    if path.exists():
        with open(path, "rb") as f:
            return Case(**pickle.load(f))
    info = decode.probe(clip)
    mid = info.video_start + info.duration / 2
    a = dub_quality.cut(clip, cache / f"{clip.stem}_A.mp4", info.video_start - 1, mid)
    b = dub_quality.cut(clip, cache / f"{clip.stem}_B.mp4", mid,
                        info.video_start + info.duration + 1)
    language = dub_quality._language(clip)
    ref_info, b_info = decode.probe(a), decode.probe(b)
    builder = AtlasBuilder(kept=np.zeros(0, np.int32), stride=pipeline._stride(ref_info))
    pipeline._scan(str(a), ref_info, 0, builder, lambda _: None, reference=True)
    face = pipeline._scan(str(b), b_info, 0, None, lambda _: None, kept=builder.kept)
    ref_speech = api.animate(a, language=language, fps=pipeline.CURVE_FPS)
    speech = api.animate(b, language=language, fps=pipeline.CURVE_FPS)
    atlas = pipeline._finish_atlas(builder, ref_speech, ref_info, str(a), language)
    atlas.crops = atlas.crops[:, :1, :1]
    real = track(b, landmarks=True)
    case = Case(name=clip.stem, language=language, atlas=atlas, ref_info=ref_info, info=b_info,
                ref_speech=ref_speech, speech=speech, track=face, real=real.landmarks,
                real_features=real.features)
    with open(path, "wb") as f:
        pickle.dump(vars(case), f)  # a dict: this file runs as __main__ or as a module
    return case


def plan(case: Case, other: Any = None) -> pipeline.Dub:
    """What ``dub(B, mouth_from=A)`` plans, by the same steps as :func:`visemic.dub.dub`; with
    ``other`` (another clip's speech analysis) B speaking that instead (a cross-dub)."""
    atlas = copy.deepcopy(case.atlas)
    ref_speech, speech = case.ref_speech, case.speech if other is None else other
    start = case.ref_info.audio_start or 0.0
    learned = pipeline._learn_profile(atlas, ref_speech, start, case.name)
    if learned is not None:
        ref_speech = pipeline._reanimated(ref_speech, learned)
        speech = pipeline._reanimated(speech, learned)
    shapes = pipeline._reference_shapes(atlas, ref_speech, case.ref_info)
    info, track_b = case.info, case.track
    offset = info.video_start - info.audio_start if other is None else 0.0
    length = speech.audio.duration - offset
    if other is None:
        length = min(length, playback.video_length(track_b.times, info.fps))
    order, times = playback.schedule(track_b.times, length, info.fps)
    choice, targets, classes, silent = pipeline.choose_mouths(
        atlas, shapes, speech, times + offset, (ref_speech, atlas.times - start))
    rest_local = pipeline._rest_shape(track_b)
    atlas.neutral = pipeline._matched_neutral(atlas, track_b, rest_local)
    pipeline._rest_at_video_rest(atlas)
    d = pipeline.Dub(video="", info=info, speech=speech, audio_path="", audio_offset=offset,
                     track=track_b, atlas=atlas, rest_local=rest_local, plan=order,
                     times=times, choice=choice, silent=silent, shapes=targets,
                     classes=classes[:, 1].copy())
    pipeline.leave_resting(d)
    return d


def placed_lmd(d: pipeline.Dub, real: np.ndarray) -> np.ndarray:
    """[frames] LMD of the lip landmarks the edit aims for against ``real`` (NaN: no edit or
    no real face)."""
    edits = playback.Edits(d)
    out = np.full(d.frames, np.nan)
    for i in range(d.frames):
        k = int(d.plan[i])
        if k >= len(real) or not np.isfinite(real[k, LIP_POINTS]).all():
            continue
        e = edits(i, k)
        # No edit: the video's own lips, as tracked for the dub, where it found them.
        placed = e.target if e is not None else d.track.full(k)[:, :2]
        if not np.isfinite(placed[LIP_POINTS]).all():
            continue
        iod = float(features.inter_ocular(real[k]))
        out[i] = np.linalg.norm(placed[LIP_POINTS] - real[k, LIP_POINTS, :2], axis=1).mean() / iod
    return out


def frozen(d: pipeline.Dub) -> pipeline.Dub:
    return replace(d, choice=np.full_like(d.choice, d.atlas.rest),
                   shapes=np.tile(d.atlas.features[d.atlas.rest], (d.frames, 1)),
                   silent=np.ones_like(d.silent), edit=None)


def oracle(d: pipeline.Dub, case: Case, columns: slice = slice(None)) -> pipeline.Dub:
    """The plan with the real B's features (``columns`` of them) as targets (mouths chosen for
    them)."""
    from visemic.dub import select
    from visemic.dub.atlas import context

    real = case.real_features[np.minimum(d.plan, len(case.real_features) - 1)].astype(float)
    real = np.where(np.isfinite(real), real, d.shapes)
    mixed = d.shapes.copy()
    mixed[:, columns] = real[:, columns]
    real = mixed
    real[d.silent] = d.atlas.features[d.atlas.rest]
    classes = context(d.speech.timeline, d.times + d.audio_offset)
    choice = select.choose(d.atlas, real, classes, d.silent)
    return replace(d, choice=choice, shapes=real)


def score(d: pipeline.Dub, case: Case) -> dict[str, Any]:
    real = case.real_features[np.minimum(d.plan, len(case.real_features) - 1)]
    ok = np.isfinite(real).all(axis=1)
    ap = features.FEATURES.index("inner_aperture")
    lmd = placed_lmd(d, case.real)
    sp = ok & ~d.silent
    return {"r": float(np.corrcoef(d.shapes[ok, ap], real[ok, ap])[0, 1]),
            "r_speech": float(np.corrcoef(d.shapes[sp, ap], real[sp, ap])[0, 1]),
            "silent": float(d.silent[ok].mean()),
            "rs": [float(np.corrcoef(d.shapes[sp, c], real[sp, c])[0, 1]) for c in range(6)],
            "rms": np.sqrt(np.mean((d.shapes[ok] - real[ok]) ** 2, axis=0)),
            "lmd": float(np.nanmean(lmd))}


def cross(d: pipeline.Dub) -> tuple[float, float]:
    """(r of the aperture asked for with the new speech's jawOpen, share of pause frames asked
    for the rest shape) of a cross-dub plan."""
    jaw = pipeline._sample(d.speech, d.times + d.audio_offset)[
        :, d.speech.animation.channels.index("jawOpen")]
    ap = features.FEATURES.index("inner_aperture")
    r = float(np.corrcoef(d.shapes[:, ap], jaw)[0, 1])
    rest = d.atlas.features[d.atlas.rest, ap]
    held = float(np.mean(np.abs(d.shapes[d.silent, ap] - rest) < 1e-6)) if d.silent.any() \
        else float("nan")
    return r, held


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", help="comma-separated name fragments (default: all)")
    ap.add_argument("--cache", type=Path,
                    default=Path(tempfile.gettempdir()) / "visemic-dub-targets")
    ap.add_argument("--oracle", action="store_true")
    ap.add_argument("--cross", action="store_true",
                    help="also each clip's B speaking the next clip's B speech: r of the "
                         "aperture asked for with visemic's jawOpen")
    args = ap.parse_args()
    chosen = [c for c in dub_quality.clips()
              if not args.clips or any(k in c.name for k in args.clips.split(","))]
    if not chosen:
        print(f"no clips in {dub_quality.SAMPLES}; nothing to measure")
        return 0
    args.cache.mkdir(parents=True, exist_ok=True)
    names = " ".join(f"{f[:6]:>6s}" for f in features.FEATURES)
    print(f"{'clip':22s} {'kind':7s} {'r':>5s} {'r_sp':>5s} {'sil':>4s} {'LMD':>6s} "
          f"{'ratio':>5s}  rms: {names}")
    totals: dict[str, list[float]] = {}
    for clip in chosen:
        case = prepare(clip, args.cache)
        d = plan(case)
        rows = {"dub": d, "frozen": frozen(d)}
        if args.oracle:
            rows["oracle"] = oracle(d, case)
            rows["or_ap"] = oracle(d, case, slice(0, 1))
            rows["or_rest"] = oracle(d, case, slice(1, None))
        scores = {k: score(v, case) for k, v in rows.items()}
        base = scores["frozen"]["lmd"]
        for kind, s in scores.items():
            ratio = s["lmd"] / base
            totals.setdefault(kind, []).append(ratio)
            totals.setdefault(kind + " r", []).append(s["r"])
            rms = " ".join(f"{v:6.3f}" for v in s["rms"])
            rms += "  r: " + " ".join(f"{v:5.2f}" for v in s["rs"])
            print(f"{case.name[:22]:22s} {kind:7s} {s['r']:5.2f} {s['r_speech']:5.2f} "
                  f"{s['silent']:4.2f} {s['lmd']:6.3f} {ratio:5.2f}"
                  f"  rms: {rms}")
        sys.stdout.flush()
    if args.cross:
        every = dub_quality.clips()
        for clip in chosen:
            other = every[(every.index(clip) + 1) % len(every)]
            d = plan(prepare(clip, args.cache), prepare(other, args.cache).speech)
            r, held = cross(d)
            totals.setdefault("cross", []).append(r)
            print(f"{clip.stem[:22]:22s} cross   r(aperture asked, jawOpen) {r:.2f}  "
                  f"pause frames at rest {held:.2f}")
        print(f"mean cross r {np.mean(totals['cross']):.3f}")
    for kind in ("dub", "oracle"):
        if kind in totals:
            print(f"mean {kind}: LMD ratio {np.mean(totals[kind]):.3f}, "
                  f"r {np.nanmean(totals[kind + ' r']):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
