"""The Integration contract: what a framework integration declares, and the options it reads.

This module is imported by ``logwright.autolog()`` before any framework, so it
stays cheap: no ``dataclasses``/``typing`` at runtime (both cost milliseconds on
a cold interpreter).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable, Sequence
    from typing import Any, ClassVar

COMMON_OPTIONS: dict[str, Any] = {
    "disable": False,
    "exclusive": False,
    "silent": False,
    "log_models": True,
    "registered_model_name": None,
    "log_datasets": True,
    "log_input_examples": False,
    "log_traces": True,
    "log_system_metrics": False,
    "extra_tags": None,
    "allow_unsupported": False,
}


class Patch:
    """One attribute to wrap (an immutable record).

    The registry applies it when its ``module`` is imported: at once if it already is,
    else right after that module's first import (so a patch on a submodule the framework
    imports lazily, or on a second framework, needs no hook of the integration's own),
    and reverts it on disable.

    Attributes:
        module: the module holding the target, e.g. ``"sklearn.base"``.
        attribute: dotted path inside it, e.g. ``"BaseEstimator.fit"``; a method a class
            inherits is wrapped on that class and removed again on disable. Targets are
            functions and methods (plain, class- or static-), never classes.
        wrapper: a wrapt-style wrapper ``(wrapped, instance, args, kwargs)``.
    """

    __slots__ = ("module", "attribute", "wrapper")

    def __init__(self, module: str, attribute: str, wrapper: Callable[..., Any]) -> None:
        object.__setattr__(self, "module", module)
        object.__setattr__(self, "attribute", attribute)
        object.__setattr__(self, "wrapper", wrapper)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Patch is immutable (cannot set {name!r})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Patch):
            return NotImplemented
        return (self.module, self.attribute, self.wrapper) == (other.module, other.attribute, other.wrapper)

    def __hash__(self) -> int:
        return hash((self.module, self.attribute))

    def __repr__(self) -> str:
        return f"Patch({self.module!r}, {self.attribute!r}, {self.wrapper!r})"


class ModulePatches:
    """The patches of one module, built only once that module is imported (an immutable record).

    For patches that depend on what a module defines (every estimator class of each
    ``sklearn.*`` module, say): the registry calls ``build(module_object)`` at once if
    the module is imported, else right after its first import, then applies what it
    returns like any other :class:`Patch`. Return it from :meth:`Integration.patches`.

    Attributes:
        module: the module's name, e.g. ``"sklearn.linear_model._logistic"``.
        build: ``build(module_object) -> Sequence[Patch]``.
    """

    __slots__ = ("module", "build")

    def __init__(self, module: str, build: Callable[[Any], Sequence[Patch]]) -> None:
        object.__setattr__(self, "module", module)
        object.__setattr__(self, "build", build)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"ModulePatches is immutable (cannot set {name!r})")

    def __repr__(self) -> str:
        return f"ModulePatches({self.module!r}, {self.build!r})"


class AutologConfig:
    """Options one integration sees, read at call time (``autolog()`` again updates them).

    Read options as attributes (``cfg.log_models``) or with :meth:`get`.

    Attributes:
        options: the common options (see ``COMMON_OPTIONS``) merged with the integration's
            own knobs (``Integration.defaults``) and the user's overrides.
    """

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self.options = dict(options or {})

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["options"][name]
        except KeyError:
            raise AttributeError(name) from None

    def get(self, name: str, default: Any = None) -> Any:
        """An option's value, or ``default``."""
        return self.options.get(name, default)

    def __repr__(self) -> str:
        return f"AutologConfig({self.options!r})"


class Integration(ABC):
    """A framework integration, discovered through the ``logwright.integrations`` entry points.

    Subclasses declare ``name`` (equal to the entry-point name), ``module`` (the import
    that triggers patching), ``requirement`` (``"dist>=floor"``, declared once; the
    noxfile and the version check both read it) and their own knobs in ``defaults``;
    they return their patches from :meth:`patches`. Loading the class must not import
    the framework.
    """

    name: ClassVar[str]
    module: ClassVar[str]
    requirement: ClassVar[str]
    defaults: ClassVar[dict[str, Any]] = {}
    tested_up_to: ClassVar[str | None] = None

    def __init__(self) -> None:
        self.config = AutologConfig({**COMMON_OPTIONS, **self.defaults})

    @abstractmethod
    def patches(self, config: AutologConfig) -> Sequence[Patch | ModulePatches]:
        """The attributes to wrap (called once the framework is imported).

        Each record is applied when its own module is imported (see :class:`Patch`).
        """

    def on_enable(self, config: AutologConfig) -> None:  # noqa: B027 - optional hook
        """Install native hooks (callbacks, global hooks) after the patches are applied."""

    def on_disable(self) -> None:  # noqa: B027 - optional hook
        """Remove what :meth:`on_enable` installed."""
