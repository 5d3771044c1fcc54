"""Mouth motion against real lips, on the talking-head clips of ../shared/samples/video.

    python bench/lip_motion.py [--plots DIR] [--clips NAME …] [--quick]

For each clip the face is tracked (visemic.video) and the clip's own audio analysed by visemic
(no transcript, except where a .txt lies beside the clip); see bench/lip_clips.py (cached).
Printed, per clip and as the median:

- shipped: the generic motion as shipped (its tables were calibrated on these same clips, so
  this is in-sample: a reference only);
- uncalibrated: the hand-made tables before any calibration (UNCALIBRATED below);
- generic LOCO: the class openings fitted (calibrate.fit) on all the other clips, from the
  uncalibrated prior, scored on the held-out clip (never fit and score on one clip); the timing
  is the shipped one (chosen once on all clips together with the open-vowel curve check of
  bench/accuracy.py), or searched on a grid inside each fit with --grid;
- personal: a profile learnt (calibrate.learn) from the first half of the clip, with the LOCO
  generic of that clip as its prior, then the second half's audio analysed on its own and
  animated with it, against the real second half; "generic 2nd" is the LOCO generic on the same
  second half, "timing only" the LOCO generic with the person's timing alone
  (calibrate.personal_timing, openings not fitted); the learnt timing and the ridge the
  cross-validation chose are printed per clip.

r: Pearson correlation of the predicted opening (jawOpen − mouthClose, the whole expression
pipeline) with the tracked inner-lip aperture at lag 0; lag: the shift that maximises r (> 0:
visemic runs late). The all-clip fit (for the shipped tables) is printed at the end.
One plot per clip goes to --plots (default out/lip_motion/plots): the whole clip (real aperture,
generic LOCO) above, the second half (real, generic LOCO, personal) below.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lip_clips  # noqa: E402

from visemic import audio as audio_io  # noqa: E402
from visemic import calibrate  # noqa: E402
from visemic import prosody as prosody_mod  # noqa: E402
from visemic.motion import profile as profile_mod  # noqa: E402
from visemic.phonetics import timeline as timeline_mod  # noqa: E402
from visemic.types import Audio  # noqa: E402

# The hand-made opening table and timing before calibration (the LOCO fits' prior, so that no
# held-out clip leaks into its own score through the shipped tables).
UNCALIBRATED = profile_mod.Profile(
    opening={"rest": 0.0, "vowel_close": 0.15, "vowel_close_round": 0.12, "vowel_mid": 0.35,
             "vowel_mid_round": 0.28, "vowel_open_mid": 0.43, "vowel_open_mid_round": 0.35,
             "vowel_open": 0.55, "vowel_open_round": 0.44,
             "bilabial": 0.1, "labiodental": 0.1, "dental": 0.14, "alveolar": 0.15,
             "sibilant": 0.07, "postalveolar": 0.12, "rhotic": 0.18, "lateral": 0.15,
             "labial_glide": 0.08, "palatal": 0.1, "velar": 0.2, "glottal": 0.22},
    lead=0.0, release=0.0, decay_pre=0.035, decay_post=0.045, loudness=0.35, consonant_hold=1.0)
CLOSED_REST = {"rest": 0.0}  # the generic face rests with closed lips (a profile may part them)
MIN_HALF_SPEECH = 0.5   # the GRID clips' halves hold under a second of speech each


def second_half(clip: Path, obs: calibrate.Observation, mid: float
                ) -> tuple[calibrate.Observation, Audio]:
    """The real second half (times from 0) and its audio, analysed on its own (no text)."""
    full = audio_io.load(clip)
    start = int(round(mid * full.sample_rate))
    audio = Audio(full.samples[start:], full.sample_rate)
    tl = timeline_mod.analyse(audio, language=lip_clips.language(clip))
    half = obs.window(mid, math.inf)
    return replace(half, times=half.times - mid, timeline=tl,
                   prosody=prosody_mod.analyse(audio), duration=audio.duration), audio


def fmt(s: calibrate.Score) -> str:
    return f"{s.r:+.2f} {s.lag * 1000:+4.0f}ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plots", type=Path, default=lip_clips.ROOT / "out" / "lip_motion" / "plots")
    ap.add_argument("--clips", nargs="*", help="clip names (default: all)")
    ap.add_argument("--grid", action="store_true",
                    help="search the timing grid in each fit (default: the shipped timing, "
                         "only the class openings fitted)")
    args = ap.parse_args()
    clips = lip_clips.clips()
    if args.clips:
        clips = [c for c in clips if any(n in c.name for n in args.clips)]
    if not clips:
        sys.exit(f"error: no clips in {lip_clips.CLIPS}")
    t0 = time.time()
    obs = {c: lip_clips.observe(c) for c in clips}
    g = profile_mod.generic()
    grid = (calibrate.timings(releases=(None, 0.0, 0.02)) if args.grid else
            [profile_mod.Profile(lead=g.lead, release=g.release, decay_pre=g.decay_pre,
                                 decay_post=g.decay_post, loudness=g.loudness,
                                 consonant_hold=g.consonant_hold)])
    cache: dict = {}
    rows = []
    args.plots.mkdir(parents=True, exist_ok=True)
    print(f"{len(clips)} clips; timing grid {len(grid)}; r at lag 0 and best lag "
          f"(+ = visemic late)")
    print(f"{'clip':36s} {'shipped':>12s} {'uncalib.':>12s} {'generic LOCO':>12s} │ "
          f"{'generic 2nd':>12s} {'timing only':>12s} {'personal 2nd':>12s} {'gain':>5s}  "
          f"personal timing (ms), ridge")
    for c in clips:
        o = obs[c]
        others = [obs[k] for k in clips if k != c]
        loco = (calibrate.fit(others, UNCALIBRATED, grid=grid, cache=cache, fixed=CLOSED_REST)
                if others else None)
        shipped = calibrate.score(o)
        uncal = calibrate.score(o, UNCALIBRATED)
        gen = calibrate.score(o, loco) if loco else shipped
        mid = 0.5 * o.duration
        half, _ = second_half(c, o, mid)
        first = o.window(0.0, mid)
        nan = calibrate.Score(math.nan, math.nan, math.nan)
        try:
            me = calibrate.learn(first, min_speech=MIN_HALF_SPEECH,
                                 prior=loco or profile_mod.generic())
            pers = calibrate.score(half, me)
            timed = calibrate.score(half, calibrate.personal_timing(
                calibrate.without_lead_in(first), loco or profile_mod.generic()))
        except Exception as e:  # report and go on: one clip must not stop the benchmark
            print(f"  {c.name}: no profile ({e})", file=sys.stderr)
            me, pers, timed = None, nan, nan
        gen2 = calibrate.score(half, loco)
        rows.append({"clip": c.name, "shipped": shipped, "uncalibrated": uncal, "loco": gen,
                     "generic_2nd": gen2, "timing_2nd": timed, "personal_2nd": pers,
                     "uncalibrated_2nd": calibrate.score(half, UNCALIBRATED)})
        how = (f"{me.lead * 1000:+.0f}/{me.release * 1000:+.0f} lead/release, "
               f"{me.decay_pre * 1000:.0f}/{me.decay_post * 1000:.0f} decays, "
               f"ridge {me.source['ridge']:g}" if me else "")
        print(f"{c.name[:36]:36s} {fmt(shipped):>12s} {fmt(uncal):>12s} {fmt(gen):>12s} │ "
              f"{fmt(gen2):>12s} {fmt(timed):>12s} {fmt(pers):>12s} {pers.r - gen2.r:+.2f}  "
              f"{how}", flush=True)
        plot(args.plots / f"{c.stem}.png", c.name, o, loco, half, me, mid, gen, gen2, pers)
    print(f"{'median':36s}" + "".join(
        f" {_median(rows, k):>12s}" for k in ("shipped", "uncalibrated", "loco")) + " │"
        + "".join(f" {_median(rows, k):>12s}" for k in ("generic_2nd", "timing_2nd",
                                                         "personal_2nd")))
    med = {k: np.nanmedian([r[k].r for r in rows])
           for k in ("generic_2nd", "personal_2nd", "uncalibrated_2nd")}
    gain = np.array([r["personal_2nd"].r - r["generic_2nd"].r for r in rows])
    print(f"personal vs generic LOCO on the second halves: medians {med['personal_2nd']:.3f} vs "
          f"{med['generic_2nd']:.3f} ({med['personal_2nd'] - med['generic_2nd']:+.3f}); per-clip "
          f"gain median {np.nanmedian(gain):+.3f}, mean {np.nanmean(gain):+.3f}, "
          f"{int((gain >= 0.1).sum())} clips +0.1 or more, {int((gain < -0.02).sum())} worse "
          f"by over 0.02")
    print(f"personal vs uncalibrated generic on the second halves: medians "
          f"{med['personal_2nd']:.3f} vs {med['uncalibrated_2nd']:.3f}")
    full = calibrate.fit(list(obs.values()), UNCALIBRATED, grid=grid, cache=cache,
                         fixed=CLOSED_REST)
    scales = [s for _, s in calibrate.fit_openings(
        [cache[(id(o), *calibrate._key(full))] for o in obs.values()],
        full.opening)[1]]
    print(f"all-clip fit (for poses.OPENING / curves): lead {full.lead:.3f} s, release "
          f"{full.release:.3f} s, decay_pre "
          f"{full.decay_pre:.3f}, decay_post {full.decay_post:.3f}, loudness "
          f"{full.loudness:.2f}, consonant hold {full.consonant_hold:.2f}")
    print("  OPENING = " + json.dumps({k: round(v, 2) for k, v in full.opening.items()}))
    print(f"  aperture per unit of opening (IOD), per clip: "
          f"{', '.join(f'{s:.2f}' for s in scales)}; median {np.median(scales):.2f}")
    print(f"plots in {args.plots}; {time.time() - t0:.0f} s (wall, shared machine)")


def _median(rows: list[dict], key: str) -> str:
    r = np.nanmedian([x[key].r for x in rows])
    lag = np.nanmedian([x[key].lag for x in rows])
    return f"{r:+.3f} {lag * 1000:+3.0f}ms"


def plot(path: Path, title: str, obs: calibrate.Observation,
         generic: profile_mod.Profile | None, half: calibrate.Observation,
         me: profile_mod.Profile | None, mid: float, gen: calibrate.Score,
         gen2: calibrate.Score, pers: calibrate.Score) -> None:
    """Above: the real aperture with the generic (LOCO) prediction over the whole clip. Below:
    the second half, analysed on its own, with the generic and the personal prediction (the
    profile learnt from the first half). Each prediction is mapped onto the aperture by a
    least-squares line (r does not see scale or offset)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 6), dpi=100)
    panels = [(top, obs, 0.0, [("generic, leave-one-clip-out", generic, gen, "tab:blue")],
               "whole clip"),
              (bottom, half, mid, [("generic, leave-one-clip-out", generic, gen2, "tab:blue"),
                                   ("personal, learnt from the 1st half", me, pers, "tab:red")],
               "second half, its audio analysed on its own")]
    for ax, o, t0, lines, what in panels:
        ok = o.usable
        t, real = o.times[ok], o.aperture[ok]
        ax.plot(t + t0, real, color="black", lw=2.0, label="real (tracked inner-lip aperture)")
        for label, motion, sc, colour in lines:
            if motion is None and label.startswith("personal"):
                continue
            tt, v = calibrate.opening(o, motion)
            p = np.interp(t, tt, v)
            a, s = calibrate._line(p, real, o.weight[ok])
            ax.plot(t + t0, a + s * p, color=colour, lw=1.3, label=f"{label} (r {sc.r:.2f})")
        top_y = float(np.nanmax(real)) * 1.08
        for ph in o.timeline.phones if o.duration <= 6 else []:  # legible on short clips
            ax.text(t0 + (ph.start + ph.end) / 2, top_y, ph.symbol, ha="center", va="bottom",
                    fontsize=8, color="dimgrey")
        ax.set_ylim(top=top_y * 1.12)
        ax.set_ylabel("aperture (eye distances)")
        ax.set_title(f"{title}: {what}", fontsize=9)
        ax.legend(fontsize=7, loc="upper right", framealpha=0.85)
    top.axvline(mid, color="grey", ls=":", lw=1)
    bottom.set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main()
