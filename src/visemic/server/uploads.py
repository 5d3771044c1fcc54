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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect, Request

# Fields an animate request may carry besides the audio (and the optional portrait image).
FIELDS = ("text", "language", "format", "fps", "emotion")
FILES = ("audio", "portrait")
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
            raise _Refused(f"unexpected file field {name[:40]!r}; the audio goes in the field "
                           "'audio' (a portrait in 'portrait')")
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
    """The audio, written to ``path`` (``size`` bytes), the text fields sent with it, and the
    portrait image's path when one was sent."""

    path: Path
    size: int
    fields: dict[str, str]
    portrait: Path | None = None


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


async def receive(request: Request, dest: Path, max_bytes: int) -> Upload:
    """Parse the multipart form of ``request``, writing its ``audio`` file to ``dest`` (and a
    ``portrait`` image, if any, beside it with the suffix ``.portrait``).

    Raises :class:`UploadError` (413 oversize, 415 not a form, 507 disk full, 400 anything
    else malformed: no audio, an empty file, unknown or repeated fields) and
    :class:`Disconnected`. On any of them no file is left behind.
    """
    ctype = request.headers.get("content-type", "")
    if not ctype.lower().startswith("multipart/form-data"):
        raise UploadError(415, "send the audio as multipart/form-data in a field named 'audio'"
                               f" (got content type {ctype[:80] or 'none'!r})")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise UploadError(413, f"the upload ({int(declared)} bytes) is larger than the limit of "
                               f"{_limit_text(max_bytes)}")
    portrait_path = dest.with_suffix(".portrait")
    parser = _DirectParser(request.headers, _counted(request, max_bytes), max_files=len(FILES),
                           max_fields=len(FIELDS), max_part_size=MAX_FIELD_BYTES,
                           targets={"audio": dest, "portrait": portrait_path})
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
            elif name in FILES:
                raise UploadError(400, f"the field {name!r} must be a file, not text")
            elif name not in FIELDS:
                raise UploadError(400, f"unknown field {name[:40]!r}; fields: "
                                       f"{', '.join(FILES + FIELDS)}")
            elif name in fields:
                raise UploadError(400, f"the field {name!r} is given twice")
            else:
                fields[name] = value
        if "audio" not in files:
            raise UploadError(400, "no audio: send the file in a form field named 'audio'")
        size = files["audio"].size or 0
        if size == 0:
            raise UploadError(400, "the audio file is empty (0 bytes)")
        portrait = None
        if "portrait" in files:
            portrait = portrait_path
            if not files["portrait"].size:
                raise UploadError(400, "the portrait image is empty (0 bytes)")
        return Upload(dest, size, fields, portrait)
    except BaseException:
        for path in parser.opened.values():
            path.unlink(missing_ok=True)
        raise
    finally:
        await form.close()
