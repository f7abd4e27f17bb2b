"""Hatch build hook: every ``integrations/<fw>/logwright_<fw>`` package ships in the one wheel.

The integrations are found on disk (:func:`integration_packages`), so a new integration
is its folder plus its entry-point lines in pyproject.toml; nothing else lists them.
A wheel gets each package at its top level; an editable install gets a ``.pth`` file
naming each ``integrations/<fw>`` folder (beside hatch's own for ``src``). Folders
whose name starts with ``_`` or ``.`` (``integrations/_template``) are skipped.

The noxfile and the tests import :func:`integration_packages` from here too.
"""

from __future__ import annotations

import glob
import os
import tempfile

try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # imported for integration_packages() alone, outside a build
    BuildHookInterface = object

ROOT = os.path.dirname(os.path.abspath(__file__))
PTH_NAME = "_logwright_integrations.pth"


def integration_packages(root: str = ROOT) -> list[tuple[str, str]]:
    """``(folder, package)`` of each integration, e.g. ``("integrations/sklearn", "logwright_sklearn")``.

    Paths are relative to ``root``, sorted; an integration folder holds exactly one
    ``logwright_*`` package (with an ``__init__.py``).
    """
    found = []
    for init in sorted(glob.glob(os.path.join(root, "integrations", "*", "logwright_*", "__init__.py"))):
        package_dir = os.path.dirname(init)
        folder = os.path.dirname(package_dir)
        if os.path.basename(folder).startswith(("_", ".")):
            continue
        found.append((os.path.relpath(folder, root).replace(os.sep, "/"), os.path.basename(package_dir)))
    return found


class IntegrationsBuildHook(BuildHookInterface):  # type: ignore[misc,valid-type]
    """Adds the integration packages to wheels and their folders to editable installs."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        """Fill ``force_include`` (wheel) or ``force_include_editable`` (editable install)."""
        if self.target_name != "wheel":
            return
        packages = integration_packages(self.root)
        if version == "editable":
            folder = tempfile.mkdtemp(prefix="logwright-build-")
            pth = os.path.join(folder, PTH_NAME)
            with open(pth, "w", encoding="utf-8") as fh:
                fh.write("\n".join(os.path.join(self.root, f) for f, _ in packages) + "\n")
            build_data["force_include_editable"][pth] = PTH_NAME
            return
        for folder, package in packages:
            build_data["force_include"][f"{folder}/{package}"] = package
