"""Apply and revert :class:`Patch` records, restoring originals exactly.

A plain (non-async, non-generator) function or method is replaced by a small
function from :func:`_make_function_wrapper`: it binds like the original (the C
fast path, no per-access wrapper object), so the non-logging path costs one
Python call, and it pickles, deepcopies and introspects like any function
(``functools.update_wrapper``: ``__name__``, ``__doc__``, ``__wrapped__``, hence
``inspect.signature``). Every other target (classmethods, staticmethods, coroutine
and generator functions, builtins) gets a wrapt ``FunctionWrapper``, which keeps
``inspect.iscoroutinefunction`` and friends true. Integrations write one wrapper
signature either way: ``(wrapped, instance, args, kwargs)``.

Imported only when a framework is being patched (wrapt is not cheap to import).
"""

from __future__ import annotations

import functools
import importlib
import types

import wrapt

from logwright.autolog.integration import Patch
from logwright.autolog.safety import _inside, _run_guarded, guarded_wrapper
from logwright.lazylog import get_logger

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable
    from typing import Any

_logger = get_logger(__name__)


class _BoundProxy(wrapt.BoundFunctionWrapper):
    """A patched method bound to an instance; pickles and copies like a bound method."""

    def __reduce_ex__(self, protocol: int) -> Any:
        owner = self.__self__
        if owner is None:  # pragma: no cover - unbound access through the class
            return self.__wrapped__.__reduce_ex__(protocol)
        return getattr, (owner, self.__name__)

    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, memo: Any) -> Any:
        return self


class _Proxy(wrapt.FunctionWrapper):
    """Our wrapt proxy: like a function, it pickles by reference and copies as itself."""

    __bound_function_wrapper__ = _BoundProxy

    def __reduce_ex__(self, protocol: int) -> Any:
        # Functions pickle by qualified name; the name resolves to this proxy while patched.
        return self.__qualname__

    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, memo: Any) -> Any:
        return self


class Applied:
    """A patch in place: where it is, what it replaced, and its on/off switch.

    Attributes:
        owner: the class or module the attribute was set on.
        name: the attribute's name.
        original: the object found there (or inherited) before patching.
        proxy: the wrapt proxy now in its place.
        had_own: whether ``owner`` had the attribute itself (else it was inherited).
        switch: ``[True]`` while the proxy logs; revert sets it to False.
    """

    __slots__ = ("owner", "name", "original", "proxy", "had_own", "switch")

    def __init__(self, owner: Any, name: str, original: Any, proxy: Any, had_own: bool,
                 switch: list[bool]) -> None:
        self.owner, self.name, self.original = owner, name, original
        self.proxy, self.had_own, self.switch = proxy, had_own, switch

    def __repr__(self) -> str:
        return f"<Applied {getattr(self.owner, '__name__', self.owner)}.{self.name}>"


_SPECIAL_CODE = 0x20 | 0x80 | 0x100 | 0x200  # generator, coroutine, iterable coroutine, async generator


def _is_plain_function(obj: object) -> bool:
    return type(obj) is types.FunctionType and not obj.__code__.co_flags & _SPECIAL_CODE


def _make_function_wrapper(integration: str, wrapper: Callable, original: Callable, switch: list[bool],
                           method: bool) -> Callable:
    if method:
        def patched(self: Any, *args: Any, **kwargs: Any) -> Any:
            if not switch[0] or _inside.get() is not None:
                return original(self, *args, **kwargs)
            return _run_guarded(integration, wrapper, original.__get__(self), self, args, kwargs)
    else:
        def patched(*args: Any, **kwargs: Any) -> Any:
            if not switch[0] or _inside.get() is not None:
                return original(*args, **kwargs)
            return _run_guarded(integration, wrapper, original, None, args, kwargs)

    return functools.update_wrapper(patched, original)


def _resolve(patch: Patch) -> tuple[Any, str]:
    owner: Any = importlib.import_module(patch.module)
    *path, name = patch.attribute.split(".")
    for part in path:
        owner = getattr(owner, part)
    return owner, name


def _own_dict(owner: Any) -> Any:
    return owner.__dict__ if isinstance(owner, type) else vars(owner)


def apply(integration: str, patch: Patch, done: dict[int, Applied] | None = None) -> Applied | None:
    """Wrap the patch's target with the safety layer; None if the target does not exist.

    Args:
        integration: the integration's name.
        patch: what to wrap.
        done: the integration's patches in place, by ``id()`` of their original and of their
            proxy: a target that is one of those re-exported elsewhere
            (``sklearn.metrics.accuracy_score``) gets that same proxy, so it pickles and
            compares as the one function it is, and gets the original back on revert.
    """
    owner, name = _resolve(patch)
    own = _own_dict(owner)
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
    twin = None if done is None else done.get(id(original))
    if twin is not None and original in (twin.original, twin.proxy):  # a re-export, taken before or after
        setattr(owner, name, twin.proxy)
        return Applied(owner, name, twin.original, twin.proxy, had_own, twin.switch)
    switch = [True]
    if _is_plain_function(original):
        proxy = _make_function_wrapper(integration, patch.wrapper, original, switch, isinstance(owner, type))
    else:
        proxy = _Proxy(original, guarded_wrapper(integration, patch.wrapper, switch))
    setattr(owner, name, proxy)
    return Applied(owner, name, original, proxy, had_own, switch)


def revert(applied: Applied) -> bool:
    """Put the original back if our proxy is still in place, else switch the proxy off.

    Returns:
        True if the original is back (``getattr`` finds it again), False if someone wrapped
        on top of our proxy and it was only switched off.
    """
    owner, name = applied.owner, applied.name
    current = _own_dict(owner).get(name)
    applied.switch[0] = False
    if current is not applied.proxy:
        _logger.debug("logwright: %r.%s was wrapped again by someone else; left switched off", owner, name)
        return False
    if applied.had_own:
        setattr(owner, name, applied.original)
    else:
        delattr(owner, name)
    return True
