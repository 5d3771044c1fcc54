"""The ``visemic`` command line (DESIGN.md §2): a thin shell over :func:`visemic.animate`.

Every failure is one line ``error: …`` on stderr and exit status 2 (bad flags included); Ctrl-C
exits 130 (SIGTERM 143). Nothing is left half-written: outputs are written to a temporary name
and renamed.

Each subcommand is one ``add_<name>(subparsers)`` function that registers its parser and sets
``run``; :data:`COMMANDS` lists them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import visemic
from visemic.batch.command import add_batch
from visemic.commandline import (
    Parser,
    Terminated,
    UsageError,
    add_profile_option,
    check_input,
    check_output_dir,
    checked,
    face_number,
    handle_signals,
    load_profile,
    read_transcript,
    show_warnings,
    stop_if_signalled,
)
from visemic.commandline import fps as fps_type
from visemic.commandline import size as size_type
from visemic.dub.command import add_dub
from visemic.errors import NoFaceError, VisemicError
from visemic.integrations.addon import add_blender_addon
from visemic.outputs.video import DEFAULT_VIDEO_FPS as VIDEO_FPS
from visemic.outputs.video import MAX_VIDEO_FPS
from visemic.profile_cli import add_profile
from visemic.server.command import add_serve
from visemic.stream.command import add_stream
from visemic.sync.command import add_sync_check

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM
# Curves' frame rate when --fps is not given (video has its own default, 30).
ANIMATION_FPS = 60.0
# Longer audio gets a progress display on stderr even when it is not a terminal.
PROGRESS_SECONDS = 20.0


# ---------------------------------------------------------------------------------------------
# visemic animate


ANIMATE_EPILOG = """\
output:
  -o FILE            format from the extension: .json (full result), .csv (Live Link Face),
                     .tsv .xml .dat (Rhubarb Lip Sync), .gltf .glb (glTF 2.0 animation),
                     .mp4 .webm, DIR/ or frames/%05d.png
                     (video); --format overrides the extension
  --format F         without -o (or with -o -) the result goes to stdout (text formats only)
  neither            is an error: visemic never guesses where a result should go

formats: {formats}

--fps sets the curves' frame rate (default 60) and, for video, the video's (default 30, at
most 240).

Without --text the words are recognised with Whisper (models installed with visemic, nothing
is downloaded), the language detected unless --language is given, and then aligned like a
transcript; where no words are heard the phone loop stands in ("warning:" on stderr).

Progress is shown on stderr when it is a terminal or the audio is longer than 20 s (--quiet
silences it). Errors: one line "error: ..." on stderr, exit status 2; Ctrl-C exits 130. Output
files appear complete or not at all.

examples:
  visemic animate speech.wav --text "Go forward ten meters." -o speech.json
  visemic animate speech.wav -o speech.tsv
  visemic animate interview.wav --language en -o interview.srt
  visemic animate speech.wav --format rhubarb-json > cues.json
  visemic animate speech.wav -o talk.mp4 --size 720x720
