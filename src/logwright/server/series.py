"""Metric series for charts: raw when short, min/max-downsampled when long.

A series longer than ``max_points`` is cut into ``max_points / 2`` buckets of
consecutive points; each bucket contributes its minimum and its maximum at their
own steps, in step order, so spikes and dips survive downsampling (the min/max
decimation oscilloscopes use). With numpy installed, the stored chunks are read
straight into numpy arrays and decimated with vectorized argmin/argmax (a million
points in a few milliseconds); without it, the pure-Python path does the same with
C-level ``min``/``max``/``index`` on array slices.
"""

from __future__ import annotations

import logging
import math
from array import array
from bisect import bisect_left, bisect_right
from typing import Any

from logwright.store.base import Store

_logger = logging.getLogger(__name__)

DEFAULT_MAX_POINTS = 2000


def _finite(values: list[float]) -> list[float | None]:
    """Values for JSON: NaN and infinities become None (a gap in the curve)."""
    if not values or math.isfinite(sum(values)):
        return values  # type: ignore[return-value]
    return [v if math.isfinite(v) else None for v in values]


def _bucket_extremes(vals: array, a: int, b: int) -> list[int]:
    """Indices of the min and max of ``vals[a:b]`` (NaN ignored), in index order."""
    chunk = vals[a:b]
    if not math.isnan(sum(chunk)):
        lo, hi = chunk.index(min(chunk)), chunk.index(max(chunk))
    else:
        good = [i for i, v in enumerate(chunk) if not math.isnan(v)]
        if not good:
            return [a]  # all NaN: keep one point, drawn as a gap
        lo = min(good, key=chunk.__getitem__)
        hi = max(good, key=chunk.__getitem__)
    return [a + lo] if lo == hi else sorted((a + lo, a + hi))


def downsample(steps: array, vals: array, stamps: array, lo: int, hi: int, max_points: int) -> dict[str, Any]:
    """Points ``lo:hi`` of a series, min/max-decimated to at most ``max_points``."""
    n = hi - lo
    if n <= max_points:
        keep: range | list[int] = range(lo, hi)
    else:
        buckets = max(1, max_points // 2)
        keep = []
        for k in range(buckets):
            a = lo + n * k // buckets
            b = lo + n * (k + 1) // buckets
            if b > a:
                keep += _bucket_extremes(vals, a, b)
    return {
        "steps": [steps[i] for i in keep],
        "values": _finite([vals[i] for i in keep]),
        "timestamps": [stamps[i] for i in keep],
        "downsampled": n > max_points,
        "count": n,
    }


def _numpy() -> Any:
    try:
        import numpy
    except ImportError:
        return None
    return numpy


def _read_numpy(np: Any, store: Store, run_id: str, key: str) -> tuple[Any, Any, Any]:
    """The series as numpy arrays, from the store's little-endian chunks."""
    rows = store.get_metric_blobs(run_id, key)
    steps = np.frombuffer(b"".join(r[0] for r in rows), dtype="<i8")
    vals = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f8")
    stamps = np.frombuffer(b"".join(r[2] for r in rows), dtype="<i8")
    if len(steps) > 1 and bool(np.any(steps[1:] < steps[:-1])):
        order = np.lexsort((stamps, steps))
        steps, vals, stamps = steps[order], vals[order], stamps[order]
    return steps, vals, stamps


def downsample_numpy(np: Any, steps: Any, vals: Any, stamps: Any, lo: int, hi: int, max_points: int) -> dict:
    """:func:`downsample` with numpy: equal buckets, vectorized NaN-skipping argmin/argmax."""
    n = hi - lo
    if n <= max_points:
        idx = np.arange(lo, hi)
    else:
        width = math.ceil(n / max(1, max_points // 2))
        buckets = math.ceil(n / width)
        grid = np.concatenate([vals[lo:hi], np.full(buckets * width - n, np.nan)]).reshape(buckets, width)
        nan = np.isnan(grid)
        i_min = np.argmin(np.where(nan, np.inf, grid), axis=1)
        i_max = np.argmax(np.where(nan, -np.inf, grid), axis=1)
        base = lo + np.arange(buckets) * width
        idx = (np.stack([np.minimum(i_min, i_max), np.maximum(i_min, i_max)], axis=1) + base[:, None]).ravel()
        idx = idx[np.concatenate([[True], idx[1:] != idx[:-1]])]
    values = vals[idx]
    finite = np.isfinite(values)
    return {
        "steps": steps[idx].tolist(),
        "values": values.tolist() if finite.all() else np.where(finite, values, None).tolist(),
        "timestamps": stamps[idx].tolist(),
        "downsampled": n > max_points,
        "count": n,
    }


def metric_series(
    store: Store,
    run_id: str,
    key: str,
    max_points: int = DEFAULT_MAX_POINTS,
    start: int | None = None,
    end: int | None = None,
) -> dict[str, Any]:
    """Chart data for one metric: ``steps``, ``values`` (None for NaN/inf), ``timestamps``.

    Args:
        store: the store to read.
        run_id: the run.
        key: the metric key.
        max_points: upper bound on the points returned.
        start: first step to include (for a zoomed-in view), inclusive.
        end: last step to include, inclusive.

    Returns:
        The series with ``downsampled`` (bool) and ``count`` (raw points in range).
    """
    np = _numpy()
    if np is not None:
        steps, vals, stamps = _read_numpy(np, store, run_id, key)
    else:
        steps, vals, stamps = store.get_metric_series(run_id, key)
    if np is not None:
        lo = 0 if start is None else int(np.searchsorted(steps, start, "left"))
        hi = len(steps) if end is None else int(np.searchsorted(steps, end, "right"))
        return downsample_numpy(np, steps, vals, stamps, lo, max(lo, hi), max_points)
    lo = 0 if start is None else bisect_left(steps, start)
    hi = len(steps) if end is None else bisect_right(steps, end)
    return downsample(steps, vals, stamps, lo, max(lo, hi), max_points)
