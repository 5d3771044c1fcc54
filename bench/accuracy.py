"""Lip-sync accuracy on ../shared/eval/speech, scored as DESIGN.md §4 (and the §3 curve checks).

    python bench/accuracy.py [--lang en] [--method words|phones] [--items NAME …] [--verbose]

Prints, per mode (with / without transcript): hit rate per decisive class, their macro mean,
the best lag (all items pooled), phone-boundary accuracy (tier-B items, with transcript) and
the curve checks.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

import visemic
from visemic import evaluation as ev
from visemic.phonetics.phonesets import to_ipa
from visemic.types import Phone

EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval" / "speech"


def load_truth(path: Path) -> tuple[dict, list[Phone]]:
    meta = json.loads(path.read_text())
    phones = [Phone(to_ipa(p["phone"], meta["phone_set"]), p["start"], p["end"])
              for p in meta["phones"]]
    return meta, phones


PINYIN = re.compile(r"(?:[a-zü]+[1-5] ?)+")


def item_language(meta: dict) -> str:
    """The language code of an item ("zh (Mandarin)" → "zh")."""
    return meta["language"].split()[0]


def run(items: list[Path], with_text: bool, method: str, verbose: bool) -> dict:
    tally, curves = ev.Tally(), ev.CurveChecks()
    indicators, errs_b, cpu, dur = [], [], 0.0, 0.0
    for js in items:
        meta, truth = load_truth(js)
        text, language = meta["transcript"] if with_text else None, item_language(meta)
        if text is not None and PINYIN.fullmatch(text.strip()):
            # A transcript written in pinyin syllables: espeak-ng reads it as such.
            language, text = "cmn-latn-pinyin", text.replace("v", "ü")
        t0 = time.process_time()
        res = visemic.animate(js.with_suffix(".wav"), text=text, language=language,
                              method=method)
        cpu += time.process_time() - t0
        d = res.audio.duration
        dur += d
        cues = res.animation.visemes["rhubarb"]
        t = ev.score_shapes(truth, cues, d)
        tally.add(t)
        lag = ev.best_lag(truth, cues, d)
        indicators.append(ev.open_indicators(truth, cues, d))
        c = ev.check_curves(truth, res.animation, d)
        curves.add(c)
        if with_text and meta.get("trust_tier") == "B":
            errs_b.extend(ev.boundary_errors(truth, res.timeline.phones).tolist())
        if verbose:
            rates = " ".join(f"{k[:4]}={t.rate(k):.2f}" if t.rate(k) is not None else
                             f"{k[:4]}=  - " for k in ev.CLASSES)
            print(f"  {js.stem:34s} macro={t.macro():.3f} lag={lag * 1000:+4.0f}ms {rates}",
                  file=sys.stderr)
    errs = np.array(errs_b)
    lag = ev.pooled_lag(indicators) if indicators else 0.0
    return {"tally": tally, "curves": curves, "lag": lag,
            "bounds": errs, "speed": dur / cpu if cpu else float("inf")}


def fmt(x: float | None) -> str:
    return "  -  " if x is None else f"{x:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lang", default="en", help="language code of the items to score")
    ap.add_argument("--method", default="phones",
                    help="recognition method without transcript (phones, the default, or words)")
    ap.add_argument("--items", nargs="*", help="item names (default: all of the language)")
    ap.add_argument("--only", choices=("text", "notext"), help="score one mode only")
    ap.add_argument("--verbose", "-v", action="store_true")
    args = ap.parse_args()
    if not EVAL.is_dir():
        sys.exit(f"error: {EVAL} not found (the shared development set)")
    items = sorted(EVAL.glob("*.json"))
    items = [p for p in items if item_language(json.loads(p.read_text())) == args.lang]
    if args.items:
        items = [p for p in items if p.stem in args.items]
    modes = [("with transcript", True), ("without transcript", False)]
    if args.only:
        modes = [m for m in modes if m[1] == (args.only == "text")]
    print(f"{len(items)} items, language {args.lang}")
    print(f"{'mode':20s} " + " ".join(f"{c[:8]:>8s}" for c in ev.CLASSES)
          + "    macro  lag(ms)  ×RT(cpu)")
    results = {}
    for label, with_text in modes:
        r = run(items, with_text, args.method, args.verbose)
        results[label] = r
        t = r["tally"]
        print(f"{label:20s} " + " ".join(f"{fmt(t.rate(c)):>8s}" for c in ev.CLASSES)
              + f"    {t.macro():.3f}  {r['lag'] * 1000:+6.0f}  {r['speed']:8.1f}")
    for label, r in results.items():
        c, e = r["curves"], r["bounds"]
        print(f"curves {label}: sealed {fmt(c.rate(c.sealed))}  open {fmt(c.rate(c.open))}  "
              f"rounded {fmt(c.rate(c.rounded))}  silent {fmt(c.rate(c.silent))}  "
              f"max jump {c.max_jump:.3f}")
        if len(e):
            print(f"boundaries {label} (tier B, {len(e)}): median {np.median(e) * 1000:.1f} ms, "
                  f"≤20 ms {np.mean(e <= 0.02):.3f}, ≤50 ms {np.mean(e <= 0.05):.3f}")


if __name__ == "__main__":
    main()
