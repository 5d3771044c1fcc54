"""``visemic sync-check``: the command-line shell over :func:`visemic.sync_check`."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_OVER, EXIT_ERROR = 0, 1, 2

SYNC_EPILOG = """\
what it says:
  one line on stdout, e.g.
    picture 80 ms late (confidence 0.90) — audio should be delayed by 80 ms
  and a "warning: ..." line on stderr for each thing that lowers the confidence (no face for
  much of the time, weak lip motion, windows that disagree). Sign: offset_ms > 0 means the
  picture is late (the lips move after the sound); delaying the audio by offset_ms fixes it.

--json OUT.json (or - for stdout):
  {"offset_ms", "confidence" (0-1), "frames_used", "segments": [{"start", "end", "offset_ms",
  "confidence"}], "drift_ms_per_min", "warnings"}; offset_ms is null when the evidence is too
  weak to give a number, drift_ms_per_min null for clips shorter than about 14 s.

--fix FIXED.mp4
  copies the picture untouched (no re-encode) with the audio shifted by the measured offset,
  or by --shift MS (then nothing is measured unless --json, --plot or --max-offset ask for it).

a folder instead of VIDEO:
  checks every video under it (in parallel, --workers) and writes one CSV row per video to
  --report REPORT.csv: video, offset_ms, confidence, frames_used, drift_ms_per_min, status
  (ok, over, unknown, error), message.

exit status: 0 measured (and within --max-offset), 1 |offset| over --max-offset (or no offset
could be measured while --max-offset asks for one; in a folder: any video over, unknown or
failed), 2 error (bad input: no face, no audio, too little speech, unreadable file).

examples:
  visemic sync-check talk.mp4
  visemic sync-check talk.mp4 --json sync.json --plot sync.png
  visemic sync-check dubbed.mp4 --max-offset 45 --quiet || echo "out of sync"
  visemic sync-check talk.mp4 --fix fixed.mp4
  visemic sync-check talk.mp4 --shift 120 --fix fixed.mp4
  visemic sync-check picture.mp4 --audio dub.wav --text-file dub.txt
  visemic sync-check videos/ --report sync.csv --max-offset 45
