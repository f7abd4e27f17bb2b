"""The Integration contract: what a framework integration declares, and the options it reads."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

COMMON_OPTIONS: dict[str, Any] = {
    "disable": False,
    "exclusive": False,
    "silent": False,
    "log_models": True,
    "log_datasets": True,
    "log_input_examples": False,
    "log_traces": True,
    "extra_tags": None,
    "allow_unsupported": False,
}


@dataclass(frozen=True)
class Patch:
    """One attribute to wrap.

    Attributes:
        module: the module holding the target, e.g. ``"sklearn.base"``.
        attribute: dotted path inside it, e.g. ``"BaseEstimator.fit"``; a method a class
            inherits is wrapped on that class and removed again on disable.
        wrapper: a wrapt-style wrapper ``(wrapped, instance, args, kwargs)``.
    """

    module: str
    attribute: str
    wrapper: Callable[..., Any]


@dataclass
class AutologConfig:
    """Options one integration sees, read at call time (``autolog()`` again updates them).

    Attributes:
        options: the common options (see ``COMMON_OPTIONS``) merged with the integration's
            own knobs (``Integration.defaults``) and the user's overrides.
    """

    options: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["options"][name]
        except KeyError:
            raise AttributeError(name) from None

    def get(self, name: str, default: Any = None) -> Any:
        """An option's value, or ``default``."""
        return self.options.get(name, default)


class Integration(ABC):
    """A framework integration, discovered through the ``logwright.integrations`` entry points.

    Subclasses declare ``name`` (equal to the entry-point name), ``module`` (the import
    that triggers patching), ``requirement`` (``"dist>=floor"``, declared once) and their
    own knobs in ``defaults``; they return their patches from :meth:`patches`. Loading the
    class must not import the framework.
    """

    name: ClassVar[str]
    module: ClassVar[str]
    requirement: ClassVar[str]
    defaults: ClassVar[dict[str, Any]] = {}
    tested_up_to: ClassVar[str | None] = None

    def __init__(self) -> None:
        self.config = AutologConfig({**COMMON_OPTIONS, **self.defaults})

    @abstractmethod
    def patches(self, config: AutologConfig) -> Sequence[Patch]:
        """The attributes to wrap (called once the framework is imported)."""

    def on_enable(self, config: AutologConfig) -> None:  # noqa: B027 - optional hook
        """Install native hooks (callbacks, global hooks) after the patches are applied."""

    def on_disable(self) -> None:  # noqa: B027 - optional hook
        """Remove what :meth:`on_enable` installed."""
