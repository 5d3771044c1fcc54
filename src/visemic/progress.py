"""A small progress display for stderr: a redrawn bar on a terminal, plain lines in a log.

No dependency: ``Progress(total_label)`` is a callable taking 0…1, the signature
:func:`visemic.animate` expects for ``progress=``.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _fmt_eta(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class Progress:
    """Report fractions 0…1 as ``label [#####-----]  42% eta 3s``.

    On a terminal the line is redrawn in place at most ``interval`` seconds apart; elsewhere
    (a file, a pipe) one plain line is written per ``step`` of progress so that logs stay
    readable. ``close`` ends the line. Reports never go backwards.
    """

    def __init__(self, label: str = "", stream: TextIO | None = None, *, width: int = 30,
                 interval: float = 0.1, step: float = 0.1, tty: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.label = label
        self.width = width
        self.interval = interval
        self.step = step
        if tty is None:
            isatty = getattr(self.stream, "isatty", None)
            tty = bool(isatty and isatty())
        self.tty = tty
        self.start = time.monotonic()
        self.value = 0.0
        self._last_draw = -1.0
        self._last_line = -1.0
        self._drawn = False
        self._closed = False

    def eta(self) -> float | None:
        """Seconds left, extrapolated from the rate so far (None until there is a rate)."""
        if self.value <= 0.01:
            return None
        elapsed = time.monotonic() - self.start
        return elapsed * (1.0 - self.value) / self.value

    def text(self) -> str:
        filled = int(round(self.value * self.width))
        bar = "#" * filled + "-" * (self.width - filled)
        eta = self.eta()
        tail = f" eta {_fmt_eta(eta)}" if eta is not None and self.value < 1.0 else ""
        head = f"{self.label} " if self.label else ""
        return f"{head}[{bar}] {self.value * 100:3.0f}%{tail}"

    def __call__(self, fraction: float) -> None:
        if self._closed:
            return
        try:
            fraction = float(fraction)
        except (TypeError, ValueError):
            return
        if fraction != fraction:  # NaN
            return
        self.value = max(self.value, min(1.0, max(0.0, fraction)))
        now = time.monotonic()
        if self.tty:
            if now - self._last_draw >= self.interval or self.value >= 1.0:
                # Pad to clear a longer previous line (the eta shrinks).
                self.stream.write("\r" + self.text().ljust(self.width + 30))
                self.stream.flush()
                self._last_draw = now
                self._drawn = True
        elif self.value - self._last_line >= self.step or (self.value >= 1.0 > self._last_line):
            self.stream.write(self.text() + "\n")
            self.stream.flush()
            self._last_line = self.value

    def close(self) -> None:
        """Finish the display (newline after a terminal bar). Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
