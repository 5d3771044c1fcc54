"""Soak: many concurrent WebSocket streams against one ``visemic serve`` on loopback.

    python bench/soak.py [--streams 20] [--minutes 10] [--stream-seconds 60]

Starts a server on 127.0.0.1 (a temporary data directory). Each of ``--streams`` clients sends
speech in real time (40 ms PCM16 chunks paced by the clock) as consecutive streams of
``--stream-seconds`` until ``--minutes`` have passed, so engines are opened and closed all the
time. Printed: per-frame delay from the audio being sent to the frame arriving (median, p95),
frames missing from finished streams (dropped), streams refused at connect (1013: the server
can't keep up) or ended with an error, and the resident memory of the server and each of its
worker processes when ready and over time. Client starts are spread over one stream length, so
the load is steady once all have started. The target is RSS flat within 10 % under that steady
load: the spread of every sample from the last client's start to the end, with no warm-up left
out (the server warms its stream engines before it answers /health). Bounded: everything stops
at ``--minutes`` plus one stream; nothing leaves the machine. Latency figures on a machine
shared with other work are lower bounds.
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
from pathlib import Path

import httpx
import numpy as np

FPS = 60
CHUNK = 1280  # 40 ms of PCM16 at 16 kHz


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


def group_rss_mb(pgid: int) -> dict[int, float]:
    """Resident memory (MB) of each process in the server's process group (server + workers),
    by pid."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != pgid:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out[int(entry.name)] = int(line.split()[1]) / 1024
        except (OSError, ProcessLookupError):
            continue
    return out


class Tally:
    def __init__(self) -> None:
        self.delays: list[float] = []
        self.streams = self.refused = self.errors = self.dropped = self.frames = 0


async def one_stream(port: int, pcm: bytes, tally: Tally) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    sent_at: list[tuple[float, float]] = []
    frames = 0
    try:
        async with connect(f"ws://127.0.0.1:{port}/v1/stream?fps={FPS}") as ws:
            async def send() -> None:
                t0 = time.perf_counter()
                for i in range(0, len(pcm), CHUNK):
                    await asyncio.sleep(max(0.0, t0 + i / 32000 - time.perf_counter()))
                    await ws.send(pcm[i:i + CHUNK])
                    sent_at.append(((i + CHUNK) / 32000, time.perf_counter()))
                await ws.send("end")

            sender = asyncio.create_task(send())
            j = 0
            done = False
            async for message in ws:
                now = time.perf_counter()
                frame = json.loads(message)
                if "error" in frame:
                    if "keep up" in frame["error"] or "too many" in frame["error"]:
                        tally.refused += 1
                    else:
                        tally.errors += 1
                    sender.cancel()
                    return
                if frame.get("done"):
                    done = True
                    continue
                frames += 1
                if sender.done():
                    continue  # the flush at the end does not wait for audio
                while j + 1 < len(sent_at) and sent_at[j][0] < frame["time"]:
                    j += 1
                if sent_at and sent_at[j][0] >= frame["time"]:
                    tally.delays.append(now - sent_at[j][1])
            await sender
    except (ConnectionClosed, OSError):
        tally.errors += 1
        return
    expected = round(len(pcm) / 32000 * FPS)
    tally.streams += 1
    tally.frames += frames
    tally.dropped += max(0, expected - frames) if done else expected


async def client(port: int, pcm: bytes, until: float, tally: Tally, delay: float) -> None:
    await asyncio.sleep(delay)  # stagger the starts
    while time.monotonic() < until:
        before = tally.refused
        await one_stream(port, pcm, tally)
        if tally.refused > before:
            await asyncio.sleep(2.0)  # refused: back off, as a client should


