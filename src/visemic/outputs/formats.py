"""``Result.save``: pick an exporter from the format name or the file's extension, write atomically.

Text formats (DESIGN.md §2):

=============  ========  =====================================================================
format         suffix    content
=============  ========  =====================================================================
json           .json     the full result (timeline, curves, viseme tracks)
csv            .csv      Live Link Face take layout (:mod:`visemic.outputs.livelink`)
rhubarb-tsv    .tsv      Rhubarb Lip Sync formats (:mod:`visemic.outputs.rhubarb_formats`)
rhubarb-xml    .xml
rhubarb-json   (name)
rhubarb-dat    .dat
phones         (name)    the phonetic timeline only
gltf           .gltf     glTF 2.0: the curves as morph-target weights (:mod:`visemic.outputs.gltf`)
glb            .glb      the same as binary glTF
=============  ========  =====================================================================

Video (``mp4``, ``webm``, ``png`` for a PNG sequence) goes to
:func:`visemic.outputs.video.write_video`. The path ``-`` writes a text format to stdout.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

from visemic.errors import VisemicError
from visemic.outputs import atomic, gltf, json_export, livelink, rhubarb_formats

if TYPE_CHECKING:
    from visemic.result import Result

STDOUT = "-"


@dataclass(frozen=True)
class Exporter:
    name: str
    write: Callable[..., None]
    # Accepted keyword options and their defaults (anything else is an error, so a typo in an
    # option is never silently ignored).
    options: dict[str, Any]
    description: str
    binary: bool = False  # ``write`` takes a binary stream


EXPORTERS: dict[str, Exporter] = {
    e.name: e for e in (
        Exporter("json", json_export.write_full, {}, "full result: timeline, curves, visemes"),
        Exporter("csv", livelink.write_csv, {"head_units": "normalized"},
                 "Live Link Face CSV (ARKit-52 + head rotation)"),
        Exporter("rhubarb-tsv", rhubarb_formats.write_tsv, {"extended": "GHX"},
                 "Rhubarb Lip Sync TSV"),
        Exporter("rhubarb-xml", rhubarb_formats.write_xml,
                 {"extended": "GHX", "sound_file": None}, "Rhubarb Lip Sync XML"),
        Exporter("rhubarb-json", rhubarb_formats.write_json,
                 {"extended": "GHX", "sound_file": None}, "Rhubarb Lip Sync JSON"),
        Exporter("rhubarb-dat", rhubarb_formats.write_dat,
                 {"extended": "GHX", "dat_fps": 24.0, "preston_blair": False},
                 "Moho/OpenToonz switch data (Rhubarb DAT)"),
        Exporter("phones", json_export.write_phones, {}, "phonetic timeline (IPA) as JSON"),
        Exporter("gltf", gltf.write_gltf, {},
                 "glTF 2.0 animation: ARKit-52 morph-target weights and head rotation"),
        Exporter("glb", gltf.write_glb, {}, "the glTF animation as one binary .glb", True),
    )
}

VIDEO_FORMATS = ("mp4", "webm", "png")

# Extension → format for text formats; video paths are recognised by the video writer
# (.mp4/.m4v/.mov, .webm, a folder or a ``frames/%05d.png`` pattern for a PNG sequence).
EXTENSIONS: dict[str, str] = {
    ".json": "json", ".csv": "csv", ".tsv": "rhubarb-tsv", ".xml": "rhubarb-xml",
    ".dat": "rhubarb-dat", ".gltf": "gltf", ".glb": "glb",
}
# Used when the video writer is not installed, so that the error names the real problem.
_VIDEO_EXTENSIONS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mp4", ".webm": "webm", ".png": "png"}

ALIASES = {"tsv": "rhubarb-tsv", "xml": "rhubarb-xml", "dat": "rhubarb-dat", "png-sequence": "png"}


def format_names() -> list[str]:
    """Every format name ``save`` accepts."""
    return [*EXPORTERS, *VIDEO_FORMATS]


def _valid() -> str:
    exts = ", ".join([*EXTENSIONS, ".mp4", ".webm", "DIR/ or frames/%05d.png"])
    return f"formats: {', '.join(format_names())}; extensions: {exts}"


def _video_format(path: str | os.PathLike[str]) -> str | None:
    try:
        from visemic.outputs.video import video_format
    except ImportError:
        return _VIDEO_EXTENSIONS.get(Path(path).suffix.lower())
    return video_format(path)


def resolve_format(path: str | os.PathLike[str], format: str | None = None) -> str:
    """The format to write ``path`` in: ``format`` if given, else the one its extension implies.

    Raises :class:`VisemicError` naming the valid choices when neither gives a known format.
    """
    if format is not None:
        name = ALIASES.get(format.strip().lower(), format.strip().lower())
        if name not in EXPORTERS and name not in VIDEO_FORMATS:
            raise VisemicError(f"unknown format {format!r}; {_valid()}")
        return name
    if os.fspath(path) == STDOUT:
        raise VisemicError(f"writing to stdout needs an explicit format; {_valid()}")
    suffix = Path(path).suffix.lower()
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    video = _video_format(path)
    if video is not None:
        return video
    shown = f"extension {suffix!r}" if suffix else "no extension"
    raise VisemicError(f"cannot tell the output format from {os.fspath(path)!r} ({shown});"
                       f" give a format. Valid {_valid()}")


def is_video(format: str) -> bool:
    return format in VIDEO_FORMATS


def is_binary(format: str) -> bool:
    """Whether ``format`` is an export written as bytes (``render_bytes``, not ``render``)."""
    exporter = EXPORTERS.get(format)
    return exporter is not None and exporter.binary


def check_options(format: str, options: dict[str, Any]) -> dict[str, Any]:
    """The exporter's options with defaults filled in; unknown ones are an error."""
    if is_video(format):
        return dict(options)
    accepted = EXPORTERS[format].options
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        allowed = ", ".join(accepted) or "none"
        raise VisemicError(f"option(s) {', '.join(unknown)} do not apply to format {format}"
                           f" (accepted: {allowed})")
    return {**accepted, **options}


