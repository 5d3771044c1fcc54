"""Batch jobs on worker processes of this machine.

Processes, not threads: pocketsphinx and espeak-ng keep global state and are not thread-safe.
Workers are started with ``spawn`` (a clean interpreter; no inherited locks or decoder state)
and live for the whole run, so each loads the models once.

A worker that dies (a crash in native code, the OOM killer) breaks the whole pool and every job
in flight with it. The pool is then restarted and those jobs are run again one at a time: a job
that kills its worker on its own is reported as failed, the others complete normally.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from visemic.batch.job import Job, Outcome, process
from visemic.errors import VisemicError

# Restarts of a dying pool, with nothing completed in between, before the run gives up.
MAX_RESTARTS = 3
WORKER_DIED = "the worker process died while processing this item (crash or out of memory)"


def _worker_start(parent: int) -> None:
    # Ctrl-C reaches the whole process group; the driver alone decides how the run ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch_parent() -> None:
        # A driver killed with SIGKILL cannot stop its workers; they notice and leave instead of
        # finishing work nobody will collect.
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch_parent, daemon=True, name="watch-parent").start()


class LocalPool:
    """Runs :func:`visemic.batch.job.process` on ``workers`` processes."""

    shared_filesystem = True  # jobs may name their audio by path

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        # Two jobs per worker keep every worker busy while the driver writes results.
        self.max_in_flight = 2 * self.workers
        self.description = f"{self.workers} local worker{'s' if self.workers > 1 else ''}"

    def close(self) -> None:
        """Nothing to release: ``run`` stops its workers when it ends."""

    def _start(self, workers: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=workers,
                                   mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_worker_start, initargs=(os.getpid(),))

    def run(self, jobs: Iterable[Job]) -> Iterator[Outcome]:
        """Outcomes in completion order. Stopping early (an exception, Ctrl-C, ``close()``)
        terminates the workers at once."""
        source = iter(jobs)
        retry: deque[Job] = deque()  # taken before new jobs: not run because the pool broke
        suspects: deque[Job] = deque()  # jobs in flight when a worker died
        in_flight: dict[Future[Outcome], Job] = {}
        solo: Future[Outcome] | None = None  # a suspect, running alone
        executor = self._start(self.workers)
        finished = False
        restarts = 0  # pool restarts since the last item completed
        try:
            while True:
                broken = False
                try:
                    if suspects:
                        if not in_flight:
                            solo = executor.submit(process, suspects[0])
                            in_flight[solo] = suspects.popleft()
                    else:
                        while len(in_flight) < self.max_in_flight:
                            job = retry.popleft() if retry else next(source, None)
                            if job is None:
                                break
                            try:
                                in_flight[executor.submit(process, job)] = job
                            except BrokenProcessPool:  # a worker died while idle
                                retry.appendleft(job)
                                raise
                except BrokenProcessPool:
                    broken = True
                if not in_flight and not broken:
                    finished = True
                    return
                done = wait(in_flight, return_when=FIRST_COMPLETED)[0] if in_flight else set()
                for future in done:
                    job = in_flight.pop(future)
                    try:
                        outcome = future.result()
                    except BrokenProcessPool:
                        broken = True
                        if future is solo:
                            yield Outcome(job.index, error=WORKER_DIED)
                        else:
                            suspects.append(job)
                        continue
                    restarts = 0
                    yield outcome
                if broken:
                    restarts += 1
                    if restarts > MAX_RESTARTS:
                        raise VisemicError("the batch's worker processes keep dying before they "
                                           "finish anything; giving up")
                    suspects.extend(in_flight.values())
                    in_flight.clear()
                    solo = None
                    executor.shutdown(wait=True, cancel_futures=True)
                    executor = self._start(self.workers)
        finally:
            if not finished:
                _terminate(executor)
            executor.shutdown(wait=finished, cancel_futures=True)


def _terminate(executor: ProcessPoolExecutor) -> None:
    # concurrent.futures has no public way to stop running work; its worker processes are
    # ordinary multiprocessing.Process objects in ``_processes``.
    processes = list((getattr(executor, "_processes", None) or {}).values())
    for p in processes:
        if p.is_alive():
            p.terminate()
    for p in processes:
        p.join(timeout=5)
