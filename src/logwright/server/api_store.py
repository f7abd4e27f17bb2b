"""The tracking server's REST API for HTTP client stores: ``/api/v1/...``.

- ``POST /api/v1/writes``: a gzip JSON batch of queued writes ``{client, seq, ops}``
  (see :mod:`logwright.store.wire`). The server queues it on its store's writer to
  commit in one transaction with the client's sequence mark, waits until it is
  durable, then answers ``{"seq": n}``; a batch already applied (a retry) is
  acknowledged without applying it again.
- ``POST /api/v1/store/{method}``: every synchronous Store protocol method
  (``{"args": [...], "kwargs": {...}}`` in, ``{"result": ...}`` out); errors come back
  as ``{"error", "type", "status"}`` with 400/404/409/503 so the client raises the same
  exception class.
- ``GET /api/v1/info``: the server's version, API version, and what the caller may do.
- ``GET /health``: 200 ``{"status": "ok"}`` once the store answers.
"""

from __future__ import annotations

import logging
import threading
import zlib
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from logwright import config, exceptions
from logwright.server.auth import is_read_method
from logwright.store import wire

_logger = logging.getLogger(__name__)

CALLS = wire.calls()
MAX_BODY = 256 * 1024 * 1024
FLUSH_WAIT_ENV = "LOGWRIGHT_SERVER_FLUSH_WAIT"  # seconds a batch waits for the store (30) before "retry"
_queue_lock = threading.Lock()
_queued: set[tuple[str, int]] = set()  # (client, seq) of batches queued in this process, not yet durable




def _json(data: Any, status: int = 200) -> Response:
    return Response(wire.dumps(data), status_code=status, media_type="application/json")


def _error(status: int, exc: BaseException | str, kind: str | None = None) -> Response:
    text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)  # KeyError's str() quotes
    attrs = {k: getattr(exc, k) for k in ("run_id", "ref", "trace_id", "position")
             if isinstance(getattr(exc, k, None), (str, int))}
    return _json({"error": str(text), "type": kind or type(exc).__name__, "status": status, "attrs": attrs}, status)


def _status_of(exc: BaseException) -> int:
    if isinstance(exc, (exceptions.RunNotFound, exceptions.ExperimentNotFound, exceptions.TraceNotFound,
                        exceptions.ModelNotFound)):
        return 404
    if isinstance(exc, exceptions.ParamConflict):
        return 409
    if isinstance(exc, (exceptions.InvalidFilter, ValueError, TypeError, KeyError)):
        return 400
    return 503


async def _body(request: Request) -> bytes:
    data = await request.body()
    if len(data) > MAX_BODY:
        raise ValueError(f"request body over {MAX_BODY} bytes")
    if request.headers.get("content-encoding", "").lower() == "gzip":
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            data = inflate.decompress(data, MAX_BODY)
        except zlib.error as exc:
            raise ValueError(f"not gzip: {exc}") from exc
        if inflate.unconsumed_tail:
            raise ValueError(f"request body over {MAX_BODY} bytes once decompressed")
    return data


def _store(request: Request) -> Any:
    return request.app.state.client.store


async def writes(request: Request) -> Response:
    """Apply one batch of a client's queued writes, exactly once, and answer when it is durable."""
    try:
        payload = wire.loads(await _body(request))
        client, seq = str(payload["client"]), int(payload["seq"])
        ops = wire.decode_ops(payload["ops"]) + wire.decode_metrics(payload.get("metrics", []))
    except (ValueError, KeyError, TypeError, OSError, EOFError) as exc:
        return _error(400, f"not a write batch: {exc}", "ValueError")
    store = _store(request)
    if getattr(request.app.state, "read_only", False):
        return _error(403, "this server is read-only", "StoreError")

    def apply() -> bool | None:
        """True: applied now; False: applied before; None: queued, not durable yet (the store fails)."""
        key = (client, seq)
        with _queue_lock:
            if key not in _queued:  # a retry of a batch still queued here must not be queued twice
                if store.last_ingested(client) >= seq:
                    return False
                _queued.add(key)
                store.apply_remote(ops, client, seq)
        writer = getattr(store, "writer", None)
        if writer is not None and not writer.flush(config.number(FLUSH_WAIT_ENV, 30.0)):
            return None
        if writer is None:
            store.flush()
        _queued.discard(key)
        return True

    try:
        applied = await run_in_threadpool(apply)
    except exceptions.LogwrightError as exc:
        return _error(_status_of(exc), exc)
    if applied is None:  # the client keeps the batch and sends it again: it is applied once
        response = _error(503, "the store behind the server is not writable now; retry", "StoreError")
        response.headers["Retry-After"] = "5"
        return response
    return _json({"seq": seq, "applied": applied, "ops": len(ops)})


async def call(request: Request) -> Response:
    """Run one synchronous Store protocol method for a client."""
    method = request.path_params["method"]
    if method not in CALLS:
        return _error(404, f"no store method {method!r}", "ValueError")
    if getattr(request.app.state, "read_only", False) and not is_read_method(method):
        return _error(403, "this server is read-only", "StoreError")
    try:
        body = await _body(request)
        payload = wire.decode(wire.loads(body)) if body else {}
        args, kwargs = payload.get("args", []), payload.get("kwargs", {})
    except (ValueError, TypeError, OSError, EOFError) as exc:
        return _error(400, f"not a store call: {exc}", "ValueError")
    store = _store(request)
    try:
        result = await run_in_threadpool(getattr(store, method), *args, **kwargs)
        return _json({"result": wire.encode(result)})
    except (exceptions.LogwrightError, ValueError, TypeError, KeyError) as exc:
        return _error(_status_of(exc), exc)


async def info(request: Request) -> Response:
    """What this server is and what the caller may do."""
    from logwright import __version__

    token = getattr(request.state, "token", None)
    read_only = bool(getattr(request.app.state, "read_only", False) or getattr(token, "read_only", False))
    return _json({"server": "logwright", "version": __version__, "api": 1, "read_only": read_only,
                  "auth": bool(getattr(request.app.state, "auth", False))})


async def health(request: Request) -> Response:
    """200 when the store answers, 503 with the reason when it does not."""
    try:
        await run_in_threadpool(_store(request).experiment_stats)
    except Exception as exc:  # noqa: BLE001 - health reports, never raises
        return _json({"status": "unavailable", "error": str(exc)}, 503)
    return _json({"status": "ok"})


def routes() -> list[Route]:
    """The API routes, to add to the server app."""
    return [
        Route(f"{wire.API}/writes", writes, methods=["POST"]),
        Route(f"{wire.API}/store/{{method}}", call, methods=["POST"]),
        Route(f"{wire.API}/info", info, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
    ]
