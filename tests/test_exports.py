"""Every export format, written and parsed back field by field against the Result.

Speech comes from espeak-ng (exact timings, no shared files needed); the Rhubarb formats are
also checked byte for byte against the examples in Rhubarb Lip Sync's README.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import wave
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import visemic
from visemic.errors import VisemicError
from visemic.motion import arkit, visemes
from visemic.outputs import formats, json_export, livelink, rhubarb_formats
from visemic.result import Result
from visemic.types import Animation, Audio, Cue, Prosody, Timeline

SENTENCE = "Mom bought five blue boxes. Please wait. Then we all go home for supper."


def write_wav(audio: Audio, path: Path) -> Path:
    pcm = (np.clip(audio.samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(audio.sample_rate)
        w.writeframes(pcm.tobytes())
    return path


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory) -> Path:
    from visemic.phonetics import espeak

    audio, _ = espeak.synthesize(SENTENCE, "en-us")
    return write_wav(audio, tmp_path_factory.mktemp("exports") / "sentence.wav")


@pytest.fixture(scope="module")
def result(speech_wav) -> Result:
    return visemic.animate(speech_wav, text=SENTENCE)


def synthetic(track: list[Cue], duration: float, path: str | None = "hi.wav") -> Result:
    """A Result holding a given Rhubarb track (no analysis), for exact-format checks."""
    n = int(round(duration * 16000))
    frames = max(1, int(duration * 60))
    anim = Animation(fps=60.0, channels=list(arkit.CHANNELS),
                     values=np.zeros((frames, len(arkit.CHANNELS)), np.float32),
                     visemes={"rhubarb": track})
    pros = Prosody(rate=100.0, loudness=np.zeros(frames), f0=np.zeros(frames),
                   voiced=np.zeros(frames, bool))
    return Result(audio=Audio(np.zeros(n, np.float32), 16000, path=path),
                  timeline=Timeline("en"), prosody=pros, animation=anim)


# Rhubarb's README: the output for a recording of someone saying "Hi".
HI = [Cue(0.0, 0.05, "X"), Cue(0.05, 0.27, "D"), Cue(0.27, 0.31, "C"), Cue(0.31, 0.43, "B"),
      Cue(0.43, 0.47, "X")]
HI_SOUND = r"C:\Users\Daniel\Desktop\av\hi\hi.wav"
HI_TSV = "0.00\tX\n0.05\tD\n0.27\tC\n0.31\tB\n0.43\tX\n0.47\tX\n"
HI_XML = """<?xml version="1.0" encoding="utf-8"?>
<rhubarbResult>
  <metadata>
    <soundFile>C:\\Users\\Daniel\\Desktop\\av\\hi\\hi.wav</soundFile>
    <duration>0.47</duration>
  </metadata>
  <mouthCues>
    <mouthCue start="0.00" end="0.05">X</mouthCue>
    <mouthCue start="0.05" end="0.27">D</mouthCue>
    <mouthCue start="0.27" end="0.31">C</mouthCue>
    <mouthCue start="0.31" end="0.43">B</mouthCue>
    <mouthCue start="0.43" end="0.47">X</mouthCue>
  </mouthCues>
