"""Streaming benchmark: concurrent live streams, chunk-to-frame latency, and streamed accuracy.

    python bench/stream.py [--streams 20] [--seconds 20] [--chunk 0.02] [--mode threads|processes]
    python bench/stream.py --url ws://127.0.0.1:8000/v1/stream [--streams 20]
        (against `visemic serve --max-streams 20`; its protocol: PCM16 binary messages, "end")
    python bench/stream.py --accuracy          # streamed vs offline shapes on ../shared/eval
    python bench/stream.py --speed --chunk 0.04 --seconds 60   # one stream's CPU per audio-second

Latency mode: every stream is fed generated speech (espeak-ng sentences with pauses) in real
time, one ``--chunk`` of audio whenever that much would have arrived from a microphone, all
streams at once. A frame's latency is the wall time from the arrival of the chunk holding the
frame's instant to the moment the frame is back with the caller. Reported: p50/p95/max latency,
frames later than 150 ms, and frames missing, duplicated or out of order (must be 0).

``--mode threads`` runs every stream's engine in one process on a thread pool (as the server
does); ``pool`` keeps the callers on threads but runs the engines in an
:class:`visemic.stream.pool.EnginePool` (one worker process per core); ``processes`` splits the
streams and their feeders over one process per core. ``--url`` drives the server's WebSocket
endpoint instead.

Accuracy mode: the DESIGN.md §4 macro hit rate of the streamed Rhubarb shapes next to the
offline phone-loop path's, on the English items of ../shared/eval/speech and on espeak speech.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

LATE = 0.150
EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval" / "speech"
SENTENCES = [
    "Mom bought five blue boxes.", "Please wait a moment.", "Then we all go home for supper.",
    "The quick brown fox jumps over the lazy dog.", "Would you like some more of this soup?",
    "Five very big men moved the piano upstairs.", "Open the window, it is warm in here.",
]


def speech(seconds: float, seed: int) -> np.ndarray:
    """``seconds`` of 16 kHz espeak-ng speech: sentences with pauses of 0.1–0.8 s between."""
    import soxr

    from visemic.phonetics import espeak

    rng = np.random.default_rng(seed)
    parts, total = [], 0
    while total < seconds * 16000:
        audio, _ = espeak.synthesize(SENTENCES[rng.integers(len(SENTENCES))], "en-us")
        x = soxr.resample(audio.samples, audio.sample_rate, 16000).astype(np.float32)
        gap = np.zeros(int(rng.uniform(0.1, 0.8) * 16000), np.float32)
        parts += [x, gap]
        total += len(x) + len(gap)
    return np.concatenate(parts)[:int(seconds * 16000)]


def _chunks(audio: np.ndarray, chunk: float) -> list[np.ndarray]:
    n = int(round(chunk * 16000))
    return [(audio[i:i + n] * 32767).astype(np.int16) for i in range(0, len(audio), n)]


class Tally:
    """Per-stream bookkeeping of frames received: latencies and order."""

    def __init__(self, fps: float, chunk: float, start: float) -> None:
        self.fps, self.chunk, self.start = fps, chunk, start
        self.latencies: list[float] = []
        self.expected = 0
        self.bad = 0          # missing, duplicated or out of order

    def got(self, index: int, now: float) -> None:
        if index != self.expected:
            self.bad += 1
        self.expected = max(self.expected, index + 1)
        # The chunk holding this frame's instant arrived at the end of that chunk.
        t = index / self.fps
        arrival = self.start + (np.floor(t / self.chunk) + 1) * self.chunk
        self.latencies.append(now - arrival)


def run_stream(chunks: list[np.ndarray], fps: float, chunk: float, start: float,
               pool: ThreadPoolExecutor, total_frames: int, engines=None) -> Tally:
    """Feed one stream in real time from the calling thread, the engine running on ``pool``
    (in this process, or on a worker process of ``engines``, an EnginePool)."""
    from visemic.stream import StreamAnimator

    if engines is None:
        eng = StreamAnimator(sample_rate=16000, fps=fps)
    else:
        eng = engines.open(sample_rate=16000, fps=fps)
    tally = Tally(fps, chunk, start)
    for k, c in enumerate(chunks):
        delay = start + (k + 1) * chunk - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        for f in pool.submit(eng.push, c).result():
            tally.got(f.index, time.monotonic())
    for f in pool.submit(eng.flush).result():
        tally.got(f.index, time.monotonic())
    tally.bad += abs(total_frames - tally.expected)
    return tally


def run_threads(audios: list[np.ndarray], fps: float, chunk: float, workers: int,
                start: float, engines=None) -> list[Tally]:
    """Every stream's feeder is a thread; the engines run on a shared pool of ``workers``."""
    out: list[Tally | None] = [None] * len(audios)
    with ThreadPoolExecutor(workers) as pool:
        def feed(i: int) -> None:
            total = int(round(len(audios[i]) / 16000 * fps))
            out[i] = run_stream(_chunks(audios[i], chunk), fps, chunk, start, pool, total,
                                engines)

        feeders = [threading.Thread(target=feed, args=(i,)) for i in range(len(audios))]
        for t in feeders:
            t.start()
        for t in feeders:
            t.join()
    return [t for t in out if t is not None]


