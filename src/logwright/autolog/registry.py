"""One Registry object: discovers integrations, tracks their state, applies their patches.

States: DISABLED -> PENDING (post-import hook registered, framework not imported yet)
-> ACTIVE (patches applied) -> DISABLED. Everything happens under one lock.

Patches are deferred per module: a :class:`Patch` (or :class:`ModulePatches`) whose
module is not imported yet is applied by a post-import hook on that module, while
its integration is ACTIVE, and reverted with the rest on disable.
"""

from __future__ import annotations

import _thread  # threading's lock without importing threading (autolog() stays cheap)
import sys

from logwright.autolog import discovery, hooks
from logwright.autolog.integration import COMMON_OPTIONS, Integration, ModulePatches, Patch
from logwright.lazylog import get_logger

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

    from logwright.autolog.patching import Applied

_logger = get_logger(__name__)

GROUP = "logwright.integrations"
DISABLED, PENDING, ACTIVE = "DISABLED", "PENDING", "ACTIVE"


def parse_requirement(requirement: str) -> tuple[str, tuple[int, ...]]:
    """``"scikit-learn>=1.3"`` -> ``("scikit-learn", (1, 3))``; no ``>=`` means no floor."""
    text = requirement.split(";", 1)[0]
    if "[" in text:  # extras: "dspy[all]>=2.6"
        text = text[: text.index("[")] + text[text.find("]") + 1 :]
    cut = min((i for i in (text.find(c) for c in "<>=!~ (") if i > 0), default=len(text))
    name = text[:cut].strip()
    floor: tuple[int, ...] = ()
    for clause in text[cut:].strip(" ()").split(","):
        clause = clause.strip()
        if clause.startswith((">=", "~=", "==")):
            floor = version_tuple(clause[2:])
    return name, floor


def version_tuple(text: str) -> tuple[int, ...]:
    """Leading numeric release parts of a version string: ``"2.13.0+cpu"`` -> ``(2, 13, 0)``."""
    parts = []
    for piece in text.strip().split("."):
        digits = ""
        for ch in piece:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            break
        parts.append(int(digits))
        if len(digits) < len(piece):
            break
    return tuple(parts)


