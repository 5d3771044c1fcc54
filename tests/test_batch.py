"""visemic batch: folder and CSV inputs, failures, resume after kill -9 and Ctrl-C, Ray = local.

Clips are spoken by espeak-ng; every check compares batch outputs with each other or with
``visemic.animate`` on the same file, never with stored results.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from visemic.batch import run_batch
from visemic.batch.output_folder import JOURNAL, STATE_DIR
from visemic.errors import VisemicError

LINES = [
    "Go forward ten meters.",
    "Mom bought five blue boxes.",
    "Please wait here for me.",
    "Then we all go home for supper.",
    "The quick brown fox jumps over the dog.",
    "Five wise owls watched from the oak tree.",
    "Peter picked a peck of peppers.",
    "Move the boat a bit further.",
    "We found the violin in a box.",
    "Open the window, it is warm.",
    "Bring me two cups of coffee.",
    "Who would move a rowboat so far?",
]
FORMATS = "json,rhubarb-tsv,rhubarb-xml"
SUFFIXES = (".json", ".tsv", ".xml")
# Temporary files of visemic.outputs.atomic, left behind only by a killed writer.
TEMPORARY = re.compile(r"\.part(\.[^./]+)?$")


def write_wav(samples: np.ndarray, rate: int, path: Path) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """A folder of spoken lines; even-numbered ones have a .txt transcript, one a .lab."""
    from visemic.phonetics import espeak

    folder = tmp_path_factory.mktemp("clips")
    for i, line in enumerate(LINES):
        audio, _ = espeak.synthesize(line, "en-us")
        write_wav(audio.samples, audio.sample_rate, folder / f"line{i:02d}.wav")
        if i % 2 == 0:
            (folder / f"line{i:02d}.txt").write_text(line + "\n", encoding="utf-8")
    (folder / "line03.lab").write_text(LINES[3], encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def reference(clips, tmp_path_factory) -> Path:
    """A clean, uninterrupted local run (two workers) to compare every other run with."""
    out = tmp_path_factory.mktemp("reference")
    report = run_batch(clips, out, formats=FORMATS, workers=2)
    assert sorted(report.made) == [f"line{i:02d}" for i in range(len(LINES))]
    assert not report.failed and not report.reused
    return out


def outputs(folder: Path) -> dict[str, bytes]:
    """Every output file under ``folder`` (not the batch's own tables or bookkeeping)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
            if p.is_file() and p.suffix in SUFFIXES and not p.name.startswith(".")
            and STATE_DIR not in p.parts}


def temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if TEMPORARY.search(p.name)]


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fp:
        return list(csv.DictReader(fp))


def journalled(journal: Path) -> list[str]:
    """Names of the items in the journal (a line torn by the kill is no item)."""
    names = []
    for line in journal.read_text().splitlines():
        try:
            names.append(json.loads(line)["name"])
        except ValueError:
            pass
    return names


def batch_cli(*args: str, env: dict[str, str] | None = None, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "visemic", "batch", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})}, **kw)


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120
            ) -> tuple[int, str]:
    proc = batch_cli(*args, env=env)
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


# ---------------------------------------------------------------------------------------------


_ANIMATE = """
import sys, visemic
from visemic.outputs import formats
for path, text, out in zip(*[iter(sys.argv[1:])] * 3):
    result = visemic.animate(path, text=text or None)
    result.audio.path = path.rsplit("/", 1)[-1]
    for fmt, suffix in (("json", ".json"), ("rhubarb-tsv", ".tsv")):
        open(out + suffix, "w", encoding="utf-8", newline="").write(formats.render(result, fmt))
"""


