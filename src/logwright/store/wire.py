"""The wire format between the HTTP client store and ``logwright server``.

Two kinds of payload:

- **Write batches** (``POST /api/v1/writes``): the writer's operation tuples as
  JSON arrays (``NaN``/``Infinity`` allowed), gzip-compressed, with the client's id and
  the batch's sequence number so a retried batch is applied once. A trace operation
  carries its encoded :class:`~logwright.tracing.records.TraceRecord` (spans base64)
  instead of the live trace state; :class:`RemoteTrace` gives the server's store the
  same ``to_record()``/``late_record()`` face.
- **Calls** (``POST /api/v1/store/{method}``): arguments and results of every other
  Store protocol method, where entities, ``store.base`` dataclasses, tuples, bytes and
  arrays travel as ``{"__t": type, "v": ...}`` objects (:func:`encode`/:func:`decode`).
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import json
import sys
from array import array
from collections.abc import Sequence
from typing import Any

from logwright import entities
from logwright.store import base
from logwright.tracing.records import TraceRecord

API = "/api/v1"
# Store protocol methods that are not calls: queued writes ride /writes; the rest is local to a process.
NOT_CALLS = frozenset({"flush", "pending", "apply_remote", "last_ingested", "create_run", "update_run",
                       "log_params", "set_tags", "delete_tag", "log_metric", "log_input", "log_trace",
                       "log_late_span", "create_token", "list_tokens", "revoke_token", "check_token"})
_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        entities.Experiment, entities.Metric, entities.Param, entities.RunTag, entities.Dataset,
        entities.FileInfo, entities.RunInfo, entities.RunData, entities.Run, entities.SpanEvent,
        entities.Span, entities.TraceInfo, entities.Trace, entities.ModelVersion, entities.RegisteredModel,
        base.RunOwner, base.RunRecord, base.RunRow, base.RunsPage,
    )
}
# Operation kinds a client may send, with their tuple lengths (see store/sqlite_writes.py).
OP_ARITY = {"run": 15, "run_update": 3, "param": 4, "tag": 4, "metric": 6, "input": 8, "heartbeat": 3,
            "trace": 2, "late_span": 3}


def calls() -> frozenset[str]:
    """The Store protocol methods a client runs on the server through ``/api/v1/store/{method}``."""
    return frozenset(name for name in dir(base.Store) if not name.startswith("_")
                     and callable(getattr(base.Store, name)) and name not in NOT_CALLS)


def register(cls: type) -> type:
    """Let a dataclass travel in calls (for protocol methods added beside this module)."""
    _TYPES[cls.__name__] = cls
    return cls


def encode(obj: Any) -> Any:
    """A JSON-ready form of a call's argument or result (see the module docstring)."""
    if obj is None or isinstance(obj, (str, bool, int, float)):
        return obj
    if isinstance(obj, list):
        return [encode(x) for x in obj]
    if isinstance(obj, dict):
        if all(type(k) is str for k in obj) and "__t" not in obj:
            return {k: encode(v) for k, v in obj.items()}
        return {"__t": "dict", "v": [[encode(k), encode(v)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        name = type(obj).__name__
        if hasattr(obj, "_fields") and name in _TYPES:  # by field name: an order change stays compatible
            return {"__t": name, "v": {k: encode(v) for k, v in zip(obj._fields, obj, strict=True)}}
        return {"__t": "tuple", "v": [encode(x) for x in obj]}
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return {"__t": "bytes", "v": base64.b64encode(bytes(obj)).decode("ascii")}
    if isinstance(obj, array):
        return {"__t": "array", "c": obj.typecode, "v": base64.b64encode(obj.tobytes()).decode("ascii")}
    if dataclasses.is_dataclass(obj) and type(obj).__name__ in _TYPES:
        return {"__t": type(obj).__name__,
                "v": {f.name: encode(getattr(obj, f.name)) for f in dataclasses.fields(obj)}}
    if isinstance(obj, (set, frozenset)):
        return [encode(x) for x in obj]
    raise TypeError(f"cannot send a {type(obj).__name__} to the tracking server")


def decode(obj: Any) -> Any:
    """The value :func:`encode` made ``obj`` from."""
    if isinstance(obj, list):
        return [decode(x) for x in obj]
    if not isinstance(obj, dict):
        return obj
    kind = obj.get("__t")
    if kind is None:
        return {k: decode(v) for k, v in obj.items()}
    value = obj["v"]
    if kind == "tuple":
        return tuple(decode(x) for x in value)
    if kind == "dict":
        return {decode(k): decode(v) for k, v in value}
    if kind == "bytes":
        return base64.b64decode(value)
    if kind == "array":
        out = array(obj["c"])
        out.frombytes(base64.b64decode(value))
        return out
    cls = _TYPES.get(kind)
    if cls is None:
        raise ValueError(f"unknown type {kind!r} in a tracking server message")
    if isinstance(value, list):
        return cls(*(decode(x) for x in value))
    fields = {k: decode(v) for k, v in value.items()}
    for f in dataclasses.fields(cls) if dataclasses.is_dataclass(cls) else ():  # tuples travel as lists
        if isinstance(fields.get(f.name), list) and "tuple" in str(f.type):
            fields[f.name] = tuple(fields[f.name])
    return cls(**fields)


def dumps(obj: Any) -> bytes:
    """Compact JSON bytes (``NaN`` allowed: both ends are Python)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")


def loads(data: bytes) -> Any:
    """Parse JSON bytes made by :func:`dumps`."""
    return json.loads(data.decode("utf-8", "surrogatepass"))


# -- write batches -------------------------------------------------------------------


def encode_ops(ops: Sequence[tuple]) -> list[list]:
    """Write operations as JSON arrays; trace states become their encoded records."""
    out: list[list] = []
    for op in ops:
        kind = op[0]
        if kind == "trace":
            out.append(["trace", _record_json(op[1].to_record())])
        elif kind == "late_span":
            state, span = op[1], op[2]
            data, tokens = state.late_record(span)
            out.append(["late_span", _record_json(state.to_record()),
                        [base64.b64encode(data).decode("ascii"), list(tokens)]])
        elif kind == "heartbeat":
            out.append(["heartbeat", op[1], list(op[2])])
        else:
            out.append(list(op))
    return out


def batch_body(client_id: str, seq: int, ops: Sequence[tuple]) -> bytes:
    """The gzip-compressed body of ``POST /api/v1/writes``.

    Metric points travel as columns per (run, key): little-endian int64 steps, float64
    values (NaN and infinities bit-exact) and int64 timestamps, base64; a step of None
    (the next one, numbered at commit) is flagged in an ``auto`` byte column. Every
    other operation is a JSON array (:func:`encode_ops`).
    """
    series: dict[tuple[str, str], tuple[list, list, list]] = {}
    rest: list[tuple] = []
    for op in ops:
        if op[0] == "metric":
            found = series.get((op[1], op[2]))
            if found is None:
                found = series[(op[1], op[2])] = ([], [], [])
            found[0].append(op[5])
            found[1].append(op[3])
            found[2].append(op[4])
        else:
            rest.append(op)
    metrics = [_metric_columns(run_id, key, *cols) for (run_id, key), cols in series.items()]
    body = {"client": client_id, "seq": seq, "ops": encode_ops(rest), "metrics": metrics}
    return gzip.compress(dumps(body), compresslevel=1)


def _b64(data: array) -> str:
    if sys.byteorder != "little":
        data.byteswap()
    return base64.b64encode(data.tobytes()).decode("ascii")


def _metric_columns(run_id: str, key: str, steps: list, values: list, stamps: list) -> list:
    auto = None
    if None in steps:
        auto = base64.b64encode(bytes(s is None for s in steps)).decode("ascii")
        steps = [0 if s is None else s for s in steps]
    return [run_id, key, _b64(array("q", steps)), _b64(array("d", values)), _b64(array("q", stamps)), auto]


def _column(text: str, code: str) -> array:
    out = array(code)
    out.frombytes(base64.b64decode(text))
    if sys.byteorder != "little":
        out.byteswap()
    return out


def decode_metrics(raw: list) -> list[tuple]:
    """The metric operations of a batch's columns (see :func:`batch_body`).

    Raises:
        ValueError: columns of different lengths or of the wrong types.
    """
    ops: list[tuple] = []
    for item in raw:
        if not isinstance(item, list) or len(item) != 6 or not all(isinstance(x, str) for x in item[:5]):
            raise ValueError(f"not a metric column set: {str(item)[:200]}")
        run_id, key = item[0], item[1]
        steps, values, stamps = _column(item[2], "q"), _column(item[3], "d"), _column(item[4], "q")
        auto = base64.b64decode(item[5]) if item[5] else None
        if not len(steps) == len(values) == len(stamps) or (auto is not None and len(auto) != len(steps)):
            raise ValueError(f"metric columns of {key!r} differ in length")
        if auto is None:
            ops.extend(("metric", run_id, key, v, t, s) for s, v, t in zip(steps, values, stamps, strict=True))
        else:
            ops.extend(("metric", run_id, key, v, t, None if a else s)
                       for s, v, t, a in zip(steps, values, stamps, auto, strict=True))
    return ops


def decode_ops(raw: list) -> list[tuple]:
    """Operations received from a client, checked for kind and shape.

    Raises:
        ValueError: an operation of an unknown kind or the wrong length.
    """
    ops: list[tuple] = []
    for item in raw:
        if not isinstance(item, list) or not item or OP_ARITY.get(item[0]) != len(item):
            raise ValueError(f"not a write operation: {str(item)[:200]}")
        kind = item[0]
        if kind == "trace":
            ops.append(("trace", RemoteTrace(_record_from(item[1]))))
        elif kind == "late_span":
            data, tokens = item[2]
            trace = RemoteTrace(_record_from(item[1]))
            ops.append(("late_span", trace, (base64.b64decode(data), tuple(tokens))))
        elif kind == "heartbeat":
            ops.append(("heartbeat", item[1], tuple(item[2])))
        else:
            ops.append(tuple(item))
    return ops


def _record_json(record: TraceRecord) -> list:
    spans = record.spans
    return [*record[:13], base64.b64encode(spans).decode("ascii") if spans is not None else None,
            [list(t) for t in record.tags]]


def _record_from(raw: list) -> TraceRecord:
    if not isinstance(raw, list) or len(raw) != len(TraceRecord._fields):
        raise ValueError("not a trace record")
    spans = base64.b64decode(raw[13]) if raw[13] is not None else None
    return TraceRecord(*raw[:13], spans, [(str(k), str(v)) for k, v in raw[14]])


class RemoteTrace:
    """A trace received from a client: what the store's trace writes read of a trace state."""

    __slots__ = ("record", "trace_id", "approx_bytes")

    def __init__(self, record: TraceRecord) -> None:
        self.record = record
        self.trace_id = record.trace_id
        self.approx_bytes = 256 + len(record.spans or b"") + len(record.inputs or "") + len(record.outputs or "")

    def to_record(self) -> TraceRecord:
        """The encoded trace, as the client made it."""
        return self.record

    def late_record(self, span: tuple[bytes, tuple]) -> tuple[bytes, tuple]:
        """A late span arrives already encoded: (UTF-8 JSON array, tokens)."""
        return span
