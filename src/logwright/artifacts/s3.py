"""Artifacts in S3-compatible object storage, under ``s3://<bucket>/<prefix>/<run_id>/``.

Credentials come from boto3's standard chain (environment, shared config and
credentials files, SSO, instance or container roles); ``AWS_ENDPOINT_URL_S3`` or
``AWS_ENDPOINT_URL`` points it at an S3-compatible server (MinIO, Ceph, Cloudflare R2).
boto3 is imported only when an ``s3://`` location is first used.

- Every request is retried by botocore (standard mode, ``LOGWRIGHT_S3_MAX_ATTEMPTS``
  attempts, default 5); files from ``LOGWRIGHT_S3_MULTIPART_MB`` (default 8) MB go up
  in parts of that size, several at once.
- A call that uploads several files (``log_artifacts``, ``log_model``) either stores
  them all or, when an upload still fails after its retries, deletes what it had
  stored and raises :class:`~logwright.artifacts.base.ArtifactUploadError` naming
  the file and the location.
- :meth:`S3Artifacts.staged_dir` builds a folder locally, uploads it under its final
  prefix and writes the ``marker`` file (a model's ``MODEL.json``) last: a reader that
  takes a folder holding the marker for complete never sees half a model. Replacing a
  model first removes the old marker, then the old model's stale files.
- Objects have no links: paths are only checked as names (``..``, absolute paths,
  control characters and the reserved ``.logwright-`` prefix are refused). A write
  over an existing folder is refused as locally; a file below a name that is already
  a file is not (object keys allow both), unlike a local folder.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import posixpath
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from logwright import config
from logwright.artifacts._fs import RESERVED, Folder, save_in_scratch
from logwright.artifacts.base import ArtifactUploadError
from logwright.artifacts.local import _file_parts, _plan_tree, _source_file_parts, _warn_skipped, clean_path
from logwright.entities import FileInfo
from logwright.validation import artifact_path

_logger = logging.getLogger(__name__)
_lock = threading.Lock()
_clients: dict[tuple, Any] = {}

MAX_ATTEMPTS_VAR = "LOGWRIGHT_S3_MAX_ATTEMPTS"
MULTIPART_MB_VAR = "LOGWRIGHT_S3_MULTIPART_MB"
_CRED_VARS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_PROFILE",
              "AWS_DEFAULT_REGION", "AWS_REGION", MAX_ATTEMPTS_VAR)


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix")``.

    Raises:
        ValueError: not an ``s3://`` URI with a bucket name.
    """
    if not uri.startswith("s3://"):
        raise ValueError(f"{uri!r} is not an s3:// URI")
    bucket, _, prefix = uri[len("s3://"):].partition("/")
    if not bucket:
        raise ValueError(f"artifact URI {uri!r} names no bucket (expected s3://bucket/prefix)")
    return bucket, prefix.strip("/")


def client() -> Any:
    """A boto3 S3 client for the current environment (one per process and settings)."""
    key = (os.getpid(), *(os.environ.get(v) for v in _CRED_VARS))
    found = _clients.get(key)
    if found is not None:
        return found
    with _lock:
        found = _clients.get(key)
        if found is None:
            import boto3
            from botocore.config import Config

            attempts = max(1, int(config.number(MAX_ATTEMPTS_VAR, 5)))
            cfg = Config(retries={"max_attempts": attempts, "mode": "standard"}, connect_timeout=10,
                         read_timeout=120, max_pool_connections=16)
            endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None
            found = _clients[key] = boto3.session.Session().client("s3", endpoint_url=endpoint, config=cfg)
    return found


def transfer_config() -> Any:
    """Multipart settings: parts of ``LOGWRIGHT_S3_MULTIPART_MB`` MB (default 8), 4 at once."""
    from boto3.s3.transfer import TransferConfig

    part = max(5, int(config.number(MULTIPART_MB_VAR, 8))) * 1024 * 1024
    return TransferConfig(multipart_threshold=part, multipart_chunksize=part, max_concurrency=4)


