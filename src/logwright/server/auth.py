"""Tokens on the wire: who may read and who may write through ``logwright server --auth``.

:class:`TokenAuth` is ASGI middleware. With auth on, every request but ``GET /health``
(and the public ``/static/`` files the sign-in page uses) must carry a token the store
knows and has not revoked (:meth:`~logwright.store.base.Store.check_token`):

- ``Authorization: Bearer lw_...``, as the ``http://`` client sends it from
  ``LOGWRIGHT_TRACKING_TOKEN``; or
- the UI's cookie, set by signing in once at ``/login`` (``HttpOnly``, so page scripts
  cannot read it, and ``SameSite=Strict``, so no other site's page can send it).

Without one, API paths (``/api/...``, ``/v1/...``) answer 401 JSON with
``WWW-Authenticate: Bearer`` and pages redirect to the sign-in page. A read-only token
gets 403 on every write: any method but GET and HEAD, except the store calls that
only read (:func:`is_read_method`) and signing in or out. The token's
:class:`~logwright.store.base.TokenInfo` is put on ``request.state.token`` (and
``scope["logwright.token"]``) for the routes; None with auth off.

Managing tokens is never served over HTTP: ``POST /api/v1/store/<token call>`` is
refused with 403 whether auth is on or not (``logwright server token ...`` talks to
the store directly). :func:`check_bind` is the rule that a server without auth only
listens on loopback unless told ``--insecure``.
"""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from logwright.exceptions import LogwrightError
from logwright.server.guard import CSP, add_safety_headers, is_loopback, normalize_host

COOKIE = "logwright_token"
COOKIE_MAX_AGE = 30 * 24 * 3600
API_PREFIXES = ("/api/", "/v1/")
PUBLIC_PREFIXES = ("/static/",)
MAX_LOGIN_BODY = 16 * 1024
TOKEN_METHODS = frozenset({"create_token", "list_tokens", "revoke_token", "check_token"})
_READ_PREFIXES = ("get_", "search_", "list_")
_READ_NAMES = frozenset({
    "run_exists", "metric_keys", "max_step", "child_run_ids", "run_ids_like", "trace_ids_like", "trace_counts",
    "experiment_stats", "experiment_location", "artifact_dir", "runs_page", "column_keys", "run_rows", "traces_page",
})
_STORE_CALL = re.compile(r"/api/v1/store/([A-Za-z_][A-Za-z0-9_]*)")
_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")),
    autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
)


def is_token_method(name: str) -> bool:
    """True for the Store calls that manage tokens (never served over HTTP)."""
    return name in TOKEN_METHODS


def is_read_method(name: str) -> bool:
    """True when the Store protocol call ``name`` only reads (a read-only token may make it).

    Reads are the ``get_*``, ``search_*`` and ``list_*`` calls and the UI's and CLI's
    look-ups (``run_exists``, ``metric_keys``, ``runs_page``, ...); the token calls
    are not reads, whatever their name.
    """
    if is_token_method(name):
        return False
    return name.startswith(_READ_PREFIXES) or name in _READ_NAMES


def is_write(method: str, path: str) -> bool:
    """True when a request would change something, so a read-only token may not send it.

    Args:
        method: the HTTP method.
        path: the request path.
    """
    if method in ("GET", "HEAD"):
        return False
    if path in ("/login", "/logout"):
        return False
    call = _STORE_CALL.fullmatch(path)
    return not (method == "POST" and call is not None and is_read_method(call.group(1)))


def check_bind(host: str, auth: bool, insecure: bool) -> str | None:
    """Why ``logwright server --host HOST`` must not start, or None when it may.

    Without ``--auth`` anyone who can reach the port could read and write every run,
    so only a loopback host (``127.0.0.1``, ``::1``, ``localhost``) is allowed unless
    ``--insecure`` says the network is trusted.

    Args:
        host: the ``--host`` value.
        auth: whether ``--auth`` was given.
        insecure: whether ``--insecure`` was given.

    Returns:
        The error message to print, or None.
    """
    if auth or insecure:
        return None
    name = normalize_host(host)
    if name is not None and is_loopback(name):
        return None
    return (f"refusing to listen on {host!r} without --auth: anyone who can reach it could read and write "
            "every run. Add --auth (and make tokens with `logwright server token create NAME`), or --insecure "
            "if this network is trusted, or keep the default --host 127.0.0.1")