</rhubarbResult>
"""
HI_JSON = """{
  "metadata": {
    "soundFile": "C:\\\\Users\\\\Daniel\\\\Desktop\\\\av\\\\hi\\\\hi.wav",
    "duration": 0.47
  },
  "mouthCues": [
    { "start": 0.00, "end": 0.05, "value": "X" },
    { "start": 0.05, "end": 0.27, "value": "D" },
    { "start": 0.27, "end": 0.31, "value": "C" },
    { "start": 0.31, "end": 0.43, "value": "B" },
    { "start": 0.43, "end": 0.47, "value": "X" }
  ]
}
"""


# --------------------------------------------------------------------------- Rhubarb, exact


def test_rhubarb_formats_match_readme_byte_for_byte():
    hi = synthetic(HI, 0.47)
    assert formats.render(hi, "rhubarb-tsv") == HI_TSV
    assert formats.render(hi, "rhubarb-xml", sound_file=HI_SOUND) == HI_XML
    assert formats.render(hi, "rhubarb-json", sound_file=HI_SOUND) == HI_JSON


def test_rhubarb_dat_frame_numbers_and_preston_blair():
    hi = synthetic(HI, 0.47)
    # frame = 1 + int(24 × start): 0 → 1, .05 → 2, .27 → 7, .31 → 8, .43 → 11; end .47 → 12.
    assert formats.render(hi, "rhubarb-dat") == "MohoSwitch1\n1 X\n2 D\n7 C\n8 B\n11 X\n12 X\n"
    assert formats.render(hi, "rhubarb-dat", preston_blair=True) == (
        "MohoSwitch1\n1 rest\n2 AI\n7 E\n8 etc\n11 rest\n12 rest\n")
    # At 100 fps every centisecond is a frame: 1 + cs.
    assert formats.render(hi, "rhubarb-dat", dat_fps=100).splitlines()[1:] == [
        "1 X", "6 D", "28 C", "32 B", "44 X", "48 X"]


def test_rhubarb_dat_skips_cues_sharing_a_frame_and_bumps_the_end():
    # At 24 fps, 0.02 and 0.03 both fall on frame 1 (the first cue's): both are skipped.
    track = [Cue(0, 0.02, "X"), Cue(0.02, 0.03, "A"), Cue(0.03, 0.10, "B"),
             Cue(0.10, 0.11, "C")]
    dat = formats.render(synthetic(track, 0.11), "rhubarb-dat")
    # 0.10 → frame 3; the end 0.11 → frame 3 as well, so it moves to frame 4.
    assert dat == "MohoSwitch1\n1 X\n3 C\n4 X\n"


@pytest.mark.parametrize("fps", [23.9, 100.5, 0, -24])
def test_rhubarb_dat_frame_rate_out_of_range(fps):
    with pytest.raises(VisemicError, match="between 24 and 100"):
        formats.render(synthetic(HI, 0.47), "rhubarb-dat", dat_fps=fps)


def test_rhubarb_quantises_to_centiseconds_and_joins_equal_neighbours():
    track = [Cue(0, 0.003, "X"), Cue(0.003, 0.1234, "B"), Cue(0.1234, 0.1262, "C"),
             Cue(0.1262, 0.3, "B"), Cue(0.3, 0.5, "X")]
    # 0.1234 and 0.1262 both round to 0.12/0.13: C keeps one centisecond.
    assert rhubarb_formats.cues(synthetic(track, 0.5)) == [
        (0, 12, "B"), (12, 13, "C"), (13, 30, "B"), (30, 50, "X")]
    track = [Cue(0, 0.2, "B"), Cue(0.2, 0.204, "C"), Cue(0.204, 0.5, "B")]
    assert rhubarb_formats.cues(synthetic(track, 0.5)) == [(0, 50, "B")]


def test_rhubarb_duration_is_truncated_to_centiseconds():
    r = synthetic([Cue(0, 0.4799, "X")], 0.4799)
    assert rhubarb_formats.duration_cs(r) == 47
    assert formats.render(r, "rhubarb-tsv") == "0.00\tX\n0.47\tX\n"


def test_rhubarb_empty_recording_gets_a_dummy_cue():
    r = synthetic([], 0.005)
    assert formats.render(r, "rhubarb-tsv") == "0.00\tX\n"
    assert '<mouthCue start="0.00" end="0.00">X</mouthCue>' in formats.render(r, "rhubarb-xml")
    assert json.loads(formats.render(r, "rhubarb-json"))["mouthCues"] == [
        {"start": 0.0, "end": 0.0, "value": "X"}]
    assert formats.render(r, "rhubarb-json", extended="").count('"value": "A"') == 1


def test_rhubarb_escapes_metadata():
    r = synthetic(HI, 0.47)
    xml = formats.render(r, "rhubarb-xml", sound_file="a<b>&\"c'.wav")
    assert "<soundFile>a&lt;b&gt;&amp;&quot;c&apos;.wav</soundFile>" in xml
    assert ET.fromstring(xml.encode()).find("metadata/soundFile").text == "a<b>&\"c'.wav"
    js = formats.render(r, "rhubarb-json", sound_file="é\"\\\n.wav")
    assert '"soundFile": "\\u00e9\\"\\\\\\n.wav"' in js  # Rhubarb escapes non-ASCII as \uXXXX
    assert json.loads(js)["metadata"]["soundFile"] == "é\"\\\n.wav"
    assert "<soundFile/>" in formats.render(synthetic(HI, 0.47, path=None), "rhubarb-xml")


def test_rhubarb_sound_file_defaults_to_absolute_path(result, speech_wav):
    meta = json.loads(formats.render(result, "rhubarb-json"))["metadata"]
    assert meta["soundFile"] == str(speech_wav) and os.path.isabs(meta["soundFile"])
    rel = synthetic(HI, 0.47, path="voice/hi.wav")
    root = ET.fromstring(formats.render(rel, "rhubarb-xml").encode())
    assert root.find("metadata/soundFile").text == os.path.join(os.getcwd(), "voice/hi.wav")


# --------------------------------------------------------------------------- Rhubarb, real speech


def parse_tsv(text: str) -> list[tuple[float, str]]:
    rows = []
    for line in text.splitlines():
        t, v = line.split("\t")
        assert len(t.split(".")[1]) == 2  # two decimals, always
        rows.append((float(t), v))
    return rows


def value_at(track: list[Cue], t: float) -> str:
    for c in track:
        if c.start <= t < c.end:
            return c.value
    return track[-1].value


def check_matches_track(cues_cs, track: list[Cue]) -> None:
    """Every exported cue shows the engine's shape for the bulk of its time span."""
    for s, e, v in cues_cs:
        if e - s >= 3:
            assert value_at(track, (s + e) / 200) == v


