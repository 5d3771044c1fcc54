"""A portrait animated as one person: ``--mouth-from CLIP`` (the mouths of a video of the same
person, dubbing's atlas) and ``--profile`` (that person's mouth motion), through the API, the
command line and the server's form. The person is the built-in avatar: a clip of it speaking,
and its picture at rest as the portrait."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

import visemic
from visemic.cli import main
from visemic.motion import arkit
from visemic.motion import profile as pm
from visemic.motion.arkit import CHANNELS
from visemic.render.portrait import PortraitRenderer, mesh
from visemic.render.portrait.quality import MouthMeter, psnr

CLIP_TEXT = "Mom bought five blue boxes. Please wait, then we all go home."


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """The avatar speaking, as a video (the person whose mouths are taken)."""
    res = visemic.say(CLIP_TEXT, still=True, fps=25)
    path = tmp_path_factory.mktemp("person") / "clip.mp4"
    res.save(path, size=(256, 256), fps=25)
    return path


@pytest.fixture(scope="module")
def face_png(face, tmp_path_factory):
    path = tmp_path_factory.mktemp("person") / "face.png"
    cv2.imwrite(str(path), face[:, :, ::-1])
    return path


@pytest.fixture(scope="module")
def real(clip):
    from visemic.render.portrait.real_mouth import RealMouth

    return RealMouth.from_clip(clip)


@pytest.fixture(scope="module")
def open_profile(tmp_path_factory):
    """A person whose lips part at rest and who opens wider than the generic tables."""
    table = {c: (0.25 if c == "rest" else v * 1.5) for c, v in pm.generic().opening.items()}
    path = tmp_path_factory.mktemp("person") / "open.profile.json"
    path.write_text(pm.dumps(pm.Profile(opening=table, name="open")))
    return path


def frames(path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def run(args, capsys) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def _inner_mean(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Mean RGB inside the mouth opening (slightly eroded) of 478×2 ``points``."""
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(points[list(mesh.inner_mouth()), :2]).astype(np.int32)], 1)
    mask = cv2.erode(mask, np.ones((3, 3), np.uint8)).astype(bool)
    assert mask.sum() > 20
    return image[mask][:, :3].astype(float).mean(axis=0)


# ----------------------------------------------------------------------------- --mouth-from


def test_the_open_mouth_is_the_clips(face, real):
    """Opened, the portrait shows the mouth chosen from the clip (its colours inside the
    opening), not the painted interior; at rest it is still the picture itself."""
    painted = PortraitRenderer(face)
    person = PortraitRenderer(face)
    person.use_real_mouth(real)
    assert np.array_equal(person.rest[:, :, :3], face)
    v = arkit.frame(jawOpen=0.5, mouthLowerDownLeft=0.2, mouthLowerDownRight=0.2)
    entry = real.entry(None, v, CHANNELS)
    atlas = real.atlas
    where = {int(k): i for i, k in enumerate(atlas.kept)}
    crop_points = np.full((mesh.N_REFINED, 2), np.nan)
    crop_points[atlas.kept] = atlas.points[entry]
    assert all(i in where for i in mesh.inner_mouth())
    theirs = _inner_mean(atlas.crops[entry], crop_points)
    pts = person.pose_landmarks(v)
    shown_frame, drawn_frame = person.render(v), painted.render(v)
    shown = _inner_mean(shown_frame, pts)
    drawn = _inner_mean(drawn_frame, pts)
    # The painted interior is a lit mouth of about the same mean colour as a real one, so: the
    # opening's colours are nearer the clip's, and its pixels are not the painted ones.
    assert np.linalg.norm(shown - theirs) < np.linalg.norm(drawn - theirs)
    inside = np.zeros(shown_frame.shape[:2], np.uint8)
    cv2.fillPoly(inside, [np.round(pts[list(mesh.inner_mouth()), :2]).astype(np.int32)], 1)
    inside = cv2.erode(inside, np.ones((3, 3), np.uint8)).astype(bool)
    change = np.abs(shown_frame[inside][:, :3].astype(int) - drawn_frame[inside][:, :3])
    assert change.max(axis=1).mean() > 15
    # Closing the lips again brings back the portrait's own mouth.
    assert np.array_equal(person.render(arkit.frame(eyeBlinkLeft=0.0))[:, :, :3], face)


