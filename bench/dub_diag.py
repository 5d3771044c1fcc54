"""Where a self-reenactment dub's lip landmarks differ from the real B's (issue 18's LMD),
decomposed: for the dub and the frozen mouth, per clip.

Each frame's lip landmarks of the output and of the real B are put into the real B's head frame
(IOD); the difference is split into

- ``bias``: its mean over the clip per landmark (where the pasted mouth sits and how big it is,
  against where the real one does: placement);
- ``open``: the part of the rest a straight line per landmark coordinate on the difference in
  inner aperture (output − real) explains (the opening asked for or shown);
- ``rest``: the remainder (width, corners, upper lip, chin).

LMD is reported whole and with each part taken away in turn (``-bias``, ``-bias-open``), with
the mean bias split into the lips' centroid shift (x, y), their scale (width, height ratio)
and by landmark group; the chin's offset and correlation; the mouth-box SSIM. ``--oracle``
also renders the plan asked for the real B's own lip features (what rendering alone reaches).
``--plan`` also compares each output's re-tracked lips with the landmarks the edit placed them
at (:class:`visemic.dub.playback.Edits`, what bench/dub_targets.py scores): LMD plan/real,
picture/real and picture/plan, by landmark group and lip feature (the picture's mean offset
from the plan and r), by kind of frame (pause, /p b m/, open, half open, closed), and ``pull``:
the share of the plan's error towards the real B that re-tracking the picture took back
(Face Mesh reading the unchanged face around the paste).
The outputs are kept in ``--out`` (for contact sheets; never commit them).

    PYTHONPATH=src python bench/dub_diag.py --clips lbbc2a,anchor --out /tmp/diag [--oracle]
        [--plan]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import visemic
from visemic.render.portrait import mesh
from visemic.video import decode, features, track

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dub_quality as dq  # noqa: E402

GROUPS = {"outer_up": mesh.LIPS_OUTER_UPPER[1:-1], "outer_low": mesh.LIPS_OUTER_LOWER[1:-1],
          "inner_up": mesh.LIPS_INNER_UPPER[1:-1], "inner_low": mesh.LIPS_INNER_LOWER[1:-1],
          "corners": (61, 291, 78, 308)}
INDEX = {p: i for i, p in enumerate(dq.LIP_POINTS)}


def local_lips(points: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """[n × P × 2] lip landmarks in the given frames' head frames (IOD; x, y)."""
    out = np.full((len(points), len(dq.LIP_POINTS), 2), np.nan)
    for k, (p, f) in enumerate(zip(points, frames, strict=True)):
        if not (np.isfinite(p).all() and np.isfinite(f).all()):
            continue
        from visemic.dub import geometry

        hf = geometry.head_frame(f)
        out[k] = geometry.to_local(p[dq.LIP_POINTS], hf)[:, :2]
    return out