def _process_worker(args: tuple) -> list[tuple[list[float], int]]:
    audios, fps, chunk, workers, start_wall = args
    start = time.monotonic() + (start_wall - time.time())
    return [(t.latencies, t.bad) for t in run_threads(audios, fps, chunk, workers, start)]


def run_processes(audios: list[np.ndarray], fps: float, chunk: float, workers: int,
                  start_wall: float) -> list[Tally]:
    from concurrent.futures import ProcessPoolExecutor

    n = os.cpu_count() or 1
    groups = [audios[i::n] for i in range(n)]
    tallies = []
    with ProcessPoolExecutor(n) as procs:
        jobs = [procs.submit(_process_worker, (g, fps, chunk, workers, start_wall))
                for g in groups if g]
        for job in jobs:
            for lat, bad in job.result():
                t = Tally(fps, chunk, 0.0)
                t.latencies, t.bad = lat, bad
                tallies.append(t)
    return tallies


async def _ws_stream(url: str, audio: np.ndarray, fps: float, chunk: float,
                     start: float) -> Tally:
    import asyncio

    import websockets

    tally = Tally(fps, chunk, start)
    total = int(round(len(audio) / 16000 * fps))
    async with websockets.connect(f"{url}?sample_rate=16000&fps={fps:g}",
                                  max_size=None) as ws:
        async def reader() -> None:
            async for msg in ws:
                if isinstance(msg, bytes):
                    continue
                data = json.loads(msg)
                if "frame" in data and "values" in data:
                    tally.got(int(data["frame"]), time.monotonic())
                elif "done" in data or "error" in data:
                    if "error" in data:
                        print(f"server error: {data['error']}", file=sys.stderr)
                    break

        task = asyncio.create_task(reader())
        for k, c in enumerate(_chunks(audio, chunk)):
            delay = start + (k + 1) * chunk - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await ws.send(c.tobytes())
        await ws.send("end")
        await asyncio.wait_for(task, timeout=30)
    tally.bad += abs(total - tally.expected)
    return tally


def run_websocket(url: str, audios: list[np.ndarray], fps: float, chunk: float) -> list[Tally]:
    import asyncio

    async def main() -> list[Tally]:
        start = time.monotonic() + 1.0
        return list(await asyncio.gather(*(_ws_stream(url, a, fps, chunk, start)
                                           for a in audios)))

    return asyncio.run(main())


def report(tallies: list[Tally], seconds: float, wall: float, cpu: float | None) -> None:
    lat = np.concatenate([np.array(t.latencies) for t in tallies]) * 1000
    frames = len(lat)
    late = int(np.sum(lat > LATE * 1000))
    bad = sum(t.bad for t in tallies)
    print(f"streams: {len(tallies)} × {seconds:g} s of audio, {frames} frames")
    print(f"chunk-to-frame latency: p50 {np.percentile(lat, 50):.0f} ms, "
          f"p95 {np.percentile(lat, 95):.0f} ms, p99 {np.percentile(lat, 99):.0f} ms, "
          f"max {lat.max():.0f} ms")
    print(f"late frames (> {LATE * 1000:.0f} ms): {late} ({100 * late / max(frames, 1):.2f} %)")
    print(f"dropped, duplicated or out-of-order frames: {bad}")
    if cpu is not None:
        print(f"CPU: {cpu:.1f} s for {wall:.1f} s wall ({cpu / wall:.2f} cores)")


def accuracy(fps: float) -> None:
    """Streamed vs offline (phone loop) Rhubarb shapes, scored as DESIGN.md §4."""
    import visemic
    from visemic import audio as audio_io
    from visemic import evaluation as ev
    from visemic.phonetics import espeak
    from visemic.phonetics.phonesets import to_ipa
    from visemic.stream import StreamAnimator
    from visemic.types import Cue, Phone

    def streamed(x: np.ndarray) -> list[Cue]:
        eng = StreamAnimator(fps=fps)
        frames = []
        for i in range(0, len(x), 320):
            frames += eng.push(x[i:i + 320])
        frames += eng.flush()
        cues: list[Cue] = []
        for f in frames:
            t0, t1 = f.index / fps, (f.index + 1) / fps
            if cues and cues[-1].value == f.viseme:
                cues[-1] = Cue(cues[-1].start, t1, f.viseme)
            else:
                cues.append(Cue(t0, t1, f.viseme))
        return cues

    items = []
    if EVAL.is_dir():
        for js in sorted(EVAL.glob("*.json")):
            meta = json.loads(js.read_text())
            if meta["language"] != "en":
                continue
            truth = [Phone(to_ipa(p["phone"], meta["phone_set"]), p["start"], p["end"])
                     for p in meta["phones"]]
            items.append(("eval", js.stem, audio_io.load(js.with_suffix(".wav")), truth))
    for k, sentence in enumerate(SENTENCES):
        a, tl = espeak.synthesize(sentence, "en-us")
        a = audio_io.load(a)
        pad = np.zeros(8000, np.float32)
        a.samples = np.concatenate([pad, a.samples, pad])
        truth = [Phone(p.symbol, p.start + 0.5, p.end + 0.5) for p in tl.phones]
        items.append(("espeak", f"sentence{k}", a, truth))
    for group in ("eval", "espeak"):
        chosen = [it for it in items if it[0] == group]
        if not chosen:
            continue
        offline, live = ev.Tally(), ev.Tally()
        lags_off, lags_live = [], []
        for _, _name, a, truth in chosen:
            d = a.duration
            cues_off = visemic.animate(a, method="phones").animation.visemes["rhubarb"]
            cues_live = streamed(a.samples)
            offline.add(ev.score_shapes(truth, cues_off, d))
            live.add(ev.score_shapes(truth, cues_live, d))
            lags_off.append(ev.best_lag(truth, cues_off, d))
            lags_live.append(ev.best_lag(truth, cues_live, d))
        print(f"{group} ({len(chosen)} items)   " + " ".join(f"{c[:5].lower():>6}"
                                                             for c in ev.CLASSES)
              + "   macro   lag")
        for label, tally, lags in (("offline", offline, lags_off), ("stream ", live, lags_live)):
            rates = " ".join(f"{r:6.3f}" if (r := tally.rate(c)) is not None else "   -  "
                             for c in ev.CLASSES)
            print(f"  {label}{' ' * (len(group) + 5)}{rates}   {tally.macro():.3f} "
                  f"{np.median(lags) * 1000:+4.0f} ms")