def test_command_line_mouth_from(face, face_png, clip, tmp_path, capsys):
    out = tmp_path / "real.mp4"
    code, err = run(["say", "Hello there, how are you?", "--portrait", face_png, "--mouth-from",
                     clip, "--still", "--fps", "25", "-o", out, "--quiet"], capsys)
    assert code == 0, err
    shots = frames(out)
    assert psnr(shots[0], face) >= 40.0  # the first frame is still the picture
    moving = max(float(np.abs(s.astype(int) - face).mean()) for s in shots)
    assert moving > 0.5
    # A clip without a portrait, and a missing clip, are one-line errors with nothing written.
    for args in (["--mouth-from", clip], ["--portrait", face_png, "--mouth-from",
                                          tmp_path / "missing.mp4"]):
        target = tmp_path / "bad.mp4"
        code, err = run(["say", "Hello.", *args, "-o", target, "--quiet"], capsys)
        assert code == 2 and len(err.splitlines()) == 1 and err.startswith("error: "), err
        assert "mouth" in err and not target.exists()


# ----------------------------------------------------------------------------- --profile


def test_command_line_profile_moves_the_portrait_like_the_person(face, face_png, open_profile,
                                                                 tmp_path, capsys):
    gaps = {}
    meter = MouthMeter()
    try:
        for name, extra in (("generic", []), ("person", ["--profile", open_profile])):
            out = tmp_path / f"{name}.mp4"
            code, err = run(["say", "Hello there. Good.", "--portrait", face_png, "--still",
                             "--fps", "25", "-o", out, "--quiet", *extra], capsys)
            assert code == 0, err
            measured = [meter(f) for f in frames(out)[8::3]]
            gaps[name] = np.array([m[0] for m in measured if m is not None])
    finally:
        meter.close()
    # The person's lips part more, in speech and at rest.
    assert gaps["person"].mean() > gaps["generic"].mean() + 0.04, gaps
    assert np.median(gaps["person"]) > np.median(gaps["generic"])


def test_server_form_takes_a_profile_for_a_portrait(face, open_profile, spoken_wav,
                                                    tmp_path_factory):
    app = create_app_for_test(tmp_path_factory)
    with TestClient(app) as client:
        wav = spoken_wav.read_bytes()
        text = open_profile.read_text()
        generic = client.post("/v1/animate", files={"audio": ("a.wav", wav)})
        person = client.post("/v1/animate", files={"audio": ("a.wav", wav)},
                             data={"profile": text})
        assert generic.status_code == 200 and person.status_code == 200, person.text
        assert person.json()["settings"]["profile"] == "open"

        def gap(result: dict) -> np.ndarray:
            channels = result["animation"]["channels"]
            v = np.array(result["animation"]["values"])
            return v[:, channels.index("jawOpen")] - v[:, channels.index("mouthClose")]

        assert gap(person.json())[0] > gap(generic.json())[0] + 0.1  # parted at rest
        # A portrait video with the profile.
        png = cv2.imencode(".png", face[:, :, ::-1])[1].tobytes()
        r = client.post("/v1/animate", files={"audio": ("a.wav", wav), "portrait": ("p.png", png)},
                        data={"format": "mp4", "fps": "25", "profile": text})
        assert r.status_code == 200, r.text
        path = tmp_path_factory.mktemp("served") / "p.mp4"
        path.write_bytes(r.content)
        assert psnr(frames(path)[0], face) >= 40.0
        # A bad profile is the client's error, naming the field.
        bad = client.post("/v1/animate", files={"audio": ("a.wav", wav)},
                          data={"profile": json.dumps({"format": "nope"})})
        assert bad.status_code == 400 and bad.json()["error"].startswith("profile")
        bad = client.post("/v1/animate", files={"audio": ("a.wav", wav)},
                          data={"profile": "{not json"})
        assert bad.status_code == 400 and "not JSON" in bad.json()["error"]


def create_app_for_test(tmp_path_factory):
    from visemic.server.app import create_app

    return create_app(tmp_path_factory.mktemp("person-server") / "data")
