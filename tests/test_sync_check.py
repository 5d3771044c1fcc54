"""visemic sync-check on visemic's own videos (the avatar and a portrait, whose lips follow the
speech exactly), shifted by known amounts; bad input; the CLI, folder report and HTTP endpoint;
the shared GRID clips where present."""

from __future__ import annotations

import csv
import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

import visemic
from visemic.audio import save_wav
from visemic.cli import main
from visemic.errors import VisemicError
from visemic.sync.fix import shift_audio
from visemic.types import Audio

FIELDS = {"offset_ms", "confidence", "frames_used", "segments", "drift_ms_per_min"}


def run(args, capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def avatar_mp4(spoken_wav, tmp_path_factory) -> Path:
    """The built-in avatar speaking the test sentence (visemic's own output)."""
    path = tmp_path_factory.mktemp("sync") / "avatar.mp4"
    assert main(["animate", str(spoken_wav), "-o", str(path), "--size", "320x320",
                 "--quiet"]) == 0
    return path


@pytest.fixture(scope="module")
def base(avatar_mp4):
    return visemic.sync_check(avatar_mp4)


def test_own_avatar_video_is_in_sync(base):
    assert base.offset_ms is not None and abs(base.offset_ms) <= 40
    assert base.confidence > 0.6
    assert base.frames_used > 50
    assert base.segments and all(abs(s.offset_ms) <= 60 for s in base.segments)
    assert set(base.to_json()) >= FIELDS
    assert base.summary().startswith(("picture", "in sync"))


@pytest.mark.parametrize("shift", [-160, 120])
def test_fixed_shift_is_measured(avatar_mp4, base, tmp_path, shift):
    """Delaying the audio by s makes the picture early by s: the estimate moves by −s."""
    moved = shift_audio(avatar_mp4, tmp_path / "moved.mp4", shift)
    r = visemic.sync_check(moved)
    assert r.offset_ms - base.offset_ms == pytest.approx(-shift, abs=25)
    # --fix with the measured offset puts it back.
    fixed = shift_audio(moved, tmp_path / "fixed.mkv", r.offset_ms)
    again = visemic.sync_check(fixed)
    assert abs(again.offset_ms - base.offset_ms) <= 25
    with av.open(str(fixed)) as c, av.open(str(avatar_mp4)) as o:  # the picture is copied
        assert c.streams.video[0].codec_context.name == o.streams.video[0].codec_context.name
        got = [bytes(p) for p in c.demux(c.streams.video[0]) if p.size]
        want = [bytes(p) for p in o.demux(o.streams.video[0]) if p.size]
        assert got == want


def test_separate_audio_file_shifted(avatar_mp4, base, spoken_wav, tmp_path):
    sound = visemic.audio.load(spoken_wav)
    pad = int(0.2 * sound.sample_rate)
    late = np.concatenate([np.zeros(pad, np.float32), sound.samples[:-pad]])
    wav = save_wav(Audio(late, sound.sample_rate), tmp_path / "late.wav")
    r = visemic.sync_check(avatar_mp4, audio=wav)
    assert r.offset_ms - base.offset_ms == pytest.approx(-200, abs=25)


def test_portrait_video_is_in_sync(face, spoken_wav, tmp_path):
    from PIL import Image

    picture = tmp_path / "face.png"
    Image.fromarray(face).resize((320, 320)).save(picture)
    video = tmp_path / "portrait.mp4"
    assert main(["animate", str(spoken_wav), "-o", str(video), "--portrait", str(picture),
                 "--quiet"]) == 0
    r = visemic.sync_check(video)
    assert r.offset_ms is not None and abs(r.offset_ms) <= 40
    assert r.confidence > 0.5


def test_command_json_plot_gate_and_fix(avatar_mp4, tmp_path, capsys):
    out, png = tmp_path / "r.json", tmp_path / "r.png"
    code, stdout, err = run(["sync-check", avatar_mp4, "--json", out, "--plot", png,
                             "--max-offset", 60], capsys)
    assert code == 0, err
    doc = json.loads(out.read_text())
    assert set(doc) >= FIELDS and doc["segments"]
    assert set(doc["segments"][0]) == {"start", "end", "offset_ms", "confidence"}
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    line = stdout.strip()
    assert "\n" not in line and "confidence" in line and "within ±60 ms" in line
    # A late picture: the gate fails with 1, and --fix repairs it.
    late = shift_audio(avatar_mp4, tmp_path / "late.mp4", -200)
    fixed = tmp_path / "fixed.mp4"
    code, stdout, err = run(["sync-check", late, "--max-offset", 60, "--fix", fixed], capsys)
    assert code == 1 and "picture" in stdout and "late" in stdout and "over" in stdout
    assert "audio should be delayed by" in stdout
    code, _, _ = run(["sync-check", fixed, "--max-offset", 60, "--quiet"], capsys)
    assert code == 0
    # --shift by hand, no measurement.
    code, stdout, err = run(["sync-check", avatar_mp4, "--shift", "-200", "--fix",
                             tmp_path / "early.mp4"], capsys)
    assert code == 0 and stdout == "" and "advanced by 200 ms" in err


def write_video(path: Path, pictures: list[np.ndarray], fps: int = 25,
                audio: Audio | None = None) -> Path:
    with av.open(str(path), "w") as c:
        vs = c.add_stream("libx264", rate=fps)
        vs.height, vs.width = pictures[0].shape[:2]
        vs.pix_fmt = "yuv420p"
        aus = c.add_stream("aac", rate=audio.sample_rate, layout="mono") if audio else None
        for pic in pictures:
            for p in vs.encode(av.VideoFrame.from_ndarray(pic, format="rgb24")):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)
        if aus is not None:
            frame = av.AudioFrame.from_ndarray(audio.samples[None, :].astype(np.float32),
                                               format="fltp", layout="mono")
            frame.sample_rate, frame.pts = audio.sample_rate, 0
            frame.time_base = Fraction(1, audio.sample_rate)
            for p in aus.encode(frame):
                c.mux(p)
            for p in aus.encode(None):
                c.mux(p)
    return path


