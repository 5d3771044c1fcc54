"""``visemic stream``: drive a face live from a file or the microphone, sending Live Link Face
UDP packets (Unreal Engine, MetaHuman) and/or writing frames as JSON lines."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from visemic.commandline import add_profile_option

STREAM_EPILOG = """\
outputs (at least one):
  --livelink HOST:PORT  Live Link Face UDP packets, as the iPhone app sends them: in Unreal add
                        a "Live Link Face" source (UDP port 11111 by default) and pick the
                        subject (--subject) on the MetaHuman's face
  -o FILE.jsonl         one JSON object per frame: {"frame", "time", "values": {ARKit name:
                        value}, "viseme", "head": [yaw, pitch, roll]}; '-' for stdout

A file is played out in real time by default (Unreal sees live timing); --no-realtime
streams it as fast as it can be animated. The microphone runs until Ctrl-C (which ends the
stream normally) or --seconds. Frames trail the audio by the engine's look-ahead (80 ms).

examples:
  visemic stream speech.wav --livelink 127.0.0.1:11111 --subject visemic
  visemic stream --microphone --livelink 192.168.1.20:11111
  visemic stream speech.wav --no-realtime -o frames.jsonl
  visemic stream --microphone --emotion happy:0.7 --livelink 127.0.0.1:11111
"""


def add_stream(sub: Any) -> None:
    from visemic.commandline import fps

    p = sub.add_parser(
        "stream", help="live animation from a file or the microphone -> Live Link UDP, JSONL",
        description="Animate speech as it arrives, with low latency: Live Link Face UDP "
                    "packets for Unreal Engine and/or frames as JSON lines.",
        epilog=STREAM_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = p.add_mutually_exclusive_group()
    source.add_argument("audio", nargs="?", metavar="AUDIO",
                        help="speech audio file (any format ffmpeg decodes)")
    source.add_argument("--microphone", action="store_true",
                        help="capture from the microphone (needs PortAudio)")
    p.add_argument("--device", metavar="NAME", help="input device for --microphone")
    p.add_argument("--seconds", type=float, metavar="S",
                   help="stop the microphone after S seconds")
    p.add_argument("--livelink", metavar="HOST:PORT",
                   help="send Live Link Face UDP packets here (port 11111 if omitted)")
    p.add_argument("--subject", default="visemic", metavar="NAME",
                   help="Live Link subject name (default: visemic)")
    p.add_argument("-o", "--output", metavar="FILE.jsonl",
                   help="write frames as JSON lines ('-' for stdout)")
    p.add_argument("--fps", type=fps, default=60.0, metavar="N",
                   help="frame rate (default: 60)")
    p.add_argument("--realtime", action=argparse.BooleanOptionalAction, default=True,
                   help="play a file out in real time (default) or as fast as possible")
    p.add_argument("--language", metavar="CODE", default="en",
                   help="language of the speech (default: en)")
    p.add_argument("--emotion", metavar="MIX",
                   help="emotion over the speech, e.g. happy:0.6,surprised:0.3 (intensities "
                        "0-1; see 'visemic animate --help')")
    add_profile_option(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no summary on stderr")
    p.set_defaults(run=run_stream)


def run_stream(args: argparse.Namespace) -> int:
    from visemic.commandline import UsageError, check_input, check_output_dir, load_profile
    from visemic.stream import livelink_udp, sources
    from visemic.stream.engine import StreamAnimator

    if args.audio is None and not args.microphone:
        raise UsageError("give an AUDIO file or --microphone (see 'visemic stream --help')")
    if args.livelink is None and args.output is None:
        raise UsageError("no output given: use --livelink HOST:PORT and/or -o FILE.jsonl")
    if args.seconds is not None and (not args.microphone or not args.seconds > 0):
        raise UsageError("--seconds takes a positive number and goes with --microphone")
    if args.device is not None and not args.microphone:
        raise UsageError("--device goes with --microphone")
    if args.audio is not None:
        check_input(args.audio)
    if args.output not in (None, "-"):
        check_output_dir(args.output)
    engine = StreamAnimator(fps=args.fps, language=args.language, emotion=args.emotion,
                            profile=load_profile(args.profile))
    sender = None
    if args.livelink is not None:
        host, port = livelink_udp.parse_address(args.livelink)
        sender = livelink_udp.Sender(host, port, subject=args.subject, fps=args.fps)
    if args.microphone:
        chunks = sources.microphone_chunks(args.seconds, args.device)
    else:
        chunks = sources.file_chunks(args.audio, realtime=args.realtime)
    count = 0
    with _jsonl(args.output) as out:
        def deliver(frames: list) -> None:
            nonlocal count
            for frame in frames:
                if sender is not None:
                    sender.send(frame)
                if out is not None:
                    out.write(json.dumps(frame.to_dict(), separators=(",", ":")) + "\n")
            count += len(frames)

        try:
            for chunk in chunks:
                deliver(engine.push(chunk))
        except KeyboardInterrupt:
            if not args.microphone:
                raise
            # Ctrl-C is how a microphone stream ends: finish it properly.
        deliver(engine.flush())
    if sender is not None:
        sender.close()
    if not args.quiet:
        where = [f"Live Link {args.livelink} (subject {args.subject})"] if sender else []
        where += [args.output] if args.output not in (None, "-") else []
        where += ["stdout"] if args.output == "-" else []
        sys.stderr.write(f"streamed {count} frames ({engine.received:.2f} s of audio) to "
                         f"{' and '.join(where)}\n")
    return 0


@contextlib.contextmanager
def _jsonl(path: str | None) -> Iterator[TextIO | None]:
    """The JSON-lines sink: nothing, stdout, or a file that appears whole when the stream ends."""
    if path is None:
        yield None
    elif path == "-":
        yield sys.stdout
        sys.stdout.flush()
    else:
        from visemic.outputs.atomic import atomic_path

        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
            yield f
