"""README's dubbing strip: one GRID speaker saying another GRID sentence, before (top) and after
(bottom), at an open vowel, /b/, /w/ and a pause.

    PYTHONPATH=src python bench/dub_strip.py [-o docs/images/dub-grid.png] [--scale 1]

Only GRID clips (CC BY 4.0, Cooke, Barker, Cunningham & Shao 2006) may go into README: the video
is swiz3n, the speech lwbsza ("lay white by z again"), both from ../shared/samples/video.
The four moments are found in the new speech's own timeline (the widest jawOpen, the middle of
its /b/ and /w/, the middle of its longest pause), so the strip follows the code that made it.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
import numpy as np

import visemic
from visemic.dub import pipeline
from visemic.video import decode

SAMPLES = Path(__file__).resolve().parents[1] / ".." / "shared" / "samples" / "video"
if not SAMPLES.exists():
    SAMPLES = Path("/work/shared/samples/video")
VIDEO = "en_man_frontal_teeth_360x288_25fps_mpeg1_grid_swiz3n.mpg"
SPEECH = "en_woman_older_frontal_360x288_25fps_mpeg1_grid_lwbsza.mpg"


def moments(d: pipeline.Dub) -> list[int]:
    """Output frames of the open vowel, /b/, /w/ and the longest pause."""
    t = d.times + d.audio_offset
    phones = d.speech.timeline.phones
    jaw = pipeline._sample(d.speech, t)[:, d.speech.animation.channels.index("jawOpen")]

    def at(time: float) -> int:
        return int(np.argmin(np.abs(t - time)))

    def middle(symbol: str) -> int:
        p = next(p for p in phones if p.symbol == symbol)
        return at((p.start + p.end) / 2)

    gaps = [(b.start - a.end, (a.end + b.start) / 2) for a, b in zip(phones, phones[1:],
                                                                      strict=False)]
    gaps.append((t[-1] - phones[-1].end, (phones[-1].end + t[-1]) / 2))
    pause = at(max(gaps)[1])
    b, w = middle("b"), middle("w")
    # The widest opening away from the consonants' frames (/w/ runs straight into "white"'s
    # open vowel: its neighbour frame would show the same mouth twice).
    near = np.zeros(len(jaw), bool)
    for k in (b, w, pause):
        near[max(0, k - 3):k + 4] = True
    return [int(np.argmax(np.where(near, -np.inf, jaw))), b, w, pause]


def crop(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Eyes to chin, the face's width: the box every tile of the strip uses."""
    eyes = points[[33, 263], :2]
    iod = float(np.linalg.norm(eyes[1] - eyes[0]))
    cx = float(eyes[:, 0].mean())
    y0 = float(eyes[:, 1].mean()) - 0.15 * iod
    y1 = float(points[152, 1]) + 0.1 * iod
    half = 0.6 * (y1 - y0)
    h, w = image.shape[:2]
    x0, x1 = int(max(0, cx - half)), int(min(w, cx + half))
    return image[int(max(0, y0)):int(min(h, y1)), x0:x1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--output", type=Path, default=Path("docs/images/dub-grid.png"))
    ap.add_argument("--scale", type=float, default=1.0, help="enlarge the tiles by this much")
    args = ap.parse_args()
    if not (SAMPLES / VIDEO).exists():
        print(f"no {VIDEO} in {SAMPLES}; nothing to draw")
        return 0
    d = visemic.dub(SAMPLES / VIDEO, SAMPLES / SPEECH, language="en")
    picks = moments(d)
    with tempfile.TemporaryDirectory() as tmp:
        out = d.save(Path(tmp) / "dub.mp4")
        after = {k: f.image for k, f in enumerate(decode.frames(out)) if k in picks}
    wanted = {int(d.plan[k]) for k in picks}
    before = {k: f.image for k, f in enumerate(decode.frames(SAMPLES / VIDEO)) if k in wanted}
    rows = []
    for frames in (before, after):
        tiles = []
        for k in picks:
            src = int(d.plan[k])
            image = frames[src] if frames is before else frames[k]
            tiles.append(crop(image, d.track.full(src)))
        size = min(t.shape[0] for t in tiles), min(t.shape[1] for t in tiles)
        tiles = [t[:size[0], :size[1]] for t in tiles]
        rows.append(np.concatenate([np.pad(t, ((1, 1), (1, 1), (0, 0)), constant_values=255)
                                    for t in tiles], axis=1))
    strip = np.concatenate(rows, axis=0)
    if args.scale != 1.0:
        strip = cv2.resize(strip, None, fx=args.scale, fy=args.scale,
                           interpolation=cv2.INTER_LANCZOS4)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.output), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))
    print(f"{args.output}: frames {picks} (source frames {[int(d.plan[k]) for k in picks]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
