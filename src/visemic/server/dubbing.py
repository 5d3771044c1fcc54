"""``POST /v1/dub``: dub an uploaded video as a job (a worker process renders it; progress in the
job store).

Multipart form: ``video`` (required), ``audio`` (the new speech; default the video's own),
``mouth_from`` (a clip whose mouths are used), and the fields ``text``, ``language``,
``emotion``, ``face`` (0 the largest) and ``format`` (mp4 or webm). The answer is 202 with the
job; ``GET /v1/jobs/{id}`` shows its progress and ``GET /v1/jobs/{id}/result`` gives the video.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from visemic.errors import NoFaceError, VisemicError
from visemic.server import analysis, uploads

FILES = ("video", "audio", "mouth_from")
FIELDS = ("text", "language", "mouth_language", "format", "emotion", "face")
FORMATS = ("mp4", "webm")

_FORM_SCHEMA = uploads.openapi_form("video", {
    "video": {"type": "string", "format": "binary",
              "description": "the video to dub (any container/codec ffmpeg reads)"},
    "audio": {"type": "string", "format": "binary",
              "description": "the new speech (default: the video's own audio)"},
    "mouth_from": {"type": "string", "format": "binary",
                   "description": "take the mouths from this clip of the person"},
    "text": {"type": "string", "description": "transcript of the speech"},
    "language": {"type": "string",
                 "description": "language of the speech, e.g. en or de (default: detected from "
                                "the speech, as visemic dub does)"},
    "mouth_language": {"type": "string",
                       "description": "the language spoken in the mouth clip (default: language)"},
    "emotion": {"type": "string", "example": "happy:0.5"},
    "face": {"type": "integer", "default": 0,
             "description": "which face: 0 the largest, 1 the next …"},
    "format": {"type": "string", "default": "mp4", "enum": list(FORMATS)},

})


@dataclass(frozen=True)
class DubRequest:
    """The validated form fields of a dub request (the files are stored by the job)."""

    kind: str = "dub"
    format: str = "mp4"
    text: str | None = None
    language: str | None = None  # None: detected from each clip's speech
    emotion: str | None = None
    face: int = 0
    mouth_language: str | None = None  # spoken in the mouth clip (None: ``language``)
    audio: bool = False       # an audio file came with it
    mouth_from: bool = False  # a mouth clip came with it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def media_type(self) -> str:
        return analysis.MEDIA[self.format][0]

    @property
    def extension(self) -> str:
        return analysis.MEDIA[self.format][1]


def parse_request(fields: dict[str, str], audio: bool, mouth_from: bool) -> DubRequest:
    """Check the form fields; raises :class:`VisemicError` saying what is wrong."""
    fmt = (fields.get("format") or "mp4").strip().lower() or "mp4"
    if fmt not in FORMATS:
        raise VisemicError(f"format {fmt[:40]!r}: a dub is a video ({', '.join(FORMATS)})")
    base = analysis.parse_request(None, fields.get("text"), fields.get("language"), None,
                                  emotion=fields.get("emotion"))
    face = 0
    text = (fields.get("face") or "").strip()
    if text:
        if not text.isdigit() or len(text) > 3:
            raise VisemicError(f"face {text[:40]!r} is not a face number (0 the largest)")
        face = int(text)
    # Blank: detected, as on the command line (a fixed "en" labelled a German clip's mouths
    # with the phones of English recognition).
    language = None
    if (fields.get("language") or "").strip():
        language = base.language
    mouth_language = None
    if (fields.get("mouth_language") or "").strip():
        try:
            mouth_language = analysis.language_code(fields.get("mouth_language"))
        except VisemicError as e:
            raise VisemicError(f"mouth_language: {e}") from None
    return DubRequest(format=fmt, text=base.text, language=language, emotion=base.emotion,
                      face=face, mouth_language=mouth_language, audio=audio,
                      mouth_from=mouth_from)


def request_from_dict(data: dict[str, Any]) -> Any:
    """A stored request: a :class:`DubRequest` or an :class:`analysis.AnimateRequest`."""
    if data.get("kind") == "dub":
        return DubRequest(**data)
    return analysis.AnimateRequest(**data)


def run(request: DubRequest, video: str, audio: str | None, mouth_from: str | None,
        out_path: str, progress: Any = None) -> None:
    """Dub ``video`` and write ``out_path`` (atomically); messages name the form fields."""
    import visemic

    names = {video: "the video", audio: "the audio", mouth_from: "the mouth_from clip"}

    def clean(message: str) -> str:
        for path, name in names.items():
            if path:
                message = message.replace(path, name)
        return " ".join(message.split())

    def share(start: float, size: float) -> Any:
        if progress is None:
            return None
        return lambda p: progress(start + size * max(0.0, min(1.0, p)))

    try:
        plan = visemic.dub(video, audio, text=request.text, language=request.language,
                           mouth_from=mouth_from, mouth_language=request.mouth_language,
                           face=request.face, emotion=request.emotion,
                           progress=share(0.0, 0.4))
        plan.save(out_path, progress=share(0.4, 0.6))
    except NoFaceError:
        raise VisemicError("no face found in the video") from None
    except VisemicError as e:
        raise VisemicError(clean(str(e))) from None


def execute(data_dir: str, job_id: str, request: DubRequest, video: str, audio: str | None,
            mouth_from: str | None, out_path: str) -> int:
    """Run one dub job in a worker process; returns the result's size."""
    from visemic.server.jobs import job_progress

    run(request, video, audio, mouth_from, out_path, job_progress(data_dir, job_id))
    return Path(out_path).stat().st_size


def add_routes(app: Any, store: Any, runner: Any, scratch: Path, max_upload_bytes: int) -> None:
    """Register ``POST /v1/dub`` on the server's app."""
    from visemic.server.pool import Busy

    @app.post("/v1/dub", summary="Dub a video with new speech (a job)",
              openapi_extra=_FORM_SCHEMA, status_code=202,
              responses={202: {"description": "the job created"}})
    async def dub(request: Request) -> Response:
        base = scratch / f"{uuid.uuid4().hex}.video"
        try:
            try:
                upload = await uploads.receive(request, base, max_upload_bytes,
                                               file_fields=FILES, text_fields=FIELDS)
            except uploads.UploadError as e:
                return JSONResponse({"error": str(e)}, status_code=e.status)
            except uploads.Disconnected:  # nobody is left to read an answer
                return Response(status_code=400)
            try:
                req = parse_request(upload.fields, "audio" in upload.files,
                                    "mouth_from" in upload.files)
            except VisemicError as e:
                return JSONResponse({"error": str(e)}, status_code=400)
            job = store.create(req)
            for name, path in upload.files.items():
                os.replace(path, store.uploads / f"{job.id}.{name}")
            try:
                runner.submit(job)
            except Busy as e:
                store.delete(job.id)
                return JSONResponse({"error": str(e)}, status_code=503,
                                    headers={"Retry-After": "10"})
            return JSONResponse(job.to_dict(), status_code=202,
                                headers={"Location": f"/v1/jobs/{job.id}"})
        finally:
            for name in FILES:
                with contextlib.suppress(OSError):
                    base.with_suffix(f".{name}").unlink()
