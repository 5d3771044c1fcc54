"""Soak: many WebSocket streams held open at once against one ``visemic serve`` on loopback.

    python bench/soak.py                 # the target run: 20 streams held 10 minutes together
    python bench/soak.py --streams 10 --minutes 2     # a shorter look

Starts a server on 127.0.0.1 (a temporary data directory). ``--streams`` clients each open one
stream (their starts spread over ``--ramp`` seconds) and send speech into it in real time (40 ms
PCM16 chunks paced by the clock) until the end: ``--minutes`` after the last stream got in, so
the streams are all held open together for that long. A client refused at connect (1013: the
server judges it can't keep up, or too many streams) tries again every 2 s until the end; so if
the server can't take them all, the run says how many it held.

Printed: per-frame delay from the audio being sent to its frame arriving (median, p95, over the
steady part), frames missing from finished streams (dropped), refusals and errors, CPU seconds
the server and its engine processes spent per second of audio, and the resident memory of the
server and its worker processes: when ready, during the ramp (as streams open), and over the
steady part (every sample while all streams are open). The target is RSS flat within 10 % over
the steady part: (max - min) / min of those samples, no warm-up left out (the server warms its
engines before it answers /health). Bounded: it stops at ``--ramp`` plus ``--minutes`` plus a
minute at most after the last admission; nothing leaves the machine. The client runs on the same
machine; latency and capacity measured on cores shared with other work are lower bounds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

FPS = 60
CHUNK = 1280  # 40 ms of PCM16 at 16 kHz
LOOP_SECONDS = 30.0  # the speech each client sends, over and over
SAMPLE_EVERY = 10.0  # seconds between RSS samples


def speech(seconds: float) -> bytes:
    import soxr

    from visemic.phonetics import espeak

    audio, _ = espeak.synthesize("Mom bought five blue boxes. Please wait. Then we all go "
                                 "home for supper. The quick brown fox jumps over the lazy dog.",
                                 "en-us")
    x = soxr.resample(audio.samples.astype(np.float32), audio.sample_rate, 16000)
    x = np.tile(x, int(np.ceil(seconds * 16000 / len(x))))[: int(seconds * 16000)]
    return (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()


def start(data_dir: Path, streams: int) -> tuple[subprocess.Popen, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "visemic", "serve", "--host", "127.0.0.1",
                             "--port", str(port), "--data-dir", str(data_dir), "--log-level",
                             "warning", "--max-streams", str(streams + 4)],
                            start_new_session=True)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc, port
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("server did not start")


def group_stats(pgid: int) -> dict[int, tuple[float, float]]:
    """(resident MB, CPU seconds) of each process in the server's process group (server +
    workers), by pid."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != pgid:
                continue
            rss = next(int(line.split()[1]) / 1024
                       for line in (entry / "status").read_text().splitlines()
                       if line.startswith("VmRSS:"))
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            out[int(entry.name)] = (rss, (int(fields[11]) + int(fields[12])) / tick)
        except (OSError, ProcessLookupError, StopIteration, IndexError, ValueError):
            continue
    return out


@dataclass
class Tally:
    delays: list[tuple[float, float]] = field(default_factory=list)  # (when, delay s)
    open_now: int = 0
    most_open: int = 0
    all_open_at: float | None = None  # monotonic time the last stream got in
    refused: int = 0
    errors: int = 0
    finished: int = 0
    frames: int = 0
    dropped: int = 0
    audio_seconds: float = 0.0  # sent by all streams


