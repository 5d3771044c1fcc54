"""Reading a text file the user names (transcripts, dialog files, emotion tracks)."""

from __future__ import annotations

import os
from pathlib import Path

from visemic.errors import VisemicError


def read_text(path: str | os.PathLike[str], what: str) -> str:
    """The UTF-8 text of ``path`` (a byte-order mark is dropped). Every failure is a
    :class:`VisemicError` naming the file and ``what`` it was meant to be ("transcript")."""
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise VisemicError(f"{path}: {what} file not found") from None
    except IsADirectoryError:
        raise VisemicError(f"{path}: is a directory, not a {what} file") from None
    except UnicodeDecodeError:
        raise VisemicError(f"{path}: {what} file is not UTF-8 text") from None
    except OSError as e:
        raise VisemicError(f"{path}: {e.strerror or e}") from None
