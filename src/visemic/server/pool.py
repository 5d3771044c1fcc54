"""A bounded pool of worker processes for analyses and renders.

Processes rather than threads: analyses are CPU-bound Python and NumPy, so processes run them
truly in parallel, and a crash in a native library takes down one worker, not the server. The
pool holds at most ``max_pending`` tasks (running + waiting); beyond that :class:`Busy` is raised
so that a flood of requests is refused rather than queued without limit.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any


class Busy(Exception):
    """The pool already holds as many tasks as it may."""


def _ignore_interrupts() -> None:
    # Ctrl-C reaches the whole process group; the server decides what happens to its workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from visemic.phonetics import whisper

    whisper.set_threads(1)  # the workers run side by side, a core each


class WorkerPool:
    """``submit(fn, *args)`` → a Future, run in one of ``workers`` spawned processes."""

    def __init__(self, workers: int = 2, max_pending: int = 16) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self.max_pending = max(workers, max_pending)
        self._lock = threading.Lock()
        self._pending = 0
        self._executor: ProcessPoolExecutor | None = None

    @property
    def pending(self) -> int:
        return self._pending

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # spawn: the server has threads (uvicorn, the stream engines); fork would copy them
            # mid-flight.
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_ignore_interrupts)
        return self._executor

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Queue ``fn(*args)``; raises :class:`Busy` when ``max_pending`` tasks are held."""
        with self._lock:
            if self._pending >= self.max_pending:
                raise Busy(f"the server is busy ({self._pending} analyses queued or running); "
                           f"try again later")
            try:
                future = self._pool().submit(fn, *args)
            except BrokenProcessPool:
                # A worker died (a crash in native code): start a fresh pool and retry once.
                self._executor = None
                future = self._pool().submit(fn, *args)
            self._pending += 1
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future[Any]) -> None:
        with self._lock:
            self._pending -= 1
            if not future.cancelled() and isinstance(future.exception(), BrokenProcessPool):
                broken, self._executor = self._executor, None
                if broken is not None:
                    broken.shutdown(wait=False, cancel_futures=True)

    def shutdown(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is None:
            return
        # Running renders would otherwise hold the exit until they finish; the jobs they belong
        # to are marked failed on the next start.
        processes = list((getattr(executor, "_processes", None) or {}).values())
        executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
