"""Run context: where and how a run was produced, captured once per process.

``capture()`` returns ``(context, system_tags)``: a nested dict stored with the
run, and flat ``logwright.*`` tags that search and the runs table use.
"""

from __future__ import annotations

import getpass
import os
import platform
import socket
import sys
from typing import Any

_cache: tuple[dict[str, Any], dict[str, str]] | None = None


def _source() -> dict[str, Any]:
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path is None:
        name = "<interactive>" if hasattr(sys, "ps1") or "ipykernel" in sys.modules else "<stdin>"
    else:
        name = os.path.abspath(path)
    return {"name": name, "command": " ".join([os.path.basename(sys.executable), *sys.argv])}


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        return os.environ.get("USER", "unknown")


def capture() -> tuple[dict[str, Any], dict[str, str]]:
    """The process's run context and system tags (computed once, then cached)."""
    global _cache
    if _cache is None:
        source = _source()
        context: dict[str, Any] = {
            "source": source,
            "user": _user(),
            "host": socket.gethostname(),
            "python": platform.python_version(),
            "platform": platform.platform(terse=True),
        }
        tags = {
            "logwright.source.name": source["name"],
            "logwright.user": context["user"],
            "logwright.host": context["host"],
        }
        _cache = (context, tags)
    return _cache[0], dict(_cache[1])


def reset() -> None:
    """Forget the cached context (tests, or after a fork into another program)."""
    global _cache
    _cache = None
