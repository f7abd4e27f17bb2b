"""Artifacts on the local filesystem, under ``<artifact_root>/<experiment_id>/<run_id>/``.

Every path is relative to the run's folder and checked so it never escapes it.
"""

from __future__ import annotations

import os
import shutil

from logwright.entities import FileInfo
from logwright.validation import artifact_path


class LocalArtifacts:
    """A run's artifact folder.

    Args:
        root: absolute folder of the run's artifacts (created on first write).
    """

    def __init__(self, root: str) -> None:
        self.root = root

    def path(self, relative: str | None = None) -> str:
        """Absolute path of ``relative`` inside the run folder.

        Raises:
            ValueError: ``relative`` would escape the run folder.
        """
        rel = artifact_path(relative)
        full = os.path.realpath(os.path.join(self.root, rel)) if rel else os.path.realpath(self.root)
        root = os.path.realpath(self.root)
        if full != root and not full.startswith(root + os.sep):
            raise ValueError(f"artifact path {relative!r} escapes the run's artifact folder")
        return full

    def log_file(self, local_path: str, artifact_dir: str | None = None) -> str:
        """Copy one file into ``artifact_dir``; returns its relative artifact path."""
        if not os.path.isfile(local_path):
            raise FileNotFoundError(f"artifact source {local_path!r} is not a file")
        rel = artifact_path(artifact_dir)
        dest_dir = self.path(rel)
        os.makedirs(dest_dir, exist_ok=True)
        shutil.copy2(local_path, os.path.join(dest_dir, os.path.basename(local_path)))
        return "/".join(p for p in (rel, os.path.basename(local_path)) if p)

    def log_dir(self, local_dir: str, artifact_dir: str | None = None) -> str:
        """Copy a folder's contents into ``artifact_dir``; returns the relative path."""
        if not os.path.isdir(local_dir):
            raise FileNotFoundError(f"artifact source {local_dir!r} is not a folder")
        rel = artifact_path(artifact_dir)
        dest = self.path(rel)
        shutil.copytree(local_dir, dest, dirs_exist_ok=True)
        return rel

    def write_bytes(self, artifact_file: str, data: bytes) -> str:
        """Write ``data`` to ``artifact_file`` (relative); returns the relative path."""
        rel = artifact_path(artifact_file)
        if not rel:
            raise ValueError("artifact_file must name a file")
        full = self.path(rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        tmp = full + ".tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, full)
        return rel

    def write_shared(self, artifact_file: str, data: bytes, shared_dir: str) -> str:
        """Write ``data`` as ``artifact_file``, hard-linked to one copy kept in ``shared_dir``.

        For content many runs repeat (a working tree's diff): the bytes are stored once,
        each run gets its own name for them. Falls back to a plain write where links
        are not possible.
        """
        import hashlib

        rel = artifact_path(artifact_file)
        full = self.path(rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        shared = os.path.join(shared_dir, hashlib.sha256(data).hexdigest()[:32])
        try:
            if not os.path.exists(shared):
                os.makedirs(shared_dir, exist_ok=True)
                tmp = f"{shared}.{os.getpid()}.tmp"
                with open(tmp, "wb") as fh:
                    fh.write(data)
                os.replace(tmp, shared)
            os.link(shared, full)
        except OSError:
            return self.write_bytes(rel, data)
        return rel

    def list(self, relative: str | None = None) -> list[FileInfo]:
        """Files and folders directly inside ``relative``, folders first, by name."""
        base = self.path(relative)
        if not os.path.isdir(base):
            return []
        rel = artifact_path(relative)
        out = []
        for entry in os.scandir(base):
            child = f"{rel}/{entry.name}" if rel else entry.name
            if entry.is_dir():
                out.append(FileInfo(child, True, None))
            else:
                out.append(FileInfo(child, False, entry.stat().st_size))
        return sorted(out, key=lambda f: (not f.is_dir, f.path))

    def walk(self) -> list[FileInfo]:
        """Every file under the run folder, recursively."""
        out: list[FileInfo] = []
        stack = [""]
        while stack:
            for info in self.list(stack.pop()):
                (stack.append(info.path) if info.is_dir else out.append(info))
        return sorted(out, key=lambda f: f.path)

    def download(self, relative: str, dest_dir: str) -> str:
        """Copy an artifact file or folder to ``dest_dir``; returns the local path."""
        src = self.path(relative)
        if not os.path.exists(src):
            raise FileNotFoundError(f"artifact {relative!r} not found in {self.root}")
        dest = os.path.join(dest_dir, os.path.basename(src))
        if os.path.isdir(src):
            shutil.copytree(src, dest, dirs_exist_ok=True)
        else:
            os.makedirs(dest_dir, exist_ok=True)
            shutil.copy2(src, dest)
        return dest
