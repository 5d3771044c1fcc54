"""Which requests a server answers, beyond the API key: defences against a hostile web page in
the user's own browser.

DNS rebinding: a page on ``evil.example`` re-points its name at 127.0.0.1 and then talks to a
local server as if same-origin. The ``Host`` header still says ``evil.example``, so only
requests naming an allowed host (localhost names by default, ``--allowed-host`` to add) are
answered.

Cross-site requests: any page may make the browser POST a form (or open a WebSocket) to
localhost. Without an API key nothing else stops it, so a request a browser marks as coming
from another site (``Sec-Fetch-Site``), or whose ``Origin`` is not the server itself, is refused.
Clients that are not browsers send neither header and are unaffected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
# Methods a form or fetch can use to change something.
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def host_name(value: str) -> str:
    """``value`` of a Host header (``name:port``, ``[v6]:port``) without the port, lower case."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


def allowed_hosts(extra: Iterable[str] = (), bind: str | None = None) -> frozenset[str]:
    """The localhost names, ``extra`` names, and the address the server binds: when that is
    every interface (0.0.0.0 or ::), this machine's own names and addresses. A name ``*``
    allows any host."""
    names = {*LOCAL_HOSTS, *(host_name(h) for h in extra)}
    if bind and bind not in ("0.0.0.0", "::", ""):
        names.add(host_name(bind))
    elif bind is not None:
        names |= _own_names()
    return frozenset(names)


def _own_names() -> set[str]:
    import socket

    names = {socket.gethostname().lower(), socket.getfqdn().lower()}
    try:
        _, aliases, addresses = socket.gethostbyname_ex(socket.gethostname())
        names |= {a.lower() for a in aliases} | set(addresses)
    except OSError:
        pass
    try:  # the address of the default route's interface (a UDP "connect" sends nothing)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.254.254.254", 1))
            names.add(probe.getsockname()[0])
    except OSError:
        pass
    return {n for n in names if n}


class Gate:
    """The checks, configured once: ``hosts`` None answers any Host (for embedding the app);
    ``open_api`` says that no API key is set, so cross-site requests are refused."""

    def __init__(self, hosts: frozenset[str] | None, open_api: bool) -> None:
        self.hosts = None if hosts is None or "*" in hosts else hosts
        self.open_api = open_api

    def refusal(self, headers: Mapping[str, str], method: str | None) -> tuple[int, str] | None:
        """(status, message) when a request with ``headers`` must be refused, else None.
        ``method`` None means a WebSocket handshake."""
        if self.hosts is not None:
            host = host_name(headers.get("host", ""))
            if host not in self.hosts:
                return 421, (f"host {host[:80]!r} is not served here (start the server with "
                             f"--allowed-host {host[:80] or 'NAME'} to allow it)")
        if not self.open_api or (method is not None and method not in UNSAFE_METHODS):
            return None
        site = headers.get("sec-fetch-site", "").lower()
        if site not in ("", "same-origin", "none"):
            return 403, ("cross-site request refused: this server has no API key, so only its "
                         "own pages and non-browser clients may use it")
        origin = headers.get("origin")
        if origin is not None:
            parts = urlsplit(origin)
            if origin == "null" or parts.netloc.lower() != headers.get("host", "").lower():
                return 403, (f"request from another origin ({origin[:80]}) refused: this server "
                             "has no API key, so only its own pages may use it from a browser")
        return None
