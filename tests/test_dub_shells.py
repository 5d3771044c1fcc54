"""The shells around dubbing: ``visemic dub``'s argument checks, ``POST /v1/dub``'s form fields,
the batch ``video`` column's row errors, on generated input (the built-in avatar speaking, drawn
landscapes), and the command line on the shared clips where present."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import visemic
from visemic.audio import save_wav
from visemic.dub.encode import VideoWriter
from visemic.errors import VisemicError
from visemic.video import decode

SIZE = (192, 192)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "visemic", "dub", *args],
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """talking.mp4 (the avatar saying a line, with its speech), line.wav (other speech),
    landscape.mp4 (hills and a sun, no face)."""
    folder = tmp_path_factory.mktemp("shells")
    visemic.say("We meet at nine.", still=True, seed=1).save(folder / "talking.mp4", size=SIZE,
                                                               fps=25)
    save_wav(visemic.say("See you soon.").audio, folder / "line.wav")
    h, w = SIZE[1], SIZE[0]
    sky = np.zeros((h, w, 3), np.uint8)
    sky[...] = (130, 180, 250)
    sky[np.arange(h)[:, None] > h * (0.6 + 0.1 * np.sin(np.linspace(0, 6, w)))[None, :]] = (
        60, 140, 50)
    with VideoWriter(folder / "landscape.mp4", SIZE, 25) as writer:
        for i in range(15):
            writer.put(np.roll(sky, 3 * i, axis=1), i / 25)
    return folder


def test_out_may_not_be_an_input(clips, tmp_path):
    source = tmp_path / "talk.mp4"
    source.write_bytes((clips / "talking.mp4").read_bytes())
    before = source.read_bytes()
    for args in ([str(source), "-o", str(source)],
                 [str(clips / "talking.mp4"), str(source), "-o", str(tmp_path / "." / "talk.mp4")],
                 [str(clips / "talking.mp4"), "--mouth-from", str(source), "-o", str(source)]):
        done = run_cli(*args, "-q")
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: -o ") and "another file" in lines[0]
    assert source.read_bytes() == before  # the source was left alone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["talk.mp4"]


def test_frames_need_a_number_pattern_and_folders_say_what_they_are(clips, tmp_path):
    done = run_cli(str(clips / "talking.mp4"), "-o", str(tmp_path / "frames" / "x.png"), "-q")
    assert done.returncode == 2
    assert done.stderr.strip() == (f"error: {tmp_path / 'frames' / 'x.png'}: PNG frames need a "
                                   f"frame number in the name, e.g. "
                                   f"{tmp_path / 'frames' / '%05d.png'}")
    assert not (tmp_path / "frames").exists()
    done = run_cli(str(tmp_path), "-o", str(tmp_path / "o.mp4"))
    assert done.returncode == 2 and done.stderr.strip().endswith("is a directory, not a video file")
    assert "%d" in run_cli("--help").stdout  # --help says what a frames name needs


def test_a_failed_dub_says_one_line_and_a_done_one_its_warnings(clips, tmp_path):
    # The landscape has no audio track: the plan warns that its mouths go by shape only, then
    # finds no face. Only the error is said.
    done = run_cli(str(clips / "landscape.mp4"), str(clips / "line.wav"), "-o",
                   str(tmp_path / "o.mp4"), "-q")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"error: no face found in {clips / 'landscape.mp4'}"]
    assert not list(tmp_path.iterdir())
    # The same warning, for a dub that succeeds, is shown.
    silent = tmp_path / "silent.mp4"
    with VideoWriter(silent, SIZE, 25) as writer:
        for frame in decode.frames(clips / "talking.mp4"):
            writer.put(frame.image, frame.time)
    done = run_cli(str(silent), str(clips / "line.wav"), "-o", str(tmp_path / "o.mp4"), "-q")
    assert done.returncode == 0, done.stderr
    assert f"warning: {silent} has no audio" in done.stderr
    assert (tmp_path / "o.mp4").is_file()


def test_serve_help_names_the_dub_endpoint():
    done = subprocess.run([sys.executable, "-m", "visemic", "serve", "--help"],
                          capture_output=True, text=True, timeout=120)
    assert "/v1/dub" in done.stdout


def test_dub_form_language_blank_is_detected():
    from visemic.errors import VisemicError
    from visemic.server import dubbing

    assert dubbing.parse_request({}, False, False).language is None
    assert dubbing.parse_request({"language": "  "}, False, False).language is None
    request = dubbing.parse_request({"language": "de", "face": "1", "format": "webm"}, True,
                                    False)
    assert (request.language, request.face, request.format, request.audio) == ("de", 1, "webm",
                                                                               True)
    assert dubbing.request_from_dict(request.to_dict()) == request
    with pytest.raises(VisemicError, match="language"):
        dubbing.parse_request({"language": "de; rm -rf"}, False, False)


def _wait(client, job_id: str) -> dict:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.3)
    raise AssertionError("the job did not finish")


def test_http_dub_without_language_is_the_command_line_s_dub(tmp_path):
    """A German clip re-synced over HTTP with the language field left blank gives the bytes the
    command line gives (both detect German; the server used to force English phones)."""
    from fastapi.testclient import TestClient

    from visemic.server.app import create_app

    clip = visemic.say("Guten Morgen, wir treffen uns heute Abend am Bahnhof.", language="de",
                       still=True, seed=1).save(tmp_path / "german.mp4", size=SIZE, fps=25)
    cli_out = tmp_path / "cli.mp4"
    done = run_cli(str(clip), "-o", str(cli_out), "-q")
    assert done.returncode == 0, done.stderr
    with TestClient(create_app(tmp_path / "data")) as client:
        r = client.post("/v1/dub", files={"video": ("german.mp4", clip.read_bytes())})
        assert r.status_code == 202, r.text
        assert r.json()["request"]["language"] is None
        job = _wait(client, r.json()["id"])
        assert job["status"] == "done", job
        assert client.get(job["result"]).content == cli_out.read_bytes()


def test_http_dub_bad_inputs_are_job_errors_naming_the_fields(clips, tmp_path):
    from fastapi.testclient import TestClient

    from visemic.server.app import create_app

    talking = (clips / "talking.mp4").read_bytes()
    with TestClient(create_app(tmp_path / "data")) as client:
        cases = [
            ({"video": ("v.mp4", talking), "mouth_from": ("m.mp4",
                                                          (clips / "landscape.mp4").read_bytes())},
             {}, "the mouth_from clip: no usable mouth for dubbing (no face found)"),
            ({"video": ("v.mp4", talking), "audio": ("a.mp4", b"junk" * 50)}, {},
             "the audio: not a readable audio file"),
            ({"video": ("v.wav", (clips / "line.wav").read_bytes())}, {},
             "the video: contains no video stream"),
            ({"video": ("v.mp4", talking)}, {"face": "3"}, "face 3 asked for"),
        ]
        for files, fields, message in cases:
            r = client.post("/v1/dub", files=files, data=fields)
            assert r.status_code == 202, r.text
            job = _wait(client, r.json()["id"])
            assert job["status"] == "failed" and job["error"].startswith(message), job
            assert "/" not in job["error"].replace("mouth_from", "")  # no server paths
        for fields, word in (({"face": "-1"}, "face"), ({"format": "gif"}, "format"),
                             ({"emotion": "grumpy"}, "emotion")):
            r = client.post("/v1/dub", files={"video": ("v.mp4", talking)}, data=fields)
            assert r.status_code == 400 and word in r.json()["error"], r.text


def test_batch_video_rows_fail_with_the_video_s_reason(clips, tmp_path):
    import csv
    import shutil

    from visemic.batch.runner import run_batch

    for name in ("landscape.mp4", "line.wav"):
        shutil.copy(clips / name, tmp_path / name)
    manifest = tmp_path / "lines.csv"
    manifest.write_text("audio,video,output\n"
                        "line.wav,landscape.mp4,noface\n"
                        "line.wav,missing.mp4,missing\n"
                        "line.wav,line.wav,audio_as_video\n", encoding="utf-8")
    out = tmp_path / "out"
    report = run_batch(manifest, out, formats="json", workers=1)
    assert report.made == []
    reasons = dict(report.failed)
    assert reasons["noface"] == "no face found in landscape.mp4"
    assert reasons["missing"].startswith("missing.mp4: ")
    assert reasons["audio_as_video"] == "line.wav: contains no video stream"
    with open(out / "failures.csv", encoding="utf-8") as f:
        rows = {row["output"]: row["reason"] for row in csv.DictReader(f)}
    assert rows == reasons
    assert not list(out.glob("*.dub.mp4"))


SHARED_CLIP = "en_man_3q_headturn_224_25fps_voxceleb2_pcavs_00086.mp4"
SHARED_SPEECH = "en_woman_older_frontal_360x288_25fps_mpeg1_grid_lwbsza.mpg"


def test_command_line_cross_dub_of_a_shared_clip(shared, tmp_path):
    """visemic dub CLIP OTHER --text …: the clip's size and exact frame times, the other clip's
    speech (trimmed to it), a progress bar counting frames on stderr and nothing else."""
    video = shared / "samples" / "video" / SHARED_CLIP
    speech = shared / "samples" / "video" / SHARED_SPEECH
    if not video.exists() or not speech.exists():
        pytest.skip("the shared clips are not present")
    out = tmp_path / "out.mp4"
    done = run_cli(str(video), str(speech), "--text", "lay white by z again", "-o", str(out))
    assert done.returncode == 0, done.stderr
    # The bar counts the frames written, up to all of them.
    assert re.search(r"dubbing: frame (\d+)/\1 \[#+\] 100%", done.stderr), done.stderr
    # Nothing else: no warning, no error, none of MediaPipe's native log lines ("W0000 …").
    lines = done.stderr.lower().splitlines()
    assert not any("warning" in line or "error" in line or line.startswith("w0000")
                   for line in lines), done.stderr
    source, dubbed = decode.probe(video), decode.probe(out)
    assert (dubbed.width, dubbed.height, dubbed.fps) == (source.width, source.height, source.fps)
    assert dubbed.has_audio
    speech_length = decode.probe(speech).duration
    assert abs(dubbed.duration - speech_length) <= 1.5 / source.fps
    times = [f.time for f in decode.frames(out)]
    assert np.allclose(np.diff(times), 1 / source.fps, atol=1e-3)


def test_the_api_plan_is_readable_and_will_not_replace_its_source(clips, tmp_path):
    import inspect

    source, mouths = tmp_path / "talk.mp4", tmp_path / "mouths.mp4"
    source.write_bytes((clips / "talking.mp4").read_bytes())
    mouths.write_bytes(source.read_bytes())
    before = source.read_bytes()
    d = visemic.dub(source, clips / "line.wav", language="en", mouth_from=mouths)
    text = repr(d)
    assert text.startswith("Dub(") and "talk.mp4" in text and len(text) < 300
    assert "mouth_from" in inspect.signature(visemic.dub).parameters
    with pytest.raises(VisemicError, match="is the video"):
        d.save(source)
    with pytest.raises(VisemicError, match="is the mouths' clip"):
        d.save(mouths)
    assert source.read_bytes() == before == mouths.read_bytes()


def test_png_frames_of_a_shorter_dub_leave_no_frames_of_a_longer_one(clips, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(400):  # an earlier, longer run's frames, and a file that is not a frame
        (folder / f"{i:05d}.png").write_bytes(b"old")
    (folder / "notes.txt").write_text("mine")
    d = visemic.dub(clips / "talking.mp4", clips / "line.wav", language="en")
    d.save(folder / "%05d.png")
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"{i:05d}.png" for i in range(d.frames)] + ["notes.txt"]
    assert all((folder / n).read_bytes() != b"old" for n in names if n.endswith(".png"))
