"""Hostile and careless input (issue 22): each case ends in correct output or a user error."""

from __future__ import annotations

import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from visemic import audio as audio_io
from visemic.errors import VisemicError


def multichannel_wav(path: Path, channels: int, seconds: float = 1.0,
                     rate: int = 16000) -> np.ndarray:
    """A PCM WAV with ``channels`` channels of noise; returns the expected mono mix."""
    rng = np.random.default_rng(channels)
    pcm = (rng.standard_normal((int(seconds * rate), channels)) * 3000).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return pcm.astype(np.float64).mean(axis=1) / 32768


def multichannel_flac(path: Path, layout: str = "7.1", rate: int = 16000) -> None:
    import av

    channels = len(av.AudioLayout(layout).channels)
    rng = np.random.default_rng(0)
    pcm = (rng.standard_normal((1, rate * channels)) * 3000).astype(np.int16)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("flac", rate=rate, layout=layout)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout=layout)
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


# --- 1. any channel count is mixed down -------------------------------------------------------

_LOAD = "import sys; from visemic import audio; print(audio.load(sys.argv[1]).samples.size)"


@pytest.mark.parametrize("channels", [2, 8, 12, 24])
def test_wav_of_many_channels_is_mixed_down(tmp_path, channels):
    path = tmp_path / f"c{channels}.wav"
    expected = multichannel_wav(path, channels)
    # In a child first: before the fix, 8+ channels killed the process with SIGSEGV.
    done = subprocess.run([sys.executable, "-c", _LOAD, str(path)], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr[-500:]
    got = audio_io.load(path).samples
    assert got.size == expected.size
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_flac_of_eight_channels_is_mixed_down(tmp_path):
    path = tmp_path / "c8.flac"
    multichannel_flac(path)
    done = subprocess.run([sys.executable, "-c", _LOAD, str(path)], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.strip() == "16000"


# --- 2. fps is bounded everywhere -------------------------------------------------------------

TINY_FPS = ["1e-9", "1e-320", "0.5", "241", "1e308", "inf", "nan", "-60", "x"]


@pytest.fixture(scope="module")
def short_wav(tmp_path_factory) -> Path:
    from visemic.phonetics import espeak

    audio, _ = espeak.synthesize("Hello there.", "en-us")
    path = tmp_path_factory.mktemp("short") / "hello.wav"
    audio_io.save_wav(audio, path)
    return path


@pytest.mark.parametrize("fps", TINY_FPS)
def test_fps_is_bounded_in_the_api_and_cli(short_wav, tmp_path, capsys, fps):
    import visemic
    from visemic.cli import main
    from visemic.limits import check_fps

    with pytest.raises(VisemicError, match="fps"):
        check_fps(fps)
    value = float(fps) if fps != "x" else fps
    with pytest.raises(VisemicError, match="fps"):
        visemic.animate(short_wav, fps=value)
    with pytest.raises(VisemicError, match="fps"):
        visemic.say("hi", fps=value)
    code = main(["animate", str(short_wav), "-o", str(tmp_path / "out.json"), "--fps", fps])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error:") and "fps" in err and err.count("\n") == 1
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("fps", ["1e-9", "1e-320", "1e999"])
def test_fps_is_bounded_in_batch_stream_and_server(short_wav, tmp_path, fps):
    from fastapi.testclient import TestClient

    from visemic.batch.inputs import Defaults, discover
    from visemic.server.app import create_app
    from visemic.stream.engine import StreamAnimator

    manifest = tmp_path / "items.csv"
    manifest.write_text(f"audio,fps\n{short_wav},{fps}\n")
    (item,) = discover(manifest, Defaults())
    assert item.problem and "fps" in item.problem
    with pytest.raises(VisemicError, match="fps"):
        StreamAnimator(fps=float(fps))
    with TestClient(create_app(data_dir=tmp_path / "data", workers=1)) as client:
        r = client.post("/v1/animate", files={"audio": ("a.wav", short_wav.read_bytes())},
                        data={"fps": fps})
        assert r.status_code == 400 and "fps" in r.json()["error"]
        with client.websocket_connect(f"/v1/stream?fps={fps}") as ws:
            assert "fps" in ws.receive_json()["error"]


# --- 5. NaN and infinite samples are refused --------------------------------------------------

def float_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    import av

    with av.open(str(path), "w", format="wav") as out:
        stream = out.add_stream("pcm_f32le", rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples.astype(np.float32)[None, :], format="flt",
                                           layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("rate", [16000, 44100])
def test_nan_or_inf_samples_are_refused(short_wav, tmp_path, capsys, bad, rate):
    from visemic.cli import main

    samples = 0.1 * np.sin(np.arange(rate) * 0.05)
    samples[rate // 2] = bad
    path = float_wav(tmp_path / "bad.wav", samples, rate)
    with pytest.raises(VisemicError, match="NaN or infinite"):
        audio_io.load(path)
    out = tmp_path / "out.json"
    assert main(["animate", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "NaN or infinite" in err and not out.exists()
    with pytest.raises(VisemicError, match="NaN or infinite"):
        audio_io.from_array(samples, rate)


# --- 6. the error contract: input faults are VisemicError, bugs an incident id ------------------

def tone_wav(path: Path, ms: float, rate: int = 16000) -> Path:
    n = int(ms * rate / 1000)
    audio_io.save_wav(audio_io.from_array(0.1 * np.sin(np.arange(n) * 0.3), rate), path)
    return path


@pytest.mark.parametrize("ms", [20, 25, 30, 35, 41, 45])
def test_a_few_milliseconds_of_audio_animate(tmp_path, ms):
    """20–41 ms once broke the curves (a broadcast error) or recognition (a TypeError)."""
    import visemic

    path = tone_wav(tmp_path / "short.wav", ms)
    for text in (None, "hello"):
        for method in ("phones", "words"):
            for fps in (1, 60, 240):
                result = visemic.animate(path, text=text, method=method, fps=fps)
                assert result.animation.frames == max(1, round(result.audio.duration * fps))
                assert np.isfinite(result.animation.values).all()


def test_text_argument_that_is_not_utf8(short_wav, tmp_path):
    out = tmp_path / "out.json"
    done = subprocess.run([sys.executable.encode(), b"-m", b"visemic", b"animate",
                           bytes(short_wav), b"--text", b"hel\xfflo", b"-o", bytes(out)],
                          capture_output=True)
    err = done.stderr.decode()
    assert done.returncode == 2 and err.startswith("error: the transcript is not valid UTF-8")
    assert err.count("\n") == 1 and not out.exists()


def _alignment_cases() -> dict[str, str]:
    grid = 'File type = "ooTextFile"\nObject class = "TextGrid"\n\n0\n1\n<exists>\n'
    return {
        "nested.json": "[" * 100_000 + "]" * 100_000,
        "nested_words.json": '{"words": ' + "[" * 5000 + "]" * 5000 + "}",
        "inf.json": '{"words": [{"word": "hi", "start": 0, "end": 1e999}]}',
        "huge.json": '{"words": [{"word": "hi", "start": 0, "end": 1e300}]}',
        "digits.json": '{"words": [{"word": "hi", "start": 0, "end": ' + "9" * 5000 + "}]}",
        "tiers_inf.TextGrid": grid + '1e999\n"IntervalTier"\n"words"\n0\n1\n1\n0\n1\n"hi"\n',
        "tiers_neg.TextGrid": grid + '-3\n"IntervalTier"\n"words"\n0\n1\n1\n0\n1\n"hi"\n',
        "count.TextGrid": grid + '1\n"IntervalTier"\n"words"\n0\n1\n1.5\n0\n1\n"hi"\n',
        "count_big.TextGrid": grid + '1\n"IntervalTier"\n"words"\n0\n1\n1e18\n0\n1\n"hi"\n',
        "time.TextGrid": grid + '1\n"IntervalTier"\n"words"\n0\n1\n1\n0\n1e20\n"hi"\n',
        "time.ctm": "utt 1 1e300 1e300 hi\n",
        "nan.ctm": "utt 1 nan 1 hi\n",
    }


@pytest.mark.parametrize("name", sorted(_alignment_cases()))
def test_nonsense_alignment_files_are_user_errors(tmp_path, name):
    from visemic.phonetics.imports import load_alignment

    path = tmp_path / name
    path.write_text(_alignment_cases()[name])
    with pytest.raises(VisemicError, match="cannot read alignment"):
        load_alignment(path)


@pytest.mark.parametrize("content", [
    '{"keyframes": ' + "[" * 50_000 + "]" * 50_000 + "}",
    '[{"time": ' + "9" * 5000 + ', "emotion": "happy"}]',
    '[{"time": 1' + "0" * 400 + ', "emotion": "happy"}]',
    '[{"time": 0, "emotion": {"happy": 1' + "0" * 400 + "}}]",
    'time,emotion\n0,"' + "x" * 200_000 + '"\n',
])
def test_nonsense_emotion_tracks_are_user_errors(tmp_path, content):
    from visemic.motion.emotion import load_track

    path = tmp_path / "track.json"
    path.write_text(content)
    with pytest.raises(VisemicError):
        load_track(path)


def test_huge_batch_csv_field_is_a_user_error(short_wav, tmp_path):
    from visemic.batch.inputs import Defaults, discover

    manifest = tmp_path / "items.csv"
    manifest.write_text(f'audio,text\n{short_wav},"' + "hello " * 40_000 + '"\n')
    with pytest.raises(VisemicError, match="items.csv"):
        discover(manifest, Defaults())


def test_a_bug_is_an_incident_id_over_http_with_details_in_the_log(tmp_path, caplog):
    from fastapi.testclient import TestClient

    from visemic.server.app import create_app
    from visemic.server.jobs import describe_failure

    secret = str(tmp_path / "secret")
    line = describe_failure(ZeroDivisionError(f"division by zero in {secret}"))
    assert line.startswith("internal error, id ") and secret not in line
    incident = line.rsplit(" ", 1)[-1]
    assert any(incident in r.getMessage() and r.exc_info for r in caplog.records)

    data = tmp_path / "data"
    with TestClient(create_app(data_dir=data, workers=1),
                    raise_server_exceptions=False) as client:
        assert client.get("/v1/jobs").status_code == 200
        # The job database turned to garbage under the server: a fault no request caused.
        (data / "jobs.sqlite3").write_bytes(b"this is not a database" * 100)
        for extra in data.glob("jobs.sqlite3-*"):
            extra.unlink()
        r = client.get("/v1/jobs")
    assert r.status_code == 500
    body = r.json()
    assert set(body) == {"error"} and body["error"].startswith("internal error, id ")
    assert str(data) not in r.text and "sqlite" not in r.text.lower()
    incident = body["error"].rsplit(" ", 1)[-1]
    assert any(incident in rec.getMessage() and rec.exc_info for rec in caplog.records)


# --- 7. text files: UTF-8 (± BOM) and UTF-16 with BOM, else an error naming the file -----------

TEXT = "Grüße, naïve café: hello there."


@pytest.mark.parametrize("raw", [
    TEXT.encode("utf-8"), b"\xef\xbb\xbf" + TEXT.encode("utf-8"),
    TEXT.encode("utf-16"), b"\xff\xfe" + TEXT.encode("utf-16-le"),
    b"\xfe\xff" + TEXT.encode("utf-16-be"),
])
def test_text_files_in_accepted_encodings(tmp_path, raw):
    from visemic.batch.inputs import Defaults, discover
    from visemic.textfile import read_text

    path = tmp_path / "clip.txt"
    path.write_bytes(raw)
    assert read_text(path, "transcript") == TEXT
    tone_wav(tmp_path / "clip.wav", 100)
    (item,) = discover(tmp_path, Defaults())
    assert item.text == TEXT and item.problem is None


@pytest.mark.parametrize("raw,why", [
    (TEXT.encode("latin-1"), "not UTF-8 or UTF-16"),
    (TEXT.encode("utf-16-le"), "NUL"),
    (TEXT.encode("utf-32"), "UTF-32"),
    (b"\xff\xfe" + b"\x00\xd8a\x00", "not valid UTF-16"),
    (bytes(range(256)), "UTF-8"),
])
def test_text_files_in_other_encodings_are_refused_by_name(tmp_path, capsys, raw, why):
    from visemic.batch.inputs import Defaults, discover
    from visemic.cli import main
    from visemic.motion.emotion import load_track
    from visemic.textfile import read_text

    path = tmp_path / "clip.txt"
    path.write_bytes(raw)
    with pytest.raises(VisemicError, match=why) as caught:
        read_text(path, "transcript")
    assert str(path) in str(caught.value)
    with pytest.raises(VisemicError, match="clip.txt"):
        load_track(path)
    audio = tone_wav(tmp_path / "clip.wav", 100)
    (item,) = discover(tmp_path, Defaults())
    assert item.problem and "clip.txt" in item.problem
    out = tmp_path / "out.json"
    assert main(["animate", str(audio), "--text-file", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}") and err.count("\n") == 1 and not out.exists()


# --- 3. server: duration cap from decoded samples, job timeout, cancelling running jobs ---------

def lying_wav(path: Path, seconds: float, claimed: float, rate: int = 16000) -> Path:
    """A PCM WAV of ``seconds`` of tone whose header claims ``claimed`` seconds."""
    import struct

    n = int(seconds * rate)
    pcm = (0.1 * np.sin(np.arange(n) * 0.05) * 32767).astype("<i2").tobytes()
    size = int(claimed * rate) * 2
    header = (b"RIFF" + struct.pack("<I", 36 + size) + b"WAVEfmt "
              + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
              + b"data" + struct.pack("<I", size))
    path.write_bytes(header + pcm)
    return path


def wait_status(client, job_id: str, wanted: tuple[str, ...], timeout: float = 120.0) -> dict:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job.get("status") in wanted:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never reached {wanted}")


def test_duration_limit_counts_decoded_samples(tmp_path):
    import visemic

    honest = lying_wav(tmp_path / "six.wav", seconds=6, claimed=6)
    with audio_io.duration_limit(4), pytest.raises(VisemicError, match="limit of 4 s"):
        visemic.animate(honest)
    # A header claiming 12 hours takes the long-file path; what decodes is what counts.
    long_header = lying_wav(tmp_path / "claims.wav", seconds=6, claimed=12 * 3600)
    with audio_io.duration_limit(4), pytest.raises(VisemicError, match="limit of 4 s"):
        visemic.animate(long_header)
    with audio_io.duration_limit(10):
        assert visemic.animate(long_header).audio.duration == pytest.approx(6, abs=0.01)
        assert visemic.animate(honest).audio.duration == pytest.approx(6, abs=0.01)


def test_server_max_duration_job_timeout_and_cancel(tmp_path):
    from fastapi.testclient import TestClient

    from visemic.server.app import create_app

    wav = lying_wav(tmp_path / "a.wav", seconds=6, claimed=6).read_bytes()
    app = create_app(data_dir=tmp_path / "data", workers=1, max_duration=4.0)
    with TestClient(app) as client:
        r = client.post("/v1/animate", files={"audio": ("a.wav", wav)})
        assert r.status_code == 422 and "limit of 4 s" in r.json()["error"]
        assert "data" not in r.json()["error"]
        r = client.post("/v1/animate?async=1", files={"audio": ("a.wav", wav)})
        job = wait_status(client, r.json()["id"], ("done", "failed"))
        assert job["status"] == "failed" and "limit of 4 s" in job["error"]
        assert client.get("/health").json()["max_duration"] == 4.0

    long_speech = lying_wav(tmp_path / "b.wav", seconds=20, claimed=20).read_bytes()
    app = create_app(data_dir=tmp_path / "data2", workers=1, job_timeout=0.5)
    with TestClient(app) as client:
        r = client.post("/v1/animate?async=1", files={"audio": ("b.wav", long_speech)},
                        data={"format": "mp4"})
        job = wait_status(client, r.json()["id"], ("done", "failed"))
        assert job["status"] == "failed" and "time limit of 0.5 s" in job["error"]

    app = create_app(data_dir=tmp_path / "data3", workers=1)
    with TestClient(app) as client:
        r = client.post("/v1/animate?async=1", files={"audio": ("b.wav", long_speech)},
                        data={"format": "mp4"})
        job_id = r.json()["id"]
        wait_status(client, job_id, ("running",))
        pool = app.state.pool
        (slot,) = pool._slots
        worker = slot.process
        assert client.delete(f"/v1/jobs/{job_id}").status_code == 204
        assert client.get(f"/v1/jobs/{job_id}").status_code == 404
        worker.join(10)
        assert not worker.is_alive()  # the render was stopped, not left to finish
        assert not list((tmp_path / "data3" / "results").iterdir())
        # The pool carries on with a fresh process.
        r = client.post("/v1/animate", files={"audio": ("a.wav", wav)})
        assert r.status_code == 200 and r.json()["animation"]["fps"] == 60
        assert pool.pending == 0


# --- 8. WebSocket: close codes for bad control messages, engine replacement, degraded health ----

def _closing(ws) -> tuple[list[dict], int | None]:
    """Messages until the server closes, and its close code."""
    from starlette.websockets import WebSocketDisconnect

    replies = []
    try:
        while True:
            replies.append(ws.receive_json())
    except WebSocketDisconnect as e:
        return replies, e.code


def test_stream_control_messages_close_with_a_code_and_reason(tmp_path):
    from fastapi.testclient import TestClient

    from visemic.server.app import create_app

    cases = [('{"emotion": ' + "[" * 1500 + "]" * 1500 + "}", 1003, "nested"),
             ('{"emotion": "happy", "ease": ' + "9" * 3000 + "}", 1003, '"ease"'),
             ('{"emotion": "' + "happy," * 1000 + '"}', 1009, "too long"),
             ('{"emotion": {"happy": 1' + "0" * 400 + "}}", 1003, "intensity")]
    with TestClient(create_app(data_dir=tmp_path / "data")) as client:
        for text, code, why in cases:
            with client.websocket_connect("/v1/stream") as ws:
                ws.send_bytes(b"\x00\x00" * 1600)
                ws.send_text(text)
                replies, closed = _closing(ws)
            assert closed == code and why in replies[-1]["error"], (text[:40], replies)


def test_a_dead_stream_engine_is_replaced_and_health_reports_degraded(tmp_path):
    from fastapi.testclient import TestClient

    from visemic.server.app import create_app

    tone = (0.2 * np.sin(np.arange(16000) * 0.1) * 32767).astype("<i2").tobytes()
    app = create_app(data_dir=tmp_path / "data")
    with TestClient(app) as client:
        with client.websocket_connect("/v1/stream") as ws:
            ws.send_bytes(tone)
            assert "frame" in ws.receive_json()  # the engine is up
            pool = app.state.hub._pool
            for worker in list(pool._workers):  # a crash in native code, as SIGSEGV would
                worker.process.kill()
                worker.process.join(10)
            ws.send_bytes(tone)
            replies, closed = _closing(ws)
        assert closed == 1011 and "engine stopped" in replies[-1]["error"]
        # Each worker's reader thread notices its death on its own: on a busy machine the
        # second replacement can lag the first by a moment.
        deadline = time.monotonic() + 30
        while (pool.dead or pool.replaced < len(pool._workers)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pool.replaced >= 1 and pool.dead == 0
        with client.websocket_connect("/v1/stream") as ws:  # a fresh engine serves
            ws.send_bytes(tone)
            ws.send_text("end")
            replies, closed = _closing(ws)
        assert replies[-1] == {"done": True} and len(replies) > 30
        assert client.get("/health").status_code == 200

        scratch = tmp_path / "data" / "tmp"
        scratch.rename(tmp_path / "data" / "tmp-away")
        scratch.write_text("a file where the scratch folder was")
        r = client.get("/health")
        assert r.status_code == 503 and r.json()["status"] == "degraded"
        assert "data directory" in r.json()["problems"][0] and str(tmp_path) not in r.text
        scratch.unlink()
        (tmp_path / "data" / "tmp-away").rename(scratch)
        assert client.get("/health").json()["status"] == "ok"


# --- 9. security: Host allow-list, cross-site refusals, uploads written once, disk full -------

def test_host_allow_list_refuses_rebound_names(short_wav, tmp_path):
    from fastapi.testclient import TestClient

    from visemic.server import security
    from visemic.server.app import create_app

    hosts = security.allowed_hosts(["studio.lan"], bind="192.168.1.5")
    assert {"localhost", "127.0.0.1", "::1", "studio.lan", "192.168.1.5"} <= hosts
    assert security.host_name("[::1]:8000") == "::1" and security.host_name("LocalHost:80") \
        == "localhost"
    app = create_app(data_dir=tmp_path / "data", allowed_hosts=hosts)
    with TestClient(app, base_url="http://localhost:8000") as client:
        assert client.get("/health").status_code == 200
        for host in ("127.0.0.1:8000", "[::1]:8000", "studio.lan", "192.168.1.5:8000"):
            assert client.get("/health", headers={"host": host}).status_code == 200
        for path in ("/health", "/", "/v1/jobs"):
            r = client.get(path, headers={"host": "evil.example:8000"})
            assert r.status_code == 421 and "--allowed-host evil.example" in r.json()["error"]
        r = client.post("/v1/animate", headers={"host": "evil.example"},
                        files={"audio": ("a.wav", short_wav.read_bytes())})
        assert r.status_code == 421
        with client.websocket_connect("/v1/stream", headers={"host": "evil.example"}) as ws:
            replies, code = _closing(ws)
        assert code == 1008 and "evil.example" in replies[-1]["error"]


def test_cross_site_browser_requests_are_refused_without_a_key(short_wav, tmp_path):
    from fastapi.testclient import TestClient

    from visemic.server.app import create_app

    form = {"files": {"audio": ("a.wav", short_wav.read_bytes())}, "data": {"format": "csv"}}
    with TestClient(create_app(data_dir=tmp_path / "data")) as client:
        r = client.post("/v1/animate", headers={"sec-fetch-site": "cross-site"}, **form)
        assert r.status_code == 403 and "cross-site" in r.json()["error"]
        r = client.post("/v1/animate", headers={"origin": "http://evil.example"}, **form)
        assert r.status_code == 403 and "evil.example" in r.json()["error"]
        r = client.post("/v1/animate", headers={"origin": "null"}, **form)
        assert r.status_code == 403
        r = client.delete("/v1/jobs/" + "0" * 32, headers={"sec-fetch-site": "same-site"})
        assert r.status_code == 403
        # The server's own page, and clients that are not browsers, are served.
        r = client.post("/v1/animate", headers={"origin": "http://testserver",
                                                "sec-fetch-site": "same-origin"}, **form)
        assert r.status_code == 200 and r.text.startswith("Timecode")
        assert client.post("/v1/animate", **form).status_code == 200
        assert client.get("/health", headers={"sec-fetch-site": "cross-site"}).status_code \
            == 200  # reading the health page changes nothing
        with client.websocket_connect("/v1/stream",
                                      headers={"origin": "http://evil.example"}) as ws:
            replies, code = _closing(ws)
        assert code == 1008 and "another origin" in replies[-1]["error"]
    with TestClient(create_app(data_dir=tmp_path / "keyed", api_key="k")) as client:
        r = client.post("/v1/animate", headers={"sec-fetch-site": "cross-site",
                                                "x-api-key": "k"}, **form)
        assert r.status_code == 200  # with a key, the key is the defence


def _receiving_app(dest: Path):
    """A bare Starlette app that receives uploads into ``dest`` as the server does."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from visemic.server import uploads

    async def receive(request):
        try:
            upload = await uploads.receive(request, dest, 50 << 20)
        except uploads.UploadError as e:
            return JSONResponse({"error": str(e)}, status_code=e.status)
        return JSONResponse({"size": upload.size, "on_disk": dest.stat().st_size})

    return Starlette(routes=[Route("/", receive, methods=["POST"])])


def test_uploads_are_written_once_into_the_data_dir(tmp_path, monkeypatch):
    import tempfile

    from fastapi.testclient import TestClient

    # Spooling to $TMPDIR would now fail: a 3 MB upload rolls a spooled file over to disk.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-dir"))
    body = np.random.default_rng(0).bytes(3 << 20)
    dest = tmp_path / "upload.audio"
    with TestClient(_receiving_app(dest)) as client:
        r = client.post("/", files={"audio": ("a.wav", body)})
    assert r.status_code == 200 and r.json() == {"size": 3 << 20, "on_disk": 3 << 20}
    assert dest.read_bytes() == body


def test_a_full_disk_is_507_without_paths(tmp_path):
    from fastapi.testclient import TestClient

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    dest = tmp_path / "upload.audio"
    dest.symlink_to("/dev/full")  # every write: ENOSPC, as on a full disk
    with TestClient(_receiving_app(dest)) as client:
        r = client.post("/", files={"audio": ("a.wav", b"x" * 100_000)})
    assert r.status_code == 507 and r.json() == {"error": "the server's disk is full; try again "
                                                          "later"}
    assert not dest.is_symlink()  # the partial upload is removed (the link, not the device)
    assert Path("/dev/full").exists()


def test_a_client_that_disconnects_mid_upload_is_not_a_traceback(tmp_path):
    import socket
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "visemic", "serve", "--port", str(port), "--data-dir",
             str(tmp_path / "data"), "--log-level", "info"], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, log.read_text()
            time.sleep(0.2)
        boundary = "b0undary"
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"audio\"; "
                f"filename=\"a.wav\"\r\n\r\n").encode()
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", port)) as conn:
                conn.sendall((f"POST /v1/animate HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                              f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                              f"Content-Length: 10000000\r\n\r\n").encode() + head
                             + b"\x00" * 200_000)
                time.sleep(0.3)
        time.sleep(1.0)
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
        assert not list((tmp_path / "data" / "tmp").iterdir())
    finally:
        server.terminate()
        server.wait(20)
    text = log.read_text()
    assert "Traceback" not in text and "Exception" not in text, text[-2000:]


# --- 10. streams are refused at connect when the engines can't keep up -------------------------

def test_new_streams_are_refused_when_the_engines_are_saturated(tmp_path):
    from fastapi.testclient import TestClient

    from visemic.server.app import create_app
    from visemic.server.streaming import StreamLimits

    tone = (0.2 * np.sin(np.arange(16000) * 0.1) * 32767).astype("<i2").tobytes()
    # Any measurable work counts as saturation here: the threshold is the only thing changed.
    app = create_app(data_dir=tmp_path / "data", stream_limits=StreamLimits(max_load=1e-9))
    with TestClient(app) as client:
        with client.websocket_connect("/v1/stream") as first:  # the first is always admitted
            first.send_bytes(tone)
            assert "frame" in first.receive_json()
            assert client.get("/health").json()["stream_load"] > 0
            with client.websocket_connect("/v1/stream") as second:
                replies, code = _closing(second)
            assert code == 1013 and "can't keep up" in replies[-1]["error"]
            first.send_bytes(tone)  # the running stream is untouched
            first.send_text("end")
            replies, _ = _closing(first)
            assert replies[-1] == {"done": True}
    app = create_app(data_dir=tmp_path / "data2")  # default threshold: one stream is no load
    with TestClient(app) as client:
        with client.websocket_connect("/v1/stream") as first:
            first.send_bytes(tone)
            assert "frame" in first.receive_json()
            with client.websocket_connect("/v1/stream") as second:
                second.send_bytes(tone)
                assert "frame" in second.receive_json()


# --- 4. long files with a transcript: every word lands where it is spoken ----------------------

_VOCABULARY = ("time people water house number morning garden window river mountain story "
               "music paper family friend school market summer winter evening table letter "
               "animal picture country city bottle doctor teacher kitchen forest island bridge "
               "station yellow purple silver golden quiet happy gentle simple careful early "
               "little narrow walk carry follow listen answer open remember travel gather "
               "wonder").split()


@pytest.fixture(scope="module")
def long_speech(tmp_path_factory):
    """About 3.5 minutes of espeak-ng speech (random sentences) with its exact word times."""
    from visemic.phonetics import espeak

    rng = np.random.default_rng(1)
    text = " ".join(" ".join(rng.choice(_VOCABULARY, rng.integers(6, 12))).capitalize() + "."
                    for _ in range(66))
    audio, tl = espeak.synthesize(text, "en-us")
    path = tmp_path_factory.mktemp("long") / "long.wav"
    audio_io.save_wav(audio_io.from_array(audio.samples, audio.sample_rate), path)
    return path, text, tl


def test_long_file_with_transcript_aligns_every_word_where_spoken(long_speech):
    import visemic
    from visemic.api import LONG_FILE

    path, text, truth = long_speech
    assert audio_io.probe_duration(path) > LONG_FILE  # the segment-by-segment path
    result = visemic.animate(path, text=text)
    got = result.timeline.words
    assert len(got) == len(truth.words)  # none dropped (was about half)
    inside = [t.start - 0.02 <= (g.start + g.end) / 2 <= t.end + 0.02
              for g, t in zip(got, truth.words, strict=True)]
    assert np.mean(inside) > 0.97, np.mean(inside)
    assert all(a.end <= b.start + 1e-6 for a, b in zip(got, got[1:], strict=False))


# --- cases the fuzzers found -----------------------------------------------------------------

# Two ADTS (AAC) frames whose sample rate and channels differ: PyAV's resampler raised
# ValueError ("Frame does not match AudioResampler setup"), an internal error.
_ADTS_CHANGING = (b"\xff\xf1\x00@\x03\x9f\xfc\xde\x02\x00Lavc62.28.102\x00\x020@\x0e\xff\xf1P@"
                  b"\x01\x7f\xfc\x01\x18 \x07")


def test_audio_whose_format_changes_midstream(tmp_path):
    path = tmp_path / "changing.aac"
    path.write_bytes(_ADTS_CHANGING)
    try:
        audio = audio_io.load(path)
    except VisemicError:
        return
    assert np.isfinite(audio.samples).all()


def test_serving_every_interface_answers_this_machines_names():
    import socket

    from visemic.server import security

    hosts = security.allowed_hosts([], bind="0.0.0.0")
    assert socket.gethostname().lower() in hosts and "localhost" in hosts
    assert "evil.example" not in hosts and "*" not in hosts
