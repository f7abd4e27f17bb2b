"""Run context: where and how a run was produced, captured once per process.

``capture()`` returns ``(context, system_tags)``: a nested dict stored with the
run, and flat ``logwright.*`` tags that search and the runs table use:

- source: script path or notebook, and the command line (``LOGWRIGHT_CAPTURE_SOURCE``);
- git: commit, branch, dirty flag, remote URL; the capped diff when dirty is
  returned by :func:`artifacts` as ``context/git.diff`` (``LOGWRIGHT_CAPTURE_GIT``);
- environment: Python, platform, hostname and user (``LOGWRIGHT_CAPTURE_ENV``);
- hardware: CPU model, cores, RAM, GPUs (``LOGWRIGHT_CAPTURE_HARDWARE``);
- packages: versions of the ML packages already imported, never importing one
  (``LOGWRIGHT_CAPTURE_PACKAGES``; re-checked for every run, as cheap lookups).

Each switch defaults to on; set it to 0 to skip that part.
"""

from __future__ import annotations

import os
import sys
import threading

from logwright import config

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

_lock = threading.Lock()
_cache: dict[str, Any] | None = None
_versions: dict[str, str | None] = {}


def _source() -> dict[str, Any]:
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if "ipykernel" in sys.modules and path is None:
        name = os.environ.get("JPY_SESSION_NAME") or getattr(main, "__session__", None) or "<notebook>"
        kind = "NOTEBOOK"
    elif path is None:
        name, kind = ("<interactive>" if hasattr(sys, "ps1") else "<stdin>"), "INTERACTIVE"
    else:
        name, kind = os.path.abspath(path), "SCRIPT"
    argv = [os.path.basename(sys.executable), *sys.argv]
    return {"name": name, "type": kind, "command": " ".join(argv)[:4000]}


def _user() -> str:
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        if os.environ.get(name):
            return os.environ[name]
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        return "unknown"


def _env() -> dict[str, Any]:
    # os.uname()/sys instead of the platform module: platform.platform() reads the
    # interpreter binary to find the libc version (tens of milliseconds).
    uname = os.uname() if hasattr(os, "uname") else None
    version = ".".join(map(str, sys.version_info[:3]))
    return {
        "user": _user(),
        "host": uname.nodename if uname else os.environ.get("COMPUTERNAME", "unknown"),
        "python": {"version": version, "implementation": sys.implementation.name,
                   "executable": sys.executable},
        "platform": f"{uname.sysname}-{uname.release}-{uname.machine}" if uname else sys.platform,
    }


def _git_start(source: dict[str, Any] | None) -> str:
    if source and source.get("type") == "SCRIPT":
        return os.path.dirname(source["name"])
    return os.getcwd()


def _compute() -> dict[str, Any]:
    parts: dict[str, Any] = {}
    source = _source() if config.flag(config.CAPTURE_SOURCE, True) else None
    if source:
        parts["source"] = source
    if config.flag(config.CAPTURE_ENV, True):
        parts.update(_env())
    if config.flag(config.CAPTURE_GIT, True):
        from logwright.context import git

        info, diff = git.capture(_git_start(source))
        if info:
            parts["git"] = info
        parts["_diff"] = diff
    if config.flag(config.CAPTURE_HARDWARE, True):
        from logwright.context import hardware

        parts["hardware"] = hardware.capture()
    return parts


def _version(module: str, dist: str) -> str | None:
    if module not in _versions:
        found = getattr(sys.modules[module], "__version__", None)
        if not isinstance(found, str):
            from importlib.metadata import PackageNotFoundError, version

            try:
                found = version(dist)
            except PackageNotFoundError:
                found = None
        _versions[module] = found
    return _versions[module]


def packages() -> dict[str, str]:
    """Versions of the packages in ``config.CONTEXT_PACKAGES`` that are imported right now."""
    out = {}
    for module, dist in config.CONTEXT_PACKAGES.items():
        if module in sys.modules:
            found = _version(module, dist)
            if found:
                out[dist] = found
    return out


def _cached() -> dict[str, Any]:
    global _cache
    if _cache is None:
        with _lock:
            if _cache is None:
                _cache = _compute()
    return _cache


def _tags(context: dict[str, Any]) -> dict[str, str]:
    tags = {}
    source, git = context.get("source") or {}, context.get("git") or {}
    pairs = (
        ("logwright.source.name", source.get("name")), ("logwright.source.type", source.get("type")),
        ("logwright.user", context.get("user")), ("logwright.host", context.get("host")),
        ("logwright.git.commit", git.get("commit")), ("logwright.git.branch", git.get("branch")),
        ("logwright.git.remote", git.get("remote")),
        ("logwright.git.dirty", None if not git else str(bool(git.get("dirty"))).lower()),
    )
    for key, value in pairs:
        if value:
            tags[key] = str(value)
    return tags


def capture() -> tuple[dict[str, Any], dict[str, str]]:
    """The process's run context and system tags (computed once, then cached; packages per call)."""
    context = {k: v for k, v in _cached().items() if not k.startswith("_")}
    if config.flag(config.CAPTURE_PACKAGES, True):
        context["packages"] = packages()
    return context, _tags(context)


def artifacts() -> dict[str, str]:
    """Files to store with every run: ``{"context/git.diff": diff}`` when the tree is dirty."""
    diff = _cached().get("_diff")
    return {"context/git.diff": diff} if diff else {}


def reset() -> None:
    """Forget the cached context (tests, or after a fork into another program)."""
    global _cache
    with _lock:
        _cache = None
        _versions.clear()


def _hardware_line(hw: dict[str, Any]) -> str:
    mem = f", {hw['memory_mb'] / 1024:.1f} GiB RAM" if hw.get("memory_mb") else ""
    line = f"{hw.get('cpu') or '?'}, {hw.get('cores') or '?'} cores{mem}"
    gpus = hw.get("gpus") or []
    if gpus:
        names = [g.get("name", "?") + (f" ({g['memory_mb']} MiB)" if g.get("memory_mb") else "") for g in gpus]
        line += f"; {len(gpus)} GPU(s): " + ", ".join(names)
    return line


def format_context(context: dict[str, Any]) -> list[str]:
    """Lines for ``logwright runs show``: source, git, Python, host, hardware, packages."""
    lines = []
    source = context.get("source") or {}
    if source:
        lines.append(f"source    {source.get('name')} ({source.get('type', '?')})")
        if source.get("command"):
            lines.append(f"command   {source['command']}")
    git = context.get("git") or {}
    if git:
        state = " (dirty: diff in context/git.diff)" if git.get("dirty") else ""
        lines.append(f"git       {(git.get('commit') or '?')[:12]} on {git.get('branch') or 'detached'}{state}")
        if git.get("remote"):
            lines.append(f"remote    {git['remote']}")
    python = context.get("python")
    if python:
        version = python.get("version") if isinstance(python, dict) else python
        lines.append(f"python    {version} on {context.get('platform', '?')}")
    if context.get("host") or context.get("user"):
        lines.append(f"host      {context.get('user', '?')}@{context.get('host', '?')}")
    if context.get("hardware"):
        lines.append(f"hardware  {_hardware_line(context['hardware'])}")
    if context.get("packages"):
        lines.append("packages  " + ", ".join(f"{k} {v}" for k, v in sorted(context["packages"].items())))
    return lines
