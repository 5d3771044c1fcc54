"""``visemic dub``: the command-line shell over :func:`visemic.dub`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

DUB_EPILOG = """\
AUDIO is the new speech (any audio or video file); without it the video's own audio is used
(re-syncing a clip). The output keeps the video's resolution and exact frame rate (29.97 and
variable rates included); outside the lower face its pixels are the video's own.

length: when AUDIO is longer than VIDEO, the video plays forward, then backward, then forward
again (ping-pong, no visible jump) until the speech ends; when AUDIO is shorter, the video is
trimmed where the speech ends.

pauses: in pauses of 300 ms or more the mouth rests and does not move. Frames where the face
is lost, too small, at a cut, or turned further than the mouths available pass through
unchanged (a warning counts them); profile views fade the edit out.

output (-o, by extension):
  OUT.mp4             H.264 CRF 18, yuv420p, AAC
  OUT.webm            VP9, Opus
  frames/%05d.png     PNG pictures numbered from 0 (no sound); the name needs a %d
  FOLDER/             PNG pictures 00000.png, 00001.png ... in FOLDER (so does an existing
                      folder given without the slash)
OUT is written only once the dub succeeded (never partly); it may not be VIDEO, AUDIO or the
--mouth-from clip itself.

examples:
  visemic dub talk.mp4 new_line.wav -o dubbed.mp4
  visemic dub talk.mp4 -o resynced.mp4                     # the clip's own audio
  visemic dub talk.mp4 line.wav --text "Welcome back." --mouth-from other_take.mp4 -o out.mp4
"""


def add_dub(sub: Any) -> None:
    from visemic.commandline import add_profile_option, face_number

    p = sub.add_parser(
        "dub", help="make the person in a video speak new audio (mouths from real frames)",
        description="Dub a video: the person's mouth, taken from real frames, speaks AUDIO; "
                    "nothing outside the lower face changes.",
        epilog=DUB_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("video", metavar="VIDEO", help="the video to dub")
    p.add_argument("audio", metavar="AUDIO", nargs="?",
                   help="the new speech (default: VIDEO's own audio)")
    text = p.add_mutually_exclusive_group()
    text.add_argument("--text", metavar="TEXT", help="transcript of the speech (aligned)")
    text.add_argument("--text-file", metavar="FILE", help="transcript from a UTF-8 text file")
    p.add_argument("--language", metavar="L",
                   help="language of the speech, an espeak-ng code (default: detected from "
                        "the speech; English without a transcript goes to Whisper tiny.en)")
    p.add_argument("--mouth-from", metavar="CLIP",
                   help="take the mouths from this clip of the person (default: VIDEO itself)")
    p.add_argument("--mouth-language", metavar="L",
                   help="language spoken in the mouths' clip (--mouth-from, or VIDEO's own "
                        "audio when AUDIO is new), when it is not the new speech's "
                        "(default: --language, or detected where none of it is heard there)")
    p.add_argument("--face", type=face_number, default=0, metavar="N",
                   help="which face to dub: 0 the largest where one is first found (default), "
                        "1 the next …")
    p.add_argument("--emotion", metavar="MIX",
                   help="emotion mix for the mouth, e.g. happy:0.5")
    add_profile_option(p)
    p.add_argument("-o", "--output", metavar="OUT", required=True,
                   help="OUT.mp4, OUT.webm or frames/%%05d.png")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(run=run_dub)


def run_dub(args: argparse.Namespace) -> int:
    import visemic
    from visemic.commandline import (
        check_input,
        check_output_dir,
        load_profile,
        read_transcript,
        warnings_held,
    )
    from visemic.progress import Progress

    check_input(args.video, "video file")
    if args.audio is not None:
        check_input(args.audio)
    if args.mouth_from is not None:
        check_input(args.mouth_from, "video file")
    check_output(args.output, {"VIDEO": args.video, "AUDIO": args.audio,
                               "the --mouth-from clip": args.mouth_from})
    check_output_dir(args.output)
    text = read_transcript(args.text, args.text_file)
    profile = load_profile(args.profile)
    emotion = None
    if args.emotion is not None:
        from visemic.motion.emotion import parse_mix

        emotion = parse_mix(args.emotion)
    bar = None if args.quiet else Progress("dubbing: tracking", stream=sys.stderr)
    try:
        # The plan's warnings wait for it to succeed: a failure says one line, its error.
        with warnings_held():
            plan = visemic.dub(args.video, args.audio, text=text, language=args.language,
                               mouth_from=args.mouth_from, mouth_language=args.mouth_language,
                               face=args.face, emotion=emotion, profile=profile,
                               progress=(lambda f: bar(0.3 * f)) if bar else None)
        saving = None
        if bar is not None:
            frames = plan.frames

            def saving(f: float) -> None:  # the bar counts the frames written
                bar.label = f"dubbing: frame {min(frames, round(f * frames))}/{frames}"
                bar(0.3 + 0.7 * f)

        plan.save(args.output, progress=saving)
    finally:
        if bar is not None:
            bar.close()
    return 0


def check_output(out: str, inputs: dict[str, str | None]) -> None:
    """Refuse, before any work, an OUT that is not a video path (saying what a frames pattern
    needs) or that is one of the inputs: the finished dub would replace the source."""
    from visemic.dub.encode import output_kind, refuse_inputs

    output_kind(out)
    refuse_inputs(out, inputs, label="-o ")
