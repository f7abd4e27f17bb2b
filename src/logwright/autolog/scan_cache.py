"""A cache of the integrations' entry points and declarations, keyed on the environment.

``autolog()`` needs, for each integration, only its name, the module that triggers
it and the names of its knobs; importing every integration package to read them
costs tens of milliseconds in a fresh process. So once the classes are loaded, those
declarations are written to a small file (``marshal``: no import cost), and later
processes read them instead of importing anything: an integration's package is
imported when its framework is (or when asked for).

The cache is valid while the environment is the same: the interpreter, ``sys.path``
and the modification times of its folders (installing or removing a distribution
changes them), of each ``entry_points.txt`` read and of each integration's source
file (an edited editable install). Anything else, and any error, means a miss.
It lives in ``$XDG_CACHE_HOME/logwright`` (default ``~/.cache/logwright``).
"""

from __future__ import annotations

import marshal
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

FORMAT = 1
KEEP = 32  # cache files kept: a new sys.path (another script folder) makes another


def _folder() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "logwright")


def _mtime(path: str) -> int:
    try:
        return os.stat(path or ".").st_mtime_ns
    except OSError:
        return -1


def _key(group: str) -> tuple:
    return (FORMAT, group, sys.version, sys.executable, tuple(sys.path), tuple(_mtime(p) for p in sys.path))


def _path(key: tuple) -> str:
    digest = 0xCBF29CE484222325  # FNV-1a over the key without its mtimes: one file per environment
    for byte in repr(key[:-1]).encode():
        digest = ((digest ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return os.path.join(_folder(), f"autolog-{digest:016x}.marshal")


def load(group: str) -> dict[str, dict[str, Any]] | None:
    """The cached declarations (name -> dict) for ``group``, or None when missing or stale."""
    key = _key(group)
    try:
        with open(_path(key), "rb") as fh:
            stored_key, entries = marshal.load(fh)
    except Exception:  # noqa: BLE001 - absent, unreadable or another version's: a miss
        return None
    if stored_key != key:
        return None
    for entry in entries.values():
        for path, mtime in entry["files"]:
            if _mtime(path) != mtime:
                return None
    return entries


def store(group: str, entries: dict[str, dict[str, Any]]) -> None:
    """Write the declarations for ``group`` (best effort: a read-only home is fine).

    Args:
        group: the entry-point group.
        entries: name -> {"value", "module", "options", "files": [(path, mtime_ns), ...]}; plain
            data only (str, int, list, tuple, dict).
    """
    key = _key(group)
    path = _path(key)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        temp = f"{path}.{os.getpid()}.tmp"
        with open(temp, "wb") as fh:
            marshal.dump((key, entries), fh)
        os.replace(temp, path)
        _prune(os.path.dirname(path))
    except Exception:  # noqa: BLE001 - the cache only saves time
        return


def _prune(folder: str) -> None:
    """Keep the ``KEEP`` most recently written files (one per environment and script folder)."""
    names = [n for n in os.listdir(folder) if n.startswith("autolog-") and n.endswith(".marshal")]
    if len(names) <= KEEP:
        return
    paths = sorted((os.path.join(folder, n) for n in names), key=_mtime, reverse=True)
    for old in paths[KEEP:]:
        try:
            os.remove(old)
        except OSError:
            pass


def describe(ep: Any, cls: Any) -> dict[str, Any]:
    """What :func:`store` keeps for one loaded Integration class."""
    files = []
    module = sys.modules.get(getattr(cls, "__module__", ""), None)
    for path in (getattr(ep, "path", ""), getattr(module, "__file__", None)):
        if path:
            files.append((path, _mtime(path)))
    return {"value": ep.value, "module": cls.module, "options": sorted(getattr(cls, "defaults", {}) or {}),
            "files": files}
