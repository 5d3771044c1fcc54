"""``visemic rhubarb`` / ``visemic-rhubarb``: Rhubarb Lip Sync 1.14's command-line contract."""

from __future__ import annotations

import json
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

import visemic
from visemic import cli, rhubarb_cli
from visemic.motion.visemes import PRESTON_BLAIR

SENTENCE = "Mom bought five blue boxes. Please wait."


@pytest.fixture(scope="module")
def wav(tmp_path_factory) -> Path:
    from visemic.phonetics import espeak

    audio, _ = espeak.synthesize(SENTENCE, "en-us")
    path = tmp_path_factory.mktemp("rhubarb") / "line.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(audio.sample_rate)
        w.writeframes((np.clip(audio.samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


@pytest.fixture(scope="module")
def dialog(wav) -> Path:
    path = wav.parent / "dialog.txt"
    path.write_text(SENTENCE + "\n", encoding="utf-8")
    return path


def run(args, capsys) -> tuple[int, str, str]:
    code = rhubarb_cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def events(stderr: str) -> list[dict]:
    """Every stderr line must be one JSON object (plug-ins parse them line by line)."""
    return [json.loads(line) for line in stderr.splitlines()]


def check_log(event: dict, level: str) -> None:
    assert set(event["log"]) == {"level", "message"}
    assert event["log"]["level"] == level and isinstance(event["log"]["message"], str)


def test_machine_readable_success(wav, dialog, tmp_path):
    out = tmp_path / "cues.json"
    r = subprocess.run([sys.executable, "-m", "visemic.rhubarb_cli", "--machineReadable",
                        "-f", "json", "-d", str(dialog), "-o", str(out), str(wav)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    ev = events(r.stderr)
    assert [e["type"] for e in ev][0] == "start" and ev[-1]["type"] == "success"
    start = ev[0]
    assert start["file"] == str(wav)
    check_log(start, "Info")
    assert start["log"]["message"] == f"Application startup. Input file: {wav}."
    progress = [e for e in ev if e["type"] == "progress"]
    values = [e["value"] for e in progress]
    assert values[0] == 0.0 and values[-1] == 1.0 and values == sorted(values)
    assert all(isinstance(v, float) and 0 <= v <= 1 for v in values)
    for e in progress:
        check_log(e, "Trace")
        assert e["log"]["message"] == f"Progress: {int(e['value'] * 100)}%"
    # Two decimals, exactly as Rhubarb prints them.
    assert '"value": 0.00,' in r.stderr and '"value": 1.00,' in r.stderr
    check_log(ev[-1], "Info")
    assert {e["type"] for e in ev} <= {"start", "progress", "success"}
    data = json.loads(out.read_text())
    assert data["metadata"]["soundFile"] == str(wav)
    cues = data["mouthCues"]
    assert cues[0]["start"] == 0 and cues[-1]["end"] == data["metadata"]["duration"]
    assert all(a["end"] == b["start"] for a, b in zip(cues, cues[1:], strict=False))


def test_machine_readable_failure(tmp_path):
    missing = tmp_path / "nope.wav"
    out = tmp_path / "x.tsv"
    r = subprocess.run([sys.executable, "-m", "visemic.rhubarb_cli", "--machineReadable",
                        "-o", str(out), str(missing)], capture_output=True, text=True)
    assert r.returncode == 1
    ev = events(r.stderr)
    assert [e["type"] for e in ev] == ["start", "failure"]
    assert ev[1]["reason"].startswith(f"Error processing file {missing}.")
    check_log(ev[1], "Fatal")
    assert ev[1]["log"]["message"].startswith("Application terminating with error: ")
    assert not out.exists()


def test_machine_readable_bad_command_line_is_still_json(wav, capsys):
    code, out, err = run(["--machineReadable", "-f", "mp3", wav], capsys)
    assert code == 1 and out == ""
    (event,) = events(err)
    assert event["type"] == "failure" and "mp3" in event["reason"]


def test_default_tsv_to_stdout_and_human_messages(wav, capsys):
    code, out, err = run([wav], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("0.00\t") and lines[-1].endswith("\tX")
    assert all(len(line.split("\t")) == 2 for line in lines)
    # Rhubarb's console messages (no progress bar: stderr is not a terminal here).
    assert err.splitlines() == [f"Generating lip sync data for {wav}.", "Done."]


def test_quiet_and_log_file(wav, tmp_path, capsys):
    log = tmp_path / "run.log"
    code, out, err = run(["-q", "-f", "xml", "--logFile", log, "--logLevel", "trace",
                          "-r", "phonetic", wav], capsys)
    assert code == 0 and err == ""
    assert out.startswith('<?xml version="1.0" encoding="utf-8"?>\n<rhubarbResult>\n')
    text = log.read_text()
    for needle in ("[Info] Application startup.", "[Trace] Progress: 100%",
                   "[Info] Done exporting.", "[Info] Application terminating normally."):
        assert needle in text


def test_dat_with_preston_blair_and_no_extended_shapes(wav, tmp_path, capsys):
    out = tmp_path / "switch.dat"
    code, _, err = run(["-f", "DAT", "--datUsePrestonBlair", "--datFrameRate", "30",
                        "--extendedShapes", "", "--threads", "2", "-q", "-o", out, wav],
                       capsys)
    assert code == 0, err
    lines = out.read_text().splitlines()
    assert lines[0] == "MohoSwitch1"
    names = {line.split()[1] for line in lines[1:]}
    # No G, H or X: their Preston Blair names FV, L and rest never appear.
    assert names <= {PRESTON_BLAIR[s] for s in "ABCDEF"}
    assert lines[-1].endswith(" MBP")  # the closing mouth is A when X is disabled
    frames = [int(line.split()[0]) for line in lines[1:]]
    assert frames[0] == 1 and frames == sorted(set(frames))


@pytest.mark.parametrize("args,needle", [
    (["--extendedShapes", "GZ"], "not a valid Shape"),
    (["-f", "dat", "--datFrameRate", "120"], "between 24 and 100"),
    (["--threads", "0"], "Thread count"),
    (["-r", "deepSpeech"], "RecognizerType"),
    (["--consoleLevel", "loud"], "Level"),
    (["--unknownOption"], "unrecognized"),
    (["-d", "/nonexistent/dialog.txt"], "dialog"),
])
def test_errors_exit_1_with_one_line(wav, tmp_path, capsys, args, needle):
    out = tmp_path / "out.tsv"
    code, stdout, err = run(["-q", *args, "-o", out, wav], capsys)
    assert code == 1 and stdout == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0]
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_missing_input_argument(capsys):
    code, _, err = run([], capsys)
    assert code == 1 and err.startswith("error: ") and err.count("\n") == 1


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as e:
        rhubarb_cli.main(["--version"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    # Plug-ins match this line to check compatibility.
    assert out.startswith("\nRhubarb Lip Sync version 1.14.0 ")
    assert f"visemic {visemic.__version__}" in out
    with pytest.raises(SystemExit) as e:
        rhubarb_cli.main(["--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--exportFormat", "--recognizer", "--dialogFile", "--extendedShapes",
                 "--datFrameRate", "--datUsePrestonBlair", "--machineReadable",
                 "--consoleLevel", "--logFile", "--threads"):
        assert flag in text


def test_visemic_rhubarb_subcommand(wav, capsys):
    code = cli.main(["rhubarb", "-q", "-f", "json", str(wav)])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    assert json.loads(out)["metadata"]["soundFile"] == str(wav)
    code = cli.main(["rhubarb", "-q", "/nonexistent.wav"])
    assert code == 1  # the Rhubarb contract, not visemic's 2
    assert capsys.readouterr().err.startswith("error: ")


def test_console_script_is_declared():
    import tomllib

    root = Path(__file__).resolve().parents[1]
    scripts = tomllib.loads((root / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["visemic-rhubarb"] == "visemic.rhubarb_cli:main"
    assert scripts["visemic"] == "visemic.cli:main"
