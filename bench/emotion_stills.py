"""The README's emotion strip: one avatar frame per emotion, mid-speech, composed into one PNG.

    python bench/emotion_stills.py [-o docs/images/emotions.png] [--intensity 0.8] [--size 220]
    python bench/emotion_stills.py --portrait avatar -o docs/images/emotions-portrait.png
    python bench/emotion_stills.py --portrait FACE.jpg -o strip.png

Speaks a sentence with espeak-ng, animates it once per emotion (same seed, so blinks and head
motion match) and renders the same instant (an open vowel with the eyes open) with the built-in
avatar (or, with ``--portrait``, the portrait renderer on that image; "avatar" gives it a still of
the built-in avatar as the picture). Prints the channels each emotion moved most at that
instant.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

import visemic
from visemic.motion.emotion_poses import EMOTIONS
from visemic.phonetics import espeak
from visemic.render.avatar import AvatarRenderer

SENTENCE = "I never thought that we would all be back here again."
# The face on the avatar's 512-pixel reference canvas (rows, columns), cropped for the strip.
FACE = (slice(112, 384), slice(136, 376))


def pick_frame(result: visemic.Result) -> int:
    """A frame in the middle half with the lips a little apart and not rounded (the corners
    show best) and no blink."""
    anim = result.animation
    gap = anim.channel("jawOpen") - anim.channel("mouthClose")
    blink = np.maximum(anim.channel("eyeBlinkLeft"), anim.channel("eyeBlinkRight"))
    rounding = np.maximum(anim.channel("mouthPucker"), anim.channel("mouthFunnel"))
    n = anim.frames
    score = np.where((blink < 0.02) & (rounding < 0.1), -np.abs(gap - 0.15), -9.0)
    score[: n // 4] = -9.0
    score[3 * n // 4:] = -9.0
    return int(np.argmax(score))


def render_strip(out: Path, intensity: float, size: int, portrait: str | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    audio, _ = espeak.synthesize(SENTENCE, "en-us")
    if portrait:
        from visemic.render.portrait.renderer import PortraitRenderer

        picture: Any = portrait
        if portrait == "avatar":
            picture = AvatarRenderer(size=(512, 512)).rest[:, :, :3]
        renderer: Any = PortraitRenderer(picture)
        crop: Any = FACE if portrait == "avatar" else (slice(None), slice(None))
        h, w = ((FACE[0].stop - FACE[0].start, FACE[1].stop - FACE[1].start)
                if portrait == "avatar" else (renderer.size[1], renderer.size[0]))
    else:
        renderer = AvatarRenderer(size=(512, 512))
        crop = FACE
        h, w = FACE[0].stop - FACE[0].start, FACE[1].stop - FACE[1].start
    names = list(EMOTIONS)
    base = visemic.animate(audio, text=SENTENCE, seed=3)
    frame = pick_frame(base)
    scale = size / h
    fig, axes = plt.subplots(1, len(names), figsize=(len(names) * w * scale / 100,
                                                     size / 100 + 0.3), dpi=100)
    for ax, name in zip(axes, names, strict=True):
        emo = None if name == "neutral" else {name: intensity}
        res = visemic.animate(audio, text=SENTENCE, emotion=emo, seed=3)
        row = res.animation.values[frame]
        ax.imshow(renderer.render(row, res.animation.channels)[crop])
        ax.set_title(name, fontsize=11)
        ax.axis("off")
        moved = row[:52] - base.animation.values[frame, :52]
        top = np.argsort(-np.abs(moved))[:4]
        print(f"{name:10s} " + "  ".join(f"{res.animation.channels[i]}{moved[i]:+.2f}"
                                          for i in top))
    fig.subplots_adjust(left=0, right=1, bottom=0, top=0.9, wspace=0.02)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    print(f"wrote {out} (frame {frame}, t = {frame / base.animation.fps:.2f} s)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", default="docs/images/emotions.png")
    ap.add_argument("--intensity", type=float, default=0.8)
    ap.add_argument("--size", type=int, default=220, help="height of each face (pixels)")
    ap.add_argument("--portrait", metavar="IMAGE", help="animate this portrait instead")
    args = ap.parse_args(argv)
    render_strip(Path(args.output), args.intensity, args.size, args.portrait)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
