"""Numbered picture files (``frames/%05d.png``): their names, and putting a finished set in place.

Every writer of numbered frames (the avatar's and portraits' PNGs, a dub's PNGs) renders into a
hidden folder beside the frames and calls :func:`publish` only when every frame is done, so a
failed run leaves no partial set presented as complete, and a shorter run leaves none of a
longer earlier run's frames behind.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path

PATTERN = re.compile(r"%0?(\d*)d")


def is_pattern(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names numbered PNG frames (a ``%d`` in a ``.png`` file name)."""
    text = os.fspath(path)
    return bool(PATTERN.search(Path(text).name)) and text.lower().endswith(".png")


def split(path: str | os.PathLike[str]) -> tuple[Path, str]:
    """(folder, file name pattern) of a frames path: ``frames/%05d.png``, or a folder (whose
    frames are then ``%05d.png``)."""
    text = os.fspath(path)
    if is_pattern(text):
        return Path(text).parent, Path(text).name
    return Path(text), "%05d.png"


def name(pattern: str, i: int) -> str:
    """Frame ``i``'s file name under ``pattern``."""
    m = PATTERN.search(pattern)
    width = int(m.group(1) or 0) if m else 5
    return PATTERN.sub(f"{i:0{width}d}", pattern, count=1)


def staging(folder: Path) -> Path:
    """A new hidden folder inside ``folder`` (made if missing) to render frames into."""
    folder.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{folder.name or 'frames'}.", suffix=".part",
                                 dir=folder))


def publish(staged: Path, folder: Path, pattern: str, count: int) -> None:
    """Move frames 0…count−1 from ``staged`` into ``folder``, then remove the frames of the same
    pattern numbered ``count`` or more (an earlier, longer run's)."""
    for i in range(count):
        os.replace(staged / name(pattern, i), folder / name(pattern, i))
    numbered = re.compile("^" + PATTERN.sub(r"(\\d+)", re.escape(pattern).replace(r"\%", "%"),
                                            count=1) + "$")
    for entry in folder.iterdir():
        m = numbered.match(entry.name)
        if m and int(m.group(1)) >= count and entry.is_file():
            with contextlib.suppress(OSError):
                entry.unlink()
