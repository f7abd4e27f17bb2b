"""The tracking server's artifact API: ``/api/v1/artifacts/{run_id}/{path}``.

The server keeps each run's files in the run's own repository, as its store names
it (a folder or an ``s3://`` prefix, :func:`logwright.artifacts.for_uri`); HTTP
clients (:class:`logwright.artifacts.http.HttpArtifacts`) read and write them here.

- ``GET``: a file's bytes, streamed with its ``Content-Length``; for a folder (or with
  ``?list=1``) its listing ``{"kind", "files": [{"path", "is_dir", "file_size"}]}``;
  ``?walk=1`` every file below the path; ``?stat=1`` ``{"kind", "size"}`` (kind
  ``"file"``, ``"dir"`` or null). A missing path is 404.
- ``PUT``: the body becomes the file at the path, streamed into place (written under
  a private name, renamed when complete: a cut upload leaves nothing). The client's
  ``X-Logwright-Mode`` and ``X-Logwright-Mtime`` are kept. ``?shared=1`` stores it
  with the repository's ``write_shared`` (one copy in the store's ``.shared`` folder).
- ``POST`` with an uncompressed tar body: ``?mode=merge`` adds its files under the
  path (``log_artifacts``: all or none); ``?mode=replace&marker=NAME`` publishes it
  as the folder at the path with the repository's ``staged_dir`` (atomically), only
  while the existing folder still has the ``X-Logwright-Existing`` fingerprint the
  client approved (:func:`logwright.artifacts.http.existing_folder`); otherwise 409
  ``ListingChanged``.

Paths go through :func:`~logwright.artifacts.local.clean_path`: ``..``, absolute
paths, control characters and logwright's hidden ``.logwright-`` names are refused
(400). Writes are refused (403) on a read-only server or with a read-only token.
Errors are ``{"error", "type", "status"}``: 400 illegal, 403 refused, 404 missing,
409 in the way (a folder where a file goes, a model name taken), 500 storage failed.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from typing import Any

import anyio.from_thread
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from logwright import exceptions
from logwright.artifacts import _tar, for_uri
from logwright.artifacts._fs import RESERVED
from logwright.artifacts.http import CHANGED, existing_folder
from logwright.artifacts.local import clean_path
from logwright.store import wire

_logger = logging.getLogger(__name__)

PREFIX = f"{wire.API}/artifacts"
MAX_SHARED = 64 * 1024 * 1024
_BLOCK = 1 << 20


class _Changed(FileExistsError):
    """The folder a staged upload would replace is not the one the client approved."""


class _Body(io.RawIOBase):
    """The request body as a blocking stream, read by a worker thread as it arrives."""

    def __init__(self, request: Request) -> None:
        self._chunks = request.stream()
        self._pending = memoryview(b"")
        self.done = False

    async def _next(self) -> bytes:
        try:
            return await self._chunks.__anext__()
        except StopAsyncIteration:
            self.done = True
            return b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            if self.done:
                return 0
            self._pending = memoryview(anyio.from_thread.run(self._next))
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    async def drain(self) -> None:
        """Read what the client still sends, so it gets the answer instead of a broken pipe."""
        with contextlib.suppress(ClientDisconnect, RuntimeError):
            while not self.done:
                await self._next()


def _json(data: Any, status: int = 200) -> Response:
    return Response(wire.dumps(data), status_code=status, media_type="application/json")


def _status(exc: BaseException) -> int:
    if isinstance(exc, PermissionError):
        return 403
    if isinstance(exc, (exceptions.RunNotFound, FileNotFoundError)):
        return 404
    if isinstance(exc, (FileExistsError, IsADirectoryError, NotADirectoryError, exceptions.RunDeleted)):
        return 409
    if isinstance(exc, (ValueError, TypeError, tarfile.TarError, ClientDisconnect)):
        return 400
    if isinstance(exc, exceptions.StoreError):
        return 403 if "read-only" in str(exc) else 503
    return 500


def _failure(exc: BaseException) -> Response:
    status = _status(exc)
    kind = CHANGED if isinstance(exc, _Changed) else type(exc).__name__
    if status == 500:
        _logger.warning("logwright server: artifact request failed: %s", exc)
    text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    if isinstance(exc, OSError) and exc.errno is not None and exc.strerror:
        text = exc.strerror  # without the server's own file names
    return _json({"error": str(text), "type": kind, "status": status}, status)


def _rel(request: Request) -> str:
    return clean_path(request.path_params.get("path") or "")


def _read_repo(request: Request) -> Any:
    """The run's repository for reading (a deleted run's files can still be read)."""
    store = request.app.state.client.store
    run_id = request.path_params["run_id"]
    found = store.run_exists(run_id)
    if found is None:
        store.flush()
        found = store.run_exists(run_id)
        if found is None:
            raise exceptions.RunNotFound(run_id)
    return for_uri(store.artifact_dir(found[0], run_id))


def _write_repo(request: Request) -> Any:
    """The run's repository for writing; PermissionError when this server or token may not write."""
    token = getattr(request.state, "token", None)
    if getattr(request.app.state, "read_only", False) or getattr(token, "read_only", False):
        raise PermissionError("this server is read-only: artifacts cannot be written")
    return request.app.state.client.artifacts(request.path_params["run_id"])


# -- reading ----------------------------------------------------------------------


def _info(f: Any) -> dict[str, Any]:
    return {"path": f.path, "is_dir": f.is_dir, "file_size": f.file_size}


