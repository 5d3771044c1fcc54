"""The README's emotion videos: one short MP4 per emotion, the avatar and a portrait, with speech.

    python bench/emotion_videos.py [-o docs/videos] [--intensity 0.9] [--size 256]
    python bench/emotion_videos.py --only portrait --portrait FACE.jpg -o /tmp/videos

Speaks one sentence with espeak-ng (``visemic.say``, same seed for every emotion, so blinks and
head motion match) and writes ``<emotion>-avatar.mp4`` (the built-in avatar, cropped to the
face) and ``<emotion>-portrait.mp4`` (the portrait renderer; by default the picture is a still
of the avatar, as in bench/emotion_stills.py) at SIZE×SIZE, H.264 + AAC. Prints each file's
size and how long it took to render.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

import visemic
from visemic.motion.emotion_poses import EMOTIONS
from visemic.outputs.video import write_video
from visemic.render.avatar import AvatarRenderer

SENTENCE = "I never thought that we would all be back here again."
# The face and hair on the avatar's 512-pixel reference canvas (rows, columns): a square.
FACE = (slice(96, 384), slice(112, 400))


class FaceCrop:
    """A renderer showing the face of the 512×512 avatar's frames, scaled to ``size``."""

    def __init__(self, size: int) -> None:
        self.avatar = AvatarRenderer(size=(512, 512))
        self.size = (size, size)

    def frame(self, animation: Any, t: float, values: np.ndarray) -> np.ndarray:
        face = self.avatar.frame(animation, t, values)[FACE]
        return cv2.resize(face, self.size, interpolation=cv2.INTER_AREA)


def render(out: Path, intensity: float, size: int, quality: int, only: str | None,
           portrait: str | None) -> None:
    from visemic.render.portrait.renderer import PortraitRenderer

    out.mkdir(parents=True, exist_ok=True)
    kinds: dict[str, Any] = {}
    if only in (None, "avatar"):
        kinds["avatar"] = FaceCrop(size)
    if only in (None, "portrait"):
        picture: Any = portrait or np.ascontiguousarray(
            AvatarRenderer(size=(512, 512)).rest[FACE][:, :, :3])
        kinds["portrait"] = PortraitRenderer(picture, size=(size, size))
    total = 0
    for name in EMOTIONS:
        result = visemic.say(SENTENCE, seed=3,
                             emotion=None if name == "neutral" else {name: intensity})
        for kind, renderer in kinds.items():
            path = out / f"{name}-{kind}.mp4"
            t0 = time.perf_counter()
            write_video(result, path, renderer=renderer, fps=30, quality=quality)
            took = time.perf_counter() - t0
            kb = path.stat().st_size / 1024
            total += path.stat().st_size
            print(f"{path}  {kb:6.1f} KB  {result.audio.duration:.2f} s  rendered in "
                  f"{took:.2f} s")
    print(f"total {total / 1024:.0f} KB")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", default="docs/videos", help="folder for the MP4s")
    ap.add_argument("--intensity", type=float, default=0.9)
    ap.add_argument("--size", type=int, default=256, help="width and height (pixels)")
    ap.add_argument("--quality", type=int, default=22, help="H.264 CRF (lower: better, bigger)")
    ap.add_argument("--only", choices=("avatar", "portrait"))
    ap.add_argument("--portrait", metavar="IMAGE",
                    help="the portrait's picture (default: a still of the avatar)")
    args = ap.parse_args(argv)
    render(Path(args.output), args.intensity, args.size, args.quality, args.only, args.portrait)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
