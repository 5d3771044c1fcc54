"""Portrait benchmark: frames/s at a 512×512 face crop on one core, animate → MP4 speed as ×
real time, identity at rest (SSIM) and lip sync measured by Face Mesh on the rendered frames.

    python bench/portrait.py [--frames 300] [--portrait IMAGE ...] [--keep out.mp4]
                             [--stills docs/images]

``--stills DIR`` also writes the README's before/after stills of the generated face
(``portrait-*.png``: rest, open vowel, closure, rounded, /f/, blink with a smile and a head
turn).

The generated portrait is the built-in avatar at rest (512×512, so its face crop is 512×512).
With ../shared present its sample portraits are timed too (their crops are whatever size their
faces are). Targets (DESIGN.md §5, issue 4): ≥ 30 frames/s at 512×512; SSIM ≥ 0.95 at rest;
Pearson r ≥ 0.8 between the measured mouth opening and the intended one.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from render import one_core, talking_values  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "samples" / "portraits"
SENTENCE = ("Mom bought five blue boxes. Please wait. Then we all go home for supper. "
            "Every morning the baker opens the shop at seven.")


def speech_like(frames: int) -> np.ndarray:
    """talking_values with head angles of a few degrees and occasional blinks."""
    from visemic.motion.arkit import CHANNELS, INDEX

    values = talking_values(frames, list(CHANNELS))
    values[:, 52:55] *= 0.5
    blink = (np.arange(frames) % 150) < 8
    for name in ("eyeBlinkLeft", "eyeBlinkRight"):
        values[:, INDEX[name]] = np.where(blink, 1.0, 0.0)
    return values


def fps(renderer, frames: int) -> float:
    from visemic.motion.arkit import CHANNELS
    from visemic.types import Animation

    values = speech_like(frames)
    animation = Animation(60.0, list(CHANNELS), values)
    for row in values[:10]:
        renderer.frame(animation, 0.0, row)
    with one_core():
        start = time.perf_counter()
        for i, row in enumerate(values):
            renderer.frame(animation, i / 60.0, row)
        return frames / (time.perf_counter() - start)


def quality(renderer, face: np.ndarray) -> tuple[float, float, float, float]:
    """(SSIM at rest, r of lip gap vs jawOpen on a jaw-only curve, r vs jawOpen − mouthClose on
    speech curves, share of /p b m/ measured closed)."""
    import visemic
    from visemic.motion.arkit import CHANNELS, INDEX
    from visemic.outputs.video import resample_rows
    from visemic.phonetics import espeak
    from visemic.render.portrait.quality import MouthMeter, face_mask, ssim

    mask, (x0, y0, x1, y1) = face_mask(renderer.landmarks, face.shape)
    rest = renderer.render(np.full(len(CHANNELS), 0.002, np.float32))  # through the warp
    identity = ssim(rest[y0:y1, x0:x1], face[y0:y1, x0:x1], mask)
    meter = MouthMeter()
    t = np.arange(150) / 30.0
    jaw = 0.35 * np.abs(np.sin(2 * np.pi * 1.3 * t)) * (0.6 + 0.4 * np.sin(t))
    measured = []
    for j in jaw:
        v = np.zeros(len(CHANNELS), np.float32)
        v[INDEX["jawOpen"]] = j
        measured.append(meter(renderer.render(v))[0])
    r_jaw = float(np.corrcoef(measured, jaw)[0, 1])
    audio, timeline = espeak.synthesize(SENTENCE, "en-us")
    animation = visemic.animate(audio, text=SENTENCE).animation
    ji, ci = animation.channels.index("jawOpen"), animation.channels.index("mouthClose")
    count = int(audio.duration * 15)
    gaps, intended = [], []
    for tt, row in resample_rows(animation, 15.0, count):
        gaps.append(meter(renderer.frame(animation, tt, row))[0])
        intended.append(row[ji] - row[ci])
    r_speech = float(np.corrcoef(gaps, intended)[0, 1])
    rest_gap = meter(face)[0]
    bilabials = [p for p in timeline.phones if p.symbol in ("p", "b", "m")]
    closed = 0
    for p in bilabials:
        row = animation.values[min(int(round((p.start + p.end) / 2 * animation.fps)),
                                   animation.frames - 1)]
        closed += meter(renderer.render(row, animation.channels))[0] <= rest_gap + 0.02
    meter.close()
    return identity, r_jaw, r_speech, closed / max(len(bilabials), 1)


def end_to_end(portrait: Path, keep: str | None) -> tuple[float, float]:
    """(× real time for animate + MP4 of ~10 s of speech, seconds of audio)."""
    import visemic
    from visemic.audio import save_wav
    from visemic.phonetics import espeak

    audio, _ = espeak.synthesize(SENTENCE, "en-us")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        save_wav(audio, wav)
        out = keep or str(Path(tmp) / "talk.mp4")
        start = time.perf_counter()
        result = visemic.animate(wav, text=SENTENCE)
        result.save(out, portrait=str(portrait))
        elapsed = time.perf_counter() - start
    return audio.duration / elapsed, audio.duration


STILLS = {
    "rest": {},
    "open": {"jawOpen": 0.5, "mouthLowerDownLeft": 0.2, "mouthLowerDownRight": 0.2},
    "closure": {"jawOpen": 0.15, "mouthClose": 0.15, "mouthPressLeft": 0.3,
                "mouthPressRight": 0.3},
    "rounded": {"jawOpen": 0.2, "mouthPucker": 0.6, "mouthFunnel": 0.4},
    "fv": {"jawOpen": 0.13, "mouthClose": 0.06, "mouthRollLower": 0.55,
           "mouthUpperUpLeft": 0.2, "mouthUpperUpRight": 0.2, "mouthShrugUpper": 0.08},
    "blink": {"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0, "mouthSmileLeft": 0.6,
              "mouthSmileRight": 0.6, "headYaw": 6.0, "headRoll": -3.0},
}


def write_stills(folder: Path) -> None:
    """The generated face (the built-in "kit" avatar as a picture), before and after."""
    import cv2

    from visemic.motion.arkit import CHANNELS, INDEX
    from visemic.render import AvatarRenderer
    from visemic.render.portrait import PortraitRenderer

    face = np.ascontiguousarray(AvatarRenderer((512, 512), look="kit").rest[:, :, :3])
    renderer = PortraitRenderer(face)
    folder.mkdir(parents=True, exist_ok=True)
    for name, named in STILLS.items():
        v = np.zeros(len(CHANNELS), np.float32)
        for channel, x in named.items():
            v[INDEX[channel]] = x
        frame = renderer.render(v)[96:416, 96:416, :3]
        path = folder / f"portrait-{name}.png"
        cv2.imwrite(str(path), cv2.resize(frame, (256, 256), interpolation=cv2.INTER_AREA)
                    [:, :, ::-1])
        print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--portrait", nargs="*", default=None,
                        help="more portraits to time (default: ../shared's samples, if there)")
    parser.add_argument("--keep", help="keep the end-to-end MP4 here")
    parser.add_argument("--stills", metavar="DIR", help="write README stills here")
    args = parser.parse_args()
    if args.stills:
        write_stills(Path(args.stills))

    import cv2

    from visemic.render import AvatarRenderer
    from visemic.render.portrait import PortraitRenderer

    # The avatar drawn large enough that its face crop is at least 512×512.
    side = 512
    for _ in range(2):
        big = np.ascontiguousarray(AvatarRenderer((side, side)).rest[:, :, :3])
        x0, y0, x1, y1 = PortraitRenderer(big).crop
        side = int(np.ceil(side * 512 / min(x1 - x0, y1 - y0) / 2)) * 2
    big_renderer = PortraitRenderer(big)
    x0, y0, x1, y1 = big_renderer.crop
    print(f"generated face: crop {x1 - x0}x{y1 - y0} (frame {side}x{side}), "
          f"{fps(big_renderer, args.frames):.0f} frames/s on one core (target >= 30)")
    face = np.ascontiguousarray(AvatarRenderer((512, 512)).rest[:, :, :3])
    renderer = PortraitRenderer(face)
    identity, r_jaw, r_speech, closed = quality(renderer, face)
    print(f"identity at rest: SSIM {identity:.3f} on the face crop without mouth and eyes "
          f"(target >= 0.95)")
    print(f"lip sync (Face Mesh on rendered frames): r = {r_jaw:.3f} vs jawOpen (jaw-only "
          f"curve), r = {r_speech:.3f} vs jawOpen - mouthClose (speech), /p b m/ closed "
          f"{100 * closed:.0f} %")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "face.png"
        cv2.imwrite(str(path), face[:, :, ::-1])
        speed, seconds = end_to_end(path, args.keep)
    print(f"animate -> mp4 (512x512, {seconds:.1f} s of speech, with transcript): "
          f"{speed:.1f}x real time")
    paths = [Path(p) for p in args.portrait] if args.portrait is not None else \
        sorted(SHARED.glob("*.jpg")) if SHARED.is_dir() else []
    for path in paths:
        start = time.perf_counter()
        r = PortraitRenderer(path)
        setup = time.perf_counter() - start
        x0, y0, x1, y1 = r.crop
        print(f"{path.name}: frame {r.size[0]}x{r.size[1]}, crop {x1 - x0}x{y1 - y0}, "
              f"set-up {setup:.2f} s, {fps(r, args.frames):.0f} frames/s on one core")


if __name__ == "__main__":
    main()
