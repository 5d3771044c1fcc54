"""A bounded pool of worker processes for analyses and renders, each task killable.

Processes rather than threads: analyses are CPU-bound Python and NumPy, so processes run them
truly in parallel, and a crash in a native library takes down one worker, not the server. The
pool holds at most ``max_pending`` tasks (running + waiting); beyond that :class:`Busy` is raised
so that a flood of requests is refused rather than queued without limit.

Each worker is one process fed by one thread of the server, one task at a time, so a single
task can be stopped without touching the others: :meth:`WorkerPool.cancel`, or a task running
past ``task_timeout`` seconds, kills that task's process (a hung native call cannot be asked
nicely) and a fresh one takes its place.
"""

from __future__ import annotations

import multiprocessing
import queue
import signal
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from visemic.errors import VisemicError


class Busy(Exception):
    """The pool already holds as many tasks as it may."""


class Cancelled(Exception):
    """The task was cancelled (:meth:`WorkerPool.cancel`) while it ran."""


class WorkerDied(Exception):
    """The worker process running the task ended without an answer (a native crash)."""


class TimedOut(VisemicError):
    """The task ran past the pool's ``task_timeout``: input too long or too hard to analyse."""


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker, kept as its ``__cause__``."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return self.text


def _ignore_interrupts() -> None:
    # Ctrl-C reaches the whole process group; the server decides what happens to its workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from visemic.phonetics import whisper

    whisper.set_threads(1)  # the workers run side by side, a core each


def _serve(conn: Any) -> None:
    """A worker process: run ``(fn, args)`` requests until told to stop."""
    _ignore_interrupts()
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        fn, args = request
        try:
            conn.send((True, fn(*args), ""))
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the caller
            text = traceback.format_exc()
            try:
                conn.send((False, exc, text))
            except Exception:  # the exception itself does not pickle
                conn.send((False, RuntimeError(f"{type(exc).__name__}: {exc}"), text))


class _Task:
    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.fn, self.args = fn, args
        self.future: Future[Any] = Future()
        self.cancelled = False


class _Slot:
    """One worker process and the thread that feeds it tasks from the shared queue."""

    def __init__(self, pool: WorkerPool) -> None:
        self.pool = pool
        self.lock = threading.Lock()
        self.process: Any = None
        self.conn: Any = None
        self.task: _Task | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _start(self) -> None:
        ctx = multiprocessing.get_context("spawn")  # the server has threads; fork copies them
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child,), daemon=True)
        self.process.start()
        child.close()

    def kill(self) -> None:
        with self.lock:
            process = self.process
        if process is not None and process.is_alive():
            process.kill()
            process.join(5)

    def _run(self) -> None:
        while True:
            task = self.pool._queue.get()
            if task is None:
                break
            if task.cancelled or not task.future.set_running_or_notify_cancel():
                self.pool._finished()
                continue
            with self.lock:
                if self.process is None or not self.process.is_alive():
                    self._start()
                self.task = task
            try:
                outcome = self._execute(task)
            finally:
                with self.lock:
                    self.task = None
            ok, value = outcome
            if ok:
                task.future.set_result(value)
            else:
                task.future.set_exception(value)
            self.pool._finished()
        self._stop()

    def _execute(self, task: _Task) -> tuple[bool, Any]:
        timeout = self.pool.task_timeout
        deadline = time.monotonic() + timeout if timeout else None
        try:
            self.conn.send((task.fn, task.args))
            while not self.conn.poll(0.2):
                if task.cancelled:
                    self._replace()
                    return False, Cancelled("cancelled")
                if deadline is not None and time.monotonic() > deadline:
                    self._replace()
                    return False, TimedOut(f"the analysis ran past the server's time limit of "
                                           f"{timeout:g} s")
                if not self.process.is_alive():
                    raise EOFError
            ok, value, text = self.conn.recv()
        except (EOFError, OSError):
            self._replace()
            if task.cancelled:
                return False, Cancelled("cancelled")
            return False, WorkerDied("the worker process died")
        if not ok and text and not isinstance(value, VisemicError):
            value.__cause__ = RemoteTraceback(text)
        return ok, value

    def _replace(self) -> None:
        """Kill this slot's process; the next task starts a fresh one."""
        self.kill()
        with self.lock:
            if self.conn is not None:
                self.conn.close()
            self.process = self.conn = None

    def _stop(self) -> None:
        with self.lock:
            process, conn = self.process, self.conn
        if process is None:
            return
        process.terminate()  # running renders would otherwise hold the exit
        process.join(5)
        conn.close()


class WorkerPool:
    """``submit(fn, *args)`` → a Future, run in one of ``workers`` spawned processes; at most
    ``task_timeout`` seconds each (None: no limit)."""

    def __init__(self, workers: int = 2, max_pending: int = 16,
                 task_timeout: float | None = None) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self.max_pending = max(workers, max_pending)
        self.task_timeout = task_timeout
        self._lock = threading.Lock()
        self._pending = 0
        self._queue: queue.Queue[_Task | None] = queue.Queue()
        self._slots: list[_Slot] | None = None
        self._tasks: dict[int, _Task] = {}

    @property
    def pending(self) -> int:
        return self._pending

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Queue ``fn(*args)``; raises :class:`Busy` when ``max_pending`` tasks are held."""
        with self._lock:
            if self._pending >= self.max_pending:
                raise Busy(f"the server is busy ({self._pending} analyses queued or running); "
                           f"try again later")
            if self._slots is None:  # processes start with the first task
                self._slots = [_Slot(self) for _ in range(self.workers)]
            task = _Task(fn, args)
            self._pending += 1
            self._tasks[id(task.future)] = task
        self._queue.put(task)
        return task.future

    def cancel(self, future: Future[Any]) -> bool:
        """Stop ``future``'s task: dropped if still queued, its process killed if running (the
        future then raises :class:`Cancelled`). False if it had already finished."""
        with self._lock:
            task = self._tasks.get(id(future))
            if task is None or future.done():
                return False
            task.cancelled = True
            slots = list(self._slots or [])
        if future.cancel():  # still queued
            return True
        for slot in slots:
            if slot.task is task:
                slot.kill()
        return True

    def _finished(self) -> None:
        with self._lock:
            self._pending -= 1
            for key in [k for k, t in self._tasks.items() if t.future.done()]:
                del self._tasks[key]

    def shutdown(self) -> None:
        with self._lock:
            slots, self._slots = self._slots, None
        if not slots:
            return
        while True:  # queued tasks are dropped: their jobs are marked failed on the next start
            try:
                task = self._queue.get_nowait()
            except queue.Empty:
                break
            if task is not None:
                task.future.cancel()
        for _ in slots:
            self._queue.put(None)
        for slot in slots:
            slot.kill()
