"""Dubbing (visemic dub) on generated talking-avatar videos (Face Mesh tracks the built-in avatar)
and on the shared real clips where present."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import spoken_with_pause

import visemic
from visemic.dub import playback
from visemic.dub.encode import VideoWriter
from visemic.errors import NoFaceError, VisemicError
from visemic.render.portrait import mesh
from visemic.video import decode, features, track

SIZE = (256, 256)


def frames_of(path: Path) -> list[np.ndarray]:
    return [f.image for f in decode.frames(path)]


def png_frames(folder: Path) -> list[np.ndarray]:
    import cv2

    return [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)
            for p in sorted(folder.glob("*.png"))]


def apertures(pictures: list[np.ndarray]) -> np.ndarray:
    """Inner-lip opening per picture (eye distances), tracked as a video; NaN where lost."""
    from visemic.video.tracker import Tracker

    out = []
    with Tracker() as tracker:
        for i, pic in enumerate(pictures):
            pts = tracker.update(pic, i / 25).landmarks
            out.append(np.nan if pts is None else features.lip_features(pts)[0])
    return np.asarray(out)


@pytest.fixture(scope="module")
def talking(tmp_path_factory) -> Path:
    """The built-in avatar saying a sentence, head still, 25 fps, with its speech."""
    folder = tmp_path_factory.mktemp("dub")
    result = visemic.say("We will meet at the station at nine.", still=True, seed=1)
    return result.save(folder / "talking.mp4", size=SIZE, fps=25)


@pytest.fixture(scope="module")
def new_speech(tmp_path_factory) -> Path:
    """Other speech, with a long pause in the middle (rest), longer than the video."""
    folder = tmp_path_factory.mktemp("speech")
    return spoken_with_pause("Open the box.", "Move along, please, move along now.", 0.8,
                             folder / "speech.wav")


@pytest.fixture(scope="module")
def dubbed(talking, new_speech, tmp_path_factory):
    plan = visemic.dub(talking, new_speech)
    out = plan.save(tmp_path_factory.mktemp("out") / "frames" / "%05d.png")
    return plan, out


def test_the_avatar_is_tracked(talking):
    t = track(talking)
    assert t.found.mean() > 0.95


def test_the_motion_is_learned_from_the_reference(dubbed):
    plan, _ = dubbed
    # The video's own speech and tracked lips give the person's motion profile, which animates
    # the new speech.
    assert plan.stats["profile"] == "learned"
    assert plan.speech.settings["profile"] == "learned from talking.mp4"


def test_ping_pong_covers_longer_speech_without_repeating_the_turn(dubbed, talking):
    plan, _ = dubbed
    n = len(frames_of(talking))
    assert plan.speech.audio.duration > plan.times[n - 1]  # the speech outlasts the video
    assert plan.times[-1] <= plan.speech.audio.duration
    assert list(plan.plan[:n]) == list(range(n))
    assert list(plan.plan[n:2 * n - 2]) == list(range(n - 2, 0, -1))
    steps = np.abs(np.diff(plan.plan))
    assert steps.max() == 1  # no jump anywhere
    assert np.all(np.diff(plan.times) > 0)


def test_schedule_trims_shorter_speech():
    times = np.arange(50) / 25.0
    plan, out = playback.schedule(times, 1.0, 25.0)
    assert len(plan) == 25 and list(plan) == list(range(25))
    assert np.allclose(out, times[:25])


def test_nothing_outside_the_lower_face_changes(dubbed, talking):
    plan, out = dubbed
    src = frames_of(talking)
    dub = png_frames(Path(out).parent)
    assert len(dub) == plan.frames
    changed_mouths = 0
    for i in range(0, plan.frames, 3):
        k = int(plan.plan[i])
        pts = plan.track.full(k)
        if plan.track.strength[k] == 0:
            assert np.array_equal(dub[i], src[k])  # passed through
            continue
        # Everything above the nose wings' lowest point is the source's, bit for bit (PNG).
        nose = np.nanmax(pts[list(mesh.NOSE_WING["right"] + mesh.NOSE_WING["left"]), 1])
        top = int(nose) - 1
        assert np.array_equal(dub[i][:top], src[k][:top]), f"frame {i} changed above the mouth"
        iod = float(features.inter_ocular(np.nan_to_num(pts)))
        lips = pts[list(mesh.LIPS_OUTER_UPPER + mesh.LIPS_OUTER_LOWER), :2]
        x0, y0 = (lips.min(0) - 0.2 * iod).astype(int)
        x1, y1 = (lips.max(0) + 0.2 * iod).astype(int)
        # … and left and right of the face.
        jaw = pts[list(mesh.FACE_OVAL), 0]
        left = int(np.nanmin(jaw) - 0.6 * iod)
        right = int(np.nanmax(jaw) + 0.6 * iod)
        if left > 0:
            assert np.array_equal(dub[i][:, :left], src[k][:, :left])
        if right < SIZE[0]:
            assert np.array_equal(dub[i][:, right:], src[k][:, right:])
        diff = np.abs(dub[i][y0:y1, x0:x1].astype(int) - src[k][y0:y1, x0:x1].astype(int))
        changed_mouths += diff.mean() > 2
    assert changed_mouths > 3  # the mouth itself was edited


def _middle_pause(plan) -> tuple[int, int]:
    """The long pause in the middle of the new speech, as output frame indices."""
    silent = plan.silent
    runs = np.flatnonzero(np.diff(np.r_[0, silent.astype(int), 0]))
    spans = [(a, b) for a, b in zip(runs[::2], runs[1::2], strict=True) if b - a >= 8]
    middle = [s for s in spans if s[0] > 0 and s[1] < plan.frames]
    assert middle, "the pause was not found"
    return middle[0]


def test_silence_is_rest_and_still(dubbed):
    plan, out = dubbed
    dub = png_frames(Path(out).parent)
    aperture = apertures(dub)
    silent = plan.silent
    a, b = _middle_pause(plan)
    # Closed (the avatar rests with closed lips) in at least 80 % of the pause's frames, as
    # Face Mesh measures it on the output, and open when speaking.
    assert (aperture[a:b] < 0.08).mean() >= 0.8
    assert np.nanmax(aperture[~silent]) > 0.15
    # Still: the chosen mouth never changes in the pause, and the mouth area barely does.
    assert len(set(plan.choice[a:b].tolist())) == 1
    pts = plan.track.full(int(plan.plan[a]))
    lips = pts[list(mesh.LIPS_OUTER_UPPER + mesh.LIPS_OUTER_LOWER), :2]
    x0, y0 = lips.min(0).astype(int) - 4
    x1, y1 = lips.max(0).astype(int) + 4
    still = [np.abs(dub[i + 1][y0:y1, x0:x1].astype(int) - dub[i][y0:y1, x0:x1]).mean()
             for i in range(a, b - 1)]
    # ... against how much a speaking mouth changes there: the video's own (the dub's speech
    # frames are no steady yardstick: the median of their change moved 9.4 -> 7.3 with a
    # blend of 0.1 of another target, the path through the atlas playing longer real runs).
    src = frames_of(Path(plan.video))
    moving = [np.abs(src[k + 1][y0:y1, x0:x1].astype(int) - src[k][y0:y1, x0:x1]).mean()
              for k in range(len(src) - 1)]
    assert np.median(still) < 0.3 * np.median(moving)


def test_silence_reads_still_to_face_mesh(dubbed):
    plan, out = dubbed
    a, b = _middle_pause(plan)
    aperture = apertures(png_frames(Path(out).parent))[a:b]
    # moving less than Face Mesh's own frame-to-frame noise on a still mouth (0.03)
    still_lips = np.r_[True, np.abs(np.diff(aperture)) < 0.03]
    assert ((aperture < 0.08) & still_lips).mean() >= 0.8


def test_mp4_keeps_size_exact_times_and_carries_the_new_audio(tmp_path):
    from visemic.motion.arkit import CHANNELS, INDEX
    from visemic.render import AvatarRenderer

    # 29.97 fps: pts on a 1001/30000 grid must come out on it too.
    src = tmp_path / "ntsc.mp4"
    r = AvatarRenderer(SIZE)
    rate = Fraction(30000, 1001)
    with av.open(str(src), "w") as c:
        s = c.add_stream("libx264", rate=rate)
        s.width, s.height = SIZE
        s.pix_fmt = "yuv420p"
        s.options = {"crf": "12"}
        a = c.add_stream("aac", rate=16000, layout="mono")
        speech = visemic.say("Hello there, my friend.")
        n = int(speech.audio.duration * float(rate))
        for i in range(n):
            row = np.zeros(len(CHANNELS), np.float32)
            row[INDEX["jawOpen"]] = 0.5 * np.sin(i / 3.0) ** 2
            f = av.VideoFrame.from_ndarray(r.render(row, CHANNELS)[:, :, :3].copy(),
                                           format="rgb24")
            f.pts = i
            f.time_base = 1 / rate
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
        samples = visemic.audio.load(speech.audio, rate=16000).samples
        af = av.AudioFrame.from_ndarray(samples[None, :], format="fltp", layout="mono")
        af.sample_rate = 16000
        af.pts = 0
        for p in a.encode(af):
            c.mux(p)
        for p in a.encode(None):
            c.mux(p)
    out = visemic.dub(src).save(tmp_path / "out.mp4")
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        assert (v.codec_context.width, v.codec_context.height) == SIZE
        assert v.codec_context.pix_fmt == "yuv420p"
        assert c.streams.audio, "the speech is muxed"
        times = [f.time for f in c.decode(v)]
    assert len(times) == n
    assert np.allclose(np.diff(times), 1001 / 30000, atol=2e-5)


def test_pts_of_variable_frame_rate_are_kept(tmp_path, talking):
    # Re-time the generated video with alternating 30/50 ms steps and dub it.
    pics = frames_of(talking)
    steps = np.where(np.arange(len(pics)) % 2, 0.05, 0.03)
    times = np.r_[0.0, np.cumsum(steps)[:-1]]
    src = tmp_path / "vfr.mp4"
    with av.open(str(src), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.codec_context.time_base = Fraction(1, 1000)
        s.width, s.height = SIZE
        s.pix_fmt = "yuv420p"
        s.options = {"bf": "0", "crf": "12"}
        for pic, t in zip(pics, times, strict=True):
            f = av.VideoFrame.from_ndarray(pic, format="rgb24")
            f.pts = round(t * 1000)
            f.time_base = Fraction(1, 1000)
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    plan = visemic.dub(src, talking)
    out = plan.save(tmp_path / "vfr_out.mp4")
    got = [f.time for f in decode.frames(out)]
    m = min(len(got), len(times))
    assert m >= len(times) - 1
    assert np.allclose(np.asarray(got[:m]) - got[0], times[:m], atol=2e-3)


def test_no_face_is_an_error_and_leaves_nothing(tmp_path, new_speech):
    blank = tmp_path / "blank.mp4"
    w = VideoWriter(blank, SIZE, 25)
    with w:
        for i in range(20):
            w.put(np.full((SIZE[1], SIZE[0], 3), 90, np.uint8), i / 25)
    with pytest.raises(NoFaceError, match="no face found in"):
        visemic.dub(blank, new_speech)
    from visemic import cli

    out = tmp_path / "o.mp4"
    assert cli.main(["dub", str(blank), str(new_speech), "-o", str(out), "-q"]) == 2
    assert not out.exists() and not list(tmp_path.glob(".o*"))


def test_bad_inputs_are_one_line_errors(tmp_path, talking, new_speech, capsys):
    from visemic import cli

    silent_video = tmp_path / "silent.mp4"
    with VideoWriter(silent_video, SIZE, 25) as w:
        for f in decode.frames(talking):
            w.put(f.image, f.time)
    with pytest.raises(VisemicError, match="no audio track"):
        visemic.dub(silent_video)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 10)
    assert cli.main(["dub", str(junk), str(new_speech), "-o", str(tmp_path / "x.mp4")]) == 2
    assert cli.main(["dub", str(talking), "-o", str(tmp_path / "x.avi")]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 2 and "Traceback" not in err
    assert not (tmp_path / "x.mp4").exists()


def test_a_mouth_clip_without_a_usable_mouth_is_an_error(tmp_path, talking):
    blank = tmp_path / "blank.mp4"
    with VideoWriter(blank, SIZE, 25) as w:
        for i in range(20):
            w.put(np.full((SIZE[1], SIZE[0], 3), 40, np.uint8), i / 25)
    with pytest.raises(VisemicError, match="no usable mouth"):
        visemic.dub(talking, mouth_from=blank)


GRID = "en_man_frontal_teeth_360x288_25fps_mpeg1_grid_swiz3n.mpg"


def test_a_real_clip_is_dubbed_at_its_size(shared, tmp_path):
    clip = shared / "samples" / "video" / GRID
    if not clip.exists():
        pytest.skip(f"{GRID} is not in ../shared")
    plan = visemic.dub(clip, text="set white in z three now")
    out = plan.save(tmp_path / "grid.mp4")
    info = decode.probe(out)
    assert (info.width, info.height) == (360, 288)
    assert abs(info.fps - 25) < 0.01
    t = track(out)
    assert t.found.mean() > 0.9
    got = t.feature("inner_aperture")
    asked = plan.shapes[:, 0]
    n = min(len(asked), len(got))
    # The mouth Face Mesh sees in the output opens as the renderer was asked to.
    assert np.corrcoef(asked[:n], got[:n])[0, 1] > 0.7


def test_the_plan_reports_progress_as_it_scans_and_listens(talking, new_speech):
    seen: list[float] = []
    visemic.dub(talking, new_speech, progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 1.0
    # The video's scan moves the bar on its own while the speech is analysed beside it.
    assert len({round(p, 2) for p in seen if p < 0.45}) >= 5, seen
    assert max(np.diff([0.0, *seen])) <= 0.45, seen


def test_http_dub_job_with_progress(tmp_path, talking, new_speech):
    import time

    from fastapi.testclient import TestClient

    from visemic.server.app import create_app

    with TestClient(create_app(tmp_path / "data")) as client:
        r = client.post("/v1/dub", files={"video": ("v.mp4", talking.read_bytes()),
                                          "audio": ("a.wav", new_speech.read_bytes())},
                        data={"format": "mp4"})
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        seen = set()
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            job = client.get(f"/v1/jobs/{job_id}").json()
            seen.add(round(job["progress"], 1))
            if job["status"] in ("done", "failed"):
                break
            time.sleep(0.3)
        assert job["status"] == "done", job
        assert len(seen) >= 2  # progress was reported on the way
        result = client.get(job["result"])
        assert result.status_code == 200 and result.headers["content-type"] == "video/mp4"
        out = tmp_path / "dub.mp4"
        out.write_bytes(result.content)
        info = decode.probe(out)
        assert (info.width, info.height) == SIZE and info.has_audio
        # Bad requests are refused at once, with the reason.
        r = client.post("/v1/dub", files={"audio": ("a.wav", new_speech.read_bytes())})
        assert r.status_code == 400 and "video" in r.json()["error"]
        r = client.post("/v1/dub", files={"video": ("v.mp4", talking.read_bytes())},
                        data={"format": "png"})
        assert r.status_code == 400 and "mp4" in r.json()["error"]
        # A video without a face fails as a job, naming the form field, not a server path.
        blank = tmp_path / "blank.mp4"
        with VideoWriter(blank, SIZE, 25) as w:
            for i in range(10):
                w.put(np.full((SIZE[1], SIZE[0], 3), 90, np.uint8), i / 25)
        r = client.post("/v1/dub", files={"video": ("b.mp4", blank.read_bytes()),
                                          "audio": ("a.wav", new_speech.read_bytes())})
        job_id = r.json()["id"]
        while (job := client.get(f"/v1/jobs/{job_id}").json())["status"] not in ("done",
                                                                                 "failed"):
            time.sleep(0.3)
        assert job["status"] == "failed" and job["error"] == "no face found in the video"


def test_batch_video_column_dubs_each_item(tmp_path, talking, new_speech):
    import shutil

    from visemic.batch.runner import run_batch

    clips = tmp_path / "clips"
    clips.mkdir()
    shutil.copy(talking, clips / "person.mp4")
    shutil.copy(new_speech, clips / "line.wav")
    manifest = clips / "lines.csv"
    manifest.write_text("audio,video,output\nline.wav,person.mp4,dubbed/line\n"
                        "line.wav,,plain/line\n", encoding="utf-8")
    out = tmp_path / "out"
    report = run_batch(manifest, out, formats="json", workers=1)
    assert report.failed == [] and sorted(report.made) == ["dubbed/line", "plain/line"]
    video = out / "dubbed" / "line.dub.mp4"
    info = decode.probe(video)
    assert (info.width, info.height) == SIZE and info.has_audio
    assert not (out / "plain" / "line.dub.mp4").exists()
    assert (out / "plain" / "line.json").exists()
    again = run_batch(manifest, out, formats="json", workers=1)
    assert sorted(again.reused) == ["dubbed/line", "plain/line"]  # nothing redone


def test_frames_without_the_face_pass_through_with_a_warning(tmp_path, talking, new_speech,
                                                              caplog):
    pics = frames_of(talking)[:40]
    grey = np.full_like(pics[0], 128)
    mixed = pics[:15] + [grey] * 10 + pics[15:30]
    src = tmp_path / "gap.mp4"
    with VideoWriter(src, SIZE, 25) as w:
        for i, pic in enumerate(mixed):
            w.put(pic, i / 25)
    with caplog.at_level("WARNING", logger="visemic"):
        plan = visemic.dub(src, new_speech)
    assert any("passed through unchanged" in r.getMessage() for r in caplog.records)
    out = plan.save(tmp_path / "f" / "%05d.png")
    dub = png_frames(Path(out).parent)
    source = frames_of(src)
    for i in range(plan.frames):
        k = int(plan.plan[i])
        if 15 <= k < 25:
            assert plan.track.strength[k] == 0
            assert np.array_equal(dub[i], source[k])
    # … and the edit fades in and out around the gap rather than switching.
    assert 0 < plan.track.strength[26] < 1 or 0 < plan.track.strength[27] < 1


def test_dubbed_video_is_in_sync(dubbed, tmp_path):
    """sync-check measures visemic's own dub within ±40 ms of the new speech."""
    plan, _ = dubbed
    out = plan.save(tmp_path / "dubbed.mp4")
    report = visemic.sync_check(out)
    assert report.offset_ms is not None and abs(report.offset_ms) <= 40, report.summary()


