"""``run_batch``: lip-sync every item of a folder or manifest into OUTDIR, resumably.

Each run: find the items, hash each one's input and settings (see
:func:`visemic.batch.job.content_key`), skip those whose journalled outputs are current, run the
rest on local worker processes or Ray, write each item's outputs as soon as it is done, and end
with ``manifest.csv`` (every item, its files and key) and ``failures.csv`` (items that failed and
why). A failed item never stops the batch; it is tried again on the next run.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol, TextIO

from visemic.batch.inputs import Defaults, Item, discover
from visemic.batch.job import (
    OUTPUT_SUFFIXES,
    Job,
    Outcome,
    audio_digest,
    content_key,
    file_digest,
    output_files,
)
from visemic.batch.output_folder import FAILURES, MANIFEST, RESERVED, OutputFolder
from visemic.errors import VisemicError
from visemic.limits import check_fps
from visemic.outputs import formats as formats_mod

MANIFEST_COLUMNS = ("output", "audio", "language", "status", "files", "key")
FAILURE_COLUMNS = ("output", "audio", "reason")


class Backend(Protocol):
    shared_filesystem: bool
    workers: int
    description: str

    def run(self, jobs: Iterator[Job]) -> Iterator[Outcome]: ...

    def close(self) -> None: ...


@dataclass
class BatchReport:
    """What a run did. ``made``/``reused``/``failed`` hold output names (``failed`` with the
    reason); ``seconds`` is the wall time spent running items, ``audio_seconds`` the length of
    the audio they held."""

    outdir: Path
    total: int
    made: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    audio_seconds: float = 0.0
    backend: str = ""

    @property
    def clips_per_second(self) -> float:
        return len(self.made) / self.seconds if self.seconds > 0 else 0.0

    @property
    def manifest(self) -> Path:
        return self.outdir / MANIFEST

    @property
    def failures(self) -> Path:
        return self.outdir / FAILURES


def parse_formats(spec: str | Sequence[str]) -> tuple[str, ...]:
    """Format names from ``"json,rhubarb-tsv"`` or a list (aliases such as ``tsv`` accepted),
    in order, without repeats. Raises :class:`VisemicError` for unknown or video formats."""
    parts = spec.split(",") if isinstance(spec, str) else list(spec)
    names: list[str] = []
    for part in parts:
        if not part.strip():
            continue
        name = formats_mod.resolve_format(formats_mod.STDOUT, part)
        if name not in OUTPUT_SUFFIXES:
            raise VisemicError(f"format {name!r} is not available in batch runs (text formats "
                               f"only: {', '.join(OUTPUT_SUFFIXES)})")
        if name not in names:
            names.append(name)
    if not names:
        raise VisemicError("no output format given")
    return tuple(names)


def default_workers() -> int:
    """The CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_batch(inputs: str | os.PathLike[str], outdir: str | os.PathLike[str], *,
              formats: str | Sequence[str] = ("json",), workers: int | None = None,
              ray: str | None = None, language: str | None = None, fps: float = 60.0,
              method: str = "whisper", progress: bool = False,
              stream: TextIO | None = None) -> BatchReport:
    """Lip-sync every item of ``inputs`` (a folder of audio with same-name .txt/.lab
    transcripts, or a CSV manifest; see :mod:`visemic.batch.inputs`) into ``outdir``.

    ``formats``: text export formats (``json``, ``csv``, ``rhubarb-tsv`` …), one file each per
    item. ``workers``: local processes (default: all cores), or with ``ray`` (an address or
    ``"auto"``, see :mod:`visemic.batch.ray_backend`) the most Ray tasks at once. ``language``,
    ``fps`` and ``method`` are defaults that manifest columns override. ``progress`` draws
    done/total, clips/s and ETA on ``stream`` (stderr). Items already made from the same input
    and settings are reused. Raises :class:`VisemicError` when the batch cannot run at all
    (bad inputs, unwritable or busy ``outdir``); a failing item is recorded instead.

    Local workers are started with ``spawn``, which re-imports the calling script: call this
    from a module or under ``if __name__ == "__main__":``, not from ``python -c`` or stdin.
    """
    fmts = parse_formats(formats)
    fps = check_fps(fps)
    if workers is not None and workers < 1:
        raise VisemicError(f"workers must be at least 1, got {workers}")
    out = Path(outdir)
    if out.exists() and not out.is_dir():
        raise VisemicError(f"{outdir}: exists and is not a folder")
    items = discover(inputs, Defaults(language=language, fps=fps, method=method), exclude=out)
    files = {item.name: output_files(item.name, fmts, item.video is not None) for item in items}
    _check_files(items, files)
    report = BatchReport(outdir=out, total=len(items))
    stream = stream if stream is not None else sys.stderr
    with OutputFolder(out) as folder:
        todo: list[tuple[Item, Job]] = []
        for index, item in enumerate(items):
            job = Job(index=index, name=item.name, audio_name=item.audio_name, text=item.text,
                      language=item.language, fps=item.fps, method=item.method, formats=fmts,
                      video_name=item.video_name)
            if item.problem is not None:
                report.failed.append((item.name, item.problem))
                continue
            try:
                digest = audio_digest(item.audio.read_bytes())
            except OSError as e:
                report.failed.append((item.name, _unreadable(item, e)))
                continue
            video_digest = None
            if item.video is not None:
                try:
                    video_digest = file_digest(item.video)
                except OSError as e:
                    report.failed.append((item.name, f"{item.video_name}: {e.strerror or e}"))
                    continue
            if folder.is_current(item.name, content_key(digest, job, video_digest),
                                 files[item.name]):
                report.reused.append(item.name)
            else:
                todo.append((item, job))
        if todo:
            backend = _backend(ray, workers, len(todo))
            report.backend = backend.description
            try:
                _run(todo, backend, folder, report, progress, stream)
            finally:
                backend.close()
        failed = dict(report.failed)
        folder.write_table(FAILURES, FAILURE_COLUMNS,
                           [(i.name, i.audio_name, failed[i.name]) for i in items
                            if i.name in failed])
        folder.write_table(MANIFEST, MANIFEST_COLUMNS, _manifest_rows(items, files, failed,
                                                                      folder))
    return report


