"""Apply and revert :class:`Patch` records with wrapt, restoring originals exactly."""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import Any

import wrapt

from logwright.autolog.integration import Patch
from logwright.autolog.safety import guarded_wrapper

_logger = logging.getLogger(__name__)


@dataclass
class Applied:
    """A patch in place: where it is, what it replaced, and its on/off switch."""

    owner: Any
    name: str
    original: Any
    proxy: Any
    had_own: bool
    switch: list[bool]


def _resolve(patch: Patch) -> tuple[Any, str]:
    owner: Any = importlib.import_module(patch.module)
    *path, name = patch.attribute.split(".")
    for part in path:
        owner = getattr(owner, part)
    return owner, name


def apply(integration: str, patch: Patch) -> Applied | None:
    """Wrap the patch's target with the safety layer; None if the target does not exist."""
    owner, name = _resolve(patch)
    own = owner.__dict__ if isinstance(owner, type) else vars(owner)
    had_own = name in own
    if had_own:
        original = own[name]
    else:
        original = getattr(owner, name, None)
        if original is None:
            _logger.debug("logwright %s: %s.%s not found", integration, patch.module, patch.attribute)
            return None
        if isinstance(owner, type):  # inherited: find the descriptor where it is defined
            for base in owner.__mro__[1:]:
                if name in base.__dict__:
                    original = base.__dict__[name]
                    break
    switch = [True]
    safe = guarded_wrapper(integration, patch.wrapper, lambda: switch[0])
    proxy = wrapt.FunctionWrapper(original, safe)
    setattr(owner, name, proxy)
    return Applied(owner, name, original, proxy, had_own, switch)


def revert(applied: Applied) -> None:
    """Put the original back if our proxy is still in place, else switch the proxy off."""
    owner, name = applied.owner, applied.name
    current = (owner.__dict__ if isinstance(owner, type) else vars(owner)).get(name)
    applied.switch[0] = False
    if current is not applied.proxy:
        _logger.debug("logwright: %r.%s was wrapped again by someone else; left switched off", owner, name)
        return
    if applied.had_own:
        setattr(owner, name, applied.original)
    else:
        delattr(owner, name)
