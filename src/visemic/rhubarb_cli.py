"""A drop-in replacement for Rhubarb Lip Sync 1.14's command line.

Editors' plug-ins (Blender, Godot, Spine, After Effects, Moho, Unity …) run ``rhubarb [options]
INPUT`` and read its output file or stdout and, with ``--machineReadable``, one JSON event per
stderr line. This module accepts the same options and writes the same formats
(:mod:`visemic.outputs.rhubarb_formats`) and events, so a plug-in can be pointed at
``visemic-rhubarb`` (or ``visemic rhubarb``) instead.

Contract kept from Rhubarb's ``main.cpp`` and ``sinks.cpp``: exit status 0 on success (and for
``--help``/``--version``), 1 on any error; machine-readable events ``start``, ``progress``
(``value`` with two decimals, only when the whole percentage grows), ``success``, ``failure``
(with ``reason``) and ``log`` (only at or above ``--consoleLevel``), each with a ``log`` object
``{"level", "message"}``. Outside machine-readable mode an error is one line ``error: …``.
``--recognizer pocketSphinx`` maps to visemic's word recognition, ``phonetic`` to its phone
recognition; ``--threads`` is accepted and checked but visemic decides its own parallelism.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

import visemic
from visemic.errors import VisemicError
from visemic.textfile import read_text

RHUBARB_VERSION = "1.14.0"
EXIT_OK = 0
EXIT_FAILURE = 1  # Rhubarb returns 1 for every error, command-line errors included
EXIT_INTERRUPTED = 130

LEVELS = ("Trace", "Debug", "Info", "Warn", "Error", "Fatal")
_LEVEL_NAMES = {name.lower(): i for i, name in enumerate(LEVELS)}
_LEVEL_NAMES["warning"] = LEVELS.index("Warn")  # Rhubarb's README spells it so

FORMATS = {"tsv": "rhubarb-tsv", "xml": "rhubarb-xml", "json": "rhubarb-json",
           "dat": "rhubarb-dat"}
RECOGNIZERS = {"pocketsphinx": "words", "phonetic": "phones"}


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _level(text: str) -> int:
    try:
        return _LEVEL_NAMES[text.strip().lower()]
    except KeyError:
        raise argparse.ArgumentTypeError(
            f"{text} is not a valid Level value (trace, debug, info, warning, error, fatal)"
        ) from None


def _choice(table: dict[str, str], kind: str):
    def parse(text: str) -> str:
        key = text.strip().lower()  # Rhubarb's enum parsing ignores case
        if key not in table:
            raise argparse.ArgumentTypeError(f"{text} is not a valid {kind} value")
        return key
    return parse


def build_parser(prog: str = "rhubarb") -> _Parser:
    p = _Parser(
        prog=prog, allow_abbrev=False,
        description="Rhubarb Lip Sync-compatible command line, answered by visemic "
                    f"{visemic.__version__}: mouth cues (A-F, G H X) for an audio file.",
        epilog="Exit status 0 on success, 1 on error (as Rhubarb Lip Sync).")
    p.add_argument("input", metavar="INPUT", help="the input audio file")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="the output file path (default: stdout)")
    p.add_argument("-f", "--exportFormat", default="tsv", metavar="FORMAT",
                   type=_choice(FORMATS, "ExportFormat"),
                   help="the export format: tsv (default), xml, json, dat")
    p.add_argument("-r", "--recognizer", default="pocketsphinx", metavar="RECOGNIZER",
                   type=_choice(RECOGNIZERS, "RecognizerType"),
                   help="pocketSphinx (word recognition, default) or phonetic (phones)")
    p.add_argument("-d", "--dialogFile", metavar="FILE",
                   help="a text file with the dialog (then the speech is force-aligned)")
    p.add_argument("--extendedShapes", default="GHX", metavar="SHAPES",
                   help="the extended shapes to use, any of GHX ('' for none; default GHX)")
    p.add_argument("--datFrameRate", type=float, default=24.0, metavar="FPS",
                   help="dat format only: frame rate, 24-100 (default 24)")
    p.add_argument("--datUsePrestonBlair", action="store_true",
                   help="dat format only: Preston Blair shape names (MBP, etc, E, AI, ...)")
    p.add_argument("--threads", type=int, metavar="N",
                   help="maximum worker threads (accepted for compatibility)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no output to stderr except errors")
    p.add_argument("--machineReadable", action="store_true",
                   help="all stderr output as one JSON object per line")
    p.add_argument("--consoleLevel", type=_level, default=LEVELS.index("Error"),
                   metavar="LEVEL", help="minimum level of log messages on stderr "
                                         "(trace, debug, info, warning, error, fatal)")
    p.add_argument("--logFile", metavar="FILE", help="write a log file")
    p.add_argument("--logLevel", type=_level, default=LEVELS.index("Debug"), metavar="LEVEL",
                   help="minimum level of the log file (default debug)")
    p.add_argument("--version", action=_Version, help="show version information and exit")
    return p


class _Version(argparse.Action):
    """Rhubarb's version text, verbatim in form: plug-ins match
    ``Rhubarb Lip Sync version X.Y.Z`` to check compatibility."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        sys.stdout.write(f"\nRhubarb Lip Sync version {RHUBARB_VERSION} "
                         f"(visemic {visemic.__version__})\n\n")
        sys.stdout.flush()
        parser.exit(EXIT_OK)


