"""Jobs: asynchronous analyses whose state and results outlive the server process.

State lives in an embedded SQLite database (``DATA_DIR/jobs.sqlite3``); results are files under
``DATA_DIR/results`` and waiting uploads under ``DATA_DIR/uploads``, all named by the server from
the job id (a random hex string), never by a client. Worker processes update progress in the
database directly.

Restart policy: finished jobs (done or failed) and their results stay. Jobs that were queued or
running when the server stopped are marked failed ("interrupted") on the next start, and their
uploads are deleted: a client resubmits them. Only the newest ``max_jobs`` finished jobs are kept.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from visemic.errors import VisemicError, internal_error
from visemic.server import analysis
from visemic.server.pool import Cancelled, WorkerDied, WorkerPool

STATUSES = ("queued", "running", "done", "failed")
_ID = re.compile(r"[0-9a-f]{32}")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    request TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    result TEXT,
    size INTEGER,
    error TEXT
)
"""
INTERRUPTED = "interrupted: the server stopped before this job finished; submit it again"


@dataclass(frozen=True)
class Job:
    id: str
    status: str
    request: analysis.AnimateRequest
    progress: float
    created: float
    updated: float
    result: str | None  # file name under results/
    size: int | None
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        """The job as the API shows it."""
        out: dict[str, Any] = {
            "id": self.id, "status": self.status, "format": self.request.format,
            "progress": round(self.progress, 3), "created": self.created,
            "updated": self.updated, "request": self.request.to_dict(),
        }
        if self.status == "done":
            out["result"] = f"/v1/jobs/{self.id}/result"
            out["size"] = self.size
            out["media_type"] = self.request.media_type
        if self.error is not None:
            out["error"] = self.error
        return out


def valid_id(job_id: str) -> bool:
    return bool(_ID.fullmatch(job_id))


class JobStore:
    """The jobs table and the folders beside it. Safe to use from several processes."""

    def __init__(self, data_dir: str | Path, max_jobs: int = 1000) -> None:
        self.data_dir = Path(data_dir)
        self.db_path = self.data_dir / "jobs.sqlite3"
        self.results = self.data_dir / "results"
        self.uploads = self.data_dir / "uploads"
        self.max_jobs = max_jobs
        for folder in (self.data_dir, self.results, self.uploads):
            folder.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.db_path, timeout=30.0)
        try:
            with db:  # commit, or roll back on error
                yield db
        finally:
            db.close()

    @staticmethod
    def _job(row: tuple[Any, ...]) -> Job:
        (job_id, status, request, progress, created, updated, result, size, error) = row
        from visemic.server.dubbing import request_from_dict

        return Job(job_id, status, request_from_dict(json.loads(request)), progress,
                   created, updated, result, size, error)

    def create(self, request: Any) -> Job:
        now = time.time()
        job_id = uuid.uuid4().hex
        with self._db() as db:
            db.execute("INSERT INTO jobs (id, status, request, progress, created, updated) "
                       "VALUES (?, 'queued', ?, 0, ?, ?)",
                       (job_id, json.dumps(request.to_dict()), now, now))
        self.prune()
        job = self.get(job_id)
        assert job is not None
        return job

    def get(self, job_id: str) -> Job | None:
        if not valid_id(job_id):
            return None
        with self._db() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return self._job(row) if row else None

    def list(self, limit: int = 100) -> list[Job]:
        with self._db() as db:
            rows = db.execute("SELECT * FROM jobs ORDER BY created DESC LIMIT ?",
                              (limit,)).fetchall()
        return [self._job(r) for r in rows]

    def upload_path(self, job_id: str) -> Path:
        return self.uploads / f"{job_id}.audio"

    def portrait_path(self, job_id: str) -> Path:
        return self.uploads / f"{job_id}.portrait"

    def result_path(self, job: Job) -> Path | None:
        return self.results / job.result if job.result else None

    def set_running(self, job_id: str) -> None:
        self._update(job_id, "status = 'running'", ())

    def set_progress(self, job_id: str, progress: float) -> None:
        self._update(job_id, "progress = ?", (float(progress),))

    def finish(self, job_id: str, result: str, size: int) -> None:
        self._update(job_id, "status = 'done', progress = 1, result = ?, size = ?",
                     (result, size))

    def fail(self, job_id: str, error: str) -> None:
        self._update(job_id, "status = 'failed', error = ?", (error,))

    def _update(self, job_id: str, assignments: str, params: tuple[Any, ...]) -> None:
        with self._db() as db:
            db.execute(f"UPDATE jobs SET {assignments}, updated = ? WHERE id = ?",
                       (*params, time.time(), job_id))

    def delete(self, job_id: str) -> bool:
        job = self.get(job_id)
        if job is None:
            return False
        with self._db() as db:
            db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
        self._remove_files(job)
        return True

    def _remove_files(self, job: Job) -> None:
        path = self.result_path(job)
        # The job's uploads are all named after it (audio, portrait, a dub's video and clips).
        for p in (path, *self.uploads.glob(f"{job.id}.*")):
            if p is not None:
                with contextlib.suppress(OSError):
                    p.unlink()

    def prune(self) -> None:
        """Forget the oldest finished jobs beyond ``max_jobs``, results included."""
        with self._db() as db:
            rows = db.execute("SELECT * FROM jobs WHERE status IN ('done', 'failed') "
                              "ORDER BY created DESC LIMIT -1 OFFSET ?",
                              (self.max_jobs,)).fetchall()
            db.executemany("DELETE FROM jobs WHERE id = ?", [(r[0],) for r in rows])
        for row in rows:
            self._remove_files(self._job(row))

    def recover(self) -> int:
        """On start: mark jobs left queued or running failed, drop stray files; returns how many
        jobs were interrupted."""
        with self._db() as db:
            count = db.execute("UPDATE jobs SET status = 'failed', error = ?, updated = ? "
                               "WHERE status IN ('queued', 'running')",
                               (INTERRUPTED, time.time())).rowcount
            kept = {r[0] for r in db.execute("SELECT result FROM jobs WHERE result IS NOT NULL")}
        for path in self.uploads.iterdir():
            with contextlib.suppress(OSError):
                path.unlink()
        for path in self.results.iterdir():  # half-written renders of killed workers
            if path.name not in kept:
                with contextlib.suppress(OSError):
                    path.unlink()
        return count


