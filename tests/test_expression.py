"""Expression layer: emotion, speaking style, blinks and gaze, brows and head motion.

Most tests run over about a minute of espeak-ng speech (exact phone timings) in paragraphs joined
by 0.8–1.6 s of silence, animated by :func:`visemic.motion.expression.animate` directly.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import visemic
from visemic import evaluation as ev
from visemic import prosody as prosody_mod
from visemic.cli import main
from visemic.errors import VisemicError
from visemic.motion import arkit, curves, emotion, expression, head, poses
from visemic.motion.emotion_poses import EMOTIONS
from visemic.motion.eyes import eye_angles
from visemic.motion.speech_events import accents, phrases
from visemic.types import Audio, Phone, Timeline, Word

PARAGRAPHS = [
    "Mom bought five blue boxes. Please wait. Then we all go home for supper.",
    "The weather was beautiful, and the park was full of people. We walked for hours.",
    "I never expected to see you here. What a wonderful surprise this is.",
    "We could meet again next week, perhaps on Thursday afternoon, before the market opens.",
    "Bring the map, the camera, and a big umbrella. Remember to call your mother.",
    "Please put the books back on the shelf when you are done. Maybe we should ask somebody.",
    "Is this the right way to the museum? It is too late now, but we can come back tomorrow.",
    "My brother bought a bicycle, but the brakes were broken, so he pushed it home.",
    "Paul found a small boat by the bridge. It was painted bright blue and yellow.",
    "Nobody believed the story at first. Then the pictures appeared in the morning paper.",
    "Would you like some more tea? There is plenty of milk, and the biscuits are fresh.",
]
GAPS = [1.2, 0.8, 1.5, 1.0, 1.6, 0.9, 1.3, 1.1, 0.8, 1.4]

_SYNTH = """
import json, sys
import numpy as np
from visemic.phonetics import espeak
paragraphs, gaps, stem = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
chunks, words, phones, t = [], [], [], 0.0
for k, text in enumerate(paragraphs):
    audio, tl = espeak.synthesize(text, "en-us")
    base = len(words)
    words += [[w.text, w.start + t, w.end + t] for w in tl.words]
    phones += [[p.symbol, p.start + t, p.end + t, p.word + base if p.word >= 0 else -1,
                p.stress] for p in tl.phones]
    chunks.append(audio.samples)
    t += audio.duration
    if k < len(gaps):
        chunks.append(np.zeros(int(round(gaps[k] * audio.sample_rate)), np.float32))
        t += len(chunks[-1]) / audio.sample_rate
