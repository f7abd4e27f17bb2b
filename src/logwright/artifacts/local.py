"""Artifacts on the local filesystem, under ``<artifact_root>/<experiment_id>/<run_id>/``.

Every path is relative to the run's folder and never leaves it:

- Writes (:meth:`~LocalArtifacts.log_file`, :meth:`~LocalArtifacts.log_dir`,
  :meth:`~LocalArtifacts.write_bytes`, :meth:`~LocalArtifacts.write_via`,
  :meth:`~LocalArtifacts.write_shared`, :meth:`~LocalArtifacts.staged_dir`) resolve
  symbolic links in the target's folders and raise ValueError naming the path when
  the result is outside the run folder. A final name that is itself a link is refused
  whatever it points to: logwright never writes through a link. Folders are then
  opened one component at a time with ``O_NOFOLLOW`` and the file is created under a
  fresh name and renamed into place, so a link swapped in after the check (a race)
  makes the write fail rather than escape, and a hard-linked file is replaced, never
  modified in place.
- ``log_dir`` copies regular files; a link in the source tree to a file inside that
  tree is copied as the file's content; links to folders, links leading outside the
  tree, dangling links and special files (FIFOs, sockets, devices) are skipped with
  one warning listing them.
- Reads (:meth:`~LocalArtifacts.path`, :meth:`~LocalArtifacts.list`,
  :meth:`~LocalArtifacts.walk`, :meth:`~LocalArtifacts.download`) never follow a link
  out of the run folder: such links are left out of listings and downloads, and
  ``walk`` does not descend into linked folders (each file is listed once, no cycles).
- Names starting with ``.logwright-`` are logwright's temporary files; they are
  reserved and hidden from listings.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import posixpath
import shutil
import stat
from collections.abc import Callable, Iterator
from typing import BinaryIO

from logwright.artifacts._fs import RESERVED, Folder, copy_into, temp_name
from logwright.entities import FileInfo
from logwright.validation import artifact_path

_logger = logging.getLogger(__name__)


def clean_path(path: str | None) -> str:
    """Normalise a relative artifact path (see :func:`logwright.validation.artifact_path`).

    Also refuses NUL and other control characters, lone surrogates and logwright's
    reserved ``.logwright-`` names, with a ValueError naming the path.
    """
    rel = artifact_path(path)
    if any(ord(c) < 32 or ord(c) == 127 for c in rel):
        raise ValueError(f"artifact path {path!r} contains a control character")
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"artifact path {path!r} contains a lone surrogate (not valid Unicode)") from None
    if any(part.startswith(RESERVED) for part in rel.split("/")):
        raise ValueError(f"artifact path {path!r}: names starting with {RESERVED!r} are reserved")
    return rel


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _file_parts(artifact_file: str) -> tuple[str, str, str]:
    rel = clean_path(artifact_file)
    if not rel:
        raise ValueError(f"artifact_file must name a file, got {artifact_file!r}")
    parent, name = posixpath.split(rel)
    return rel, parent, name


def _source_file_parts(local_path: str, artifact_dir: str | None) -> tuple[str, str, str]:
    """``(relative path, clean artifact_dir, file name)`` for logging file ``local_path`` into ``artifact_dir``.

    Raises:
        FileNotFoundError: ``local_path`` is not a file.
        ValueError: the target is no legal artifact path.
    """
    if not os.path.isfile(local_path):
        raise FileNotFoundError(f"artifact source {local_path!r} is not a file")
    rel_dir = clean_path(artifact_dir)
    name = os.path.basename(local_path)
    rel, _, _ = _file_parts(f"{rel_dir}/{name}" if rel_dir else name)
    return rel, rel_dir, name


def _plan_tree(
    src_root: str, boundary: str, hide_reserved: bool = False
) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    """Folders, files ``(relative, real source)`` and skipped entries of the tree at ``src_root``.

    A link to a regular file inside ``boundary`` is a file (its target's content); every
    other link, and every special file, is skipped. Relative paths use ``/``. With
    ``hide_reserved``, logwright's own ``.logwright-`` temporary names are left out.
    """
    dirs: list[str] = []
    files: list[tuple[str, str]] = []
    skipped: list[str] = []
    stack = [""]
    while stack:
        rel = stack.pop()
        with os.scandir(os.path.join(src_root, *rel.split("/")) if rel else src_root) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            child = f"{rel}/{entry.name}" if rel else entry.name
            if hide_reserved and entry.name.startswith(RESERVED):
                continue
            if entry.is_symlink():
                target = os.path.realpath(entry.path)
                if _inside(target, boundary) and os.path.isfile(target):
                    files.append((child, target))
                else:
                    skipped.append(f"{child} -> {os.readlink(entry.path)}")
            elif entry.is_dir(follow_symlinks=False):
                dirs.append(child)
                stack.append(child)
            elif entry.is_file(follow_symlinks=False):
                files.append((child, entry.path))
            else:
                skipped.append(f"{child} (not a regular file)")
    return sorted(dirs), files, skipped


def _warn_skipped(what: str, skipped: list[str]) -> None:
    if skipped:
        shown = ", ".join(skipped[:10]) + (f" and {len(skipped) - 10} more" if len(skipped) > 10 else "")
        _logger.warning("logwright: %s skipped %d link(s) or special file(s): %s", what, len(skipped), shown)


class LocalArtifacts:
    """A run's artifact folder.

    Args:
        root: absolute folder of the run's artifacts (created on first write).
    """

    def __init__(self, root: str) -> None:
        self.root = root

    # -- resolving ------------------------------------------------------------------

    def _real_root(self) -> str:
        return os.path.realpath(self.root)

    def path(self, relative: str | None = None) -> str:
        """Absolute, link-free path of ``relative`` inside the run folder.

        Raises:
            ValueError: ``relative`` would escape the run folder (``..``, absolute, or
                through a symbolic link pointing out).
        """
        rel = artifact_path(relative)
        root = self._real_root()
        full = os.path.realpath(os.path.join(root, rel)) if rel else root
        if not _inside(full, root):
            raise ValueError(f"artifact path {relative!r} escapes the run's artifact folder")
        return full

    def _parts(self, rel_dir: str, shown: str) -> list[str]:
        """Components, from the real root, of folder ``rel_dir`` once its links are resolved."""
        root = self._real_root()
        full = os.path.realpath(os.path.join(root, rel_dir)) if rel_dir else root
        if not _inside(full, root):
            raise ValueError(
                f"artifact path {shown!r} escapes the run's artifact folder through a symbolic link "
                f"(it leads to {full!r})"
            )
        return [] if full == root else os.path.relpath(full, root).split(os.sep)

    def _open_dir(self, rel_dir: str, shown: str, create: bool = True) -> Folder:
        """Open (creating if asked) folder ``rel_dir``, never following a link on the way."""
        parts = self._parts(rel_dir, shown)
        folder = Folder.open_root(self._real_root(), create)
        try:
            for part in parts:
                nxt = folder.child(part, create)
                folder.close()
                folder = nxt
        except OSError as exc:
            st = folder.lstat(part)
            folder.close()
            if (st is not None and stat.S_ISLNK(st.st_mode)) or exc.errno == errno.ELOOP:
                raise ValueError(
                    f"artifact path {shown!r}: folder {part!r} became a symbolic link while writing; refused"
                ) from None
            if exc.errno == errno.ENOTDIR:
                raise NotADirectoryError(errno.ENOTDIR, f"artifact path {shown!r} needs {part!r} to be a folder, "
                                         "but it is a file", self.root) from None
            raise
        return folder

    @staticmethod
    def _check_final(folder: Folder, name: str, shown: str, allow_dir: bool = False) -> os.stat_result | None:
        st = folder.lstat(name)
        if st is not None and stat.S_ISLNK(st.st_mode):
            target = os.readlink(folder.join(name))
            raise ValueError(
                f"artifact path {shown!r} is a symbolic link (to {target!r}); logwright never writes through links"
            )
        if st is not None and stat.S_ISDIR(st.st_mode) and not allow_dir:
            raise IsADirectoryError(errno.EISDIR, f"artifact path {shown!r} is a folder", folder.join(name))
        return st

    def _check_target(self, rel: str) -> None:
        """Raise if writing file ``rel`` would escape or write through a link (creates nothing)."""
        parent, name = posixpath.split(rel)
        full = os.path.join(self._real_root(), *self._parts(parent, rel), name)
        st = os.lstat(full) if os.path.lexists(full) else None
        if st is not None and stat.S_ISLNK(st.st_mode):
            raise ValueError(
                f"artifact path {rel!r} is a symbolic link (to {os.readlink(full)!r}); "
                "logwright never writes through links"
            )
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, f"artifact path {rel!r} is a folder", full)

    # -- writing --------------------------------------------------------------------

    def _write(self, rel: str, parent: str, name: str, fill: Callable, mode: int = 0o666) -> str:
        with self._open_dir(parent, rel) as folder:
            self._check_final(folder, name, rel)
            folder.write_new(name, fill, mode)
        return rel

    def write_bytes(self, artifact_file: str, data: bytes) -> str:
        """Write ``data`` to ``artifact_file`` (relative); returns the relative path.

        Raises:
            ValueError: the path is illegal, escapes the run folder or is a symbolic link.
        """
        rel, parent, name = _file_parts(artifact_file)
        return self._write(rel, parent, name, lambda fh: fh.write(data))

    def log_file(self, local_path: str, artifact_dir: str | None = None) -> str:
        """Copy one file into ``artifact_dir``; returns its relative artifact path.

        Raises:
            FileNotFoundError: ``local_path`` is not a file.
            ValueError: the target escapes the run folder or is a symbolic link.
        """
        rel, rel_dir, name = _source_file_parts(local_path, artifact_dir)
        return self._write(rel, rel_dir, name, lambda fh: copy_into(fh, local_path))

    def log_dir(self, local_dir: str, artifact_dir: str | None = None) -> str:
        """Copy a folder's contents into ``artifact_dir``; returns the relative path.

        Every target is checked before anything is written. Links in the source tree
        are handled as the module docstring says (skipped ones are named in a warning).

        Raises:
            FileNotFoundError: ``local_dir`` is not a folder.
            ValueError: a target escapes the run folder or is a symbolic link.
        """
        if not os.path.isdir(local_dir):
            raise FileNotFoundError(f"artifact source {local_dir!r} is not a folder")
        rel = clean_path(artifact_dir)
        src_root = os.path.realpath(local_dir)
        dirs, files, skipped = _plan_tree(src_root, src_root)
        folders, joined = [rel], []
        for f, src in [*((d, None) for d in dirs), *files]:
            try:
                target = clean_path(f"{rel}/{f}" if rel else f)
            except ValueError as exc:  # a source name that is no legal artifact name
                skipped.append(f"{f!r} ({exc})")
                continue
            (folders.append(target) if src is None else joined.append((target, src)))
        for target, _ in joined:
            self._check_target(target)
        _warn_skipped(f"log_artifacts({local_dir!r})", skipped)
        for d in folders:
            self._open_dir(d, d or ".").close()
        for target, src in joined:
            parent, name = posixpath.split(target)
            self._write(target, parent, name, lambda fh, src=src: copy_into(fh, src))
        return rel

    def write_via(self, artifact_file: str, save: Callable[[str], None]) -> str:
        """Write ``artifact_file`` with a tool that only takes a path (``savefig``, ``write_html``).

        ``save`` gets a path with the same file name in a fresh private folder inside
        the target folder; the file it writes is then renamed into place. Returns the
        relative path.
        """
        rel, parent, name = _file_parts(artifact_file)
        with self._open_dir(parent, rel) as folder:
            self._check_final(folder, name, rel)
            scratch = temp_name("dir")
            folder.mkdir(scratch)
            try:
                with folder.child(scratch, create=False) as private:
                    save(private.join(name))
                    st = private.lstat(name)
                    if st is None or not stat.S_ISREG(st.st_mode):
                        raise OSError(errno.ENOENT, f"saving {rel!r} wrote no regular file", private.join(name))
                    private.rename(name, name, dst=folder)
            finally:
                folder.remove(scratch)
        return rel

    def write_shared(self, artifact_file: str, data: bytes, shared_dir: str) -> str:
        """Write ``data`` as ``artifact_file``, hard-linked to one copy kept in ``shared_dir``.

        For content many runs repeat (a working tree's diff): the bytes are stored once,
        each run gets its own name for them. Falls back to a plain write where links
        are not possible.
        """
        rel, parent, name = _file_parts(artifact_file)
        if "://" in shared_dir:  # the store's root is remote (s3://) but this run's folder is local
            shared_dir = os.path.join(os.path.dirname(os.path.dirname(self.root)), ".shared")
        shared = os.path.join(shared_dir, hashlib.sha256(data).hexdigest()[:32])
        with self._open_dir(parent, rel) as folder:
            self._check_final(folder, name, rel)
            tmp = temp_name()
            try:
                _ensure_blob(shared_dir, shared, data)
                folder.link_from(shared, tmp)
                st = folder.lstat(tmp)
                if st is None or not stat.S_ISREG(st.st_mode) or st.st_size != len(data):
                    raise OSError(errno.EINVAL, "shared copy changed", shared)
                folder.rename(tmp, name)
            except OSError:
                folder.remove(tmp)
                folder.write_new(name, lambda fh: fh.write(data))
        return rel

    @contextlib.contextmanager
    def staged_dir(self, artifact_dir: str, replaceable: Callable[[str], bool],
                   marker: str | None = None) -> Iterator[Folder]:
        """Build a folder in private, then swap it in as ``artifact_dir`` in one rename.

        Yields an open, empty staging :class:`~logwright.artifacts._fs.Folder` inside the
        target's parent (same filesystem): write with its methods (bound to the folder,
        whatever happens to the path) or at its ``path`` for tools that only take a
        path. When the block ends without error the staging folder
        becomes ``artifact_dir``; an existing ``artifact_dir`` is first moved aside and
        removed only once the new one is in place. If the block raises, the staging
        folder is removed and ``artifact_dir`` is untouched.

        Args:
            artifact_dir: the relative folder to (re)place.
            replaceable: called with the existing folder's path; False refuses to replace it.
            marker: unused here (the folder appears in one rename, so no file needs to come last).

        Raises:
            ValueError: the path is illegal, escapes the run folder or is a symbolic link.
            FileExistsError: ``artifact_dir`` exists and ``replaceable`` refuses it (or it is a file).
        """
        rel = clean_path(artifact_dir)
        if not rel:
            raise ValueError(f"artifact_dir must name a folder inside the run, got {artifact_dir!r}")
        parent, name = posixpath.split(rel)
        with self._open_dir(parent, rel) as folder:
            _check_replaceable(folder, name, rel, replaceable)
            stage = temp_name("stage")
            folder.mkdir(stage)
            try:
                with folder.child(stage, create=False) as staging:
                    yield staging
                _check_replaceable(folder, name, rel, replaceable)
                _swap_in(folder, stage, name)
            except BaseException:
                folder.remove(stage)
                raise

    # -- reading --------------------------------------------------------------------

    def _entries(self, relative: str | None) -> list[tuple[FileInfo, bool]]:
        """``(info, is_link)`` for each entry directly inside ``relative`` that stays inside."""
        base = self.path(relative)
        if not os.path.isdir(base):
            return []
        rel = artifact_path(relative)
        root = self._real_root()
        out = []
        with os.scandir(base) as it:
            for entry in it:
                if entry.name.startswith(RESERVED):
                    continue
                child = f"{rel}/{entry.name}" if rel else entry.name
                link = entry.is_symlink()
                target = os.path.realpath(entry.path) if link else entry.path
                if link and (not _inside(target, root) or not os.path.exists(target)):
                    continue  # a link out of the run folder (or dangling) is not an artifact
                if os.path.isdir(target):
                    out.append((FileInfo(child, True, None), link))
                else:
                    out.append((FileInfo(child, False, os.stat(target).st_size), link))
        return sorted(out, key=lambda e: (not e[0].is_dir, e[0].path))

    def list(self, relative: str | None = None) -> list[FileInfo]:
        """Files and folders directly inside ``relative``, folders first, by name."""
        return [info for info, _ in self._entries(relative)]

    def walk(self) -> list[FileInfo]:
        """Every file under the run folder, recursively (linked folders are not descended)."""
        out: list[FileInfo] = []
        stack = [""]
        while stack:
            for info, link in self._entries(stack.pop()):
                if not info.is_dir:
                    out.append(info)
                elif not link:
                    stack.append(info.path)
        return sorted(out, key=lambda f: f.path)

    def kind(self, relative: str | None) -> str | None:
        """``"dir"``, ``"file"`` or None for ``relative`` (ValueError when it escapes)."""
        full = self.path(relative)
        if os.path.isdir(full):
            return "dir"
        return "file" if os.path.isfile(full) else None

    def size(self, relative: str) -> int:
        """The size in bytes of an artifact file."""
        return os.path.getsize(self.path(relative))

    def open(self, relative: str) -> BinaryIO:
        """An artifact file opened for reading (its links resolved inside the run folder)."""
        full = self.path(relative)
        if not os.path.isfile(full):
            raise FileNotFoundError(errno.ENOENT, f"artifact {relative!r} is not a file", full)
        return open(full, "rb")  # noqa: SIM115 - the caller closes it

    def local_dir(self, relative: str) -> str:
        """The folder itself: local artifacts need no copy."""
        return self.path(relative)

    def download(self, relative: str, dest_dir: str) -> str:
        """Copy an artifact file or folder to ``dest_dir``; returns the local path.

        Links inside a downloaded folder that lead out of the run folder are skipped
        (named in a warning), never followed.
        """
        rel = artifact_path(relative)
        src = self.path(rel)
        if not os.path.exists(src):
            raise FileNotFoundError(f"artifact {relative!r} not found in {self.root}")
        dest = os.path.join(dest_dir, posixpath.basename(rel) or os.path.basename(src))
        if not os.path.isdir(src):
            os.makedirs(dest_dir, exist_ok=True)
            shutil.copy2(src, dest)
            return dest
        dirs, files, skipped = _plan_tree(src, self._real_root(), hide_reserved=True)
        _warn_skipped(f"download of {relative!r}", skipped)
        for d in ["", *dirs]:
            os.makedirs(os.path.join(dest, *d.split("/")) if d else dest, exist_ok=True)
        for f, real in files:
            shutil.copy2(real, os.path.join(dest, *f.split("/")))
        return dest


def _ensure_blob(shared_dir: str, shared: str, data: bytes) -> None:
    """Make ``shared`` a regular file holding ``data`` (written once, atomically)."""
    st = os.lstat(shared) if os.path.lexists(shared) else None
    if st is not None and stat.S_ISREG(st.st_mode) and st.st_size == len(data):
        return
    os.makedirs(shared_dir, exist_ok=True)
    with Folder.open_root(os.path.realpath(shared_dir), create=False) as folder:
        folder.write_new(os.path.basename(shared), lambda fh: fh.write(data))


def _check_replaceable(folder: Folder, name: str, shown: str, replaceable: Callable[[str], bool]) -> None:
    st = LocalArtifacts._check_final(folder, name, shown, allow_dir=True)
    if st is None:
        return
    if not stat.S_ISDIR(st.st_mode):
        raise FileExistsError(errno.EEXIST, f"artifact path {shown!r} is an existing file", folder.join(name))
    if not replaceable(folder.join(name)):
        raise FileExistsError(errno.EEXIST, f"artifact path {shown!r} is an existing folder that "
                              "this would replace; choose another name", folder.join(name))


def _swap_in(folder: Folder, stage: str, name: str) -> None:
    """Rename ``stage`` to ``name``; a folder already there is moved aside, then removed."""
    old = None
    if folder.lstat(name) is not None:
        old = temp_name("old")
        folder.rename(name, old)
    try:
        folder.rename(stage, name)
    except BaseException:
        if old is not None:
            folder.rename(old, name)
        raise
    if old is not None:
        folder.remove(old)
