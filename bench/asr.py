"""No transcript: Whisper's words + visemic's alignment, against the transcript and the phone loop.

    python bench/asr.py [--skip-speed] [--minutes 2] [--verbose]

On ../shared/eval/speech, scored as DESIGN.md §4 (bench/accuracy.py's scoring):
- English: with the transcript, without it (Whisper tiny.en, ``--language en``), and the phone
  loop (``--recognizer phones``);
- other languages: without transcript *and* without ``--language`` (Whisper base detects it),
  against the phone loop told the language; the share of clips whose language was detected right;
- the word error rate of Whisper's text against the items' transcripts (character error rate
  for languages written without spaces; items whose transcript is pinyin are left out);
- speed on one core (CTranslate2 and OpenMP on one thread, the process pinned to one CPU where
  ``taskset`` exists) for a file of ``--minutes`` made of the English clips one after another:
  without transcript (Whisper), with it, and the phone loop; each in a fresh process, which also
  gives its peak memory (VmHWM), and Whisper's model load time is reported apart.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import EVAL, PINYIN, item_language, load_truth  # noqa: E402

import visemic  # noqa: E402
from visemic import evaluation as ev  # noqa: E402
from visemic.phonetics.text import normalize  # noqa: E402

SPACELESS = ("zh", "ja", "cmn", "yue")


def edit_distance(a: list[str], b: list[str]) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def units(text: str, language: str) -> list[str]:
    words = normalize(text, language)
    return [ch for w in words for ch in w] if language in SPACELESS else words


def score(items: list[Path], mode: str, verbose: bool) -> dict:
    """Run every item in ``mode`` (text, whisper, whisper-detect, phones) and score it."""
    tally = ev.Tally()
    detected = 0
    errors: dict[str, list[int]] = {}  # language → [edits, reference length]
    for js in items:
        meta, truth = load_truth(js)
        lang = item_language(meta)
        text = meta.get("transcript") or None
        kwargs: dict = {"language": lang}
        if mode == "text":
            if text is None:
                continue
            if PINYIN.fullmatch(text.strip()):
                kwargs["language"], text = "cmn-latn-pinyin", text.replace("v", "ü")
            kwargs["text"] = text
        elif mode == "phones":
            kwargs["method"] = "phones"
        elif mode == "whisper-detect":
            kwargs["language"] = None
        res = visemic.animate(js.with_suffix(".wav"), **kwargs)
        t = ev.score_shapes(truth, res.animation.visemes["rhubarb"], res.audio.duration)
        tally.add(t)
        asr = res.settings.get("asr")
        if asr is not None:
            detected += asr["detected_language"] == lang.split("-")[0]
            if text and not PINYIN.fullmatch(text.strip()):
                ref = units(text, lang)
                tally_lang = errors.setdefault(lang, [0, 0])
                tally_lang[0] += edit_distance(ref, units(asr["text"], lang))
                tally_lang[1] += len(ref)
        if verbose:
            heard = f" [{asr['detected_language']}] {asr['text']!r}" if asr else ""
            print(f"  {mode:14s} {js.stem:32s} macro={t.macro():.3f}{heard}", file=sys.stderr)
    wer = {lang: e / n for lang, (e, n) in errors.items() if n}
    return {"tally": tally, "wer": wer, "detected": detected, "n": len(items)}


SPEED = """
import json, resource, sys, time
import visemic
from visemic.phonetics import whisper
mode, wav, text = sys.argv[1], sys.argv[2], sys.argv[3]
load = 0.0
if mode == "whisper":
    t = time.perf_counter(); whisper.load("tiny.en"); load = time.perf_counter() - t
kw = {"text": text} if mode == "text" else {"method": "phones"} if mode == "phones" else {}
t0, w0 = time.process_time(), time.perf_counter()
res = visemic.animate(wav, language="en", **kw)
cpu, wall = time.process_time() - t0, time.perf_counter() - w0
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0]
print(json.dumps({"duration": res.audio.duration, "cpu": cpu, "wall": wall, "load": load,
                  "peak_mib": int(hwm.split()[1]) / 1024}))
