"""Traces as text trees (``print(trace)``) and as self-contained HTML (Jupyter).

The HTML needs no server and no script: a nested list of ``<details>`` elements,
one per span, each with a timing bar placed on the trace's time line and its
inputs, outputs, attributes and events folded inside. Every user-supplied string
is HTML-escaped.
"""

from __future__ import annotations

import html
import json
import logging
from typing import Any

from logwright.entities import Span, Trace

_logger = logging.getLogger(__name__)

_PREVIEW = 20_000
_STYLE = """
.lw-trace{font:13px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;color:#1f2328;max-width:1100px}
.lw-trace .lw-head{font-weight:600;margin:4px 0 8px}
.lw-trace .lw-dim{color:#656d76;font-weight:400}
.lw-trace ul{list-style:none;margin:0;padding-left:18px}
.lw-trace>ul{padding-left:0}
.lw-trace summary{cursor:pointer;display:flex;gap:8px;align-items:center;padding:2px 0}
.lw-trace .lw-kind{font-size:11px;padding:0 5px;border-radius:4px;background:#ddf4ff;color:#0969da}
.lw-trace .lw-err{color:#cf222e;font-weight:600}
.lw-trace .lw-ok{color:#1a7f37}
.lw-trace .lw-name{min-width:160px}
.lw-trace .lw-track{position:relative;flex:1;height:8px;background:#f6f8fa;border-radius:4px;min-width:120px}
.lw-trace .lw-bar{position:absolute;top:0;height:8px;border-radius:4px;background:#54aeff}
.lw-trace .lw-bar.lw-bad{background:#ff8182}
.lw-trace pre{background:#f6f8fa;padding:6px 8px;border-radius:6px;max-height:320px;overflow:auto;
white-space:pre-wrap;word-break:break-word;margin:4px 0}
.lw-trace .lw-body{padding:2px 0 6px 8px;border-left:2px solid #eaeef2;margin-left:4px}
"""


def _ms(value: float | None) -> str:
    if value is None:
        return "open"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    return f"{value:.1f} ms" if value >= 1 else f"{value * 1000:.0f} us"


def _tokens(tin: Any, tout: Any, total: Any) -> str:
    if tin is None and tout is None and total is None:
        return ""
    return f"tokens {tin if tin is not None else '-'} in / {tout if tout is not None else '-'} out" \
           f" / {total if total is not None else '-'} total"


def _span_tokens(span: Span) -> str:
    attrs = span.attributes
    return _tokens(attrs.get("gen_ai.usage.input_tokens"), attrs.get("gen_ai.usage.output_tokens"),
                   attrs.get("logwright.usage.total_tokens"))


def _children(trace: Trace) -> dict[str | None, list[Span]]:
    ids = {s.span_id for s in trace.spans}
    children: dict[str | None, list[Span]] = {}
    for span in trace.spans:
        parent = span.parent_id if span.parent_id in ids else None
        children.setdefault(parent, []).append(span)
    return children


def _status(span: Span) -> str:
    if span.status == "ERROR":
        return f"ERROR ({span.status_message})" if span.status_message else "ERROR"
    return span.status


def format_tree(trace: Trace) -> str:
    """An indented tree: one line per span with kind, name, duration, status and tokens.

    Args:
        trace: a stored trace.

    Returns:
        Plain text, first line the trace summary.
    """
    info = trace.info
    head = f"Trace {info.trace_id}  {info.name or ''}  {info.status}  {_ms(info.latency_ms)}"
    tokens = _tokens(info.input_tokens, info.output_tokens, info.total_tokens)
    lines = [f"{head}  {tokens}".rstrip()]
    children = _children(trace)
    stack: list[tuple[Span, str, bool]] = [(s, "", i == len(children.get(None, [])) - 1)
                                           for i, s in enumerate(children.get(None, []))][::-1]
    while stack:
        span, prefix, last = stack.pop()
        branch = "└─ " if last else "├─ "
        extra = _span_tokens(span)
        line = f"{prefix}{branch}{span.kind} {span.name}  {_ms(span.duration_ms)}  {_status(span)}"
        lines.append(f"{line}  {extra}".rstrip())
        kids = children.get(span.span_id, [])
        inner = prefix + ("   " if last else "│  ")
        stack.extend((kid, inner, i == len(kids) - 1) for i, kid in reversed(list(enumerate(kids))))
    return "\n".join(lines)


