"""Traces list of an experiment: name, request and response previews, status, latency,
tokens, time and run; a filter box with status/latency/token controls beside it; traces
of one session (``session.id``) grouped together.

Query parameters: ``filter`` (the trace search language), ``status`` (``OK`` or
``ERROR``), ``min_latency`` (ms), ``min_tokens``, ``order``, ``page`` and ``size``; the
controls are added to the filter with ``and``.
"""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.requests import Request

from logwright.entities import Trace
from logwright.server.views import FILTER_ERRORS, bad_request, experiment_of, filter_error, int_arg, page_url

TEMPLATE = "traces.html"
PREVIEW_CHARS = 120
SESSION_KEYS = ("session.id", "session_id", "thread_id", "conversation_id")
_METADATA_ATTRS = ("langchain.metadata", "logwright.metadata")
STATUSES = ("OK", "ERROR")


def _number(request: Request, name: str) -> float | None:
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise bad_request(f"{name} must be a number, got {raw[:40]!r}") from None
    if not math.isfinite(value) or value < 0:
        raise bad_request(f"{name} must be a finite number, 0 or more, got {raw[:40]!r}")
    return value


def controls(request: Request) -> dict[str, Any]:
    """The status, latency and token controls of the request (400 for malformed numbers)."""
    status = request.query_params.get("status", "").strip().upper()
    return {"status": status if status in STATUSES else "", "min_latency": _number(request, "min_latency"),
            "min_tokens": _number(request, "min_tokens")}


def combined_filter(text: str, ctl: dict[str, Any]) -> str:
    """The user's filter and the controls' conditions joined with ``and``."""
    parts = [f"({text})"] if text else []
    if ctl["status"]:
        parts.append(f"status = '{ctl['status']}'")
    if ctl["min_latency"] is not None:
        parts.append(f"latency_ms >= {ctl['min_latency']!r}")
    if ctl["min_tokens"] is not None:
        parts.append(f"total_tokens >= {ctl['min_tokens']!r}")
    return " and ".join(parts)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str, separators=(", ", ": "))
    except (TypeError, ValueError, RecursionError):
        return repr(value)


def preview(value: Any) -> str | None:
    """A one-line preview of a root span's inputs or outputs: the last chat message's
    content, a dict's only value, else compact JSON; cut to ``PREVIEW_CHARS``."""
    if value is None:
        return None
    if isinstance(value, dict) and isinstance(value.get("messages"), list) and value["messages"]:
        value = value["messages"][-1]
    if isinstance(value, list) and value and isinstance(value[-1], dict) and "content" in value[-1]:
        value = value[-1]
    if isinstance(value, dict) and "content" in value and "role" in value:
        value = value["content"]
    elif isinstance(value, dict) and len(value) == 1:
        value = next(iter(value.values()))
    text = " ".join(_text(value).split())
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def session_of(trace: Trace) -> str | None:
    """The trace's session: a ``session.id`` (or ``session_id``, ``thread_id``,
    ``conversation_id``) tag, root span attribute or root span metadata entry."""
    root = trace.spans[0].attributes if trace.spans else {}
    sources = [trace.info.tags, root] + [root.get(a) for a in _METADATA_ATTRS]
    for source in sources:
        if isinstance(source, dict):
            for key in SESSION_KEYS:
                if source.get(key) not in (None, ""):
                    return str(source[key])
    return None


def _details(client: Any, exp_id: str, text: str, order: str, offset: int, size: int) -> dict[str, dict[str, Any]]:
    """Previews and session of each trace on the page (the same search, with spans)."""
    found = client.store.search_traces([exp_id], filter_string=text or None, order_by=order or None,
                                       max_results=size, offset=offset)
    out = {}
    for trace in found:
        root = trace.spans[0] if trace.spans else None
        out[trace.trace_id] = {
            "request": preview(root.inputs) if root else None,
            "response": preview(root.outputs) if root else None,
            "session_id": session_of(trace),
        }
    return out


def group_sessions(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows grouped by ``session_id`` at the place of each session's first trace; rows
    without one stay in order between them. Each group sums its tokens and latency."""
    groups: list[dict[str, Any]] = []
    by_session: dict[str, dict[str, Any]] = {}
    for row in rows:
        sid = row.get("session_id")
        if sid is None:
            if not groups or groups[-1]["session_id"] is not None:
                groups.append({"session_id": None, "traces": []})
            groups[-1]["traces"].append(row)
            continue
        if sid not in by_session:
            by_session[sid] = {"session_id": sid, "traces": []}
            groups.append(by_session[sid])
        by_session[sid]["traces"].append(row)
    for group in groups:
        group["total_tokens"] = sum(t.get("total_tokens") or 0 for t in group["traces"])
        group["latency_ms"] = sum(t.get("latency_ms") or 0 for t in group["traces"])
    return groups


def _filter_error(exc: Exception, text: str, combined: str) -> dict[str, Any]:
    error = filter_error(exc, combined)
    if text and combined.startswith("(") and 0 < error["position"] <= len(text) + 1:
        error = {**error, "position": error["position"] - 1, "text": text}
    return error


def data(request: Request) -> dict[str, Any]:
    """``traces`` (summaries with ``request``, ``response`` and ``session_id``), ``groups``
    (the same rows grouped by session), ``total``, ``page``/``pages``, ``filter``,
    ``controls`` and ``filter_error``."""
    client, experiment = experiment_of(request)
    exp_id = experiment.experiment_id
    filter_string = request.query_params.get("filter", "").strip()
    ctl = controls(request)
    combined = combined_filter(filter_string, ctl)
    order = request.query_params.get("order", "").strip()
    size = int_arg(request, "size", 100, 1, 1000)
    page = int_arg(request, "page", 1, 1)
    error = None
    try:
        rows, total = client.store.traces_page(exp_id, combined, order, None, (page - 1) * size, size)
        details = _details(client, exp_id, combined, order, (page - 1) * size, size) if rows else {}
    except FILTER_ERRORS as exc:
        error = _filter_error(exc, filter_string, combined)
        rows, total, details = [], 0, {}
    empty = {"request": None, "response": None, "session_id": None}
    rows = [{**row, **details.get(row["trace_id"], empty)} for row in rows]
    pages = max(1, math.ceil(total / size))
    return {
        "experiment": {"experiment_id": experiment.experiment_id, "name": experiment.name},
        "traces": rows,
        "groups": group_sessions(rows),
        "sessions": len({r["session_id"] for r in rows if r["session_id"] is not None}),
        "total": total,
        "page": page,
        "pages": pages,
        "filter": filter_string,
        "controls": ctl,
        "filter_error": error,
        "order": order,
        "prev_url": page_url(request, page=str(page - 1)) if page > 1 else None,
        "next_url": page_url(request, page=str(page + 1)) if page < pages else None,
    }
