"""Git state of the code that runs: commit, branch, dirty flag, remote URL, and a capped diff.

One ``git status`` subprocess (plus ``git diff`` when the tree is dirty); the
repository and its remote are found by reading ``.git`` directly. Credentials in
the remote URL are removed.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

_logger = logging.getLogger(__name__)

DIFF_LIMIT = 256 * 1024
_TIMEOUT = 3.0


def find_git_dir(start: str) -> tuple[str, str] | None:
    """(work tree, git dir) of the repository holding ``start``, or None."""
    folder = os.path.abspath(start)
    while True:
        dot = os.path.join(folder, ".git")
        if os.path.isdir(dot):
            return folder, dot
        if os.path.isfile(dot):  # worktrees and submodules: "gitdir: <path>"
            with open(dot, encoding="utf-8") as fh:
                line = fh.read().strip()
            if line.startswith("gitdir:"):
                return folder, os.path.normpath(os.path.join(folder, line[7:].strip()))
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def remote_url(git_dir: str, remote: str = "origin") -> str | None:
    """The URL of ``remote`` read from the repository's config, without credentials."""
    for path in (os.path.join(git_dir, "config"), os.path.join(git_dir, "..", "..", "config")):
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except OSError:
            continue
        section = re.search(rf'^\[remote "{re.escape(remote)}"\]\s*$(.*?)(?=^\[|\Z)', text, re.M | re.S)
        if section:
            url = re.search(r"^\s*url\s*=\s*(.+?)\s*$", section.group(1), re.M)
            return strip_credentials(url.group(1)) if url else None
    return None


def strip_credentials(url: str) -> str:
    """``https://user:token@host/x`` -> ``https://host/x`` (ssh ``git@host:x`` is kept)."""
    return re.sub(r"^([a-z][a-z0-9+.-]*://)[^/@]*@", r"\1", url)


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip()
    except OSError:
        return None


def head(git_dir: str) -> tuple[str | None, str | None]:
    """(commit, branch) read from the repository files; branch is None when detached."""
    common = git_dir
    pointer = _read(os.path.join(git_dir, "commondir"))
    if pointer:  # a linked worktree keeps its refs in the main repository
        common = os.path.normpath(os.path.join(git_dir, pointer))
    text = _read(os.path.join(git_dir, "HEAD")) or ""
    if not text.startswith("ref:"):
        return (text or None), None
    ref = text[4:].strip()
    branch = ref[len("refs/heads/"):] if ref.startswith("refs/heads/") else ref
    commit = _read(os.path.join(common, ref))
    if commit is None:
        for line in (_read(os.path.join(common, "packed-refs")) or "").splitlines():
            if line.endswith(" " + ref):
                commit = line.split(" ", 1)[0]
                break
    return commit, branch


def _start_diff(work_tree: str) -> subprocess.Popen | None:
    try:
        return subprocess.Popen(
            ["git", "-C", work_tree, "diff", "--no-color", "--no-ext-diff", "HEAD"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"},
        )
    except OSError as exc:  # no git on PATH
        _logger.debug("logwright: cannot run git: %s", exc)
        return None


def capture(start: str) -> tuple[dict[str, Any], str | None]:
    """Git context of the repository holding ``start``, and its capped diff when dirty.

    Commit, branch and remote are read from ``.git``; one ``git diff HEAD`` (tracked
    files, staged or not) gives the dirty flag and the diff.

    Returns:
        ``({"commit", "branch", "dirty", "remote", "root"}, diff or None)``; ``({}, None)``
        outside a repository.
    """
    found = find_git_dir(start)
    if found is None:
        return {}, None
    work_tree, git_dir = found
    commit, branch = head(git_dir)
    proc = _start_diff(work_tree) if commit else None
    info: dict[str, Any] = {"commit": commit, "branch": branch, "dirty": None,
                            "remote": remote_url(git_dir), "root": work_tree}
    if proc is None:
        return info, None
    try:
        out, _ = proc.communicate(timeout=_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return info, None
    if proc.returncode != 0:
        return info, None
    text = out.decode("utf-8", errors="replace")
    info["dirty"] = bool(text)
    if len(text) > DIFF_LIMIT:
        text = text[:DIFF_LIMIT] + f"\n... [diff cut at {DIFF_LIMIT} characters by logwright]\n"
    return info, text or None
