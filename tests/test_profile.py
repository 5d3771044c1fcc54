"""Personal profiles: the file format, how a profile changes the motion (batch and stream), learning
one from generated videos and Live Link captures with known curves, the shared clips where
present, and the errors."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

import visemic
from visemic import calibrate
from visemic.errors import VisemicError
from visemic.motion import curves, poses
from visemic.motion import profile as pm
from visemic.prosody import analyse as prosody_of

TEXT = "Mom bought five blue boxes. Please wait, then we all go home."


def personal(rest: float, scale: float = 1.0, lead: float = pm.LEAD) -> pm.Profile:
    """The generic tables with the rest opening ``rest`` and every other opening × ``scale``."""
    table = {c: (rest if c == "rest" else v * scale) for c, v in pm.generic().opening.items()}
    return pm.Profile(opening=table, lead=lead)


def gap(anim) -> np.ndarray:
    return anim.channel("jawOpen") - anim.channel("mouthClose")


# ----------------------------------------------------------------------------- the format

def test_round_trip_and_bounds(tmp_path):
    me = replace(personal(0.12, 1.1, lead=0.05), width={"vowel_close": 1.4},
                 rounding={"vowel_close_round": 0.7}, name="me")
    path = tmp_path / "me.profile.json"
    path.write_text(pm.dumps(me))
    data = json.loads(path.read_text())
    assert data["format"] == "visemic-profile" and data["version"] == pm.VERSION
    assert data["rest"] == "parted"
    back = pm.load(path)
    assert back.rest == "parted" and back.name == "me"
    assert back.opening == pytest.approx(me.opening, abs=1e-4)
    assert back.lead == pytest.approx(0.05) and back.width == {"vowel_close": 1.4}
    # Extreme hand-edited values are held to safe bounds; missing keys take the generic ones.
    data["opening"] = {"vowel_open": 7.0}
    data["timing"] = {"lead": -3}
    path.write_text(json.dumps(data))
    held = pm.load(path)
    assert held.opening["vowel_open"] == pm.OPENING_RANGE[1]
    assert held.opening["vowel_mid"] == poses.OPENING["vowel_mid"]
    assert held.lead == pm.LEAD_RANGE[0]


@pytest.mark.parametrize(("content", "message"), [
    ("not json", "not JSON"),
    ('{"format": "something else"}', "not a visemic profile"),
    ('{"format": "visemic-profile", "version": 99}', "newer than this visemic reads"),
    ('{"format": "visemic-profile", "version": 1, "opening": {"vowel_x": 0.3}}',
     "unknown phone class"),
    ('{"format": "visemic-profile", "version": 1, "timing": {"lead": "soon"}}',
     "timing.lead must be a number"),
])
def test_bad_profiles(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(VisemicError, match=message):
        pm.load(path)
    with pytest.raises(VisemicError, match="no such file"):
        pm.load(tmp_path / "missing.json")


# ------------------------------------------------------------------------ applying a profile

def test_generic_profile_is_the_built_in_motion(spoken):
    audio, tl = spoken
    pros = prosody_of(audio)
    plain = curves.animate(tl, pros, fps=60, duration=audio.duration)
    same = curves.animate(tl, pros, fps=60, duration=audio.duration, profile=pm.Profile())
    assert np.array_equal(plain.values, same.values)


def test_a_profile_changes_rest_range_and_timing_but_keeps_the_seal(spoken):
    from visemic.types import Audio

    audio, tl = spoken
    # Half a second of silence first: a pause at rest.
    pad = np.zeros(audio.sample_rate // 2, np.float32)
    audio = Audio(np.concatenate([pad, audio.samples]), audio.sample_rate)
    tl = tl.shifted(0.5)
    pros = prosody_of(audio)
    fps = 100
    base = curves.animate(tl, pros, fps=fps, duration=audio.duration)
    mine = curves.animate(tl, pros, fps=fps, duration=audio.duration,
                          profile=personal(0.2, 1.5))
    times = np.arange(base.frames) / fps
    first = min(p.start for p in tl.phones)
    before = times < first - 0.15
    assert before.any()
    assert gap(base)[before].max() < 0.02            # generic: lips together at rest
    assert gap(mine)[before].min() > 0.1             # parted rest
    wider = curves.animate(tl, pros, fps=fps, duration=audio.duration,
                           profile=personal(0.0, 1.3))
    assert gap(wider).mean() > 1.2 * gap(base).mean()   # a wider range
    # Lips still meet inside every /m b p/ of the sentence.
    for p in tl.phones:
        if poses.pose(p.symbol).bilabial and p.end - p.start > 0.04:
            mid = int(round((p.start + p.end) / 2 * fps))
            assert gap(mine)[mid] < 0.02, p
    # A lead moves the jaw's motion earlier by about that much (the seal stays on the
    # closures; a short phone shortens the lead of the one after it).
    on_time = curves.animate(tl, pros, fps=fps, duration=audio.duration,
                             profile=replace(personal(0.0), lead=0.0, release=0.0))
    early = curves.animate(tl, pros, fps=fps, duration=audio.duration,
                           profile=replace(personal(0.0), lead=0.05, release=0.05))
    g0, g1 = on_time.channel("jawOpen"), early.channel("jawOpen")
    lags = range(-10, 11)
    best = max(lags, key=lambda k: np.corrcoef(g0[20:-20], np.roll(g1, k)[20:-20])[0, 1])
    assert 2 <= best <= 6


def test_api_and_stream_take_a_profile(tmp_path, spoken_wav):
    path = tmp_path / "open.profile.json"
    path.write_text(pm.dumps(personal(0.25)))
    res = visemic.say("Hello there.", profile=path, still=True)
    assert res.settings["profile"] == str(path)
    assert gap(res.animation)[0] > gap(visemic.say("Hello there.", still=True).animation)[0] + 0.1

    from visemic.audio import load
    from visemic.stream.engine import StreamAnimator

    # Half a second of silence first: the face at rest.
    samples = np.concatenate([np.zeros(8000, np.float32), load(spoken_wav).samples])
    opened = []
    for prof in (None, path):
        eng = StreamAnimator(sample_rate=16000, fps=50, profile=prof)
        frames = eng.push(samples) + eng.flush()
        v = np.array([f.values for f in frames])
        from visemic.motion.arkit import INDEX

        opened.append(v[:5, INDEX["jawOpen"]] - v[:5, INDEX["mouthClose"]])
    assert opened[0].max() < 0.02 and opened[1].min() > 0.1


# --------------------------------------------------------------- learning, generated input

@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Avatar videos (with their speech) of one sentence animated with known profiles: lips
    closed at rest with generic openings, and parted at rest with wider openings."""
    folder = tmp_path_factory.mktemp("profiles")
    out = {}
    for name, prof in (("closed", personal(0.0)), ("parted", personal(0.22, 1.6))):
        res = visemic.say(TEXT, profile=prof, still=True, fps=25)
        path = folder / f"{name}.mp4"
        res.save(path, size=(256, 256), fps=25)
        out[name] = (path, res)
    return out


