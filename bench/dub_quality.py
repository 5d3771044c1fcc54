"""Dubbing quality and speed (issue 18) over the real talking-head clips in
../shared/samples/video/ (nothing from there is copied anywhere; outputs go to a temp folder).

Self-reenactment: each clip is cut into halves A and B; ``dub(B, mouth_from=A)`` with B's own
audio is compared with the real B, frame by frame with Face Mesh on both: lip-landmark distance
(LMD, in inter-ocular distances), mouth-crop SSIM, inner-lip aperture correlation with the real
B and with the shape the renderer was asked for, PSNR outside the lower face, flicker (the
frame-to-frame change in the mouth box, dub over real) and the audio/video offset, measured as
``visemic sync-check`` measures it (band-passed lips against visemic's generic expectation for
B's audio, in windows; "nan" where it gives no answer, e.g. under 2 s of speech or a still
mouth) on the output and on the real B (the source's own offset); "?" marks a measurement whose
rival peak a syllable away fits almost as well (sync-check's own warning: a coin toss on a short
half). The lag that maximises the plain correlation of the two apertures is not used: on
rhythmic speech a peak one syllable (~320–400 ms) away fits about as well on a short half, and
with np.roll's wrap-around and the aperture's slow drift the edges of a ±10-frame search won
(the ±320–400 ms once reported for 3q and LRS2; their sources measure +11 and +32 ms). Two
references in the same run: a plain re-encode of B (the floor) and a "frozen mouth" (B with A's
rest mouth pasted in every frame, through the same compositor).

Cross-dub: each clip speaking another clip's speech: r between the dub's measured aperture and
visemic's jawOpen for that speech, and the share of frames in each pause (≥ 300 ms) where the
mouth is closed and still.

Speed: bench/dub_speed.py's tables (end to end by the clock and in CPU seconds per second of
video, and CPU per stage) for the 700×700 clip and the 1080×1920 one.

    PYTHONPATH=src python bench/dub_quality.py [--clips NAME,...] [--skip-speed] [--sheets DIR]
        [--skip-self] [--pause-detail]

(``--skip-self``: the cross-dub part alone; ``--pause-detail``: each pause's measured opening
frame by frame, the frames that fail marked with *.)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

import visemic
import visemic.audio
from visemic.dub import pipeline
from visemic.dub.atlas import MIN_PAUSE, pauses
from visemic.dub.encode import VideoWriter
from visemic.render.portrait import mesh
from visemic.video import decode, features, track

SAMPLES = Path(__file__).resolve().parents[1] / ".." / "shared" / "samples" / "video"
if not SAMPLES.exists():
    SAMPLES = Path("/work/shared/samples/video")
LIP_POINTS = sorted(set(mesh.LIPS_OUTER_UPPER + mesh.LIPS_OUTER_LOWER + mesh.LIPS_INNER_UPPER
                        + mesh.LIPS_INNER_LOWER))
# IOD: lips closer than this are closed; moving less than this a frame (Face Mesh's own noise on a
# still mouth), still.
CLOSED, STILL = 0.06, 0.03


def clips() -> list[Path]:
    return sorted(p for p in SAMPLES.glob("*") if p.suffix in (".mp4", ".mpg"))


def cut(src: Path, dst: Path, t0: float, t1: float) -> Path:
    """Frames and audio of ``src`` in [t0, t1) (container clock) as an MP4, the picture lossless
    (H.264 at QP 0): at CRF 8 x264 gave frames up to 19 levels apart from run to run, even on one
    thread, and moved a clip's LMD ratio by up to 0.04 between runs of the same code."""
    info = decode.probe(src)
    with av.open(str(dst), "w") as out:
        v = out.add_stream("libx264", rate=Fraction(info.fps).limit_denominator(1001))
        v.width, v.height = info.width - info.width % 2, info.height - info.height % 2
        v.pix_fmt = "yuv420p"
        v.options = {"qp": "0", "preset": "veryfast"}
        v.codec_context.time_base = Fraction(1, 90000)
        a = out.add_stream("aac", rate=48000, layout="mono")
        for f in decode.frames(src):
            if t0 <= f.time < t1:
                vf = av.VideoFrame.from_ndarray(f.image[:v.height, :v.width], format="rgb24")
                vf.pts = int(round((f.time - t0) * 90000))
                vf.time_base = Fraction(1, 90000)
                for p in v.encode(vf):
                    out.mux(p)
        for p in v.encode(None):
            out.mux(p)
        start = info.audio_start or 0.0
        samples = visemic.audio.load(src, rate=48000).samples
        i0 = max(0, int((t0 - start) * 48000))
        i1 = max(i0, int((t1 - start) * 48000))
        chunk = samples[i0:i1]
        # Where the cut starts before the audio, the audio starts that much later in the cut
        # (so sound and picture keep their places).
        pos = max(0, int(round((start - t0) * 48000)))
        for k in range(0, len(chunk), 4800):
            block = chunk[k:k + 4800]
            af = av.AudioFrame.from_ndarray(block[None, :].astype(np.float32), format="fltp",
                                            layout="mono")
            af.sample_rate = 48000
            af.pts = pos
            af.time_base = Fraction(1, 48000)
            pos += len(block)
            for p in a.encode(af):
                out.mux(p)
        for p in a.encode(None):
            out.mux(p)
    return dst