def test_the_same_dub_twice_gives_the_same_frames(talking, new_speech, dubbed, tmp_path):
    first, folder = dubbed
    again = visemic.dub(talking, new_speech)
    assert np.array_equal(again.choice, first.choice)
    assert np.array_equal(again.shapes, first.shapes)
    out = again.save(tmp_path / "frames" / "%05d.png")
    a, b = png_frames(Path(folder).parent), png_frames(Path(out).parent)
    assert len(a) == len(b) == again.frames
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_a_short_reference_falls_back_to_the_generic_motion(talking, tmp_path):
    # Under a second of the reference's speech: too little to learn this person's motion from.
    short = visemic.say("Hi there.", still=True, seed=1).save(tmp_path / "short.mp4",
                                                              size=SIZE, fps=25)
    plan = visemic.dub(talking, mouth_from=short)
    assert plan.stats["profile"] == "generic"
    # The rest mouth is the short clip's closed mouth, not its open breath before speaking.
    ap = features.FEATURES.index("inner_aperture")
    assert plan.atlas.features[plan.atlas.rest, ap] <= np.quantile(plan.atlas.features[:, ap], 0.2)


def test_the_mouths_are_labelled_in_the_reference_s_own_language(talking, new_speech):
    # The new speech is English; the mouths' clip is labelled with the phones of the language
    # it is said to speak (mouth_language), not the new speech's.
    from visemic.dub.atlas import CLASSES

    english = visemic.dub(talking, new_speech, language="en")
    german = visemic.dub(talking, new_speech, language="en", mouth_language="de")
    assert english.speech.timeline.language == german.speech.timeline.language == "en"
    assert not np.array_equal(english.atlas.classes, german.atlas.classes)
    assert (german.atlas.classes[:, 1] != CLASSES.index("sil")).mean() > 0.3


def test_a_reference_in_another_language_than_assumed_is_detected(shared, new_speech, caplog):
    # The German anchor given an English line, the mouths' language not said: Whisper's English
    # model hears no word in his 20 s, so the clip's own language is detected and its mouths
    # get German phones, as if mouth_language="de" had been given (before, every mouth was
    # labelled by the phone loop, with its warning).
    anchor = (shared / "samples" / "video"
              / "de_man_newsanchor_frontal_512_25fps_mimictalk_german20s.mp4")
    if not anchor.exists():
        pytest.skip("the German anchor clip is not in ../shared")
    with caplog.at_level("WARNING", logger="visemic"):
        guessed = visemic.dub(anchor, new_speech, language="en")
    said = visemic.dub(anchor, new_speech, language="en", mouth_language="de")
    messages = [r.getMessage() for r in caplog.records]
    assert any("language is detected instead" in m for m in messages)
    assert not any("phone loop" in m for m in messages)
    assert np.array_equal(guessed.atlas.classes, said.atlas.classes)
