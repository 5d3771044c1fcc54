"""``visemic`` command line: outputs, and one ``error:`` line with exit 2 for every bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

import visemic
from visemic.cli import main

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
ROBUSTNESS = SHARED / "samples" / "robustness"
SENTENCE = "Mom bought five blue boxes. Please wait."


def write_wav(samples: np.ndarray, rate: int, path: Path) -> Path:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> tuple[Path, np.ndarray, int]:
    from visemic.phonetics import espeak

    audio, _ = espeak.synthesize(SENTENCE, "en-us")
    path = write_wav(audio.samples, audio.sample_rate,
                     tmp_path_factory.mktemp("cli") / "speech.wav")
    return path, audio.samples, audio.sample_rate


@pytest.fixture(scope="module")
def wav(speech) -> Path:
    return speech[0]


@pytest.fixture(scope="module")
def long_wav(speech, tmp_path_factory) -> Path:
    """About 25 s of speech: long enough for progress reports on a non-terminal stderr."""
    return _repeated(speech, 25, tmp_path_factory.mktemp("cli-long"))


@pytest.fixture(scope="module")
def very_long_wav(speech, tmp_path_factory) -> Path:
    """About 200 s of speech: analysed in segments with a progress line after each, so a
    signal sent after the first line lands mid-run whatever the machine's speed."""
    return _repeated(speech, 200, tmp_path_factory.mktemp("cli-very-long"))


def _default_signals() -> None:
    # As in a terminal: a background job (make, CI) may start us with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _repeated(speech, seconds: float, folder: Path) -> Path:
    """The test sentence repeated with 0.4 s pauses to about ``seconds``, as a WAV."""
    _, samples, rate = speech
    gap = np.zeros(int(0.4 * rate), np.float32)
    reps = int(np.ceil(seconds / (len(samples) / rate + 0.4)))
    return write_wav(np.concatenate([np.concatenate([samples, gap])] * reps), rate,
                     folder / "long.wav")


