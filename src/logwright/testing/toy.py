"""A toy framework and its integration, for testing the autolog core and the contract suite.

:func:`write_framework` writes a real module into a folder (put it on ``sys.path``
and import it to exercise the post-import hook); :func:`make_integration` builds an
Integration for it whose misbehaviour is chosen by its ``fail`` knob, so tests can
inject bugs through ``autolog(toy={"fail": "after"})``.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from logwright.autolog import Integration, Patch, managed_run

SOURCE = '''"""A toy framework: a model with fit, a subclass that inherits it, a train function."""

CALLS = []
LAST_ERROR = []


class Model:
    """A model."""

    def __init__(self, k=1):
        self.k = k
        self.fitted = False

    def fit(self, x, y=None, *, epochs=1):
        """Fit the model on x."""
        CALLS.append(("fit", x))
        if x == "boom":
            error = ValueError("user error")
            LAST_ERROR.append(error)
            raise error
        if x == "ctrl-c":
            raise KeyboardInterrupt
        self.fitted = True
        return self

    def score(self, x):
        """Score on x."""
        return 0.5

    async def apredict(self, x):
        """Predict asynchronously."""
        return x

    @classmethod
    def create(cls, k):
        """Build a model."""
        return cls(k)


class Sub(Model):
    """A subclass that inherits fit and score."""


def train(params, data):
    """Train a model: calls Model.fit inside (a nested patched call)."""
    CALLS.append(("train", data))
    return Model(**params).fit(data)
'''

FAILURES = (None, "before", "after", "twice", "skip", "swallow", "patches")


def write_framework(folder: str | os.PathLike[str], name: str, version: str | None = None) -> str:
    """Write the toy framework as module ``name`` in ``folder``; with ``version``, a dist-info too.

    Returns:
        The module file's path.
    """
    path = os.path.join(folder, f"{name}.py")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(SOURCE)
    if version is not None:
        info = os.path.join(folder, f"{name}-{version}.dist-info")
        os.makedirs(info, exist_ok=True)
        with open(os.path.join(info, "METADATA"), "w", encoding="utf-8") as fh:
            fh.write(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return path


class ToyIntegration(Integration):
    """Logs param ``k``, metric ``score`` and tag ``toy.tag`` (the ``tag_value`` knob) per fit.

    The ``fail`` knob injects a bug: ``before``/``after`` calling the original, calling it
    ``twice``, ``skip`` (never calling it), ``swallow`` (catching the user's error and raising
    our own), ``patches`` (``patches()`` itself raises).
    """

    name = "toy"
    module = "toyfw"
    requirement = "toyfw>=1.0"
    defaults: dict[str, Any] = {"tag_value": "a", "fail": None}

    def patches(self, config: Any) -> list[Patch]:
        """Model.fit, train, and the inherited Sub.score."""
        if config.get("fail") == "patches":
            raise RuntimeError("toy patches() failed")
        return [
            Patch(self.module, "Model.fit", self._wrap_model_fit),
            Patch(self.module, "train", self._wrap_train),
            Patch(self.module, "Sub.score", self._wrap_sub_score),
            Patch(self.module, "Model.missing", self._wrap_train),
            Patch(self.module, "Model.apredict", self._wrap_sub_score),
            Patch(self.module, "Model.create", self._wrap_sub_score),
        ]

    def _wrap_model_fit(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        fail = self.config.get("fail")
        if fail == "before":
            raise RuntimeError("toy bug before")
        if fail == "skip":
            return None
        with managed_run(self.name, self.config) as run:
            if fail == "swallow":
                try:
                    wrapped(*args, **kwargs)
                except BaseException:  # noqa: BLE001 - deliberately bad integration code
                    raise RuntimeError("toy bug swallowed the user's error") from None
            result = wrapped(*args, **kwargs)
            if fail == "twice":
                result = wrapped(*args, **kwargs)
            run.client.log_params(run.info.run_id, {"k": instance.k})
            run.client.log_metric(run.info.run_id, "score", 0.5)
            run.client.set_tags(run.info.run_id, {"toy.tag": self.config.tag_value})
            if fail == "after":
                raise RuntimeError("toy bug after")
            return result

    def _wrap_train(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        with managed_run(self.name, self.config, run_name="toy-train") as run:
            result = wrapped(*args, **kwargs)
            run.client.set_tags(run.info.run_id, {"toy.entry": "train"})
            return result

    def _wrap_sub_score(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        return wrapped(*args, **kwargs)


def make_integration(module: str, name: str = "toy", requirement: str | None = None) -> type[Integration]:
    """A :class:`ToyIntegration` subclass bound to the toy framework module ``module``."""
    attrs = {"name": name, "module": module, "requirement": requirement or f"{module}>=1.0"}
    return type(f"{name.title()}Integration", (ToyIntegration,), attrs)


_counter = [0]


class Installed:
    """A toy framework written to disk and its integration registered (see :func:`installed`).

    Attributes:
        module: the framework's module name (not imported yet).
        integration: the Integration class registered with the registry.
        folder: the folder on sys.path holding the module.
    """

    def __init__(self, module: str, integration: type[Integration], folder: str) -> None:
        self.module, self.integration, self.folder = module, integration, folder

    def load(self) -> Any:
        """Import the toy framework (firing autolog's post-import hook) and return it."""
        return importlib.import_module(self.module)


@contextlib.contextmanager
def installed(folder: str | os.PathLike[str], name: str = "toy", version: str | None = None,
              requirement: str | None = None) -> Iterator[Installed]:
    """Write a fresh toy framework module into ``folder``, put it on sys.path and register its integration.

    Everything is undone on exit: autolog disabled and the registry reset, the module
    forgotten, the folder taken off sys.path.
    """
    from logwright.autolog import registry

    _counter[0] += 1
    module = f"toyfw_{os.getpid()}_{_counter[0]}"
    folder = os.fspath(folder)
    write_framework(folder, module, version)
    sys.path.insert(0, folder)
    importlib.invalidate_caches()
    cls = make_integration(module, name, requirement)
    registry.add(cls)
    try:
        yield Installed(module, cls, folder)
    finally:
        registry.reset()
        registry.discover().pop(name, None)
        sys.modules.pop(module, None)
        if folder in sys.path:
            sys.path.remove(folder)
