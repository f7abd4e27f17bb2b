"""``logwright integrations``: every discovered integration, its framework and its state.

No framework is imported: installed versions come from the distributions'
metadata, and the state is what this process's registry knows. A fresh CLI
process has enabled nothing, so an installed framework that ``autolog()`` would
patch reads ``available`` (``too old`` below the supported floor).
"""

from __future__ import annotations

import argparse

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any


def rows() -> list[tuple[str, str, str, str, str]]:
    """One ``(name, framework, installed, floor, state)`` row per discovered integration.

    The state is ACTIVE or PENDING from the registry; ``available`` when the framework is
    installed and not enabled in this process (``too old`` below the floor); ``not
    installed`` when its distribution is absent; ``failed to load`` for a broken plugin.
    """
    from logwright.autolog.registry import (
        DISABLED,
        installed_version,
        parse_requirement,
        registry,
        version_tuple,
    )

    out = []
    for name, cls in sorted(registry.discover().items()):
        dist, floor = parse_requirement(getattr(cls, "requirement", "") or "")
        installed = installed_version(dist) if dist else None
        state = registry.state(name) if installed else "not installed"
        if installed and state == DISABLED:
            state = "too old" if floor and version_tuple(installed) < floor else "available"
        shown_floor = ".".join(map(str, floor)) if floor else "any"
        out.append((name, dist or "?", installed or "-", f">={shown_floor}", state))
    for name, error in sorted(registry.failed.items()):
        out.append((name, "?", "-", "?", f"failed to load ({error})"))
    return out


def cmd_integrations(args: argparse.Namespace) -> int:
    """Print the integrations table."""
    from logwright.cli import table

    print(table(["INTEGRATION", "FRAMEWORK", "INSTALLED", "SUPPORTED", "STATE"], rows(), max_width=80))
    return 0


def register(subparsers: Any) -> None:
    """Add the ``integrations`` command to ``logwright``'s subcommands."""
    parser = subparsers.add_parser(
        "integrations", help="discovered autolog integrations, framework versions and state"
    )
    parser.set_defaults(func=cmd_integrations)