async def one_stream(port: int, pcm: bytes, tally: Tally, streams: int,
                     stop: asyncio.Event) -> bool:
    """Open a stream and send until ``stop``; False when refused at connect."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    sent_at: list[tuple[float, float]] = []  # (audio seconds sent, when)
    frames = 0
    admitted = done = False
    try:
        async with connect(f"ws://127.0.0.1:{port}/v1/stream?fps={FPS}",
                           max_queue=None) as ws:
            async def send() -> None:
                t0 = time.perf_counter()
                i = 0
                while not stop.is_set():
                    await asyncio.sleep(max(0.0, t0 + i / 32000 - time.perf_counter()))
                    j = i % len(pcm)
                    await ws.send(pcm[j:j + CHUNK])
                    i += CHUNK
                    sent_at.append((i / 32000, time.perf_counter()))
                await ws.send("end")

            sender = asyncio.create_task(send())
            k = 0
            async for message in ws:
                now = time.perf_counter()
                frame = json.loads(message)
                if "error" in frame:
                    sender.cancel()
                    if not admitted and ("keep up" in frame["error"]
                                         or "too many" in frame["error"]):
                        tally.refused += 1
                        return False
                    tally.errors += 1
                    print(f"  stream error: {frame['error']}", flush=True)
                    break
                if frame.get("done"):
                    done = True
                    continue
                if not admitted:
                    admitted = True
                    tally.open_now += 1
                    tally.most_open = max(tally.most_open, tally.open_now)
                    if tally.open_now == streams and tally.all_open_at is None:
                        tally.all_open_at = time.monotonic()
                frames += 1
                if sender.done():
                    continue  # the flush at the end does not wait for audio
                while k + 1 < len(sent_at) and sent_at[k][0] < frame["time"]:
                    k += 1
                if sent_at and sent_at[k][0] >= frame["time"]:
                    tally.delays.append((time.monotonic(), now - sent_at[k][1]))
                if len(sent_at) > 4096:  # only the recent sends matter
                    del sent_at[:k]
                    k = 0
            if not sender.cancelled():
                await sender
    except (ConnectionClosed, OSError) as e:
        tally.errors += 1
        print(f"  connection lost: {e}", flush=True)
    finally:
        if admitted:
            tally.open_now -= 1
    if not admitted:
        return True  # an error before the first frame: counted, not retried
    seconds = (sent_at[-1][0] if sent_at else 0.0)
    tally.audio_seconds += seconds
    tally.finished += done
    tally.frames += frames
    tally.dropped += max(0, round(seconds * FPS) - frames) if done else 0
    return True


async def client(port: int, pcm: bytes, tally: Tally, streams: int, stop: asyncio.Event,
                 delay: float) -> None:
    await asyncio.sleep(delay)  # stagger the starts
    while not stop.is_set():
        if await one_stream(port, pcm, tally, streams, stop):
            return
        try:  # refused: back off, as a client should, then try again
            await asyncio.wait_for(stop.wait(), 2.0)
        except TimeoutError:
            pass


@dataclass
class Sample:
    t: float  # seconds since the clients started
    open: int
    rss: dict[int, float]
    cpu: dict[int, float]  # CPU seconds of each of the server's processes so far
    audio: float  # seconds of audio sent so far (by the clients, estimated from the clock)


async def soak(port: int, pgid: int, pcm: bytes, streams: int, minutes: float,
               ramp: float) -> tuple[Tally, list[Sample], dict[int, float], float]:
    tally = Tally()
    stop = asyncio.Event()
    ready = {pid: r for pid, (r, _) in group_stats(pgid).items()}
    print(f"  ready: RSS {_rss_line(ready, pgid)}", flush=True)
    t0 = time.monotonic()
    tasks = [asyncio.create_task(client(port, pcm, tally, streams, stop, i * ramp / streams))
             for i in range(streams)]
    samples: list[Sample] = []
    audio = 0.0
    last = t0
    # The end: ``minutes`` after all streams are open, or, if they never all get in, after the
    # ramp plus ``minutes`` plus a minute for late admissions.
    give_up = t0 + ramp + 60 + minutes * 60
    while True:
        await asyncio.sleep(SAMPLE_EVERY)
        now = time.monotonic()
        audio += tally.open_now * (now - last)
        last = now
        stats = group_stats(pgid)
        sample = Sample(now - t0, tally.open_now, {p: r for p, (r, _) in stats.items()},
                        {p: c for p, (_, c) in stats.items()}, audio)
        samples.append(sample)
        recent = [d for t, d in tally.delays if t > now - 30]
        p95 = np.percentile(recent, 95) * 1000 if recent else float("nan")
        print(f"  t={sample.t:5.0f}s  open {sample.open:2d}  RSS {_rss_line(sample.rss, pgid)}"
              f"  refused {tally.refused:3d}  errors {tally.errors}  p95 (30 s) {p95:5.0f} ms",
              flush=True)
        end = (tally.all_open_at + minutes * 60) if tally.all_open_at else give_up
        if now >= end or now >= give_up:
            break
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 60)
    return tally, samples, ready, t0


def _rss_line(rss: dict[int, float], pgid: int) -> str:
    workers = " + ".join(f"{v:.0f}" for k, v in sorted(rss.items()) if k != pgid)
    return f"{sum(rss.values()):5.0f} MB (server {rss.get(pgid, 0):.0f}, workers {workers})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--streams", type=int, default=20)
    ap.add_argument("--minutes", type=float, default=10.0,
                    help="how long all streams are held open together")
    ap.add_argument("--ramp", type=float, default=30.0,
                    help="seconds over which the streams' starts are spread")
    args = ap.parse_args()
    pcm = speech(LOOP_SECONDS)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start(Path(tmp) / "data", args.streams)
        try:
            print(f"{args.streams} streams held {args.minutes:g} min of real-time speech, "
                  f"{os.cpu_count()} CPUs, load average {load_before[0]:.1f} before:", flush=True)
            tally, samples, ready, t0 = asyncio.run(
                soak(port, proc.pid, pcm, args.streams, args.minutes, args.ramp))
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(15)
    report(args, tally, samples, ready, t0, load_before, proc.pid)
    return 0


def report(args: argparse.Namespace, tally: Tally, samples: list[Sample],
           ready: dict[int, float], t0: float, load_before: tuple[float, ...],
           pgid: int) -> None:
    n = args.streams
    held = tally.most_open
    print(f"load average before {load_before[0]:.1f}, after {os.getloadavg()[0]:.1f} (2 cores "
          "shared: other work ran alongside)" if os.cpu_count() == 2 else "")
    got_in = (f"all {n} open together from t={tally.all_open_at - t0:.0f} s"
              if tally.all_open_at else f"at most {held} of {n} open together")
    print(f"streams: {got_in}; refused at connect {tally.refused} times; errors {tally.errors}; "
          f"finished {tally.finished}")
    steady_from = (tally.all_open_at - t0) if tally.all_open_at else None
    if steady_from is None and samples:  # never all in: the part where the most were open
        steady_from = next((s.t for s in samples if s.open == held), None)
    steady = [s for s in samples if steady_from is not None and s.t >= steady_from
              and s.open == held]
    ramp = [s for s in samples if steady_from is None or s.t < steady_from]
    delays = np.array([d for t, d in tally.delays
                       if steady_from is not None and t - t0 >= steady_from] or [np.nan]) * 1000
    print(f"frames {tally.frames}, dropped {tally.dropped}; delay audio sent -> frame over the "
          f"steady part: median {np.nanmedian(delays):.0f} ms, p95 "
          f"{np.nanpercentile(delays, 95):.0f} ms")
    print(f"RSS (server + workers): {sum(ready.values()):.0f} MB when ready, no stream yet")
    if ramp:
        print("ramp: " + ", ".join(f"t={s.t:.0f}s {s.open} open {sum(s.rss.values()):.0f} MB"
                                   for s in ramp))
    if len(steady) >= 2:
        totals = np.array([sum(s.rss.values()) for s in steady])
        spread = (totals.max() - totals.min()) / totals.min() * 100
        minutes = (steady[-1].t - steady[0].t) / 60
        trend = np.polyfit([s.t / 60 for s in steady], totals, 1)[0]
        audio = max(1e-9, steady[-1].audio - steady[0].audio)
        used = {p: (c - steady[0].cpu.get(p, 0.0)) / audio for p, c in steady[-1].cpu.items()}
        cpu = sum(used.values())
        server = used.get(pgid, 0.0)
        print(f"steady part, {held} streams open, {len(steady)} samples over {minutes:.1f} min: "
              f"RSS {totals.min():.0f}-{totals.max():.0f} MB (first {totals[0]:.0f}, last "
              f"{totals[-1]:.0f}), spread {spread:.1f} % of the lowest (target: within 10 %), "
              f"trend {trend:+.1f} MB/min")
        print(f"server CPU over the steady part: {cpu:.3f} s per second of audio per stream "
              f"({server:.3f} in the server process, {cpu - server:.3f} in the engines; "
              f"{cpu * held:.2f} cores for {held} streams)")
    else:
        print("no steady part: too few samples with the streams all open")


if __name__ == "__main__":
    sys.exit(main())
