"""``visemic serve``: HTTP API, jobs (persisting across a restart), upload limits and errors,
API key, and the WebSocket stream (frames, isolation, a client that stops reading)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from websockets.exceptions import ConnectionClosed

from visemic.motion.arkit import BLENDSHAPES
from visemic.server.app import create_app

STARTUP_TIMEOUT = 60.0


# ---------------------------------------------------------------------------------------------
# helpers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """``python -m visemic serve`` on a free port, in its own process group."""

    def __init__(self, data_dir: Path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.log = open(data_dir.parent / f"server-{self.port}.log", "wb")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "visemic", "serve", "--port", str(self.port),
             "--data-dir", str(data_dir), "--log-level", "warning", *extra],
            stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {Path(self.log.name).read_text()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.kill()
        raise RuntimeError("server did not start")

    def rss_mb(self) -> float:
        """Resident memory of the server process (not its analysis workers), MiB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def kill(self) -> None:
        """SIGKILL the server and its workers: nothing gets to clean up."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.log.close()


def pcm16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


def at_16k(audio) -> np.ndarray:
    import soxr

    return soxr.resample(audio.samples.astype(np.float32), audio.sample_rate, 16000)


def transcript(timeline) -> str:
    return " ".join(w.text for w in timeline.words)


def wait_job(get, job_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def names_under(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*")]


# ---------------------------------------------------------------------------------------------
# HTTP, in process


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("server") / "data"


@pytest.fixture(scope="module")
def client(data_dir):
    with TestClient(create_app(data_dir, max_upload_bytes=2_000_000)) as c:
        yield c


def test_health_page_and_openapi(client):
    health = client.get("/health").json()
    assert health["status"] == "ok" and "mp4" in health["formats"]
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'id="avatar"' in page.text
    for name in ("app.js", "avatar.js", "pcm-worklet.js", "style.css"):
        assert client.get(f"/static/{name}").status_code == 200, name
    spec = client.get("/openapi.json").json()
    form = spec["paths"]["/v1/animate"]["post"]["requestBody"]["content"]
    assert "audio" in form["multipart/form-data"]["schema"]["properties"]
    assert "/v1/jobs/{job_id}/result" in spec["paths"]


def test_animate_answers_with_the_export(client, spoken, spoken_wav, data_dir):
    audio, timeline = spoken
    with open(spoken_wav, "rb") as f:
        # The client's file name is a path that must never reach the filesystem.
        r = client.post("/v1/animate", files={"audio": ("../../escaped.wav", f, "audio/wav")},
                        data={"text": transcript(timeline), "format": "json"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    result = r.json()
    assert result["timeline"]["source"] == "aligned"
    assert len(result["timeline"]["phones"]) >= 20
    channels = result["animation"]["channels"]
    assert channels[:52] == list(BLENDSHAPES)
    values = np.array(result["animation"]["values"])
    assert abs(len(values) - audio.duration * 60) <= 2
    gap = values[:, channels.index("jawOpen")] - values[:, channels.index("mouthClose")]
    assert gap.max() > 0.2
    tree = data_dir.parent
    assert "escaped.wav" not in names_under(tree) and not (tree.parent / "escaped.wav").exists()
    assert list((data_dir / "tmp").iterdir()) == []  # the upload and output are gone


def test_text_format_content_types(client, spoken_wav):
    wav = spoken_wav.read_bytes()
    r = client.post("/v1/animate", files={"audio": ("a.wav", wav)},
                    data={"format": "rhubarb-tsv"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/tab-separated-values")
    lines = r.text.strip().splitlines()
    assert len(lines) > 5
    times = [float(line.split("\t")[0]) for line in lines]
    assert times == sorted(times) and {line.split("\t")[1] for line in lines} >= {"A", "X"}
    r = client.post("/v1/animate", files={"audio": ("a.wav", wav)}, data={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.text.splitlines()[0].startswith("Timecode,BlendShapeCount,EyeBlinkLeft")


def test_bad_uploads_get_4xx_with_a_reason(client, spoken_wav, data_dir):
    wav = spoken_wav.read_bytes()
    cases = [
        ({"files": {"audio": ("a.wav", b"")}}, 400, "empty"),
        ({"files": {"audio": ("a.wav", b"\x13\x37 not audio at all " * 500)}}, 422,
         "not a readable audio file"),
        ({"files": {"audio": ("a.wav", wav)}, "data": {"format": "gif"}}, 400, "unknown format"),
        ({"files": {"audio": ("a.wav", wav)}, "data": {"format": "png"}}, 400, "PNG"),
        ({"files": {"audio": ("a.wav", wav)}, "data": {"fps": "fast"}}, 400, "not a number"),
        ({"files": {"audio": ("a.wav", wav)}, "data": {"language": "../etc"}}, 400, "language"),
        ({"files": {"audio": ("a.wav", wav)}, "data": {"voice": "x"}}, 400, "unknown field"),
        ({"files": {"sound": ("a.wav", wav)}}, 400, "audio"),
        ({"files": {"text": (None, "hello")}}, 400, "no audio"),
        ({"json": {"audio": "a.wav"}}, 415, "multipart/form-data"),
        ({"data": {"text": "hello"}}, 415, "multipart/form-data"),
        ({"files": {"audio": ("a.wav", b"\0" * 2_100_000)}}, 413, "larger than the limit"),
    ]
    for kwargs, status, reason in cases:
        r = client.post("/v1/animate", **kwargs)
        assert r.status_code == status, (kwargs.get("data"), r.text)
        error = r.json()["error"]
        assert reason in error, error
        assert str(data_dir) not in error  # server paths are not shown to clients
    assert list((data_dir / "tmp").iterdir()) == []


def test_portrait_goes_with_video_only(client, spoken_wav, data_dir):
    wav = spoken_wav.read_bytes()
    r = client.post("/v1/animate", files={"audio": ("a.wav", wav), "portrait": ("p.png", b"x")},
                    data={"format": "json"})
    assert r.status_code == 400 and "video formats" in r.json()["error"]
    r = client.post("/v1/animate", files={"audio": ("a.wav", wav),
                                          "portrait": ("p.png", b"not an image" * 50)},
                    data={"format": "mp4"})
    assert r.status_code == 422 and "portrait" in r.json()["error"]
    assert str(data_dir) not in r.json()["error"]
    assert list((data_dir / "tmp").iterdir()) == []


def test_no_face_in_the_portrait_names_the_form_field_not_a_flag(client, spoken, tmp_path):
    cv2 = pytest.importorskip("cv2")
    from visemic.audio import save_wav
    from visemic.types import Audio

    audio = spoken[0]
    short = save_wav(Audio(audio.samples[: int(0.6 * audio.sample_rate)], audio.sample_rate),
                     tmp_path / "short.wav")
    stripes = np.zeros((200, 180, 3), np.uint8)
    stripes[::7] = (10, 120, 30)
    ok, png = cv2.imencode(".png", stripes)
    assert ok
    r = client.post("/v1/animate", files={"audio": ("a.wav", Path(short).read_bytes()),
                                          "portrait": ("p.png", png.tobytes())},
                    data={"format": "mp4"})
    assert r.status_code == 422
    error = r.json()["error"]
    assert error.startswith("no face found in the portrait") and "'portrait'" in error
    assert "--" not in error  # no command-line flags in an HTTP answer


def test_portrait_video_job(client, shared, spoken, tmp_path):
    """A painting from ../shared animated as an MP4 job (the face is found, the video decodes)."""
    import av

    from visemic.audio import save_wav
    from visemic.types import Audio

    audio = spoken[0]
    short = save_wav(Audio(audio.samples[: int(1.5 * audio.sample_rate)], audio.sample_rate),
                     tmp_path / "short.wav")
    image = shared / "samples" / "portraits" / "vermeer_pearl_earring.jpg"
    r = client.post("/v1/animate?async=1",
                    files={"audio": ("a.wav", Path(short).read_bytes()),
                           "portrait": ("p.jpg", image.read_bytes())}, data={"format": "mp4"})
    assert r.status_code == 202 and r.json()["request"]["portrait"] is True
    job = wait_job(client.get, r.json()["id"], timeout=120)
    assert job["status"] == "done", job
    video = tmp_path / "out.mp4"
    video.write_bytes(client.get(job["result"]).content)
    with av.open(str(video)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert abs(frames - 1.5 * 30) <= 2


def test_async_job_progress_result_and_delete(client, spoken, spoken_wav):
    text = transcript(spoken[1])
    wav = spoken_wav.read_bytes()
    r = client.post("/v1/animate?async=1", files={"audio": ("a.wav", wav)},
                    data={"format": "rhubarb-tsv", "text": text})
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] in ("queued", "running") and r.headers["location"].endswith(job["id"])
    done = wait_job(client.get, job["id"])
    assert done["status"] == "done" and done["progress"] == 1.0
    result = client.get(done["result"])
    assert result.status_code == 200
    assert result.headers["content-type"].startswith("text/tab-separated-values")
    # The same request answered directly gives the same bytes.
    direct = client.post("/v1/animate", files={"audio": ("a.wav", wav)},
                         data={"format": "rhubarb-tsv", "text": text})
    assert direct.content == result.content
    assert job["id"] in [j["id"] for j in client.get("/v1/jobs").json()["jobs"]]
    assert client.delete(f"/v1/jobs/{job['id']}").status_code == 204
    assert client.get(f"/v1/jobs/{job['id']}").status_code == 404
    for bad in ("0" * 32, "..%2F..%2Fjobs.sqlite3", "x"):
        assert client.get(f"/v1/jobs/{bad}/result").status_code == 404


def test_failed_job_reports_the_reason(client):
    r = client.post("/v1/animate?async=1", files={"audio": ("a.wav", b"garbage" * 100)})
    assert r.status_code == 202
    job = wait_job(client.get, r.json()["id"])
    assert job["status"] == "failed" and "not a readable audio file" in job["error"]
    r = client.get(f"/v1/jobs/{job['id']}/result")
    assert r.status_code == 409 and "failed" in r.json()["error"]


def test_busy_server_refuses_more_work(tmp_path, spoken_wav):
    wav = spoken_wav.read_bytes()
    with TestClient(create_app(tmp_path, workers=1, max_pending=1)) as c:
        first = c.post("/v1/animate?async=1", files={"audio": ("a.wav", wav)},
                       data={"format": "mp4"})
        second = c.post("/v1/animate?async=1", files={"audio": ("a.wav", wav)})
        assert first.status_code == 202
        assert second.status_code == 503 and "busy" in second.json()["error"]
        assert wait_job(c.get, first.json()["id"])["status"] == "done"


def test_api_key(tmp_path):
    with TestClient(create_app(tmp_path, api_key="s3cret")) as c:
        garbage = {"files": {"audio": ("a.wav", b"garbage" * 10)}}
        assert c.post("/v1/animate", **garbage).status_code == 401
        r = c.post("/v1/animate", headers={"Authorization": "Bearer nope"}, **garbage)
        assert r.status_code == 401 and "API key" in r.json()["error"]
        # With the key the request gets through (and fails on the audio instead).
        assert c.post("/v1/animate", headers={"Authorization": "Bearer s3cret"},
                      **garbage).status_code == 422
        assert c.post("/v1/animate", headers={"X-API-Key": "s3cret"},
                      **garbage).status_code == 422
        assert c.get("/v1/jobs").status_code == 401
        assert c.get("/health").status_code == 200 and c.get("/").status_code == 200
        with c.websocket_connect("/v1/stream") as ws:
            assert "API key" in ws.receive_json()["error"]
            closing = ws.receive()
            assert closing["type"] == "websocket.close" and closing["code"] == 1008
        with c.websocket_connect("/v1/stream?api_key=s3cret") as ws:
            ws.send_text("end")
            assert ws.receive_json() == {"done": True}


# ---------------------------------------------------------------------------------------------
# a real server process: restart, WebSocket


def test_restart_keeps_finished_jobs(tmp_path, spoken_wav, spoken):
    data = tmp_path / "data"
    wav = spoken_wav.read_bytes()
    long_wav = tmp_path / "long.wav"  # 60 s: its video is still rendering when we kill
    from visemic.audio import save_wav
    from visemic.types import Audio

    audio = spoken[0]
    save_wav(Audio(np.tile(audio.samples, int(60 / audio.duration) + 1), audio.sample_rate),
             long_wav)
    server = ServerProcess(data)
    try:
        r = httpx.post(f"{server.url}/v1/animate?async=1", files={"audio": ("a.wav", wav)},
                       data={"format": "rhubarb-xml"}, timeout=30)
        assert r.status_code == 202, r.text
        done = wait_job(lambda p: httpx.get(server.url + p, timeout=10), r.json()["id"])
        assert done["status"] == "done"
        before = httpx.get(f"{server.url}{done['result']}", timeout=10).content
        r = httpx.post(f"{server.url}/v1/animate?async=1",
                       files={"audio": ("b.wav", long_wav.read_bytes())},
                       data={"format": "mp4"}, timeout=30)
        slow = r.json()["id"]
    finally:
        server.kill()
    server = ServerProcess(data)
    try:
        jobs = {j["id"]: j for j in httpx.get(f"{server.url}/v1/jobs", timeout=10).json()["jobs"]}
        assert jobs[done["id"]]["status"] == "done"
        after = httpx.get(f"{server.url}{done['result']}", timeout=10)
        assert after.status_code == 200 and after.content == before
        assert after.headers["content-type"] == "application/xml"
        assert jobs[slow]["status"] == "failed" and "interrupted" in jobs[slow]["error"]
        assert list((data / "uploads").iterdir()) == []
    finally:
        server.kill()


@pytest.fixture(scope="module")
def stream_server(tmp_path_factory):
    server = ServerProcess(tmp_path_factory.mktemp("stream") / "data", "--stall-timeout", "2",
                           "--max-streams", "4", "--max-upload-mb", "1")
    yield server
    server.kill()


def test_oversize_upload_is_refused_while_streaming(stream_server):
    """Chunked (no Content-Length): the server answers 413 once the limit is passed, without
    reading the rest of a 64 MB body."""
    import select

    sock = socket.create_connection(("127.0.0.1", stream_server.port))
    sock.sendall(b"POST /v1/animate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                 b"Content-Type: multipart/form-data; boundary=xyz\r\n\r\n")
    part = (b'--xyz\r\nContent-Disposition: form-data; name="audio"; filename="a.wav"\r\n'
            b"Content-Type: audio/wav\r\n\r\n")
    sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
    chunk = b"%x\r\n%s\r\n" % (65536, b"\0" * 65536)
    sent = 0
    sock.settimeout(5)
    try:
        while sent < 64 * 2**20 and not select.select([sock], [], [], 0)[0]:
            sock.sendall(chunk)
            sent += 65536
    except OSError:
        pass  # the server closed the connection
    reply = b""
    with contextlib.suppress(OSError):
        while b"}" not in reply and (data := sock.recv(65536)):
            reply += data
    sock.close()
    reply = reply.decode("latin-1")
    assert reply.startswith("HTTP/1.1 413"), reply[:200]
    assert "larger than the limit" in reply
    assert sent < 16 * 2**20  # stopped long before 64 MB


async def stream_frames(url: str, pcm: bytes, chunk: int = 3200) -> tuple[list[dict], list]:
    """Send ``pcm`` in chunks then ``end``; return (frames, other messages)."""
    from websockets.asyncio.client import connect

    frames, other = [], []
    async with connect(f"{url}/v1/stream") as ws:
        async def send():
            for i in range(0, len(pcm), chunk):
                await ws.send(pcm[i:i + chunk])
            await ws.send("end")

        sending = asyncio.create_task(send())
        async for message in ws:
            m = json.loads(message)
            (frames if "values" in m else other).append(m)
        await sending
        other.append(("close", ws.close_code))
    return frames, other


def mouth_gap(frames: list[dict]) -> np.ndarray:
    return np.array([f["values"]["jawOpen"] - f["values"]["mouthClose"] for f in frames])


def test_stream_sends_frames_in_order_then_done(stream_server, spoken):
    audio, timeline = spoken
    pcm = pcm16(at_16k(audio))
    frames, other = asyncio.run(stream_frames(stream_server.ws_url, pcm))
    assert other == [{"done": True}, ("close", 1000)]
    duration = len(pcm) / 2 / 16000
    assert abs(len(frames) - duration * 60) <= 2
    times = [f["time"] for f in frames]
    assert all(b > a for a, b in zip(times, times[1:], strict=False))
    assert [f["frame"] for f in frames] == list(range(len(frames)))
    assert all(list(f["values"]) == list(BLENDSHAPES) for f in frames)
    gap = mouth_gap(frames)
    t = np.array(times)
    speaking = np.zeros(len(t), bool)
    for p in timeline.phones:
        speaking |= (t >= p.start) & (t < p.end)
    assert gap[speaking].max() > 0.2  # the mouth opens while speech goes on
    assert gap[t < timeline.phones[0].start - 0.1].max(initial=0) < 0.08


def test_streams_are_isolated(stream_server, spoken):
    """A silent stream stays closed while a speaking one, at the same time, opens."""
    speech = pcm16(at_16k(spoken[0]))
    silence = bytes(len(speech))

    async def both():
        return await asyncio.gather(stream_frames(stream_server.ws_url, speech),
                                    stream_frames(stream_server.ws_url, silence))

    (talk, talk_end), (quiet, quiet_end) = asyncio.run(both())
    assert talk_end[0] == quiet_end[0] == {"done": True}
    assert len(talk) == len(quiet)
    assert mouth_gap(talk).max() > 0.2 and mouth_gap(quiet).max() < 0.05


def test_stream_protocol_errors(stream_server):
    from websockets.asyncio.client import connect

    async def run(message, query=""):
        async with connect(f"{stream_server.ws_url}/v1/stream{query}") as ws:
            if message is not None:
                await ws.send(message)
            replies = []
            with contextlib.suppress(ConnectionClosed):
                async for m in ws:
                    replies.append(json.loads(m))
            return replies, ws.close_code, ws.close_reason

    replies, code, reason = asyncio.run(run("hello"))
    assert code == 1003 and "end" in replies[-1]["error"]
    replies, code, _ = asyncio.run(run(b"\x01\x02\x03"))
    assert code == 1007 and "PCM16" in replies[-1]["error"]
    replies, code, _ = asyncio.run(run(None, "?fps=0"))
    assert code == 1008 and "fps" in replies[-1]["error"]


def test_client_that_stops_reading_does_not_grow_server_memory(stream_server, spoken):
    """Back-pressure: the server stops reading audio once its frame queue is full, then closes
    the connection (1008); its memory stays flat although the client offers 10 minutes."""
    from websockets.asyncio.client import connect

    speech = pcm16(at_16k(spoken[0]))
    offered = 600 * 32000

    async def warm() -> float:
        """RSS while an ordinary stream runs: its engine (models, decoder) allocated."""
        async with connect(f"{stream_server.ws_url}/v1/stream") as ws:
            await ws.send(speech)
            await ws.recv()
            rss = stream_server.rss_mb()
            await ws.send("end")
            async for _ in ws:
                pass
            return rss

    baseline = asyncio.run(warm())

    async def stall():
        # Small socket buffers (set before connecting, as TCP sizes its window then), so that
        # the kernel does not soak up what the server has to hold back.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        sock.connect(("127.0.0.1", stream_server.port))
        async with connect(f"{stream_server.ws_url}/v1/stream", sock=sock, max_queue=4,
                           ping_interval=None) as ws:
            sent = 0
            while sent < offered:
                try:
                    await asyncio.wait_for(ws.send(speech), 2.0)
                except TimeoutError:
                    break  # the server stopped taking audio
                sent += len(speech)
            await asyncio.sleep(3.0)  # stalled for longer than --stall-timeout
            peak = stream_server.rss_mb()
            frames = 0
            error = None
            with contextlib.suppress(ConnectionClosed):
                async for message in ws:
                    m = json.loads(message)
                    frames += "values" in m
                    error = m.get("error", error)
            return sent, peak, frames, error, ws.close_code

    sent, peak, frames, error, code = asyncio.run(stall())
    assert sent < offered / 2  # back-pressure reached the client
    assert code == 1008 and "not reading" in error
    # Frames produced but never read would be about 1 kB each; they were not buffered.
    assert peak - baseline < 30, (baseline, peak, frames)
    # The server is still serving.
    frames, other = asyncio.run(stream_frames(stream_server.ws_url, speech))
    assert other[0] == {"done": True} and len(frames) > 50