def reencode(src: Path, dst: Path) -> Path:
    info = decode.probe(src)
    with VideoWriter(dst, (info.width, info.height), info.fps) as w:
        t0 = None
        for f in decode.frames(src):
            t0 = f.time if t0 is None else t0
            w.put(f.image, f.time - t0)
    return dst


def frozen(d: pipeline.Dub) -> pipeline.Dub:
    """The same plan with the atlas's rest mouth in every frame."""
    import copy

    f = copy.copy(d)
    f.choice = np.full_like(d.choice, d.atlas.rest)
    # Asked for the rest shape everywhere (as in a pause), nothing moves the lips.
    f.shapes = np.tile(d.atlas.features[d.atlas.rest], (len(d.choice), 1))
    f.silent = np.ones_like(d.silent)
    f.edit = None  # pasted in every frame, pauses the video rests in too
    return f


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    blur = lambda x: cv2.GaussianBlur(x, (7, 7), 1.5)  # noqa: E731
    ma, mb = blur(a), blur(b)
    va, vb, cov = blur(a * a) - ma ** 2, blur(b * b) - mb ** 2, blur(a * b) - ma * mb
    s = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma ** 2 + mb ** 2 + c1) * (va + vb + c2))
    return float(s.mean())


def lower_face_mask(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Where a dub may change pixels: the lower face and the ring below the jaw (generous)."""
    mask = np.zeros(shape, np.uint8)
    if not np.isfinite(points).all():
        return mask.astype(bool)
    iod = float(features.inter_ocular(points))
    centre = points[list(mesh.LIPS_OUTER_UPPER), :2].mean(axis=0)
    low = [i for i in mesh.FACE_OVAL if points[i, 1] > points[2, 1] - 0.35 * iod]
    ring = []
    for i in low:
        d = points[i, :2] - centre
        ring.append(points[i, :2] + 0.55 * iod * d / max(np.hypot(*d), 1e-6))
    cheeks = [points[i, :2] for i in (116, 345, 50, 280, 2)]
    hull = cv2.convexHull(np.array(ring + cheeks, np.float32)).astype(np.int32)
    cv2.fillPoly(mask, [hull], 1)
    return mask.astype(bool)


def psnr(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    err = ((a.astype(np.float64) - b.astype(np.float64)) ** 2)[where].mean()
    return float(10 * np.log10(255 ** 2 / max(err, 1e-10)))


Expectation = tuple[np.ndarray, float, Callable[[np.ndarray], np.ndarray]]


def expectation(video: Path, language: str) -> Expectation:
    """What ``visemic sync-check`` measures a video's lips against: the generic expected lip
    gap for its own audio (100 fps, from the audio's start), that start, and its speech mask."""
    from visemic.sync import measure as sync

    info = decode.probe(video)
    res = visemic.animate(video, language=language, fps=sync.CURVE_FPS, still=True)
    start = info.audio_start or 0.0
    gap = res.animation.channel("jawOpen") - res.animation.channel("mouthClose")
    return gap, start, sync._speech_mask(res, start)


def av_offset(t: Any, expect: Expectation | None) -> tuple[float, bool]:
    """(the A/V offset in ms, > 0: picture late; whether a rival peak a syllable away fits
    almost as well, which makes it a coin toss) of a tracked video; NaN where sync-check's
    measurement gives no answer."""
    from visemic.errors import VisemicError
    from visemic.sync import measure as sync

    if expect is None:
        return float("nan"), False
    try:
        report = sync.measure(t, expect[0], expect[1], expect[2])
    except VisemicError:
        return float("nan"), False
    if report.offset_ms is None:
        return float("nan"), False
    return float(report.offset_ms), any("second offset" in w for w in report.warnings)


def compare(real: Path, test: Path, requested: np.ndarray | None = None,
            expect: Expectation | None = None) -> dict[str, float]:
    """Per-frame comparison of ``test`` with ``real`` (see the module docstring)."""
    tr = track(real, landmarks=True)
    tt = track(test, landmarks=True)
    n = min(tr.frames, tt.frames)
    lr, lt = tr.landmarks[:n], tt.landmarks[:n]
    iod = features.inter_ocular(np.nan_to_num(lr))
    lmd = np.linalg.norm(lr[:, LIP_POINTS, :2] - lt[:, LIP_POINTS, :2], axis=2).mean(1) / iod
    ar, at = tr.feature("inner_aperture")[:n], tt.feature("inner_aperture")[:n]
    ok = np.isfinite(ar) & np.isfinite(at) & np.isfinite(lmd)
    ssims, psnrs = [], []
    change_real, change_test = [], []
    last: tuple[np.ndarray, np.ndarray] | None = None
    for k, (fr, ft) in enumerate(zip(decode.frames(real), decode.frames(test), strict=False)):
        if k >= n or not ok[k]:
            continue
        p = lr[k]
        lips = p[list(mesh.LIPS_OUTER_UPPER + mesh.LIPS_OUTER_LOWER), :2]
        x0, y0 = (lips.min(0) - 0.25 * iod[k]).astype(int)
        x1, y1 = (lips.max(0) + 0.25 * iod[k]).astype(int)
        h, w = fr.image.shape[:2]
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        box = (slice(y0, y1), slice(x0, x1))
        ssims.append(ssim(cv2.cvtColor(fr.image[box], cv2.COLOR_RGB2GRAY),
                          cv2.cvtColor(ft.image[box], cv2.COLOR_RGB2GRAY)))
        # Flicker: frame-to-frame change in the mouth box (this frame's box on both frames of
        # the pair, in both videos).
        if last is not None and last[0].shape == fr.image.shape == ft.image.shape:
            change_real.append(np.abs(fr.image[box].astype(float) - last[0][box]).mean())
            change_test.append(np.abs(ft.image[box].astype(float) - last[1][box]).mean())
        last = (fr.image, ft.image)
        hh, ww = min(h, ft.image.shape[0]), min(w, ft.image.shape[1])
        outside = ~lower_face_mask(p, (hh, ww))
        psnrs.append(psnr(fr.image[:hh, :ww], ft.image[:hh, :ww], outside))
    out = {"lmd": float(np.nanmean(lmd[ok])), "ssim": float(np.mean(ssims)),
           "r_real": _r(at[ok], ar[ok]), "psnr_mean": float(np.mean(psnrs)),
           "psnr_min": float(np.min(psnrs)),
           "flicker": float(np.mean(change_test) / max(np.mean(change_real), 1e-9)),
           "lmd_frames": np.where(ok, lmd, np.nan)}
    out["offset_ms"], out["offset_rival"] = av_offset(tt, expect)
    out["source_offset_ms"], out["source_offset_rival"] = av_offset(tr, expect)
    if requested is not None:
        m = min(n, len(requested))
        ok2 = ok[:m]
        out["r_requested"] = _r(at[:m][ok2], requested[:m][ok2])
    return out


def _language(clip: Path) -> str:
    """The clips' names start with their language (en_…, de_…)."""
    return clip.name[:2] if clip.name[:3] in ("en_", "de_") else "en"


def _ms(offset: float, rival: bool) -> str:
    """An offset for the table; "?" where a rival peak a syllable away fits almost as well."""
    return f"{offset:6.0f}ms" + ("?" if rival else " ")


def _r(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or np.std(a) < 1e-9 or np.std(b) < 1e-9:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def self_reenactment(clip: Path, tmp: Path, sheets: Path | None) -> dict[str, dict[str, float]]:
    info = decode.probe(clip)
    mid = info.video_start + info.duration / 2
    a = cut(clip, tmp / f"{clip.stem}_A.mp4", info.video_start - 1, mid)
    b = cut(clip, tmp / f"{clip.stem}_B.mp4", mid, info.video_start + info.duration + 1)
    d = visemic.dub(b, mouth_from=a, language=_language(clip))
    dubbed = d.save(tmp / f"{clip.stem}_dub.mp4")
    plain = reencode(b, tmp / f"{clip.stem}_plain.mp4")
    still = frozen(d).save(tmp / f"{clip.stem}_frozen.mp4")
    requested = d.shapes[:, features.FEATURES.index("inner_aperture")]
    expect = expectation(b, _language(clip))
    result = {"dub": compare(b, dubbed, requested, expect),
              "plain": compare(b, plain, None, expect), "frozen": compare(b, still, None, expect)}
    # The same ratio over the frames the dub edited: where B's own pauses rest as the dub's
    # rest would, the dub leaves them as they are (visemic.dub.untouched), the frozen mouth not.
    edited = np.ones(d.frames, bool) if d.edit is None else d.edit > 0
    lmd_d, lmd_f = result["dub"]["lmd_frames"], result["frozen"]["lmd_frames"]
    m = min(len(edited), len(lmd_d), len(lmd_f))
    both = edited[:m] & np.isfinite(lmd_d[:m]) & np.isfinite(lmd_f[:m])
    result["dub"]["lmd_edited"] = float(np.mean(lmd_d[:m][both]))
    result["dub"]["lmd_edited_frozen"] = float(np.mean(lmd_f[:m][both]))
    result["dub"]["left"] = int(m - edited[:m].sum())
    if sheets is not None:
        contact_sheet(b, dubbed, d, sheets / f"{clip.stem}_self.png")
    return result


def cross_dub(clip: Path, speech: Path, tmp: Path, sheets: Path | None,
              detail: bool = False) -> dict[str, float]:
    # The clip's own audio labels its mouths in its own language (the German anchor's with
    # German phones), the new speech is analysed in its own.
    d = visemic.dub(clip, speech, language=_language(speech), mouth_language=_language(clip))
    out = d.save(tmp / f"{clip.stem}_cross.mp4")
    t = track(out)
    ap = t.feature("inner_aperture")
    jaw = pipeline._sample(d.speech, d.times + d.audio_offset)[
        :, d.speech.animation.channels.index("jawOpen")]
    n = min(len(ap), len(jaw))
    ok = np.isfinite(ap[:n])
    # Pauses of the speech (≥ 300 ms), each scored on its own.
    silent = pauses(d.speech.timeline, d.times[:n] + d.audio_offset)
    step = float(np.median(np.diff(d.times))) if len(d.times) > 1 else 0.04
    shares = []
    k = 0
    while k < n:
        if not silent[k]:
            k += 1
            continue
        e = k
        while e < n and silent[e]:
            e += 1
        # pauses() counts the stretches before the first phone and after the last as pauses
        # whatever their length; a silence here is one of MIN_PAUSE or more.
        if (e - k) * step < MIN_PAUSE - 1e-6:
            k = e
            continue
        seg = ap[k:e]
        closed = seg < CLOSED
        still = np.r_[True, np.abs(np.diff(seg)) < STILL]
        seg_ok = np.isfinite(seg)
        if seg_ok.sum():
            shares.append(float((closed & still)[seg_ok].mean()))
            if detail:
                flags = zip(seg, closed, still, strict=True)
                marks = " ".join(f"{k + j}:{a:.3f}{'' if c and s else '*'}"
                                 for j, (a, c, s) in enumerate(flags))
                print(f"  pause frames {k}-{e - 1} ({shares[-1]:.2f}): {marks}")
        k = e
    if sheets is not None:
        contact_sheet(clip, out, d, sheets / f"{clip.stem}_cross.png")
    return {"r_jaw": _r(ap[:n][ok], jaw[:n][ok]),
            "pause_still_min": min(shares) if shares else float("nan"),
            "pause_still_mean": float(np.mean(shares)) if shares else float("nan"),
            "pauses": len(shares)}


def contact_sheet(source: Path, dubbed: Path, d: pipeline.Dub, path: Path) -> None:
    """Source beside dub at full size for open vowels, closures, rounded vowels and pauses."""
    from visemic.dub.atlas import CLASSES, context

    classes = context(d.speech.timeline, d.times + d.audio_offset)[:, 1]
    want = {"open": CLASSES.index("open"), "closure": CLASSES.index("bilabial"),
            "rounded": CLASSES.index("rounded")}
    picks: list[int] = []
    for cls in want.values():
        picks += list(np.flatnonzero(classes == cls)[:2])
    picks += list(np.flatnonzero(d.silent)[::max(1, d.silent.sum() // 2)][:2])
    picks = sorted(set(int(p) for p in picks if p < len(d.plan)))
    src = {}
    for f in decode.frames(source):
        if f.index in set(int(d.plan[p]) for p in picks):
            src[f.index] = f.image
    rows = []
    for i, f in enumerate(decode.frames(dubbed)):
        if i in picks and int(d.plan[i]) in src:
            pts = d.track.full(int(d.plan[i]))
            c = np.nanmean(pts[list(mesh.LIPS_OUTER_UPPER), :2], axis=0)
            iod = float(features.inter_ocular(np.nan_to_num(pts)))
            r = int(1.3 * iod)
            h, w = f.image.shape[:2]
            x0, y0 = max(0, int(c[0]) - r), max(0, int(c[1]) - r)
            x1, y1 = min(w, int(c[0]) + r), min(h, int(c[1]) + r)
            rows.append(np.hstack([src[int(d.plan[i])][y0:y1, x0:x1], f.image[y0:y1, x0:x1]]))
    if rows:
        width = max(r.shape[1] for r in rows)
        rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", help="comma-separated name fragments (default: all)")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--skip-self", action="store_true",
                    help="skip the self-reenactment part (run only the cross-dub and speed)")
    ap.add_argument("--pause-detail", action="store_true",
                    help="print each pause's per-frame aperture (failing frames marked)")
    ap.add_argument("--sheets", type=Path, help="write contact sheets here (never commit them)")
    args = ap.parse_args()
    all_clips = clips()
    if not all_clips:
        print(f"no clips in {SAMPLES}; nothing to measure")
        return 0
    chosen = [c for c in all_clips if not args.clips
              or any(k in c.name for k in args.clips.split(","))]
    with tempfile.TemporaryDirectory(prefix="visemic-dub-bench-") as tmpdir:
        tmp = Path(tmpdir)
        if not args.skip_quality:
            if not args.skip_self:
                print("self-reenactment (dub B with mouths from A, B's own audio) vs plain "
                      "re-encode and frozen mouth")
                print(f"{'clip':58s} {'kind':7s} {'LMD':>6s} {'SSIM':>6s} {'r_real':>7s} "
                      f"{'r_req':>6s} {'PSNRout':>8s} {'min':>6s} {'offset':>7s} "
                      f"{'flicker':>7s} {'B offset':>8s}")
            for clip in chosen if not args.skip_self else []:
                try:
                    res = self_reenactment(clip, tmp, args.sheets)
                except Exception as exc:  # one clip's failure is a figure too
                    print(f"{clip.name:58s} failed: {exc}")
                    continue
                for kind, m in res.items():
                    print(f"{clip.name[:58]:58s} {kind:7s} {m['lmd']:6.3f} {m['ssim']:6.3f} "
                          f"{m['r_real']:7.2f} {m.get('r_requested', float('nan')):6.2f} "
                          f"{m['psnr_mean']:8.2f} {m['psnr_min']:6.2f} "
                          f"{_ms(m['offset_ms'], m['offset_rival'])} {m['flicker']:7.2f} "
                          f"{_ms(m['source_offset_ms'], m['source_offset_rival'])}")
                print(f"{clip.name[:58]:58s} LMD dub / frozen {res['dub']['lmd']:.4f} / "
                      f"{res['frozen']['lmd']:.4f} = "
                      f"{res['dub']['lmd'] / res['frozen']['lmd']:.3f} (target 0.75); over the "
                      f"frames edited {res['dub']['lmd_edited']:.4f} / "
                      f"{res['dub']['lmd_edited_frozen']:.4f} = "
                      f"{res['dub']['lmd_edited'] / res['dub']['lmd_edited_frozen']:.3f} "
                      f"({res['dub']['left']} frames left as they are)")
                sys.stdout.flush()
            print("\ncross-dub (each clip speaks the next clip's speech)")
            for clip in chosen:
                speech = all_clips[(all_clips.index(clip) + 1) % len(all_clips)]
                try:
                    m = cross_dub(clip, speech, tmp, args.sheets, args.pause_detail)
                except Exception as exc:
                    print(f"{clip.name:58s} failed: {exc}")
                    continue
                print(f"{clip.name[:58]:58s} r(aperture, jawOpen) {m['r_jaw']:.2f}  pauses "
                      f"{m['pauses']}: closed+still min {m['pause_still_min']:.2f} mean "
                      f"{m['pause_still_mean']:.2f}")
                sys.stdout.flush()
        if not args.skip_speed:
            import dub_speed  # bench/dub_speed.py, beside this file

            print("\nspeed (bench/dub_speed.py)")
            dub_speed.report([c for c in all_clips if "700" in c.name or "1080x1920" in c.name],
                             tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
