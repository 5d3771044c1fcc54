"""Reading a text file the user names (transcripts, dialog files, emotion tracks, manifests),
and checking text the user passes as a string.

Accepted encodings: UTF-8 (with or without a byte-order mark) and UTF-16 with its byte-order
mark (what Windows editors save as "Unicode"). Anything else is refused with the file's name:
guessing (Latin-1, say) would align or display the wrong words without a word of warning.
"""

from __future__ import annotations

import os
from pathlib import Path

from visemic.errors import VisemicError

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def decode(raw: bytes) -> str:
    """The text of ``raw``; :class:`ValueError` saying why it is not UTF-8 or UTF-16 text."""
    if raw.startswith(_UTF16_BOMS):
        if raw.startswith(b"\xff\xfe\x00\x00"):
            raise ValueError("is UTF-32 text; save it as UTF-8")
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError as e:
            raise ValueError(f"is not valid UTF-16 text (bad bytes at offset {e.start})") from None
    elif b"\x00" in raw:
        raise ValueError("holds NUL bytes: it is binary, or UTF-16 without a byte-order mark; "
                         "save it as UTF-8")
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise ValueError(f"is not UTF-8 or UTF-16 text (byte 0x{raw[e.start]:02x} at "
                             f"offset {e.start}); save it as UTF-8") from None
    if "\x00" in text:
        raise ValueError("holds NUL characters: it is binary; save it as UTF-8 text")
    return text


def read_text(path: str | os.PathLike[str], what: str) -> str:
    """The text of ``path`` (UTF-8 or UTF-16, see the module; a byte-order mark is dropped).
    Every failure is a :class:`VisemicError` naming the file and ``what`` it was meant to be
    ("transcript")."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise VisemicError(f"{path}: {what} file not found") from None
    except IsADirectoryError:
        raise VisemicError(f"{path}: is a directory, not a {what} file") from None
    except OSError as e:
        raise VisemicError(f"{path}: {e.strerror or e}") from None
    try:
        return decode(raw)
    except ValueError as e:
        raise VisemicError(f"{path}: {what} file {e}") from None


def check_text(text: str, what: str = "text") -> str:
    """``text`` if it can be encoded: a command-line argument of bytes that are not UTF-8 reaches
    Python as lone surrogates, which no later stage could encode."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise VisemicError(f"the {what} is not valid UTF-8 text (at character {e.start + 1})"
                           ) from None
    if "\x00" in text:
        raise VisemicError(f"the {what} holds a NUL character")
    return text