def test_bad_input(avatar_mp4, spoken, tmp_path, capsys):
    sound = visemic.audio.load(spoken[0])
    grey = [np.full((96, 128, 3), 60 + i % 50, np.uint8) for i in range(100)]
    faceless = write_video(tmp_path / "faceless.mp4", grey, audio=sound)
    fix = tmp_path / "fixed.mp4"
    code, out, err = run(["sync-check", faceless, "--fix", fix], capsys)
    assert code == 2 and out == "" and err == f"error: no face found in {faceless}\n"
    assert not fix.exists()
    with av.open(str(avatar_mp4)) as c:  # the avatar's pictures, without the sound
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    mute = write_video(tmp_path / "mute.mp4", frames[:120])
    code, out, err = run(["sync-check", mute], capsys)
    assert code == 2 and "has no audio track" in err and "--audio" in err
    short = write_video(tmp_path / "short.mp4", frames[:30],
                        audio=Audio(sound.samples[:19200], 16000))
    code, out, err = run(["sync-check", short], capsys)
    assert code == 2 and "at least 2 s" in err
    silence = Audio(np.zeros(16000 * 5, np.float32), 16000)
    quiet = write_video(tmp_path / "quiet.mp4", frames[:125], audio=silence)
    with pytest.raises(VisemicError, match="speech"):
        visemic.sync_check(quiet)
    code, out, err = run(["sync-check", tmp_path / "missing.mp4"], capsys)
    assert code == 2 and "no such file" in err
    code, out, err = run(["sync-check", avatar_mp4, "--shift", "10"], capsys)
    assert code == 2 and "--shift goes with --fix" in err


def test_folder_report(avatar_mp4, tmp_path, capsys):
    folder = tmp_path / "videos"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.mp4").write_bytes(avatar_mp4.read_bytes())
    (folder / "broken.mp4").write_bytes(b"not a video")
    report = tmp_path / "report.csv"
    code, out, err = run(["sync-check", folder, "--report", report, "--workers", 1,
                          "--max-offset", 60], capsys)
    assert code == 1  # one video failed
    rows = {r["video"]: r for r in csv.DictReader(report.open())}
    assert set(rows) == {"broken.mp4", "sub/a.mp4"}
    assert rows["broken.mp4"]["status"] == "error" and rows["broken.mp4"]["message"]
    assert rows["sub/a.mp4"]["status"] == "ok"
    assert abs(float(rows["sub/a.mp4"]["offset_ms"])) <= 40


def test_http_endpoint(avatar_mp4, tmp_path):
    from fastapi.testclient import TestClient

    from visemic.server.app import create_app

    with TestClient(create_app(tmp_path / "data", workers=1)) as client:
        with avatar_mp4.open("rb") as f:
            r = client.post("/v1/sync-check", files={"video": ("talk.mp4", f, "video/mp4")})
        assert r.status_code == 200, r.text
        doc = r.json()
        assert set(doc) >= FIELDS | {"summary"} and abs(doc["offset_ms"]) <= 40
        r = client.post("/v1/sync-check", files={"video": ("x.mp4", b"junk" * 100)})
        assert r.status_code == 422 and "the video" in r.json()["error"]
        assert str(tmp_path) not in r.json()["error"]
        r = client.post("/v1/sync-check", files={"audio": ("a.wav", b"x")})
        assert r.status_code == 400 and "no video" in r.json()["error"]
        r = client.post("/v1/sync-check", files={"video": ("talk.mp4", b"x")},
                        data={"face": "two"})
        assert r.status_code == 400 and "face" in r.json()["error"]


def test_grid_clips_at_zero(shared):
    clips = sorted((shared / "samples" / "video").glob("*grid*.mpg"))
    if not clips:
        pytest.skip("no GRID clips in ../shared")
    for clip in clips:
        r = visemic.sync_check(clip)
        assert r.offset_ms is not None and abs(r.offset_ms) <= 40, (clip.name, r.offset_ms)


def test_low_confidence_is_said_plainly(avatar_mp4, spoken, tmp_path, capsys):
    from visemic.phonetics import espeak

    # A voice-over that is not what the face says: no made-up number.
    other, _ = espeak.synthesize("Every morning the baker opens the shop at seven, and people "
                                 "wait outside in the cold.", "en-us")
    wav = save_wav(other, tmp_path / "other.wav")
    code, out, err = run(["sync-check", avatar_mp4, "--audio", wav, "--json", "-",
                          "--max-offset", 100], capsys)
    doc = json.loads(out)
    assert doc["offset_ms"] is None or doc["confidence"] < 0.35
    assert doc["warnings"] and err.startswith("warning: ")
    if doc["offset_ms"] is None:
        assert code == 1 and "offset unknown" in err  # the gate cannot pass on no evidence
    # The face hidden for most of the speech: said so, and the confidence drops.
    with av.open(str(avatar_mp4)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    n = len(frames)
    hidden = [f if i < n // 4 else np.full_like(f, 70) for i, f in enumerate(frames)]
    sound = visemic.audio.load(spoken[0])
    video = write_video(tmp_path / "hidden.mp4", hidden, fps=30, audio=sound)
    r = visemic.sync_check(video)
    assert any("face was tracked during only" in w for w in r.warnings)
    assert r.confidence < 0.5
