"""The span array of a stored trace: one JSON array, zlib-compressed when that pays.

Every store keeps a trace's spans in one value (a BLOB column in SQLite, ``bytea``
in PostgreSQL): the UTF-8 bytes of a JSON array with one array per span::

    [span_id, parent_id, name, kind, start_ns, end_ns, status, status_message,
     attributes, events, inputs, outputs]

``attributes`` is an object or null (without the kind, which readers add as
``logwright.span.kind``), ``events`` an array of ``[name, timestamp_ns,
attributes]`` (``{"name", "timestamp_ns", "attributes"}`` objects in stores
migrated from schema 2) or null. A root span's array may stop after ``events``:
its inputs and outputs are then the trace's own ``inputs``/``outputs`` columns.
The value is compressed with zlib when that saves an eighth or more; a stored value
that does not start with ``[`` is a zlib stream.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from typing import Any

from logwright.entities import Span, SpanEvent

SPAN_KIND = "logwright.span.kind"
COMPRESS_AT = 1024  # bytes of span JSON from which zlib is tried
_JSON = ord("[")


def pack(data: bytes | None) -> bytes | None:
    """The stored form of a span array: zlib-compressed when it is large and that saves space.

    Level 1 with an 8 KiB window: a trace's JSON compresses 3-4x, and setting up the
    small window costs a fifth of zlib's default. The store's writer thread packs
    each trace (zlib lets go of the GIL, which in the user's thread would hand it to
    the writer mid-call). Packing a packed value returns it unchanged.
    """
    if data is None or len(data) < COMPRESS_AT or data[0] != _JSON:
        return data
    packer = zlib.compressobj(1, zlib.DEFLATED, 13, 5)
    packed = packer.compress(data) + packer.flush()
    return packed if len(packed) < len(data) - len(data) // 8 else data


def pack_record(record: Any) -> Any:
    """A trace record (a ``TraceRecord`` named tuple) with its ``spans`` packed; the writer calls it."""
    spans = record.spans
    packed = pack(spans)
    return record if packed is spans else record._replace(spans=packed)


def unpack(blob: bytes | str | None) -> bytes:
    """The JSON bytes of a stored span array (``b"[]"`` when there are none)."""
    if not blob:
        return b"[]"
    if type(blob) is str:
        return blob.encode("utf-8", "surrogatepass")
    if blob[0] != _JSON:  # a span array starts with "[", anything else is a zlib stream
        return zlib.decompress(blob)
    return bytes(blob)


def append_spans(blob: bytes | None, spans: Sequence[bytes]) -> bytes | None:
    """A stored span array with more spans (each the UTF-8 JSON array of one span) at its end."""
    data = unpack(blob)
    body = b",".join(spans)
    data = data[:-1] + (b"," if len(data) > 2 else b"") + body + b"]"
    return pack(data)


def loads(text: str | bytes | None) -> Any:
    """A stored JSON column (a root's inputs or outputs); text that is not JSON comes back as it is."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _events(raw: Any) -> tuple[SpanEvent, ...]:
    out = []
    for event in raw or ():
        if isinstance(event, list) and len(event) == 3:
            out.append(SpanEvent(event[0], event[1], event[2] or {}))
        elif isinstance(event, dict):  # the layout of stores written before schema 3
            out.append(SpanEvent(event.get("name", ""), event.get("timestamp_ns", 0), event.get("attributes") or {}))
    return tuple(out)


def decode_spans(trace_id: str, blob: Any, inputs: Any = None, outputs: Any = None) -> list[Span]:
    """The spans stored in a trace's ``spans`` column.

    Args:
        trace_id: the trace's id.
        blob: the column's value.
        inputs: the root span's inputs (decoded), for the root's short array.
        outputs: the root span's outputs (decoded).

    Returns:
        The spans in stored order.
    """
    out = []
    for item in json.loads(unpack(blob)):
        attrs = item[8] if isinstance(item[8], dict) else {}
        attrs[SPAN_KIND] = item[3]
        if len(item) >= 12:
            span_in, span_out = item[10], item[11]
        else:
            span_in, span_out = inputs, outputs
        out.append(Span(
            trace_id=trace_id, span_id=item[0], parent_id=item[1], name=item[2], kind=item[3],
            start_ns=item[4], end_ns=item[5], status=item[6], status_message=item[7],
            attributes=attrs, inputs=span_in, outputs=span_out, events=_events(item[9]),
        ))
    return out


def parents_first(spans: list[Span]) -> tuple[Span, ...]:
    """Spans ordered depth-first from the roots, siblings by start time."""
    ids = {s.span_id for s in spans}
    children: dict[str | None, list[Span]] = {}
    for span in sorted(spans, key=lambda s: (s.start_ns, s.span_id)):
        parent = span.parent_id if span.parent_id in ids else None
        children.setdefault(parent, []).append(span)
    out: list[Span] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        span = stack.pop()
        out.append(span)
        stack.extend(reversed(children.get(span.span_id, [])))
    return tuple(out)
