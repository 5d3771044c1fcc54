"""Analysis speed (× real time, one core) and memory flatness (peak RSS, 1 vs 60 minutes).

    python bench/speed.py [--long-minutes 60] [--skip-memory]

Speech comes from espeak-ng (no files needed). Speed is CPU time on one thread, with and without
a transcript. Memory runs each length in a fresh process and reports its peak resident size.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("VISEMIC_THREADS", "1")  # Whisper's CTranslate2 threads

import numpy as np  # noqa: E402

TEXT = ("The quick brown fox jumps over the lazy dog. Peter Piper picked a peck of pickled "
        "peppers, while five wise owls watched from the old oak tree by the river.")


def speech() -> tuple[np.ndarray, int]:
    from visemic import audio as audio_io
    from visemic.phonetics import espeak

    a, _ = espeak.synthesize(TEXT)
    a16 = audio_io.load(a)
    return a16.samples, a16.sample_rate


def write_long(path: Path, minutes: float) -> None:
    """A WAV of ``minutes`` of speech with pauses, written chunk by chunk."""
    x, sr = speech()
    unit = np.concatenate([x, np.zeros(sr // 2, np.float32)])
    pcm = (np.clip(unit, -1, 1) * 32767).astype("<i2").tobytes()
    n = int(np.ceil(minutes * 60 * sr / len(unit)))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        for _ in range(n):
            w.writeframes(pcm)


def bench_speed() -> None:
    import visemic

    x, sr = speech()
    clip = np.concatenate([x, np.zeros(sr // 2, np.float32)] * 4)
    dur = len(clip) / sr
    text = " ".join([TEXT] * 4)
    visemic.animate(clip[: sr * 2], sample_rate=sr, language="en")  # warm up models
    for label, kw in (("with transcript", {"text": text}),
                      ("without (phones)", {"method": "phones"}),
                      ("without (words)", {"method": "words"}),
                      ("without (whisper)", {"language": "en"})):
        t0 = time.process_time()
        visemic.animate(clip, sample_rate=sr, **kw)
        cpu = time.process_time() - t0
        print(f"  {label:18s} {dur:5.1f} s audio, {cpu:5.2f} s CPU → {dur / cpu:6.1f}× real time")


def peak_rss(path: Path, text: bool) -> tuple[float, float]:
    code = ("import resource, sys, time, visemic; t=time.time(); "
            f"visemic.animate(sys.argv[1]{', text=open(sys.argv[2]).read()' if text else ''}); "
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]; "
            "print(int(hwm.split()[1]) / 1024, time.time() - t)")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        n = int(np.ceil(_seconds(path) / (len(speech()[0]) / 16000 + 0.5)))
        f.write(" ".join([TEXT] * n))
    out = subprocess.run([sys.executable, "-c", code, str(path), f.name], check=True,
                         capture_output=True, text=True).stdout.split()
    os.unlink(f.name)
    return float(out[0]), float(out[1])


def _seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def bench_g2p() -> None:
    """espeak-ng grapheme-to-phoneme time per word: a paragraph at once, and word by word."""
    from visemic.phonetics.espeak import phonemize

    text = " ".join(["the quick brown fox jumps over the lazy dog"] * 12)[:600]
    phonemize("warm up")
    t0 = time.process_time()
    words = phonemize(text)
    whole = time.process_time() - t0
    t0 = time.process_time()
    for w in text.split()[:50]:
        phonemize(w)
    single = (time.process_time() - t0) / 50
    print(f"  g2p {len(words)} words at once: {1000 * whole / len(words):.2f} ms/word; "
          f"one word per call: {1000 * single:.2f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--long-minutes", type=float, default=60.0)
    ap.add_argument("--skip-memory", action="store_true")
    args = ap.parse_args()
    print("speed (one core):")
    bench_speed()
    bench_g2p()
    if args.skip_memory:
        return
    print("peak memory (fresh process each):")
    with tempfile.TemporaryDirectory() as d:
        for minutes in (1.0, args.long_minutes):
            path = Path(d) / f"{minutes:g}min.wav"
            write_long(path, minutes)
            for text in (False, True):
                rss, wall = peak_rss(path, text)
                label = "with transcript" if text else "without"
                print(f"  {minutes:5g} min {label:16s} peak RSS {rss:7.1f} MiB  "
                      f"({minutes * 60 / wall:5.1f}× real time wall)")
    print(f"(this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB)")


if __name__ == "__main__":
    main()
