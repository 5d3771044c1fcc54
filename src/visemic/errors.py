"""The error contract.

Every failure that input causes (a file, a flag, a form field, a message) is a
:class:`VisemicError` whose message a user can act on: the CLI prints it as one ``error: …`` line
and exits 2; the server answers 4xx with ``{"error": message}``. Anything else is a bug: the
CLI prints one ``error: internal error …`` line, and the server answers 500 with only
``internal error, id …`` (:func:`internal_error`), the details in its log under that id.
"""

from __future__ import annotations

import logging
import uuid

log = logging.getLogger("visemic")


class VisemicError(Exception):
    """Bad input or an impossible request, described in one line a user can act on."""


class NoFaceError(VisemicError):
    """No face could be found in an image or video. The message names the source only; each
    shell adds the remedy its user has (the CLI's ``--landmarks``, the server's form fields)."""

    def __init__(self, source: str) -> None:
        super().__init__(f"no face found in {source}")
        self.source = source


def internal_error(error: BaseException, context: str = "") -> str:
    """Log ``error`` with its traceback under a fresh id; return the one line a client sees,
    which names neither the exception nor any path."""
    incident = uuid.uuid4().hex[:12]
    log.error("internal error, id %s%s", incident, f" ({context})" if context else "",
              exc_info=(type(error), error, error.__traceback__))
    return f"internal error, id {incident}"
