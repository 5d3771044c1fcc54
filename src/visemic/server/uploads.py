"""Receiving an audio upload: multipart parsing with the size limit enforced as bytes arrive.

The request body is counted while it streams in, so an oversize upload is refused after at most
``max_bytes`` have been read (at once when its Content-Length says so), never after buffering it
all. The audio is copied to a file whose name the server chose; the client's file name is
ignored.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

# Fields an animate request may carry besides the audio (and the optional portrait image).
FIELDS = ("text", "language", "format", "fps", "emotion")
FILES = ("audio", "portrait")
# Text fields are small; this bounds what the parser holds in memory for each.
MAX_FIELD_BYTES = 256 * 1024


class UploadError(Exception):
    """A request the server refuses, with the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _TooLarge(MultiPartException):
    # A MultiPartException so that the parser closes its spooled files on the way out.
    pass


@dataclass
class Upload:
    """The audio, written to ``path`` (``size`` bytes), the text fields sent with it, and the
    portrait image's path when one was sent. ``files``: every file received, by field name
    (the first is at ``path``, the others beside it with their field name as suffix)."""

    path: Path
    size: int
    fields: dict[str, str]
    portrait: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)


def _limit_text(max_bytes: int) -> str:
    if max_bytes >= 1 << 20:
        return f"{max_bytes / (1 << 20):g} MiB"
    return f"{max_bytes} bytes"


async def _counted(request: Request, max_bytes: int) -> AsyncGenerator[bytes, None]:
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > max_bytes:
            raise _TooLarge(f"the upload is larger than the limit of {_limit_text(max_bytes)}")
        yield chunk


def _copy(audio: UploadFile, dest: Path) -> int:
    with open(dest, "wb") as out:
        shutil.copyfileobj(audio.file, out, 1 << 20)
        return out.tell()


async def receive(request: Request, dest: Path, max_bytes: int,
                  file_fields: tuple[str, ...] = FILES,
                  text_fields: tuple[str, ...] = FIELDS) -> Upload:
    """Parse the multipart form of ``request``, writing its ``audio`` file to ``dest`` (and a
    ``portrait`` image, if any, beside it with the suffix ``.portrait``).

    Raises :class:`UploadError` (413 oversize, 415 not a form, 400 anything else malformed:
    no audio, an empty file, unknown or repeated fields).

    Other endpoints name their own ``file_fields`` (the first is required and written to
    ``dest``; the others beside it, suffixed with their name) and ``text_fields``.
    """
    FILES, FIELDS = file_fields, text_fields  # noqa: N806 (this request's fields)
    main = FILES[0]
    ctype = request.headers.get("content-type", "")
    if not ctype.lower().startswith("multipart/form-data"):
        raise UploadError(415, "send the audio as multipart/form-data in a field named 'audio'"
                               f" (got content type {ctype[:80] or 'none'!r})")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise UploadError(413, f"the upload ({int(declared)} bytes) is larger than the limit of "
                               f"{_limit_text(max_bytes)}")
    parser = MultiPartParser(request.headers, _counted(request, max_bytes), max_files=len(FILES),
                             max_fields=len(FIELDS), max_part_size=MAX_FIELD_BYTES)
    try:
        form = await parser.parse()
    except _TooLarge as e:
        raise UploadError(413, str(e)) from None
    except MultiPartException as e:
        raise UploadError(400, f"malformed form: {e}") from None
    try:
        files: dict[str, UploadFile] = {}
        fields: dict[str, str] = {}
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name not in FILES:
                    raise UploadError(400, f"unexpected file field {name[:40]!r}; files go in "
                                           f"the fields {', '.join(repr(f) for f in FILES)}")
                if name in files:
                    raise UploadError(400, f"the field {name!r} is given twice")
                files[name] = value
            elif name in FILES:
                raise UploadError(400, f"the field {name!r} must be a file, not text")
            elif name not in FIELDS:
                raise UploadError(400, f"unknown field {name[:40]!r}; fields: "
                                       f"{', '.join(FILES + FIELDS)}")
            elif name in fields:
                raise UploadError(400, f"the field {name!r} is given twice")
            else:
                fields[name] = value
        if main not in files:
            raise UploadError(400, f"no {main}: send the file in a form field named '{main}'")
        size = await run_in_threadpool(_copy, files[main], dest)
        if size == 0:
            dest.unlink()
            raise UploadError(400, f"the {main} file is empty (0 bytes)")
        received = {main: dest}
        for name in FILES[1:]:
            if name in files and name != "portrait":
                path = dest.with_suffix(f".{name}")
                if await run_in_threadpool(_copy, files[name], path) == 0:
                    for p in (*received.values(), path):
                        p.unlink()
                    raise UploadError(400, f"the {name} file is empty (0 bytes)")
                received[name] = path
        portrait = None
        if "portrait" in files:
            portrait = dest.with_suffix(".portrait")
            if await run_in_threadpool(_copy, files["portrait"], portrait) == 0:
                portrait.unlink()
                dest.unlink()
                raise UploadError(400, "the portrait image is empty (0 bytes)")
        return Upload(dest, size, fields, portrait, received)
    finally:
        await form.close()