def test_outputs_match_animate_and_manifest(clips, reference, tmp_path):
    files = outputs(reference)
    assert set(files) == {f"line{i:02d}{s}" for i in range(len(LINES)) for s in SUFFIXES}
    # Each item is what visemic.animate makes of that file with its transcript (.txt, .lab or
    # none) in a fresh process, whatever the worker ran before it.
    args = []
    for i, text in ((0, LINES[0]), (3, LINES[3]), (5, "")):
        args += [str(clips / f"line{i:02d}.wav"), text, str(tmp_path / f"line{i:02d}")]
    subprocess.run([sys.executable, "-c", _ANIMATE, *args], check=True)
    for i in (0, 3, 5):
        for suffix in (".json", ".tsv"):
            name = f"line{i:02d}{suffix}"
            assert files[name] == (tmp_path / name).read_bytes(), name
        doc = json.loads(files[f"line{i:02d}.json"])
        assert doc["timeline"]["source"] == ("recognised" if i == 5 else "aligned")
    rows = read_csv(reference / "manifest.csv")
    assert [r["output"] for r in rows] == [f"line{i:02d}" for i in range(len(LINES))]
    assert {r["status"] for r in rows} == {"ok"}
    assert rows[1]["files"].split(";") == ["line01.json", "line01.tsv", "line01.xml"]
    assert read_csv(reference / "failures.csv") == []
    assert not temporaries(reference)


def test_rerun_skips_current_items_and_redoes_damaged_ones(clips, reference, tmp_path):
    import shutil

    out = tmp_path / "out"
    shutil.copytree(reference, out)
    before = {p: (out / p).stat().st_mtime_ns for p in outputs(out)}
    again = run_batch(clips, out, formats=FORMATS, workers=2)
    assert again.made == [] and len(again.reused) == len(LINES) and not again.failed
    assert {p: (out / p).stat().st_mtime_ns for p in outputs(out)} == before

    # A torn output is noticed through its journalled hash and made again, by one worker that
    # has just made nothing else; the result is the same bytes.
    json_file = out / "line04.json"
    json_file.write_bytes(json_file.read_bytes()[:100])
    changed = run_batch(clips, out, formats=FORMATS, workers=1)
    assert changed.made == ["line04"] and len(changed.reused) == len(LINES) - 1
    assert outputs(out) == outputs(reference)
    assert (out / "manifest.csv").read_bytes() == (reference / "manifest.csv").read_bytes()


def test_content_key_covers_input_and_settings():
    from dataclasses import replace

    from visemic.batch.job import Job, audio_digest, content_key

    job = Job(index=0, name="a", audio_name="a.wav", text="hello there", language="en",
              fps=60.0, method="phones", formats=("json",))
    audio = audio_digest(b"RIFF one")
    key = content_key(audio, job)
    assert content_key(audio, replace(job, index=7, audio_bytes=b"x")) == key
    changed = [content_key(audio_digest(b"RIFF two"), job)] + [
        content_key(audio, replace(job, **change)) for change in (
            {"text": "hello"}, {"text": None}, {"language": "de"}, {"fps": 30.0},
            {"formats": ("json", "csv")}, {"audio_name": "b.wav"})]
    assert len({key, *changed}) == len(changed) + 1
    # Without a transcript the recognition method matters; with one it does not.
    assert content_key(audio, replace(job, method="words")) == key
    plain = replace(job, text=None)
    assert content_key(audio, replace(plain, method="words")) != content_key(audio, plain)


