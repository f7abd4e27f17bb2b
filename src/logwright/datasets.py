"""Describe a dataset a run consumed: name, digest, shape, schema, source.

Works by duck typing on numpy arrays, pandas DataFrames/Series, scipy sparse
matrices, torch tensors and plain lists, without importing any of them. The
digest hashes the shape plus at most the first and last 5,000 rows, so it costs
little on large data.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from logwright.entities import Dataset

_ROWS = 5000


def _shape(data: Any) -> tuple[int, ...] | None:
    shape = getattr(data, "shape", None)
    if shape is not None:
        try:
            return tuple(int(s) for s in shape)
        except (TypeError, ValueError):
            return None
    if isinstance(data, (list, tuple)):
        return (len(data),)
    return None


def _schema(data: Any) -> str | None:
    dtypes = getattr(data, "dtypes", None)
    columns = getattr(data, "columns", None)
    if dtypes is not None and columns is not None:  # pandas DataFrame
        return json.dumps({str(c): str(t) for c, t in zip(columns, dtypes, strict=False)})
    dtype = getattr(data, "dtype", None)
    if dtype is not None:
        name = getattr(data, "name", None)
        key = str(name) if name is not None else "tensor"
        return json.dumps({key: str(dtype)})
    return None


def _sparse_sample_bytes(data: Any) -> bytes:
    """Any scipy sparse format (CSR, CSC, COO, LIL, DIA, DOK, BSR): first and last rows as CSR."""
    try:
        parts = [data[:_ROWS], data[-_ROWS:]]
    except Exception:  # noqa: BLE001 - formats without row slicing (DIA, COO in older scipy)
        csr = data.tocsr()
        parts = [csr[:_ROWS], csr[-_ROWS:]]
    out = []
    for part in parts:
        csr = part.tocsr()
        out += [csr.data.tobytes(), csr.indices.tobytes(), csr.indptr.tobytes()]
    return b"".join(out)


def _sample_bytes(data: Any) -> bytes:
    if hasattr(data, "tocsr") and hasattr(data, "nnz"):  # scipy sparse: read through CSR only
        return _sparse_sample_bytes(data)
    for rows in (lambda d: d.iloc, lambda d: d):  # pandas positional, then arrays
        try:
            head = rows(data)[:_ROWS]
            tail = rows(data)[-_ROWS:]
        except Exception:  # noqa: BLE001 - not sliceable this way
            continue
        parts = []
        for part in (head, tail):
            values = getattr(part, "values", part)
            to_bytes = getattr(values, "tobytes", None)
            if to_bytes is not None and not hasattr(values, "tocsr"):
                try:
                    parts.append(to_bytes())
                    continue
                except Exception:  # noqa: BLE001 - object arrays: fall back to repr
                    pass
            parts.append(repr(values).encode("utf-8", "replace"))
        return b"".join(parts)
    return repr(data).encode("utf-8", "replace")


def describe(
    data: Any,
    name: str | None = None,
    source: str | None = None,
    context: str | None = None,
    targets: Any = None,
) -> Dataset:
    """Build a :class:`Dataset` record for ``data`` (and optional ``targets``)."""
    digest = hashlib.sha256()
    shape = _shape(data)
    digest.update(repr(shape).encode())
    digest.update(_sample_bytes(data))
    if targets is not None:
        digest.update(_sample_bytes(targets))
    shape_text = None if shape is None else json.dumps(list(shape))
    return Dataset(
        name=name or "dataset",
        digest=digest.hexdigest()[:16],
        context=context,
        shape=shape_text,
        schema=_schema(data),
        source=source,
    )
