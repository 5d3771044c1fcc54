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
# A sync-check request: the video, optionally the speech to check it against.
SYNC_FIELDS = ("text", "language", "face")
SYNC_FILES = ("video", "audio")
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
    """The main file (the audio, or a sync-check's video), written to ``path`` (``size``
    bytes), the text fields sent with it, and the other files' paths by field name (written
    beside ``path`` with the field name as suffix)."""

    path: Path
    size: int
    fields: dict[str, str]
    extra: dict[str, Path] = field(default_factory=dict)

    @property
    def portrait(self) -> Path | None:
        return self.extra.get("portrait")


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


async def receive(request: Request, dest: Path, max_bytes: int, *,
                  file_fields: tuple[str, ...] = FILES,
                  text_fields: tuple[str, ...] = FIELDS) -> Upload:
    """Parse the multipart form of ``request``, writing its main file (the first of
    ``file_fields``: ``audio``) to ``dest`` (and each other file, if any, beside it with its
    field name as suffix, e.g. ``.portrait``).

    Raises :class:`UploadError` (413 oversize, 415 not a form, 400 anything else malformed:
    no main file, an empty file, unknown or repeated fields).
    """
    main = file_fields[0]
    ctype = request.headers.get("content-type", "")
    if not ctype.lower().startswith("multipart/form-data"):
        raise UploadError(415, f"send the {main} as multipart/form-data in a field named "
                               f"'{main}' (got content type {ctype[:80] or 'none'!r})")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise UploadError(413, f"the upload ({int(declared)} bytes) is larger than the limit of "
                               f"{_limit_text(max_bytes)}")
    parser = MultiPartParser(request.headers, _counted(request, max_bytes),
                             max_files=len(file_fields), max_fields=len(text_fields),
                             max_part_size=MAX_FIELD_BYTES)
    try:
        form = await parser.parse()
    except _TooLarge as e:
        raise UploadError(413, str(e)) from None
    except MultiPartException as e:
        raise UploadError(400, f"malformed form: {e}") from None
    try:
        files: dict[str, UploadFile] = {}
        fields: dict[str, str] = {}
        others = " (" + ", ".join(f"{f!r}" for f in file_fields[1:]) + " optional)"
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name not in file_fields:
                    raise UploadError(400, f"unexpected file field {name[:40]!r}; the {main} "
                                           f"goes in the field '{main}'" + others)
                if name in files:
                    raise UploadError(400, f"the field {name!r} is given twice")
                files[name] = value
            elif name in file_fields:
                raise UploadError(400, f"the field {name!r} must be a file, not text")
            elif name not in text_fields:
                raise UploadError(400, f"unknown field {name[:40]!r}; fields: "
                                       f"{', '.join(file_fields + text_fields)}")
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
        extra: dict[str, Path] = {}
        for name in file_fields[1:]:
            if name not in files:
                continue
            extra[name] = dest.with_suffix(f".{name}")
            if await run_in_threadpool(_copy, files[name], extra[name]) == 0:
                for path in (dest, *extra.values()):
                    path.unlink()
                what = "portrait image" if name == "portrait" else f"{name} file"
                raise UploadError(400, f"the {what} is empty (0 bytes)")
        return Upload(dest, size, fields, extra)
    finally:
        await form.close()
