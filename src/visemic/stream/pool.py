"""Streaming engines in worker processes, for servers that run many streams at once.

The recogniser inside :class:`~visemic.stream.engine.StreamAnimator` holds Python's GIL while it
decodes, so engines on threads of one process share one core. An :class:`EnginePool` runs the
engines in ``processes`` worker processes instead (streams spread round-robin, each stream's
chunks always to the same worker, in order); :meth:`EnginePool.open` returns a
:class:`RemoteStream` with the engine's ``push``/``flush``, callable from any thread::

    pool = EnginePool(processes=2)
    stream = pool.open(sample_rate=16000, fps=60)
    frames = stream.push(chunk)
    frames += stream.flush()
    pool.close()

A server on an event loop uses :meth:`RemoteStream.submit` instead: it returns a
:class:`concurrent.futures.Future` at once (``asyncio.wrap_future`` awaits it), and
``"push_json"``/``"flush_json"`` answer the frames as JSON texts (:meth:`StreamFrame.to_json`),
encoded in the worker: no thread waits on the answer and no frame object crosses the pipe.
"""

from __future__ import annotations

import itertools
import multiprocessing
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from typing import Any

import numpy as np

from visemic.errors import VisemicError, internal_error
from visemic.stream.engine import EMOTION_EASE, StreamFrame