"""

VIDEO_OPTIONS = ("size", "avatar", "background", "sprites", "transparent", "portrait",
                 "landmarks", "face", "mouth_from")


def _format_list() -> str:
    """Every format ``--format`` takes, wrapped for the help text (from the exporters' table,
    so a new format is listed without editing this file)."""
    import textwrap

    from visemic.outputs import formats

    return "\n         ".join(textwrap.wrap(", ".join(formats.format_names()), 88))


def add_animate(sub: Any) -> None:
    p = sub.add_parser(
        "animate", help="speech audio -> curves, visemes, exports or video",
        description="Analyse speech and write ARKit-52 curves, viseme tracks, Rhubarb cues "
                    "or a video.",
        epilog=ANIMATE_EPILOG.format(formats=_format_list()),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_speech_options(p)
    _add_output_options(p)
    _add_expression_options(p)
    _add_video_options(p)
    p.set_defaults(run=run_animate)


def _add_speech_options(p: argparse.ArgumentParser) -> None:
    """The audio and what is known of it: transcript or alignment, language."""
    p.add_argument("audio", metavar="AUDIO", help="speech audio (any format ffmpeg decodes)")
    text = p.add_mutually_exclusive_group()
    text.add_argument("--text", metavar="T", help="transcript, force-aligned to the speech")
    text.add_argument("--text-file", metavar="F", help="read the transcript from a UTF-8 file")
    text.add_argument("--alignment", metavar="F",
                      help="use this word/phone alignment (Praat TextGrid, CTM or JSON, e.g. "
                           "from MFA, WhisperX or a TTS engine) instead of analysing the speech")
    p.add_argument("--language", metavar="CODE",
                   help="language of the speech, an espeak-ng code such as en, fr, de, "
                        "cmn, es-419 (default: detected from the speech when there is no "
                        "transcript, else en)")
    rec = p.add_argument_group("without a transcript")
    rec.add_argument("--recognizer", "--method", dest="method",
                     choices=("whisper", "phones", "words"),
                     help="whisper (default): Whisper's words, aligned like a transcript; "
                          "phones: pocketsphinx's phone loop (fast, vocabulary-free); "
                          "words: pocketsphinx's English word recogniser")
    rec.add_argument("--asr-model", metavar="M",
                     help="Whisper model: tiny.en (English), base (multilingual) or a folder "
                          "holding a CTranslate2 Whisper model (default: tiny.en for "
                          "--language en, else base)")


def _add_output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", metavar="OUT", help="output file ('-' for stdout)")
    p.add_argument("-f", "--format", metavar="F", help="output format (see below)")
    p.add_argument("--fps", type=fps_type, metavar="N",
                   help=f"animation frame rate (default: {ANIMATION_FPS:g}); also the video's "
                        f"(default: {VIDEO_FPS:g}, at most {MAX_VIDEO_FPS:g})")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")


def _add_expression_options(p: argparse.ArgumentParser) -> None:
    from visemic.motion.emotion_poses import EMOTIONS
    from visemic.motion.style import PRESETS

    ex = p.add_argument_group("expression (emotion, style, eyes, head)")
    emo = ex.add_mutually_exclusive_group()
    emo.add_argument("--emotion", metavar="MIX",
                     help=f"emotion mix such as happy:0.6,surprised:0.3 (intensities 0-1; "
                          f"{', '.join(EMOTIONS)})")
    emo.add_argument("--emotion-track", metavar="FILE",
                     help="emotion keyframes over time: JSON {\"keyframes\": [{\"time\": 0, "
                          "\"emotion\": \"happy:0.8\"}, ...]} or CSV time,emotion "
                          "(or time,happy,sad,...); the mix eases between keyframes")
    ex.add_argument("--style", metavar="NAME",
                    help=f"speaking style preset ({', '.join(PRESETS)}), optionally with "
                         "overrides: clear,jaw=1.2 (articulation, jaw, lips, emphasis, head)")
    ex.add_argument("--blink-rate", type=float, metavar="PER_MIN",
                    help="blinks per minute (default 17; 0 = no blinks)")
    ex.add_argument("--head-motion", type=float, metavar="SCALE",
                    help="scale of head motion, 0-3 (default 1)")
    ex.add_argument("--still", action="store_true", help="head and gaze fixed")
    ex.add_argument("--seed", type=int, metavar="N",
                    help="seed for blinks, gaze and head motion (default 0)")
    add_profile_option(ex)


def _expression_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    from visemic.motion import emotion

    kwargs: dict[str, Any] = {"style": args.style, "blink_rate": args.blink_rate,
                              "head_motion": args.head_motion, "still": args.still,
                              "seed": args.seed, "profile": load_profile(args.profile)}
    if args.emotion_track is not None:
        kwargs["emotion"] = emotion.load_track(args.emotion_track)
    elif args.emotion is not None:
        kwargs["emotion"] = emotion.parse_mix(args.emotion)
    return kwargs


def _add_video_options(p: argparse.ArgumentParser) -> None:
    video = p.add_argument_group("video options (mp4, webm, png)")
    video.add_argument("--size", type=size_type, metavar="WxH", help="frame size (default 512x512)")
    video.add_argument("--avatar", metavar="LOOK", help="built-in avatar look")
    video.add_argument("--background", metavar="COLOR", help="background colour")
    video.add_argument("--sprites", metavar="DIR",
                       help="folder of mouth sprites A.png ... X.png (sprite mode)")
    video.add_argument("--transparent", action="store_true", default=None,
                       help="transparent background (webm or png only)")
    video.add_argument("--portrait", metavar="IMAGE",
                       help="animate the face in this photo, painting or drawing (video size: "
                            "the image's, at most 1080 on the long side)")
    video.add_argument("--landmarks", metavar="FILE",
                       help="the portrait's face landmarks (JSON list of [x, y] in image "
                            "pixels, 468 or 478 points in MediaPipe Face Mesh order) instead "
                            "of detecting them")
    video.add_argument("--face", type=face_number, metavar="N",
                       help="which face of the portrait to animate (0: the largest)")
    video.add_argument("--mouth-from", metavar="CLIP",
                       help="with --portrait: show the mouth of a video of the same person "
                            "speaking (its teeth, tongue and lips, as visemic dub does) instead "
                            "of a painted one")


def _video_options(args: argparse.Namespace) -> dict[str, Any]:
    opts = {name: getattr(args, name) for name in VIDEO_OPTIONS
            if getattr(args, name) is not None}
    if "avatar" in opts:
        opts["look"] = opts.pop("avatar")
    if ("landmarks" in opts or "face" in opts) and "portrait" not in opts:
        raise UsageError("--landmarks and --face go with --portrait IMAGE")
    if "mouth_from" in opts and "portrait" not in opts:
        raise UsageError("--mouth-from goes with --portrait IMAGE (for a video, use visemic dub)")
    for name in ("portrait", "landmarks", "mouth_from"):  # fail before the analysis
        if name in opts and not Path(opts[name]).is_file():
            raise VisemicError(f"{opts[name]}: no such file (--{name.replace('_', '-')})")
    return opts


def _want_progress(args: argparse.Namespace, audio_path: str) -> bool:
    if args.quiet:
        return False
    if sys.stderr.isatty():
        return True
    from visemic.audio import probe_duration

    try:
        duration = probe_duration(audio_path)
    except Exception:  # a file that does not probe is reported by the analysis itself
        return False
    return duration is not None and duration > PROGRESS_SECONDS


def _output_target(args: argparse.Namespace, command: str) -> tuple[str, str]:
    """The output path (or stdout) and its format, checked before any work is done."""
    from visemic.outputs import formats

    out = args.output
    if out is None and args.format is None:
        raise UsageError("no output given: use -o FILE (format from its extension) or "
                         f"--format F to write to stdout (see 'visemic {command} --help')")
    target = out if out is not None else formats.STDOUT
    fmt = formats.resolve_format(target, args.format)
    options = _video_options(args)
    if options and not formats.is_video(fmt):
        flags = ", ".join("--" + ("avatar" if k == "look" else k) for k in options)
        raise UsageError(f"{flags}: for video output only (mp4, webm, png), not {fmt}")
    if formats.is_video(fmt) and args.fps is not None and args.fps > MAX_VIDEO_FPS:
        raise UsageError(f"--fps {args.fps:g}: video frame rates go up to {MAX_VIDEO_FPS:g}")
    if formats.is_video(fmt) and target == formats.STDOUT:
        raise VisemicError(f"{fmt} video cannot go to stdout; give -o FILE")
    if target != formats.STDOUT:
        check_output_dir(target)
    return target, fmt


def run_animate(args: argparse.Namespace) -> int:
    target, _ = _output_target(args, "animate")
    kwargs: dict[str, Any] = {"fps": args.fps or ANIMATION_FPS, **_expression_kwargs(args)}
    result, show = _analyse(args, **kwargs)
    _save(result, args, target, show)
    return 0


def _analyse(args: argparse.Namespace, **kwargs: Any) -> tuple[Any, bool]:
    """Check the speech options, run :func:`visemic.animate` with a progress display where
    wanted; returns the result and whether progress is being shown."""
    from visemic.progress import Progress

    text = read_transcript(args.text, args.text_file)
    check_input(args.audio)
    if args.alignment is not None:
        check_input(args.alignment)
    if args.method is not None:
        kwargs["method"] = args.method
    if args.asr_model is not None:
        if args.method not in (None, "whisper"):
            raise UsageError(f"--asr-model goes with --recognizer whisper, not {args.method}")
        kwargs["asr_model"] = args.asr_model
    show = _want_progress(args, args.audio)
    bar = Progress("analysing", tty=None) if show else None
    try:
        result = visemic.animate(args.audio, text=text, language=args.language,
                                 alignment=args.alignment, progress=checked(bar), **kwargs)
    finally:
        if bar is not None:
            bar.close()
    stop_if_signalled()
    return result, show


def _save(result: Any, args: argparse.Namespace, target: str, show: bool) -> None:
    """Write ``result`` to ``target`` (a file or stdout) with the video options given."""
    from visemic.outputs import formats
    from visemic.progress import Progress

    options = _video_options(args)
    video = formats.is_video(formats.resolve_format(target, args.format))
    if video and args.fps is not None:  # an explicit --fps is the video's rate too
        options["fps"] = args.fps
    if video and show:
        render_bar = Progress("rendering")
        options["progress"] = checked(render_bar)
    else:
        render_bar = None
    try:
        formats.save(result, target, format=args.format, **options)
    except NoFaceError as e:
        raise VisemicError(f"{e}; give its landmarks with --landmarks FILE (JSON list of [x, y] "
                           "in image pixels, 468 or 478 points in MediaPipe Face Mesh order)"
                           ) from None
    finally:
        if render_bar is not None:
            render_bar.close()


# ---------------------------------------------------------------------------------------------
# visemic say


SAY_EPILOG = """\
espeak-ng speaks the text and reports each phone as it speaks it, so the timeline is exact (no
alignment step). Output formats as for 'visemic animate'; video has the speech muxed in.

