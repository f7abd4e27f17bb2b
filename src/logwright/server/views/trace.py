"""Trace page: span tree with a waterfall timeline, and each span's inputs, outputs,
attributes and events; chat messages are pretty-printed for chat model spans."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from logwright.server import queries
from logwright.server.views import client_of, not_found

TEMPLATE = "trace.html"
_CHAT_KINDS = ("CHAT_MODEL", "LLM")
_MIN_BAR_PCT = 0.4


def _is_message(item: Any) -> bool:
    return isinstance(item, dict) and "role" in item and "content" in item


def _text(content: Any) -> Any:
    """Message content as text where it is text (OpenAI-style parts are joined)."""
    if isinstance(content, list) and all(isinstance(p, dict) and "text" in p for p in content):
        return "\n".join(str(p["text"]) for p in content)
    return content


def _messages_in(value: Any, depth: int = 0) -> list[dict[str, Any]] | None:
    if _is_message(value):
        return [value]
    if isinstance(value, list) and value:
        if all(_is_message(v) for v in value):
            return value
        if depth < 2 and len(value) == 1:
            return _messages_in(value[0], depth + 1)
    if isinstance(value, dict) and depth < 2:
        if isinstance(value.get("choices"), list):
            found = [c.get("message") for c in value["choices"] if isinstance(c, dict)]
            if found and all(_is_message(m) for m in found):
                return found
        for inner in value.values():
            found = _messages_in(inner, depth + 1)
            if found:
                return found
    return None


def chat_messages(value: Any) -> list[dict[str, Any]] | None:
    """The ``{role, content}`` messages held in a span's inputs or outputs, or None."""
    found = _messages_in(value)
    if not found:
        return None
    return [{"role": str(m["role"]), "content": _text(m["content"])} for m in found]


def _tree_order(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = {s["span_id"] for s in spans}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for span in spans:
        parent = span["parent_id"] if span["parent_id"] in ids else None
        children.setdefault(parent, []).append(span)
    ordered: list[dict[str, Any]] = []
    stack = [(s, 0) for s in reversed(children.get(None, []))]
    while stack:
        span, depth = stack.pop()
        kids = children.get(span["span_id"], [])
        ordered.append({**span, "depth": depth, "child_count": len(kids)})
        stack += [(k, depth + 1) for k in reversed(kids)]
    return ordered


def _layout(span: dict[str, Any], t0: int, total: int, now_end: int) -> dict[str, Any]:
    end = span["end_ns"] if span["end_ns"] is not None else now_end
    offset = (span["start_ns"] - t0) / total * 100
    width = max(_MIN_BAR_PCT, (end - span["start_ns"]) / total * 100)
    is_chat = span["kind"] in _CHAT_KINDS
    return {
        **span,
        "duration_ms": None if span["end_ns"] is None else (span["end_ns"] - span["start_ns"]) / 1e6,
        "offset_ms": (span["start_ns"] - t0) / 1e6,
        "bar_left": round(min(offset, 100 - _MIN_BAR_PCT), 3),
        "bar_width": round(min(width, 100 - min(offset, 100 - _MIN_BAR_PCT)), 3),
        "input_messages": chat_messages(span["inputs"]) if is_chat else None,
        "output_messages": chat_messages(span["outputs"]) if is_chat else None,
    }


def data(request: Request) -> dict[str, Any]:
    """The trace summary, tags, and ``spans`` in tree order with ``depth`` and waterfall
    geometry (``bar_left``/``bar_width`` in percent of the trace's duration)."""
    client = client_of(request)
    trace_id = request.path_params["trace_id"]
    trace = queries.get_trace(client.store, trace_id)
    if trace is None:
        raise not_found(f"trace {trace_id!r}")
    spans = _tree_order(trace["spans"])
    t0 = min([s["start_ns"] for s in spans] or [trace["start_ns"]])
    ends = [s["end_ns"] for s in spans if s["end_ns"] is not None] + [trace["end_ns"] or t0]
    t1 = max(ends)
    total = max(1, t1 - t0)
    experiment = client.store.get_experiment(trace["experiment_id"])
    return {
        **trace,
        "experiment": {"experiment_id": experiment.experiment_id, "name": experiment.name},
        "spans": [_layout(s, t0, total, t1) for s in spans],
        "duration_ms": total / 1e6,
    }
