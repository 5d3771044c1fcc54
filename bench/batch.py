"""Batch throughput: clips per second with 1 and 2 local workers and on a local Ray instance.

    python bench/batch.py [--clips 500] [--seconds 5] [--cache DIR] [--skip-ray]

Clips (~5 s of espeak-ng speech each, with their transcripts) are generated once and cached in
``--cache`` (default: a folder in the system temp dir). Each configuration writes JSON into a
fresh folder; the time is the whole ``run_batch`` call (worker start-up included), and
× real time is seconds of audio per second of wall time. The Ray run's files are checked to be
byte-identical to the local ones.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Peter Piper picked a peck of pickled peppers.",
    "Five wise owls watched from the old oak tree.",
    "Move the boat a bit further up the river.",
    "We found the violin in a box under the stairs.",
    "Please bring me two cups of coffee and a muffin.",
    "Who would row a boat so far in the fog?",
    "Open the window, it is warm in here today.",
    "Go forward ten meters and then turn left.",
    "Mom bought five blue boxes at the market.",
]


def make_clips(folder: Path, count: int, seconds: float) -> float:
    """``count`` WAV clips of about ``seconds`` each with .txt transcripts; total audio seconds."""
    from visemic.phonetics import espeak

    folder.mkdir(parents=True, exist_ok=True)
    total = 0.0
    rng = np.random.default_rng(0)
    for i in range(count):
        wav = folder / f"clip{i:05d}.wav"
        if wav.exists() and wav.with_suffix(".txt").exists():
            with wave.open(str(wav)) as w:
                total += w.getnframes() / w.getframerate()
            continue
        words: list[str] = []
        audio = None
        # Whole sentences (~2.5 s each) until the clip is within a second of the target.
        while audio is None or len(audio.samples) / audio.sample_rate < seconds - 1.0:
            words.append(SENTENCES[int(rng.integers(len(SENTENCES)))])
            audio, _ = espeak.synthesize(" ".join(words), "en-us")
        text = " ".join(words)
        tmp = wav.with_name(f".{wav.name}.tmp")
        with wave.open(str(tmp), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(audio.sample_rate)
            w.writeframes((np.clip(audio.samples, -1, 1) * 32767).astype("<i2").tobytes())
        wav.with_suffix(".txt").write_text(text, encoding="utf-8")
        os.replace(tmp, wav)
        total += len(audio.samples) / audio.sample_rate
    return total


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.glob("*.json")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each clip")
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "visemic-bench-batch")
    parser.add_argument("--skip-ray", action="store_true")
    args = parser.parse_args()

    from visemic.batch import run_batch

    clips = args.cache / f"clips-{args.clips}x{args.seconds:g}s"
    t = time.perf_counter()
    audio = make_clips(clips, args.clips, args.seconds)
    print(f"{args.clips} clips, {audio:.0f} s of speech ({audio / args.clips:.1f} s each, "
          f"with transcripts) in {clips} [{time.perf_counter() - t:.0f} s to prepare]")
    print(f"{'configuration':<28} {'wall s':>8} {'clips/s':>8} {'x real time':>12}")
    outputs: dict[str, dict[str, bytes]] = {}
    runs = [("1 local worker", {"workers": 1}), ("2 local workers", {"workers": 2})]
    if not args.skip_ray:
        os.environ.pop("RAY_ADDRESS", None)  # "auto" must start a private local instance
        runs.append(("local Ray instance (2 CPUs)", {"workers": 2, "ray": "auto"}))
    for label, kwargs in runs:
        out = Path(tempfile.mkdtemp(prefix="visemic-bench-batch-out-"))
        try:
            t = time.perf_counter()
            report = run_batch(clips, out, formats="json", **kwargs)
            wall = time.perf_counter() - t
            if report.failed:
                print(f"  {len(report.failed)} failed, e.g. {report.failed[0]}", file=sys.stderr)
            print(f"{label:<28} {wall:8.1f} {len(report.made) / wall:8.2f} "
                  f"{report.audio_seconds / wall:11.1f}x")
            outputs[label] = files(out)
        finally:
            shutil.rmtree(out, ignore_errors=True)
    first = next(iter(outputs.values()))
    same = all(o == first for o in outputs.values())
    print(f"outputs identical across configurations: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