def test_rhubarb_tsv_xml_json_agree_with_the_track(result):
    track = result.animation.visemes["rhubarb"]
    expected = rhubarb_formats.cues(result)
    end = math.floor(result.audio.duration * 100 + 1e-6)
    check_matches_track(expected, track)
    assert expected[0][0] == 0 and expected[-1][1] == end
    assert all(a[1] == b[0] and a[2] != b[2] for a, b in zip(expected, expected[1:], strict=False))

    tsv = parse_tsv(formats.render(result, "rhubarb-tsv"))
    assert tsv[:-1] == [(s / 100, v) for s, _, v in expected]
    assert tsv[-1] == (end / 100, "X")

    root = ET.fromstring(formats.render(result, "rhubarb-xml").encode())
    assert root.tag == "rhubarbResult"
    assert float(root.find("metadata/duration").text) == end / 100
    xml_cues = [(round(float(c.get("start")) * 100), round(float(c.get("end")) * 100), c.text)
                for c in root.find("mouthCues")]
    assert xml_cues == expected

    data = json.loads(formats.render(result, "rhubarb-json"))
    assert data["metadata"]["duration"] == end / 100
    assert [(round(c["start"] * 100), round(c["end"] * 100), c["value"])
            for c in data["mouthCues"]] == expected


@pytest.mark.parametrize("extended", ["", "G", "GX", "hx", "XHG", "ABCDEF"])
def test_rhubarb_extended_shapes_fall_back(result, extended):
    enabled = rhubarb_formats.parse_extended(extended)
    track = visemes.rhubarb(result.timeline, result.audio.duration, extended=enabled)
    got = rhubarb_formats.cues(result, extended)
    check_matches_track(got, track)
    allowed = set("ABCDEF") | set(enabled)
    assert {v for _, _, v in got} <= allowed
    tsv = parse_tsv(formats.render(result, "rhubarb-tsv", extended=extended))
    assert tsv[-1][1] == ("X" if "X" in enabled else "A")
    assert {v for _, v in tsv} <= allowed