examples:
  visemic say "Hello there, how are you?" -o hello.mp4
  visemic say "Bonjour tout le monde." --language fr -o bonjour.json --wav bonjour.wav
  visemic say --text-file line.txt --voice f3 --rate 150 -o line.tsv
  visemic say "Get out of my room." --emotion angry:0.9 --seed 3 -o angry.mp4
  visemic languages        # the language codes espeak-ng knows
"""


def add_say(sub: Any) -> None:
    p = sub.add_parser(
        "say", help="text -> synthesised speech + its animation (any language)",
        description="Speak text with espeak-ng and animate it from the synthesiser's own phone "
                    "timings.", epilog=SAY_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    text = p.add_mutually_exclusive_group()
    text.add_argument("text", metavar="TEXT", nargs="?", help="what to say")
    text.add_argument("--text-file", metavar="F", help="read the text from a UTF-8 file")
    p.add_argument("--language", metavar="CODE", default="en",
                   help="espeak-ng language code (default: en; see 'visemic languages')")
    p.add_argument("--voice", metavar="V", help="espeak-ng voice variant, e.g. f3, m2, klatt")
    p.add_argument("--rate", type=int, metavar="WPM", help="speaking rate, words per minute "
                   "(80-450, default 175)")
    p.add_argument("--wav", metavar="FILE", help="also write the synthesised speech as WAV")
    _add_output_options(p)
    _add_expression_options(p)
    _add_video_options(p)
    p.set_defaults(run=run_say)


def run_say(args: argparse.Namespace) -> int:
    from visemic.audio import save_wav

    target, _ = _output_target(args, "say")
    if args.text_file is None and args.text is None:
        raise UsageError("nothing to say: give TEXT or --text-file F")
    text = read_transcript(args.text, args.text_file)
    if args.wav is not None:
        check_output_dir(args.wav)
    result = visemic.say(text or "", language=args.language, voice=args.voice, rate=args.rate,
                         fps=args.fps or ANIMATION_FPS, **_expression_kwargs(args))
    if args.wav is not None:
        save_wav(result.audio, args.wav)
    _save(result, args, target, show=not args.quiet and sys.stderr.isatty())
    return 0


def add_languages(sub: Any) -> None:
    p = sub.add_parser("languages", help="list the language codes and voices for --language "
                       "and --voice")
    p.set_defaults(run=run_languages)


def run_languages(args: argparse.Namespace) -> int:
    from visemic.phonetics import espeak

    print("languages: " + " ".join(espeak.languages()))
    print("voices:    " + " ".join(espeak.voices()))
    return 0


# ---------------------------------------------------------------------------------------------
# visemic plot


def add_plot(sub: Any) -> None:
    p = sub.add_parser(
        "plot", help="speech audio -> one PNG of waveform, words, phones, visemes and curves",
        description="Analyse speech (as 'visemic animate' does) and draw the timeline: "
                    "waveform, words, phones, the Rhubarb viseme track and the main curves.")
    _add_speech_options(p)
    p.add_argument("-o", "--output", metavar="PNG", required=True, help="the picture to write")
    p.add_argument("--channels", metavar="A,B,…",
                   help="curves to draw instead of the default set: channel names, 'gap' "
                        "(jawOpen - mouthClose) or left/right stems such as mouthSmile")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(run=run_plot)


def run_plot(args: argparse.Namespace) -> int:
    from visemic.outputs.plot import plot_timeline

    if not args.output.lower().endswith(".png"):
        raise UsageError(f"the plot is a PNG: give -o NAME.png, not {args.output!r}")
    check_output_dir(args.output)
    channels = None
    if args.channels is not None:
        channels = [c.strip() for c in args.channels.split(",") if c.strip()]
        if not channels:
            raise UsageError("--channels: no channel names given")
    result, _ = _analyse(args)
    plot_timeline(result, args.output, channels=channels)
    return 0


# ---------------------------------------------------------------------------------------------
# visemic rhubarb (parsed by visemic.rhubarb_cli; registered here for --help only)


def add_rhubarb(sub: Any) -> None:
    sub.add_parser("rhubarb", add_help=False,
                   help="drop-in replacement for Rhubarb Lip Sync's command line "
                        "(see 'visemic rhubarb --help')")


# One entry per subcommand, in --help order. A subcommand whose code lives elsewhere keeps its
# ``add_<name>`` there (importing only what building its parser needs) and is listed here.
COMMANDS: list[Callable[[Any], None]] = [
    add_animate,
    add_say,
    add_dub,
    add_plot,
    add_profile,
    add_languages,
    add_rhubarb,
    add_batch,
    add_serve,
    add_stream,
    add_blender_addon,
    add_sync_check,
]


def build_parser() -> Parser:
    parser = Parser(prog="visemic", description="Speech in, a talking face out: phonetic "
                    "timelines, ARKit-52 curves, visemes, exports and video.")
    parser.add_argument("--version", action="version", version=f"visemic {visemic.__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def _error(message: str) -> int:
    # One line, whatever the message holds.
    text = " ".join(str(message).split()) or "unknown error"
    sys.stderr.write(f"error: {text}\n")
    sys.stderr.flush()
    return EXIT_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    show_warnings()
    with handle_signals():
        try:
            if args_list and args_list[0] == "rhubarb":
                from visemic import rhubarb_cli

                return rhubarb_cli.main(args_list[1:], prog="visemic rhubarb")
            parser = build_parser()
            args = parser.parse_args(args_list)
            if not hasattr(args, "run"):
                raise UsageError("no command given (see 'visemic --help')")
            return int(args.run(args))
        except (UsageError, VisemicError) as e:
            return _error(str(e))
        except KeyboardInterrupt:
            sys.stderr.write("\n")
            return EXIT_INTERRUPTED
        except Terminated:
            return EXIT_TERMINATED
        except BrokenPipeError:
            # The reader went away (``| head``): not our failure, and nothing more to say.
            _silence_stdout()
            return 1
        except OSError as e:
            where = f"{e.filename}: " if e.filename else ""
            return _error(f"{where}{e.strerror or e}")
        except MemoryError:
            return _error("out of memory")
        except Exception as e:
            if os.environ.get("VISEMIC_DEBUG"):
                raise
            return _error(f"internal error ({type(e).__name__}: {e}); "
                          "set VISEMIC_DEBUG=1 for a traceback")


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