# Progress is written at most this often (seconds): each write is a database transaction.
PROGRESS_INTERVAL = 0.25


def job_progress(data_dir: str, job_id: str) -> Callable[[float], None]:
    """Mark the job running (in a worker process) and return its progress callback, which
    writes into the database at most every :data:`PROGRESS_INTERVAL` seconds."""
    store = JobStore(data_dir)
    store.set_running(job_id)
    last = [0.0]

    def progress(p: float) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_INTERVAL:
            last[0] = now
            store.set_progress(job_id, p)

    return progress


def execute(data_dir: str, job_id: str, request: analysis.AnimateRequest, audio_path: str,
            out_path: str, portrait_path: str | None = None,
            max_duration: float | None = None) -> int:
    """Run one job (in a worker process): analysis + export, progress into the database.
    Returns the size of the result file."""
    analysis.run(request, audio_path, out_path, job_progress(data_dir, job_id), portrait_path,
                 max_duration)
    return Path(out_path).stat().st_size


def describe_failure(error: BaseException) -> str:
    """One line for a client: the user-facing message, or (a bug) only an incident id whose
    details go to the server log (see :mod:`visemic.errors`)."""
    if isinstance(error, VisemicError):
        return " ".join(str(error).split())
    if isinstance(error, WorkerDied):
        return internal_error(error, "the worker process died")
    return internal_error(error)


class JobRunner:
    """Submits jobs to the worker pool and records how they end."""

    def __init__(self, store: JobStore, pool: WorkerPool,
                 max_duration: float | None = None) -> None:
        self.store = store
        self.pool = pool
        self.max_duration = max_duration
        self._futures: dict[str, Future[Any]] = {}

    def submit(self, job: Job) -> Future[Any]:
        """Start ``job``, whose audio is already at ``store.upload_path(job.id)`` (and its
        portrait, if it has one, at ``store.portrait_path(job.id)``).
        Raises :class:`visemic.server.pool.Busy` when the pool is full."""
        result_name = f"{job.id}{job.request.extension}"
        upload = self.store.upload_path(job.id)
        portrait = self.store.portrait_path(job.id)
        out = str(self.store.results / result_name)
        if getattr(job.request, "kind", "") == "dub":
            from visemic.server import dubbing

            files = {n: self.store.uploads / f"{job.id}.{n}" for n in dubbing.FILES}
            future = self.pool.submit(
                dubbing.execute, str(self.store.data_dir), job.id, job.request,
                str(files["video"]), str(files["audio"]) if job.request.audio else None,
                str(files["mouth_from"]) if job.request.mouth_from else None, out)
        else:
            future = self.pool.submit(execute, str(self.store.data_dir), job.id, job.request,
                                      str(upload), out,
                                      str(portrait) if job.request.portrait else None,
                                      self.max_duration)
        self._futures[job.id] = future

        def done(f: Future[Any]) -> None:
            self._futures.pop(job.id, None)
            try:
                if f.cancelled() or isinstance(f.exception(), Cancelled):
                    self.store.fail(job.id, INTERRUPTED)
                elif f.exception() is not None:
                    self.store.fail(job.id, describe_failure(f.exception()))
                else:
                    self.store.finish(job.id, result_name, int(f.result()))
            finally:
                for path in self.store.uploads.glob(f"{job.id}.*"):
                    with contextlib.suppress(OSError):
                        path.unlink()

        future.add_done_callback(done)
        return future

    def cancel(self, job_id: str) -> bool:
        """Stop the job if it is queued or running (its worker process is killed); False if it
        is not running here."""
        future = self._futures.get(job_id)
        return future is not None and self.pool.cancel(future)
