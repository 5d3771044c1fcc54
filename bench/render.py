"""Rendering benchmark: built-in avatar frames/s at 512×512 on one core, and animate → MP4 speed
as × real time on a 60 s speech file (espeak-ng sentences with pauses, generated here).

    python bench/render.py [--seconds 60] [--fps N] [--frames 600] [--keep out.mp4]

Targets (DESIGN.md §5): avatar ≥ 120 frames/s; end to end ≥ 5× real time.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np


@contextlib.contextmanager
def one_core() -> Iterator[None]:
    """Pin this process to a single CPU while measuring (where the OS allows it)."""
    if not hasattr(os, "sched_getaffinity"):
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(before)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def talking_values(frames: int, channels: list[str]) -> np.ndarray:
    """Plausible speech-like curves (every channel moving) for the render benchmark."""
    rng = np.random.default_rng(1)
    t = np.arange(frames)[:, None] / 60.0
    phase = rng.uniform(0, 2 * np.pi, (1, len(channels)))
    speed = rng.uniform(0.5, 6.0, (1, len(channels)))
    values = 0.25 * (1 + np.sin(t * speed + phase))
    head = [channels.index(n) for n in ("headYaw", "headPitch", "headRoll")]
    values[:, head] = 8 * np.sin(t * speed[:, head] + phase[:, head])
    return values.astype(np.float32)


def bench_avatar(frames: int, size: tuple[int, int]) -> float:
    from visemic.motion.arkit import CHANNELS
    from visemic.render import AvatarRenderer

    channels = list(CHANNELS)
    values = talking_values(frames, channels)
    avatar = AvatarRenderer(size)
    for row in values[:20]:  # warm up caches and paths
        avatar.render(row, channels)
    with one_core():
        start = time.perf_counter()
        for row in values:
            avatar.render(row, channels)
        elapsed = time.perf_counter() - start
    return frames / elapsed


def speech(seconds: float):
    """About ``seconds`` of espeak-ng speech: sentences separated by short and long pauses."""
    from visemic.phonetics import espeak
    from visemic.types import Audio

    sentences = [
        "Go forward ten meters, then turn left at the blue door.",
        "Mom bought five boxes of apples for the party.",
        "We will all meet again in the morning, before the sun comes up.",
        "Please check the weather report and call me back.",
    ]
    text_parts, chunks, rate, total, i = [], [], None, 0.0, 0
    while total < seconds:
        sentence = sentences[i % len(sentences)]
        audio, _ = espeak.synthesize(sentence, "en-us")
        rate = audio.sample_rate
        pause = np.zeros(int(rate * (0.9 if i % 3 == 2 else 0.35)), np.float32)
        chunks += [audio.samples, pause]
        text_parts.append(sentence)
        total += audio.duration + len(pause) / rate
        i += 1
    samples = np.concatenate(chunks)[: int(seconds * rate)]
    return Audio(samples, rate), " ".join(text_parts)


def bench_end_to_end(seconds: float, fps: float | None, keep: str | None) -> dict[str, float]:
    import visemic
    from visemic.outputs.video import DEFAULT_VIDEO_FPS, write_video

    audio, text = speech(seconds)
    start = time.perf_counter()
    result = visemic.animate(audio, text=text)
    analysed = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(keep) if keep else Path(tmp) / "bench.mp4"
        write_video(result, out, fps=fps)
        done = time.perf_counter()
        size_mb = out.stat().st_size / 1e6
    used_fps = fps or min(result.animation.fps, DEFAULT_VIDEO_FPS)
    return {"audio_s": audio.duration, "animate_s": analysed - start, "fps": used_fps,
            "video_s": done - analysed, "total_s": done - start, "mp4_mb": size_mb}


STILL_POSES: dict[str, dict[str, float]] = {
    "rest": {},
    "open": {"jawOpen": 0.5, "mouthLowerDownLeft": 0.25, "mouthLowerDownRight": 0.25,
             "mouthUpperUpLeft": 0.1, "mouthUpperUpRight": 0.1},
    "closure": {"jawOpen": 0.12, "mouthClose": 0.12, "mouthPressLeft": 0.3,
                "mouthPressRight": 0.3},
    "rounded": {"jawOpen": 0.2, "mouthPucker": 0.6, "mouthFunnel": 0.45},
    "blink": {"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0},
    "fv": {"jawOpen": 0.1, "mouthRollLower": 0.6, "mouthUpperUpLeft": 0.35,
           "mouthUpperUpRight": 0.35},
}


def write_stills(folder: str, size: int = 256) -> None:
    """README pictures: the avatar in a few poses, the looks side by side, a timeline plot."""
    import skia

    import visemic
    from visemic.motion.arkit import CHANNELS, INDEX
    from visemic.outputs.plot import plot_timeline
    from visemic.phonetics import espeak
    from visemic.render import LOOKS, AvatarRenderer

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)

    def save(arr: np.ndarray, name: str) -> None:
        image = skia.Image.fromarray(np.ascontiguousarray(arr), colorType=skia.kRGBA_8888_ColorType)
        image.save(str(out / name), skia.kPNG)

    avatar = AvatarRenderer((size, size))
    for name, pose in STILL_POSES.items():
        values = np.zeros(len(CHANNELS), np.float32)
        for channel, value in pose.items():
            values[INDEX[channel]] = value
        save(avatar.render(values, CHANNELS), f"avatar_{name}.png")
    looks = [AvatarRenderer((size * 3 // 4, size * 3 // 4), look=name).rest for name in LOOKS]
    save(np.concatenate(looks, axis=1), "avatar_looks.png")
    text = "Mom bought five blue boxes."
    audio, _ = espeak.synthesize(text, "en-us")
    plot_timeline(visemic.animate(audio, text=text), out / "timeline.png", dpi=80)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=600, help="avatar frames to time")
    parser.add_argument("--seconds", type=float, default=60.0, help="speech length end to end")
    parser.add_argument("--fps", type=float, default=None,
                        help="video frame rate end to end (default: the writer's default)")
    parser.add_argument("--keep", help="keep the end-to-end MP4 here")
    parser.add_argument("--skip-e2e", action="store_true")
    parser.add_argument("--stills", metavar="DIR", help="only write the README stills to DIR")
    args = parser.parse_args(argv)
    if args.stills:
        write_stills(args.stills)
        return 0

    fps = bench_avatar(args.frames, (512, 512))
    print(f"avatar 512×512, one core: {fps:.0f} frames/s "
          f"({1000 / fps:.2f} ms/frame; target ≥ 120) {'OK' if fps >= 120 else 'BELOW TARGET'}")
    if args.skip_e2e:
        return 0
    r = bench_end_to_end(args.seconds, args.fps, args.keep)
    speed = r["audio_s"] / r["total_s"]
    print(f"end to end, {r['audio_s']:.1f} s speech → {r['fps']:g} fps 512×512 MP4 "
          f"({r['mp4_mb']:.1f} MB): animate {r['animate_s']:.1f} s + video {r['video_s']:.1f} s "
          f"= {r['total_s']:.1f} s → {speed:.1f}× real time (target ≥ 5) "
          f"{'OK' if speed >= 5 else 'BELOW TARGET'}")
    print(f"  video alone: {r['audio_s'] * r['fps'] / r['video_s']:.0f} frames/s "
          "rendered+encoded (render on this thread, encoding on a second)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
