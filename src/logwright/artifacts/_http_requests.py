"""Streamed requests of the HTTP artifact client to ``logwright server``, retried while it is away.

Small JSON answers go through the tracking store's :class:`~logwright.store.http_transport.Transport`
(kept-alive connection per thread, the ``LOGWRIGHT_TRACKING_TOKEN`` header); uploads
and downloads each get a connection of their own, so a body is streamed in blocks and
never held whole. Every request is retried with backoff while the server cannot be
reached (:class:`~logwright.store.http_transport.ServerUnreachable`: refused, reset,
timed out, or a 502/503/504 that is not the API's own error) for
``LOGWRIGHT_HTTP_RETRY`` seconds (30), and the last ServerUnreachable is raised.
"""

from __future__ import annotations

import http.client
import io
import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from logwright import config
from logwright.store.http import RETRY_ENV
from logwright.store.http_transport import ServerUnreachable, Transport

_lock = threading.Lock()
_transports: dict[str, Transport] = {}
_NETWORK = (OSError, http.client.HTTPException)
_SLOWEST_STORE = 5e6  # bytes/s: how slowly the server may store an upload before the client gives up waiting


def payload(data: bytes) -> dict[str, Any]:
    """The JSON object of an answer ({} when it is not one)."""
    try:
        out = json.loads(data)
    except ValueError:
        return {}
    return out if isinstance(out, dict) else {}


def _unavailable(status: int, data: bytes) -> bool:
    return status in (502, 503, 504) and b'"error"' not in data[:200]


class Response(io.RawIOBase):
    """A streaming download; closing it closes its connection.

    Attributes:
        length: the announced ``Content-Length``, or None.

    Args:
        conn: the connection the response arrives on.
        response: the response, its body not read yet.
        shown: the artifact's name for error messages.
    """

    def __init__(self, conn: http.client.HTTPConnection, response: http.client.HTTPResponse, shown: str) -> None:
        self._conn, self._response, self._shown = conn, response, shown
        header = response.getheader("content-length")
        self.length = int(header) if header and header.isdigit() else None

    def readable(self) -> bool:
        """Always True."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Read into ``buffer``; a cut connection raises ServerUnreachable (an OSError) naming the artifact."""
        try:
            return self._response.readinto(buffer)
        except _NETWORK as exc:
            raise ServerUnreachable(f"reading artifact {self._shown} was interrupted: {exc}") from exc

    def close(self) -> None:
        """Close the connection."""
        if not self.closed:
            self._conn.close()
        super().close()


class Requests:
    """Requests to one tracking server.

    Args:
        base: the server's URL (``http(s)://host:port`` and any path prefix).
    """

    def __init__(self, base: str) -> None:
        with _lock:
            self.transport = _transports.get(base) or _transports.setdefault(base, Transport(base))
        parts = urlsplit(self.transport.url)
        self.url = self.transport.url
        self._https, self._host = parts.scheme == "https", parts.hostname or ""
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")

    def _connection(self) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        return cls(self._host, self._port, timeout=self.transport.timeout)

    def retrying(self, attempt: Callable[[], Any]) -> Any:
        """``attempt()``, again with backoff while it raises ServerUnreachable (then re-raised)."""
        deadline = time.monotonic() + config.number(RETRY_ENV, 30.0)
        delay = 0.1
        while True:
            try:
                return attempt()
            except ServerUnreachable:
                if time.monotonic() + delay > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    def get(self, path: str) -> tuple[int, bytes]:
        """A GET with a small answer: (status, body)."""
        return self.retrying(lambda: self.transport.request("GET", path))

    def send(self, method: str, path: str, body: Callable[[], Iterable[bytes]], size: int,
             headers: dict[str, str]) -> tuple[int, bytes]:
        """Stream ``body()`` (a fresh iterable per attempt, ``size`` bytes in all): (status, answer)."""
        return self.retrying(lambda: self._send_once(method, path, body(), size, headers))

    def _send_once(self, method: str, path: str, body: Iterable[bytes], size: int,
                   headers: dict[str, str]) -> tuple[int, bytes]:
        """One streamed request; a send the server cut short still reads its answer (a refusal)."""
        conn = self._connection()
        cut: BaseException | None = None
        try:
            try:
                conn.putrequest(method, self._prefix + path, skip_accept_encoding=True)
                for key, value in self.transport.headers({**headers, "Content-Length": str(size)}).items():
                    conn.putheader(key, value)
                conn.endheaders()
            except _NETWORK as exc:
                raise ServerUnreachable(f"{self.url}: {exc}") from exc
            for block in body:  # reading the local file raises as it is (not a network error)
                try:
                    conn.send(block)
                except OSError as exc:
                    cut = exc
                    break
            try:
                if conn.sock is not None:  # the server may still be storing it (into S3): give it time
                    conn.sock.settimeout(self.transport.timeout + size / _SLOWEST_STORE)
                response = conn.getresponse()
                data = response.read()
            except _NETWORK as exc:
                raise ServerUnreachable(f"{self.url}: {cut or exc}") from exc
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
            conn.close()
        if _unavailable(response.status, data):
            raise ServerUnreachable(f"{self.url} answered {response.status}")
        return response.status, data

    def open(self, path: str) -> tuple[int, bytes, http.client.HTTPConnection | None,
                                       http.client.HTTPResponse | None]:
        """A GET whose body is streamed: (200, b"", connection, response), or (status, answer, None, None)."""
        def attempt() -> tuple[int, bytes, Any, Any]:
            conn = self._connection()
            try:
                conn.request("GET", self._prefix + path, headers=self.transport.headers())
                response = conn.getresponse()
                if response.status == 200:
                    return 200, b"", conn, response
                data = response.read()
            except _NETWORK as exc:
                conn.close()
                raise ServerUnreachable(f"{self.url}: {exc}") from exc
            conn.close()
            if _unavailable(response.status, data):
                raise ServerUnreachable(f"{self.url} answered {response.status}")
            return response.status, data, None, None

        return self.retrying(attempt)

    def flush_writes(self) -> bool:
        """Send this process's queued writes to the server (a run created here may not be there yet).

        Returns:
            False when this process has no store open on this server.
        """
        from logwright.store import open_stores

        mine = [s for s in open_stores() if getattr(s, "location", None) == self.url]
        for store in mine:
            store.flush()
        return bool(mine)
