"""What one ``POST /v1/animate`` asks for, and the work that answers it (run in a worker process).

The server's formats are :func:`visemic.outputs.formats.format_names` less the PNG sequence (a
folder of files has no single HTTP body). :data:`MEDIA` gives each its content type and the
extension of the file the server writes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from visemic.errors import NoFaceError, VisemicError
from visemic.limits import check_fps

# format → (content type, file extension)
MEDIA: dict[str, tuple[str, str]] = {
    "json": ("application/json", ".json"),
    "csv": ("text/csv; charset=utf-8", ".csv"),
    "rhubarb-tsv": ("text/tab-separated-values; charset=utf-8", ".tsv"),
    "rhubarb-xml": ("application/xml", ".xml"),
    "rhubarb-json": ("application/json", ".json"),
    "rhubarb-dat": ("text/plain; charset=utf-8", ".dat"),
    "phones": ("application/json", ".json"),
    "gltf": ("model/gltf+json", ".gltf"),
    "glb": ("model/gltf-binary", ".glb"),
    "srt": ("application/x-subrip; charset=utf-8", ".srt"),
    "vtt": ("text/vtt; charset=utf-8", ".vtt"),
    # VRM Animation has no media type of its own; it is a GLB, and loaders read the bytes.
    "vrma": ("model/gltf-binary", ".vrma"),
    "mp4": ("video/mp4", ".mp4"),
    "webm": ("video/webm", ".webm"),
}
VIDEO = ("mp4", "webm")
MAX_TEXT_CHARS = 20_000
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}")


@dataclass(frozen=True)
class AnimateRequest:
    """The validated form fields of an animate request (everything but the audio)."""

    format: str = "json"
    text: str | None = None
    language: str = "en"
    fps: float = 60.0
    portrait: bool = False  # a portrait image came with it (video formats only)
    emotion: str | None = None  # a checked mix such as "happy:0.6,surprised:0.3"; None: neutral
    profile: str | None = None  # a checked personal profile's JSON (visemic profile); None: generic

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def media_type(self) -> str:
        return MEDIA[self.format][0]

    @property
    def extension(self) -> str:
        return MEDIA[self.format][1]


def parse_request(format: str | None, text: str | None, language: str | None,
                  fps: str | None, portrait: bool = False, emotion: str | None = None,
                  profile: str | None = None) -> AnimateRequest:
    """Check the form fields; raises :class:`VisemicError` saying what is wrong."""
    from visemic.outputs import formats

    name = "json"
    if format is not None and format.strip():
        name = formats.resolve_format("-", format)  # raises, naming the valid formats
        if name not in MEDIA:
            raise VisemicError(f"format {name!r} cannot be sent over HTTP (a PNG sequence is a "
                               f"folder); use one of {', '.join(MEDIA)}")
    if text is not None:
        if len(text) > MAX_TEXT_CHARS:
            raise VisemicError(f"the transcript is too long ({len(text)} characters; at most "
                               f"{MAX_TEXT_CHARS})")
        if not text.strip():
            text = None
    lang = language_code(language)
    rate = 60.0
    if fps is not None and fps.strip():
        rate = check_fps(fps)
    if portrait and name not in VIDEO:
        raise VisemicError(f"a portrait applies to video formats ({', '.join(VIDEO)}), "
                           f"not {name}")
    return AnimateRequest(format=name, text=text, language=lang, fps=rate, portrait=portrait,
                          emotion=_emotion(emotion), profile=_profile(profile))


def language_code(language: str | None) -> str:
    """The ``language`` field checked (blank: ``en``); raises :class:`VisemicError` if bad."""
    lang = (language or "en").strip() or "en"
    if not _LANGUAGE.fullmatch(lang):
        raise VisemicError(f"language {lang[:40]!r} is not a language code such as en, de, "
                           f"cmn or es-419")
    return lang


def _emotion(text: str | None) -> str | None:
    """The ``emotion`` field as a checked mix string (the CLI's ``--emotion``); blank is None."""
    from visemic.motion.emotion import parse_mix

    if text is None or not text.strip():
        return None
    if len(text) > 400:
        raise VisemicError(f"emotion: the mix is too long ({len(text)} characters)")
    try:
        mix = parse_mix(text)
    except VisemicError as e:
        raise VisemicError(f"emotion: {e}") from None
    return ",".join(f"{name}:{value:g}" for name, value in mix.items())


def _profile(text: str | None) -> str | None:
    """The ``profile`` field (a ``visemic profile`` file's JSON) checked and made canonical;
    blank is None."""
    from visemic.motion import profile as profile_mod

    if text is None or not text.strip():
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise VisemicError(f"profile: not JSON ({e.msg} at line {e.lineno})") from None
    return profile_mod.dumps(profile_mod.Profile.from_json(data, "profile"))


def _loaded_profile(request: AnimateRequest) -> Any:
    from visemic.motion import profile as profile_mod

    if request.profile is None:
        return None
    return profile_mod.Profile.from_json(json.loads(request.profile), "profile")


class DiskFull(VisemicError):
    """The server's disk filled up while writing a result: 507, not the client's fault."""


def _server_fault(error: VisemicError) -> VisemicError | None:
    from visemic.server.uploads import DISK_FULL, disk_full

    return DiskFull(DISK_FULL) if disk_full(error.__cause__ or error) else None


def run(request: AnimateRequest, audio_path: str, out_path: str,
        progress: Callable[[float], None] | None = None, portrait_path: str | None = None,
        max_duration: float | None = None) -> None:
    """Analyse ``audio_path`` and write the export to ``out_path`` (atomically); a video shows
    the face in ``portrait_path`` when given, else the built-in avatar. Audio that decodes to
    more than ``max_duration`` seconds is refused (VisemicError) once that much has decoded.

    Analysis reports 0…0.5 of ``progress`` for video (rendering takes the rest) and 0…0.95
    otherwise. Raises :class:`VisemicError` on bad input.
    """
    import visemic

    video = request.format in VIDEO
    share = 0.5 if video else 0.95

    def analysing(p: float) -> None:
        if progress is not None:
            progress(share * max(0.0, min(1.0, p)))

    from visemic.audio import duration_limit

    try:
        with duration_limit(max_duration):
            result = visemic.animate(audio_path, text=request.text, language=request.language,
                                     fps=request.fps, progress=analysing,
                                     emotion=request.emotion,
                                     profile=_loaded_profile(request))
    except VisemicError as e:
        # The file name is the server's own; the client knows it only as its upload.
        raise VisemicError(str(e).replace(audio_path, "the upload")) from None
    options: dict[str, Any] = {}
    if video and progress is not None:
        options["progress"] = lambda p: progress(0.5 + 0.5 * max(0.0, min(1.0, p)))
    if video and portrait_path is not None:
        options["portrait"] = portrait_path
    try:
        result.save(Path(out_path), format=request.format, **options)
    except NoFaceError:
        raise VisemicError("no face found in the portrait: send a 'portrait' image where one "
                           "face is clearly visible, or leave it out for the built-in avatar"
                           ) from None
    except VisemicError as e:
        fault = _server_fault(e)
        if fault is not None:
            raise fault from None
        message = str(e).replace(audio_path, "the upload").replace(out_path, "the result")
        if portrait_path is not None:
            message = message.replace(portrait_path, "the portrait")
        raise VisemicError(message) from None


def run_sync_check(video_path: str, audio_path: str | None, text: str | None, language: str,
                   face: int) -> dict[str, Any]:
    """Sync-check an uploaded video (worker side): the report's JSON plus its ``summary``
    line. Raises :class:`VisemicError` on bad input, naming the uploads, not server paths."""
    import visemic

    try:
        report = visemic.sync_check(video_path, audio_path, text=text, language=language,
                                    face=face)
    except VisemicError as e:
        message = str(e).replace(video_path, "the video")
        if audio_path is not None:
            message = message.replace(audio_path, "the audio")
        raise VisemicError(message) from None
    return {**report.to_json(), "summary": report.summary()}


def parse_sync_request(text: str | None, language: str | None,
                       face: str | None) -> tuple[str | None, str, int]:
    """Check a sync-check request's fields: (text, language, face)."""
    if text is not None and len(text) > MAX_TEXT_CHARS:
        raise VisemicError(f"the transcript is too long ({len(text)} characters; at most "
                           f"{MAX_TEXT_CHARS})")
    lang = language_code(language)
    if face is None or not face.strip():
        number = 0
    else:
        try:
            number = int(face)
        except ValueError:
            raise VisemicError(f"face: not a whole number: {face[:20]!r}") from None
        if not 0 <= number < 32:
            raise VisemicError(f"face must be between 0 and 31, got {number}")
    return (text if text and text.strip() else None), lang, number