def test_learns_rest_and_range_from_a_rendered_video(rendered):
    closed = visemic.profile(rendered["closed"][0], text=TEXT)
    parted = visemic.profile(rendered["parted"][0], text=TEXT)
    assert closed.rest == "closed" and parted.rest == "parted"
    assert parted.opening["rest"] > closed.opening["rest"] + 0.03
    # Wider openings: a larger measured range, larger fitted openings.
    assert parted.measured["aperture_p95"] > 1.2 * closed.measured["aperture_p95"]
    assert (parted.measured["aperture_per_unit"]
            > 1.2 * closed.measured["aperture_per_unit"])
    # The learnt motion follows the rendered lips closely.
    assert closed.source["fit_r"] > 0.7 and parted.source["fit_r"] > 0.7
    assert closed.source["kind"] == "video" and closed.measured["speech_seconds"] > 2


def test_learns_from_a_live_link_capture(rendered, tmp_path):
    from visemic.audio import save_wav

    res = rendered["parted"][1]
    csv_path, wav = tmp_path / "take.csv", tmp_path / "take.wav"
    res.save(csv_path)
    save_wav(res.audio, wav)
    me = visemic.profile(csv_path, audio=wav, text=TEXT)
    assert me.source["kind"] == "livelink" and me.rest == "parted"
    assert me.opening["rest"] == pytest.approx(0.22, abs=0.08)   # ARKit units: recovered as is
    assert me.source["fit_r"] > 0.8
    with pytest.raises(VisemicError, match="needs its audio"):
        visemic.profile(csv_path)


def test_too_little_speech_says_how_much_is_needed(tmp_path):
    res = visemic.say("Hi.", still=True, fps=25)
    path = tmp_path / "hi.mp4"
    res.save(path, size=(192, 192), fps=25)
    with pytest.raises(VisemicError, match=r"too little speech.*at least 1\.5 s"):
        visemic.profile(path, text="Hi.")


