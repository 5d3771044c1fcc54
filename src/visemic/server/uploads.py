"""Receiving an audio upload: multipart parsing with the size limit enforced as bytes arrive.

The request body is counted while it streams in, so an oversize upload is refused after at most
``max_bytes`` have been read (at once when its Content-Length says so), never after buffering it
all. The audio is written once, as it arrives, straight to a file in the server's data directory
whose name the server chose (not spooled to $TMPDIR and copied); the client's file name is
ignored. A full disk is a 507; a client that goes away mid-upload is :class:`Disconnected`.
"""

from __future__ import annotations

import errno
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect, Request

# Fields an animate request may carry besides the audio (and the optional portrait image).
FIELDS = ("text", "language", "format", "fps", "emotion", "profile")
FILES = ("audio", "portrait")
# A sync-check request: the video, optionally the speech to check it against.
SYNC_FIELDS = ("text", "language", "face")
SYNC_FILES = ("video", "audio")
# Text fields are small; this bounds what the parser holds in memory for each.
MAX_FIELD_BYTES = 256 * 1024


DISK_FULL = "the server's disk is full; try again later"
_DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


class UploadError(Exception):
    """A request the server refuses, with the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Disconnected(Exception):
    """The client went away before the upload was complete: nobody is left to answer."""


def disk_full(error: BaseException) -> bool:
    return isinstance(error, OSError) and error.errno in _DISK_FULL_ERRNOS


class _TooLarge(MultiPartException):
    # A MultiPartException so that the parser closes its files on the way out.
    pass


class _Refused(MultiPartException):
    """A file field the form may not carry (unknown or repeated), refused before any byte of
    it is stored."""


class _DirectParser(MultiPartParser):
    """Starlette's multipart parser, but each file part is written to its final file in the
    data directory as it arrives (``targets``: field name → path), instead of a spooled
    temporary file that would be copied again."""

    def __init__(self, *args: Any, targets: dict[str, Path], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.targets = targets
        self.opened: dict[str, Path] = {}

    def on_headers_finished(self) -> None:
        super().on_headers_finished()
        part = self._current_part
        if part.file is None:
            return
        self._files_to_close_on_error.pop().close()  # the spool parent made: never used
        name = part.field_name
        if name not in self.targets:
            main, *others = self.targets
            raise _Refused(f"unexpected file field {name[:40]!r}; the {main} goes in the field "
                           f"'{main}'" + (f" ({', '.join(map(repr, others))} optional)"
                                          if others else ""))
        if name in self.opened:
            raise _Refused(f"the field {name!r} is given twice")
        path = self.targets[name]
        handle = open(path, "wb")  # noqa: SIM115 - closed by parse() or receive()
        self.opened[name] = path
        self._files_to_close_on_error.append(handle)  # type: ignore[arg-type]
        part.file = UploadFile(file=handle, size=0, filename=part.file.filename,
                               headers=Headers(raw=part.item_headers))


@dataclass
class Upload:
    """The main file (the audio, or a sync-check's video), written to ``path`` (``size``
    bytes), the text fields sent with it, and the other files' paths by field name (written
    beside ``path`` with the field name as suffix)."""

    path: Path
    size: int
    fields: dict[str, str]
    extra: dict[str, Path] = field(default_factory=dict)
    main: str = "audio"  # the main file's field name

    @property
    def portrait(self) -> Path | None:
        return self.extra.get("portrait")

    @property
    def files(self) -> dict[str, Path]:
        """Every file received, by field name (the main one first)."""
        return {self.main: self.path, **self.extra}


def openapi_form(required: str, properties: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of a multipart form whose ``required`` file field must be
    sent, for a route's ``openapi_extra``."""
    schema = {"type": "object", "required": [required], "properties": properties}
    return {"requestBody": {"required": True,
                            "content": {"multipart/form-data": {"schema": schema}}}}


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


async def receive(request: Request, dest: Path, max_bytes: int, *,
                  file_fields: tuple[str, ...] = FILES,
                  text_fields: tuple[str, ...] = FIELDS) -> Upload:
    """Parse the multipart form of ``request``, writing its main file (the first of
    ``file_fields``: ``audio``, or a sync-check's ``video``) to ``dest`` and each other file, if
    any, beside it with its field name as suffix (e.g. ``.portrait``), as the bytes arrive.

    Raises :class:`UploadError` (413 oversize, 415 not a form, 507 disk full, 400 anything
    else malformed: no main file, an empty file, unknown or repeated fields) and
    :class:`Disconnected`. On any of them no file is left behind.
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
    targets = {main: dest, **{name: dest.with_suffix(f".{name}") for name in file_fields[1:]}}
    parser = _DirectParser(request.headers, _counted(request, max_bytes),
                           max_files=len(file_fields), max_fields=len(text_fields),
                           max_part_size=MAX_FIELD_BYTES, targets=targets)
    try:
        try:
            form = await parser.parse()
        except _TooLarge as e:
            raise UploadError(413, str(e)) from None
        except _Refused as e:
            raise UploadError(400, str(e)) from None
        except MultiPartException as e:
            raise UploadError(400, f"malformed form: {e}") from None
        except ClientDisconnect:
            raise Disconnected() from None
        except OSError as e:
            if disk_full(e):
                raise UploadError(507, DISK_FULL) from None
            raise
    except BaseException:
        for path in parser.opened.values():
            path.unlink(missing_ok=True)
        raise
    try:
        files: dict[str, UploadFile] = {}
        fields: dict[str, str] = {}
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
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
        size = files[main].size or 0
        if size == 0:
            raise UploadError(400, f"the {main} file is empty (0 bytes)")
        extra: dict[str, Path] = {}
        for name in file_fields[1:]:
            if name in files:
                if not files[name].size:
                    what = "portrait image" if name == "portrait" else f"{name} file"
                    raise UploadError(400, f"the {what} is empty (0 bytes)")
                extra[name] = targets[name]
        return Upload(dest, size, fields, extra, main)
    except BaseException:
        for path in parser.opened.values():
            path.unlink(missing_ok=True)
        raise
    finally:
        await form.close()