def test_failures_are_recorded_and_the_batch_goes_on(clips, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for name in ("line00", "line01"):
        (folder / f"{name}.wav").write_bytes((clips / f"{name}.wav").read_bytes())
    (folder / "line00.txt").write_text(LINES[0], encoding="utf-8")
    (folder / "broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEnot really audio")
    (folder / "silent.txt").write_text("   \n", encoding="utf-8")
    write_wav(np.zeros(8000, np.float32), 16000, folder / "silent.wav")
    out = tmp_path / "out"
    code, err = run_cli(str(folder), "-o", str(out), "--workers", "2")
    assert code == 1, err
    failures = {r["output"]: r["reason"] for r in read_csv(out / "failures.csv")}
    assert set(failures) == {"broken", "silent"}
    assert "broken.wav" in failures["broken"] and "/tmp" not in failures["broken"]
    assert "silent.txt is empty" in failures["silent"]
    assert sorted(outputs(out)) == ["line00.json", "line01.json"]
    status = {r["output"]: r["status"] for r in read_csv(out / "manifest.csv")}
    assert status == {"broken": "failed", "line00": "ok", "line01": "ok", "silent": "failed"}
    assert "2 made" in err and "2 failed" in err and "Traceback" not in err


def wait_for_journal(proc: subprocess.Popen, journal: Path, lines: int) -> None:
    """Wait until the running batch has journalled ``lines`` items; it must still be running."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and journal.read_text().count("\n") >= lines:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the batch ended before it could be stopped"


def test_resume_after_kill_9_loses_and_duplicates_nothing(clips, reference, tmp_path):
    out = tmp_path / "out"
    journal = out / STATE_DIR / JOURNAL
    proc = batch_cli(str(clips), "-o", str(out), "--format", FORMATS, "--workers", "1",
                     "--quiet")
    wait_for_journal(proc, journal, 2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    done_before = set(journalled(journal))
    assert 2 <= len(done_before) < len(LINES)
    # Whatever exists under a final name is complete: byte-equal to the clean run.
    files = outputs(out)
    ref = outputs(reference)
    assert files and all(files[p] == ref[p] for p in files)

    code, err = run_cli(str(clips), "-o", str(out), "--format", FORMATS, "--workers", "2")
    assert code == 0, err
    assert f"{len(LINES) - len(done_before)} made, {len(done_before)} already done" in err
    assert outputs(out) == ref
    assert not temporaries(out)
    rows = read_csv(out / "manifest.csv")
    assert sorted(r["output"] for r in rows) == sorted(set(r["output"] for r in rows))
    assert len(rows) == len(LINES) and {r["status"] for r in rows} == {"ok"}
    # Each item was made exactly once over the two runs.
    assert sorted(journalled(journal)) == [f"line{i:02d}" for i in range(len(LINES))]


def test_ctrl_c_stops_cleanly(clips, reference, tmp_path):
    out = tmp_path / "out"
    journal = out / STATE_DIR / JOURNAL
    # As from a terminal: a background job (make, CI) may start us with SIGINT ignored, and the
    # command keeps a SIGINT its parent ignores ignored.
    proc = batch_cli(str(clips), "-o", str(out), "--format", FORMATS, "--workers", "1",
                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    wait_for_journal(proc, journal, 1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert not temporaries(out)
    ref = outputs(reference)
    assert all(data == ref[p] for p, data in outputs(out).items())


def test_csv_manifest(clips, tmp_path):
    manifest = tmp_path / "lines.csv"
    rel = os.path.relpath(clips, tmp_path)
    with open(manifest, "w", encoding="utf-8", newline="") as fp:
        w = csv.writer(fp)
        w.writerow(["Audio", "text", "language", "output", "fps", "method"])
        w.writerow([f"{rel}/line00.wav", LINES[0], "en", "act1/hero/first", "30", ""])
        w.writerow([f"{rel}/line01.wav", "", "", "", "", "words"])
        w.writerow([f"{rel}/line02.wav", LINES[2], "", "bad_fps", "fast", ""])
        w.writerow([f"{rel}/missing.wav", "hello", "", "missing", "", ""])
    out = tmp_path / "out"
    report = run_batch(manifest, out, formats=["json", "phones"], workers=2)
    # An audio path outside the manifest's folder gives its bare name as the default output.
    assert sorted(report.made) == ["act1/hero/first", "line01"]
    failed = dict(report.failed)
    assert "fps" in failed["bad_fps"] and "no such file" in failed["missing"]
    first = json.loads((out / "act1/hero/first.json").read_bytes())
    assert first["animation"]["fps"] == 30 and first["settings"]["text"] == LINES[0]
    assert first["audio"]["path"] == f"{rel}/line00.wav"
    phones = json.loads((out / "act1/hero/first.phones.json").read_bytes())
    assert [w["word"] for w in phones["words"]][:2] == ["go", "forward"]
    second = json.loads((out / "line01.json").read_bytes())
    assert second["settings"]["method"] == "words"


@pytest.mark.parametrize("header, row, message", [
    (["audio", "transcript"], ["a.wav", "hi"], "bad header: unknown column(s) 'transcript'"),
    (["text", "output"], ["hi", "x"], "bad header: no 'audio' column"),
    (["audio", "output"], ["a.wav", "../outside"], "must be a relative name inside"),
    (["audio", "output"], ["a.wav", "/tmp/abs"], "must be a relative name inside"),
    (["audio", "output"], ["a.wav", "failures"], None),  # allowed with json: failures.json
    (["audio", "output"], ["a.wav", "same"], "both make output 'same'"),
])
def test_manifest_errors(tmp_path, header, row, message):
    manifest = tmp_path / "m.csv"
    rows = [header, row] + ([["b.wav", "same"]] if row[-1] == "same" else [])
    with open(manifest, "w", encoding="utf-8", newline="") as fp:
        csv.writer(fp).writerows(rows)
    if message is None:
        report = run_batch(manifest, tmp_path / "out", workers=1)
        assert [name for name, _ in report.failed] == ["failures"]  # a.wav does not exist
        with pytest.raises(VisemicError, match="overwrite the batch's own table"):
            run_batch(manifest, tmp_path / "out2", formats="csv", workers=1)
        return
    with pytest.raises(VisemicError, match=re.escape(message)):
        run_batch(manifest, tmp_path / "out", workers=1)


def test_cli_errors_are_one_line(tmp_path, clips):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no audio here")
    cases = [
        ([str(tmp_path / "nope"), "-o", str(tmp_path / "o")], "no such folder or CSV"),
        ([str(empty), "-o", str(tmp_path / "o")], "no audio files in the folder"),
        ([str(clips), "-o", str(tmp_path / "o"), "--format", "mp4"], "not available in batch"),
        ([str(clips), "-o", str(tmp_path / "o"), "--format", "nope"], "unknown format"),
        ([str(clips), "-o", str(tmp_path / "o"), "--workers", "0"], "at least 1"),
        ([str(clips)], "-o/--output"),
    ]
    for args, message in cases:
        code, err = run_cli(*args)
        assert code == 2, (args, err)
        assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err


def test_second_batch_on_the_same_folder_is_refused(clips, tmp_path):
    from visemic.batch.output_folder import OutputFolder

    out = tmp_path / "out"
    with OutputFolder(out):
        with pytest.raises(VisemicError, match="another visemic batch"):
            run_batch(clips, out, workers=1)


# ---------------------------------------------------------------------------------------------
# Ray: one local instance for the module, reached by the CLI at its address.


@pytest.fixture(scope="module")
def ray_address():
    ray = pytest.importorskip("ray")
    import logging

    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR,
             log_to_driver=False, object_store_memory=128 * 1024 * 1024)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def test_ray_run_writes_the_same_bytes_as_a_local_run(clips, reference, ray_address, tmp_path):
    out = tmp_path / "out"
    code, err = run_cli(str(clips), "-o", str(out), "--format", FORMATS, "--ray", ray_address,
                        timeout=180)
    assert code == 0, err
    assert "Ray (2 CPUs)" in err
    assert outputs(out) == outputs(reference)
    assert (out / "manifest.csv").read_bytes() == (reference / "manifest.csv").read_bytes()

    # "auto" finds the same cluster through RAY_ADDRESS and remakes only the damaged item.
    (out / "line05.tsv").write_text("0.00\tX\n")
    code, err = run_cli(str(clips), "-o", str(out), "--format", FORMATS, "--ray", "auto",
                        env={"RAY_ADDRESS": ray_address}, timeout=180)
    assert code == 0, err
    assert f"1 made, {len(LINES) - 1} already done" in err and "Ray (2 CPUs)" in err
    assert outputs(out) == outputs(reference)
