"""``visemic batch``: the command-line shell over :func:`visemic.batch.run_batch`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

BATCH_EPILOG = """\
inputs:
  FOLDER             every audio file under it (.wav .flac .mp3 .ogg .opus .m4a ...), each with
                     an optional same-name .txt or .lab transcript; outputs keep the sub-folders
  MANIFEST.csv       header row, then one item per row; columns:
                       audio     (required) path relative to the CSV
                       text      transcript (empty: recognise the speech)
                       language  fps  method   per-item settings (empty: the options below)
                       output    name of the item's outputs inside OUTDIR (default: the audio
                                 path without its extension); must stay inside OUTDIR
                       video     a video of a person to dub with the item's audio (writes
                                 NAME.dub.mp4, see 'visemic dub')

outputs (per item NAME, one file per --format):
  json NAME.json   csv NAME.csv   rhubarb-tsv NAME.tsv   rhubarb-xml NAME.xml
  rhubarb-json NAME.rhubarb.json   rhubarb-dat NAME.dat   phones NAME.phones.json
  gltf NAME.gltf   glb NAME.glb   vrma NAME.vrma
  OUTDIR/manifest.csv   every item: status, files, content key
  OUTDIR/failures.csv   items that failed and why (the batch goes on without them)

Re-running the same command skips items whose outputs exist and were made from the same audio,
transcript and settings (content hash; outputs are checked against the journal in
OUTDIR/.visemic-batch). An interrupted run (Ctrl-C, kill -9) loses only the items in flight and
leaves no partial files. Failed items are tried again.

--ray auto connects to this machine's Ray cluster (RAY_ADDRESS or 'ray start'), or when there is
none starts a private local Ray instance for the run (--workers CPUs). Local and Ray runs write
identical files.

exit status: 0 every item done, 1 some items failed (see failures.csv), 2 bad command or inputs,
130 interrupted.

examples:
  visemic batch voice_lines/ -o lipsync/ --format json,rhubarb-tsv
  visemic batch lines.csv -o lipsync/ --workers 8
  visemic batch lines.csv -o lipsync/ --ray auto
"""


def add_batch(sub: Any) -> None:
    from visemic.commandline import fps, positive_int

    p = sub.add_parser(
        "batch", help="lip-sync a folder or CSV manifest of clips, resumably, locally or on Ray",
        description="Lip-sync many clips into a folder: in parallel, resumable, on this "
                    "machine's cores or a Ray cluster.",
        epilog=BATCH_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", metavar="INPUTS", help="folder of audio files, or a CSV manifest")
    p.add_argument("-o", "--output", metavar="OUTDIR", required=True,
                   help="folder for the outputs (created if missing)")
    p.add_argument("-f", "--format", metavar="F[,F...]", action="append",
                   help="output format(s), comma-separated or repeated (default: json)")
    p.add_argument("--workers", "-j", type=positive_int, metavar="N",
                   help="local worker processes (default: all cores); with --ray, the most "
                        "tasks at once")
    p.add_argument("--ray", metavar="ADDRESS|auto",
                   help="run on a Ray cluster at ADDRESS, or 'auto' (see below)")
    p.add_argument("--language", metavar="CODE",
                   help="language of items that do not set one (default: detected from the "
                        "speech of items without a transcript, else en)")
    p.add_argument("--fps", type=fps, default=60.0, metavar="N",
                   help="animation frame rate of items that do not set one (default: 60)")
    p.add_argument("--recognizer", "--method", dest="method",
                   choices=("whisper", "phones", "words"), default="whisper",
                   help="recognition for items without a transcript (default: whisper; one "
                        "CTranslate2 thread per worker)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress or summary on stderr")
    p.set_defaults(run=run_batch_command)


def run_batch_command(args: argparse.Namespace) -> int:
    from visemic.batch.runner import parse_formats, run_batch

    formats = parse_formats(",".join(args.format) if args.format else "json")
    report = run_batch(args.inputs, args.output, formats=formats, workers=args.workers,
                       ray=args.ray, language=args.language, fps=args.fps, method=args.method,
                       progress=not args.quiet)
    if not args.quiet:
        rate = (f" in {report.seconds:.1f} s, {report.clips_per_second:.2f} clips/s"
                f" ({report.backend})" if report.made else "")
        sys.stderr.write(f"batch: {report.total} items: {len(report.made)} made, "
                         f"{len(report.reused)} already done, {len(report.failed)} failed"
                         f"{rate}\n")
        if report.failed:
            sys.stderr.write(f"batch: failures and reasons in {report.failures}\n")
        sys.stderr.write(f"batch: manifest in {report.manifest}\n")
    return 1 if report.failed else 0