def decompose(test: np.ndarray, real: np.ndarray, ap_test: np.ndarray,
              ap_real: np.ndarray) -> dict[str, float]:
    ok = np.isfinite(test).all(axis=(1, 2)) & np.isfinite(real).all(axis=(1, 2))
    ok &= np.isfinite(ap_test) & np.isfinite(ap_real)
    d = (test - real)[ok]
    lmd = float(np.linalg.norm(d, axis=2).mean())
    bias = d.mean(axis=0)
    e = d - bias
    da = (ap_test - ap_real)[ok]
    da = da - da.mean()
    c = np.tensordot(da, e, axes=(0, 0)) / max(float(da @ da), 1e-12)
    rest = e - da[:, None, None] * c
    out = {"lmd": lmd, "bias_only": float(np.linalg.norm(bias, axis=1).mean()),
           "-bias": float(np.linalg.norm(e, axis=2).mean()),
           "-bias-open": float(np.linalg.norm(rest, axis=2).mean()),
           "shift_x": float(bias[:, 0].mean()), "shift_y": float(bias[:, 1].mean())}
    t, r = test[ok], real[ok]
    width = lambda a: a[:, INDEX[291], 0] - a[:, INDEX[61], 0]  # noqa: E731
    outer = [INDEX[p] for p in mesh.LIPS_OUTER_UPPER + mesh.LIPS_OUTER_LOWER]
    height = lambda a: a[:, outer, 1].max(1) - a[:, outer, 1].min(1)  # noqa: E731
    out["width_ratio"] = float(np.median(width(t) / width(r)))
    out["height_ratio"] = float(np.median(height(t) / height(r)))
    out["r_width"] = float(np.corrcoef(width(t), width(r))[0, 1])
    for name, pts in GROUPS.items():
        idx = [INDEX[p] for p in pts]
        out[f"g_{name}"] = float(np.linalg.norm(d[:, idx], axis=2).mean())
        out[f"gb_{name}"] = float(np.linalg.norm(bias[idx], axis=1).mean())
        out[f"gy_{name}"] = float(bias[idx, 1].mean())
    # Chin: 152 not a lip point; apart.
    return out


def oracle(d: visemic.dub.Dub, real_features: np.ndarray) -> visemic.dub.Dub:
    """The same plan asked for the real B's own lip features (what rendering alone reaches)."""
    import copy

    from visemic.dub import select

    o = copy.copy(d)
    n = min(len(d.plan), len(real_features))
    want = np.array(d.shapes, np.float64)
    got = real_features[d.plan[:n]]
    ok = np.isfinite(got).all(axis=1)
    want[:n][ok] = got[ok]
    o.shapes = want
    from visemic.dub.atlas import context

    classes = context(d.speech.timeline, d.times + d.audio_offset)
    o.choice = select.choose(d.atlas, want, classes, d.silent)
    return o


def placed(d: visemic.dub.Dub) -> np.ndarray:
    """[frames × 478 × 2] where the edit places each output frame's landmarks (pixels; NaN
    where a frame is not edited)."""
    from visemic.dub import playback

    edits = playback.Edits(d)
    out = np.full((d.frames, mesh.N_REFINED, 2), np.nan)
    for i in range(d.frames):
        e = edits(i, int(d.plan[i]))
        if e is not None:
            out[i] = e.target
    return out


