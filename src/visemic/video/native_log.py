"""Keep MediaPipe's native log lines off the user's terminal, and nothing else.

MediaPipe's C++ core (absl logging, TensorFlow Lite) writes lines such as ``W0000 00:00:…
inference_feedback_manager.cc:114] Feedback manager requires …`` straight to file descriptor
2. visemic's errors are one ``error:`` line, so those lines must not reach stderr. They come
from the graph's own threads, sometimes after the call that started them has returned (about
one dub in 30 printed one when only the calls were silenced), so file descriptor 2 is filtered
for as long as any Face Mesh graph is alive: it points at a pipe, and a reader thread copies
every line to the real stderr except MediaPipe's. Everything else written meanwhile — Python's
own ``sys.stderr`` from any thread (the dub analyses its speech on another thread while Face
Mesh tracks), other libraries' native messages, a progress bar's ``\\r`` updates — passes
through unchanged and in order. Holds nest and may come from several threads; the last
:func:`release` puts the real stderr back and drains the pipe first, so nothing is lost.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import sys
import threading
from collections.abc import Iterator

# absl's native prefix (severity letter, MMDD, time) and the two lines TF Lite and absl print
# before logging is initialised.
NATIVE = re.compile(rb"^(?:[IWEF]\d{4} \d\d:\d\d:[\d.]+ |WARNING: All log messages before "
                    rb"absl::InitializeLog|INFO: Created TensorFlow Lite)")
# A partial line that could be the start of a native one (its first letter, and short) waits
# for the rest of its line; anything else is passed on at once (a progress bar's "\r…").
_NATIVE_FIRST, _PARTIAL_MAX = b"IWEF", 256
DRAIN_SECONDS = 2.0  # a child process still holding the pipe open must not hang the caller

_lock = threading.Lock()
_holders = 0
_pipe: int | None = None       # the pipe's write end, kept open while held
_out: int | None = None        # where the lines go: what file descriptor 2 was
_out_lock = threading.Lock()   # the reader writes to _out; hold() may swap it
_reader: threading.Thread | None = None


def _pump(pipe: int) -> None:
    pending = b""
    while True:
        try:
            chunk = os.read(pipe, 65536)
        except OSError:
            break
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        kept = b"".join(line + b"\n" for line in lines if not NATIVE.match(line))
        if pending and (pending[:1] not in _NATIVE_FIRST or len(pending) > _PARTIAL_MAX):
            kept, pending = kept + pending, b""
        if kept:
            _write(kept)
    if pending and not NATIVE.match(pending):
        _write(pending)
    os.close(pipe)


def _write(data: bytes) -> None:
    with _out_lock, contextlib.suppress(OSError):
        while data and _out is not None:
            data = data[os.write(_out, data):]


def _is_ours() -> bool:
    """Whether file descriptor 2 is still the pipe (a test harness, say, may have replaced
    it meanwhile: then it is theirs to restore)."""
    try:
        a, b = os.fstat(2), os.fstat(_pipe)  # type: ignore[arg-type]
    except (OSError, TypeError):
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def hold() -> None:
    """Filter file descriptor 2 (again, if something else took it over since), one holder more."""
    global _holders, _pipe, _out, _reader
    with _lock:
        _holders += 1
        if _pipe is not None and _is_ours():
            return
        sys.stderr.flush()
        try:
            out = os.dup(2)
        except OSError:
            return  # no file descriptor 2 to filter: nothing reaches a terminal anyway
        if _pipe is None:
            try:
                read_end, _pipe = os.pipe()
            except OSError:
                os.close(out)
                return  # out of file descriptors: the lines show rather than fail the caller
            _reader = threading.Thread(target=_pump, args=(read_end,), daemon=True,
                                       name="visemic-native-log")
            _reader.start()
        with _out_lock:
            if _out is not None:
                os.close(_out)
            _out = out
        os.dup2(_pipe, 2)


def release() -> None:
    """End one :func:`hold`; the last one puts stderr back (unless something else took it over
    meanwhile) and drains the pipe first."""
    global _holders, _pipe, _out, _reader
    with _lock:
        if _holders == 0:
            return
        _holders -= 1
        if _holders or _pipe is None:
            return
        sys.stderr.flush()
        if _is_ours():
            os.dup2(_out, 2)  # type: ignore[arg-type]
        os.close(_pipe)  # the reader sees the pipe's end once nothing else holds it open
        if _reader is not None:
            _reader.join(DRAIN_SECONDS)
        if _reader is None or not _reader.is_alive():  # else a forked child still writes there
            with _out_lock:
                if _out is not None:
                    os.close(_out)
                _out = None
        _pipe, _reader = None, None


@contextlib.contextmanager
def filtered() -> Iterator[None]:
    """MediaPipe's native log lines dropped from stderr while inside."""
    hold()
    try:
        yield
    finally:
        release()


@atexit.register
def _restore() -> None:
    # A graph never closed must not keep the interpreter's last words in the pipe.
    global _holders
    with _lock:
        if not _holders:
            return
        _holders = 1
    release()
