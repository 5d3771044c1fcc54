"""What a batch is made of: the items found in a folder of audio files or listed in a CSV manifest.

A folder: every audio file under it (sub-folders included, hidden names skipped), each with an
optional transcript of the same name ending in ``.txt`` (preferred) or ``.lab``. The output name
is the file's path relative to the folder without its extension (``act1/line_001``).

A CSV manifest (UTF-8, first row a header): :data:`CSV_COLUMNS`. ``audio`` is required, a path
relative to the CSV's folder (or absolute); ``text`` empty means "no transcript, recognise";
``language``, ``fps`` and ``method`` empty mean the batch's defaults; ``output`` is the name stem
of the item's outputs inside OUTDIR (default: the audio path without its extension); ``video``
(optional) a video of a person to dub with the item's audio (output ``NAME.dub.mp4``).

Problems with the batch as a whole (no such folder, a bad header, an output name that leaves
OUTDIR, two items with one output name) raise :class:`VisemicError`; problems with one item (an
unreadable transcript, a bad fps) are kept on the item and reported as its failure.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from visemic import textfile
from visemic.errors import VisemicError
from visemic.limits import check_fps

# Extensions of the files a folder batch picks up (what ffmpeg decodes that people ship speech in).
AUDIO_EXTENSIONS = frozenset({
    ".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".aif", ".aiff", ".caf",
    ".wma",
})
# Transcript beside an audio file, in order of preference.
TRANSCRIPT_EXTENSIONS = (".txt", ".lab")

CSV_COLUMNS = ("audio", "text", "language", "output", "fps", "method", "video")
METHODS = ("whisper", "phones", "words")


@dataclass(frozen=True)
class Defaults:
    """Settings for items that do not set their own."""

    language: str | None = None  # None: detected (Whisper), or en with a transcript
    fps: float = 60.0
    method: str = "whisper"


@dataclass(frozen=True)
class Item:
    """One clip to lip-sync.

    ``name``: output stem inside OUTDIR (POSIX, relative). ``audio``: the file to read.
    ``audio_name``: how outputs refer to the audio (relative to the folder or as written in the
    manifest), the same wherever the batch runs. ``problem``: why the item cannot be run, found
    while reading the inputs (it is then reported as a failure, the batch goes on).
    """

    name: str
    audio: Path
    audio_name: str
    text: str | None
    language: str | None
    fps: float
    method: str
    problem: str | None = None
    video: Path | None = None
    video_name: str | None = None


def discover(inputs: str | os.PathLike[str], defaults: Defaults = Defaults(),
             exclude: Path | None = None) -> list[Item]:
    """The items of a folder or CSV manifest, in a stable order.

    ``exclude`` is a folder to skip while scanning (the batch's own output folder, when it lies
    inside the input folder). Raises :class:`VisemicError` when the inputs cannot make a batch,
    including an empty one.
    """
    path = Path(inputs)
    if not path.exists():
        raise VisemicError(f"{inputs}: no such folder or CSV manifest")
    if path.is_dir():
        items = _from_folder(path, defaults, exclude)
        where = f"{inputs}: no audio files in the folder (looked for " \
                f"{', '.join(sorted(AUDIO_EXTENSIONS))})"
    elif path.suffix.lower() == ".csv":
        items = _from_csv(path, defaults)
        where = f"{inputs}: the manifest lists no items"
    else:
        raise VisemicError(f"{inputs}: not a folder or a .csv manifest")
    if not items:
        raise VisemicError(where)
    _check_unique(items, str(inputs))
    return items


def _from_folder(root: Path, defaults: Defaults, exclude: Path | None) -> list[Item]:
    skip = exclude.resolve() if exclude is not None else None
    items = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames
                             if not d.startswith(".") and (here / d).resolve() != skip)
        for filename in sorted(filenames):
            audio = here / filename
            if filename.startswith(".") or audio.suffix.lower() not in AUDIO_EXTENSIONS:
                continue
            rel = PurePosixPath(audio.relative_to(root).as_posix())
            text, problem = _transcript_beside(audio)
            items.append(Item(name=str(rel.with_suffix("")), audio=audio, audio_name=str(rel),
                              text=text, language=defaults.language, fps=defaults.fps,
                              method=defaults.method, problem=problem))
    return items


def _transcript_beside(audio: Path) -> tuple[str | None, str | None]:
    """(transcript, problem) from ``audio``'s same-name .txt or .lab file, if there is one."""
    for ext in TRANSCRIPT_EXTENSIONS:
        path = audio.with_suffix(ext)
        if not path.is_file():
            continue
        try:
            text = textfile.decode(path.read_bytes())
        except ValueError as e:
            return None, f"transcript {path.name} {e}"
        except OSError as e:
            return None, f"transcript {path.name}: {e.strerror or e}"
        if not text.strip():
            return None, f"transcript {path.name} is empty"
        return text.strip(), None
    return None, None


