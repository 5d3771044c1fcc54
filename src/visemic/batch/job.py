"""One batch item's work, as it runs in a worker process (local or on a Ray node).

A :class:`Job` carries everything the work needs, the audio's bytes included when the worker
may be on another machine; :func:`process` returns the outputs as bytes in an :class:`Outcome`
and writes nothing, so that one place (the runner, in the driver) writes files and keeps the
journal. The same function runs locally and on Ray, so both make identical bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import visemic
from visemic.errors import VisemicError

# Batch format → the ending of its output file (json and rhubarb-json would both be ".json").
OUTPUT_SUFFIXES: dict[str, str] = {
    "json": ".json",
    "csv": ".csv",
    "rhubarb-tsv": ".tsv",
    "rhubarb-xml": ".xml",
    "rhubarb-json": ".rhubarb.json",
    "rhubarb-dat": ".dat",
    "phones": ".phones.json",
    "gltf": ".gltf",
    "glb": ".glb",
    "srt": ".srt",
    "vtt": ".vtt",
    "vrma": ".vrma",
}
# An item with a video also writes the video dubbed with its audio.
DUB_SUFFIX = ".dub.mp4"


@dataclass(frozen=True)
class Job:
    """The work for one item. Exactly one of ``audio_path`` (a filesystem the worker shares)
    and ``audio_bytes`` (workers anywhere) is set."""

    index: int
    name: str
    audio_name: str
    text: str | None
    language: str | None
    fps: float
    method: str
    formats: tuple[str, ...]
    audio_path: str | None = None
    audio_bytes: bytes | None = field(default=None, repr=False)
    video_name: str | None = None  # a video to dub with the audio (like the audio: path or bytes)
    video_path: str | None = None
    video_bytes: bytes | None = field(default=None, repr=False)


@dataclass
class Outcome:
    """What a job produced: ``files`` (output file name relative to OUTDIR → bytes) and the
    content ``key`` of the input it was made from, or an ``error`` line."""

    index: int
    key: str = ""
    files: dict[str, bytes] = field(default_factory=dict, repr=False)
    error: str | None = None
    duration: float = 0.0


def output_files(name: str, formats: tuple[str, ...], video: bool = False) -> list[str]:
    """The file names (relative to OUTDIR) an item called ``name`` writes (with ``video``, the
    dubbed video too)."""
    return [name + OUTPUT_SUFFIXES[f] for f in formats] + ([name + DUB_SUFFIX] if video else [])


def audio_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_digest(path: str | os.PathLike[str]) -> str:
    """sha256 of a file, read a block at a time (videos are large)."""
    h = hashlib.sha256()
    with open(path, "rb") as fp:
        for block in iter(lambda: fp.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def content_key(audio_sha256: str, job: Job, video_sha256: str | None = None) -> str:
    """A hash of everything that decides an item's outputs: the audio's bytes, transcript,
    language, fps, method, formats, how the audio is named inside outputs and visemic's version.
    Equal keys mean equal outputs, so an item whose recorded key matches is not redone."""
    settings = {
        "visemic": visemic.__version__,
        "audio": audio_sha256,
        "audio_name": job.audio_name,
        "text": job.text,
        "language": job.language,
        "fps": repr(float(job.fps)),
        # The method only matters without a transcript (with one, the speech is aligned).
        "method": "align" if job.text is not None else job.method,
        "formats": list(job.formats),
    }
    if job.video_name is not None:
        settings["video"] = video_sha256
        settings["video_name"] = job.video_name
    blob = json.dumps(settings, sort_keys=True, ensure_ascii=True).encode()
    return hashlib.sha256(blob).hexdigest()


def process(job: Job) -> Outcome:
    """Run one item: analyse the audio, render every format. Never raises for bad input: the
    reason goes in ``Outcome.error``."""
    from visemic.phonetics import whisper

    whisper.set_threads(1)  # workers run side by side, a core each
    # A worker goes through many files: reloading the model for each (0.2–0.5 s) would cost more
    # than the memory it frees between them.
    whisper.keep_loaded(True)
    try:
        if job.audio_bytes is not None:
            data = job.audio_bytes
        else:
            assert job.audio_path is not None
            try:
                data = Path(job.audio_path).read_bytes()
            except OSError as e:
                raise VisemicError(f"{job.audio_name}: {e.strerror or e}") from None
        video_sha = None
        if job.video_name is not None:
            try:
                video_sha = (audio_digest(job.video_bytes) if job.video_bytes is not None
                             else file_digest(str(job.video_path)))
            except OSError as e:
                raise VisemicError(f"{job.video_name}: {e.strerror or e}") from None
        key = content_key(audio_digest(data), job, video_sha)
        result = (_animate(job, job.audio_path) if job.audio_path is not None
                  else _animate_bytes(job, data))
        # Outputs name the audio the same way wherever the job ran (not a worker's temp file).
        result.audio.path = job.audio_name
        files = {out: _render(result, fmt, job.audio_name)
                 for out, fmt in zip(output_files(job.name, job.formats), job.formats,
                                     strict=True)}
        if job.video_name is not None:
            files[job.name + DUB_SUFFIX] = _dub(job, data)
        return Outcome(job.index, key=key, files=files, duration=result.audio.duration)
    except VisemicError as e:
        return Outcome(job.index, error=_one_line(str(e)))
    except MemoryError:
        return Outcome(job.index, error="out of memory")
    except Exception as e:  # one bad item must not end the batch; report what happened
        return Outcome(job.index, error=_one_line(f"internal error ({type(e).__name__}: {e})"))


def _animate(job: Job, source: str) -> visemic.Result:
    try:
        return visemic.animate(source, text=job.text, language=job.language, fps=job.fps,
                               method=job.method)
    except VisemicError as e:
        # Name the audio as the batch does, not by the path this worker happened to read.
        raise VisemicError(str(e).replace(source, job.audio_name)) from None


def _animate_bytes(job: Job, data: bytes) -> visemic.Result:
    # The decoder reads files; keep the extension, which helps it recognise the container.
    suffix = Path(job.audio_name).suffix[:16]
    fd, tmp = tempfile.mkstemp(prefix="visemic-batch-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as fp:
            fp.write(data)
        return _animate(job, tmp)
    finally:
        os.unlink(tmp)


def _dub(job: Job, audio: bytes) -> bytes:
    """The item's video dubbed with its audio, as MP4 bytes."""
    with tempfile.TemporaryDirectory(prefix="visemic-batch-dub-") as tmp:
        folder = Path(tmp)
        video = job.video_path
        if video is None:
            video = str(folder / ("video" + Path(str(job.video_name)).suffix[:16]))
            Path(video).write_bytes(job.video_bytes or b"")
        speech = job.audio_path
        if speech is None:
            speech = str(folder / ("audio" + Path(job.audio_name).suffix[:16]))
            Path(speech).write_bytes(audio)
        out = folder / "dub.mp4"
        names = {video: str(job.video_name), speech: job.audio_name}
        try:
            visemic.dub(video, speech, text=job.text, language=job.language).save(out)
        except VisemicError as e:
            message = str(e)
            for path, name in names.items():
                message = message.replace(path, name)
            raise VisemicError(message) from None
        return out.read_bytes()


def _render(result: visemic.Result, fmt: str, audio_name: str) -> bytes:
    from visemic.outputs import formats

    options = {"sound_file": audio_name} if fmt in ("rhubarb-xml", "rhubarb-json") else {}
    return formats.render_bytes(result, fmt, **options)


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "unknown error"