"""


def _ms(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of milliseconds: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def add_sync_check(sub: Any) -> None:
    from visemic.commandline import face_number, positive_int

    p = sub.add_parser(
        "sync-check", help="measure (and fix) the audio/video offset of a talking-face video",
        description="Measure the offset between the sound and the lips of a talking-face "
                    "video: the lips tracked in every frame against the mouth opening "
                    "visemic expects from the speech.",
        epilog=SYNC_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("video", metavar="VIDEO", help="the video (or a folder of videos)")
    p.add_argument("--audio", metavar="FILE",
                   help="the speech to check against (default: the video's own audio track)")
    text = p.add_mutually_exclusive_group()
    text.add_argument("--text", metavar="TEXT", help="transcript of the speech (optional)")
    text.add_argument("--text-file", metavar="FILE", help="read the transcript from FILE")
    p.add_argument("--language", metavar="CODE", default="en",
                   help="language of the speech (default: en)")
    p.add_argument("--face", type=face_number, default=0, metavar="N",
                   help="which face speaks: 0 the largest where a face is first seen")
    p.add_argument("--json", metavar="OUT.json", help="write the measurement as JSON (- stdout)")
    p.add_argument("--plot", metavar="OUT.png",
                   help="draw the correlation curve and the offset per window")
    p.add_argument("--fix", metavar="FIXED.mp4",
                   help="write the video with its audio shifted into sync (picture copied)")
    p.add_argument("--shift", type=_ms, metavar="MS",
                   help="with --fix: delay the audio by MS (negative: advance) instead of the "
                        "measured offset")
    p.add_argument("--max-offset", type=_ms, metavar="MS",
                   help="exit status 1 when |offset| is over MS (a gate for pipelines)")
    p.add_argument("--report", metavar="REPORT.csv",
                   help="for a folder of videos: the CSV report to write")
    p.add_argument("--workers", "-j", type=positive_int, metavar="N",
                   help="for a folder: videos checked at once (default: all cores)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="print nothing (the exit status and the files say it all)")
    p.set_defaults(run=run_sync_check)


def run_sync_check(args: argparse.Namespace) -> int:
    from visemic.commandline import UsageError, check_output_dir, read_transcript
    from visemic.errors import VisemicError

    if Path(args.video).is_dir():
        return _run_folder(args)
    if args.report is not None:
        raise UsageError("--report is for a folder of videos")
    if args.shift is not None and args.fix is None:
        raise UsageError("--shift goes with --fix FIXED.mp4")
    if args.face < 0:
        raise UsageError(f"--face must be 0 or more, got {args.face}")
    if not Path(args.video).exists():
        raise VisemicError(f"{args.video}: no such file")
    if args.audio is not None and not Path(args.audio).exists():
        raise VisemicError(f"{args.audio}: no such file (--audio)")
    for out in (args.json, args.plot, args.fix):
        if out is not None and out != "-":
            check_output_dir(out)
    if args.plot == "-":
        raise UsageError("--plot needs a file name")
    text = read_transcript(args.text, args.text_file)
    measure = args.shift is None or args.json or args.plot or args.max_offset is not None
    report = _measure(args, text) if measure else None
    status = EXIT_OK
    if report is not None:
        _tell(args, report)
        if args.max_offset is not None and (report.offset_ms is None
                                            or abs(report.offset_ms) > args.max_offset):
            status = EXIT_OVER
    if args.fix is not None:
        from visemic.sync.fix import shift_audio

        shift = args.shift
        if shift is None:
            if report is None or report.offset_ms is None:
                raise VisemicError("cannot fix: the offset could not be measured; give it by "
                                   "hand with --shift MS")
            shift = report.offset_ms
        shift_audio(args.video, args.fix, shift, audio=args.audio)
        if not args.quiet:
            sys.stderr.write(f"wrote {args.fix} (audio {'delayed' if shift >= 0 else 'advanced'}"
                             f" by {abs(shift):.0f} ms, picture copied)\n")
    return status


def _measure(args: argparse.Namespace, text: str | None) -> Any:
    from visemic.commandline import checked, stop_if_signalled
    from visemic.progress import Progress
    from visemic.sync.measure import sync_check

    bar = Progress("sync-check", tty=None) if not args.quiet and sys.stderr.isatty() else None
    try:
        report = sync_check(args.video, args.audio, text=text, language=args.language,
                            face=args.face, progress=checked(bar))
    finally:
        if bar is not None:
            bar.close()
    stop_if_signalled()
    if args.json is not None:
        doc = json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n"
        if args.json == "-":
            sys.stdout.write(doc)
        else:
            from visemic.outputs.atomic import write_text

            write_text(args.json, doc)
    if args.plot is not None:
        from visemic.sync.plot import plot

        plot(report, args.plot)
    return report


def _tell(args: argparse.Namespace, report: Any) -> None:
    if args.quiet:
        return
    for warning in report.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    line = report.summary()
    if args.max_offset is not None:
        over = report.offset_ms is None or abs(report.offset_ms) > args.max_offset
        line += f" [{'over' if over else 'within'} ±{args.max_offset:.0f} ms]"
    # With --json - the JSON owns stdout; the summary goes to stderr.
    stream = sys.stderr if args.json == "-" else sys.stdout
    stream.write(line + "\n")
    stream.flush()


def _run_folder(args: argparse.Namespace) -> int:
    from visemic.commandline import UsageError, check_output_dir
    from visemic.sync.folder import check_folder

    if args.report is None:
        raise UsageError("a folder of videos needs --report REPORT.csv")
    for flag in ("audio", "text", "text_file", "json", "plot", "fix", "shift"):
        if getattr(args, flag) is not None:
            raise UsageError(f"--{flag.replace('_', '-')} is for one video, not a folder")
    check_output_dir(args.report)

    def show(row: dict[str, Any]) -> None:
        if not args.quiet:
            value = (f"{row['offset_ms']:+.0f} ms (confidence {row['confidence']:.2f})"
                     if row["offset_ms"] != "" else row["message"] or "offset unknown")
            sys.stderr.write(f"{row['status']:7s} {row['video']}: {value}\n")

    report = check_folder(args.video, args.report, language=args.language, face=args.face,
                          max_offset=args.max_offset, workers=args.workers, on_row=show)
    if not args.quiet:
        sys.stderr.write(f"sync-check: {len(report.rows)} videos, {report.failed} failed, "
                         f"{report.over} over the limit or unknown; report in {report.path}\n")
    return EXIT_OVER if report.failed or report.over else EXIT_OK