np.save(stem + ".npy", np.concatenate(chunks))
json.dump({"rate": audio.sample_rate, "words": words, "phones": phones}, open(stem + ".json", "w"))
"""


@pytest.fixture(scope="module")
def minute(tmp_path_factory):
    """(audio, timeline, prosody, text) of ~a minute of speech with pauses."""
    stem = tmp_path_factory.mktemp("minute") / "speech"
    subprocess.run([sys.executable, "-c", _SYNTH, json.dumps(PARAGRAPHS), json.dumps(GAPS),
                    str(stem)], check=True)
    meta = json.loads(stem.with_suffix(".json").read_text())
    tl = Timeline("en-us", words=[Word(*w) for w in meta["words"]],
                  phones=[Phone(*p) for p in meta["phones"]], source="synthesised")
    audio = Audio(np.load(stem.with_suffix(".npy")), meta["rate"])
    return audio, tl, prosody_mod.analyse(audio), " ".join(PARAGRAPHS)


_RUNS: dict[str, object] = {}


def run(minute, **kwargs):
    """The minute animated with these expression settings (cached: tests only read it)."""
    key = f"{id(minute)} {sorted(kwargs.items())!r}"
    if key not in _RUNS:
        audio, tl, pros, text = minute
        _RUNS[key] = expression.animate(tl, pros, fps=60.0, duration=audio.duration,
                                        expression=expression.settings(**kwargs), text=text)
    return _RUNS[key]


def ch(anim, name):
    return anim.channel(name).astype(np.float64)


def blinks(anim) -> list[tuple[int, int]]:
    """(first, last) frame of each run where the eyelids are visibly closing (> 0.1)."""
    on = np.concatenate([[0], (ch(anim, "eyeBlinkLeft") > 0.1).astype(int), [0]])
    edges = np.diff(on)
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1, strict=True))


def silences(tl: Timeline, duration: float) -> list[tuple[float, float]]:
    """Pauses of 0.7 s or more, less 0.2 s after the speech (carry-over) and 0.45 s before it
    (lip rounding anticipates a rounded vowel by up to that much)."""
    spans = phrases(tl, 0.7)
    gaps = [(b, a2) for (_, b), (a2, _) in zip(spans, spans[1:], strict=False)]
    return [(a + 0.2, b - 0.45) for a, b in gaps if b - a >= 0.7]


def test_fixture_is_a_minute_with_pauses(minute):
    audio, tl, _, _ = minute
    assert 50.0 <= audio.duration <= 80.0
    assert len(silences(tl, audio.duration)) == len(GAPS)


# ------------------------------------------------------------------------------------ blinks


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_blink_rate_and_durations(minute, seed):
    anim = run(minute, seed=seed)
    found = blinks(anim)
    per_minute = len(found) / (anim.frames / anim.fps) * 60.0
    assert 10.0 <= per_minute <= 25.0
    blink = ch(anim, "eyeBlinkLeft")
    for a, b in found:
        assert (b - a + 1) / anim.fps >= 0.08          # no blink under 80 ms
        assert (b - a + 1) / anim.fps <= 0.40
        assert blink[a:b + 1].max() >= 0.95            # the lids really close
    assert np.array_equal(blink, ch(anim, "eyeBlinkRight"))


def test_blinks_cluster_after_phrase_ends(minute):
    audio, tl, _, _ = minute
    ends = [b for _, b in phrases(tl)]
    near, total = 0, 0
    for seed in range(4):
        anim = run(minute, seed=seed)
        for a, _ in blinks(anim):
            t = a / anim.fps
            total += 1
            near += any(0.0 <= t - e <= 0.5 for e in ends)
    covered = len(ends) * 0.5 / audio.duration   # share of time within 0.5 s after an end
    assert near / total > 2.0 * covered


def test_blink_rate_setting(minute):
    assert blinks(run(minute, blink_rate=0)) == []
    few = np.mean([len(blinks(run(minute, blink_rate=8, seed=s))) for s in range(2)])
    many = np.mean([len(blinks(run(minute, blink_rate=30, seed=s))) for s in range(2)])
    assert many > 1.8 * few


# -------------------------------------------------------------------------------- gaze, head


@pytest.mark.parametrize("kwargs", [{}, {"head_motion": 3.0}, {"emotion": "sad"},
                                    {"emotion": "contempt", "style": "emphatic",
                                     "head_motion": 3.0}])
def test_head_angles_within_15_degrees(minute, kwargs):
    anim = run(minute, **kwargs)
    angles = anim.values[:, [arkit.INDEX[h] for h in arkit.HEAD]]
    assert np.abs(angles).max() < 15.0
    assert angles.std(axis=0).min() > 0.3              # and it does move


def test_head_motion_scale_and_still(minute):
    def spread(a):
        return float(np.mean([ch(a, h).std() for h in arkit.HEAD]))

    assert spread(run(minute, head_motion=2.0)) > 1.5 * spread(run(minute, head_motion=0.5))
    still = run(minute, still=True, emotion="happy")
    assert not still.values[:, [arkit.INDEX[h] for h in arkit.HEAD]].any()
    looks = [n for n in arkit.BLENDSHAPES if n.startswith("eyeLook")]
    assert not still.values[:, [arkit.INDEX[n] for n in looks]].any()
    assert blinks(still)                                # the eyes still blink


def test_nods_on_accented_syllables(minute):
    _, tl, pros, _ = minute
    strong = [a for a in accents(tl, pros) if a.strength >= 0.7]
    assert len(strong) >= 20
    diffs = []
    for seed in range(3):
        pitch = ch(run(minute, seed=seed), "headPitch")
        for a in strong:
            i_peak = int(round((a.start - 0.05 + head.NOD_TAU) * 60))
            i_before = int(round((a.start - 0.25) * 60))
            if i_before >= 0 and i_peak < len(pitch):
                diffs.append(pitch[i_peak] - pitch[i_before])
    assert np.mean(diffs) > 0.5                         # degrees, nose down on the accent


def test_gaze_holds_and_saccades(minute):
    anim = run(minute)
    looks = {n: ch(anim, n) for n in arkit.BLENDSHAPES if n.startswith("eyeLook")}
    yaw, pitch = eye_angles(looks, "Left")
    yaw_r, _ = eye_angles(looks, "Right")
    assert np.allclose(yaw, yaw_r) and np.abs(yaw).max() < 20 and np.abs(pitch).max() < 15
    speed = np.hypot(np.diff(yaw), np.diff(pitch))       # degrees per frame
    saccades = np.sum((speed[1:] > 1.0) & (speed[:-1] <= 1.0))
    minutes = anim.frames / anim.fps / 60.0
    assert 15 <= saccades / minutes <= 120               # holds of about 0.5–4 s
    assert np.mean(speed < 0.3) > 0.8                    # mostly holding still


# ------------------------------------------------------------------------------------ mouth


@pytest.mark.parametrize("name", list(EMOTIONS))
def test_lips_still_during_silence(minute, name):
    audio, tl, _, _ = minute
    anim = run(minute, emotion={name: 1.0})
    cols = [arkit.INDEX[c] for c in poses.MOUTH]
    gap = ch(anim, "jawOpen") - ch(anim, "mouthClose")
    for a, b in silences(tl, audio.duration):
        i0, i1 = int(np.ceil(a * anim.fps)), int(b * anim.fps)
        mouth = anim.values[i0:i1 + 1, cols]
        assert np.abs(np.diff(mouth, axis=0)).max() < 0.01
        assert gap[i0:i1 + 1].max() <= 0.08


def speech_only(minute):
    key = f"{id(minute)} speech"
    if key not in _RUNS:
        audio, tl, pros, _ = minute
        _RUNS[key] = curves.animate(tl, pros, fps=60.0, duration=audio.duration)
    return _RUNS[key]


@pytest.mark.parametrize("kwargs", [{"emotion": {n: 1.0}} for n in EMOTIONS]
                         + [{"emotion": {n: 1.0 for n in EMOTIONS}},
                            {"style": "emphatic", "emotion": "surprised"},
                            {"style": "mumbled"}, {"style": "lips,articulation=2"}])
def test_bilabials_stay_sealed(minute, kwargs):
    audio, tl, _, _ = minute
    anim = run(minute, **kwargs)
    gap = ch(anim, "jawOpen") - ch(anim, "mouthClose")
    mids = [(p.start + p.end) / 2 for p in tl.phones if ev.decisive_class(p.symbol) == "BILABIAL"]
    assert len(mids) >= 40
    worst = max(gap[int(round(t * anim.fps))] for t in mids)
    assert worst <= 0.05
    # The lip-parting channels an emotion may raise are back at their speech value there.
    speech = speech_only(minute)
    for name in ("mouthUpperUpLeft", "mouthLowerDownRight", "mouthFunnel"):
        at = [int(round(t * anim.fps)) for t in mids]
        assert np.all(ch(anim, name)[at] <= ch(speech, name)[at] * 2.0 + 0.02), name


def test_expression_keeps_the_curve_checks(spoken):
    """The DESIGN §3 checks on the espeak test sentence are no worse with expression layered."""
    audio, tl = spoken
    pros = prosody_mod.analyse(audio)
    plain = ev.check_curves(tl.phones, curves.animate(tl, pros, 60.0, audio.duration),
                            audio.duration)
    for kwargs in ({}, {"emotion": "happy"}, {"emotion": "angry:1,sad:0.5"}):
        anim = expression.animate(tl, pros, 60.0, audio.duration,
                                  expression.settings(**kwargs))
        c = ev.check_curves(tl.phones, anim, audio.duration)
        for name in ("sealed", "open", "rounded"):
            assert c.rate(getattr(c, name)) >= c.rate(getattr(plain, name)), (kwargs, name)
        assert c.rate(c.silent) >= c.rate(plain.silent) - 0.05
        assert c.max_jump <= 0.35


EXPECTED = {  # FACS prototypes: which ARKit channels each emotion must raise
    "happy": ["mouthSmileLeft", "mouthSmileRight", "cheekSquintLeft", "cheekSquintRight"],
    "sad": ["browInnerUp", "mouthFrownLeft", "mouthFrownRight"],
    "angry": ["browDownLeft", "browDownRight", "mouthPressLeft", "eyeSquintLeft"],
    "surprised": ["browInnerUp", "browOuterUpLeft", "eyeWideLeft", "eyeWideRight", "jawOpen"],
    "disgusted": ["noseSneerLeft", "noseSneerRight", "mouthUpperUpLeft", "browDownLeft"],
    "afraid": ["eyeWideLeft", "browInnerUp", "mouthStretchLeft", "mouthStretchRight"],
    "contempt": ["mouthDimpleLeft", "mouthSmileLeft"],
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_each_emotion_moves_its_channels(minute, name):
    neutral = run(minute)
    anim = run(minute, emotion={name: 1.0})
    for channel in EXPECTED[name]:
        lift = ch(anim, channel).mean() - ch(neutral, channel).mean()
        threshold = 0.04 if channel == "jawOpen" else 0.25
        assert lift >= threshold, channel
    # Channels no emotion prototype uses stay as speech made them.
    for channel in ("tongueOut", "cheekPuff"):
        assert np.allclose(ch(anim, channel), ch(neutral, channel))
    if name == "contempt":   # one-sided
        assert (ch(anim, "mouthDimpleLeft") - ch(anim, "mouthDimpleRight")).mean() > 0.3
    if name == "sad":        # head down
        assert ch(anim, "headPitch").mean() > ch(neutral, "headPitch").mean() + 2.0


def test_intensity_and_mix_scale_the_pose(minute):
    half = run(minute, emotion="happy:0.5")
    full = run(minute, emotion="happy:1")
    neutral = run(minute)
    lift_half = ch(half, "cheekSquintLeft").mean() - ch(neutral, "cheekSquintLeft").mean()
    lift_full = ch(full, "cheekSquintLeft").mean() - ch(neutral, "cheekSquintLeft").mean()
    assert lift_full == pytest.approx(2 * lift_half, rel=0.1)
    mix = run(minute, emotion="happy:0.6,surprised:0.3")
    assert ch(mix, "cheekSquintLeft").mean() > ch(neutral, "cheekSquintLeft").mean() + 0.2
    assert ch(mix, "eyeWideLeft").mean() > ch(neutral, "eyeWideLeft").mean() + 0.15


def test_speaking_style(minute):
    def jaw(**kw):
        return ch(run(minute, **kw), "jawOpen").mean()

    def lips(**kw):
        return ch(run(minute, **kw), "mouthPucker").mean()

    assert jaw(style="mumbled") < 0.8 * jaw() < 0.8 * jaw(style="clear,articulation=1.5")
    assert jaw(style="jaw") / lips(style="jaw") > 1.3 * jaw(style="lips") / lips(style="lips")


def test_brows_rise_at_questions(minute):
    audio, tl, pros, _ = minute
    statement = " ".join(PARAGRAPHS).replace("?", ".")
    question = statement.replace("the right way to the museum.", "the right way to the museum?")
    ask = expression.animate(tl, pros, 60.0, audio.duration, text=question)
    tell = expression.animate(tl, pros, 60.0, audio.duration, text=statement)
    end = next(w.end for w in tl.words if w.text.lower().startswith("museum"))
    i = int(end * 60)
    assert ch(ask, "browInnerUp")[i - 20:i + 20].max() >= \
        ch(tell, "browInnerUp")[i - 20:i + 20].max() + 0.2
    # Elsewhere the brows rise with pitch accents too.
    assert (ch(tell, "browOuterUpLeft") > 0.05).mean() > 0.05


# ------------------------------------------------------------------------ seeds and tracks


def test_same_seed_same_animation_other_seed_differs(minute):
    a, b = run(minute, seed=7), run(minute, seed=7)
    assert np.array_equal(a.values, b.values)
    c = run(minute, seed=8)
    for name in ("eyeBlinkLeft", "headYaw", "eyeLookOutLeft"):
        assert not np.allclose(ch(a, name), ch(c, name)), name
    assert np.array_equal(a.values[:, arkit.INDEX["jawOpen"]], c.values[:, arkit.INDEX["jawOpen"]])


def test_emotion_track_eases_between_keyframes(minute):
    track = emotion.EmotionTrack.from_pairs([(5.0, "neutral"), (5.02, "happy:1"),
                                             (20.0, "happy:1"), (30.0, "sad:1,angry:0.5")])
    anim = run(minute, emotion=track)
    assert np.abs(np.diff(anim.values[:, :52], axis=0)).max() <= 0.35
    smile = ch(anim, "mouthSmileLeft") - ch(run(minute), "mouthSmileLeft")
    assert abs(smile[int(2 * 60)]) < 0.02 and smile[int(10 * 60)] > 0.5
    weights = track.weights(np.array([0.0, 25.0, 40.0]))
    happy, sad = emotion.NAMES.index("happy"), emotion.NAMES.index("sad")
    assert weights[1, happy] == pytest.approx(0.5) and weights[1, sad] == pytest.approx(0.5)
    assert weights[2, sad] == pytest.approx(1.0) and weights[0, happy] == 0.0
    brow = ch(anim, "browDownLeft")
    assert np.abs(np.diff(brow[20 * 60:30 * 60])).max() < 0.01   # a slow, smooth change


def test_track_files(tmp_path):
    js = tmp_path / "t.json"
    js.write_text(json.dumps({"keyframes": [{"time": 0, "emotion": "neutral"},
                                            {"time": 2.5, "emotion": {"happy": 0.8}}]}))
    narrow = tmp_path / "narrow.csv"
    narrow.write_text('time,emotion\n0,neutral\n2.5,"happy:0.8"\n')
    wide = tmp_path / "wide.csv"
    wide.write_text("time,happy,sad\n0,,\n2.5,0.8,\n")
    tracks = [emotion.load_track(p) for p in (js, narrow, wide)]
    assert tracks[0] == tracks[1] == tracks[2]
    assert tracks[0].keyframes[1] == emotion.Keyframe(2.5, {"happy": 0.8})
    bad = {
        "a.json": ('{"keyframes": [{"time": 0}]}', "time.*emotion"),
        "b.json": ("{not json", "not valid JSON"),
        "c.csv": ("time,joy\n0,1\n", "unknown emotion 'joy'"),
        "d.csv": ("time,emotion\nsoon,happy\n", "time must be a number"),
        "e.csv": ("when,emotion\n0,happy\n", "first column must be 'time'"),
        "f.json": ('[{"time": 1, "emotion": "happy:2"}]', "between 0 and 1"),
        "g.json": ('[{"time": -1, "emotion": "happy"}]', "≥ 0"),
        "h.json": ("[]", "at least one keyframe"),
    }
    for name, (content, message) in bad.items():
        (tmp_path / name).write_text(content)
        with pytest.raises(VisemicError, match=message):
            emotion.load_track(tmp_path / name)
    with pytest.raises(VisemicError, match="not found"):
        emotion.load_track(tmp_path / "missing.json")


def test_mix_parsing():
    assert emotion.parse_mix("happy:0.6,surprised:0.3") == {"happy": 0.6, "surprised": 0.3}
    assert emotion.parse_mix(" Sad ") == {"sad": 1.0}
    for text, message in [("joy", "unknown emotion 'joy'; known: neutral, happy"),
                          ("happy:1.5", "between 0 and 1"), ("happy:-0.1", "between 0 and 1"),
                          ("happy:x", "must be a number"), ("happy:", "missing intensity"),
                          ("happy,,sad", "malformed"), ("", "empty"),
                          ("happy:nan", "between 0 and 1")]:
        with pytest.raises(VisemicError, match=message):
            emotion.parse_mix(text)


def test_api_records_expression_settings(spoken):
    audio, _ = spoken
    res = visemic.animate(audio, emotion="happy:0.6,surprised:0.3", style="clear", seed=5,
                          blink_rate=12, head_motion=0.5)
    expr = res.settings["expression"]
    assert expr["emotion"] == {"happy": 0.6, "surprised": 0.3}
    assert expr["style"]["articulation"] == 1.2 and expr["seed"] == 5
    assert expr["blink_rate"] == 12 and expr["head_motion"] == 0.5 and expr["still"] is False
    json.dumps(res.settings)
    for kwargs, message in [({"blink_rate": 100}, "blink rate"), ({"head_motion": -1}, "head"),
                            ({"seed": -1}, "seed"), ({"style": "loud"}, "unknown style"),
                            ({"emotion": 3}, "emotion must be")]:
        with pytest.raises(VisemicError, match=message):
            visemic.animate(audio, **kwargs)


# ----------------------------------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def wav(spoken, tmp_path_factory):
    from visemic.audio import save_wav

    path = tmp_path_factory.mktemp("expr-cli") / "speech.wav"
    save_wav(spoken[0], path)
    return path


def test_cli_expression_flags(wav, tmp_path, capsys):
    track = tmp_path / "track.csv"
    track.write_text("time,emotion\n0,neutral\n1.5,\"angry:0.7,disgusted:0.2\"\n")
    out = tmp_path / "x.json"
    assert main(["animate", str(wav), "-o", str(out), "--emotion-track", str(track),
                 "--style", "emphatic", "--blink-rate", "20", "--head-motion", "1.5",
                 "--seed", "4", "-q"]) == 0
    data = json.loads(out.read_text())
    expr = data["settings"]["expression"]
    assert expr["emotion"][1] == {"time": 1.5, "emotion": {"angry": 0.7, "disgusted": 0.2}}
    assert expr["seed"] == 4 and expr["head_motion"] == 1.5 and expr["style"]["emphasis"] == 1.0
    values = np.array(data["animation"]["values"])
    channels = data["animation"]["channels"]
    assert np.abs(values[:, channels.index("headYaw")]).max() > 0.1
    assert values[-1, channels.index("browDownLeft")] > 0.5
    still = tmp_path / "still.csv"
    assert main(["animate", str(wav), "-o", str(still), "--still", "--emotion", "happy:0.5",
                 "-q"]) == 0
    rows = [r.split(",") for r in still.read_text().splitlines()]
    head_cols = [rows[0].index(h) for h in ("HeadYaw", "LeftEyeYaw", "RightEyePitch")]
    assert all(float(r[c]) == 0.0 for r in rows[1:] for c in head_cols)


@pytest.mark.parametrize("flags,message", [
    (["--emotion", "joy"], "unknown emotion 'joy'; known: neutral, happy, sad"),
    (["--emotion", "happy:1.5"], "between 0 and 1"),
    (["--emotion-track", "MISSING"], "emotion track file not found"),
    (["--emotion-track", "BAD"], "not valid JSON"),
    (["--emotion", "happy", "--emotion-track", "BAD"], "not allowed with"),
    (["--style", "shouty"], "unknown style 'shouty'; presets: neutral"),
    (["--style", "clear,jaw=9"], "jaw must be between"),
    (["--blink-rate", "many"], "invalid float"),
    (["--blink-rate", "-3"], "blink rate"),
    (["--head-motion", "4"], "head motion"),
    (["--seed", "-1"], "seed"),
    (["--seed", "1.5"], "invalid int"),
])
def test_cli_expression_errors(wav, tmp_path, capsys, flags, message):
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    flags = [str(bad) if f == "BAD" else str(tmp_path / "nope.json") if f == "MISSING" else f
             for f in flags]
    out = tmp_path / "out.json"
    assert main(["animate", str(wav), "-o", str(out), "-q", *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert not out.exists()