def _check_files(items: list[Item], files: dict[str, list[str]]) -> None:
    """No output may overwrite the batch's own tables or another item's output."""
    owner: dict[str, str] = {}
    for item in items:
        for f in files[item.name]:
            if f in RESERVED:
                raise VisemicError(f"output {f!r} of {item.audio_name!r} would overwrite the "
                                   "batch's own table; give the item another output name")
            other = owner.setdefault(f.casefold(), item.audio_name)
            if other != item.audio_name:
                raise VisemicError(f"{other!r} and {item.audio_name!r} would both write {f!r}; "
                                   "give them distinct output names")


def _unreadable(item: Item, e: OSError) -> str:
    if isinstance(e, FileNotFoundError):
        return f"{item.audio_name}: no such file"
    if isinstance(e, IsADirectoryError):
        return f"{item.audio_name}: is a directory, not an audio file"
    return f"{item.audio_name}: {e.strerror or e}"


def _backend(ray: str | None, workers: int | None, jobs: int) -> Backend:
    if ray is not None:
        from visemic.batch.ray_backend import RayCluster

        return RayCluster(ray, workers)
    from visemic.batch.local_pool import LocalPool

    return LocalPool(min(workers or default_workers(), jobs))


def _jobs(todo: list[tuple[Item, Job]], shared_filesystem: bool,
          report: BatchReport) -> Iterator[Job]:
    """The jobs, reading each one's audio just before it is handed out when workers need the
    bytes (so only the jobs in flight are held in memory)."""
    for item, job in todo:
        if shared_filesystem:
            yield replace(job, audio_path=str(item.audio.resolve()),
                          video_path=str(item.video.resolve()) if item.video else None)
            continue
        try:
            data = item.audio.read_bytes()
            video = item.video.read_bytes() if item.video is not None else None
        except OSError as e:
            report.failed.append((item.name, _unreadable(item, e)))
            continue
        yield replace(job, audio_bytes=data, video_bytes=video)


def _run(todo: list[tuple[Item, Job]], backend: Backend, folder: OutputFolder,
         report: BatchReport, progress: bool, stream: TextIO) -> None:
    from visemic.progress import Progress

    by_index = {job.index: item for item, job in todo}
    bar = Progress("batch", stream) if progress else None
    start = time.monotonic()
    finished = 0
    try:
        for outcome in backend.run(_jobs(todo, backend.shared_filesystem, report)):
            item = by_index[outcome.index]
            if outcome.error is not None:
                report.failed.append((item.name, outcome.error))
            else:
                folder.write_item(item.name, outcome.key, outcome.files)
                report.made.append(item.name)
                report.audio_seconds += outcome.duration
            finished += 1
            report.seconds = time.monotonic() - start
            if bar is not None:
                rate = finished / report.seconds if report.seconds > 0 else 0.0
                done = len(report.made) + len(report.reused) + len(report.failed)
                failed = f", {len(report.failed)} failed" if report.failed else ""
                bar.label = f"batch {done}/{report.total} {rate:.1f} clips/s{failed}"
                bar(finished / len(todo))
    finally:
        report.seconds = time.monotonic() - start
        if bar is not None:
            bar.close()


def _manifest_rows(items: list[Item], files: dict[str, list[str]], failed: dict[str, str],
                   folder: OutputFolder) -> Iterator[tuple[str, ...]]:
    for item in items:
        if item.name in failed:
            yield (item.name, item.audio_name, item.language or "", "failed", "", "")
        else:
            record = folder.records[item.name]
            yield (item.name, item.audio_name, item.language or "", "ok",
                   ";".join(files[item.name]), record.key)
