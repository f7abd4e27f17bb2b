"""The artifact repository protocol: what every place a run's files can live provides.

:class:`~logwright.artifacts.local.LocalArtifacts` keeps a run's files in a folder;
:class:`~logwright.artifacts.s3.S3Artifacts` keeps them under a prefix of an
S3-compatible bucket. Every artifact path of the client, the models, the run context,
the web UI and the integrations goes through this protocol, so all of them work with
either. :func:`logwright.artifacts.for_uri` picks the implementation of a location.

Paths are relative to the run's artifact root, ``/``-separated, checked by
:func:`logwright.artifacts.local.clean_path` (writes) or
:func:`logwright.validation.artifact_path` (reads); names starting with
``.logwright-`` are logwright's own and hidden from listings.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, Protocol, runtime_checkable

from logwright.entities import FileInfo
from logwright.exceptions import LogwrightError


class ArtifactUploadError(LogwrightError, OSError):
    """Files could not be stored in the artifact location (after retries); nothing half-written is kept."""


@runtime_checkable
class ArtifactRepository(Protocol):
    """A run's artifacts: a folder or an object-store prefix.

    Attributes:
        root: the run's artifact location (a folder path or a URI such as ``s3://bucket/prefix/run``).
    """

    root: str

    # -- writing --------------------------------------------------------------------

    def write_bytes(self, artifact_file: str, data: bytes) -> str:
        """Write ``data`` as ``artifact_file``; returns the relative path."""

    def log_file(self, local_path: str, artifact_dir: str | None = None) -> str:
        """Copy one local file into ``artifact_dir``; returns its relative path."""

    def log_dir(self, local_dir: str, artifact_dir: str | None = None) -> str:
        """Copy a local folder's contents into ``artifact_dir``; returns the relative path."""

    def write_via(self, artifact_file: str, save: Callable[[str], None]) -> str:
        """Write ``artifact_file`` with a tool that only takes a local path (``savefig``)."""

    def write_shared(self, artifact_file: str, data: bytes, shared_dir: str) -> str:
        """Write content many runs repeat (stored once where the backend can share it)."""

    def staged_dir(self, artifact_dir: str, replaceable: Callable[[str], bool],
                   marker: str | None = None) -> contextlib.AbstractContextManager[Any]:
        """Build a folder in private (a local :class:`~logwright.artifacts._fs.Folder`) and make
        it visible as ``artifact_dir`` only once the block ends without error.

        ``replaceable`` gets a local folder holding the existing folder's entry names
        (empty files and folders, or the real folder where the files are local; plus
        ``marker`` with its content when present) and says whether it may be replaced.
        ``marker`` names the file that makes the folder complete for readers (a model's
        ``MODEL.json``): backends that cannot publish a folder in one step write it last.
        """

    # -- reading --------------------------------------------------------------------

    def list(self, relative: str | None = None) -> list[FileInfo]:
        """Files and folders directly inside ``relative``, folders first, by name."""

    def walk(self) -> list[FileInfo]:
        """Every file under the run's artifacts, by path."""

    def download(self, relative: str, dest_dir: str) -> str:
        """Copy an artifact file or folder into ``dest_dir``; returns the local path."""

    def kind(self, relative: str | None) -> str | None:
        """``"file"``, ``"dir"`` or None (absent) for ``relative``; raises ValueError if illegal."""

    def size(self, relative: str) -> int:
        """The size in bytes of an artifact file."""

    def open(self, relative: str) -> BinaryIO:
        """An artifact file opened for reading in binary (raises FileNotFoundError, ValueError)."""

    def local_dir(self, relative: str) -> str:
        """A local folder holding the artifact folder ``relative`` (downloaded if remote)."""


def read_head(repo: ArtifactRepository, relative: str, limit: int) -> bytes:
    """At most ``limit`` bytes from the start of an artifact file."""
    with repo.open(relative) as fh:
        return fh.read(limit)


def iter_chunks(repo: ArtifactRepository, relative: str, chunk: int = 1 << 20) -> Iterator[bytes]:
    """The bytes of an artifact file in chunks (for streaming responses)."""
    with repo.open(relative) as fh:
        while True:
            block = fh.read(chunk)
            if not block:
                return
            yield block
