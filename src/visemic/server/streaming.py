"""The WebSocket ``/v1/stream``: live PCM audio in, one JSON animation frame per message out.

Protocol: the client sends binary messages of PCM16LE mono audio (16 kHz unless the query says
``?sample_rate=N``) and finally the text message ``end``. The server answers with text messages,
one JSON object per frame in time order, ``{"frame", "time", "values": {ARKit name: value},
"viseme", "head": [yaw, pitch, roll]}``, then ``{"done": true}``, and closes (1000). Query
options: ``language``, ``fps`` (default 60), ``sample_rate``, ``emotion`` (the mix to start with,
such as ``happy:0.6,surprised:0.3``; default neutral).

Between audio messages the client may send a control message, a text message holding a JSON
object ``{"emotion": MIX, "ease": SECONDS}``: MIX is a mix string (``"happy:0.6"``), an object
(``{"happy": 0.6}``) or ``null`` (neutral); ``ease`` (optional, 0 to 60, default
:data:`visemic.stream.engine.EMOTION_EASE`) is how long the face takes to ease to it. It applies
from the first frame not yet computed (frames already computed, sent or queued, keep the old
emotion); nothing is answered.

Each connection has its own :class:`visemic.stream.StreamAnimator`, hosted in the engine worker
processes of :class:`visemic.stream.pool.EnginePool` (streams share nothing); its pushes go to
its worker one after another and are awaited on the event loop, and the worker answers the
frames as JSON texts, ready to send.

Slow clients: outgoing frames wait in a bounded per-connection queue. While it is full the server
stops reading audio (back-pressure: the client's sends block in TCP); if it stays full for
``stall_timeout`` seconds the server closes the connection with code 1008 and the reason
"client is not reading frames". So a client that stops reading costs a bounded amount of memory
(the queue, plus the socket buffers), however much audio it tries to send.

Close codes: 1000 done; 1003 a text message that is neither ``end`` nor a well-formed control
message (malformed JSON, unknown keys, a bad mix or ease); 1007 audio that is not PCM16
(odd length); 1008 stalled, idle too long or a bad API key; 1009 a message over the size limit
(audio or control) or a stream longer than the server's duration limit; 1011 an internal error
or a stream engine that stopped (the engine process is replaced: reconnect); 1013 too many
streams or a CPU that can't keep up (try again later). An ``{"error": …}`` message precedes every
close except 1000, when the client is still reading.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from visemic.errors import VisemicError
from visemic.limits import check_fps

_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}")
MAX_CONTROL_CHARS = 4096  # a control message (a mix of every emotion is a tenth of this)


@dataclass(frozen=True)
class StreamLimits:
    max_streams: int = 8              # concurrent connections
    queue_frames: int = 240           # outgoing frames held per connection (4 s at 60 fps)
    stall_timeout: float = 10.0       # seconds the queue may stay full before closing
    idle_timeout: float = 60.0        # seconds without any message before closing
    close_grace: float = 10.0         # seconds a stalled client gets to take the close frame
    max_message_bytes: int = 256 * 1024  # one audio message (8 s of 16 kHz PCM16)
    max_seconds: float | None = 3600.0   # audio one stream may send (the server's max duration)
    max_load: float = 0.75            # engine busy fraction above which new streams are refused
    load_window: float = 10.0         # seconds over which the load is measured
    # Engine s per s of audio a stream not yet measured is taken to cost: a little above what
    # one costs (0.04 on an idle core; bench/stream.py --speed).
    stream_cost: float = 0.06


class Load:
    """How busy the stream engines are: seconds the engine processes spent on streams' requests
    over the last ``window`` seconds, per process (1.0: every process busy all the time). Each
    request's time is taken by the clock inside its worker, so CPU taken by other work on the
    machine counts (the engines slow down) but waiting in line behind another stream's request
    does not (counted, two requests arriving together would weigh three)."""

    def __init__(self, processes: int, window: float) -> None:
        self.processes = max(1, processes)
        self.window = window
        self._spans: deque[tuple[float, float]] = deque()  # (end time, seconds busy)
        self._busy = 0.0
        self._since = time.monotonic()
        self._lock = threading.Lock()

    def add(self, seconds: float) -> None:
        now = time.monotonic()
        with self._lock:
            self._spans.append((now, seconds))
            self._busy += seconds
            self._expire(now)

    def _expire(self, now: float) -> None:
        while self._spans and self._spans[0][0] < now - self.window:
            self._busy -= self._spans.popleft()[1]

    @property
    def value(self) -> float:
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            span = min(self.window, max(1.0, now - self._since))
            return max(0.0, self._busy) / (span * self.processes)


class _Close(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _options(query: Any) -> tuple[str, float, int]:
    language = query.get("language", "en").strip() or "en"
    if not _LANGUAGE.fullmatch(language):
        raise _Close(1008, "language must be a code such as en, de or es-419")
    try:
        fps = check_fps(query.get("fps", "60"))
    except VisemicError as e:
        raise _Close(1008, str(e)) from None
    try:
        rate = int(query.get("sample_rate", "16000"))
    except ValueError:
        raise _Close(1008, "sample_rate must be a whole number") from None
    if not 8000 <= rate <= 96000:
        raise _Close(1008, "sample_rate must be 8000 to 96000 Hz")
    return language, fps, rate


def _emotion(query: Any) -> dict[str, float] | None:
    from visemic.motion.emotion import parse_mix

    text = query.get("emotion")
    if text is None or not text.strip():
        return None
    try:
        return parse_mix(text)
    except VisemicError as e:
        raise _Close(1008, str(e)) from None


def _control(text: str) -> tuple[dict[str, float] | None, float]:
    """A control message's (mix, ease); raises a 1003 :class:`_Close` naming the problem."""
    from visemic.motion.emotion import check_mix, parse_mix
    from visemic.stream.engine import EMOTION_EASE

    def bad(problem: str) -> _Close:
        return _Close(1003, f"bad control message: {problem}")

    if len(text) > MAX_CONTROL_CHARS:
        raise _Close(1009, f"control message too long ({len(text)} characters; at most "
                           f"{MAX_CONTROL_CHARS})")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise bad(f"not valid JSON ({e.msg} at character {e.pos})") from None
    except RecursionError:
        raise bad("JSON nested too deeply") from None
    except ValueError:  # Python's limit on integer digits
        raise bad("a number with too many digits") from None
    if not isinstance(data, dict):
        raise bad('expected an object such as {"emotion": "happy:0.6", "ease": 0.3}')
    unknown = sorted(set(data) - {"emotion", "ease"})
    if unknown:
        raise bad(f"unknown key {unknown[0][:40]!r} (keys: emotion, ease)")
    if "emotion" not in data:
        raise bad('no "emotion" (a mix such as "happy:0.6", an object or null)')
    emotion = data["emotion"]
    try:
        if emotion is None:
            mix = None
        elif isinstance(emotion, str):
            mix = parse_mix(emotion)
        elif isinstance(emotion, dict):
            mix = check_mix(emotion)
        else:
            raise bad('"emotion" must be a mix string, an object or null')
    except VisemicError as e:
        raise bad(str(e)) from None
    ease = data.get("ease", EMOTION_EASE)
    # Compared before any float(): NaN fails it, and a 3000-digit integer can't be a float.
    if isinstance(ease, bool) or not isinstance(ease, int | float) or not 0.0 <= ease <= 60.0:
        raise bad(f'"ease" must be a number of seconds from 0 to 60, got {str(ease)[:40]}')
    return mix, float(ease)