def test_rhubarb_full_track_uses_extended_shapes(result):
    values = {v for _, _, v in rhubarb_formats.cues(result)}
    assert "X" in values and values <= set("ABCDEFGHX")
    assert "A" in values and "F" in values  # "Mom", "blue"


def test_rhubarb_rejects_unknown_extended_shapes(result):
    with pytest.raises(VisemicError, match="not a valid Shape"):
        formats.render(result, "rhubarb-tsv", extended="GZ")


def test_rhubarb_dat_on_speech(result):
    lines = formats.render(result, "rhubarb-dat", dat_fps=30, preston_blair=True).splitlines()
    assert lines[0] == "MohoSwitch1"
    frames = [int(line.split()[0]) for line in lines[1:]]
    names = [line.split()[1] for line in lines[1:]]
    assert frames[0] == 1 and frames == sorted(set(frames))
    assert set(names) <= set(visemes.PRESTON_BLAIR.values()) and names[-1] == "rest"
    expected = []
    last = 0
    for s, _, v in rhubarb_formats.cues(result):
        f = 1 + int(30 * (s / 100))
        if f != last:
            expected.append((f, visemes.PRESTON_BLAIR[v]))
            last = f
    assert list(zip(frames, names, strict=True))[:-1] == expected


# --------------------------------------------------------------------------- full JSON and phones