def plan_vs_picture(d: visemic.dub.Dub, plan: np.ndarray, picture: np.ndarray,
                    real: np.ndarray) -> None:
    """Print where the re-tracked ``picture`` (frames × 478 × 3) differs from the landmarks
    placed (``plan``) and from the ``real`` B (both per output frame)."""
    from visemic.dub.atlas import CLASSES

    n = min(len(plan), len(picture), len(real))
    # (the plan is placed in the image plane: its depth is the frame's own)
    depth = np.stack([d.track.full(int(k))[:, 2] for k in d.plan[:n]])
    plan3, picture3, real3 = np.dstack([plan[:n], depth]), picture[:n], real[:n]
    plan, picture, real = plan[:n], picture[:n, :, :2], real[:n, :, :2]
    lips = dq.LIP_POINTS
    ok = np.isfinite(plan[:, lips]).all(axis=(1, 2)) & np.isfinite(picture[:, lips]).all(
        axis=(1, 2)) & np.isfinite(real[:, lips]).all(axis=(1, 2))
    iod = features.inter_ocular(np.nan_to_num(real))

    def lmd(a: np.ndarray, b: np.ndarray, pts: tuple[int, ...] = tuple(lips)) -> np.ndarray:
        return np.linalg.norm(a[:, list(pts)] - b[:, list(pts)], axis=2).mean(1) / iod

    e = (real - plan)[ok][:, lips]
    m = (picture - plan)[ok][:, lips]
    pull = float((e * m).sum() / max(float((e * e).sum()), 1e-12))
    print(f"{'':7s}plan/real {lmd(plan, real)[ok].mean():.4f} picture/real "
          f"{lmd(picture, real)[ok].mean():.4f} picture/plan {lmd(picture, plan)[ok].mean():.4f}"
          f"  pull {pull:+.3f}")
    print(f"{'':7s}groups (plan/real picture/real, picture − plan y):", end="")
    for name, pts in GROUPS.items():
        dy = ((picture[:, list(pts), 1] - plan[:, list(pts), 1]).mean(1) / iod)[ok].mean()
        before, after = lmd(plan, real, pts)[ok].mean(), lmd(picture, real, pts)[ok].mean()
        print(f" {name} {before:.4f} {after:.4f} {dy:+.4f}", end="")
    print()
    full = [features.lip_features(np.nan_to_num(p)) for p in (plan3, picture3, real3)]
    fp, fc, fr = (f[ok] for f in full)
    print(f"{'':7s}features (picture − plan mean, r picture/plan, r plan/real, r picture/real):")
    for c, name in enumerate(features.FEATURES):
        print(f"{'':9s}{name:15s} {np.mean(fc[:, c] - fp[:, c]):+.4f} {_r(fc[:, c], fp[:, c]):5.2f}"
              f" {_r(fp[:, c], fr[:, c]):5.2f} {_r(fc[:, c], fr[:, c]):5.2f}")
    ap = full[0][:, 0]
    cls, quiet = d.classes[:n], d.silent[:n]
    kinds = {"pause": quiet, "p b m": (cls == CLASSES.index("bilabial")) & ~quiet,
             "open": (ap > 0.1) & ~quiet, "half": (ap > 0.03) & (ap <= 0.1) & ~quiet,
             "closed": (ap <= 0.03) & ~quiet}
    print(f"{'':7s}frames (n, LMD plan/real picture/real):", end="")
    for name, m in kinds.items():
        m = m & ok
        if m.any():
            print(f" {name} {m.sum()} {lmd(plan, real)[m].mean():.4f} "
                  f"{lmd(picture, real)[m].mean():.4f}", end="")
    print()