def speed(seconds: float, fps: float, chunk: float) -> None:
    """CPU cost of one stream per second of audio (machine-independent enough to compare): the
    recogniser alone, the whole engine, and the engine with each frame's JSON text (what a
    server's engine process does per stream)."""
    from visemic.stream import StreamAnimator
    from visemic.stream.engine import _decoder

    chunks = _chunks(speech(seconds, 0), chunk)
    dec = _decoder()
    dec.start_utt()
    t0 = time.process_time()
    for c in chunks:
        dec.process_raw(c.tobytes(), False, False)
        dec.hyp()
    decoding = time.process_time() - t0
    costs = []
    for as_json in (False, True):
        eng = StreamAnimator(fps=fps)
        t0 = time.process_time()
        for c in chunks:
            frames = eng.push(c)
            if as_json:
                texts = [f.to_json() for f in frames]
                del texts
        eng.flush()
        costs.append((time.process_time() - t0) / seconds)
    print(f"one stream, {chunk * 1000:.0f} ms chunks, {fps:g} fps: CPU s per second of audio: "
          f"recogniser alone {decoding / seconds:.4f}, engine {costs[0]:.4f}, engine + JSON "
          f"{costs[1]:.4f} ({1 / costs[1]:.1f}x real time on one core; 20 streams need "
          f"{20 * costs[1]:.2f} cores)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--streams", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=20.0, help="audio per stream")
    ap.add_argument("--chunk", type=float, default=0.02, help="seconds per chunk")
    ap.add_argument("--fps", type=float, default=60.0)
    ap.add_argument("--mode", choices=("threads", "pool", "processes"), default="threads")
    ap.add_argument("--workers", type=int, default=4, help="engine threads per process")
    ap.add_argument("--url", help="drive a running server's WebSocket endpoint instead")
    ap.add_argument("--accuracy", action="store_true", help="streamed vs offline accuracy")
    ap.add_argument("--speed", action="store_true", help="one stream's CPU cost")
    args = ap.parse_args()
    if args.accuracy:
        accuracy(args.fps)
        return
    if args.speed:
        speed(args.seconds, args.fps, args.chunk)
        return
    print(f"generating {args.streams} × {args.seconds:g} s of speech…", file=sys.stderr)
    base = [speech(args.seconds, seed) for seed in range(min(args.streams, 4))]
    # Different streams get different audio: rotate the base recordings.
    audios = [np.roll(base[i % len(base)], 16000 * i // 3) for i in range(args.streams)]
    cpu0 = time.process_time()
    wall0 = time.monotonic()
    if args.url:
        tallies = run_websocket(args.url, audios, args.fps, args.chunk)
        cpu = None
        print(f"mode: WebSocket {args.url}")
    elif args.mode == "pool":
        from visemic.stream.pool import EnginePool

        with EnginePool() as engines:
            engines.open().flush()  # the workers have loaded the recogniser
            tallies = run_threads(audios, args.fps, args.chunk, args.workers * 5,
                                  time.monotonic() + 1.0, engines)
        cpu = None
        print(f"mode: thread pool feeding an EnginePool of {os.cpu_count()} worker processes")
    elif args.mode == "processes":
        tallies = run_processes(audios, args.fps, args.chunk, args.workers, time.time() + 2.0)
        cpu = None
        print(f"mode: {os.cpu_count()} processes × {args.workers} engine threads")
    else:
        tallies = run_threads(audios, args.fps, args.chunk, args.workers,
                              time.monotonic() + 0.5)
        cpu = time.process_time() - cpu0
        print(f"mode: one process, {args.workers} engine threads")
    report(tallies, args.seconds, time.monotonic() - wall0, cpu)


if __name__ == "__main__":
    main()
