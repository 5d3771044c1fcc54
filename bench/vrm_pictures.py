"""The README's VRM Animation picture: the expression weights a ``.vrma`` holds over a sentence.

    python bench/vrm_pictures.py [-o docs/images/vrma-weights.png]
    python bench/vrm_pictures.py --speed       # export time of an hour of curves

Speaks a sentence with espeak-ng (happy easing into surprise), and draws what the VRM export
writes: the five vowel expressions fitted to the mouth curves (stacked: they sum to at most 1),
the blinks, and the emotion presets, with the words and phones above. Prints the export's speed
for the sentence.
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np

import visemic
from visemic.motion import vrm
from visemic.motion.emotion import EmotionTrack
from visemic.outputs import vrma

SENTENCE = "Who would know what you see, when all of us are here?"
COLOURS = {"aa": "#d1495b", "ih": "#edae49", "ou": "#00798c", "ee": "#66a182", "oh": "#30638e"}


def draw(out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    track = EmotionTrack.from_pairs([(0.0, "happy:0.7"), (2.0, "surprised:0.8")])
    result = visemic.say(SENTENCE, emotion=track, seed=4)
    started = time.perf_counter()
    buf = io.BytesIO()
    vrma.write_vrma(result, buf)
    spent = time.perf_counter() - started
    print(f"{result.audio.duration:.2f} s of speech, {result.animation.frames} frames: "
          f".vrma {len(buf.getvalue()) / 1024:.0f} KB in {spent * 1000:.0f} ms")
    weights = vrma.expression_weights(result)
    t = np.arange(result.animation.frames) / result.animation.fps
    fig, axes = plt.subplots(3, 1, figsize=(10, 5.2), sharex=True,
                             gridspec_kw={"height_ratios": [3, 1, 1.3]})
    ax = axes[0]
    ax.stackplot(t, *(weights[:, i] for i in range(len(vrm.VOWELS))),
                 labels=list(vrm.VOWELS), colors=[COLOURS[v] for v in vrm.VOWELS], alpha=0.9)
    ax.set_ylim(0, 1.15)
    ax.set_ylabel("vowels")
    ax.legend(loc="upper right", ncol=5, fontsize=8, frameon=False)
    for w in result.timeline.words:
        ax.axvspan(w.start, w.end, color="#000000", alpha=0.03)
        ax.text((w.start + w.end) / 2, 1.07, w.text, ha="center", fontsize=9)
    for p in result.timeline.phones:
        ax.text((p.start + p.end) / 2, -0.1, p.symbol, ha="center", va="top", fontsize=7,
                color="#555555")
    nv, nb = len(vrm.VOWELS), len(vrm.BLINKS)
    for i, name in enumerate(vrm.BLINKS):
        axes[1].plot(t, weights[:, nv + i], label=name, lw=1.2)
    axes[1].set_ylabel("blinks")
    axes[1].set_ylim(0, 1.05)
    axes[1].legend(loc="upper right", ncol=3, fontsize=8, frameon=False)
    for i, name in enumerate(vrm.EMOTIONS):
        axes[2].plot(t, weights[:, nv + nb + i], label=name, lw=1.4)
    axes[2].set_ylabel("emotions")
    axes[2].set_ylim(0, 1.05)
    axes[2].legend(loc="upper right", ncol=5, fontsize=8, frameon=False)
    axes[2].set_xlabel("seconds")
    for a in axes:
        a.spines[["top", "right"]].set_visible(False)
    fig.suptitle("VRM Animation (.vrma): expression weights from visemic's curves", fontsize=11)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


def speed(minutes: float = 60.0) -> None:
    """Time the .vrma (and, to compare, the .glb) export of random curves, ``minutes`` long."""
    from visemic.motion import arkit
    from visemic.outputs import gltf
    from visemic.types import Animation, Audio

    n = int(minutes * 60 * 60)
    values = np.random.default_rng(0).random((n, len(arkit.CHANNELS)), dtype=np.float32) * 0.5
    result = visemic.Result(audio=Audio(np.zeros(16000, np.float32), 16000),
                            timeline=visemic.Timeline("en"), prosody=None,
                            animation=Animation(60.0, list(arkit.CHANNELS), values),
                            settings={"expression": {"emotion": {"happy": 0.5}}})
    for name, write in (("vrma", vrma.write_vrma), ("glb", gltf.write_glb)):
        buf = io.BytesIO()
        started = time.perf_counter()
        write(result, buf)
        spent = time.perf_counter() - started
        print(f"{name}: {minutes:g} min at 60 fps in {spent:.2f} s "
              f"({minutes * 60 / spent:.0f}x real time), {len(buf.getvalue()) / 1e6:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", type=Path,
                        default=Path("docs/images/vrma-weights.png"))
    parser.add_argument("--speed", action="store_true",
                        help="time the export of an hour of curves instead of drawing")
    args = parser.parse_args()
    if args.speed:
        speed()
    else:
        draw(args.output)


if __name__ == "__main__":
    main()
