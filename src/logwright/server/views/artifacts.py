"""Artifact browser: folder listings, previews, download.

Previews: images, text, Markdown (rendered safely, see :mod:`logwright.server.markdown`),
JSON (pretty-printed), CSV/TSV and Parquet (the first rows as a table), HTML (in a
sandboxed iframe, see :func:`sandboxed_html`), and a model folder (one holding
``MODEL.json``) as a card with its flavour, signature and a "load this model" snippet.

Paths come from the query string and go through the run's artifact repository
(:mod:`logwright.artifacts`: a local folder or an ``s3://`` prefix), which refuses
any path that would leave the run's artifacts (``..``, absolute paths, symlinks
pointing out). Raw files are served with a sandboxing CSP and
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
from starlette.responses import FileResponse, Response, StreamingResponse

from logwright.artifacts import LocalArtifacts, for_uri
from logwright.artifacts.base import iter_chunks, read_head
from logwright.server import markdown
from logwright.server.views import bad_request, client_of, not_found, previews
from logwright.server.views.previews import load_snippet

__all__ = ["TEMPLATE", "data", "load_snippet", "raw", "sandboxed_html"]

TEMPLATE = "artifacts.html"
PREVIEW_BYTES = 512 * 1024
CSV_ROWS = 500
_TEXT = {".txt", ".log", ".md", ".markdown", ".py", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".sh", ".rst", ".html",
         ".xml", ".jsonl", ".out", ".err", ".ipynb", ".sql", ".js", ".css", ".requirements"}
_IMAGES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".bmp"}
_HTML = {".html", ".htm"}
_MARKDOWN = {".md", ".markdown"}
_PARQUET = {".parquet", ".pq"}
HTML_MAX_BYTES = 20 * 1024 * 1024
# An HTML artifact runs in an opaque origin (no allow-same-origin): its scripts (a plotly
# figure's) run, but cannot read the UI's pages or cookies, reach the network or navigate the UI.
HTML_CSP = ("sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
            "style-src 'unsafe-inline'; img-src data: blob:; font-src data:; media-src data: blob:; "
            "frame-ancestors 'self'")
_INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml", "image/bmp"}


def _repo_and_path(request: Request) -> tuple[Any, str, str | None]:
    """(repository, relative path, ``"file"``/``"dir"``/None) of the request's ``?path=``."""
    client = client_of(request)
    run_id = request.path_params["run_id"]
    found = client.store.run_exists(run_id)  # deleted runs too: their files stay until `logwright gc`
    if found is None:
        raise not_found(f"run {run_id!r}")
    repo = for_uri(client.store.artifact_dir(found[0], run_id))
    rel = request.query_params.get("path", "").strip("/")
    try:
        kind = repo.kind(rel)
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    except OSError:  # the object store cannot be reached: shown as missing, never a 500
        kind = None
    return repo, rel, kind


def _kind(rel: str, repo: Any) -> str:
    ext = os.path.splitext(rel)[1].lower()
    if ext in _IMAGES:
        return "image"
    if ext == ".json":
        return "json"
    if ext in _PARQUET:
        return "parquet"
    if ext in _HTML:
        return "html"
    if ext in _MARKDOWN:
        return "markdown"
    if ext in (".csv", ".tsv"):
        return "csv"
    if ext in _TEXT or os.path.basename(rel) in ("MLmodel", "requirements.txt", "Dockerfile"):
        return "text"
    return "binary" if b"\x00" in read_head(repo, rel, 4096) else "text"


def _read_text(repo: Any, rel: str) -> tuple[str, bool]:
    data = read_head(repo, rel, PREVIEW_BYTES + 1)
    return data[:PREVIEW_BYTES].decode("utf-8", errors="replace"), len(data) > PREVIEW_BYTES