def warm_up() -> None:
    """Run one short stream of a synthetic voice through a :class:`StreamAnimator` and drop it:
    what every stream needs (the recogniser's model, the shared pose table, the libraries and
    code paths of a push) is then loaded, so the first client's stream does not pay for it and
    the process's memory does not grow with its first streams."""
    from visemic.stream.engine import RATE, StreamAnimator

    t = np.arange(2 * RATE) / RATE
    # Voiced syllables at 4 a second: a 120 Hz buzz with its harmonics, opening and closing.
    voice = sum(np.sin(2 * np.pi * 120 * k * t) / k for k in range(1, 12))
    x = (0.1 * voice * np.clip(np.sin(2 * np.pi * 4 * t), 0, None)).astype(np.float32)
    engine = StreamAnimator(sample_rate=RATE)
    for i in range(0, len(x), RATE // 25):
        engine.push(x[i:i + RATE // 25])
    engine.flush()


def _worker(conn: Any) -> None:
    """Serve requests (id, stream, op, payload) until told to stop; answer (id, ok, result,
    seconds the request kept this process busy)."""
    from visemic.phonetics.longform import release_freed_memory
    from visemic.stream.engine import StreamAnimator

    engines: dict[int, StreamAnimator] = {}

    def live(sid: int) -> StreamAnimator:
        if sid not in engines:
            raise VisemicError("this stream has ended (flush was called)")
        return engines[sid]

    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if request is None:
            return
        rid, sid, op, payload = request
        started = time.perf_counter()
        try:
            if op == "open":
                engines[sid] = StreamAnimator(**payload)
                result: Any = None
            elif op == "push":
                result = live(sid).push(payload)
            elif op == "push_json":  # payload: samples, or PCM16LE bytes as a socket gives them
                samples = np.frombuffer(payload, "<i2") if isinstance(payload, bytes) else payload
                result = [f.to_json() for f in live(sid).push(samples)]
            elif op == "emotion":
                live(sid).set_emotion(*payload)
                result = None
            elif op == "warm":
                warm_up()
                result = None
            elif op == "close":  # the client went away: drop the engine unflushed
                engines.pop(sid, None)
                result = None
            else:  # flush or flush_json (also ends the stream)
                engine = engines.pop(sid, None)
                result = engine.flush() if engine is not None else []
                if op == "flush_json":
                    result = [f.to_json() for f in result]
            conn.send((rid, True, result, _busy(op, started)))
            if op in ("close", "flush", "flush_json", "warm"):
                # A stream's decoder (~25 MB) is freed: give it back to the system, or the
                # process's size creeps up with the streams that come and go.
                engine = None
                release_freed_memory()
        except VisemicError as exc:
            conn.send((rid, False, str(exc), _busy(op, started)))
        except Exception as exc:  # one broken stream must not take the others down
            engines.pop(sid, None)
            conn.send((rid, False, internal_error(exc, "stream engine"), _busy(op, started)))


def _busy(op: str, started: float) -> float:
    """How long a request kept the worker busy, by the clock: time the CPU was taken by other
    work counts, time spent waiting behind this worker's other requests does not. A server's
    warm-up is not load."""
    return 0.0 if op == "warm" else time.perf_counter() - started


def _settle(future: Future, value: Any, ok: bool) -> None:
    """Give ``future`` its answer, unless its caller has cancelled it (an awaiting connection
    that closed): the answer is dropped then."""
    try:
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
    except InvalidStateError:
        pass


_STOP = object()  # tells a worker's sender thread to stop the worker and itself


class _Worker:
    """One worker process, the thread that sends it requests in order (so that callers, an
    event loop among them, never wait on the pipe) and the one that routes its answers to the
    callers' futures."""

    def __init__(self, ctx: Any, on_exit: Any = None,
                 on_busy: Callable[[float], None] | None = None) -> None:
        self.on_exit = on_exit
        self.on_busy = on_busy
        self.dead = False
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker, args=(child,), daemon=True)
        self.process.start()
        child.close()
        self.pending: dict[int, Future] = {}
        self.lock = threading.Lock()
        self.ids = itertools.count()
        self.outbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.sender = threading.Thread(target=self._send, daemon=True)
        self.sender.start()

    def _send(self) -> None:
        while True:
            request = self.outbox.get()
            try:
                if request is _STOP:
                    self.conn.send(None)
                    return
                self.conn.send(request)
            except (OSError, ValueError):  # the process is gone; the reader fails the rest
                if request is _STOP:
                    return
                future = self.pending.pop(request[0], None)
                if future is not None:
                    _settle(future, VisemicError("the streaming engine stopped; reconnect"),
                            False)

    def _read(self) -> None:
        while True:
            try:
                rid, ok, result, busy = self.conn.recv()
            except (EOFError, OSError):
                break
            if self.on_busy is not None and busy:
                self.on_busy(busy)
            future = self.pending.pop(rid)
            _settle(future, result if ok else VisemicError(result), ok)
        with self.lock:
            self.dead = True
            waiting, self.pending = list(self.pending.values()), {}
        for future in waiting:
            _settle(future, VisemicError("the streaming engine stopped; reconnect"), False)
        if self.on_exit is not None:
            self.on_exit(self)

    @property
    def alive(self) -> bool:
        return not self.dead and self.process.is_alive()

    def submit(self, sid: int, op: str, payload: Any) -> Future:
        future: Future = Future()
        with self.lock:
            if self.dead:
                raise VisemicError("the streaming engine stopped; reconnect")
            rid = next(self.ids)
            self.pending[rid] = future
            self.outbox.put((rid, sid, op, payload))
        return future

    def call(self, sid: int, op: str, payload: Any) -> Any:
        return self.submit(sid, op, payload).result()


class RemoteStream:
    """One stream on a pool worker: ``push``, ``set_emotion`` and ``flush`` as on
    ``StreamAnimator``."""

    def __init__(self, worker: _Worker, sid: int) -> None:
        self._worker, self._sid = worker, sid
        self._lock = threading.Lock()   # one stream's chunks stay in order

    def push(self, samples: np.ndarray) -> list[StreamFrame]:
        with self._lock:
            return self._worker.call(self._sid, "push", samples)

    def set_emotion(self, emotion: str | dict[str, float] | None,
                    ease: float = EMOTION_EASE) -> None:
        with self._lock:
            self._worker.call(self._sid, "emotion", (emotion, ease))

    def flush(self) -> list[StreamFrame]:
        with self._lock:
            return self._worker.call(self._sid, "flush", None)

    def close(self) -> None:
        """Release the engine without flushing (a stream abandoned midway); idempotent."""
        with self._lock:
            self._worker.call(self._sid, "close", None)

    def submit(self, op: str, payload: Any = None) -> Future:
        """Send ``op`` (``push``, ``push_json``, ``flush``, ``flush_json``, ``emotion`` (payload
        ``(mix, ease)``) or ``close``) without waiting: the answer comes in the future. The
        caller keeps one stream's calls in order (awaiting each before the next). ``push_json``
        also takes PCM16LE bytes, which cross the pipe cheaper than an array."""
        return self._worker.submit(self._sid, op, payload)


class EnginePool:
    """``processes`` worker processes (default: one per CPU core) hosting stream engines;
    ``on_busy`` is told, after each request, how many seconds it kept its worker busy (a
    server's measure of load: :class:`visemic.server.streaming.Load`)."""

    def __init__(self, processes: int | None = None,
                 on_busy: Callable[[float], None] | None = None) -> None:
        n = processes or multiprocessing.cpu_count()
        self._on_busy = on_busy
        self._ctx = multiprocessing.get_context("spawn")  # no forked copies of threads/sockets
        self._lock = threading.Lock()
        self._closed = False
        self._workers = [_Worker(self._ctx, self._replace, self._on_busy) for _ in range(n)]
        self._ids = itertools.count()
        self.replaced = 0  # workers that died and were replaced

    def _replace(self, worker: _Worker) -> None:
        """A worker process died (a crash in native code): its streams end with an error and a
        fresh process takes its place for new streams."""
        with self._lock:
            if self._closed or worker not in self._workers:
                return
            self._workers[self._workers.index(worker)] = _Worker(self._ctx, self._replace,
                                                                 self._on_busy)
            self.replaced += 1

    @property
    def dead(self) -> int:
        """Worker processes not running (briefly, between a crash and the replacement)."""
        with self._lock:
            return sum(not w.alive for w in self._workers)

    def open(self, **settings: Any) -> RemoteStream:
        """A new stream; ``settings`` are :class:`StreamAnimator`'s (VisemicError if bad)."""
        with self._lock:
            sid = next(self._ids)
            worker = self._workers[sid % len(self._workers)]
        worker.call(sid, "open", settings)
        return RemoteStream(worker, sid)

    def warm_up(self) -> None:
        """Warm every worker process (:func:`warm_up`), all at once; returns when all are."""
        with self._lock:
            workers = list(self._workers)
        threads = [threading.Thread(target=self._warm, args=(w,)) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    @staticmethod
    def _warm(worker: _Worker) -> None:
        try:
            worker.call(-1, "warm", None)
        except VisemicError:
            pass  # a worker that can't warm up still serves; its first stream will say why

    def close(self) -> None:
        with self._lock:
            self._closed = True
        for w in self._workers:
            w.outbox.put(_STOP)
            w.process.join(timeout=5)
            w.conn.close()

    def __enter__(self) -> EnginePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
