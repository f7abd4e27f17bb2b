"""Value formatting shared by the HTML templates (as Jinja filters) and the JSON API."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
from typing import Any


def fmt_time(ms: int | None) -> str:
    """Epoch milliseconds as local ``YYYY-MM-DD HH:MM:SS``."""
    if not ms:
        return ""
    return _dt.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def fmt_duration(ms: float | None) -> str:
    """A duration in milliseconds as ``4.2 µs``, ``0.35 ms``, ``3.5 ms``, ``850 ms``, ``12.3 s``,
    ``4m 05s`` or ``2h 03m`` (zero is ``0 ms``; never ``0.00 ms``)."""
    if ms is None:
        return ""
    if ms < 1000:
        if ms >= 10 or ms == 0:
            return f"{ms:.0f} ms"
        if ms < 0.01:  # sub-10-microsecond spans: never "0.00 ms" for something that took time
            return f"{ms * 1000:.1f} µs" if ms >= 0.0001 else "< 0.1 µs"
        return f"{ms:.2f} ms" if ms < 1 else f"{ms:.1f} ms"
    s = ms / 1000
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)}m {int(s % 60):02d}s"
    return f"{int(s // 3600)}h {int(s % 3600 // 60):02d}m"


def fmt_number(value: Any) -> str:
    """A metric value: 4 significant digits for floats, NaN and inf spelled out."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
            return f"{value:.4g}"
        return f"{value:.4f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    return str(value)


def fmt_tokens(trace: dict[str, Any]) -> str:
    """A trace's token counts as ``in / out / total``; ``–`` when it counted none.

    Integrations that record no usage leave the counts empty (None) or zero; both read
    the same, so a DSPy and a LangChain trace without usage look alike.
    """
    counts = [trace.get("input_tokens"), trace.get("output_tokens"), trace.get("total_tokens")]
    if not any(counts):
        return "–"
    return " / ".join("–" if c is None else str(c) for c in counts)


def fmt_json(value: Any) -> str:
    """Pretty JSON for display (strings shown as they are)."""
    if isinstance(value, str):
        return value
    return json.dumps(jsonable(value), indent=2, ensure_ascii=False, default=str)


def jsonable(obj: Any) -> Any:
    """Plain JSON data: dataclasses as dicts; NaN and infinities as ``"NaN"``/``"Infinity"``."""
    if isinstance(obj, float):
        if math.isnan(obj):
            return "NaN"
        if math.isinf(obj):
            return "Infinity" if obj > 0 else "-Infinity"
        return obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    return obj


def fmt_bytes(size: int | None) -> str:
    """A file size as ``512 B``, ``3.4 KB``, ``12.0 MB``."""
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(size)


def short_source(source: str | None) -> str:
    """The file name of a run's source path."""
    if not source:
        return ""
    return source.replace("\\", "/").rsplit("/", 1)[-1]


FILTERS = {
    "fmt_time": fmt_time,
    "fmt_duration": fmt_duration,
    "fmt_number": fmt_number,
    "fmt_json": fmt_json,
    "short_source": short_source,
    "fmt_bytes": fmt_bytes,
    "fmt_tokens": fmt_tokens,
}
