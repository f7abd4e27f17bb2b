"""What every request and response of the UI goes through: the Host check and safety headers.

The UI has no authentication, so a web page on another site must not be able to
reach it through the user's browser. DNS rebinding does exactly that: a page on
``evil.example`` re-points its own name at 127.0.0.1, and the browser then sends
requests to the UI with ``Host: evil.example``. :class:`Guard` answers 400 to any
request whose Host header is not one the UI is meant to be reached by
(:class:`HostPolicy`), and adds ``X-Content-Type-Options: nosniff`` to every
response and the page CSP to every HTML response that has none.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Awaitable, Callable, Sequence

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARD_BINDS = ("0.0.0.0", "::", "")
# No inline script may run: our own JS is in /static, page data travels in
# <script type="application/json"> blocks, which browsers never execute.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
_NAME = re.compile(r"[a-z0-9_.\-]+")


def normalize_host(value: str | None) -> str | None:
    """The host part of a Host header (or of a name given on the command line), lower-cased,
    without port, brackets or trailing dot; None when it is not a host name or IP address.

    Args:
        value: ``name``, ``name:port``, ``1.2.3.4:port``, ``[::1]:port`` or ``::1``.

    Returns:
        ``name``, ``1.2.3.4`` or ``::1``; None for an empty or malformed value.
    """
    if not value:
        return None
    text = value.strip().lower()
    if text.startswith("["):
        end = text.find("]")
        rest = text[end + 1 :]
        if end < 0 or (rest and not re.fullmatch(r":\d{0,5}", rest)):
            return None
        return _ip_text(text[1:end])
    if text.count(":") > 1:  # a bare IPv6 address, no port
        return _ip_text(text)
    host, _, port = text.partition(":")
    if port and not port.isdigit():
        return None
    host = host.rstrip(".")
    return host if host and _NAME.fullmatch(host) else None


def _ip_text(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.split("%", 1)[0]))
    except ValueError:
        return None


def is_ip_address(host: str) -> bool:
    """True when ``host`` (as :func:`normalize_host` returns it) is an IPv4 or IPv6 address."""
    return _ip_text(host) is not None


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    ip = _ip_text(host)
    return ip is not None and ipaddress.ip_address(ip).is_loopback


class HostPolicy:
    """Which Host headers the UI answers to.

    Entries are host names or addresses (ports are ignored, any port is accepted),
    ``*.example.com`` for any subdomain of ``example.com`` (as in Starlette's
    ``TrustedHostMiddleware``; list ``example.com`` itself separately), ``*`` for any host (the check is
    off), and ``0.0.0.0`` or ``::`` (the wildcard bind addresses) for "any IP address of
    this machine": any IP-address Host is then accepted, since DNS rebinding can only
    ever send a name. ``localhost``, ``127.0.0.1`` and ``::1`` are always accepted.

    Args:
        allowed: the entries; None or empty for the loopback names only.
    """

    def __init__(self, allowed: Sequence[str] | None = None) -> None:
        self.any_host = False
        self.any_ip = False
        self.names: set[str] = set(LOOPBACK_NAMES)
        self.suffixes: list[str] = []
        for entry in allowed or ():
            self._add(str(entry).strip().lower())

    def _add(self, entry: str) -> None:
        if entry == "*":
            self.any_host = True
        elif entry in WILDCARD_BINDS or entry in ("[::]", "0:0:0:0:0:0:0:0"):
            self.any_ip = True
        elif entry.startswith("*."):
            suffix = normalize_host(entry[2:])
            if suffix is None:
                raise ValueError(f"allowed host {entry!r} is not a host name pattern")
            self.suffixes.append(suffix)
        else:
            host = normalize_host(entry)
            if host is None:
                raise ValueError(f"allowed host {entry!r} is not a host name or IP address")
            self.names.add(host)

    def allows(self, host_header: str | None) -> bool:
        """True when a request with this Host header may be answered."""
        if self.any_host:
            return True
        host = normalize_host(host_header)
        if host is None:
            return False
        if host in self.names or (self.any_ip and is_ip_address(host)):
            return True
        return any(host.endswith("." + s) for s in self.suffixes)


ErrorRenderer = Callable[[Request, int, str], Response]


class Guard:
    """ASGI middleware: refuses unexpected Host headers, adds safety headers to every response.

    Args:
        app: the wrapped ASGI app.
        policy: which Host headers to answer.
        render_error: builds the 400 response (JSON under ``/api/``, else an HTML page).
    """

    def __init__(self, app: ASGIApp, policy: HostPolicy, render_error: ErrorRenderer) -> None:
        self.app = app
        self.policy = policy
        self.render_error = render_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        send = _with_safety_headers(send)
        request = Request(scope)
        host = request.headers.get("host")
        if not self.policy.allows(host):
            shown = (host or "")[:100]
            detail = (f"invalid Host header {shown!r}: this UI answers only to the names it serves "
                      "(start it with --allowed-host NAME to add one)")
            if scope["type"] == "http":
                await self.render_error(request, 400, detail)(scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        await self.app(scope, receive, send)


def add_safety_headers(headers: MutableHeaders) -> None:
    """``nosniff`` on any response; the page CSP on an HTML response that sets no CSP itself."""
    if "x-content-type-options" not in headers:
        headers["X-Content-Type-Options"] = "nosniff"
    if headers.get("content-type", "").startswith("text/html") and "content-security-policy" not in headers:
        headers["Content-Security-Policy"] = CSP


def _with_safety_headers(send: Send) -> Callable[[Message], Awaitable[None]]:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            add_safety_headers(MutableHeaders(scope=message))
        await send(message)

    return wrapped
