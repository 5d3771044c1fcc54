"""``visemic profile``: learn one person's mouth from a video of them speaking (or a Live Link
Face capture with its audio) and write it as a profile for ``--profile``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

PROFILE_EPILOG = """\
The video's own audio is analysed (a transcript helps: --text or --text-file); the face is
tracked and the person's rest (lips closed or parted), opening per class of sound, mouth width
and rounding, and timing are fitted. A Live Link Face take (.csv, the ARKit curves the app
recorded) with its audio (--audio) is a second source. A profile needs a few seconds of speech
with the face visible; a minute gives a better one.

examples:
  visemic profile me_talking.mp4 -o me.profile.json
  visemic profile me_talking.mp4 --text-file what_i_said.txt -o me.profile.json
  visemic profile take.csv --audio take.wav -o me.profile.json
  visemic animate speech.wav --profile me.profile.json -o speech.mp4
"""


def add_profile(sub: Any) -> None:
    p = sub.add_parser(
        "profile", help="video of a person speaking -> their personal mouth profile",
        description="Learn one person's mouth motion from a video of them speaking, for "
                    "--profile on animate, say and stream.", epilog=PROFILE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("clip", metavar="CLIP",
                   help="video of the person speaking (their own voice), or a Live Link Face "
                        "CSV take with --audio")
    text = p.add_mutually_exclusive_group()
    text.add_argument("--text", metavar="T", help="transcript of what is said")
    text.add_argument("--text-file", metavar="F", help="read the transcript from a UTF-8 file")
    p.add_argument("--language", metavar="CODE", default="en",
                   help="language of the speech (default: en)")
    p.add_argument("--audio", metavar="FILE", help="the audio of a Live Link Face CSV take")
    p.add_argument("--face", type=int, metavar="N",
                   help="which face of the video to follow (0: the largest)")
    p.add_argument("--name", metavar="NAME", help="a name stored in the profile")
    p.add_argument("-o", "--output", metavar="OUT", required=True,
                   help="the profile to write (JSON, e.g. me.profile.json)")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary on stderr")
    p.set_defaults(run=run_profile)


def run_profile(args: argparse.Namespace) -> int:
    import visemic
    from visemic.commandline import UsageError, check_input, check_output_dir, read_transcript
    from visemic.motion import profile as profile_mod
    from visemic.outputs.atomic import write_text

    text = read_transcript(args.text, args.text_file)
    check_input(args.clip, "video or Live Link Face CSV")
    capture = args.clip.lower().endswith(".csv")
    if capture and args.audio is None:
        raise UsageError("a Live Link Face CSV take needs its audio: --audio FILE")
    if not capture and args.audio is not None:
        raise UsageError("--audio goes with a Live Link Face CSV take (a video has its own)")
    if capture and args.face is not None:
        raise UsageError("--face is for videos")
    if args.audio is not None:
        check_input(args.audio)
    check_output_dir(args.output)
    me = visemic.profile(args.clip, text=text, language=args.language, audio=args.audio,
                         face=args.face or 0, name=args.name or "")
    write_text(args.output, profile_mod.dumps(me))
    if not args.quiet:
        print(f"{args.output}: rest {me.rest}, lead {me.lead * 1000:+.0f} ms, learnt from "
              f"{me.measured.get('speech_seconds', 0):.1f} s of speech (fit r "
              f"{me.source.get('fit_r', float('nan')):.2f})", file=sys.stderr)
    return 0
