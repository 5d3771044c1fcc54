"""Sync-check a folder of videos into one CSV report (one row per video, in parallel).

Columns: ``video`` (path relative to the folder), ``offset_ms``, ``confidence``,
``frames_used``, ``drift_ms_per_min``, ``status`` (``ok``, ``over`` the ``max_offset``,
``unknown`` offset, or ``error``), ``message`` (the warning or error, if any). A video that
fails is reported in its row; the others go on.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from visemic.errors import VisemicError
from visemic.outputs.atomic import write_text

VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts",
                    ".flv", ".wmv", ".3gp")
COLUMNS = ("video", "offset_ms", "confidence", "frames_used", "drift_ms_per_min", "status",
           "message")


@dataclass
class FolderReport:
    """Rows as written, and the path of the CSV."""

    rows: list[dict[str, Any]]
    path: Path

    @property
    def failed(self) -> int:
        return sum(r["status"] == "error" for r in self.rows)

    @property
    def over(self) -> int:
        return sum(r["status"] in ("over", "unknown") for r in self.rows)


def videos(folder: str | os.PathLike[str]) -> list[Path]:
    """The video files under ``folder`` (recursively, sorted)."""
    root = Path(folder)
    return sorted(p for p in root.rglob("*")
                  if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS
                  and not p.name.startswith("."))


def check_folder(folder: str | os.PathLike[str], report: str | os.PathLike[str], *,
                 language: str = "en", face: int = 0, max_offset: float | None = None,
                 workers: int | None = None,
                 on_row: Callable[[dict[str, Any]], None] | None = None) -> FolderReport:
    """Sync-check every video under ``folder``; write the CSV ``report`` (atomically)."""
    root = Path(folder)
    items = videos(root)
    if not items:
        raise VisemicError(f"{root}: no video files found (looked for "
                           f"{' '.join(VIDEO_EXTENSIONS)})")
    workers = max(1, min(workers or os.cpu_count() or 1, len(items)))
    jobs = [(str(p), str(p.relative_to(root)), language, face, max_offset) for p in items]
    rows: list[dict[str, Any]] = []
    if workers == 1:
        for job in jobs:
            rows.append(_row(job))
            if on_row:
                on_row(rows[-1])
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for row in pool.map(_row, jobs):
                rows.append(row)
                if on_row:
                    on_row(row)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(report, buf.getvalue())
    return FolderReport(rows, Path(report))


def _row(job: tuple[str, str, str, int, float | None]) -> dict[str, Any]:
    from visemic.sync.measure import sync_check

    path, name, language, face, max_offset = job
    row: dict[str, Any] = {"video": name, "offset_ms": "", "confidence": "", "frames_used": "",
                           "drift_ms_per_min": "", "status": "error", "message": ""}
    try:
        r = sync_check(path, language=language, face=face)
    except VisemicError as e:
        row["message"] = " ".join(str(e).split())
        return row
    except Exception as e:  # one broken file must not stop the report
        row["message"] = f"internal error ({type(e).__name__}: {e})"
        return row
    data = r.to_json()
    row.update(offset_ms="" if data["offset_ms"] is None else data["offset_ms"],
               confidence=data["confidence"], frames_used=data["frames_used"],
               drift_ms_per_min="" if data["drift_ms_per_min"] is None
               else data["drift_ms_per_min"],
               message="; ".join(r.warnings))
    if r.offset_ms is None:
        row["status"] = "unknown"
    elif max_offset is not None and abs(r.offset_ms) > max_offset:
        row["status"] = "over"
    else:
        row["status"] = "ok"
    return row
