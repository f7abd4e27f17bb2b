"""Artifact previews beyond plain text: Parquet tables, model folders and their load snippet.

Used by :mod:`logwright.server.views.artifacts`. Nothing here raises for a broken file:
each preview says what it could not read instead.
"""

from __future__ import annotations

import io
import json
import posixpath
from typing import Any

from logwright.artifacts import LocalArtifacts
from logwright.artifacts.base import read_head
from logwright.models import METADATA_FILE

PARQUET_ROWS = 200
PARQUET_MAX_BYTES = 64 * 1024 * 1024  # read whole from object storage up to this size
_CELL_CHARS = 500


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= _CELL_CHARS else text[: _CELL_CHARS - 1] + "…"


def parquet_preview(repo: Any, rel: str) -> dict[str, Any]:
    """The first rows of a Parquet file: ``header``, ``types``, ``rows`` (text cells), ``total_rows``.

    Returns a preview of kind ``error`` (with ``error``) when pyarrow is missing or the
    file cannot be read as Parquet.
    """
    out: dict[str, Any] = {"kind": "table", "format": "parquet", "truncated": False}
    try:
        import pyarrow.parquet as pq
    except ImportError:
        return {**out, "kind": "error", "error": "Parquet previews need pyarrow (pip install pyarrow); download it"}
    try:
        if isinstance(repo, LocalArtifacts):
            source: Any = repo.path(rel)
        else:
            if repo.size(rel) > PARQUET_MAX_BYTES:
                return {**out, "kind": "error",
                        "error": f"over {PARQUET_MAX_BYTES // 1024 // 1024} MB in object storage: download it"}
            source = io.BytesIO(read_head(repo, rel, PARQUET_MAX_BYTES))
        parquet = pq.ParquetFile(source)
        schema = parquet.schema_arrow
        batch = next(parquet.iter_batches(batch_size=PARQUET_ROWS), None)
    except (OSError, ValueError, StopIteration) as exc:
        return {**out, "kind": "error", "error": f"cannot read this Parquet file: {exc}"}
    except Exception as exc:  # noqa: BLE001 - pyarrow's own errors (ArrowInvalid, ...) for a corrupt file
        return {**out, "kind": "error", "error": f"cannot read this Parquet file: {type(exc).__name__}: {exc}"}
    rows = batch.to_pylist() if batch is not None else []
    total = parquet.metadata.num_rows
    out["header"] = list(schema.names)
    out["types"] = [str(t) for t in schema.types]
    out["rows"] = [[_cell(row.get(name)) for name in schema.names] for row in rows]
    out["total_rows"] = total
    out["truncated"] = total > len(rows)
    return out


def holds_model(repo: Any, rel: str) -> bool:
    """True when the folder ``rel`` holds a MODEL.json (a logged model)."""
    try:
        return repo.kind(posixpath.join(rel, METADATA_FILE) if rel else METADATA_FILE) == "file"
    except (OSError, ValueError):
        return False


def _tracking_uri(client: Any) -> str:
    """The store's URI as a user would pass it (a database password is shown as ***)."""
    uri = str(client.tracking_uri or "")
    if "://" in uri and "@" in uri.split("://", 1)[1]:
        return str(client.store.location)
    return uri


def load_snippet(client: Any, run_id: str, path: str) -> str:
    """Python that loads the model in folder ``path`` of run ``run_id`` from the UI's store."""
    model_uri = f"runs:/{run_id}/{path}"
    return (
        "import logwright\n\n"
        f"logwright.set_tracking_uri({_tracking_uri(client)!r})\n"
        f"model = logwright.load_model({model_uri!r})\n"
    )


def registered_versions(client: Any, run_id: str, path: str) -> list[dict[str, Any]]:
    """Registered model versions made from this model folder: ``name``, ``version``, ``uri``, ``aliases``."""
    try:
        versions = client.store.search_model_versions(f"run_id = '{run_id}'")
    except Exception:  # noqa: BLE001 - the registry is an extra here: a page without it beats a 500
        return []
    return [{"name": v.name, "version": v.version, "uri": f"models:/{v.name}/{v.version}",
             "aliases": list(v.aliases)} for v in versions if (v.artifact_path or "").strip("/") == path.strip("/")]


def model_preview(client: Any, repo: Any, run_id: str, rel: str) -> dict[str, Any]:
    """The model card of folder ``rel`` (flavour, versions, signature, requirements) with its load snippet."""
    from logwright.server.views.run import model_card

    card = model_card(repo, rel)
    card["snippet"] = load_snippet(client, run_id, rel)
    card["registered"] = registered_versions(client, run_id, rel)
    card["signature_rows"] = signature_rows(card.get("signature"))
    return card


def signature_rows(signature: dict[str, Any] | None) -> list[dict[str, str]]:
    """``{side, name, type}`` rows of a signature's column or tensor specs, for a table."""
    rows: list[dict[str, str]] = []
    for side in ("inputs", "outputs"):
        spec = (signature or {}).get(side)
        if not isinstance(spec, dict):
            continue
        columns, fields = spec.get("columns"), spec.get("fields")
        if isinstance(fields, dict):
            columns = [{"name": k, "type": v.get("type", "") if isinstance(v, dict) else v} for k, v in fields.items()]
        if isinstance(columns, list):
            for col in columns:
                if isinstance(col, dict):
                    rows.append({"side": side, "name": str(col.get("name", "")), "type": str(col.get("type", ""))})
        else:
            shape = spec.get("shape")
            kind = " ".join(str(x) for x in (spec.get("type"), spec.get("dtype")) if x)
            rows.append({"side": side, "name": "", "type": kind + (f" {shape}" if shape is not None else "")})
    return rows