def _status(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", "")) or str(
        response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


def _missing(exc: BaseException) -> bool:
    return _status(exc) in ("404", "NoSuchKey", "NotFound")


class _Body(io.RawIOBase):
    """A readable, closable stream over an S3 object's body."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


class S3Artifacts:
    """A run's artifacts under an S3 prefix.

    Args:
        root: ``s3://bucket/prefix/<run_id>``.
    """

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/")
        self.bucket, self.prefix = split_uri(self.root)
        self._s3 = client()

    def _key(self, rel: str) -> str:
        return f"{self.prefix}/{rel}" if rel and self.prefix else (rel or self.prefix)

    def _dir_key(self, rel: str) -> str:
        key = self._key(rel)
        return f"{key}/" if key else ""

    def path(self, relative: str | None = None) -> str:
        """The ``s3://`` URI of ``relative`` (checked as a name)."""
        rel = artifact_path(relative)
        return f"s3://{self.bucket}/{self._key(rel)}".rstrip("/")

    # -- writing --------------------------------------------------------------------

    def _fail(self, what: str, exc: BaseException) -> ArtifactUploadError:
        return ArtifactUploadError(
            f"could not store {what} in {self.root} (after retries): {exc}")

    def _put_bytes(self, rel: str, data: bytes) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._s3.put_object(Bucket=self.bucket, Key=self._key(rel), Body=data)
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(repr(rel), exc) from exc

    def _put_file(self, rel: str, local_path: str) -> None:
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._s3.upload_file(local_path, self.bucket, self._key(rel), Config=transfer_config())
        except (BotoCoreError, ClientError, S3UploadFailedError) as exc:
            raise self._fail(repr(rel), exc) from exc

    def _refuse_folder(self, rel: str) -> None:
        if self._has_children(rel):
            raise IsADirectoryError(f"artifact path {rel!r} is a folder")

    def write_bytes(self, artifact_file: str, data: bytes) -> str:
        """Store ``data`` as ``artifact_file``; returns the relative path."""
        rel, _, _ = _file_parts(artifact_file)
        self._refuse_folder(rel)
        self._put_bytes(rel, data)
        return rel

    def log_file(self, local_path: str, artifact_dir: str | None = None) -> str:
        """Upload one file into ``artifact_dir`` (multipart when large); returns its relative path."""
        rel, _, _ = _source_file_parts(local_path, artifact_dir)
        self._refuse_folder(rel)
        self._put_file(rel, local_path)
        return rel

    def _upload_all(self, files: list[tuple[str, str]], what: str) -> None:
        """Upload ``(relative, local path)`` pairs in order; on failure delete those stored, re-raise."""
        done: list[str] = []
        try:
            for rel, src in files:
                self._put_file(rel, src)
                done.append(rel)
        except BaseException as exc:
            self._delete([self._key(r) for r in done], quiet=True)
            if isinstance(exc, ArtifactUploadError):
                raise ArtifactUploadError(f"{exc}; {what} was not stored ({len(done)} file(s) already "
                                          "uploaded were deleted again)") from exc.__cause__
            raise

    def log_dir(self, local_dir: str, artifact_dir: str | None = None) -> str:
        """Upload a folder's contents into ``artifact_dir``: all its files, or none of them."""
        if not os.path.isdir(local_dir):
            raise FileNotFoundError(f"artifact source {local_dir!r} is not a folder")
        rel = clean_path(artifact_dir)
        src_root = os.path.realpath(local_dir)
        _, files, skipped = _plan_tree(src_root, src_root)
        planned = []
        for f, src in files:
            try:
                planned.append((clean_path(f"{rel}/{f}" if rel else f), src))
            except ValueError as exc:
                skipped.append(f"{f!r} ({exc})")
        _warn_skipped(f"log_artifacts({local_dir!r})", skipped)
        self._upload_all(planned, f"log_artifacts({local_dir!r})")
        return rel

    def write_via(self, artifact_file: str, save: Callable[[str], None]) -> str:
        """Save with a path-only tool into a private local folder, then upload the file."""
        rel, _, name = _file_parts(artifact_file)
        self._refuse_folder(rel)
        save_in_scratch(rel, name, save, self._put_file)
        return rel

    def write_shared(self, artifact_file: str, data: bytes, shared_dir: str) -> str:
        """A plain write: objects cannot be shared between keys."""
        return self.write_bytes(artifact_file, data)

    def _sketch(self, rel: str, scratch: str, marker: str | None) -> str:
        """A local folder with the existing folder's entry names (and the marker's content)."""
        sketch = tempfile.mkdtemp(prefix="existing-", dir=scratch)
        for info in self.list(rel):
            name = posixpath.basename(info.path)
            if info.is_dir:
                os.makedirs(os.path.join(sketch, name), exist_ok=True)
            elif name == marker:
                with self.open(info.path) as src, open(os.path.join(sketch, name), "wb") as dst:
                    shutil.copyfileobj(src, dst)
            else:
                open(os.path.join(sketch, name), "wb").close()
        return sketch

    def _check_replaceable(self, rel: str, scratch: str, replaceable: Callable[[str], bool],
                           marker: str | None) -> list[str]:
        """Keys of the existing folder at ``rel`` (which ``replaceable`` accepts), or raise."""
        if self._exists(rel):
            raise FileExistsError(f"artifact path {rel!r} is an existing file")
        old = [self._key(f.path) for f in self._walk(rel)]
        if old and not replaceable(self._sketch(rel, scratch, marker)):
            raise FileExistsError(f"artifact path {rel!r} is an existing folder that this would replace; "
                                  "choose another name")
        return old

    @contextlib.contextmanager
    def staged_dir(self, artifact_dir: str, replaceable: Callable[[str], bool],
                   marker: str | None = None) -> Iterator[Folder]:
        """Build ``artifact_dir`` in a local folder, then upload it with ``marker`` last.

        If the block raises, nothing is uploaded; if an upload fails after its retries,
        what was uploaded is deleted and ArtifactUploadError is raised.

        Raises:
            ValueError: the path is illegal.
            FileExistsError: ``artifact_dir`` is a file, or a folder ``replaceable`` refuses.
            ArtifactUploadError: the upload failed.
        """
        rel = clean_path(artifact_dir)
        if not rel:
            raise ValueError(f"artifact_dir must name a folder inside the run, got {artifact_dir!r}")
        scratch = tempfile.mkdtemp(prefix=RESERVED)
        try:
            self._check_replaceable(rel, scratch, replaceable, marker)
            stage = os.path.join(scratch, "stage")
            with Folder.open_root(stage, create=True) as staging:
                yield staging
            old = self._check_replaceable(rel, scratch, replaceable, marker)
            self._publish(rel, stage, old, marker)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _publish(self, rel: str, stage: str, old: list[str], marker: str | None) -> None:
        _, files, skipped = _plan_tree(stage, stage, hide_reserved=True)
        _warn_skipped(f"upload of {rel!r}", skipped)
        last = [(f, s) for f, s in files if f == marker]
        planned = [(f"{rel}/{f}", s) for f, s in files if f != marker] + [(f"{rel}/{f}", s) for f, s in last]
        if marker is not None and self._dir_key(rel) + marker in old:
            self._delete([self._dir_key(rel) + marker])  # the old folder stops being complete first
        body, tail = (planned[:-1], planned[-1:]) if last else (planned, [])
        self._upload_all(body, f"folder {rel!r}")
        new = {self._key(r) for r, _ in planned}
        self._delete([k for k in old if k not in new], quiet=True)
        try:
            self._upload_all(tail, f"folder {rel!r}")
        except BaseException:
            self._delete([self._key(r) for r, _ in body], quiet=True)
            raise

    def _delete(self, keys: list[str], quiet: bool = False) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        for i in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[i : i + 1000]]
            try:
                self._s3.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
            except (BotoCoreError, ClientError) as exc:
                if not quiet:
                    raise self._fail(f"the removal of {len(batch)} object(s)", exc) from exc
                _logger.warning("logwright: could not delete %d object(s) under %s: %s", len(batch), self.root, exc)

    # -- reading --------------------------------------------------------------------

    def _read_error(self, rel: str, exc: BaseException) -> OSError:
        return OSError(f"cannot read artifact {rel!r} in {self.root}: {exc}")

    def _pages(self, prefix: str, delimiter: bool) -> Iterator[dict[str, Any]]:
        from botocore.exceptions import BotoCoreError, ClientError

        kw = {"Bucket": self.bucket, "Prefix": prefix, **({"Delimiter": "/"} if delimiter else {})}
        try:
            yield from self._s3.get_paginator("list_objects_v2").paginate(**kw)
        except (BotoCoreError, ClientError) as exc:
            raise self._read_error(prefix, exc) from exc

    def _rel(self, key: str) -> str:
        return key[len(self._dir_key("")):]

    def list(self, relative: str | None = None) -> list[FileInfo]:
        """Files and folders directly inside ``relative``, folders first, by name."""
        rel = artifact_path(relative)
        out: list[FileInfo] = []
        for page in self._pages(self._dir_key(rel), delimiter=True):
            for common in page.get("CommonPrefixes", []):
                path = self._rel(common["Prefix"]).rstrip("/")
                if not posixpath.basename(path).startswith(RESERVED):
                    out.append(FileInfo(path, True, None))
            for obj in page.get("Contents", []):
                path = self._rel(obj["Key"])
                name = posixpath.basename(path)
                if name and not name.startswith(RESERVED):
                    out.append(FileInfo(path, False, obj["Size"]))
        return sorted(out, key=lambda f: (not f.is_dir, f.path))

    def _walk(self, rel: str) -> list[FileInfo]:
        out = []
        for page in self._pages(self._dir_key(rel), delimiter=False):
            for obj in page.get("Contents", []):
                path = self._rel(obj["Key"])
                if path and not path.endswith("/") and not any(p.startswith(RESERVED) for p in path.split("/")):
                    out.append(FileInfo(path, False, obj["Size"]))
        return sorted(out, key=lambda f: f.path)

    def walk(self) -> list[FileInfo]:
        """Every file under the run's prefix, by path."""
        return self._walk("")

    def _head(self, rel: str) -> dict[str, Any] | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self._s3.head_object(Bucket=self.bucket, Key=self._key(rel))
        except ClientError as exc:
            if _missing(exc):
                return None
            raise self._read_error(rel, exc) from exc
        except BotoCoreError as exc:
            raise self._read_error(rel, exc) from exc

    def _exists(self, rel: str) -> bool:
        return bool(rel) and self._head(rel) is not None

    def _has_children(self, rel: str) -> bool:
        for page in self._pages(self._dir_key(rel), delimiter=True):
            return bool(page.get("KeyCount"))
        return False

    def kind(self, relative: str | None) -> str | None:
        """``"file"``, ``"dir"`` (a prefix holding objects) or None."""
        rel = artifact_path(relative)
        if not rel:
            return "dir"
        if self._exists(rel):
            return "file"
        return "dir" if self._has_children(rel) else None

    def size(self, relative: str) -> int:
        """The size in bytes of an artifact file."""
        rel = artifact_path(relative)
        head = self._head(rel) if rel else None
        if head is None:
            raise FileNotFoundError(f"artifact {relative!r} not found in {self.root}")
        return int(head["ContentLength"])

    def open(self, relative: str) -> BinaryIO:
        """A streaming reader of an artifact file."""
        from botocore.exceptions import BotoCoreError, ClientError

        rel = artifact_path(relative)
        if not rel:
            raise FileNotFoundError(f"artifact {relative!r} is not a file")
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=self._key(rel))["Body"]
        except ClientError as exc:
            if _missing(exc):
                raise FileNotFoundError(f"artifact {relative!r} not found in {self.root}") from None
            raise self._read_error(rel, exc) from exc
        except BotoCoreError as exc:
            raise self._read_error(rel, exc) from exc
        return io.BufferedReader(_Body(body), 1 << 16)  # type: ignore[return-value]

    def _get(self, rel: str, dest: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        os.makedirs(os.path.dirname(dest), exist_ok=True)
        try:
            self._s3.download_file(self.bucket, self._key(rel), dest, Config=transfer_config())
        except (BotoCoreError, ClientError) as exc:
            raise self._read_error(rel, exc) from exc

    def download(self, relative: str, dest_dir: str) -> str:
        """Download an artifact file or folder into ``dest_dir``; returns the local path."""
        rel = artifact_path(relative)
        kind = self.kind(rel)
        if kind is None:
            raise FileNotFoundError(f"artifact {relative!r} not found in {self.root}")
        dest = os.path.join(dest_dir, posixpath.basename(rel) or posixpath.basename(self.prefix) or "artifacts")
        if kind == "file":
            self._get(rel, dest)
            return dest
        os.makedirs(dest, exist_ok=True)
        base = f"{rel}/" if rel else ""
        for info in self._walk(rel):
            inner = info.path[len(base):]
            self._get(info.path, os.path.join(dest, *inner.split("/")))
        return dest

    def local_dir(self, relative: str) -> str:
        """Download the folder ``relative`` into a fresh temporary folder; returns its path."""
        return self.download(relative, tempfile.mkdtemp(prefix="logwright-artifacts-"))
