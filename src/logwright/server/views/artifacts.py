"""Artifact browser: folder listings, previews (text, JSON, CSV as a table, images), download.

Paths come from the query string and go through ``LocalArtifacts.path``, which
refuses any path that would leave the run's artifact folder (``..``, absolute
paths, symlinks pointing out). Raw files are served with a sandboxing CSP and
``nosniff``, so an HTML or SVG artifact cannot run script in the UI's origin.
"""

from __future__ import annotations

import csv
import io
import json
import mimetypes
import os
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from logwright.exceptions import RunNotFound
from logwright.server.views import bad_request, client_of, not_found

TEMPLATE = "artifacts.html"
PREVIEW_BYTES = 512 * 1024
CSV_ROWS = 500
_TEXT = {".txt", ".log", ".md", ".py", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".sh", ".rst", ".html",
         ".xml", ".jsonl", ".out", ".err", ".ipynb", ".sql", ".js", ".css", ".requirements"}
_IMAGES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".bmp"}
_INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml", "image/bmp"}


def _repo_and_path(request: Request) -> tuple[Any, str, str]:
    client = client_of(request)
    run_id = request.path_params["run_id"]
    try:
        repo = client.artifacts(run_id)
    except RunNotFound:
        raise not_found(f"run {run_id!r}") from None
    rel = request.query_params.get("path", "").strip("/")
    try:
        full = repo.path(rel)
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    return repo, rel, full


def _kind(rel: str, full: str) -> str:
    ext = os.path.splitext(rel)[1].lower()
    if ext in _IMAGES:
        return "image"
    if ext == ".json":
        return "json"
    if ext in (".csv", ".tsv"):
        return "csv"
    if ext in _TEXT or os.path.basename(rel) in ("MLmodel", "requirements.txt", "Dockerfile"):
        return "text"
    with open(full, "rb") as fh:
        head = fh.read(4096)
    return "binary" if b"\x00" in head else "text"


def _read_text(full: str) -> tuple[str, bool]:
    with open(full, "rb") as fh:
        data = fh.read(PREVIEW_BYTES + 1)
    return data[:PREVIEW_BYTES].decode("utf-8", errors="replace"), len(data) > PREVIEW_BYTES


def _preview(rel: str, full: str) -> dict[str, Any]:
    kind = _kind(rel, full)
    out: dict[str, Any] = {"kind": kind, "size": os.path.getsize(full), "truncated": False}
    if kind in ("image", "binary"):
        return out
    text, out["truncated"] = _read_text(full)
    if kind == "json" and not out["truncated"]:
        try:
            out["text"] = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
            return out
        except (ValueError, RecursionError):  # not JSON, or nested too deeply to reformat
            out["kind"] = "text"
    if kind == "csv":
        delimiter = "\t" if rel.lower().endswith(".tsv") else ","
        try:
            rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
        except csv.Error:  # NUL bytes, a field over the csv module's size limit: shown as text
            out["kind"] = "text"
        else:
            out["header"], out["rows"] = (rows[0] if rows else []), rows[1 : CSV_ROWS + 1]
            out["truncated"] = out["truncated"] or len(rows) > CSV_ROWS + 1
            return out
    out["text"] = text
    return out


def _safe_preview(rel: str, full: str) -> dict[str, Any]:
    """:func:`_preview`, or a preview of kind ``error`` saying why the file cannot be read."""
    try:
        return _preview(rel, full)
    except OSError as exc:
        return {"kind": "error", "size": None, "truncated": False,
                "error": f"cannot read this file: {exc.strerror or exc}"}


def _safe_list(repo: Any, rel: str) -> list[Any]:
    try:
        return repo.list(rel)
    except (OSError, ValueError):
        return []


def _crumbs(rel: str) -> list[dict[str, str]]:
    parts = [p for p in rel.split("/") if p]
    return [{"name": p, "path": "/".join(parts[: i + 1])} for i, p in enumerate(parts)]


def data(request: Request) -> dict[str, Any]:
    """A folder's listing, or a file's preview, at ``?path=`` in the run's artifacts."""
    repo, rel, full = _repo_and_path(request)
    run_id = request.path_params["run_id"]
    out: dict[str, Any] = {"run_id": run_id, "path": rel, "crumbs": _crumbs(rel), "entries": [], "file": None}
    if os.path.isdir(full) or not rel:
        out["entries"] = _safe_list(repo, rel)
    elif os.path.isfile(full):
        out["file"] = _safe_preview(rel, full)
        out["entries"] = _safe_list(repo, os.path.dirname(rel))
        out["parent"] = os.path.dirname(rel)
    else:
        raise not_found(f"artifact {rel!r}")
    return out


def raw(request: Request) -> Response:
    """The artifact file itself; ``?download=1`` asks the browser to save it."""
    _, rel, full = _repo_and_path(request)
    if not os.path.isfile(full) or not os.access(full, os.R_OK):
        raise not_found(f"artifact {rel!r}")
    media = mimetypes.guess_type(full)[0] or "application/octet-stream"
    if os.path.splitext(full)[1].lower() in _TEXT:
        media = "text/plain"
    inline = media in _INLINE_TYPES and request.query_params.get("download") != "1"
    if not inline and media.startswith("text/"):
        media = "text/plain"
    headers = {"Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
               "X-Content-Type-Options": "nosniff"}
    return FileResponse(
        full, media_type=media, headers=headers,
        filename=os.path.basename(full), content_disposition_type="inline" if inline else "attachment",
    )