def _blank_video(path: Path, seconds: float, speech: np.ndarray | None) -> Path:
    """A plain grey video (no face) with ``speech`` (16 kHz) or silence as its sound."""
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=25)
        v.width = v.height = 64
        v.pix_fmt = "yuv420p"
        a = c.add_stream("aac", rate=16000)
        for i in range(int(seconds * 25)):
            f = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 120, np.uint8), format="rgb24")
            f.pts, f.time_base = i, Fraction(1, 25)
            for p in v.encode(f):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        x = speech if speech is not None else np.zeros(int(seconds * 16000), np.float32)
        for i in range(0, len(x) - 1024, 1024):
            af = av.AudioFrame.from_ndarray(x[None, i:i + 1024].astype(np.float32), format="fltp",
                                            layout="mono")
            af.sample_rate, af.pts, af.time_base = 16000, i, Fraction(1, 16000)
            for p in a.encode(af):
                c.mux(p)
        for p in a.encode():
            c.mux(p)
    return path


def test_no_face_and_no_speech(tmp_path, rendered):
    with pytest.raises(VisemicError, match="no face found"):
        visemic.profile(_blank_video(tmp_path / "noface.mp4", 2.0, None))
    # A rendered face whose sound is silence: no speech.
    src = rendered["closed"][0]
    quiet = tmp_path / "quiet.mp4"
    with av.open(str(src)) as i, av.open(str(quiet), "w") as o:
        vin = i.streams.video[0]
        vout = o.add_stream_from_template(vin)
        a = o.add_stream("aac", rate=16000)
        for pkt in i.demux(vin):
            if pkt.dts is None:
                continue
            pkt.stream = vout
            o.mux(pkt)
        x = np.zeros(16000 * 4, np.float32)
        for k in range(0, len(x) - 1024, 1024):
            af = av.AudioFrame.from_ndarray(x[None, k:k + 1024], format="fltp", layout="mono")
            af.sample_rate, af.pts, af.time_base = 16000, k, Fraction(1, 16000)
            for p in a.encode(af):
                o.mux(p)
        for p in a.encode():
            o.mux(p)
    with pytest.raises(VisemicError, match="no speech"):
        visemic.profile(quiet)


