"""What every ``visemic`` command shares on its command line: the usage error, the parser that
raises it, option types (frame rate, size, counts) and the checks made before any work starts
(input readable, output folder writable, transcript read).

The command modules (:mod:`visemic.cli` and the ``command.py`` of ``batch``, ``stream``,
``server`` …) import from here, never from each other.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from visemic.errors import VisemicError

# Animation frame rates the pipeline accepts everywhere (CLI, API, server, batch, stream).
MAX_FPS = 1000.0


class UsageError(Exception):
    """A bad command line (reported like any other error: one line, exit 2)."""


class Parser(argparse.ArgumentParser):
    """argparse, but errors raise :class:`UsageError` instead of printing the usage block and
    exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def fps(text: str) -> float:
    """``--fps``: a frame rate in (0, MAX_FPS]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or not 0 < value <= MAX_FPS:
        raise argparse.ArgumentTypeError(
            f"must be a frame rate in (0, {MAX_FPS:g}], got {text!r}")
    return value


def size(text: str) -> tuple[int, int]:
    """``--size``: WIDTHxHEIGHT, each 16…8192 pixels."""
    parts = text.lower().split("x")
    try:
        w, h = (int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 512x512, got {text!r}"
                                         ) from None
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        raise argparse.ArgumentTypeError(f"size must be between 16 and 8192 pixels, got {text!r}")
    return w, h


def positive_int(text: str) -> int:
    """A whole number ≥ 1 (worker counts and the like)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def check_input(path: str, what: str = "audio file") -> None:
    """Fail early, with the file's name, when ``path`` is not a readable file."""
    p = Path(path)
    if not p.exists():
        raise VisemicError(f"{path}: no such file")
    if p.is_dir():
        raise VisemicError(f"{path}: is a directory, not an {what}")
    if not os.access(p, os.R_OK):
        raise VisemicError(f"{path}: permission denied")


def check_output_dir(out: str) -> None:
    """Fail before the analysis, not after it, when ``out`` cannot be written."""
    parent = Path(out).parent
    probe = parent
    while not probe.exists():  # the writer creates missing folders
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise VisemicError(f"cannot write {out}: {probe} is not a writable folder")


def read_transcript(text: str | None, text_file: str | None) -> str | None:
    """The transcript from ``--text`` or ``--text-file`` (None when neither is given); an empty
    one is an error."""
    if text_file is not None:
        from visemic.textfile import read_text

        text = read_text(text_file, "transcript")
        source = text_file
    elif text is not None:
        source = "--text"
    else:
        return None
    if not text.strip():
        raise VisemicError(f"the transcript ({source}) is empty")
    return text


def add_profile_option(group: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--profile FILE``: a personal profile (``visemic profile``) for the mouth motion."""
    group.add_argument("--profile", metavar="FILE",
                       help="personal profile from 'visemic profile': the mouth moves like "
                            "that person's (rest, ranges, shapes, timing)")


def load_profile(path: str | None) -> Any:
    """The :class:`visemic.motion.profile.Profile` of ``--profile`` (None when not given),
    read before any work so that a bad file fails first."""
    if path is None:
        return None
    from visemic.motion import profile

    check_input(path, "profile file")
    return profile.load(path)


class _WarningLines(logging.Handler):
    """``warning: …`` on whatever ``sys.stderr`` is when the record arrives, one line each."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = " ".join(self.format(record).split())
            sys.stderr.write(f"{record.levelname.lower()}: {text}\n")
        except Exception:  # a message must never break the command
            self.handleError(record)


def show_warnings() -> None:
    """Print the library's warnings (``logging`` records of the ``visemic`` loggers at WARNING
    and above) on stderr as one line each, ``warning: …``, like every other message of the
    command line. Library code only logs; each shell decides how messages reach its user."""
    logger = logging.getLogger("visemic")
    if not any(isinstance(h, _WarningLines) for h in logger.handlers):
        handler = _WarningLines(logging.WARNING)
        logger.addHandler(handler)
    # Propagation stays on: with a handler found here, Python's last-resort handler (which would
    # print the bare message a second time) is not used.
    logger.setLevel(logging.WARNING)
