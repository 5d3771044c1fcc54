"""Portrait quality benchmark (issue 20): does the animated portrait still look like the photo?

    python bench/portrait_quality.py [--portraits DIR] [--sheets OUT_DIR] [--frames 240]
    python bench/portrait_quality.py --grid docs/images/portrait-emotions.png
    python bench/portrait_quality.py --stills docs/images

For each portrait in DIR (default ../shared/samples/portraits, if there) and for generated faces
(the built-in avatar drawn as a picture, its "kit" look, and a small face under 120 pixels):

- first frame: PSNR of frame 0 of a talking animation against the picture, as rendered and
  as decoded from the 4-second MP4 written at the default quality (target ≥ 40 dB), as a
  player shows it (and by FFmpeg's fast default conversion, for comparison), with the
  MP4's size;
- still region: the lowest PSNR over a talking animation with head motion of the picture
  outside the face's crop and of the band beyond the outer anchor ring (hair and background
  far from the face: beyond the convex outline of the face scaled by the last RING_SCALE;
  target ≥ 40 dB);
- lip sync: Pearson r of the inner-lip gap Face Mesh measures on rendered frames against
  jawOpen on a jaw-only curve (target ≥ 0.8);
- open vowel: the inner-lip gap Face Mesh measures at the widest frame (the stressed /ɑ/,
  jawOpen about 0.9) of "My father saw a boot." spoken by espeak-ng and animated with its
  transcript, in eye distances (real talking faces, tracked the same way on the clips of
  bench/lip_motion.py: widest 0.17-0.48, median speaker 0.28);
- frames/s of the renderer with the picture scaled to 512×512, on one core (goal ≥ 60), by
  the clock and by the CPU time used;
- emotions at intensity 0.8, measured by Face Mesh on the rendered frames against neutral:
  mouth-corner height, brow height and eye opening (eye distances × 100);
- contact sheets (with ``--sheets``): the picture beside rest, open vowel, closure, rounded
  vowel, /f/, /θ/, blink, a 15° turn, and each emotion, at full size around the face.

Figures measured while other work runs on the machine are lower bounds for speed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from render import one_core, talking_values  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "samples" / "portraits"

# The poses of the contact sheet (ARKit channels; unsided names mean both sides).
POSES: dict[str, dict[str, float]] = {
    "rest": {},
    "open": {"jawOpen": 0.5, "mouthLowerDown": 0.2},
    "closure": {"jawOpen": 0.15, "mouthClose": 0.15, "mouthPress": 0.3},
    "rounded": {"jawOpen": 0.2, "mouthPucker": 0.6, "mouthFunnel": 0.4},
    "f": {"jawOpen": 0.1, "mouthClose": 0.04, "mouthRollLower": 0.55, "mouthUpperUp": 0.22,
          "mouthShrugUpper": 0.1},
    "th": {"jawOpen": 0.14, "tongueOut": 0.25, "mouthUpperUp": 0.1},
    "l": {"jawOpen": 0.24, "mouthLowerDown": 0.08, "mouthUpperUp": 0.05, "tongueOut": 0.12},
    "blink": {"eyeBlink": 1.0},
    "turn": {"headYaw": 15.0, "jawOpen": 0.4},
}
INTENSITY = 0.8
OPEN_VOWEL_TEXT = "My father saw a boot."


def frame_of(named: dict[str, float]) -> np.ndarray:
    from visemic.motion.arkit import CHANNELS, INDEX

    v = np.zeros(len(CHANNELS), np.float32)
    for name, x in named.items():
        for ch in ([name] if name in INDEX else [name + "Left", name + "Right"]):
            v[INDEX[ch]] = x
    return v


def emotion_frames() -> dict[str, np.ndarray]:
    from visemic.motion import emotion

    return {name: emotion.POSES[i] * INTENSITY for i, name in enumerate(emotion.NAMES)}


def generated_faces() -> dict[str, np.ndarray]:
    import cv2

    from visemic.render import AvatarRenderer

    faces = {"avatar": np.ascontiguousarray(AvatarRenderer((512, 512)).rest[:, :, :3]),
             "avatar-kit": np.ascontiguousarray(
                 AvatarRenderer((512, 512), look="kit").rest[:, :, :3])}
    # A small face: the avatar shrunk so that its face is under 120 pixels, in a larger
    # picture with a textured background.
    small = cv2.resize(faces["avatar"], (176, 176), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(2)
    canvas = np.clip(rng.normal(150, 20, (360, 360, 3)), 0, 255).astype(np.uint8)
    canvas = cv2.GaussianBlur(canvas, (0, 0), 1.0)
    canvas[92:268, 92:268] = small
    faces["small-face"] = canvas
    return faces


def speech_animation(seconds: float = 4.0, fps: float = 30.0) -> Any:
    """Speech-like curves with head motion, blinks and a smile (all moving from frame 0)."""
    from visemic.motion.arkit import CHANNELS, INDEX
    from visemic.types import Animation

    n = int(seconds * fps)
    values = talking_values(n, list(CHANNELS)) * 0.8
    values[:, 52:55] *= 0.6  # up to about ±5°
    blink = (np.arange(n) % 75) < 5
    for name in ("eyeBlinkLeft", "eyeBlinkRight"):
        values[:, INDEX[name]] = np.where(blink, 1.0, 0.0)
    return Animation(fps, list(CHANNELS), values.astype(np.float32))


def first_frame(renderer: Any, image: np.ndarray, animation: Any
                ) -> tuple[float, float, float, int]:
    """(PSNR of the rendered frame 0, of frame 0 decoded from the MP4 the way a player shows
    it, of the same by FFmpeg's fast default conversion, the MP4's size in bytes).

    The writer codes BT.709 with centred chroma and labels it so; a player reads the labels and
    interpolates the chroma (a GPU's bilinear filter). FFmpeg's fast default conversion to RGB
    (what ``to_ndarray`` does unasked) repeats each chroma sample instead and rounds coarsely:
    on a picture with fine colour detail it reads 1-5 dB lower than anything a viewer sees."""
    import av
    from av.video.reformatter import Interpolation

    from visemic.outputs.video import write_video
    from visemic.render.portrait.quality import psnr

    rendered = psnr(renderer.frame(animation, 0.0, animation.values[0]), image)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "talk.mp4"
        write_video(animation, out, renderer=renderer)
        size = out.stat().st_size
        with av.open(str(out)) as container:
            decoded = next(container.decode(video=0))
            player = decoded.reformat(
                format="rgb24", interpolation=Interpolation.BILINEAR
                | Interpolation.FULL_CHR_H_INT | Interpolation.ACCURATE_RND).to_ndarray()
            fast = decoded.to_ndarray(format="rgb24")
    h, w = player.shape[:2]
    return rendered, psnr(player, image[:h, :w]), psnr(fast, image[:h, :w]), size


def still_regions(renderer: Any, image: np.ndarray, animation: Any) -> tuple[float, float]:
    """Lowest PSNR over the animation (every 3rd frame) outside the crop, and beyond the
    outer anchor ring (the face oval's convex hull scaled by the last RING_SCALE: a
    three-quarter face's outline is hollow at the far cheekbone, and scaled as it is it runs
    along the cheek itself, which a turn has to move)."""
    import cv2

    from visemic.render.portrait import mesh
    from visemic.render.portrait.quality import psnr
    from visemic.render.portrait.rig_tables import RING_SCALE

    h, w = image.shape[:2]
    x0, y0, x1, y1 = renderer.crop
    outside = np.ones((h, w), bool)
    outside[y0:y1, x0:x1] = False
    oval = renderer.landmarks[list(mesh.FACE_OVAL), :2]
    centre = oval.mean(axis=0)
    ring = np.zeros((h, w), np.uint8)
    outline = np.round(centre + (oval - centre) * RING_SCALE[-1]).astype(np.int32)
    cv2.fillPoly(ring, [cv2.convexHull(outline)], 1)
    far = ring == 0
    worst_out, worst_far = np.inf, np.inf
    for i in range(0, animation.frames, 3):
        frame = renderer.frame(animation, i / animation.fps, animation.values[i])
        if outside.any():
            worst_out = min(worst_out, psnr(frame, image, outside))
        if far.any():
            worst_far = min(worst_far, psnr(frame, image, far))
    return worst_out, worst_far


def lip_sync(renderer: Any, meter: Any) -> float:
    t = np.arange(120) / 30.0
    jaw = 0.35 * np.abs(np.sin(2 * np.pi * 1.3 * t)) * (0.6 + 0.4 * np.sin(t))
    measured, used = [], []
    for j in jaw:
        m = meter(renderer.render(frame_of({"jawOpen": float(j)})))
        if m is not None:
            measured.append(m[0])
            used.append(j)
    return float(np.corrcoef(measured, used)[0, 1]) if len(used) > 10 else float("nan")


def widest_vowel() -> tuple[np.ndarray, list[str]]:
    """The curve row (head still) of the widest frame of OPEN_VOWEL_TEXT spoken by espeak-ng,
    animated with its transcript, and the curves' channels."""
    import visemic
    from visemic.phonetics import espeak

    audio, _ = espeak.synthesize(OPEN_VOWEL_TEXT, "en-us")
    animation = visemic.animate(audio, text=OPEN_VOWEL_TEXT).animation
    jaw = animation.values[:, animation.channels.index("jawOpen")]
    row = animation.values[int(np.argmax(jaw))].copy()
    row[52:] = 0.0
    return row, list(animation.channels)


def fps_512(image: np.ndarray, frames: int) -> tuple[float, float]:
    """Frames/s of the renderer on the picture scaled to 512×512 on one core: by the clock,
    and by the CPU time it used (what a core of its own would give on a busy machine)."""
    import cv2

    from visemic.render.portrait import PortraitRenderer

    h, w = image.shape[:2]
    side = min(h, w)
    square = image[(h - side) // 2:(h + side) // 2, (w - side) // 2:(w + side) // 2]
    square = cv2.resize(square, (512, 512), interpolation=cv2.INTER_AREA)
    renderer = PortraitRenderer(np.ascontiguousarray(square))
    animation = speech_animation(frames / 30.0 + 0.5)
    rows = animation.values
    for i in range(10):
        renderer.frame(animation, 1.0, rows[i])
    with one_core():
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(frames):
            renderer.frame(animation, 1.0 + i / 30.0, rows[i])
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return frames / wall, frames / cpu


def face_measures(points: np.ndarray) -> np.ndarray:
    """(mouth-corner height above the lips' middle, brow height above the eyes, eye
    opening), in eye distances × 100, up positive."""
    from visemic.render.portrait import mesh

    pts = points[:, :2]
    right = pts[list(mesh.eye_contour("right"))].mean(axis=0)
    left = pts[list(mesh.eye_contour("left"))].mean(axis=0)
    axis = left - right
    iod = float(np.hypot(*axis))
    down = np.array([-axis[1], axis[0]]) / iod
    mid = (pts[13] + pts[14]) / 2
    corners = float(((mid - pts[[61, 291]]) @ down).mean())
    eyes = (right + left) / 2
    brows = pts[list(mesh.BROW_UPPER["right"] + mesh.BROW_UPPER["left"])]
    brow = float(((eyes - brows) @ down).mean())
    opening = np.mean([(pts[mesh.EYE_LOWER[s][4]] - pts[mesh.EYE_UPPER[s][4]]) @ down
                       for s in mesh.SIDES])
    return np.array([corners, brow, float(opening)]) / iod * 100.0


def emotions(renderer: Any) -> dict[str, np.ndarray]:
    """Face Mesh's measures of each emotion's frame minus neutral's."""
    from visemic.render.portrait.landmarks import detect_faces

    out = {}
    base = None
    for name, values in emotion_frames().items():
        faces = detect_faces(renderer.render(values)[:, :, :3], 1)
        if not faces:
            out[name] = np.full(3, np.nan)
            continue
        m = face_measures(faces[0])
        if base is None:
            base = m
        out[name] = m - base
    return out


def contact_sheet(renderer: Any, image: np.ndarray, path: Path) -> None:
    import cv2

    from visemic.render.portrait import mesh

    pts = renderer.landmarks[:, :2]
    oval = pts[list(mesh.FACE_OVAL)]
    pad = 0.25 * renderer.rig.iod
    h, w = image.shape[:2]
    x0, y0 = max(int(oval[:, 0].min() - pad), 0), max(int(oval[:, 1].min() - pad), 0)
    x1, y1 = min(int(oval[:, 0].max() + pad), w), min(int(oval[:, 1].max() + pad), h)
    tiles = [("source", image)]
    tiles += [(name, renderer.render(frame_of(p))) for name, p in POSES.items()]
    tiles += [(name, renderer.render(v)) for name, v in emotion_frames().items()]
    crops = []
    for name, tile in tiles:
        c = np.ascontiguousarray(tile[y0:y1, x0:x1, :3])
        cv2.putText(c, name, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 2,
                    cv2.LINE_AA)
        cv2.putText(c, name, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        crops.append(c)
    cols = 6
    while len(crops) % cols:
        crops.append(np.zeros_like(crops[0]))
    rows = [np.concatenate(crops[i:i + cols], axis=1) for i in range(0, len(crops), cols)]
    cv2.imwrite(str(path), np.concatenate(rows, axis=0)[:, :, ::-1])


# The README's portrait stills (docs/images/portrait-NAME.png): a generated face.
STILLS: dict[str, dict[str, float]] = {
    "rest": {}, "open": POSES["open"], "closure": POSES["closure"], "rounded": POSES["rounded"],
    "fv": POSES["f"], "blink": {"eyeBlink": 1.0, "mouthSmile": 0.5, "headYaw": 10.0},
}


def readme_stills(folder: Path, side: int = 256) -> None:
    """The README's portrait stills, from the built-in avatar's "kit" look drawn as a
    picture (the shared sample portraits may not be copied into the repository)."""
    import cv2

    from visemic.render import AvatarRenderer
    from visemic.render.portrait import PortraitRenderer

    folder.mkdir(parents=True, exist_ok=True)
    from visemic.render.portrait import mesh

    picture = np.ascontiguousarray(AvatarRenderer((512, 512), look="kit").rest[:, :, :3])
    renderer = PortraitRenderer(picture)
    # A square around the face, from a little above the brows to below the chin.
    oval = renderer.landmarks[list(mesh.FACE_OVAL), :2]
    cx, cy = oval.mean(axis=0)
    half = int(0.72 * max(np.ptp(oval[:, 0]), np.ptp(oval[:, 1])))
    y0 = int(np.clip(cy - half, 0, 512 - 2 * half))
    x0 = int(np.clip(cx - half, 0, 512 - 2 * half))
    for name, pose in STILLS.items():
        frame = renderer.render(frame_of(pose))[y0:y0 + 2 * half, x0:x0 + 2 * half, :3]
        small = cv2.resize(frame, (side, side), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(folder / f"portrait-{name}.png"), small[:, :, ::-1])


def emotion_grid(path: Path, height: int = 200) -> None:
    """The README's grid: the eight emotions at 0.8 on the generated faces (pictures visemic
    draws itself; the shared sample portraits may not be copied into the repository)."""
    import cv2

    from visemic.render.portrait import PortraitRenderer, mesh

    rows = []
    for name in ("avatar", "avatar-kit"):
        renderer = PortraitRenderer(generated_faces()[name])
        oval = renderer.landmarks[list(mesh.FACE_OVAL), :2]
        pad = 0.15 * renderer.rig.iod
        x0, y0 = (int(v - pad) for v in oval.min(axis=0))
        x1, y1 = (int(v + pad) for v in oval.max(axis=0))
        tiles = []
        for label, values in emotion_frames().items():
            tile = renderer.render(values)[y0:y1, x0:x1, :3]
            tile = cv2.resize(tile, (int(height * (x1 - x0) / (y1 - y0)), height),
                              interpolation=cv2.INTER_AREA)
            tile = np.ascontiguousarray(tile)
            cv2.putText(tile, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (40, 40, 40), 1,
                        cv2.LINE_AA)
            tiles.append(tile)
        rows.append(np.concatenate(tiles, axis=1))
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.concatenate(rows, axis=0)[:, :, ::-1])
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--portraits", type=Path, default=SHARED)
    ap.add_argument("--sheets", type=Path, help="write contact sheets here")
    ap.add_argument("--frames", type=int, default=240, help="frames timed for frames/s")
    ap.add_argument("--grid", type=Path, help="write the README's emotion grid here and stop")
    ap.add_argument("--stills", type=Path,
                    help="write the README's portrait stills (portrait-*.png) here and stop")
    args = ap.parse_args(argv)
    if args.grid:
        emotion_grid(args.grid)
        return 0
    if args.stills:
        readme_stills(args.stills)
        return 0

    from visemic.motion.emotion import NAMES
    from visemic.render.portrait import PortraitRenderer
    from visemic.render.portrait.quality import MouthMeter
    from visemic.render.portrait.renderer import read_image

    pictures: dict[str, np.ndarray] = {}
    if args.portraits.is_dir():
        for p in sorted(args.portraits.glob("*.jpg")) + sorted(args.portraits.glob("*.png")):
            pictures[p.stem] = read_image(p)[:, :, :3]
    pictures.update(generated_faces())
    if args.sheets:
        args.sheets.mkdir(parents=True, exist_ok=True)
    meter = MouthMeter()
    animation = speech_animation()
    vowel, vowel_channels = widest_vowel()
    print("portrait               face  first frame dB (as rendered / mp4 / mp4 fast-rgb)  "
          "mp4 kB  still dB (crop, far)  r(jaw)  gap /ɑ/  frames/s 512²")
    table = {}
    for name, picture in pictures.items():
        renderer = PortraitRenderer(picture)
        image = renderer.image[:, :, :3]
        rendered, decoded, fast, size = first_frame(renderer, image, animation)
        worst_out, worst_far = still_regions(renderer, image, animation)
        r = lip_sync(renderer, meter)
        measured = meter(renderer.render(vowel, vowel_channels)[:, :, :3])
        gap = measured[0] if measured else float("nan")
        speed, speed_cpu = fps_512(picture, args.frames)
        face = renderer.rig.iod
        print(f"{name:22s} {face:4.0f}  {rendered:5.1f} / {decoded:4.1f} / {fast:4.1f}"
              f"{'':29s}{size / 1024:6.0f}  {worst_out:5.1f} , {worst_far:5.1f}        "
              f"{r:5.3f}   {gap:5.3f}   {speed:4.0f} "
              f"({speed_cpu:.0f} cpu)")
        table[name] = emotions(renderer)
        if args.sheets:
            contact_sheet(renderer, image, args.sheets / f"{name}.png")
    meter.close()
    print("\n(face: eye distance in pixels; inf dB: identical; frames/s on one core, a lower "
          "bound when the machine is busy)")
    print(f"\nemotions at {INTENSITY} against neutral, Face Mesh on the rendered frames "
          "(eye distances × 100: corners up, brows up, eyes open)")
    print("portrait               " + "  ".join(f"{n:>16s}" for n in NAMES[1:]))
    for name, rows in table.items():
        cells = ["{:+5.1f} {:+5.1f} {:+5.1f}".format(*rows[n]) for n in NAMES[1:]]
        print(f"{name:22s} " + "  ".join(cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