def _pretty(value: Any) -> str:
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    if len(text) > _PREVIEW:
        text = text[:_PREVIEW] + f"\n... ({len(text)} characters in all)"
    return html.escape(text)


def _section(title: str, value: Any) -> str:
    if value is None or value == {} or value == []:
        return ""
    return f"<details><summary>{html.escape(title)}</summary><pre>{_pretty(value)}</pre></details>"


def _span_html(span: Span, start: int, total: int, children: dict[str | None, list[Span]]) -> str:
    end = span.end_ns if span.end_ns is not None else start + total
    left = 100.0 * (span.start_ns - start) / total
    width = max(0.5, 100.0 * (end - span.start_ns) / total)
    bad = span.status == "ERROR"
    events = [{"name": e.name, "timestamp_ns": e.timestamp_ns, "attributes": e.attributes}
              for e in span.events]
    attrs = {k: v for k, v in span.attributes.items() if k != "logwright.span.kind"}
    status_cls = "lw-err" if bad else "lw-ok"
    tokens = _span_tokens(span)
    summary = (
        f"<span class='lw-kind'>{html.escape(span.kind)}</span>"
        f"<span class='lw-name'>{html.escape(span.name)}</span>"
        f"<span class='lw-dim'>{_ms(span.duration_ms)}</span>"
        f"<span class='{status_cls}'>{html.escape(_status(span))}</span>"
        f"<span class='lw-dim'>{html.escape(tokens)}</span>"
        f"<span class='lw-track'><span class='lw-bar{' lw-bad' if bad else ''}' "
        f"style='left:{left:.2f}%;width:{min(width, 100 - left):.2f}%'></span></span>"
    )
    body = "".join([
        _section("Inputs", span.inputs), _section("Outputs", span.outputs),
        _section("Attributes", attrs), _section("Events", events),
    ])
    kids = "".join(_span_html(k, start, total, children) for k in children.get(span.span_id, []))
    inner = f"<div class='lw-body'>{body}</div>" if body else ""
    nested = f"<ul>{kids}</ul>" if kids else ""
    return f"<li><details{' open' if kids else ''}><summary>{summary}</summary>{inner}{nested}</details></li>"


def render_html(trace: Trace) -> str:
    """A self-contained HTML view of a trace: tree, timing bars, expandable inputs/outputs.

    Args:
        trace: a stored trace.

    Returns:
        An HTML fragment with its own ``<style>``; no script, no external resource.
    """
    info = trace.info
    start = min([info.start_ns, *(s.start_ns for s in trace.spans)])
    ends = [e for e in [info.end_ns, *(s.end_ns for s in trace.spans)] if e is not None]
    total = max(1, (max(ends) if ends else start + 1) - start)
    children = _children(trace)
    tokens = _tokens(info.input_tokens, info.output_tokens, info.total_tokens)
    status_cls = "lw-err" if info.status == "ERROR" else "lw-ok"
    head = (
        f"<div class='lw-head'>{html.escape(info.name or 'trace')} "
        f"<span class='{status_cls}'>{html.escape(info.status)}</span> "
        f"<span class='lw-dim'>{_ms(info.latency_ms)} · {len(trace.spans)} spans"
        f"{' · ' + html.escape(tokens) if tokens else ''} · {html.escape(info.trace_id)}</span></div>"
    )
    spans = "".join(_span_html(s, start, total, children) for s in children.get(None, []))
    return f"<div class='lw-trace'><style>{_STYLE}</style>{head}<ul>{spans}</ul></div>"