def test_full_json_round_trip(result, tmp_path):
    path = formats.save(result, tmp_path / "out.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert list(data) == ["visemic", "settings", "audio", "timeline", "animation", "visemes"]
    assert data["visemic"] == visemic.__version__
    assert data["settings"] == result.settings
    assert data["audio"] == {"path": result.audio.path,
                             "duration": round(result.audio.duration, 4),
                             "sample_rate": result.audio.sample_rate}
    tl = data["timeline"]
    assert tl["language"] == result.timeline.language
    assert tl["source"] == result.timeline.source == "aligned"
    assert [w["word"] for w in tl["words"]] == [w.text for w in result.timeline.words]
    for got, w in zip(tl["words"], result.timeline.words, strict=True):
        assert got == {"word": w.text, "start": round(w.start, 4), "end": round(w.end, 4)}
    assert len(tl["phones"]) == len(result.timeline.phones) > 20
    for got, p in zip(tl["phones"], result.timeline.phones, strict=True):
        assert got == {"phone": p.symbol, "start": round(p.start, 4), "end": round(p.end, 4),
                       "word": p.word, "stress": p.stress}
    anim = data["animation"]
    assert anim["fps"] == result.animation.fps
    assert anim["channels"] == list(arkit.CHANNELS) == result.animation.channels
    values = np.array(anim["values"])
    assert values.shape == result.animation.values.shape
    assert np.allclose(values, result.animation.values, atol=5.1e-5, rtol=0)
    assert set(data["visemes"]) == {"rhubarb", "oculus", "azure"}
    for name, track in result.animation.visemes.items():
        assert data["visemes"][name] == [
            {"start": round(c.start, 4), "end": round(c.end, 4), "value": c.value}
            for c in track]


def test_full_json_streams_many_rows_compactly():
    frames = 2 * json_export.BLOCK + 17  # several blocks
    rng = np.random.default_rng(0)
    values = rng.random((frames, len(arkit.CHANNELS))).astype(np.float32)
    values[0, :] = 0.0
    values[1, 0] = -0.0
    values[2, 0] = 1.0
    values[3, 0] = np.nan  # must still give valid JSON
    r = synthetic(HI, frames / 60)
    r.animation.values = values
    text = formats.render(r, "json")
    data = json.loads(text)
    got = np.array(data["animation"]["values"])
    assert got.shape == values.shape
    finite = np.isfinite(values)
    assert np.allclose(got[finite], values[finite], atol=5.1e-5)
    assert got[3, 0] == 0.0
    assert "-0" not in text.split('"values"')[1][:200]
    # One row per line, integers without ".0", at most 4 decimals.
    rows = text.split('"values": [\n')[1].split("]},")[0].splitlines()
    assert len(rows) == frames and rows[0].strip() == "[" + ",".join(["0"] * 55) + "],"
    assert all(len(x.split(".")[1]) <= 4 for x in rows[5].strip(" [],").split(",") if "." in x)


def test_phones_format(result, tmp_path):
    path = formats.save(result, tmp_path / "timeline.txt", format="phones")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert list(data) == ["language", "words", "phones"]
    assert data["language"] == result.timeline.language
    assert [w["word"] for w in data["words"]] == [w.text for w in result.timeline.words]
    assert all(set(p) == {"phone", "start", "end", "word"} for p in data["phones"])
    assert [(p["phone"], p["word"]) for p in data["phones"]] == [
        (p.symbol, p.word) for p in result.timeline.phones]
    assert "ɑ" in path.read_text(encoding="utf-8") or "ɔ" in path.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- Live Link Face CSV


def test_livelink_csv(result, tmp_path):
    path = formats.save(result, tmp_path / "take.csv")
    with open(path, newline="", encoding="utf-8") as fp:
        rows = list(csv.reader(fp))
    header = rows[0]
    assert header[:2] == ["Timecode", "BlendShapeCount"] and len(header) == 63
    assert header[2:4] == ["EyeBlinkLeft", "EyeLookDownLeft"]
    # The app's own order: JawRight before JawLeft, MouthRight before MouthLeft.
    assert header[16:20] == ["JawForward", "JawRight", "JawLeft", "JawOpen"]
    assert header[23:25] == ["MouthRight", "MouthLeft"]
    assert header[53] == "TongueOut"
    assert header[54:] == ["HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch",
                           "LeftEyeRoll", "RightEyeYaw", "RightEyePitch", "RightEyeRoll"]
    assert {h[0].lower() + h[1:] for h in header[2:54]} == set(arkit.BLENDSHAPES)
    body = rows[1:]
    anim = result.animation
    assert len(body) == anim.frames
    assert all(r[1] == "61" and len(r) == 63 for r in body)
    fps = anim.fps
    for i, r in enumerate(body):
        hh, mm, ss, rest = r[0].split(":")
        ff, sub = rest.split(".")
        t = int(hh) * 3600 + int(mm) * 60 + int(ss) + (int(ff) + int(sub) / 1000) / fps
        assert abs(t - i / fps) < 1e-6
    table = np.array([[float(x) for x in r[2:]] for r in body])
    for k, name in enumerate(header[2:54]):
        channel = name[0].lower() + name[1:]
        assert np.allclose(table[:, k], anim.channel(channel), atol=6e-7), name
    for k, name in enumerate(arkit.HEAD):
        assert np.allclose(table[:, 52 + k], anim.channel(name) / 180.0, atol=6e-7)
    # Eye yaw/pitch follow the eyeLook* curves (30° per unit); eye roll stays 0.
    look = {n: anim.channel(n) for n in arkit.BLENDSHAPES if n.startswith("eyeLook")}
    left_yaw = (look["eyeLookOutLeft"] - look["eyeLookInLeft"]) * 30.0
    right_pitch = (look["eyeLookDownRight"] - look["eyeLookUpRight"]) * 30.0
    assert np.allclose(table[:, 55], left_yaw / 180.0, atol=1e-6)
    assert np.allclose(table[:, 59], right_pitch / 180.0, atol=1e-6)
    assert table[:, 55].any() and not table[:, [57, 60]].any()
    radians = formats.render(result, "csv", head_units="radians").splitlines()[1:]
    yaw = np.array([float(r.split(",")[54]) for r in radians])
    assert np.allclose(yaw, np.radians(anim.channel("headYaw")), atol=6e-7)


@pytest.mark.parametrize("frame,fps,expected", [
    (0, 60, "00:00:00:00.000"), (59, 60, "00:00:00:59.000"), (61, 60, "00:00:01:01.000"),
    (60 * 3600, 60, "01:00:00:00.000"), (25 * 61 + 3, 25, "00:01:01:03.000"),
    (30, 29.97, "00:00:01:00.030"), (1, 29.97, "00:00:00:01.000"),
])
def test_livelink_timecode(frame, fps, expected):
    assert livelink.timecode(frame, fps) == expected


def test_livelink_rejects_bad_head_units(result):
    with pytest.raises(VisemicError, match="head_units"):
        formats.render(result, "csv", head_units="grads")


# --------------------------------------------------------------------------- save()


@pytest.mark.parametrize("name,fmt", [
    ("a.json", "json"), ("a.JSON", "json"), ("a.csv", "csv"), ("a.tsv", "rhubarb-tsv"),
    ("a.xml", "rhubarb-xml"), ("a.dat", "rhubarb-dat"), ("a.mp4", "mp4"), ("a.webm", "webm"),
    ("frames/%05d.png", "png"),
])
def test_format_from_extension(name, fmt):
    assert formats.resolve_format(name) == fmt


@pytest.mark.parametrize("given,fmt", [
    ("json", "json"), ("CSV", "csv"), ("rhubarb-tsv", "rhubarb-tsv"), ("tsv", "rhubarb-tsv"),
    ("rhubarb-json", "rhubarb-json"), ("rhubarb-dat", "rhubarb-dat"), ("phones", "phones"),
    ("mp4", "mp4"), ("png-sequence", "png"),
])
def test_format_by_name_overrides_extension(given, fmt):
    assert formats.resolve_format("out.json", given) == fmt


def test_unknown_format_or_extension_lists_valid_ones():
    with pytest.raises(VisemicError, match="rhubarb-tsv.*phones"):
        formats.resolve_format("out.txt")
    with pytest.raises(VisemicError, match="rhubarb-xml"):
        formats.resolve_format("out.json", "yaml")
    with pytest.raises(VisemicError, match="explicit format"):
        formats.resolve_format("-")


def test_save_writes_every_export_format_atomically(result, tmp_path):
    for fmt in formats.EXPORTERS:
        path = formats.save(result, tmp_path / "sub" / f"out.{fmt}", format=fmt)
        assert path.read_bytes() == formats.render_bytes(result, fmt)
        if not formats.is_binary(fmt):
            assert path.read_text(encoding="utf-8") == formats.render(result, fmt)
        mode = path.stat().st_mode & 0o777
        umask = os.umask(0)
        os.umask(umask)
        assert mode == 0o666 & ~umask
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == sorted(
        f"out.{fmt}" for fmt in formats.EXPORTERS)


def test_save_failure_leaves_nothing(result, tmp_path):
    target = tmp_path / "cues.dat"
    with pytest.raises(VisemicError):
        formats.save(result, target, dat_fps=200)
    with pytest.raises(VisemicError, match="do not apply"):
        formats.save(result, tmp_path / "x.json", extended="GHX")
    with pytest.raises(VisemicError, match="directory"):
        formats.save(result, tmp_path, format="json")
    assert list(tmp_path.iterdir()) == []


def test_save_replaces_an_existing_file(result, tmp_path):
    target = tmp_path / "cues.tsv"
    target.write_text("old")
    formats.save(result, target)
    assert target.read_text().startswith("0.00\t")


def test_save_to_stdout(result, capsysbinary):
    assert formats.save(result, "-", format="phones") == Path("-")
    out = capsysbinary.readouterr().out.decode("utf-8")
    assert json.loads(out)["language"] == "en"
    with pytest.raises(VisemicError, match="stdout"):
        formats.save(result, "-", format="mp4")


def test_result_save_method(result, tmp_path):
    path = result.save(tmp_path / "r.tsv", extended="")
    assert "X" not in path.read_text()
    text = io.StringIO()
    formats.write(result, text, "rhubarb-tsv")
    assert text.getvalue() == formats.render(result, "rhubarb-tsv")
