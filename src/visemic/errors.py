"""The one exception type users see: the CLI prints it as a single ``error: …`` line, exit 2."""

from __future__ import annotations


class VisemicError(Exception):
    """Bad input or an impossible request, described in one line a user can act on."""


class NoFaceError(VisemicError):
    """No face could be found in an image or video. The message names the source only; each
    shell adds the remedy its user has (the CLI's ``--landmarks``, the server's form fields)."""

    def __init__(self, source: str) -> None:
        super().__init__(f"no face found in {source}")
        self.source = source
