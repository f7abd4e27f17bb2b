"""HTTP requests of the client store to ``logwright server``: stdlib only, keep-alive per thread.

Every request carries ``Authorization: Bearer $LOGWRIGHT_TRACKING_TOKEN`` when the
variable is set. A failure to reach the server (refused, reset, timed out) or a 502/503/504
raises :class:`ServerUnreachable`; other answers come back as (status, body).
"""

from __future__ import annotations

import http.client
import os
import threading
from urllib.parse import urlsplit

TOKEN_ENV = "LOGWRIGHT_TRACKING_TOKEN"


class ServerUnreachable(OSError):
    """The tracking server could not be reached, or answered that it is unavailable."""


class Transport:
    """Requests to one server, each thread on its own kept-alive connection.

    Args:
        url: ``http://host:port`` or ``https://host:port`` (a path prefix is kept).
        timeout: seconds to wait for connect and for each read.
    """

    def __init__(self, url: str, timeout: float = 120.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"tracking URI {url!r} is not an http(s)://host:port address")
        self.url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self._local = threading.local()

    def _conn(self, timeout: float) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = cls(self._host, self._port, timeout=timeout)
            self._local.conn, self._local.pid = conn, os.getpid()
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The headers every request carries (the token, when set)."""
        out = {"User-Agent": "logwright"}
        token = os.environ.get(TOKEN_ENV)
        if token:
            out["Authorization"] = f"Bearer {token.strip()}"
        if extra:
            out.update(extra)
        return out

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
                timeout: float | None = None) -> tuple[int, bytes]:
        """Send one request; returns (status, body).

        Raises:
            ServerUnreachable: no connection, a reset or timeout, or a 502/503/504 answer.
        """
        wait = self.timeout if timeout is None else timeout
        for attempt in (1, 2):  # a kept-alive connection the server closed meanwhile: reconnect once
            conn = self._conn(wait)
            try:
                conn.request(method, self._prefix + path, body=body, headers=self.headers(headers))
                response = conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self._drop()
                if attempt == 2:
                    raise ServerUnreachable(f"{self.url}: {exc}") from exc
                continue
            except (TimeoutError, OSError, http.client.HTTPException) as exc:
                self._drop()
                raise ServerUnreachable(f"{self.url}: {exc}") from exc
            if response.getheader("connection", "").lower() == "close":
                self._drop()
            if response.status in (502, 503, 504) and not _is_api_error(data):
                raise ServerUnreachable(f"{self.url} answered {response.status}")
            return response.status, data
        raise AssertionError("unreachable")


def _is_api_error(data: bytes) -> bool:
    """A 503 of our own API (the store behind the server failed) carries a JSON error."""
    return data.startswith(b"{") and b'"error"' in data[:200]
