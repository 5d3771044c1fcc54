"""The HTTP API and web page of ``visemic serve`` (FastAPI).

Routes: ``GET /`` the web page; ``GET /health``; ``POST /v1/animate`` (multipart: ``audio`` file,
optional ``text``, ``language``, ``format``, ``fps``, ``emotion`` (a mix such as
``happy:0.6,surprised:0.3``), ``profile`` (a personal profile's JSON), and for video a
``portrait`` image) answers
with the export itself, or with ``?async=1`` 202 and a job; ``GET /v1/jobs``,
``GET|DELETE /v1/jobs/{id}``, ``GET /v1/jobs/{id}/result``; ``POST /v1/sync-check``
(multipart: ``video``, optional ``audio``, ``text``, ``language``, ``face``; answers with the
measurement as JSON, :mod:`visemic.sync.measure`); ``POST /v1/dub`` (a video dubbed with
new speech, always a job: :mod:`visemic.server.dubbing`); WebSocket ``/v1/stream``
(:mod:`visemic.server.streaming`); OpenAPI at ``/openapi.json`` and ``/docs``.

Errors are JSON ``{"error": "…"}``: 400 malformed request or unknown format, 401 missing or wrong
API key, 404 no such job, 409 result not ready, 413 upload too large, 415 not a multipart form,
422 audio the decoder rejects (its reason) or other bad input, 503 too many analyses queued.
A bug answers 500 with only ``internal error, id …``: the traceback is in the server's log under
that id (:mod:`visemic.errors`), never in the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import os
import shutil
import sqlite3
import uuid
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException

import visemic
from visemic.errors import VisemicError, internal_error
from visemic.motion.emotion import NAMES
from visemic.server import analysis, dubbing, security, uploads
from visemic.server.jobs import JobRunner, JobStore, describe_failure
from visemic.server.pool import Busy, WorkerPool
from visemic.server.streaming import StreamHub, StreamLimits

DEFAULT_MAX_UPLOAD = 100 * 1024 * 1024
DEFAULT_MAX_DURATION = 3600.0   # seconds of decoded audio per analysis
DEFAULT_JOB_TIMEOUT = 7200.0    # seconds one analysis (with its render) may run
WEB_DIR = Path(str(resources.files("visemic.server") / "web"))

_FORM_SCHEMA = uploads.openapi_form("audio", {
    "audio": {"type": "string", "format": "binary",
              "description": "speech audio, any format ffmpeg decodes"},
    "text": {"type": "string", "description": "transcript (force-aligned)"},
    "language": {"type": "string", "default": "en"},
    "format": {"type": "string", "default": "json", "enum": list(analysis.MEDIA)},
    "fps": {"type": "number", "default": 60},
    "emotion": {"type": "string", "example": "happy:0.6,surprised:0.3",
                "description": "emotion mix laid over the speech: name:intensity "
                               "pairs (intensity 0-1; a bare name means 1) of "
                               + ", ".join(NAMES) + "; default neutral"},
    "portrait": {"type": "string", "format": "binary",
                 "description": "video formats: animate the face in this image "
                                "instead of the built-in avatar"},
    "profile": {"type": "string",
                "description": "a personal profile's JSON (the file `visemic profile` "
                               "writes; curl: -F profile=<me.profile.json): the mouth "
                               "moves the way that person's does"},

})


_SYNC_SCHEMA = uploads.openapi_form("video", {
    "video": {"type": "string", "format": "binary",
              "description": "a talking-face video, any format ffmpeg decodes"},
    "audio": {"type": "string", "format": "binary",
              "description": "the speech to check it against (default: the "
                             "video's own audio track)"},
    "text": {"type": "string", "description": "transcript (optional)"},
    "language": {"type": "string", "default": "en"},
    "face": {"type": "integer", "default": 0,
             "description": "which face speaks: 0 the largest"},

})


def default_data_dir() -> Path:
    """``$VISEMIC_DATA_DIR``, else ``$XDG_DATA_HOME/visemic``, else ``~/.local/share/visemic``."""
    if os.environ.get("VISEMIC_DATA_DIR"):
        return Path(os.environ["VISEMIC_DATA_DIR"])
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "visemic"


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def create_app(data_dir: str | os.PathLike[str] | None = None, api_key: str | None = None,
               max_upload_bytes: int = DEFAULT_MAX_UPLOAD, workers: int = 2,
               max_pending: int = 16, stream_limits: StreamLimits | None = None,
               max_duration: float | None = DEFAULT_MAX_DURATION,
               job_timeout: float | None = DEFAULT_JOB_TIMEOUT,
               allowed_hosts: frozenset[str] | None = None,
               warm_up: bool = False) -> FastAPI:
    """The server as an ASGI app.

    ``data_dir`` holds the job database, results and temporary uploads (default
    :func:`default_data_dir`). With ``api_key`` every ``/v1`` request needs ``Authorization:
    Bearer KEY`` or ``X-API-Key: KEY`` (the WebSocket also accepts ``?api_key=KEY``, as browsers
    cannot set its headers). ``max_upload_bytes`` bounds a request body; ``workers`` analysis
    processes run at once and at most ``max_pending`` analyses are held (more get 503). Audio that
    decodes to more than ``max_duration`` seconds is refused (422); an analysis running past
    ``job_timeout`` seconds is stopped (its process killed; None: no limit). ``allowed_hosts``
    (see :mod:`visemic.server.security`; ``visemic serve`` passes the localhost names and
    ``--allowed-host``) are the Host names answered; None answers any (an embedding app's
    own proxy decides). Without ``api_key``, browser requests from other sites are refused.
    With ``warm_up`` (``visemic serve`` sets it) the stream engines are started and warmed
    before the server answers anything (:meth:`StreamHub.warm_up`); otherwise with the first
    stream.

    Analyses run in spawned processes, so the program's main module must be importable (a
    script file or ``python -m``, not code fed on stdin).
    """
    store = JobStore(data_dir if data_dir is not None else default_data_dir())
    store.recover()
    scratch = store.data_dir / "tmp"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    pool = WorkerPool(workers=workers, max_pending=max_pending, task_timeout=job_timeout)
    runner = JobRunner(store, pool, max_duration)
    hub = StreamHub(stream_limits)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if warm_up:
            await asyncio.to_thread(hub.warm_up)
        yield
        pool.shutdown()
        hub.shutdown()

    app = FastAPI(title="visemic", version=visemic.__version__, lifespan=lifespan,
                  description="Speech in, a talking face out: ARKit-52 curves, visemes, "
                              "exports and avatar video from speech audio.")
    app.state.store, app.state.pool, app.state.hub = store, pool, hub

    def authorised(headers: Any, query_key: str | None = None) -> bool:
        if api_key is None:
            return True
        given = headers.get("x-api-key") or query_key
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            given = auth[7:].strip()
        return given is not None and hmac.compare_digest(given.encode(), api_key.encode())

    gate = security.Gate(allowed_hosts, open_api=api_key is None)

    @app.middleware("http")
    async def check_key(request: Request, call_next: Any) -> Response:
        refused = gate.refusal(request.headers, request.method)
        if refused is not None:
            return _error(*refused)
        if request.url.path.startswith("/v1/") and not authorised(request.headers):
            return _error(401, "missing or wrong API key: send 'Authorization: Bearer KEY' or "
                               "'X-API-Key: KEY'", {"WWW-Authenticate": "Bearer"})
        return await call_next(request)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        if uploads.disk_full(exc):
            return _error(507, uploads.DISK_FULL)
        # A bug: the client gets an incident id only, the log gets the traceback.
        return _error(500, internal_error(exc, f"{request.method} {request.url.path}"))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = ["/".join(str(p) for p in e.get("loc", ())) + ": " + e.get("msg", "")
                 for e in exc.errors()]
        return _error(422, "; ".join(parts) or "invalid request")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

    def problems() -> list[str]:
        found = hub.problems
        probe = scratch / ".health"
        try:  # results and uploads need a writable data directory
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as e:
            found.append(f"the data directory is not writable ({e.strerror or 'error'})")
        return found

    @app.get("/health", summary="Liveness and load; 503 'degraded' while it can't serve")
    async def health() -> JSONResponse:
        found = await asyncio.to_thread(problems)
        body = {"status": "degraded" if found else "ok", "problems": found,
                "version": visemic.__version__, "workers": pool.workers,
                "pending": pool.pending, "streams": hub.active,
                "stream_load": round(hub.load.value, 3),
                "formats": list(analysis.MEDIA), "emotions": list(NAMES),
                "auth": api_key is not None,
                "max_upload_bytes": max_upload_bytes, "max_duration": max_duration,
                "job_timeout": job_timeout}
        return JSONResponse(body, status_code=503 if found else 200)

    @app.post("/v1/animate", summary="Analyse speech; answer with the export (or a job)",
              openapi_extra=_FORM_SCHEMA, responses={
                  200: {"description": "the export in the requested format"},
                  202: {"description": "with ?async=1: the job created"}})
    async def animate(request: Request,
                      run_async: bool = Query(False, alias="async",
                                              description="run as a job: answer 202 at once")
                      ) -> Response:
        upload_path = scratch / f"{uuid.uuid4().hex}.audio"
        try:
            try:
                upload = await uploads.receive(request, upload_path, max_upload_bytes)
            except uploads.UploadError as e:
                return _error(e.status, str(e))
            except uploads.Disconnected:  # nobody is left to read an answer
                return Response(status_code=400)
            f = upload.fields
            try:
                req = analysis.parse_request(f.get("format"), f.get("text"), f.get("language"),
                                             f.get("fps"), portrait=upload.portrait is not None,
                                             emotion=f.get("emotion"),
                                             profile=f.get("profile"))
            except VisemicError as e:
                return _error(400, str(e))
            if run_async:
                return _submit_job(req, upload_path, upload.portrait)
            return await _run_now(req, upload_path, upload.portrait)
        finally:
            for path in (upload_path, upload_path.with_suffix(".portrait")):
                with contextlib.suppress(OSError):
                    path.unlink()

    @app.post("/v1/sync-check", summary="Measure a talking-face video's audio/video offset",
              openapi_extra=_SYNC_SCHEMA, responses={
                  200: {"description": "the measurement: offset_ms (> 0: picture late), "
                                       "confidence, frames_used, segments, drift_ms_per_min, "
                                       "warnings, summary"}})
    async def sync_check(request: Request) -> Response:
        upload_path = scratch / f"{uuid.uuid4().hex}.video"
        audio_path = upload_path.with_suffix(".audio")
        try:
            try:
                upload = await uploads.receive(request, upload_path, max_upload_bytes,
                                               file_fields=uploads.SYNC_FILES,
                                               text_fields=uploads.SYNC_FIELDS)
            except uploads.UploadError as e:
                return _error(e.status, str(e))
            f = upload.fields
            try:
                text, language, face = analysis.parse_sync_request(
                    f.get("text"), f.get("language"), f.get("face"))
            except VisemicError as e:
                return _error(400, str(e))
            audio = str(audio_path) if "audio" in upload.extra else None
            try:
                future = pool.submit(analysis.run_sync_check, str(upload_path), audio, text,
                                     language, face)
            except Busy as e:
                return _error(503, str(e), {"Retry-After": "10"})
            try:
                return JSONResponse(await asyncio.wrap_future(future))
            except VisemicError as e:
                return _error(422, " ".join(str(e).split()))
            except Exception as e:
                return _error(500, describe_failure(e))
        finally:
            for path in (upload_path, audio_path):
                with contextlib.suppress(OSError):
                    path.unlink()

    def _submit_job(req: analysis.AnimateRequest, upload_path: Path,
                    portrait: Path | None) -> Response:
        try:
            job = store.create(req)
        except sqlite3.OperationalError as e:
            if "full" in str(e).lower():
                return _error(507, uploads.DISK_FULL)
            raise
        os.replace(upload_path, store.upload_path(job.id))
        if portrait is not None:
            os.replace(portrait, store.portrait_path(job.id))
        try:
            runner.submit(job)
        except Busy as e:
            store.delete(job.id)
            return _error(503, str(e), {"Retry-After": "10"})
        return JSONResponse(job.to_dict(), status_code=202,
                            headers={"Location": f"/v1/jobs/{job.id}"})

    async def _run_now(req: analysis.AnimateRequest, upload_path: Path,
                       portrait: Path | None) -> Response:
        out = scratch / f"{uuid.uuid4().hex}{req.extension}"
        try:
            future = pool.submit(analysis.run, req, str(upload_path), str(out), None,
                                 str(portrait) if portrait is not None else None, max_duration)
        except Busy as e:
            return _error(503, str(e), {"Retry-After": "10"})
        try:
            await asyncio.shield(asyncio.wrap_future(future))
        except asyncio.CancelledError:  # the server is stopping: so does the analysis
            pool.cancel(future)
            raise
        except analysis.DiskFull as e:
            return _error(507, str(e))
        except VisemicError as e:
            return _error(422, " ".join(str(e).split()))
        except Exception as e:
            return _error(500, describe_failure(e))
        return FileResponse(out, media_type=req.media_type,
                            filename=f"visemic{req.extension}",
                            background=BackgroundTask(_unlink, out))

    dubbing.add_routes(app, store, runner, scratch, max_upload_bytes)

    @app.get("/v1/jobs", summary="Recent jobs, newest first")
    async def list_jobs(limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
        return {"jobs": [j.to_dict() for j in store.list(limit)]}

    @app.get("/v1/jobs/{job_id}", summary="A job's status and progress")
    async def get_job(job_id: str) -> Response:
        job = store.get(job_id)
        if job is None:
            return _error(404, f"no job {job_id[:64]!r}")
        return JSONResponse(job.to_dict())

    @app.get("/v1/jobs/{job_id}/result", summary="Download a finished job's result")
    async def job_result(job_id: str) -> Response:
        job = store.get(job_id)
        if job is None:
            return _error(404, f"no job {job_id[:64]!r}")
        path = store.result_path(job)
        if job.status != "done" or path is None:
            return _error(409, f"job {job.id} is {job.status}"
                               + (f": {job.error}" if job.error else "; no result yet"))
        if not path.is_file():
            return _error(410, f"the result of job {job.id} is gone from the data directory")
        return FileResponse(path, media_type=job.request.media_type,
                            filename=f"visemic-{job.id[:8]}{job.request.extension}")

    @app.delete("/v1/jobs/{job_id}", status_code=204,
                summary="Cancel a queued or running job, or forget a finished one")
    async def delete_job(job_id: str) -> Response:
        job = store.get(job_id)
        if job is None:
            return _error(404, f"no job {job_id[:64]!r}")
        if job.status in ("queued", "running"):
            # Its worker process is killed (and replaced) before the job and files go.
            await asyncio.to_thread(runner.cancel, job.id)
        store.delete(job.id)
        return Response(status_code=204)

    @app.websocket("/v1/stream")
    async def stream(websocket: WebSocket) -> None:
        refused = gate.refusal(websocket.headers, None)
        if refused is not None:
            await websocket.accept()
            await websocket.send_json({"error": refused[1]})
            await websocket.close(1008, refused[1][:120])
            return
        if not authorised(websocket.headers, websocket.query_params.get("api_key")):
            await websocket.accept()
            await websocket.send_json({"error": "missing or wrong API key"})
            await websocket.close(1008, "missing or wrong API key")
            return
        await hub.serve(websocket)

    return app


def _unlink(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
