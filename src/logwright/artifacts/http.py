"""Artifacts through ``logwright server``: ``http(s)://host:port/api/v1/artifacts/<run_id>``.

A client whose tracking URI is ``http://...`` gets this repository for every run
(:func:`logwright.artifacts.for_uri`), so ``log_artifact``, ``log_model``/``load_model``,
the registry and autolog work unchanged; the server keeps the files in its own
repository (a folder or S3), see :mod:`logwright.server.api_artifacts`.

- Uploads are streamed: a file is the body of one ``PUT`` (sent in 1 MiB blocks with
  its ``Content-Length``), a folder (``log_artifacts``, a model) one ``POST`` of an
  uncompressed tar built on the fly (:mod:`logwright.artifacts._tar`). Nothing is read
  whole into memory.
- Downloads are streamed to a hidden file beside the destination, renamed into place
  once every byte arrived; ``open`` streams from the response.
- A server that cannot be reached (refused, reset, 502/503/504) is retried with
  backoff for ``LOGWRIGHT_HTTP_RETRY`` seconds (30); the whole transfer starts again.
  Then a write raises :class:`~logwright.artifacts.base.ArtifactUploadError` naming
  the path, a read raises OSError. The server's refusals come back as the exception
  the server's repository raised (ValueError, FileExistsError, FileNotFoundError ...).
- :meth:`HttpArtifacts.staged_dir` builds the folder locally; ``replaceable`` is
  asked here, on a sketch of the existing folder (its entry names, the marker with
  its content), and the server publishes the upload with its own repository's
  ``staged_dir`` only while the existing folder still has the fingerprint that was
  approved (:func:`existing_folder`); if it changed meanwhile the check runs again.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import posixpath
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO
from urllib.parse import quote, unquote

from logwright import exceptions
from logwright.artifacts import _tar
from logwright.artifacts._fs import RESERVED, Folder, save_in_scratch, temp_name
from logwright.artifacts._http_requests import Requests, Response, payload
from logwright.artifacts.base import ArtifactUploadError
from logwright.artifacts.local import _file_parts, _plan_tree, _source_file_parts, _warn_skipped, clean_path
from logwright.entities import FileInfo
from logwright.store import wire
from logwright.store.http_transport import ServerUnreachable
from logwright.validation import artifact_path

_logger = logging.getLogger(__name__)

API_PATH = f"{wire.API}/artifacts"
ABSENT = "absent"
"""The fingerprint of a folder that does not exist."""
FILE = "file"
"""The fingerprint of a name that is a file, not a folder."""
CHANGED = "ListingChanged"
"""The error type the server answers when the folder a staged upload replaces changed."""
_BLOCK = 1 << 20
_ERRORS: dict[str, type[BaseException]] = {
    cls.__name__: cls for cls in (ValueError, TypeError, FileExistsError, FileNotFoundError, IsADirectoryError,
                                  NotADirectoryError, exceptions.RunDeleted)
}


def existing_folder(repo: Any, rel: str, marker: str | None) -> tuple[str, list[FileInfo], bytes | None]:
    """(fingerprint, entries, marker content) of the folder ``rel`` in ``repo``.

    The fingerprint is :data:`ABSENT`, :data:`FILE`, or a digest of the folder's entry
    names (folder or file) and the marker file's bytes: the client and the server
    compute it the same way, through whatever repository they hold.
    """
    kind = repo.kind(rel)
    if kind != "dir":
        return (ABSENT if kind is None else FILE), [], None
    entries = repo.list(rel)
    names = sorted([posixpath.basename(e.path), e.is_dir] for e in entries)
    data = None
    if marker is not None and [marker, False] in names:
        with repo.open(f"{rel}/{marker}") as fh:
            data = fh.read()
    digest = hashlib.sha256(json.dumps(names).encode("utf-8"))
    if data is not None:
        digest.update(b"\0" + data)
    return digest.hexdigest(), entries, data


class HttpArtifacts:
    """A run's artifacts (or a folder of them) behind a tracking server.

    Args:
        root: ``<server url>/api/v1/artifacts/<run_id>`` (optionally ``/<folder>``).

    Raises:
        ValueError: ``root`` names no run under ``/api/v1/artifacts/``.
    """

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/")
        base, sep, rest = self.root.partition(API_PATH + "/")
        run_id, _, sub = rest.partition("/")
        if not sep or not run_id:
            raise ValueError(f"artifact location {root!r} names no run: expected <server>{API_PATH}/<run_id>")
        self.run_id = unquote(run_id)
        self._base = artifact_path(unquote(sub))
        self._requests = Requests(base)

    def __repr__(self) -> str:
        return f"HttpArtifacts({self.root!r})"

    # -- addressing -----------------------------------------------------------------

    def _full(self, rel: str) -> str:
        """``rel`` (relative to this repository) relative to the run's root."""
        return f"{self._base}/{rel}".strip("/") if self._base else rel

    def _local(self, full: str) -> str:
        """A run-relative path from the server, relative to this repository."""
        return full[len(self._base) + 1:] if self._base else full

    def _url(self, full: str, query: str = "") -> str:
        path = f"{API_PATH}/{quote(self.run_id, safe='')}/{quote(full, safe='/')}"
        return f"{path}?{query}" if query else path

    def path(self, relative: str | None = None) -> str:
        """The URL of ``relative`` on the server (checked as a name)."""
        rel = artifact_path(relative)
        return f"{self.root}/{quote(rel, safe='/')}".rstrip("/")

    def _refused(self, status: int, data: bytes, shown: str, writing: bool) -> BaseException:
        """The exception for the server's non-200 answer about ``shown``."""
        answer = payload(data)
        message = str(answer.get("error") or f"the server answered {status}")
        kind = str(answer.get("type", ""))
        if kind == "RunNotFound":
            return exceptions.RunNotFound(self.run_id)
        if kind == CHANGED:
            return _Changed(message)
        if status < 500 and kind in _ERRORS and status not in (401, 403):
            cls = _ERRORS[kind]
            return cls(self.run_id) if cls is exceptions.RunDeleted else cls(message)
        if writing:
            return ArtifactUploadError(f"could not store artifact {shown} in {self.root}: {message} ({status})")
        if status in (401, 403):
            return PermissionError(f"cannot read artifact {shown} in {self.root}: {message} ({status})")
        return OSError(f"cannot read artifact {shown} in {self.root}: {message} ({status})")

    def _run_known(self, attempt: Callable[[], Any]) -> Any:
        """``attempt()``; when the server does not know the run yet, again once this process's writes are sent."""
        try:
            return attempt()
        except exceptions.RunNotFound:
            if not self._requests.flush_writes():
                raise
        return attempt()

    def _get_json(self, full: str, query: str, shown: str) -> dict[str, Any]:
        def attempt() -> dict[str, Any]:
            try:
                status, data = self._requests.get(self._url(full, query))
            except ServerUnreachable as exc:
                raise OSError(f"cannot read artifact {shown} in {self.root}: {exc}") from exc
            if status != 200:
                raise self._refused(status, data, shown, writing=False)
            return payload(data)

        return self._run_known(attempt)

    def _upload(self, method: str, full: str, query: str, body: Callable[[], Iterable[bytes]], size: int,
                headers: dict[str, str] | None = None) -> dict[str, Any]:
        """Stream ``body()`` (a fresh iterable per attempt) as ``method`` to ``full``; the answer's JSON."""
        shown = repr(self._local(full) or ".")
        url = self._url(full, query)

        def attempt() -> dict[str, Any]:
            try:
                status, data = self._requests.send(method, url, body, size, headers or {})
            except ServerUnreachable as exc:
                raise ArtifactUploadError(f"could not store artifact {shown} in {self.root}: cannot reach the "
                                          f"tracking server ({exc}); nothing was stored") from exc
            if status != 200:
                raise self._refused(status, data, shown, writing=True)
            return payload(data)

        return self._run_known(attempt)

    def _open_raw(self, full: str, shown: str) -> Response:
        """The file's streamed answer; ServerUnreachable once the retries are spent."""
        status, data, conn, response = self._requests.open(self._url(full))
        if status != 200 or conn is None or response is None:
            raise self._refused(status, data, shown, writing=False)
        return Response(conn, response, shown)

    # -- writing --------------------------------------------------------------------

    def _put_file(self, rel: str, local_path: str, query: str = "") -> str:
        st = os.stat(local_path)
        headers = {"Content-Type": "application/octet-stream", "X-Logwright-Mode": oct(st.st_mode & 0o777),
                   "X-Logwright-Mtime": str(st.st_mtime)}
        self._upload("PUT", self._full(rel), query, lambda: _tar._file_blocks(local_path, st.st_size),
                     st.st_size, headers)
        return rel

    def write_bytes(self, artifact_file: str, data: bytes) -> str:
        """Store ``data`` as ``artifact_file``; returns the relative path."""
        rel, _, _ = _file_parts(artifact_file)
        view = memoryview(data)
        self._upload("PUT", self._full(rel), "", lambda: (view[i : i + _BLOCK] for i in range(0, len(view), _BLOCK)),
                     len(data), {"Content-Type": "application/octet-stream"})
        return rel

    def log_file(self, local_path: str, artifact_dir: str | None = None) -> str:
        """Upload one file (streamed) into ``artifact_dir``; returns its relative path.

        Raises:
            FileNotFoundError: ``local_path`` is not a file.
            ArtifactUploadError: the server could not be reached or could not store it.
        """
        rel, _, _ = _source_file_parts(local_path, artifact_dir)
        return self._put_file(rel, local_path)

    def log_dir(self, local_dir: str, artifact_dir: str | None = None) -> str:
        """Upload a folder's contents into ``artifact_dir`` as one tar stream; the server stores all or none."""
        if not os.path.isdir(local_dir):
            raise FileNotFoundError(f"artifact source {local_dir!r} is not a folder")
        rel = clean_path(artifact_dir)
        src_root = os.path.realpath(local_dir)
        dirs, files, skipped = _plan_tree(src_root, src_root)
        members = []
        for f, src in [*((d, None) for d in dirs), *files]:
            try:
                clean_path(f"{rel}/{f}" if rel else f)
            except ValueError as exc:  # a source name that is no legal artifact name
                skipped.append(f"{f!r} ({exc})")
                continue
            members.append(_tar.member(f, src))
        _warn_skipped(f"log_artifacts({local_dir!r})", skipped)
        self._upload("POST", self._full(rel), "mode=merge", lambda: _tar.stream(members), _tar.length(members),
                     {"Content-Type": "application/x-tar"})
        return rel

    def write_via(self, artifact_file: str, save: Callable[[str], None]) -> str:
        """Save with a path-only tool into a private local folder, then upload the file."""
        rel, _, name = _file_parts(artifact_file)
        save_in_scratch(rel, name, save, self._put_file)
        return rel

    def write_shared(self, artifact_file: str, data: bytes, shared_dir: str) -> str:
        """Write content many runs repeat: the server keeps one copy in its own ``.shared`` folder.

        ``shared_dir`` (the client's view of it) is not used: the server decides.
        """
        rel, _, _ = _file_parts(artifact_file)
        self._upload("PUT", self._full(rel), "shared=1", lambda: [data], len(data),
                     {"Content-Type": "application/octet-stream"})
        return rel

    def _approve(self, rel: str, scratch: str, replaceable: Callable[[str], bool], marker: str | None) -> str:
        """The fingerprint of the folder at ``rel`` once ``replaceable`` accepted it (or raise)."""
        fingerprint, entries, data = existing_folder(self, rel, marker)
        if fingerprint == FILE:
            raise FileExistsError(f"artifact path {rel!r} is an existing file")
        if fingerprint == ABSENT:
            return fingerprint
        sketch = tempfile.mkdtemp(prefix="existing-", dir=scratch)
        for info in entries:
            name = posixpath.basename(info.path)
            if info.is_dir:
                os.makedirs(os.path.join(sketch, name), exist_ok=True)
            else:
                with open(os.path.join(sketch, name), "wb") as fh:
                    fh.write(data if name == marker and data is not None else b"")
        if not replaceable(sketch):
            raise FileExistsError(f"artifact path {rel!r} is an existing folder that this would replace; "
                                  "choose another name")
        return fingerprint

    @contextlib.contextmanager
    def staged_dir(self, artifact_dir: str, replaceable: Callable[[str], bool],
                   marker: str | None = None) -> Iterator[Folder]:
        """Build ``artifact_dir`` in a local folder; the server swaps it in once it is uploaded.

        Raises:
            ValueError: the path is illegal.
            FileExistsError: ``artifact_dir`` is a file, or a folder ``replaceable`` refuses.
            ArtifactUploadError: the upload failed (nothing was published).
        """
        rel = clean_path(artifact_dir)
        if not rel:
            raise ValueError(f"artifact_dir must name a folder inside the run, got {artifact_dir!r}")
        if marker is not None and (not marker or clean_path(marker) != marker or "/" in marker):
            raise ValueError(f"marker must be a file name, got {marker!r}")
        scratch = tempfile.mkdtemp(prefix=RESERVED)
        try:
            self._approve(rel, scratch, replaceable, marker)
            stage = os.path.join(scratch, "stage")
            with Folder.open_root(stage, create=True) as staging:
                yield staging
            self._publish(rel, stage, scratch, replaceable, marker)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _publish(self, rel: str, stage: str, scratch: str, replaceable: Callable[[str], bool],
                 marker: str | None) -> None:
        dirs, files, skipped = _plan_tree(stage, stage, hide_reserved=True)
        _warn_skipped(f"upload of {rel!r}", skipped)
        members = [_tar.member(d, None) for d in dirs] + [_tar.member(f, src) for f, src in files]
        query = "mode=replace" + (f"&marker={quote(marker, safe='')}" if marker else "")
        for _ in range(3):
            fingerprint = self._approve(rel, scratch, replaceable, marker)
            try:
                self._upload("POST", self._full(rel), query, lambda: _tar.stream(members), _tar.length(members),
                             {"Content-Type": "application/x-tar", "X-Logwright-Existing": fingerprint})
                return
            except _Changed:
                continue
        raise FileExistsError(f"artifact path {rel!r} kept changing on the server while it was being replaced")

    # -- reading --------------------------------------------------------------------

    def _stat(self, rel: str, shown: str) -> dict[str, Any]:
        return self._get_json(self._full(rel), "stat=1", shown)

    def list(self, relative: str | None = None) -> list[FileInfo]:
        """Files and folders directly inside ``relative``, folders first, by name."""
        rel = artifact_path(relative)
        found = self._get_json(self._full(rel), "list=1", repr(rel or "."))
        return [FileInfo(self._local(f["path"]), bool(f["is_dir"]), f.get("file_size")) for f in found["files"]]

    def _walk(self, rel: str) -> list[FileInfo]:
        found = self._get_json(self._full(rel), "walk=1", repr(rel or "."))
        return [FileInfo(self._local(f["path"]), False, f.get("file_size")) for f in found["files"]]

    def walk(self) -> list[FileInfo]:
        """Every file under this repository's root, by path."""
        return self._walk("")

    def kind(self, relative: str | None) -> str | None:
        """``"file"``, ``"dir"`` or None for ``relative`` (ValueError when illegal)."""
        rel = artifact_path(relative)
        return self._stat(rel, repr(rel or "."))["kind"]

    def size(self, relative: str) -> int:
        """The size in bytes of an artifact file."""
        rel = artifact_path(relative)
        found = self._stat(rel, repr(rel))
        if found["kind"] != "file":
            raise FileNotFoundError(f"artifact {relative!r} not found in {self.root}")
        return int(found["size"])

    def open(self, relative: str) -> BinaryIO:
        """A streaming reader of an artifact file (FileNotFoundError, ValueError, OSError)."""
        rel = artifact_path(relative)
        if not rel:
            raise FileNotFoundError(f"artifact {relative!r} is not a file")
        try:
            raw = self._run_known(lambda: self._open_raw(self._full(rel), repr(rel)))
        except ServerUnreachable as exc:
            raise OSError(f"cannot read artifact {rel!r} in {self.root}: {exc}") from exc
        return io.BufferedReader(raw, 1 << 16)  # type: ignore[return-value]

    def _fetch(self, rel: str, dest: str) -> None:
        """Stream file ``rel`` to ``dest`` through a hidden file renamed into place when complete."""
        shown = repr(rel)

        def attempt() -> None:
            tmp = os.path.join(os.path.dirname(dest), temp_name("part"))
            with self._open_raw(self._full(rel), shown) as source:
                try:
                    with open(tmp, "wb") as out:
                        got = _copy(source, out)
                    if source.length is not None and got != source.length:
                        raise ServerUnreachable(f"the download stopped after {got} of {source.length} bytes")
                    os.replace(tmp, dest)
                finally:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(tmp)

        os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
        try:
            self._run_known(lambda: self._requests.retrying(attempt))
        except ServerUnreachable as exc:
            raise OSError(f"cannot read artifact {shown} in {self.root}: {exc}") from exc

    def download(self, relative: str, dest_dir: str) -> str:
        """Download an artifact file or folder into ``dest_dir`` (streamed); returns the local path."""
        rel = artifact_path(relative)
        kind = self.kind(rel)
        if kind is None:
            raise FileNotFoundError(f"artifact {relative!r} not found in {self.root}")
        dest = os.path.join(dest_dir, posixpath.basename(rel) or posixpath.basename(self._base) or self.run_id)
        if kind == "file":
            self._fetch(rel, dest)
            return dest
        os.makedirs(dest, exist_ok=True)
        base = f"{rel}/" if rel else ""
        for info in self._walk(rel):
            inner = artifact_path(info.path[len(base):])  # a server's path never leaves dest
            if not info.path.startswith(base) or not inner or inner.startswith("../"):
                raise ValueError(f"the server listed {info.path!r} under {rel!r}")
            self._fetch(info.path, os.path.join(dest, *inner.split("/")))
        return dest

    def local_dir(self, relative: str) -> str:
        """Download the folder ``relative`` into a fresh temporary folder; returns its path."""
        return self.download(relative, tempfile.mkdtemp(prefix="logwright-artifacts-"))


def _copy(source: Response, out: BinaryIO) -> int:
    """Copy ``source`` to ``out`` in blocks; returns the byte count."""
    got = 0
    buffer = bytearray(_BLOCK)
    view = memoryview(buffer)
    while True:
        n = source.readinto(view)
        if not n:
            return got
        out.write(view[:n])
        got += n


class _Changed(FileExistsError):
    """The folder a staged upload replaces changed on the server after it was approved."""
