"""Server benchmark: ``visemic serve`` end to end, measured from a client on this machine.

    python bench/server.py [--seconds 20] [--requests 5]

Starts a server on a free port (a temporary data directory) and prints:
- ``POST /v1/animate`` (JSON, with transcript) wall time for a spoken clip, median over requests;
- the WebSocket stream fed in real time (40 ms PCM16 chunks, paced by the clock): the delay from
  the moment the audio for a frame's time had been sent to the frame's arrival, median and 95th
  percentile (it includes the engine's look-ahead; DESIGN.md §5 target ≤ 150 ms);
- the server's resident memory while a client sends audio without reading frames.
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

SENTENCES = ("Mom bought five blue boxes. Please wait. Then we all go home for supper. "
             "The quick brown fox jumps over the lazy dog.")


def speech(seconds: float) -> tuple[np.ndarray, str]:
    """Whole repetitions of a spoken paragraph, at least ``seconds`` long, at 16 kHz (float32),
    and the transcript that matches them."""
    import soxr

    from visemic.phonetics import espeak

    audio, _ = espeak.synthesize(SENTENCES, "en-us")
    x = soxr.resample(audio.samples.astype(np.float32), audio.sample_rate, 16000)
    reps = int(np.ceil(seconds * 16000 / len(x)))
    return np.tile(x, reps), " ".join([SENTENCES] * reps)


def start(data_dir: Path) -> tuple[subprocess.Popen, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "visemic", "serve", "--port", str(port),
                             "--data-dir", str(data_dir), "--log-level", "warning",
                             "--stall-timeout", "3"], start_new_session=True)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc, port
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("server did not start")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def stream_latency(port: int, pcm: bytes) -> list[float]:
    from websockets.asyncio.client import connect

    chunk = 1280  # 40 ms of PCM16 at 16 kHz
    sent_at: list[tuple[float, float]] = []  # (audio seconds sent so far, clock)
    delays: list[float] = []
    async with connect(f"ws://127.0.0.1:{port}/v1/stream") as ws:
        async def send() -> None:
            t0 = time.perf_counter()
            for i in range(0, len(pcm), chunk):
                await asyncio.sleep(max(0.0, t0 + i / 32000 - time.perf_counter()))
                await ws.send(pcm[i:i + chunk])
                sent_at.append(((i + chunk) / 32000, time.perf_counter()))
            await ws.send("end")

        sender = asyncio.create_task(send())
        j = 0
        async for message in ws:
            now = time.perf_counter()
            frame = json.loads(message)
            if "time" not in frame or sender.done():
                continue  # flush frames at the end do not wait for audio
            while j + 1 < len(sent_at) and sent_at[j][0] < frame["time"]:
                j += 1
            if sent_at and sent_at[j][0] >= frame["time"]:
                delays.append(now - sent_at[j][1])
        await sender
    return delays


async def stalled_rss(port: int, pid: int, pcm: bytes) -> tuple[float, float, float]:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    sock.connect(("127.0.0.1", port))
    before = rss_mb(pid)
    sent = 0
    async with connect(f"ws://127.0.0.1:{port}/v1/stream", sock=sock, max_queue=4,
                       ping_interval=None) as ws:
        while sent < 600 * 32000:
            try:
                await asyncio.wait_for(ws.send(pcm), 2.0)
            except TimeoutError:
                break
            sent += len(pcm)
        await asyncio.sleep(2.5)
        peak = rss_mb(pid)
        try:
            async for _ in ws:
                pass
        except ConnectionClosed:
            pass
    return sent / 32000, before, peak


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="length of the test speech")
    ap.add_argument("--requests", type=int, default=5, help="POST requests to time")
    args = ap.parse_args()

    samples, text = speech(args.seconds)
    seconds = len(samples) / 16000
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
    with tempfile.TemporaryDirectory() as tmp:
        from visemic.audio import save_wav
        from visemic.types import Audio

        wav = Path(tmp) / "speech.wav"
        save_wav(Audio(samples, 16000), wav)
        proc, port = start(Path(tmp) / "data")
        try:
            url = f"http://127.0.0.1:{port}"
            times = []
            for _ in range(args.requests + 1):  # the first warms the worker processes
                t = time.perf_counter()
                r = httpx.post(f"{url}/v1/animate", files={"audio": ("s.wav", wav.read_bytes())},
                               data={"text": text, "format": "json"}, timeout=300)
                r.raise_for_status()
                times.append(time.perf_counter() - t)
            post = float(np.median(times[1:]))
            print(f"POST /v1/animate, {seconds:.0f} s speech + transcript, JSON: "
                  f"{post:.2f} s median ({seconds / post:.1f}x real time), "
                  f"first (cold workers) {times[0]:.2f} s")

            delays = np.array(asyncio.run(stream_latency(port, pcm))) * 1000
            print(f"WebSocket stream in real time: {len(delays)} frames, delay from audio sent "
                  f"to frame received: median {np.median(delays):.0f} ms, "
                  f"p95 {np.percentile(delays, 95):.0f} ms, max {delays.max():.0f} ms")

            offered, before, peak = asyncio.run(stalled_rss(port, proc.pid, pcm[:160000]))
            print(f"client not reading frames: it got {offered:.0f} s of audio in before the "
                  f"server pushed back; server RSS {before:.0f} -> {peak:.0f} MiB (a stream's "
                  f"engine alone takes about 30 MiB)")
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