async def soak(port: int, pgid: int, pcm: bytes, streams: int, minutes: float) -> Tally:
    tally = Tally()
    t0 = time.monotonic()
    ready = group_rss_mb(pgid)  # warmed up, no stream yet
    print(f"  ready: RSS {_rss_line(ready, pgid)}", flush=True)
    until = t0 + minutes * 60
    # Starts spread evenly over one stream's length, so streams end (and new ones open) a few
    # at a time and about as many run at any moment: the load is steady once all have started.
    length = len(pcm) / 32000
    tasks = [asyncio.create_task(client(port, pcm, until, tally, i * length / streams))
             for i in range(streams)]
    samples: list[tuple[float, dict[int, float], int]] = []
    while not all(t.done() for t in tasks):
        await asyncio.sleep(min(30.0, max(5.0, minutes * 60 / 20)))
        rss = group_rss_mb(pgid)
        delays = np.array(tally.delays[-2000:] or [np.nan]) * 1000
        try:  # streams open right now (each holds a recogniser of ~25 MB in a worker)
            health = await asyncio.to_thread(httpx.get, f"http://127.0.0.1:{port}/health",
                                             timeout=5)
            live = str(health.json()["streams"])
        except (httpx.HTTPError, ValueError, KeyError):
            live = "?"
        samples.append((time.monotonic() - t0, rss, int(live) if live.isdigit() else -1))
        print(f"  t={time.monotonic() - t0:5.0f}s  RSS {_rss_line(rss, pgid)}  live {live:>2}  "
              f"streams done "
              f"{tally.streams:4d}  refused {tally.refused:3d}  errors {tally.errors:3d}  "
              f"recent p95 {np.nanpercentile(delays, 95):6.0f} ms", flush=True)
    await asyncio.gather(*tasks)
    tally.ready = ready  # type: ignore[attr-defined]
    tally.rss = samples  # type: ignore[attr-defined]
    return tally


def _rss_line(rss: dict[int, float], pgid: int) -> str:
    workers = " + ".join(f"{v:.0f}" for k, v in sorted(rss.items()) if k != pgid)
    return f"{sum(rss.values()):5.0f} MB (server {rss.get(pgid, 0):.0f}, workers {workers})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--streams", type=int, default=20)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--stream-seconds", type=float, default=60.0)
    args = ap.parse_args()
    pcm = speech(args.stream_seconds)
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start(Path(tmp) / "data", args.streams)
        try:
            print(f"{args.streams} streams x {args.minutes:g} min of real-time speech "
                  f"({args.stream_seconds:g} s per stream), {os.cpu_count()} CPUs:")
            tally = asyncio.run(soak(port, proc.pid, pcm, args.streams, args.minutes))
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(15)
    delays = np.array(tally.delays or [np.nan]) * 1000
    print(f"streams finished {tally.streams}, refused at connect {tally.refused}, ended with "
          f"an error {tally.errors}")
    print(f"frames {tally.frames}, dropped {tally.dropped}; delay audio sent -> frame: median "
          f"{np.nanmedian(delays):.0f} ms, p95 {np.nanpercentile(delays, 95):.0f} ms")
    # Flatness under steady load: every sample from the moment the last client has started (one
    # stream length in) until the clients stop; no warm-up is left out (the server loads what
    # every stream needs before it answers /health), only the ramp of the load itself.
    ready = sum(tally.ready.values())  # type: ignore[attr-defined]
    steady = [(t, sum(r.values()), live) for t, r, live in tally.rss  # type: ignore[attr-defined]
              if args.stream_seconds <= t <= args.minutes * 60]
    print(f"RSS (server + workers): {ready:.0f} MB when ready, no stream yet")
    if steady:
        totals = np.array([v for _, v, _ in steady])
        drift = (totals.max() - totals.min()) / totals.min() * 100
        print(f"under steady load, all {len(totals)} samples from t={steady[0][0]:.0f} s to "
              f"t={steady[-1][0]:.0f} s: {totals.min():.0f}-{totals.max():.0f} MB (first "
              f"{totals[0]:.0f}, last {totals[-1]:.0f}): spread {drift:.1f} % of the lowest "
              f"(target: within 10 %)")
        # Each open stream holds a recogniser: RSS follows the streams open at the sample. What
        # is left once that is taken out (a least-squares line over the samples) is growth.
        live = np.array([n for _, _, n in steady], float)
        ok = live >= 0
        if ok.sum() >= 3 and np.ptp(live[ok]) > 0:
            slope, base = np.polyfit(live[ok], totals[ok], 1)
            rest = totals[ok] - (base + slope * live[ok])
            ref = base + slope * live[ok].mean()
            t = np.array([t for t, _, _ in steady])[ok]
            trend = np.polyfit(t / 60, rest, 1)[0]
            print(f"RSS = {base:.0f} MB + {slope:.1f} MB per open stream; apart from that, "
                  f"samples spread {np.ptp(rest) / ref * 100:.1f} % of {ref:.0f} MB (at the mean "
                  f"{live[ok].mean():.1f} open streams), trend {trend:+.1f} MB/min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
