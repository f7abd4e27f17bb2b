"""Post-import hooks through wrapt, registered without importing wrapt up front.

``import wrapt`` (2.x) pulls in asyncio, inspect and importlib.metadata: tens of
milliseconds, which would make ``autolog()`` slow in a process that has not
imported any framework yet. So when wrapt is not loaded, a tiny meta-path finder
waits for the first import of a trigger module; at that moment (the framework is
about to be imported anyway) it imports wrapt, registers the hooks with
``wrapt.register_post_import_hook`` and hands the import to wrapt's own finder,
which calls them once the module has executed. wrapt does all the hook work.
"""

from __future__ import annotations

import _thread  # a lock without importing threading (autolog() stays cheap)
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable
    from typing import Any


class _DeferredHooks:
    """A meta-path finder that registers pending hooks with wrapt when their module is imported."""

    def __init__(self) -> None:
        self.pending: dict[str, list[Callable[[Any], None]]] = {}
        self.lock = _thread.allocate_lock()

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        """Hand an import of a trigger module over to wrapt's finder (None otherwise)."""
        if fullname not in self.pending:
            return None
        with self.lock:
            hooks = self.pending.pop(fullname, None)
        if not hooks:
            return None
        import wrapt
        from wrapt.importer import ImportHookFinder

        for hook in hooks:
            wrapt.register_post_import_hook(hook, fullname)
        for finder in sys.meta_path:
            if isinstance(finder, ImportHookFinder):
                return finder.find_spec(fullname, path, target)
        return None  # pragma: no cover - wrapt always installs its finder on registration

    def invalidate_caches(self) -> None:
        """Nothing cached here (part of the finder protocol)."""


_deferred = _DeferredHooks()


def on_future_import(module: str, hook: Callable[[Any], None]) -> None:
    """Call ``hook(module_object)`` once, after ``module``'s next import (through wrapt).

    Unlike ``wrapt.when_imported``, this never calls ``hook`` at once for a module that is
    already imported (hence the name): the caller checks ``sys.modules`` first and
    handles that case itself. A hook fires once; register again to hear of a re-import.
    """
    if "wrapt" in sys.modules:
        import wrapt

        wrapt.register_post_import_hook(hook, module)
        return
    with _deferred.lock:
        _deferred.pending.setdefault(module, []).append(hook)
    if _deferred not in sys.meta_path:
        sys.meta_path.insert(0, _deferred)