def _preview(rel: str, repo: Any) -> dict[str, Any]:
    kind = _kind(rel, repo)
    out: dict[str, Any] = {"kind": kind, "size": repo.size(rel), "truncated": False}
    if kind in ("image", "binary", "html"):
        return out
    if kind == "parquet":
        return {**out, **previews.parquet_preview(repo, rel)}
    text, out["truncated"] = _read_text(repo, rel)
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
    if kind == "markdown":
        out["html"] = markdown.render(text)
    return out


def _safe_preview(rel: str, repo: Any) -> dict[str, Any]:
    """:func:`_preview`, or a preview of kind ``error`` saying why the file cannot be read."""
    try:
        return _preview(rel, repo)
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
    repo, rel, kind = _repo_and_path(request)
    run_id = request.path_params["run_id"]
    out: dict[str, Any] = {"run_id": run_id, "path": rel, "crumbs": _crumbs(rel), "entries": [], "file": None,
                           "model": None}
    if kind == "dir" or not rel:
        out["entries"] = _safe_list(repo, rel)
        if previews.holds_model(repo, rel):
            out["model"] = previews.model_preview(client_of(request), repo, run_id, rel)
    elif kind == "file":
        out["file"] = _safe_preview(rel, repo)
        out["entries"] = _safe_list(repo, os.path.dirname(rel))
        out["parent"] = os.path.dirname(rel)
    else:
        raise not_found(f"artifact {rel!r}")
    return out


def raw(request: Request) -> Response:
    """The artifact file itself; ``?download=1`` asks the browser to save it."""
    repo, rel, kind = _repo_and_path(request)
    local = isinstance(repo, LocalArtifacts)
    full = repo.path(rel) if kind == "file" else ""
    if kind != "file" or (local and not os.access(full, os.R_OK)):
        raise not_found(f"artifact {rel!r}")
    name = os.path.basename(full if local else rel)
    media = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if os.path.splitext(name)[1].lower() in _TEXT:
        media = "text/plain"
    inline = media in _INLINE_TYPES and request.query_params.get("download") != "1"
    if not inline and media.startswith("text/"):
        media = "text/plain"
    headers = {"Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
               "X-Content-Type-Options": "nosniff"}
    disposition = "inline" if inline else "attachment"
    if local:
        return FileResponse(full, media_type=media, headers=headers, filename=name,
                            content_disposition_type=disposition)
    try:
        headers["Content-Length"] = str(repo.size(rel))
        chunks = iter_chunks(repo, rel)
        first = next(chunks, b"")  # opens the object now: a read error is a 404, not a broken stream
    except (OSError, ValueError):
        raise not_found(f"artifact {rel!r}") from None
    headers["Content-Disposition"] = _disposition(disposition, name)
    return StreamingResponse(_prepend(first, chunks), media_type=media, headers=headers)


def sandboxed_html(request: Request) -> Response:
    """An HTML artifact for the preview's ``<iframe sandbox="allow-scripts">``, under :data:`HTML_CSP`.

    Only ``.html``/``.htm`` files up to 20 MB; anything else is 404 (use :func:`raw`).
    """
    repo, rel, kind = _repo_and_path(request)
    if kind != "file" or os.path.splitext(rel)[1].lower() not in _HTML:
        raise not_found(f"HTML artifact {rel!r}")
    try:
        if repo.size(rel) > HTML_MAX_BYTES:
            raise bad_request(f"{rel!r} is over {HTML_MAX_BYTES // 1024 // 1024} MB: download it instead")
        body = read_head(repo, rel, HTML_MAX_BYTES)
    except (OSError, ValueError):
        raise not_found(f"HTML artifact {rel!r}") from None
    headers = {"Content-Security-Policy": HTML_CSP, "X-Content-Type-Options": "nosniff",
               "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
    return Response(body, media_type="text/html; charset=utf-8", headers=headers)


def _prepend(first: bytes, rest: Any) -> Any:
    yield first
    yield from rest


def _disposition(kind: str, filename: str) -> str:
    from urllib.parse import quote

    return f"{kind}; filename*=utf-8''{quote(filename)}"