def safe_next(value: str | None) -> str:
    """A path on this server to return to after signing in (anything else becomes ``/``)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if any(ord(c) < 32 or ord(c) == 127 or c == "\\" for c in value):
        return "/"
    return value


def _json(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    body = {"error": message, "type": "StoreError", "status": status}  # the shape of the API's other errors
    response = JSONResponse(body, status_code=status, headers=headers)
    add_safety_headers(response.headers)
    return response


def _unauthorized(message: str, error: str | None = None) -> Response:
    challenge = 'Bearer realm="logwright"' + (f', error="{error}"' if error else "")
    return _json(401, message, {"WWW-Authenticate": challenge})


def _credentials(headers: Headers) -> tuple[str | None, str]:
    """(token, where from: ``header``, ``cookie`` or ``none``); a malformed header gives ("", "header")."""
    auth = headers.get("authorization")
    if auth is not None:
        scheme, _, token = auth.strip().partition(" ")
        return (token.strip() if scheme.lower() == "bearer" else ""), "header"
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == COOKIE and value:
            return value.strip('"'), "cookie"
    return None, "none"


def _same_origin(headers: Headers) -> bool:
    """False when the request says it comes from a page of another origin (``Origin`` vs ``Host``)."""
    origin = headers.get("origin")
    if origin is None:
        return True
    hosts = {normalize_host(h) for h in (headers.get("host"), headers.get("x-forwarded-host")) if h}
    try:
        netloc = urlsplit(origin).netloc
    except ValueError:
        return False
    return bool(netloc) and normalize_host(netloc) in hosts - {None}


class TokenAuth:
    """ASGI middleware: token checks for every request (see the module docstring).

    Args:
        app: the wrapped ASGI app.
        store: the store that holds the tokens (``check_token``).
        enabled: False to let every request through (``logwright server`` without
            ``--auth``); token management stays refused over HTTP either way.
        cookie_max_age: seconds the browser keeps the sign-in cookie.
    """

    def __init__(self, app: ASGIApp, store: Any, enabled: bool = True, cookie_max_age: int = COOKIE_MAX_AGE) -> None:
        self.app = app
        self.store = store
        self.enabled = enabled
        self.cookie_max_age = cookie_max_age

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path, method = scope["path"], scope.get("method", "GET")
        call = _STORE_CALL.fullmatch(path)
        if call is not None and is_token_method(call.group(1)):
            await self._refuse(scope, receive, send, _json(
                403, "tokens are managed with `logwright server token ...` where the store is, not over HTTP"))
            return
        if not self.enabled or (path == "/health" and method in ("GET", "HEAD")):
            await self.app(_with_token(scope, None), receive, send)
            return
        if scope["type"] == "http" and path in ("/login", "/logout"):
            await self._sign_in_out(scope, receive, send)
            return
        if path.startswith(PUBLIC_PREFIXES) and method in ("GET", "HEAD"):
            await self.app(_with_token(scope, None), receive, send)
            return
        response, info = await self._authenticate(scope)
        if response is not None:
            await self._refuse(scope, receive, send, response)
            return
        await self.app(_with_token(scope, info), receive, send)

    async def _authenticate(self, scope: Scope) -> tuple[Response | None, Any]:
        """(None, token info) when the request may go on, else (the answer, None)."""
        headers = Headers(scope=scope)
        path, method = scope["path"], scope.get("method", "GET")
        token, source = _credentials(headers)
        browser = not path.startswith(API_PREFIXES) and method in ("GET", "HEAD")
        if token is None:
            if browser:
                return self._to_login(scope), None
            return _unauthorized("this server needs a token: send Authorization: Bearer <token> "
                                 "(clients read LOGWRIGHT_TRACKING_TOKEN)"), None
        try:
            info = await run_in_threadpool(self.store.check_token, token) if token else None
        except LogwrightError as exc:
            return _json(503, f"the store cannot check tokens: {str(exc).splitlines()[0]}"), None
        if info is None:
            if browser and source == "cookie":  # the sign-in page says why, and forgets the cookie
                return self._to_login(scope), None
            return _unauthorized("the token is not valid (unknown, revoked or malformed)", "invalid_token"), None
        if info.read_only and is_write(method, path):
            return _json(403, f"token {info.name!r} is read-only: it cannot {method} {path}"), None
        if source == "cookie" and is_write(method, path) and not _same_origin(headers):
            return _json(403, "a write from another site's page was refused"), None
        return None, info

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, response: Response) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        else:
            add_safety_headers(response.headers)
            await response(scope, receive, send)

    def _to_login(self, scope: Scope) -> Response:
        target = scope["path"] + ("?" + scope["query_string"].decode("latin-1") if scope.get("query_string") else "")
        root = scope.get("root_path", "")
        return RedirectResponse(f"{root}/login?next={quote(root + target, safe='')}", status_code=303)

    async def _sign_in_out(self, scope: Scope, receive: Receive, send: Send) -> None:
        method, root = scope.get("method", "GET"), scope.get("root_path", "")
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if scope["path"] == "/logout":
            response: Response = RedirectResponse(f"{root}/login", status_code=303)
            self._clear_cookie(scope, response)
        elif method in ("GET", "HEAD"):
            response = await self._login_page(scope, safe_next(query.get("next", [""])[0]))
        elif method == "POST":
            response = await self._login(scope, receive)
        else:
            response = _json(405, f"{method} is not allowed on /login")
        add_safety_headers(response.headers)
        await response(scope, receive, send)

    async def _login_page(self, scope: Scope, next_path: str) -> Response:
        token, source = _credentials(Headers(scope=scope))
        if source == "cookie" and token:
            try:
                info = await run_in_threadpool(self.store.check_token, token)
            except LogwrightError as exc:
                return self._page(scope, next_path, f"the store cannot check tokens: {exc}", 503)
            if info is not None:
                return RedirectResponse(next_path, status_code=303)
            response = self._page(scope, next_path, "The token this browser kept is no longer valid (revoked?). "
                                                   "Enter another one.", 200)
            self._clear_cookie(scope, response)
            return response
        return self._page(scope, next_path, None, 200)

    async def _login(self, scope: Scope, receive: Receive) -> Response:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_LOGIN_BODY:
                return _json(413, "the sign-in form is too large")
            if not message.get("more_body"):
                break
        form = parse_qs(body.decode("utf-8", "replace"))
        next_path = safe_next(form.get("next", [""])[0])
        token = form.get("token", [""])[0].strip()
        try:
            info = await run_in_threadpool(self.store.check_token, token) if token else None
        except LogwrightError as exc:
            return self._page(scope, next_path, f"the store cannot check tokens: {exc}", 503)
        if info is None:
            return self._page(scope, next_path, "That token is not valid (unknown, revoked or mistyped).", 401)
        response = RedirectResponse(next_path, status_code=303)
        response.set_cookie(COOKIE, token, max_age=self.cookie_max_age, path=scope.get("root_path", "") or "/",
                            httponly=True, samesite="strict", secure=scope.get("scheme") == "https")
        return response

    def _page(self, scope: Scope, next_path: str, error: str | None, status: int) -> Response:
        root = scope.get("root_path", "")
        data = {"action": f"{root}/login", "logout": f"{root}/logout", "next": next_path, "error": error}
        html = _TEMPLATES.get_template("login.html").render(d=data)
        response = HTMLResponse(html, status_code=status,
                                headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"})
        add_safety_headers(response.headers)
        return response

    def _clear_cookie(self, scope: Scope, response: Response) -> None:
        response.delete_cookie(COOKIE, path=scope.get("root_path", "") or "/", httponly=True, samesite="strict",
                               secure=scope.get("scheme") == "https")


def _with_token(scope: Scope, info: Any) -> Scope:
    """A copy of ``scope`` whose request state (``request.state.token``) holds the token's info."""
    state = dict(scope.get("state") or {})
    state["token"] = info
    return {**scope, "state": state, "logwright.token": info}
