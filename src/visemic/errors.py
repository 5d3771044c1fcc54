"""The one exception type users see: the CLI prints it as a single ``error: …`` line, exit 2."""

from __future__ import annotations


class VisemicError(Exception):
    """Bad input or an impossible request, described in one line a user can act on."""