"""


def long_file(items: list[Path], minutes: float, folder: Path) -> tuple[Path, str]:
    """The English clips one after another (0.4 s apart) until ``minutes`` long, and their
    transcripts joined."""
    from visemic import audio as audio_io
    from visemic.types import Audio

    clips, texts, total = [], [], 0.0
    while total < minutes * 60:
        for js in items:
            meta = json.loads(js.read_text())
            a = audio_io.load(js.with_suffix(".wav"))
            clips += [a.samples, np.zeros(int(0.4 * a.sample_rate), np.float32)]
            texts.append(meta["transcript"])
            total += a.duration + 0.4
            if total >= minutes * 60:
                break
    path = folder / "long.wav"
    audio_io.save_wav(Audio(np.concatenate(clips), audio_io.RATE), path)
    return path, " ".join(texts)


def speed(items: list[Path], minutes: float) -> None:
    env = dict(os.environ, VISEMIC_THREADS="1", OMP_NUM_THREADS="1")
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    with tempfile.TemporaryDirectory() as tmp:
        wav, text = long_file(items, minutes, Path(tmp))
        print(f"\nspeed, one core{' (taskset -c 0)' if pin else ''}: "
              f"{minutes:g}-minute file of the English clips")
        for mode, label in (("whisper", "without transcript (whisper)"),
                            ("text", "with transcript"), ("phones", "without (phone loop)")):
            out = subprocess.run([*pin, sys.executable, "-c", SPEED, mode, str(wav), text],
                                 capture_output=True, text=True, env=env, check=True).stdout
            r = json.loads(out)
            load = f", model load {r['load']:.2f} s" if r["load"] else ""
            print(f"  {label:30s} {r['duration'] / r['cpu']:6.1f}× real time (CPU), "
                  f"{r['duration'] / r['wall']:6.1f}× (wall); peak {r['peak_mib']:.0f} MiB{load}")


def fmt(x: float | None) -> str:
    return "  -  " if x is None else f"{x:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--eval", type=Path, default=EVAL, help=f"the set (default: {EVAL})")
    ap.add_argument("--verbose", "-v", action="store_true")
    args = ap.parse_args()
    if not args.eval.is_dir():
        sys.exit(f"error: {args.eval} not found (the shared development set)")
    items = sorted(args.eval.glob("*.json"))
    english = [p for p in items if item_language(json.loads(p.read_text())) == "en"]
    others = [p for p in items if p not in english]
    if not args.skip_accuracy:
        t0 = time.time()
        print(f"{len(english)} English items, {len(others)} others "
              f"({', '.join(sorted({item_language(json.loads(p.read_text())) for p in others}))})")
        print(f"{'':44s} " + " ".join(f"{c[:8]:>8s}" for c in ev.CLASSES) + "    macro")
        rows = [("English, with transcript", english, "text"),
                ("English, no transcript (whisper tiny.en)", english, "whisper"),
                ("English, no transcript (phone loop)", english, "phones"),
                ("others, no transcript, no --language", others, "whisper-detect"),
                ("others, no transcript (phone loop)", others, "phones")]
        for label, subset, mode in rows:
            r = score(subset, mode, args.verbose)
            t = r["tally"]
            print(f"{label:44s} " + " ".join(f"{fmt(t.rate(c)):>8s}" for c in ev.CLASSES)
                  + f"    {t.macro():.3f}")
            if r["wer"]:
                # zh: character error rate (Whisper writes traditional characters where the
                # transcripts are simplified, which counts as errors here).
                print(f"{'':44s} error rate of Whisper's text: " + ", ".join(
                    f"{lang} {'CER' if lang in SPACELESS else 'WER'} {w:.3f}"
                    for lang, w in sorted(r["wer"].items())))
            if mode == "whisper-detect":
                print(f"{'':44s} language detected right in {r['detected']} of {r['n']} clips")
        print(f"(accuracy runs took {time.time() - t0:.0f} s)")
    if not args.skip_speed:
        speed(english, args.minutes)


if __name__ == "__main__":
    main()