def write(result: Result, out: TextIO | BinaryIO, format: str, **options: Any) -> None:
    """Write a format to an open stream: a text stream, or a binary one for binary formats."""
    if is_video(format):
        raise VisemicError(f"{format} is a video format; it needs a file path, not a stream")
    opts = check_options(format, options)
    EXPORTERS[format].write(result, out, **opts)


def render(result: Result, format: str, **options: Any) -> str:
    """A text format as a string (for small results, servers and tests)."""
    if is_binary(format):
        raise VisemicError(f"{format} is a binary format; use render_bytes")
    buf = io.StringIO()
    write(result, buf, format, **options)
    return buf.getvalue()


def render_bytes(result: Result, format: str, **options: Any) -> bytes:
    """Any export format as the bytes of its file (text formats in UTF-8)."""
    if is_binary(format):
        buf = io.BytesIO()
        write(result, buf, format, **options)
        return buf.getvalue()
    return render(result, format, **options).encode("utf-8")


def _stdout_text() -> TextIO:
    # UTF-8 regardless of the locale: IPA symbols and non-ASCII paths must come through.
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        return sys.stdout
    return io.TextIOWrapper(buffer, encoding="utf-8", newline="\n", write_through=False)


def save(result: Result, path: str | os.PathLike[str], format: str | None = None,
         **options: Any) -> Path:
    """Write ``result`` to ``path`` (``"-"``: stdout) in ``format`` (default: from the extension).

    Text files appear complete or not at all (written to a temporary file, then renamed).
    Options: ``extended`` (Rhubarb formats: enabled extended shapes, default "GHX"),
    ``sound_file`` (Rhubarb XML/JSON metadata; default the audio's absolute path),
    ``dat_fps`` (24–100) and ``preston_blair`` (DAT), ``head_units`` (CSV: "normalized",
    "radians" or "degrees"); video options go to :func:`visemic.outputs.video.write_video`.
    Returns the path written.
    """
    name = resolve_format(path, format)
    if is_video(name):
        if os.fspath(path) == STDOUT:
            raise VisemicError(f"{name} video cannot be written to stdout; give a file name")
        return _save_video(result, path, name, format is not None, options)
    opts = check_options(name, options)
    binary = is_binary(name)
    if os.fspath(path) == STDOUT and binary:
        sys.stdout.flush()
        raw = getattr(sys.stdout, "buffer", None)
        if raw is None:
            raise VisemicError(f"{name} is binary and this stdout takes text only; give a file")
        EXPORTERS[name].write(result, raw, **opts)
        raw.flush()
        return Path(STDOUT)
    if os.fspath(path) == STDOUT:
        sys.stdout.flush()  # keep anything already printed ahead of the export
        out = _stdout_text()
        try:
            EXPORTERS[name].write(result, out, **opts)
        finally:
            out.flush()
            if out is not sys.stdout:
                out.detach()  # leave sys.stdout's buffer open for the caller
        return Path(STDOUT)
    final = Path(path)
    if final.is_dir():
        raise VisemicError(f"{final} is a directory; give a file name")
    try:
        with atomic.atomic_path(final) as tmp:
            if binary:
                with open(tmp, "wb") as fb:
                    EXPORTERS[name].write(result, fb, **opts)
            else:
                with open(tmp, "w", encoding="utf-8", newline="\n") as fp:
                    EXPORTERS[name].write(result, fp, **opts)
            # The temporary file is private (0600); give the result the usual permissions.
            os.chmod(tmp, 0o666 & ~_umask())
    except OSError as e:
        raise VisemicError(f"cannot write {final}: {e.strerror or e}") from e
    return final


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _save_video(result: Result, path: str | os.PathLike[str], format: str, explicit: bool,
                options: dict[str, Any]) -> Path:
    try:
        from visemic.outputs.video import write_video
    except ImportError as e:
        raise VisemicError(f"video output ({format}) is not available in this installation:"
                           f" {e}") from e
    if explicit:
        options = {"format": format, **options}
    written = write_video(result, path, **options)
    return Path(written) if written is not None else Path(path)