def _walk(repo: Any, rel: str) -> list[dict[str, Any]]:
    base = f"{rel}/" if rel else ""
    return [_info(f) for f in repo.walk() if f.path.startswith(base)]


def _describe(request: Request) -> dict[str, Any] | tuple[Any, int]:
    """The JSON answer of a GET, or (open file, size) to stream."""
    repo, rel = _read_repo(request), _rel(request)
    query = request.query_params
    if "walk" in query:
        return {"files": _walk(repo, rel)}
    kind = repo.kind(rel)
    if "stat" in query:
        return {"kind": kind, "size": repo.size(rel) if kind == "file" else None}
    if kind == "dir" or "list" in query:
        return {"kind": kind, "files": [_info(f) for f in repo.list(rel)] if kind == "dir" else []}
    if kind is None:
        raise FileNotFoundError(f"artifact {rel!r} not found")
    fh = repo.open(rel)
    try:
        size = os.fstat(fh.fileno()).st_size
    except (OSError, ValueError, io.UnsupportedOperation):
        size = repo.size(rel)
    return fh, size


def _chunks(fh: Any) -> Any:
    with fh:
        while True:
            block = fh.read(_BLOCK)
            if not block:
                return
            yield block


async def read(request: Request) -> Response:
    """GET: a file streamed, or a folder's listing / a walk / a stat as JSON."""
    try:
        found = await run_in_threadpool(_describe, request)
    except Exception as exc:  # noqa: BLE001 - every failure is an answer
        return _failure(exc)
    if isinstance(found, dict):
        return _json(found)
    fh, size = found
    return StreamingResponse(_chunks(fh), media_type="application/octet-stream",
                             headers={"Content-Length": str(size)})


# -- writing ----------------------------------------------------------------------


def _saver(body: _Body, headers: Any) -> Callable[[str], None]:
    """``save(path)`` for ``write_via``: the body streamed to ``path``, the client's mode and mtime kept."""
    def save(path: str) -> None:
        with open(path, "xb") as out:
            shutil.copyfileobj(body, out, _BLOCK)
        with contextlib.suppress(ValueError, OSError):
            if headers.get("x-logwright-mode"):
                os.chmod(path, (int(headers["x-logwright-mode"], 8) & 0o777) | 0o600)
            if headers.get("x-logwright-mtime"):
                mtime = float(headers["x-logwright-mtime"])
                os.utime(path, (mtime, mtime))

    return save


def _put(request: Request, body: _Body) -> str:
    repo, rel = _write_repo(request), _rel(request)
    if not rel:
        raise ValueError("a PUT must name a file inside the run")
    if "shared" in request.query_params:
        if int(request.headers.get("content-length") or 0) > MAX_SHARED:
            raise ValueError(f"shared artifacts are at most {MAX_SHARED} bytes")
        data = body.readall()
        if len(data) > MAX_SHARED:
            raise ValueError(f"shared artifacts are at most {MAX_SHARED} bytes")
        store = request.app.state.client.store
        return repo.write_shared(rel, data, os.path.join(store.artifact_root, ".shared"))
    return repo.write_via(rel, _saver(body, request.headers))


def _merge(repo: Any, rel: str, body: _Body) -> str:
    scratch = tempfile.mkdtemp(prefix=RESERVED)
    try:
        _tar.unpack(io.BufferedReader(body, _BLOCK), scratch)
        return repo.log_dir(scratch, rel or None)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _replace(repo: Any, rel: str, body: _Body, expected: str, marker: str | None) -> str:
    if not rel:
        raise ValueError("a folder upload must name a folder inside the run")

    def replaceable(_path: str) -> bool:
        if existing_folder(repo, rel, marker)[0] != expected:
            raise _Changed(f"artifact folder {rel!r} changed on the server since it was checked")
        return True

    with repo.staged_dir(rel, replaceable, marker=marker) as staging:
        _tar.unpack(io.BufferedReader(body, _BLOCK), staging.path)
    return rel


def _post(request: Request, body: _Body) -> str:
    repo, rel = _write_repo(request), _rel(request)
    query = request.query_params
    mode = query.get("mode", "merge")
    if mode == "merge":
        return _merge(repo, rel, body)
    if mode != "replace":
        raise ValueError(f"unknown folder upload mode {mode!r} (merge or replace)")
    marker = query.get("marker") or None
    if marker is not None and (clean_path(marker) != marker or "/" in marker):
        raise ValueError(f"marker must be a file name, got {marker!r}")
    return _replace(repo, rel, body, request.headers.get("x-logwright-existing", ""), marker)


async def _write(request: Request, job: Callable[[Request, _Body], str]) -> Response:
    body = _Body(request)
    try:
        path = await run_in_threadpool(job, request, body)
        response = _json({"path": path})
    except Exception as exc:  # noqa: BLE001 - every failure is an answer
        response = _failure(exc)
    await body.drain()
    return response


async def write_file(request: Request) -> Response:
    """PUT: the body becomes the artifact file at the path."""
    return await _write(request, _put)


async def write_folder(request: Request) -> Response:
    """POST: a tar body merged under, or published as, the folder at the path."""
    return await _write(request, _post)


def routes() -> list[Route]:
    """The artifact routes, to add to the server app."""
    out = []
    for path in (f"{PREFIX}/{{run_id}}", f"{PREFIX}/{{run_id}}/{{path:path}}"):
        out += [Route(path, read, methods=["GET"]), Route(path, write_file, methods=["PUT"]),
                Route(path, write_folder, methods=["POST"])]
    return out
