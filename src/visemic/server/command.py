"""``visemic serve``: run the HTTP API, jobs, streaming WebSocket and web page with uvicorn."""

from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Any

SERVE_EPILOG = """\
The web page is at http://HOST:PORT/ ; the API at /v1/animate, /v1/dub (dub a video),
/v1/jobs, /v1/stream (WebSocket) and /health; OpenAPI at /openapi.json and /docs.

examples:
  visemic serve                                   # http://127.0.0.1:8000/
  visemic serve --port 9000 --data-dir ./visemic-data
  VISEMIC_API_KEY=secret visemic serve --host 0.0.0.0
  curl -F audio=@speech.wav -F text="Go forward ten meters." -F format=rhubarb-tsv \\
       http://127.0.0.1:8000/v1/animate
  curl -F audio=@speech.wav -F format=mp4 'http://127.0.0.1:8000/v1/animate?async=1'
  curl -F video=@talk.mp4 -F audio=@new_line.wav http://127.0.0.1:8000/v1/dub    # a job

Jobs and their results are kept in DATA_DIR (an SQLite database and result files) and survive a
restart; jobs still running when the server stopped are marked failed.
"""


def _positive(kind: type, low: float, high: float) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not (math.isfinite(value) and low <= value <= high):
            raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g}, "
                                             f"got {text!r}")
        return value
    return parse


def add_serve(sub: Any) -> None:
    p = sub.add_parser(
        "serve", help="HTTP API, jobs, streaming WebSocket and web page",
        description="Serve the visemic HTTP API (FastAPI + uvicorn) and its web page.",
        epilog=SERVE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=_positive(int, 0, 65535), default=8000,
                   help="TCP port (default 8000; 0 picks a free one)")
    p.add_argument("--data-dir", metavar="DIR",
                   help="jobs database and results (default $VISEMIC_DATA_DIR, else "
                        "~/.local/share/visemic)")
    p.add_argument("--api-key", metavar="KEY",
                   help="require this key on /v1 (default $VISEMIC_API_KEY; none: open)")
    p.add_argument("--workers", type=_positive(int, 1, 64), default=2,
                   help="analyses run at once, one process each (default 2)")
    p.add_argument("--max-upload-mb", type=_positive(float, 0.001, 10_000), default=100.0,
                   metavar="MB", help="largest upload accepted, MiB (default 100)")
    p.add_argument("--max-streams", type=_positive(int, 1, 1000), default=8,
                   help="concurrent WebSocket streams (default 8)")
    p.add_argument("--stall-timeout", type=_positive(float, 0.1, 3600), default=10.0,
                   metavar="S", help="close a stream whose client takes no frames for S seconds "
                                     "(default 10)")
    p.add_argument("--max-duration", type=_positive(float, 1, 86400), default=3600.0,
                   metavar="S", help="longest audio analysed, seconds of decoded audio "
                                     "(default 3600: one hour; also caps a stream)")
    p.add_argument("--job-timeout", type=_positive(float, 1, 7 * 86400), default=7200.0,
                   metavar="S", help="stop an analysis (with its render) running longer than "
                                     "S seconds (default 7200)")
    p.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                   help="answer requests for this host name too (repeatable; default: only "
                        "localhost, 127.0.0.1, ::1 and the --host address; '*' any: see DNS "
                        "rebinding in the README)")
    p.add_argument("--log-level", default="info",
                   choices=("critical", "error", "warning", "info", "debug"))
    p.set_defaults(run=run_serve)


# One WebSocket message may carry at most this much audio; uvicorn also holds at most
# WS_MAX_QUEUE unread messages per connection, which bounds what a fast sender can park.
WS_MAX_BYTES = 256 * 1024
WS_MAX_QUEUE = 4


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from visemic.server.app import create_app
    from visemic.server.security import allowed_hosts
    from visemic.server.streaming import StreamLimits

    api_key = args.api_key or os.environ.get("VISEMIC_API_KEY") or None
    if args.host not in ("127.0.0.1", "localhost", "::1") and api_key is None:
        sys.stderr.write(f"warning: serving on {args.host} without an API key: anyone who can "
                         "reach it can use it (set --api-key or VISEMIC_API_KEY)\n")
    hosts = allowed_hosts(args.allowed_host, args.host)
    if args.host in ("0.0.0.0", "::") and "*" not in hosts:
        sys.stderr.write("note: answering requests for " + ", ".join(sorted(hosts)) + "; add "
                         "the names clients use with --allowed-host (DNS rebinding defence)\n")
    limits = StreamLimits(max_streams=args.max_streams, stall_timeout=args.stall_timeout,
                          max_message_bytes=WS_MAX_BYTES, max_seconds=args.max_duration)
    app = create_app(args.data_dir, api_key=api_key,
                     max_upload_bytes=int(args.max_upload_mb * 1024 * 1024),
                     workers=args.workers, stream_limits=limits,
                     max_duration=args.max_duration, job_timeout=args.job_timeout,
                     allowed_hosts=hosts, warm_up=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level,
                ws_max_size=WS_MAX_BYTES + 1024, ws_max_queue=WS_MAX_QUEUE,
                ws_per_message_deflate=False, timeout_graceful_shutdown=5)
    return 0