class StreamHub:
    """Serves ``/v1/stream`` connections within :class:`StreamLimits`."""

    def __init__(self, limits: StreamLimits | None = None) -> None:
        self.limits = limits or StreamLimits()
        self.active = 0
        self.load = Load(os.cpu_count() or 1, self.limits.load_window)
        self._executor = ThreadPoolExecutor(max_workers=self.limits.max_streams,
                                            thread_name_prefix="visemic-stream")
        self._pool: Any = None
        self._pool_lock = threading.Lock()
        self._opened: dict[int, float] = {}  # open streams' admission times (monotonic)
        self._tokens = itertools.count()

    def _engines(self) -> Any:
        """The engine processes, started with the first stream. The recogniser holds the GIL
        while it decodes, so engines on this process's threads would share one core; worker
        processes (one per core) let every core serve streams."""
        with self._pool_lock:
            if self._pool is None:
                from visemic.stream.pool import EnginePool

                self._pool = EnginePool(on_busy=self.load.add)
            return self._pool

    def warm_up(self) -> None:
        """Start the engine processes and warm each (:func:`visemic.stream.pool.warm_up`), and
        start every connection's thread, before the server answers: the first streams are then
        as fast as later ones and memory does not grow as they come."""
        self._engines().warm_up()
        n = self.limits.max_streams
        # The executor starts a thread per task while none is idle: n tasks that wait for each
        # other start all n.
        gate = threading.Barrier(n)
        for f in [self._executor.submit(gate.wait, 30) for _ in range(n)]:
            f.result()

    def _admit(self) -> bool:
        """Whether one more stream fits within ``max_load``: the measured load, plus the new
        stream and those opened within the last ``load_window`` (not fully in the measure yet,
        so that a burst of connections is judged before its audio arrives) at the cost each of
        the streams already measured, never less than ``stream_cost``. Once measured, streams
        count at what they really cost: the floor no longer caps how many run (at 0.06 s a
        second on 2 cores it would hold every server to 25 streams, whatever they cost)."""
        if not self.active:
            return True
        load = self.load.value
        now = time.monotonic()
        fresh = sum(now - t < self.limits.load_window for t in self._opened.values())
        measured = self.active - fresh
        each = max(load / measured if measured > 0 else 0.0,
                   self.limits.stream_cost / self.load.processes)
        return load <= self.limits.max_load and load + (fresh + 1) * each <= self.limits.max_load

    @property
    def problems(self) -> list[str]:
        """Why streams can't be served now (empty: they can): a dead engine process, until its
        replacement is up."""
        pool = self._pool
        dead = pool.dead if pool is not None else 0
        return [f"{dead} stream engine process(es) not running"] if dead else []

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self._pool is not None:
            self._pool.close()

    async def serve(self, websocket: WebSocket) -> None:
        await websocket.accept()
        if self.active >= self.limits.max_streams:
            await _close(websocket, 1013, f"too many streams (at most "
                                          f"{self.limits.max_streams}); try again later",
                         error=True)
            return
        if not self._admit():
            # Another stream now would make every running one fall behind real time.
            await _close(websocket, 1013, "the server can't keep up with more streams now "
                                          f"(engines {self.load.value:.0%} busy); try again "
                                          "later", error=True)
            return
        self.active += 1
        token = next(self._tokens)
        self._opened[token] = time.monotonic()
        try:
            ending = await self._serve(websocket)
        finally:
            self.active -= 1
            del self._opened[token]
        # The engine and the stream's slot are released before the goodbye, which may wait on a
        # stalled client.
        if ending is not None:
            await _close(websocket, ending.code, ending.reason, error=ending.code != 1000,
                         grace=self.limits.close_grace)

    async def _serve(self, websocket: WebSocket) -> _Close | None:
        """Run the stream; returns how to close it (None: the client has gone)."""
        loop = asyncio.get_running_loop()
        engine = None
        queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=self.limits.queue_frames)
        sender = asyncio.create_task(_send_all(websocket, queue))
        try:
            language, fps, rate = _options(websocket.query_params)
            emotion = _emotion(websocket.query_params)
            engine = await loop.run_in_executor(
                self._executor, lambda: self._engines().open(sample_rate=rate, fps=fps,
                                                             language=language,
                                                             emotion=emotion))
            received = 0
            while True:
                message = await self._receive(websocket)
                if message.get("bytes") is not None:
                    pcm = self._pcm(message["bytes"])
                    received += len(pcm) // 2
                    if self.limits.max_seconds is not None \
                            and received > self.limits.max_seconds * rate:
                        raise _Close(1009, f"the stream is longer than this server's limit of "
                                           f"{self.limits.max_seconds:g} s of audio")
                    texts = await asyncio.wrap_future(engine.submit("push_json", pcm))
                    await self._enqueue(queue, sender, texts)
                elif message.get("text") is not None:
                    text = message["text"].strip()
                    if text.startswith("{"):
                        mix, ease = _control(text)
                        await asyncio.wrap_future(engine.submit("emotion", (mix, ease)))
                        continue
                    if text.lower() != "end":
                        raise _Close(1003, "unexpected text message: send binary PCM16 audio, "
                                           'a control message such as {"emotion": "happy:0.6"}, '
                                           "then the text 'end'")
                    texts = await asyncio.wrap_future(engine.submit("flush_json"))
                    await self._enqueue(queue, sender, [*texts, '{"done":true}', None])
                    await self._drain(queue, sender)
                    return _Close(1000, "done")
        except WebSocketDisconnect:
            return None
        except _Close as e:
            return e
        except VisemicError as e:
            return _Close(1011, " ".join(str(e).split()))
        finally:
            await _stop(sender)
            if engine is not None:  # an abandoned stream's engine is freed (a no-op after flush)
                try:
                    await asyncio.wrap_future(engine.submit("close"))
                except VisemicError:
                    pass

    async def _receive(self, websocket: WebSocket) -> dict[str, Any]:
        try:
            # asyncio.timeout, not wait_for: no task made per message (25 a second a stream).
            async with asyncio.timeout(self.limits.idle_timeout):
                message = await websocket.receive()
        except TimeoutError:
            raise _Close(1008, f"no message for {self.limits.idle_timeout:g} s") from None
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        return message

    async def _drain(self, queue: asyncio.Queue[str | None], sender: asyncio.Task[None]) -> None:
        """Wait until the last frames are sent, as long as the client keeps taking them."""
        while not sender.done():
            before = queue.qsize()
            await asyncio.wait({sender}, timeout=self.limits.stall_timeout)
            if not sender.done() and queue.qsize() >= before:
                raise _Close(1008, "client is not reading frames (none taken for "
                                   f"{self.limits.stall_timeout:g} s)")
        if sender.exception() is not None:
            raise WebSocketDisconnect(1006)

    def _pcm(self, data: bytes) -> bytes:
        if len(data) > self.limits.max_message_bytes:
            raise _Close(1009, f"audio message over {self.limits.max_message_bytes} bytes")
        if len(data) % 2:
            raise _Close(1007, "audio must be PCM16LE: an even number of bytes per message")
        return data  # PCM16LE, as the engine worker takes it

    async def _enqueue(self, queue: asyncio.Queue[str | None], sender: asyncio.Task[None],
                       items: list[str | None]) -> None:
        for item in items:
            if sender.done():  # the client went away while frames were being sent
                raise WebSocketDisconnect(1006)
            try:
                queue.put_nowait(item)
            except asyncio.QueueFull:
                # Back-pressure: no more audio is read until the client takes frames.
                try:
                    await asyncio.wait_for(queue.put(item), self.limits.stall_timeout)
                except TimeoutError:
                    raise _Close(1008, "client is not reading frames (queue full for "
                                       f"{self.limits.stall_timeout:g} s)") from None


async def _send_all(websocket: WebSocket, queue: asyncio.Queue[str | None]) -> None:
    while True:
        item = await queue.get()
        if item is None:
            return
        await websocket.send_text(item)


async def _stop(task: asyncio.Task[None]) -> None:
    if not task.done():
        task.cancel()
        await asyncio.wait({task})


async def _close(websocket: WebSocket, code: int, reason: str, error: bool = False,
                 grace: float = 10.0) -> None:
    """Send ``{"error": reason}`` (with ``error``) and a close frame, waiting at most ``grace``
    seconds for a stalled client to make room; after that the connection is simply dropped."""
    if websocket.application_state == WebSocketState.DISCONNECTED:
        return
    short = reason.encode("utf-8")[:120].decode("utf-8", "ignore")  # the close frame's limit

    async def send() -> None:
        if error:  # the whole reason: the close frame may cut it
            await websocket.send_text(json.dumps({"error": reason}))
        await websocket.close(code, short)

    try:
        await asyncio.wait_for(send(), grace)
    except (TimeoutError, RuntimeError, WebSocketDisconnect, OSError):
        pass
