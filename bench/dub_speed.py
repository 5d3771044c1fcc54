"""Dubbing speed (issue 18): end to end by the clock, and CPU per stage, over the real clips in
../shared/samples/video/ (outputs go to a temp folder; nothing is copied anywhere).

    PYTHONPATH=src python bench/dub_speed.py [--clips 700,1080x1920] [--frames 150]
        [--skip-stages]

Each clip is re-synced to its own audio (``visemic.dub(clip).save(out.mp4)``: the video is its
own mouth reference, as ``visemic dub clip.mp4 -o out.mp4``), after one untimed warm-up dub that
loads the models. Printed per clip:

- end to end: × real time by the clock (the clip's length over the wall time), the wall time
  of the plan (speech, tracking, atlas, choice) and of the render (decode, composite, encode),
  and **CPU seconds per second of video** (all threads of the process). The clock figures are
  lower bounds where other work shares the cores; the CPU figure is not: on two free cores the
  best the clock can show is 2 / (CPU s per s), and a quiet machine's run should come near it.
- per stage, run alone one after another over the first ``--frames`` frames (CPU time of all
  threads, so Face Mesh's and x264's own threads count): frames per second by CPU time and CPU
  ms a frame for decode (the render's), track (Face Mesh on decoded RGB frames), atlas (mouth
  crops), composite (edit of each frame) and encode (x264, the preset the writer picks); and the
  whole-clip stages that are not per frame, speech (recognition and animation of the clip's
  audio) and learn (the person's motion profile), in CPU seconds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import visemic
from visemic import api
from visemic.dub import geometry, pipeline, playback
from visemic.dub.atlas import AtlasBuilder
from visemic.dub.encode import VideoWriter
from visemic.video import decode
from visemic.video.tracker import Tracker

SAMPLES = Path(__file__).resolve().parents[1] / ".." / "shared" / "samples" / "video"
if not SAMPLES.exists():
    SAMPLES = Path("/work/shared/samples/video")
DEFAULT_CLIPS = "700,1080x1920"
WARM_UP = "lbbc2a"  # the smallest GRID clip: loads Whisper, Face Mesh and espeak-ng


def clock(run: Callable[[], object]) -> tuple[float, float, object]:
    """(wall s, CPU s of every thread of the process, result) of ``run()``."""
    t, c = time.perf_counter(), time.process_time()
    out = run()
    return time.perf_counter() - t, time.process_time() - c, out


def end_to_end(clip: Path, tmp: Path) -> tuple[dict[str, float], pipeline.Dub]:
    wall_p, cpu_p, d = clock(lambda: visemic.dub(clip))
    assert isinstance(d, pipeline.Dub)
    wall_r, cpu_r, _ = clock(lambda: d.save(tmp / "speed_e2e.mp4"))
    seconds = d.frames / (d.info.fps or 25.0)
    return {"frames": d.frames, "seconds": seconds, "plan_s": wall_p, "render_s": wall_r,
            "x_realtime": seconds / (wall_p + wall_r),
            "cpu_per_s": (cpu_p + cpu_r) / seconds,
            "plan_cpu_ms": 1000 * cpu_p / d.frames,
            "render_cpu_ms": 1000 * cpu_r / d.frames}, d


def stages(clip: Path, d: pipeline.Dub, tmp: Path, limit: int) -> dict[str, float]:
    """CPU ms a frame of each per-frame stage over the first ``limit`` frames of ``clip``
    (planned as ``d``), and CPU seconds of the whole-clip ones (see the module docstring)."""
    out: dict[str, float] = {}
    info = decode.probe(clip)
    _, cpu, speech = clock(lambda: api.animate(str(clip), fps=pipeline.CURVE_FPS))
    out["speech_cpu_s"] = cpu
    i420 = playback.passes_yuv(info, tmp / "speed.mp4")
    frames: list[tuple[int, np.ndarray]] = []

    def decode_() -> None:
        for item in playback._source_frames(d, i420):
            frames.append(item)
            if len(frames) >= limit:
                break

    _, cpu, _ = clock(decode_)
    n = len(frames)
    out["decode_ms"] = 1000 * cpu / n
    rgb = [f.image for _, f in zip(range(n), decode.frames(clip), strict=False)]
    found: list[np.ndarray | None] = []

    def track_() -> None:
        with Tracker() as tracker:
            for k, image in enumerate(rgb):
                found.append(tracker.update(image, float(d.track.times[k])).landmarks)

    _, cpu, _ = clock(track_)
    out["track_ms"] = 1000 * cpu / n
    first = next(p for p in found if p is not None)
    builder = AtlasBuilder(kept=geometry.kept_points(first))
    _, cpu, _ = clock(lambda: [builder.add(image, p, k, float(d.track.times[k]))
                               for k, (image, p) in enumerate(zip(rgb, found, strict=True))])
    out["atlas_ms"] = 1000 * cpu / n
    rgb.clear()
    edits = playback.Edits(d)

    def composite_() -> None:
        for i, (k, picture) in enumerate(frames):
            edit = edits(i, k)
            if edit is None:
                edits.compositor.reset()
            elif i420:
                playback.apply_i420(edits.compositor, picture, edit)
            else:
                edits.compositor.apply(picture, edit)

    _, cpu, _ = clock(composite_)
    out["composite_ms"] = 1000 * cpu / n

    def encode_() -> None:
        with VideoWriter(tmp / "speed.mp4", (info.width, info.height), info.fps) as w:
            for i, (_, picture) in enumerate(frames):
                w.put(picture, float(d.times[i]), i420=i420)

    _, cpu, _ = clock(encode_)
    out["encode_ms"] = 1000 * cpu / n
    atlas = d.atlas
    _, cpu, _ = clock(lambda: pipeline._learn_profile(atlas, speech, info.audio_start or 0.0,
                                                      str(clip)))
    out["learn_cpu_s"] = cpu
    return out


def report(clips: list[Path], tmp: Path, frames: int = 150, per_stage: bool = True,
           warm_up: bool = True) -> None:
    """Print the end-to-end table for ``clips`` and, with ``per_stage``, the stages table."""
    warm = sorted(SAMPLES.glob(f"*{WARM_UP}*"))
    if warm and warm_up:
        visemic.dub(warm[0]).save(tmp / "warm.mp4")
    print("end to end (re-sync with the clip's own audio; clock figures are lower bounds "
          "where other work shares the cores)")
    print(f"{'clip':58s} {'frames':>6s} {'×real':>6s} {'plan s':>7s} {'render s':>8s} "
          f"{'CPU s/s':>7s} {'×2free':>6s} {'plan ms':>7s} {'render ms':>9s}")
    planned = {}
    for clip in clips:
        m, planned[clip] = end_to_end(clip, tmp)
        print(f"{clip.name[:58]:58s} {m['frames']:6d} {m['x_realtime']:6.2f} "
              f"{m['plan_s']:7.2f} {m['render_s']:8.2f} {m['cpu_per_s']:7.2f} "
              f"{2 / m['cpu_per_s']:6.2f} {m['plan_cpu_ms']:7.1f} {m['render_cpu_ms']:9.1f}")
        sys.stdout.flush()
    if not per_stage:
        return
    print(f"\nstages alone (first {frames} frames; fps by CPU time, all threads; "
          "CPU ms a frame in brackets)")
    names = ("decode", "track", "atlas", "composite", "encode")
    print(f"{'clip':58s} " + " ".join(f"{n:>15s}" for n in names)
          + f" {'speech s':>8s} {'learn s':>7s}")
    for clip in clips:
        s = stages(clip, planned[clip], tmp, frames)
        cells = " ".join(f"{1000 / s[n + '_ms']:6.0f} ({s[n + '_ms']:5.1f})" for n in names)
        print(f"{clip.name[:58]:58s} {cells} {s['speech_cpu_s']:8.2f} {s['learn_cpu_s']:7.2f}")
        sys.stdout.flush()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", default=DEFAULT_CLIPS,
                    help=f"comma-separated name fragments, or 'all' (default: {DEFAULT_CLIPS})")
    ap.add_argument("--frames", type=int, default=150, help="frames each stage is timed over")
    ap.add_argument("--skip-stages", action="store_true", help="end to end only")
    ap.add_argument("--no-warm-up", action="store_true")
    args = ap.parse_args()
    clips = sorted(p for p in SAMPLES.glob("*") if p.suffix in (".mp4", ".mpg"))
    if not clips:
        print(f"no clips in {SAMPLES}; nothing to measure")
        return 0
    chosen = [c for c in clips if args.clips == "all"
              or any(k in c.name for k in args.clips.split(","))]
    with tempfile.TemporaryDirectory(prefix="visemic-dub-speed-") as tmpdir:
        report(chosen, Path(tmpdir), args.frames, not args.skip_stages, not args.no_warm_up)
    return 0


if __name__ == "__main__":
    sys.exit(main())