def _from_csv(manifest: Path, defaults: Defaults) -> list[Item]:
    text = textfile.read_text(manifest, "manifest")
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as e:
        raise VisemicError(f"{manifest}: not a readable CSV file ({e})") from None
    if not rows:
        raise VisemicError(f"{manifest}: the manifest is empty (expected a header row: "
                           f"{','.join(CSV_COLUMNS)})")
    header = [h.strip().lower() for h in rows[0]]
    unknown = [h for h in header if h not in CSV_COLUMNS]
    repeated = sorted({h for h in header if header.count(h) > 1})
    if unknown or repeated or "audio" not in header:
        why = (f"unknown column(s) {', '.join(repr(h) for h in unknown)}" if unknown else
               f"repeated column(s) {', '.join(repeated)}" if repeated else
               "no 'audio' column")
        raise VisemicError(f"{manifest}: bad header: {why}; columns are audio (required), "
                           "text, language, output, fps, method, video")
    base = manifest.parent
    items = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            raise VisemicError(f"{manifest}, line {line}: {len(row)} fields, the header has "
                               f"{len(header)} (quote fields that contain commas)")
        cells = {h: (row[i] if i < len(row) else "") for i, h in enumerate(header)}
        items.append(_csv_item(manifest, base, line, cells, defaults))
    return items


def _csv_item(manifest: Path, base: Path, line: int, cells: dict[str, str],
              defaults: Defaults) -> Item:
    where = f"{manifest}, line {line}"
    audio_name = cells["audio"].strip()
    if not audio_name:
        raise VisemicError(f"{where}: the audio field is empty")
    output = cells.get("output", "").strip() or _default_output(audio_name)
    name = safe_name(output, where)
    problems = []
    fps = defaults.fps
    if cells.get("fps", "").strip():
        try:
            fps = check_fps(cells["fps"].strip())
        except VisemicError as e:
            problems.append(str(e))
            fps = defaults.fps
    method = cells.get("method", "").strip().lower() or defaults.method
    if method not in METHODS:
        problems.append(f"method must be one of {', '.join(METHODS)}, got {cells['method']!r}")
        method = defaults.method
    text = cells.get("text", "").strip() or None
    video_name = cells.get("video", "").strip() or None
    return Item(name=name, audio=base / audio_name, audio_name=audio_name.replace("\\", "/"),
                text=text, language=cells.get("language", "").strip() or defaults.language,
                fps=fps, method=method, problem="; ".join(problems) or None,
                video=base / video_name if video_name else None,
                video_name=video_name.replace("\\", "/") if video_name else None)


def _default_output(audio_name: str) -> str:
    path = PurePosixPath(audio_name.replace("\\", "/"))
    stem = str(path.with_suffix(""))
    try:
        return safe_name(stem, "")
    except VisemicError:  # an absolute or ../ audio path: keep only the file's own name
        return path.stem


def safe_name(output: str, where: str) -> str:
    """``output`` as a relative POSIX name that stays inside OUTDIR, or :class:`VisemicError`.

    Absolute names, ``..`` and hidden components (``.x``, which the batch uses for its own
    bookkeeping and temporary files) are refused.
    """
    text = output.replace("\\", "/")
    parts = text.split("/")
    bad = (not text or text.startswith("/") or "\0" in text
           or (len(parts[0]) >= 2 and parts[0][1] == ":")  # a Windows drive (C:)
           or any(not p or p.startswith(".") for p in parts))
    if bad:
        prefix = f"{where}: " if where else ""
        raise VisemicError(f"{prefix}output name {output!r} must be a relative name inside the "
                           "output folder (no absolute path, no '..', no hidden parts)")
    return "/".join(parts)


def _check_unique(items: list[Item], inputs: str) -> None:
    seen: dict[str, Item] = {}
    for item in items:
        key = item.name.casefold()  # two names differing in case collide on macOS/Windows
        if key in seen:
            raise VisemicError(f"{inputs}: {seen[key].audio_name!r} and {item.audio_name!r} "
                               f"both make output {item.name!r}; give them distinct names")
        seen[key] = item
