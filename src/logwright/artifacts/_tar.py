"""A folder as one uncompressed tar stream: what the HTTP artifact client uploads, the server unpacks.

The client side (:func:`folder_members`, :func:`stream`) never holds a file in memory:
headers are built up front (so the body's length is known and sent as
``Content-Length``), file bytes are read in 1 MiB blocks as the request is sent. The
server side (:func:`unpack`) reads the stream once, front to back, and writes only
regular files and folders whose names pass :func:`~logwright.artifacts.local.clean_path`
into a private folder it made: a link, a device, ``..`` or an absolute name in the
archive is refused with ValueError.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from logwright.artifacts.base import ArtifactUploadError
from logwright.artifacts.local import clean_path

_BLOCK = 1 << 20
_END = b"\0" * (2 * tarfile.BLOCKSIZE)


@dataclass(frozen=True)
class Member:
    """One entry of an upload: its header, and the local file it carries (None for a folder)."""

    header: bytes
    source: str | None
    size: int


def member(name: str, source: str | None) -> Member:
    """The entry ``name`` (``/``-separated) for a local file ``source``, or a folder when None."""
    info = tarfile.TarInfo(name)
    if source is None:
        info.type, info.mode = tarfile.DIRTYPE, 0o755
    else:
        st = os.stat(source)
        info.size, info.mode, info.mtime = st.st_size, stat.S_IMODE(st.st_mode), int(st.st_mtime)
    return Member(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"), source, info.size)


def length(members: list[Member]) -> int:
    """The byte length of :func:`stream` over ``members``."""
    return sum(len(m.header) + m.size + (-m.size % tarfile.BLOCKSIZE) for m in members) + len(_END)


def stream(members: list[Member]) -> Iterator[bytes]:
    """The archive's bytes in blocks of at most 1 MiB.

    Raises:
        ArtifactUploadError: a file changed size while it was being sent.
    """
    for entry in members:
        yield entry.header
        if entry.source is None:
            continue
        yield from _file_blocks(entry.source, entry.size)
        pad = -entry.size % tarfile.BLOCKSIZE
        if pad:
            yield b"\0" * pad
    yield _END


def _file_blocks(source: str, size: int) -> Iterator[bytes]:
    with open(source, "rb") as fh:
        left = size
        while left:
            block = fh.read(min(_BLOCK, left))
            if not block:
                raise ArtifactUploadError(f"{source!r} shrank while it was being uploaded; nothing was stored")
            left -= len(block)
            yield block


def unpack(fileobj: BinaryIO, dest: str) -> int:
    """Write the archive read from ``fileobj`` into the existing private folder ``dest``.

    Returns:
        How many files were written.

    Raises:
        ValueError: an entry is not a regular file or folder, or its name is illegal.
        tarfile.TarError: the stream is not a tar archive.
    """
    count = 0
    with tarfile.open(fileobj=fileobj, mode="r|") as tar:
        for entry in tar:
            rel = clean_path(entry.name)
            if not rel:
                continue
            target = os.path.join(dest, *rel.split("/"))
            if entry.isdir():
                os.makedirs(target, exist_ok=True)
            elif entry.isreg():
                os.makedirs(os.path.dirname(target), exist_ok=True)
                _write(tar, entry, target)
                count += 1
            else:
                raise ValueError(f"uploaded folder holds {entry.name!r}, which is neither a file nor a folder")
    return count


def _write(tar: tarfile.TarFile, entry: tarfile.TarInfo, target: str) -> None:
    src = tar.extractfile(entry)
    if src is None:  # pragma: no cover - isreg() entries always have data
        raise ValueError(f"uploaded file {entry.name!r} has no data")
    with open(target, "xb") as out:
        shutil.copyfileobj(src, out, _BLOCK)
    os.chmod(target, (entry.mode & 0o777) | 0o600)
    os.utime(target, (entry.mtime, entry.mtime))
