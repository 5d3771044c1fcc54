"""Running visemic for Blender: the installed command, or a ``visemic serve`` over HTTP.

Either way the result is visemic's JSON (curves and visemes) and, when the mapping reads VRM
expressions, its VRM Animation too (made from the JSON's timing, so both agree).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import urllib.error
import urllib.request
import uuid
from pathlib import Path


class RunError(Exception):
    pass


def _options(fps: float, emotion: str) -> list[str]:
    out = ["--fps", f"{fps:g}", "-q"]
    if emotion.strip():
        out += ["--emotion", emotion.strip()]
    return out


def run_command(command: str, audio: Path, text: str, fps: float, emotion: str, folder: Path,
                vrm: bool, timeout: float = 1800.0) -> list[Path]:
    """``visemic animate`` through ``command`` (e.g. "visemic" or "/path/python -m visemic");
    returns the files written in ``folder`` (JSON, then .vrma)."""
    base = shlex.split(command) or ["visemic"]
    out_json = folder / "visemic.json"
    args = [*base, "animate", str(audio), "-o", str(out_json), *_options(fps, emotion)]
    if text.strip():
        transcript = folder / "transcript.txt"
        transcript.write_text(text, encoding="utf-8")
        args += ["--text-file", str(transcript)]
    _call(args, timeout)
    outputs = [out_json]
    if vrm:
        out_vrma = folder / "visemic.vrma"
        _call([*base, "animate", str(audio), "--alignment", str(out_json), "-o", str(out_vrma),
               *_options(fps, emotion)], timeout)
        outputs.append(out_vrma)
    return outputs


def _call(args: list[str], timeout: float) -> None:
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise RunError(f"command not found: {args[0]} (install visemic, or give its full path "
                       "in the add-on's panel)") from None
    except subprocess.TimeoutExpired:
        raise RunError(f"visemic did not finish within {timeout:.0f} s") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise RunError(last)


def run_server(url: str, api_key: str, audio: Path, text: str, fps: float, emotion: str,
               folder: Path, vrm: bool, timeout: float = 1800.0) -> list[Path]:
    """POST the audio to ``url``/v1/animate (JSON, then .vrma); returns the files written."""
    outputs = []
    for fmt, name in (("json", "visemic.json"), *((("vrma", "visemic.vrma"),) if vrm else ())):
        fields = {"format": fmt, "fps": f"{fps:g}"}
        if text.strip():
            fields["text"] = text
        if emotion.strip():
            fields["emotion"] = emotion.strip()
        body, content_type = _multipart(fields, audio)
        request = urllib.request.Request(url.rstrip("/") + "/v1/animate", data=body,
                                         method="POST", headers={"Content-Type": content_type})
        if api_key:
            request.add_header("Authorization", f"Bearer {api_key}")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as reply:
                data = reply.read()
        except urllib.error.HTTPError as e:
            raise RunError(f"server: {_server_error(e)}") from None
        except (urllib.error.URLError, OSError) as e:
            raise RunError(f"cannot reach {url}: {getattr(e, 'reason', e)}") from None
        path = folder / name
        path.write_bytes(data)
        outputs.append(path)
    return outputs


def _server_error(e: urllib.error.HTTPError) -> str:
    try:
        return json.loads(e.read().decode("utf-8")).get("error") or f"HTTP {e.code}"
    except (ValueError, AttributeError):
        return f"HTTP {e.code}"


def _multipart(fields: dict[str, str], audio: Path) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                     f"{value}\r\n".encode())
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="audio"; '
                 f'filename="{audio.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
                 .encode() + audio.read_bytes() + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
