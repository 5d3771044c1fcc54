"""The built-in demo: synthesise a sentence, lip-sync it, and write every kind of output.

    python -m visemic.demo [OUTDIR]

No files of the user's are needed: espeak-ng speaks the text, then the normal pipeline aligns
the transcript to that audio (exactly as it would a recording) and writes the results.
"""

from __future__ import annotations

import sys
from pathlib import Path

import visemic
from visemic.audio import save_wav
from visemic.errors import VisemicError
from visemic.phonetics import espeak

TEXT = ("Hello! I'm visemic. Give me any voice line, and I'll move the lips, jaw and cheeks "
        "to match: bilabials, fricatives, and rounded vowels too.")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    outdir = Path(args[0] if args else "out")
    try:
        speech, _ = espeak.synthesize(TEXT, "en-us")
        wav = outdir / "demo.wav"
        save_wav(speech, wav)
        result = visemic.animate(wav, text=TEXT)
        written = [wav]
        for name in ("demo.json", "demo.csv", "demo.tsv", "demo.xml", "demo.dat"):
            written.append(result.save(outdir / name))
        try:
            written.append(result.save(outdir / "demo.mp4"))
        except VisemicError as exc:  # video needs the renderer; say so, keep the rest
            print(f"warning: no video: {exc}", file=sys.stderr)
    except VisemicError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    tl = result.timeline
    print(f"visemic {visemic.__version__}: {result.audio.duration:.1f} s of speech, "
          f"{len(tl.words)} words, {len(tl.phones)} phones, "
          f"{result.animation.frames} frames of {len(result.animation.channels)} channels")
    for path in written:
        print(f"  wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
