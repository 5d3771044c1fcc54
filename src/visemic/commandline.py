"""What every ``visemic`` command shares on its command line: the usage error, the parser that
raises it, option types (frame rate, size, counts) and the checks made before any work starts
(input readable, output folder writable, transcript read).

The command modules (:mod:`visemic.cli` and the ``command.py`` of ``batch``, ``stream``,
``server`` …) import from here, never from each other.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

from visemic.errors import VisemicError


class UsageError(Exception):
    """A bad command line (reported like any other error: one line, exit 2)."""


class Parser(argparse.ArgumentParser):
    """argparse, but errors raise :class:`UsageError` instead of printing the usage block and
    exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def fps(text: str) -> float:
    """``--fps``: a frame rate within :mod:`visemic.limits`' bounds."""
    from visemic.limits import check_fps

    try:
        return check_fps(text)
    except VisemicError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


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


def _whole(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be at least {least}, got {value}")
    return value


def positive_int(text: str) -> int:
    """A whole number ≥ 1 (worker counts and the like)."""
    return _whole(text, 1)


def face_number(text: str) -> int:
    """``--face N``: which face, 0 the largest."""
    return _whole(text, 0)


def check_input(path: str, what: str = "audio file") -> None:
    """Fail early, with the file's name, when ``path`` is not a readable file."""
    p = Path(path)
    if not p.exists():
        raise VisemicError(f"{path}: no such file")
    if p.is_dir():
        article = "an" if what[:1] in "aeiou" else "a"
        raise VisemicError(f"{path}: is a directory, not {article} {what}")
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


@contextlib.contextmanager
def warnings_held() -> Iterator[None]:
    """Hold the library's warnings while the block runs: shown once it succeeds, dropped when it
    fails, so that a failed command says one line, its error (a warning about a run that then
    failed, e.g. "VIDEO has no audio" before "no face found in VIDEO", is noise)."""
    logger = logging.getLogger("visemic")
    shown = [h for h in logger.handlers if isinstance(h, _WarningLines)]
    if not shown:
        yield
        return
    held = _Held(logging.WARNING)
    for handler in shown:
        logger.removeHandler(handler)
    logger.addHandler(held)
    succeeded = False
    try:
        yield
        succeeded = True
    finally:
        logger.removeHandler(held)
        for handler in shown:
            logger.addHandler(handler)
        if succeeded:
            for record in held.records:
                for handler in shown:
                    handler.handle(record)


class _Held(logging.Handler):
    """Keeps the records it is given (for :func:`warnings_held`)."""

    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Terminated(BaseException):
    """SIGTERM, raised where the program is so that ``finally`` blocks and atomic writers clean
    up (a BaseException, like KeyboardInterrupt, so ordinary handlers let it through)."""


# Signals received while a command runs. Python raises KeyboardInterrupt (or our Terminated) in
# whatever Python code runs next, and where that is a finaliser or a C library's callback the
# exception is printed and dropped: the command would then finish as if never stopped. So the
# signal is also remembered, and raised again at the checkpoints (each progress report, the end
# of the analysis) before anything is written.
_received: list[int] = []


def on_signal(signum: int, frame: Any) -> None:
    _received.append(signum)
    stop_if_signalled()


def stop_if_signalled() -> None:
    if _received:
        raise Terminated if _received[0] == signal.SIGTERM else KeyboardInterrupt


def checked(progress: Any) -> Any:
    """``progress`` (a callable taking 0…1, or None) that first stops on a received signal."""
    if progress is None:
        return None

    def report(fraction: float) -> None:
        stop_if_signalled()
        progress(fraction)

    return report


class handle_signals:
    """Install the SIGTERM and SIGINT handlers for the duration of a command (main thread only;
    a SIGINT the parent ignores stays ignored)."""

    def __enter__(self) -> None:
        self.previous: dict[int, Any] = {}
        _received.clear()
        for sig in (signal.SIGTERM, signal.SIGINT):
            if sig == signal.SIGINT and signal.getsignal(sig) is signal.SIG_IGN:
                continue
            try:
                self.previous[sig] = signal.signal(sig, on_signal)
            except ValueError:  # not the main thread
                return

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self.previous.items():
            signal.signal(sig, previous)
