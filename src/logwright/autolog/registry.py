"""One Registry object: discovers integrations, tracks their state, applies their patches.

States: DISABLED -> PENDING (post-import hook registered, framework not imported yet)
-> ACTIVE (patches applied) -> DISABLED. Everything happens under one lock.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import warnings
from importlib.metadata import PackageNotFoundError, entry_points, version
from typing import Any

import wrapt

from logwright.autolog.integration import COMMON_OPTIONS, Integration
from logwright.autolog.patching import Applied, apply, revert
from logwright.autolog.safety import report

_logger = logging.getLogger(__name__)

GROUP = "logwright.integrations"
DISABLED, PENDING, ACTIVE = "DISABLED", "PENDING", "ACTIVE"


def parse_requirement(requirement: str) -> tuple[str, tuple[int, ...]]:
    """``"scikit-learn>=1.3"`` -> ``("scikit-learn", (1, 3))``."""
    name, _, floor = requirement.partition(">=")
    return name.strip(), version_tuple(floor)


def version_tuple(text: str) -> tuple[int, ...]:
    """Leading numeric release parts of a version string: ``"2.13.0+cpu"`` -> ``(2, 13, 0)``."""
    parts = []
    for piece in text.strip().split("."):
        match = re.match(r"\d+", piece)
        if match is None:
            break
        parts.append(int(match.group()))
    return tuple(parts)


class Registry:
    """The process's integrations and their states (resettable in tests)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._classes: dict[str, type[Integration]] | None = None
        self.integrations: dict[str, Integration] = {}
        self.states: dict[str, str] = {}
        self._applied: dict[str, list[Applied]] = {}
        self._hooked: set[str] = set()

    def discover(self) -> dict[str, type[Integration]]:
        """Integration classes from the entry points (loaded once; no framework imported)."""
        if self._classes is None:
            found: dict[str, type[Integration]] = {}
            for ep in entry_points(group=GROUP):
                try:
                    found[ep.name] = ep.load()
                except Exception as exc:  # noqa: BLE001 - a broken plugin must not break autolog
                    _logger.warning("logwright: integration %r failed to load: %s", ep.name, exc)
            self._classes = found
        return self._classes

    def add(self, cls: type[Integration]) -> None:
        """Register an integration class directly (tests, unpackaged plugins)."""
        self.discover()[cls.name] = cls

    def get(self, name: str) -> Integration:
        """The integration instance called ``name`` (created on first use)."""
        with self._lock:
            inst = self.integrations.get(name)
            if inst is None:
                inst = self.integrations[name] = self.discover()[name]()
                self.states[name] = DISABLED
            return inst

    def configure(self, name: str, options: dict[str, Any]) -> Integration:
        """Merge ``options`` into an integration's config; unknown knobs raise ValueError."""
        inst = self.get(name)
        known = {**COMMON_OPTIONS, **inst.defaults}
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ValueError(
                f"unknown autolog option(s) {unknown} for {name!r}; known: {sorted(known)}"
            )
        inst.config.options = {**known, **options}
        return inst

    def enable(self, name: str) -> str:
        """Patch now if the framework is imported, else on its import. Idempotent."""
        with self._lock:
            inst = self.get(name)
            if self.states[name] in (ACTIVE, PENDING):
                return self.states[name]
            if inst.module in sys.modules:
                self._activate(inst)
            else:
                self.states[name] = PENDING
                if name not in self._hooked:
                    self._hooked.add(name)
                    wrapt.register_post_import_hook(self._make_hook(name), inst.module)
            return self.states[name]

    def _make_hook(self, name: str) -> Any:
        def hook(_module: Any) -> None:
            try:  # a raising hook would break the user's import
                with self._lock:
                    if self.states.get(name) == PENDING:
                        self._activate(self.integrations[name])
            except Exception as exc:  # noqa: BLE001
                try:
                    report(name, exc)
                except Exception as strict_exc:  # noqa: BLE001 - strict mode: still never break import
                    _logger.error("logwright: enabling %s failed: %s", name, strict_exc)

        return hook

    def _supported(self, inst: Integration) -> bool:
        dist, floor = parse_requirement(inst.requirement)
        try:
            installed = version(dist)
        except PackageNotFoundError:
            return True  # imported from source: trust it
        if version_tuple(installed) < floor and not inst.config.get("allow_unsupported"):
            warnings.warn(
                f"logwright: {dist} {installed} is older than the supported {inst.requirement}; "
                f"{inst.name} autolog is off (autolog(allow_unsupported=True) tries anyway)",
                RuntimeWarning,
                stacklevel=4,
            )
            return False
        if inst.tested_up_to and version_tuple(installed) > version_tuple(inst.tested_up_to):
            _logger.debug("logwright: %s %s is newer than tested (%s)", dist, installed, inst.tested_up_to)
        return True

    def _activate(self, inst: Integration) -> None:
        if not self._supported(inst):
            self.states[inst.name] = DISABLED
            return
        applied = []
        try:
            for patch in inst.patches(inst.config):
                done = apply(inst.name, patch)
                if done is not None:
                    applied.append(done)
            inst.on_enable(inst.config)
        except BaseException:
            for done in reversed(applied):
                revert(done)
            raise
        self._applied[inst.name] = applied
        self.states[inst.name] = ACTIVE

    def disable(self, name: str) -> None:
        """Revert every patch of one integration (originals restored by identity). Idempotent."""
        with self._lock:
            if self.states.get(name, DISABLED) == DISABLED:
                return
            inst = self.integrations[name]
            if self.states[name] == ACTIVE:
                inst.on_disable()
            for done in reversed(self._applied.pop(name, [])):
                revert(done)
            self.states[name] = DISABLED

    def reset(self) -> None:
        """Disable everything and forget configs (tests)."""
        for name in list(self.integrations):
            self.disable(name)
        self.integrations.clear()
        self.states.clear()


registry = Registry()