def installed_version(dist: str) -> str | None:
    """The installed version of a distribution (importlib.metadata; imports nothing else)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def _report(integration: str, exc: BaseException) -> None:
    from logwright.autolog.safety import report

    report(integration, exc)


class Registry:
    """The process's integrations and their states (resettable in tests).

    Attributes:
        integrations: instances created so far, by name.
        states: each instance's state (DISABLED, PENDING or ACTIVE).
        failed: entry points that failed to load, name -> error text.
    """

    def __init__(self) -> None:
        self._lock = _thread.RLock()
        self.silenced: set[str] = set()  # integrations configured silent=True (read by safety.report)
        self._classes: dict[str, type[Integration]] | None = None
        self._cached: dict[str, dict[str, Any]] | None = None  # scan_cache declarations ({}: a miss)
        self._loaded: dict[str, type[Integration]] = {}  # classes loaded one by one through the cache
        self._options: dict[str, dict[str, Any]] = {}  # configured options, also for classes not loaded
        self.integrations: dict[str, Integration] = {}
        self.states: dict[str, str] = {}
        self.failed: dict[str, str] = {}
        self._applied: dict[str, list[Applied]] = {}
        self._hooked: set[str] = set()  # modules whose import hook is registered and has not fired
        self._deferred: dict[str, list[tuple[str, Patch | ModulePatches]]] = {}  # module -> records
        self._by_original: dict[str, dict[int, Applied]] = {}  # name -> id(original or proxy) -> patch
        self._warned_old: set[str] = set()

    # -- discovery ------------------------------------------------------------------

    def discover(self) -> dict[str, type[Integration]]:
        """Integration classes from the entry points (loaded once; no framework imported).

        Loading them refreshes the declarations cache (:mod:`logwright.autolog.scan_cache`)
        that lets :meth:`names` answer later processes without importing any of them.
        """
        if self._classes is None:
            from logwright.autolog import scan_cache

            found: dict[str, type[Integration]] = {}
            described: dict[str, dict[str, Any]] = {}
            for ep in discovery.entry_points(GROUP):
                try:
                    found[ep.name] = ep.load()
                    described[ep.name] = scan_cache.describe(ep, found[ep.name])
                except Exception as exc:  # noqa: BLE001 - a broken plugin must not break autolog
                    self.failed[ep.name] = f"{type(exc).__name__}: {exc}"
                    _logger.warning("logwright: integration %r failed to load: %s", ep.name, exc)
            if not self.failed:  # a broken plugin is tried again by the next process
                scan_cache.store(GROUP, described)
            self._classes = found
        return self._classes

    def _declared(self) -> dict[str, dict[str, Any]] | None:
        """The cached declarations, when the classes are not loaded and the cache is current."""
        if self._classes is not None:
            return None
        if self._cached is None:
            from logwright.autolog import scan_cache

            self._cached = scan_cache.load(GROUP) or {}
        return self._cached or None

    def _class(self, name: str) -> type[Integration]:
        """``name``'s class: from the loaded ones, else only its own entry point (from the cache)."""
        declared = self._declared()
        if declared is None or name not in declared:
            return self.discover()[name]
        cls = self._loaded.get(name)
        if cls is None:
            try:
                cls = self._loaded[name] = discovery.EntryPoint(name, declared[name]["value"]).load()
            except Exception:  # noqa: BLE001 - moved or broken since cached: load them all, reporting
                self.clear_discovery()
                return self.discover()[name]
        return cls

    def names(self) -> list[str]:
        """Every integration's name, from the cache when it is current (nothing imported)."""
        declared = self._declared()
        return sorted(declared if declared is not None else self.discover())

    def trigger(self, name: str) -> str:
        """The module whose import enables ``name`` (its ``Integration.module``)."""
        inst = self.integrations.get(name)
        if inst is not None:
            return inst.module
        declared = self._declared()
        if declared is not None and name in declared:
            return declared[name]["module"]
        return self._class(name).module

    def clear_discovery(self) -> None:
        """Forget the discovered classes so the next :meth:`discover` reads the entry points again."""
        with self._lock:
            self._classes = None
            self._cached = None
            self._loaded.clear()
            self.failed.clear()

    def add(self, cls: type[Integration]) -> None:
        """Register an integration class directly (tests, unpackaged plugins)."""
        self.discover()[cls.name] = cls

    def get(self, name: str) -> Integration:
        """The integration instance called ``name`` (created on first use, with its options)."""
        with self._lock:
            inst = self.integrations.get(name)
            if inst is None:
                inst = self.integrations[name] = self._class(name)()
                if name in self._options:
                    inst.config.options = {**COMMON_OPTIONS, **inst.defaults, **self._options[name]}
                self.states.setdefault(name, DISABLED)
            return inst

    def state(self, name: str) -> str:
        """``name``'s state; DISABLED for one never enabled."""
        return self.states.get(name, DISABLED)

    def option(self, name: str, option: str) -> Any:
        """One option of ``name`` as configured (its default when never configured)."""
        inst = self.integrations.get(name)
        if inst is not None:
            return inst.config.get(option)
        if option in self._options.get(name, {}):
            return self._options[name][option]
        return COMMON_OPTIONS.get(option)

    def _option_names(self, name: str) -> set[str]:
        declared = self._declared()
        if name not in self.integrations and declared is not None and name in declared:
            return set(declared[name]["options"])
        return set(self.get(name).defaults)

    def check_options(self, name: str, options: dict[str, Any]) -> None:
        """Raise ValueError for a knob that is neither a common option nor one of ``name``'s."""
        known = set(COMMON_OPTIONS) | self._option_names(name)
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(f"unknown autolog option(s) {unknown} for {name!r}; known: {sorted(known)}")

    def configure(self, name: str, options: dict[str, Any]) -> None:
        """Replace an integration's options (defaults + ``options``); unknown knobs raise ValueError.

        An integration not loaded yet gets them when it is (:meth:`get`).
        """
        self.check_options(name, options)
        with self._lock:
            self._options[name] = dict(options)
            inst = self.integrations.get(name)
            if inst is not None:
                inst.config.options = {**COMMON_OPTIONS, **inst.defaults, **options}
            if options.get("silent"):
                self.silenced.add(name)
            else:
                self.silenced.discard(name)

    # -- enabling -------------------------------------------------------------------

    def enable(self, name: str) -> str:
        """Patch now if the framework is imported, else on its import. Idempotent.

        An error in the integration's patches is reported (warned once, raised in strict
        mode) and leaves it DISABLED; it never escapes otherwise.
        """
        with self._lock:
            if self.state(name) in (ACTIVE, PENDING):
                return self.states[name]
            module = self.trigger(name)
            if module in sys.modules:
                self._activate_reporting(self.get(name))
            else:
                self.states[name] = PENDING  # the integration's package is imported with the framework
                self._watch(module)
            return self.states[name]

    def _watch(self, module: str) -> None:
        """Hear of ``module``'s next import (one hook per module, whoever waits for it)."""
        if module not in self._hooked:
            self._hooked.add(module)
            hooks.on_future_import(module, self._make_hook(module))

    def _make_hook(self, module: str) -> Any:
        def hook(_module: Any) -> None:
            try:  # a raising hook would break the user's import
                self._hooked.discard(module)
                self._on_import(module)
            except Exception as exc:  # noqa: BLE001
                _logger.error("logwright: enabling autolog for %s failed: %s", module, exc)

        return hook

    def _on_import(self, module: str) -> None:
        with self._lock:
            for name, state in list(self.states.items()):
                if state == PENDING and self.trigger(name) == module:
                    self._activate_reporting(self.get(name))
            for name, record in self._deferred.pop(module, ()):
                if self.states.get(name) == ACTIVE:
                    self._place_reporting(name, record)

    def _place_reporting(self, name: str, record: Patch | ModulePatches) -> None:
        """Apply a deferred record from an import hook: errors are reported, never raised."""
        try:
            try:
                self._place(name, record)
            except Exception as exc:  # noqa: BLE001 - our (or the plugin's) bug: never the user's
                _report(name, exc)
        except Exception as exc:  # noqa: BLE001 - strict mode re-raised: still never break an import
            _logger.error("logwright %s: patching %s failed: %r", name, record.module, exc)

    def _place(self, name: str, record: Patch | ModulePatches) -> None:
        """Apply ``record`` if its module is imported, else when it is (see :class:`Patch`)."""
        module = sys.modules.get(record.module)
        if module is None:
            self._deferred.setdefault(record.module, []).append((name, record))
            self._watch(record.module)
            return
        if isinstance(record, ModulePatches):
            for patch in record.build(module):
                self._place(name, patch)
            return
        from logwright.autolog.patching import apply

        by_original = self._by_original.setdefault(name, {})
        done = apply(name, record, by_original)
        if done is not None:
            self._applied.setdefault(name, []).append(done)
            by_original.setdefault(id(done.original), done)
            by_original.setdefault(id(done.proxy), done)

    def _activate_reporting(self, inst: Integration) -> None:
        try:
            self._activate(inst)
        except Exception as exc:  # noqa: BLE001 - our (or the plugin's) bug: never the user's
            self.states[inst.name] = DISABLED
            _report(inst.name, exc)

    def _supported(self, inst: Integration) -> bool:
        dist, floor = parse_requirement(inst.requirement)
        installed = installed_version(dist)
        if installed is None:
            return True  # imported from source: trust it
        if version_tuple(installed) < floor and not inst.config.get("allow_unsupported"):
            if inst.name not in self._warned_old and not inst.config.get("silent"):
                import warnings

                self._warned_old.add(inst.name)
                warnings.warn(
                    f"logwright: {dist} {installed} is older than the supported {inst.requirement}; "
                    f"{inst.name} autolog is off (autolog(allow_unsupported=True) tries anyway)",
                    RuntimeWarning,
                    stacklevel=2,
                )
            return False
        if inst.tested_up_to and version_tuple(installed) > version_tuple(inst.tested_up_to):
            _logger.debug("logwright: %s %s is newer than tested (%s)", dist, installed, inst.tested_up_to)
        return True

    def _activate(self, inst: Integration) -> None:
        from logwright.autolog.patching import revert

        if not self._supported(inst):
            self.states[inst.name] = DISABLED
            return
        self._applied[inst.name] = []
        try:
            for record in inst.patches(inst.config):
                self._place(inst.name, record)
            inst.on_enable(inst.config)
        except BaseException:
            for done in reversed(self._applied.pop(inst.name, [])):
                revert(done)
            self._forget_deferred(inst.name)
            raise
        self.states[inst.name] = ACTIVE

    def _forget_deferred(self, name: str) -> None:
        self._by_original.pop(name, None)
        for module, records in list(self._deferred.items()):
            records[:] = [(n, r) for n, r in records if n != name]
            if not records:
                del self._deferred[module]

    # -- disabling ------------------------------------------------------------------

    def disable(self, name: str) -> None:
        """Revert every patch of one integration (originals restored by identity). Idempotent.

        Every patch is reverted even if ``on_disable`` fails; that failure is then reported.
        """
        with self._lock:
            if self.states.get(name, DISABLED) == DISABLED:
                return
            inst = self.integrations.get(name)
            was_active = self.states[name] == ACTIVE
            self.states[name] = DISABLED
            error: Exception | None = None
            if was_active and inst is not None:
                try:
                    inst.on_disable()
                except Exception as exc:  # noqa: BLE001 - still revert the patches
                    error = exc
            self._forget_deferred(name)
            if name in self._applied:
                from logwright.autolog.patching import revert

                for done in reversed(self._applied.pop(name)):
                    revert(done)
        if error is not None:
            _report(name, error)

    def applied(self, name: str) -> list[Applied]:
        """The patches in place for ``name`` (empty unless ACTIVE)."""
        return list(self._applied.get(name, ()))

    def reset(self) -> None:
        """Disable everything and forget instances and configs (tests); discovery stays cached."""
        for name in list(self.states):
            self.disable(name)
        with self._lock:
            self.integrations.clear()
            self.states.clear()
            self._options.clear()
            self._warned_old.clear()
            self.silenced.clear()
            from logwright.autolog import safety

            safety._warned.clear()


registry = Registry()