def test_command_line(tmp_path, rendered):
    env_py = [sys.executable, "-m", "visemic"]
    out = tmp_path / "me.profile.json"
    run = subprocess.run(env_py + ["profile", str(rendered["parted"][0]), "--text", TEXT,
                                   "-o", str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert pm.load(out).rest == "parted" and "rest parted" in run.stderr
    said = tmp_path / "said.json"
    run = subprocess.run(env_py + ["say", "Hello there.", "--profile", str(out), "-o",
                                   str(said)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    for args, message in (
            (["profile", str(tmp_path / "take.csv"), "-o", str(out)], "no such file"),
            (["say", "Hello.", "--profile", str(tmp_path / "nope.json"), "-o", str(said)],
             "nope.json: no such file"),
            (["profile", str(rendered["parted"][0]), "--audio", "x.wav", "-o", str(out)],
             "--audio goes with a Live Link Face CSV")):
        run = subprocess.run(env_py + args, capture_output=True, text=True)
        assert run.returncode == 2 and run.stderr.startswith("error: ") and message in run.stderr
        assert run.stderr.count("\n") == 1


# -------------------------------------------------------- learning, synthetic observations

def _padded(spoken, before: float = 0.5, after: float = 0.6):
    """The spoken sentence with silence before and after it (pauses at rest)."""
    from visemic.types import Audio

    audio, tl = spoken
    rate = audio.sample_rate
    samples = np.concatenate([np.zeros(int(before * rate), np.float32), audio.samples,
                              np.zeros(int(after * rate), np.float32)])
    return Audio(samples, rate), tl.shifted(before)


def _lips_of(audio, tl, motion: pm.Profile | None, fps: float = 25.0, noise: float = 0.004,
             seed: int = 0) -> calibrate.Observation:
    """An observation whose tracked lips are ``motion``'s predicted opening (0.15 eye distances
    per unit, as the median calibration speaker) plus tracking noise, at ``fps``."""
    times = np.arange(int(audio.duration * fps)) / fps
    n = len(times)
    obs = calibrate.Observation("synthetic", times, np.zeros(n), np.full(n, np.nan),
                                np.full(n, np.nan), np.ones(n), tl, prosody_of(audio),
                                audio.duration, "iod")
    t, v = calibrate.opening(obs, motion)
    lips = 0.15 * np.interp(times, t, v) + np.random.default_rng(seed).normal(0, noise, n)
    return replace(obs, aperture=lips)


def test_learns_a_persons_timing(spoken):
    audio, tl = _padded(spoken)
    # Lips that move on the sound, not ahead of it (generic: 60 ms lead, 30 ms release).
    on_time = calibrate.learn(_lips_of(audio, tl, replace(pm.generic(), lead=0.0, release=0.0)))
    assert on_time.lead <= 0.03 and on_time.release == 0.0
    # Slow lips: longer anticipation and carry-over (generic: 20 and 30 ms).
    slow = calibrate.learn(_lips_of(audio, tl, replace(pm.generic(), decay_pre=0.08,
                                                       decay_post=0.1)))
    assert slow.decay_pre + slow.decay_post >= 0.1
    # Lips that move as the generic motion keep the generic timing (a small gain in r on one
    # clip is not a reason to move away from it).
    same = calibrate.learn(_lips_of(audio, tl, None))
    assert (same.lead, same.release, same.decay_pre, same.decay_post) == (
        pm.LEAD, pm.RELEASE, pm.DECAY_PRE, pm.DECAY_POST)
    # A lead up to 0.2 s survives the file as it is.
    back = pm.Profile.from_json(json.loads(pm.dumps(replace(slow, lead=0.18))))
    assert back.lead == pytest.approx(0.18) and back.decay_pre == pytest.approx(slow.decay_pre)


def test_the_pause_before_the_first_word_is_not_the_rest(spoken):
    audio, tl = _padded(spoken)
    first = min(p.start for p in tl.phones)
    # Lips parted while waiting to speak, closed in the pauses after speech: a closed rest.
    waiting = _lips_of(audio, tl, None)
    lips = waiting.aperture.copy()
    lips[waiting.times < first - 0.1] += 0.04
    me = calibrate.learn(replace(waiting, aperture=lips))
    assert me.rest == "closed"
    # Lips parted in every pause: a parted rest.
    parted = calibrate.learn(_lips_of(audio, tl, personal(0.3)))
    assert parted.rest == "parted" and parted.opening["rest"] > me.opening["rest"] + 0.05


def test_openings_stay_near_the_prior_when_the_clip_cannot_tell(spoken):
    audio, tl = _padded(spoken)
    # Lips that do not follow the speech at all (noise): held-out parts are predicted best by
    # the prior, so the openings keep the prior's proportions (the range may shrink).
    obs = _lips_of(audio, tl, None)
    obs = replace(obs, aperture=np.random.default_rng(1).normal(0.1, 0.03, len(obs.times)))
    me = calibrate.learn(obs)
    assert me.source["ridge"] == max(calibrate.PERSONAL_RIDGES)
    vowels = [c for c in poses.CLASSES if c.startswith("vowel") and poses.OPENING[c] > 0.1]
    ratios = [me.opening[c] / poses.OPENING[c] for c in vowels]
    assert max(ratios) < 1.15 * min(ratios)
    # Lips that follow a wider-opening person's speech: fitted openings move towards theirs.
    wide = {c: (0.6 if c.startswith("vowel") else v) for c, v in poses.OPENING.items()}
    fitted = calibrate.learn(_lips_of(audio, tl, pm.Profile(opening=wide)))
    assert fitted.source["ridge"] < max(calibrate.PERSONAL_RIDGES)
    assert fitted.source["fit_r"] > 0.9


def test_a_short_clip_is_held_near_the_prior(spoken):
    audio, tl = spoken
    obs = _lips_of(audio, tl, None).window(0.0, 1.4)
    assert obs.speech_seconds < calibrate.CV_MIN_SPEECH
    me = calibrate.learn(obs, min_speech=0.5)
    assert me.source["ridge"] >= calibrate.SHORT_CLIP_RIDGE


def test_a_window_leaves_out_the_phones_it_cuts(spoken):
    audio, tl = spoken
    obs = _lips_of(audio, tl, None)
    cut = next(p for p in tl.phones[len(tl.phones) // 2:] if p.end - p.start > 0.06)
    mid = (cut.start + cut.end) / 2
    first, second = obs.window(0.0, mid), obs.window(mid, obs.duration)
    assert cut not in first.timeline.phones and cut not in second.timeline.phones
    # No frame of the cut phone stays: it would look like lips in a pause.
    assert first.times.max() < cut.start and second.times.min() >= cut.end


# -------------------------------------------------------------------------- shared clips

def test_profile_from_a_shared_clip(shared):
    clip = shared / "samples" / "video" / "en_woman_frontal_360x288_25fps_mpeg1_grid_lbbc2a.mpg"
    if not clip.is_file():
        pytest.skip("the GRID clip is not in ../shared")
    obs = calibrate.observe(clip, text="lay blue by c two again")
    me = calibrate.learn(obs)
    assert me.source["fit_r"] > 0.4
    generic = calibrate.score(obs)
    assert calibrate.score(obs, me).r >= generic.r - 0.05
    assert abs(calibrate.score(obs, me).lag) <= 0.06
