"""Entry points of one group, read straight from the ``*.dist-info`` folders on sys.path.

``importlib.metadata.entry_points()`` parses every installed distribution's
metadata (10-30 ms with a few hundred packages, plus the import of
importlib.metadata itself). This reads only the ``entry_points.txt`` files and
keeps importlib.metadata's rules: sys.path order, folders in directory-listing
order, and only the first distribution of a (normalized) name counts. Anything
unusual (a zip file on the path, a custom finder that provides distributions)
falls back to importlib.metadata itself.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterator
    from typing import Any


class EntryPoint:
    """A ``name = module:attr`` line of an entry-point group.

    Attributes:
        name: the entry point's name.
        value: ``"module:attr"`` (``attr`` may be dotted; extras are ignored).
        dist: the distribution folder it came from (or the distribution name).
        path: the ``entry_points.txt`` it was read from ("" when importlib.metadata read it).
    """

    __slots__ = ("name", "value", "dist", "path")

    def __init__(self, name: str, value: str, dist: str = "", path: str = "") -> None:
        self.name, self.value, self.dist, self.path = name, value, dist, path

    @property
    def module(self) -> str:
        """The module part of ``value``."""
        return self.value.partition(":")[0].strip()

    def load(self) -> Any:
        """Import the module and return the attribute."""
        import importlib

        module, _, attr = self.value.partition(":")
        obj: Any = importlib.import_module(module.strip())
        for part in attr.split("[")[0].strip().split(".") if attr else ():
            obj = getattr(obj, part)
        return obj

    def __repr__(self) -> str:
        return f"EntryPoint({self.name!r}, {self.value!r})"


def _normalize(dist_folder: str) -> str:
    stem = dist_folder.rsplit(".", 1)[0]
    name = stem.split("-", 1)[0]
    return name.lower().replace("-", "_").replace(".", "_")


def _parse(text: str, group: str) -> Iterator[tuple[str, str]]:
    inside = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line[0] == "[":
            inside = line == f"[{group}]"
            continue
        if inside and "=" in line:
            name, _, value = line.partition("=")
            yield name.strip(), value.strip()


def _fast_path_ok() -> bool:
    from importlib.machinery import PathFinder

    for finder in sys.meta_path:
        if getattr(finder, "find_distributions", None) is not None and not (
            finder is PathFinder or isinstance(finder, PathFinder)
        ):
            return False
    return True


def _scan(group: str) -> list[EntryPoint] | None:
    seen: set[str] = set()
    found: list[EntryPoint] = []
    for entry in sys.path:
        folder = entry or "."
        try:
            names = os.listdir(folder)
        except NotADirectoryError:
            return None  # a zip on the path: let importlib.metadata read it
        except OSError:
            continue
        for dist in names:
            if not dist.lower().endswith((".dist-info", ".egg-info")):
                continue
            key = _normalize(dist)
            if key in seen:
                continue
            seen.add(key)
            path = os.path.join(folder, dist, "entry_points.txt")
            try:
                with open(path, encoding="utf-8") as fh:
                    text = fh.read()
            except OSError:
                continue
            if f"[{group}]" in text:
                found.extend(EntryPoint(n, v, dist, path) for n, v in _parse(text, group))
    return found


def _slow(group: str) -> list[EntryPoint]:
    from importlib.metadata import entry_points

    return [EntryPoint(ep.name, ep.value, getattr(ep.dist, "name", "")) for ep in entry_points(group=group)]


def entry_points(group: str) -> list[EntryPoint]:
    """Every entry point of ``group`` on sys.path, in importlib.metadata's order."""
    found = _scan(group) if _fast_path_ok() else None
    return _slow(group) if found is None else found
