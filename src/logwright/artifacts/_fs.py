"""Filesystem primitives that never follow a symbolic link out of a run's artifact folder.

A :class:`Folder` is an open directory; every operation on it names a child relative
to it. On POSIX it holds a file descriptor and each step is ``openat``-style with
``O_NOFOLLOW``, so a link swapped in after a check (a TOCTOU race) makes the call fail
instead of writing through it. Where ``dir_fd`` is unsupported (Windows) the same
checks run on paths.

Files are never written in place: bytes go to a fresh hidden name in the target
folder (``O_CREAT | O_EXCL | O_NOFOLLOW``), which then replaces the final name
(``rename`` replaces a link or a hard link, it never writes through it).
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import stat
import tempfile
from collections.abc import Callable
from typing import BinaryIO

RESERVED = ".logwright-"
"""Prefix of logwright's own temporary names inside a run folder; hidden from listings."""

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)
USE_FD = bool(_NOFOLLOW and _DIRECTORY) and os.open in os.supports_dir_fd and os.rename in os.supports_dir_fd


def temp_name(kind: str = "tmp") -> str:
    """A fresh hidden name for a temporary file or folder (``.logwright-<kind>-<random>``)."""
    return f"{RESERVED}{kind}-{secrets.token_hex(8)}"


class Folder:
    """An open folder; child names are single path components, never followed if links.

    Args:
        path: the folder's real (link-free) absolute path, for messages and path-based tools.
        fd: an open descriptor of it (POSIX), or None where ``dir_fd`` is unsupported.
    """

    def __init__(self, path: str, fd: int | None) -> None:
        self.path = path
        self.fd = fd

    @classmethod
    def open_root(cls, path: str, create: bool) -> Folder:
        """Open the real folder ``path`` (a run's artifact root), creating it if asked."""
        if create:
            os.makedirs(path, exist_ok=True)
        if not USE_FD:
            if not os.path.isdir(path):
                raise FileNotFoundError(errno.ENOENT, "no such folder", path)
            return cls(path, None)
        return cls(path, os.open(path, os.O_RDONLY | _DIRECTORY | _CLOEXEC))

    def __enter__(self) -> Folder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the descriptor (idempotent)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def _at(self, name: str) -> tuple[str, dict[str, int]]:
        if self.fd is not None:
            return name, {"dir_fd": self.fd}
        return os.path.join(self.path, name), {}

    def join(self, name: str) -> str:
        """The absolute path of child ``name`` (for tools that only take paths)."""
        return os.path.join(self.path, name)

    def lstat(self, name: str) -> os.stat_result | None:
        """The child's own status (a link is reported as a link), or None if absent."""
        where, kw = self._at(name)
        try:
            return os.stat(where, follow_symlinks=False, **kw)
        except FileNotFoundError:
            return None

    def child(self, name: str, create: bool) -> Folder:
        """Open child folder ``name`` (creating it if asked); a link or a file raises OSError."""
        where, kw = self._at(name)
        if create:
            try:
                os.mkdir(where, **kw)
            except FileExistsError:
                pass
        if self.fd is None:
            st = os.lstat(where)
            if stat.S_ISLNK(st.st_mode):
                raise OSError(errno.ELOOP, "is a symbolic link", where)
            if not stat.S_ISDIR(st.st_mode):
                raise NotADirectoryError(errno.ENOTDIR, "not a folder", where)
            return Folder(where, None)
        fd = os.open(where, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC, **kw)
        return Folder(os.path.join(self.path, name), fd)

    def create_file(self, name: str, mode: int = 0o666) -> int:
        """Create the new file ``name`` exclusively (never a link); returns a write descriptor."""
        where, kw = self._at(name)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC | _BINARY
        return os.open(where, flags, mode, **kw)

    def mkdir(self, name: str) -> None:
        """Create the new folder ``name``."""
        where, kw = self._at(name)
        os.mkdir(where, **kw)

    def rename(self, src: str, dst_name: str, dst: Folder | None = None) -> None:
        """Rename child ``src`` to ``dst_name`` in folder ``dst`` (default: this one).

        A file already named ``dst_name`` is replaced atomically (a link is replaced,
        not followed).
        """
        target = dst or self
        s, skw = self._at(src)
        d, dkw = target._at(dst_name)
        kw = {"src_dir_fd": skw["dir_fd"], "dst_dir_fd": dkw["dir_fd"]} if skw and dkw else {}
        os.replace(s, d, **kw)

    def link_from(self, source: str, name: str) -> None:
        """Hard-link the file at absolute path ``source`` (not followed if a link) as ``name``."""
        where, kw = self._at(name)
        dst_kw = {"dst_dir_fd": kw["dir_fd"]} if kw else {}
        os.link(source, where, follow_symlinks=False, **dst_kw)

    def remove(self, name: str) -> None:
        """Remove child ``name`` (a file, a link, or a whole folder), ignoring a missing one."""
        st = self.lstat(name)
        if st is None:
            return
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(self.join(name), ignore_errors=True)  # rmtree never follows links
            return
        where, kw = self._at(name)
        try:
            os.unlink(where, **kw)
        except FileNotFoundError:
            pass

    def write_new(self, name: str, fill: Callable[[BinaryIO], None], mode: int = 0o666) -> None:
        """Write a file under a temporary name with ``fill(fh)``, then rename it to ``name``.

        On any error the temporary file is removed and ``name`` is left as it was.
        """
        tmp = temp_name()
        fd = self.create_file(tmp, mode)
        try:
            with os.fdopen(fd, "wb") as fh:
                fill(fh)
            self.rename(tmp, name)
        except BaseException:
            self.remove(tmp)
            raise


def copy_into(fh: BinaryIO, source: str) -> None:
    """Copy the file ``source`` (links followed: it is the caller's own file) into ``fh``.

    The mode and modification time are kept, as ``shutil.copy2`` does.
    """
    with open(source, "rb") as src:
        st = os.fstat(src.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", source)
        shutil.copyfileobj(src, fh, 1 << 20)
    fh.flush()
    if os.chmod in os.supports_fd:
        os.chmod(fh.fileno(), stat.S_IMODE(st.st_mode))
    if os.utime in os.supports_fd:
        os.utime(fh.fileno(), ns=(st.st_atime_ns, st.st_mtime_ns))


def save_in_scratch(rel: str, name: str, save: Callable[[str], None], upload: Callable[[str, str], object]) -> None:
    """Run a path-only ``save`` into a private local folder, then ``upload(rel, file)``; the folder is removed.

    Args:
        rel: the artifact path the file is stored as.
        name: the file's name in the scratch folder (what ``save`` is given).
        save: writes one regular file at the path it is given.
        upload: stores that file as ``rel`` (a remote repository's own upload).

    Raises:
        OSError: ``save`` wrote no regular file.
    """
    scratch = tempfile.mkdtemp(prefix=RESERVED)
    try:
        local = os.path.join(scratch, name)
        save(local)
        if not os.path.isfile(local) or os.path.islink(local):
            raise OSError(f"saving {rel!r} wrote no regular file")
        upload(rel, local)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
