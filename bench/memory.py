"""Peak memory of an analysis (issue 22: flat, at most 250 MB, for any length).

    python bench/memory.py [--seconds 10 60 175 600] [--hour]

Each length runs in a fresh process: ``visemic.animate`` on a WAV of espeak-ng speech with
pauses, with and without its transcript, then a JSON export. Without one, Whisper recognises the
words: with ``--language en`` given (the English model, tiny.en) and with the language detected
(the multilingual model, base). Printed per run: the process's
peak resident size (VmHWM), its size after importing visemic and its models (the baseline every
run pays), and the wall time. Files up to 180 s are analysed whole (175 s: the most held at
once), longer ones segment by segment. ``--hour`` adds a 1-hour file (tens of minutes: Whisper
and the aligner over an hour of speech). Figures measured while other work shares the machine
are lower bounds on speed, not on memory.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

TEXT = ("The quick brown fox jumps over the lazy dog. Peter Piper picked a peck of pickled "
        "peppers, while five wise owls watched from the old oak tree by the river.")

_CHILD = """
import sys, time
def hwm(key):
    return [int(l.split()[1]) / 1024 for l in open('/proc/self/status') if l.startswith(key)][0]
import visemic, visemic.api, visemic.phonetics.align, visemic.phonetics.recognize
import visemic.motion.expression, visemic.outputs.formats
base = hwm('VmRSS:')
t = time.time()
text = open(sys.argv[2]).read() if sys.argv[2] != '-' else None
result = visemic.animate(sys.argv[1], text=text, language=sys.argv[3] or None)
result.save(sys.argv[1] + '.json')
print(hwm('VmHWM:'), base, time.time() - t)
"""


def write_speech(path: Path, seconds: float) -> str:
    """A WAV of ``seconds`` of speech with half-second pauses; returns its transcript."""
    from visemic import audio as audio_io
    from visemic.phonetics import espeak

    a, _ = espeak.synthesize(TEXT)
    x = audio_io.load(a).samples
    unit = np.concatenate([x, np.zeros(8000, np.float32)])
    n = max(1, int(round(seconds * 16000 / len(unit))))
    pcm = (np.clip(unit, -1, 1) * 32767).astype("<i2").tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        for _ in range(n):
            w.writeframes(pcm)
    return " ".join([TEXT] * n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, nargs="+", default=[10, 60, 175, 600])
    ap.add_argument("--hour", action="store_true", help="also a 1-hour file (slow)")
    ap.add_argument("--transcript", choices=("both", "yes", "no"), default="both",
                    help="run with the transcript, without (Whisper), or both")
    ap.add_argument("--whisper", choices=("both", "en", "detect"), default="both",
                    help="without a transcript: the language given (en: tiny.en), detected "
                    "(base), or both")
    args = ap.parse_args()
    if args.hour:
        args.seconds.append(3600)
    runs = {"both": [("yes", "en")], "yes": [("yes", "en")], "no": []}[args.transcript]
    if args.transcript != "yes":
        runs += [("no", lang) for lang in {"both": ("en", ""), "en": ("en",),
                                            "detect": ("",)}[args.whisper]]
    print(f"{'length':>8} {'transcript':>10} {'language':>9} {'peak RSS':>9} {'baseline':>9} "
          f"{'wall':>7}")
    worst = 0.0
    with tempfile.TemporaryDirectory() as d:
        for seconds in args.seconds:
            path = Path(d) / f"{seconds:g}s.wav"
            text = write_speech(path, seconds)
            transcript = Path(d) / f"{seconds:g}s.txt"
            transcript.write_text(text)
            for given, language in runs:
                out = subprocess.run([sys.executable, "-c", _CHILD, str(path),
                                      str(transcript) if given == "yes" else "-", language],
                                     check=True, capture_output=True, text=True).stdout.split()
                peak, base, wall = (float(v) for v in out[-3:])
                worst = max(worst, peak)
                shown = language or ("detected" if given == "no" else "en")
                print(f"{seconds:7g}s {given:>10} {shown:>9} {peak:7.0f} MB {base:7.0f} MB "
                      f"{wall:6.1f}s", flush=True)
    print(f"worst peak {worst:.0f} MB (target: at most 250 MB)")


if __name__ == "__main__":
    main()