def run(args, capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_error(code: int, err: str) -> None:
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and len(lines[0]) > len("error: ") + 5
    assert "Traceback" not in err


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --------------------------------------------------------------------------- success


def test_animate_writes_json(wav, tmp_path, capsys):
    out = tmp_path / "nested" / "speech.json"
    code, stdout, err = run(["animate", wav, "--text", SENTENCE, "-o", out, "--fps", "30",
                             "--quiet"], capsys)
    assert code == 0 and stdout == "" and err == ""
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["animation"]["fps"] == 30.0
    assert data["settings"]["text"] == SENTENCE
    assert [w["word"] for w in data["timeline"]["words"]][:3] == ["mom", "bought", "five"]
    assert leftovers(out.parent) == ["speech.json"]


def test_animate_format_to_stdout(wav, capsys, tmp_path):
    transcript = tmp_path / "t.txt"
    transcript.write_text(SENTENCE + "\n", encoding="utf-8")
    code, stdout, err = run(["animate", wav, "--text-file", transcript,
                             "--format", "rhubarb-tsv"], capsys)
    assert code == 0 and err == ""
    lines = stdout.splitlines()
    assert lines[0].startswith("0.00\t") and lines[-1].endswith("\tX") and len(lines) > 8
    code, stdout, _ = run(["animate", wav, "--method", "phones", "-o", "-", "--format", "phones"],
                          capsys)
    assert code == 0 and json.loads(stdout)["phones"]


def test_format_overrides_extension(wav, tmp_path, capsys):
    out = tmp_path / "cues.txt"
    code, _, err = run(["animate", wav, "-o", out, "--format", "rhubarb-json", "-q"], capsys)
    assert code == 0, err
    assert json.loads(out.read_text())["metadata"]["soundFile"] == str(wav)


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"visemic {visemic.__version__}"
    with pytest.raises(SystemExit) as e:
        main(["animate", "--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    for needle in ("--text-file", "--format", "stdout", "rhubarb-dat", "--size", "exit status 2"):
        assert needle in text


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("extra", [
    ["--fps", "abc"], ["--fps", "0"], ["--fps", "-5"], ["--fps", "nan"], ["--fps", "5000"],
    ["--format", "yaml"], ["--method", "magic"], ["--bogus"], ["--size", "12"],
    ["--text", ""], ["--text", "   \n"], ["--text", "a", "--text-file", "b"],
    ["--size", "64x64"],  # video option on a JSON output
])
def test_bad_flags(wav, tmp_path, capsys, extra):
    out = tmp_path / "out.json"
    code, stdout, err = run(["animate", wav, "-o", out, *extra], capsys)
    assert_one_error(code, err)
    assert leftovers(tmp_path) == []


def test_bad_outputs(wav, tmp_path, capsys):
    for args in (["-o", tmp_path / "out.unknown"], [],  # no output at all
                 ["-o", "-"],                          # stdout needs a format
                 ["--format", "mp4"]):                 # video cannot go to stdout
        code, _, err = run(["animate", wav, *args], capsys)
        assert_one_error(code, err)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run(["animate", wav, "-o", blocker / "out.json"], capsys)
    assert_one_error(code, err)
    assert leftovers(tmp_path) == ["file"]


def test_bad_inputs(tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text(" \n")
    cases = [
        [tmp_path / "missing.wav"],
        [tmp_path],  # a folder
        [Path(__file__), "--text", "hello"],  # not audio
    ]
    if ROBUSTNESS.is_dir():
        cases += [[ROBUSTNESS / name] for name in
                  ("zero-bytes.wav", "incomplete.wav", "zero-frames-ffmpeg.wav")]
    for args in cases:
        out = tmp_path / "out" / "x.json"
        code, _, err = run(["animate", *args, "-o", out], capsys)
        assert_one_error(code, err)
        assert not out.exists()
    code, _, err = run(["animate", tmp_path / "missing.wav", "--text-file", empty,
                        "--format", "json"], capsys)
    assert_one_error(code, err)
    code, _, err = run(["animate", tmp_path / "a.wav", "--text-file", tmp_path / "no.txt",
                        "--format", "json"], capsys)
    assert_one_error(code, err)
    assert "no.txt" in err


def test_no_command_and_unknown_command(capsys):
    for args in ([], ["frobnicate"], ["animate"]):
        code, _, err = run(args, capsys)
        assert_one_error(code, err)


def test_subprocess_entry_points(wav, tmp_path):
    """``python -m visemic`` and argparse's own errors: one line, exit 2, no usage block."""
    r = subprocess.run([sys.executable, "-m", "visemic", "animate", str(wav), "--fps", "x",
                        "-o", str(tmp_path / "a.json")], capture_output=True, text=True)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: argument --fps")
    r = subprocess.run([sys.executable, "-m", "visemic", "--version"], capture_output=True,
                       text=True)
    assert r.returncode == 0 and r.stdout.strip() == f"visemic {visemic.__version__}"


# --------------------------------------------------------------------------- long files


def test_progress_on_long_audio_and_quiet(long_wav, tmp_path):
    """A >20 s file reports progress on a non-terminal stderr as plain lines; -q silences it."""
    out = tmp_path / "long.tsv"
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "visemic", "animate", str(long_wav), "-o",
                        str(out)], capture_output=True, text=True, timeout=120)
    print("long file CLI run:", round(time.monotonic() - t0, 2), "s")
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert lines and all("%" in line for line in lines)
    assert lines[-1].split("]")[1].strip().startswith("100%")
    assert out.read_text().startswith("0.00\t")


def test_progress_policy(long_wav, wav):
    from argparse import Namespace

    from visemic.cli import _want_progress

    # Under pytest stderr is not a terminal: only long audio gets progress, never with -q.
    assert _want_progress(Namespace(quiet=False), str(long_wav))
    assert not _want_progress(Namespace(quiet=True), str(long_wav))
    assert not _want_progress(Namespace(quiet=False), str(wav))


@pytest.mark.parametrize("sig, suffix, code", [(signal.SIGINT, ".json", 130),
                                               (signal.SIGTERM, ".csv", 143)])
def test_interrupt_exits_cleanly_and_leaves_no_file(very_long_wav, tmp_path, sig, suffix, code):
    out = tmp_path / ("long" + suffix)
    proc = subprocess.Popen([sys.executable, "-m", "visemic", "animate", str(very_long_wav),
                             "-o", str(out)], stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_signals)
    assert proc.stderr is not None
    assert "%" in proc.stderr.readline()  # the first segment is done: the analysis is under way
    proc.send_signal(sig)
    rest = proc.stderr.read()
    assert proc.wait(timeout=60) == code
    assert "Traceback" not in rest and "KeyboardInterrupt" not in rest
    assert leftovers(tmp_path) == []


def test_an_interrupt_python_dropped_still_stops_the_command(wav, tmp_path, monkeypatch, capsys):
    """Python drops a KeyboardInterrupt raised inside a finaliser or a C library's callback; the
    command must stop all the same, before writing anything."""
    from visemic import cli

    real = visemic.animate

    def animate(*args, **kwargs):
        try:
            cli._on_signal(signal.SIGINT, None)
        except KeyboardInterrupt:
            pass  # what a finaliser does with it
        return real(*args, **kwargs)

    monkeypatch.setattr(visemic, "animate", animate)
    out = tmp_path / "short.json"
    code, _, _ = run(["animate", wav, "-o", out, "-q"], capsys)
    assert code == 130
    assert leftovers(tmp_path) == []
    # The next command starts afresh.
    monkeypatch.setattr(visemic, "animate", real)
    assert run(["animate", wav, "-o", out, "-q"], capsys)[0] == 0


@pytest.mark.skipif(os.environ.get("VISEMIC_SKIP_VIDEO") == "1", reason="video disabled")
def test_video_options_reach_the_video_writer(wav, tmp_path, capsys):
    pytest.importorskip("visemic.outputs.video")
    out = tmp_path / "frames" / "%03d.png"
    code, _, err = run(["animate", wav, "-o", out, "--fps", "5", "--size", "32x48", "-q"],
                       capsys)
    if code != 0 and "not available" in err:
        pytest.skip(err)
    assert code == 0, err
    frames = sorted((tmp_path / "frames").glob("*.png"))
    assert len(frames) >= 10
    with open(frames[0], "rb") as fp:
        head = fp.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(head[16:20], "big") == 32 and int.from_bytes(head[20:24], "big") == 48


def test_help_lists_every_format(capsys):
    from visemic.outputs import formats

    with pytest.raises(SystemExit):
        main(["animate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    listed = text.split("formats: ", 1)[1].split(" --fps", 1)[0]
    assert [f.strip() for f in listed.split(",")] == formats.format_names()


@pytest.mark.skipif(os.environ.get("VISEMIC_SKIP_VIDEO") == "1", reason="video disabled")
def test_explicit_fps_is_the_video_frame_rate(wav, tmp_path, capsys):
    av = pytest.importorskip("av")

    def rate(path: Path) -> float:
        with av.open(str(path)) as container:
            return float(container.streams.video[0].average_rate)

    default, asked = tmp_path / "default.mp4", tmp_path / "sixty.mp4"
    assert run(["animate", wav, "-o", default, "--size", "64x64", "-q"], capsys)[0] == 0
    assert run(["animate", wav, "-o", asked, "--size", "64x64", "--fps", "60", "-q"],
               capsys)[0] == 0
    assert rate(default) == 30 and rate(asked) == 60
    code, _, err = run(["animate", wav, "-o", tmp_path / "fast.mp4", "--fps", "500"], capsys)
    assert code == 2 and "240" in err and err.startswith("error: ")
    assert not (tmp_path / "fast.mp4").exists()


def test_library_warnings_are_warning_lines(tmp_path, capsys):
    """A transcript that cannot be aligned falls back to recognition, said as one
    ``warning:`` line like every other message."""
    t = np.arange(int(1.5 * 16000)) / 16000
    tone = write_wav(0.3 * np.sin(2 * np.pi * 300 * t), 16000, tmp_path / "tone.wav")
    code, _, err = run(["animate", tone, "--text", "Hello there my good friend how are you",
                        "-o", tmp_path / "x.json", "-q"], capsys)
    assert code == 0
    lines = err.splitlines()
    assert any(line.startswith("warning: ") and "recognising instead" in line for line in lines)
    assert all(line.startswith(("warning: ", "error: ")) for line in lines), lines


def test_exporters_do_not_import_the_api():
    """The result type sits below the API and the exporters: no import cycle between them."""
    code = ("import sys, visemic.outputs.formats, visemic.outputs.gltf, visemic.result; "
            "sys.exit('visemic.api' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