def run(clip: Path, out: Path, with_oracle: bool = False, with_plan: bool = False) -> None:
    info = decode.probe(clip)
    mid = info.video_start + info.duration / 2
    stem = clip.stem[:24]
    a = dq.cut(clip, out / f"{stem}_A.mp4", info.video_start - 1, mid)
    b = dq.cut(clip, out / f"{stem}_B.mp4", mid, info.video_start + info.duration + 1)
    d = visemic.dub(b, mouth_from=a, language=dq._language(clip))
    dubbed = d.save(out / f"{stem}_dub.mp4")
    still = dq.frozen(d).save(out / f"{stem}_frozen.mp4")
    tr = track(b, landmarks=True)
    kinds = [("dub", dubbed), ("frozen", still)]
    plans = {"dub": d, "frozen": dq.frozen(d)}
    if with_oracle:
        feats = features.lip_features(np.nan_to_num(tr.landmarks))
        feats[~np.isfinite(tr.landmarks).all(axis=(1, 2))] = np.nan
        plans["oracle"] = oracle(d, feats)
        kinds.append(("oracle", plans["oracle"].save(out / f"{stem}_oracle.mp4")))
    n = tr.frames
    real = tr.landmarks
    np.savez(out / f"{stem}_plan.npz", choice=d.choice, shapes=d.shapes, plan=d.plan,
             silent=d.silent, classes=d.classes, real=real)
    print(f"\n{clip.name}  ({n} frames)")
    cols = ("lmd", "bias_only", "-bias", "-bias-open", "shift_x", "shift_y", "width_ratio",
            "height_ratio", "r_width")
    print(f"{'':7s}" + " ".join(f"{c:>10s}" for c in cols))
    for name, path in kinds:
        tt = track(path, landmarks=True)
        m = min(n, tt.frames)
        np.save(out / f"{stem}_{name}_lm.npy", tt.landmarks[:m])
        lt = local_lips(tt.landmarks[:m], real[:m])
        lr = local_lips(real[:m], real[:m])
        ap_t = features.lip_features(np.nan_to_num(tt.landmarks[:m]))[:, 0]
        ap_r = features.lip_features(np.nan_to_num(real[:m]))[:, 0]
        res = decompose(lt, lr, ap_t, ap_r)
        res["ssim"] = box_ssim(b, path, real[:m])
        print(f"{name:7s}" + " ".join(f"{res[c]:10.4f}" for c in cols)
              + f"  SSIM {res['ssim']:.3f}")
        print(f"{'':7s}groups |d|: " + " ".join(f"{g}={res['g_' + g]:.4f}" for g in GROUPS))
        print(f"{'':7s}groups |bias|: " + " ".join(f"{g}={res['gb_' + g]:.4f}" for g in GROUPS))
        print(f"{'':7s}groups bias y: " + " ".join(f"{g}={res['gy_' + g]:+.4f}" for g in GROUPS))
        # Chin and jaw: 152 (chin), 17 (lower lip bottom) vertical offsets.
        chin_t = np.array([_local_point(p, f, 152) for p, f in zip(tt.landmarks[:m], real[:m],
                                                                    strict=True)])
        chin_r = np.array([_local_point(f, f, 152) for f in real[:m]])
        dc = chin_t - chin_r
        print(f"{'':7s}chin y: bias {np.nanmean(dc[:, 1]):+.4f} |d| "
              f"{np.nanmean(np.abs(dc[:, 1])):.4f}  r(chin_y) "
              f"{_r(chin_t[:, 1], chin_r[:, 1]):.2f}  r(ap) {_r(ap_t, ap_r):.2f}")
        if with_plan:
            p = plans[name]
            plan_vs_picture(p, placed(p), tt.landmarks[:m], real[np.minimum(p.plan, n - 1)])
    sys.stdout.flush()


def box_ssim(real_path: Path, test_path: Path, landmarks: np.ndarray) -> float:
    """Mean mouth-box SSIM (as bench/dub_quality.py measures it) over the frames tracked."""
    import cv2

    out = []
    for fr, ft in zip(decode.frames(real_path), decode.frames(test_path), strict=False):
        k = fr.index
        if k >= len(landmarks) or not np.isfinite(landmarks[k]).all():
            continue
        p = landmarks[k]
        iod = float(features.inter_ocular(p))
        lips = p[list(mesh.LIPS_OUTER_UPPER + mesh.LIPS_OUTER_LOWER), :2]
        x0, y0 = np.maximum(0, lips.min(0) - 0.25 * iod).astype(int)
        x1, y1 = (lips.max(0) + 0.25 * iod).astype(int)
        grey = [cv2.cvtColor(f.image[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY) for f in (fr, ft)]
        out.append(dq.ssim(*grey))
    return float(np.mean(out))


def _local_point(p: np.ndarray, f: np.ndarray, i: int) -> np.ndarray:
    from visemic.dub import geometry

    if not (np.isfinite(p[i]).all() and np.isfinite(f).all()):
        return np.full(2, np.nan)
    return geometry.to_local(p[i], geometry.head_frame(f))[:2]


def _r(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.corrcoef(a[ok], b[ok])[0, 1]) if ok.sum() > 2 else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", required=True, help="comma-separated name fragments")
    ap.add_argument("--out", type=Path, required=True, help="folder the outputs are kept in")
    ap.add_argument("--oracle", action="store_true",
                    help="also render with the real B's lip features as the targets")
    ap.add_argument("--plan", action="store_true",
                    help="also compare the re-tracked lips with the landmarks the edit placed")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for clip in dq.clips():
        if any(k in clip.name for k in args.clips.split(",")):
            run(clip, args.out, args.oracle, args.plan)
    return 0


if __name__ == "__main__":
    sys.exit(main())