def _one_line(text: str) -> str:
    return " ".join(text.split())


class Events:
    """Rhubarb's log sinks: machine-readable JSON lines, the "nice" console, quiet, a log file."""

    def __init__(self, mode: str, console_level: int, stream: TextIO | None = None) -> None:
        self.mode = mode  # "machine", "nice" or "quiet"
        self.console_level = console_level
        self.stream = stream if stream is not None else sys.stderr
        self.log_file: TextIO | None = None
        self.log_level = LEVELS.index("Debug")
        self.last_percent = -1
        self.bar: Any = None

    # -- output helpers
    def _emit(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()  # plug-ins read stderr line by line while we work

    def _machine(self, head: str, level: int, message: str) -> None:
        log = f'"log": {{ "level": "{LEVELS[level]}", "message": {json.dumps(message)} }}'
        self._emit(f"{{ {head}{log} }}")

    def _file(self, level: int, message: str) -> None:
        if self.log_file is not None and level >= self.log_level:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            self.log_file.write(f"[{stamp}] [{LEVELS[level]}] {message}\n")
            self.log_file.flush()

    # -- events
    def log(self, level: int, message: str) -> None:
        self._file(level, message)
        if level < self.console_level:
            return
        if self.mode == "machine":
            self._machine('"type": "log", ', level, message)
        else:
            self._close_bar()
            self._emit(f"[{LEVELS[level]}] {message}")

    def start(self, input_path: str) -> None:
        message = f"Application startup. Input file: {input_path}."
        self._file(LEVELS.index("Info"), message)
        if self.mode == "machine":
            self._machine(f'"type": "start", "file": {json.dumps(input_path)}, ',
                          LEVELS.index("Info"), message)
        elif self.mode == "nice":
            self._emit(f"Generating lip sync data for {input_path}.")
            if getattr(self.stream, "isatty", lambda: False)():
                from visemic.progress import Progress

                self.bar = Progress("Progress:", self.stream, tty=True)

    def progress(self, value: float) -> None:
        value = min(1.0, max(0.0, float(value)))
        percent = int(value * 100)
        message = f"Progress: {percent}%"
        self._file(LEVELS.index("Trace"), message)
        if self.mode == "machine":
            if percent > self.last_percent:
                self.last_percent = percent
                self._machine(f'"type": "progress", "value": {value:.2f}, ',
                              LEVELS.index("Trace"), message)
        elif self.bar is not None:
            self.bar(value)

    def success(self) -> None:
        message = "Application terminating normally."
        self._file(LEVELS.index("Info"), message)
        if self.mode == "machine":
            self._machine('"type": "success", ', LEVELS.index("Info"), message)
        elif self.mode == "nice":
            self._close_bar()
            self._emit("Done.")

    def failure(self, reason: str, human: str | None = None) -> None:
        message = f"Application terminating with error: {reason}"
        self._file(LEVELS.index("Fatal"), message)
        if self.mode == "machine":
            self._machine(f'"type": "failure", "reason": {json.dumps(reason)}, ',
                          LEVELS.index("Fatal"), message)
        else:
            self._close_bar()
            self._emit(f"error: {_one_line(human or reason)}")

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def close(self) -> None:
        self._close_bar()
        if self.log_file is not None:
            self.log_file.close()
            self.log_file = None


def _sound_file(input_path: str) -> str:
    # Rhubarb writes std::filesystem::absolute(input): cwd joined to a relative path, as is.
    return input_path if os.path.isabs(input_path) else os.path.join(os.getcwd(), input_path)


def _read_dialog(path: str) -> str | None:
    text = read_text(path, "dialog")
    # An empty dialog file gives Rhubarb nothing to prefer; it still animates the recording.
    return text if text.strip() else None


def _prog_name() -> str:
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return name if name and not name.endswith(".py") else "rhubarb"


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run the Rhubarb-compatible command line; returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    prog = prog or _prog_name()
    machine = "--machineReadable" in args_list
    parser = build_parser(prog)
    try:
        args = parser.parse_args(args_list)
    except UsageError as e:
        events = Events("machine" if machine else "quiet", LEVELS.index("Error"))
        events.failure(f"Invalid command line. {e}", human=f"{e} (see '{prog} --help')")
        return EXIT_FAILURE

    mode = "quiet" if args.quiet else ("machine" if args.machineReadable else "nice")
    events = Events(mode, args.consoleLevel)
    try:
        if args.logFile:
            try:
                events.log_file = open(args.logFile, "w", encoding="utf-8")
            except OSError as e:
                raise VisemicError(f"cannot write log file {args.logFile}: "
                                   f"{e.strerror or e}") from None
            events.log_level = args.logLevel
        return _run(args, events, args_list)
    except VisemicError as e:
        events.failure(str(e))
        return EXIT_FAILURE
    except KeyboardInterrupt:
        events.close()
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_FAILURE  # the reader of stdout went away
    except Exception as e:
        if os.environ.get("VISEMIC_DEBUG"):
            raise
        events.failure(f"Internal error: {type(e).__name__}: {e}")
        return EXIT_FAILURE
    finally:
        events.close()


def _run(args: argparse.Namespace, events: Events, args_list: list[str]) -> int:
    from visemic.outputs import formats, rhubarb_formats

    # Checked before any work, as Rhubarb does when it builds its exporter.
    if args.threads is not None and args.threads < 1:
        raise VisemicError("Thread count must be 1 or higher.")
    extended = rhubarb_formats.parse_extended(args.extendedShapes)
    fmt = FORMATS[args.exportFormat]
    options: dict[str, Any] = {"extended": extended}
    if fmt == "rhubarb-dat":
        options["dat_fps"] = rhubarb_formats.check_dat_fps(args.datFrameRate)
        options["preston_blair"] = args.datUsePrestonBlair
    elif fmt in ("rhubarb-xml", "rhubarb-json"):
        options["sound_file"] = _sound_file(args.input)

    input_path = args.input
    events.start(input_path)
    events.log(LEVELS.index("Debug"),
               "Command line: " + " ".join(json.dumps(a, ensure_ascii=False) for a in args_list))
    try:
        text = _read_dialog(args.dialogFile) if args.dialogFile else None
        if not Path(input_path).is_file():
            raise VisemicError(f"Could not open sound file {input_path}: no such file")
        events.progress(0.0)
        events.log(LEVELS.index("Info"), "Starting animation.")
        result = visemic.animate(input_path, text=text,
                                 method=RECOGNIZERS[args.recognizer], progress=events.progress)
        events.progress(1.0)
        events.log(LEVELS.index("Info"), "Done animating.")
        events.log(LEVELS.index("Info"), "Starting export.")
        formats.save(result, args.output if args.output else formats.STDOUT, format=fmt,
                     **options)
        events.log(LEVELS.index("Info"), "Done exporting.")
    except (VisemicError, OSError) as e:
        detail = str(e) if isinstance(e, VisemicError) else f"{e.filename}: {e.strerror or e}"
        events.failure(f"Error processing file {input_path}.\n{detail}", human=detail)
        return EXIT_FAILURE
    events.success()
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
