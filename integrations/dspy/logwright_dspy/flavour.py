"""The ``dspy`` model flavour: a DSPy program (any ``dspy.Module``).

What is written into the model folder (next to core's MODEL.json):

- ``program.json``: the program's state (instructions, demos, LM settings, no API keys)
  from ``program.save(path)``; portable and readable, it loads into a program you build
  yourself: ``MyProgram().load("program.json")``.
- ``program/``: the whole program from ``program.save(dir, save_program=True)``
  (cloudpickle, class included), so :func:`logwright.load_model` needs no code of yours.
  Loading it unpickles: load only models you trust.

MODEL.json records ``program_class`` and the DSPy version.
"""

from __future__ import annotations

import logging
import os
from importlib.metadata import PackageNotFoundError, version
from typing import Any

_logger = logging.getLogger(__name__)

STATE_FILE = "program.json"
PROGRAM_DIR = "program"


def _dspy_version() -> str | None:
    try:
        return version("dspy")
    except PackageNotFoundError:
        return None


class DSPyFlavour:
    """Save and load DSPy programs (state as JSON plus the whole program via cloudpickle)."""

    name = "dspy"

    def can_log(self, model: Any) -> bool:
        """True for ``dspy.Module`` instances (checked on class modules, no import)."""
        return any(cls.__module__.split(".", 1)[0] == "dspy" and cls.__name__ in ("Module", "BaseModule")
                   for cls in type(model).__mro__)

    def save(self, model: Any, path: str, **kwargs: Any) -> dict[str, Any]:
        """Write ``program.json`` and ``program/`` into ``path``.

        Args:
            model: a DSPy program.
            path: the model folder.
            **kwargs: ignored.

        Returns:
            MODEL.json fields: framework, its version, serialization, program class.
        """
        os.makedirs(path, exist_ok=True)
        model.save(os.path.join(path, STATE_FILE))
        meta: dict[str, Any] = {
            "framework": "dspy",
            "framework_version": _dspy_version(),
            "serialization": "dspy-json",
            "state_file": STATE_FILE,
            "program_class": f"{type(model).__module__}.{type(model).__qualname__}",
        }
        try:
            model.save(os.path.join(path, PROGRAM_DIR), save_program=True)
            meta["serialization"] = "dspy-cloudpickle"
            meta["program_dir"] = PROGRAM_DIR
        except Exception as exc:  # noqa: BLE001 - the state file alone is still useful
            _logger.warning("logwright: could not save the whole DSPy program (%s); only %s was saved",
                            exc, STATE_FILE)
        return meta

    def load(self, path: str, meta: dict[str, Any]) -> Any:
        """Load the whole program back (unpickles ``program/``: trusted models only).

        Raises:
            ValueError: the model holds only ``program.json``; build the program and call
                ``program.load(path)`` yourself.
        """
        import dspy

        folder = os.path.join(path, meta.get("program_dir") or PROGRAM_DIR)
        if not os.path.isdir(folder):
            raise ValueError(
                f"this DSPy model holds only its state ({STATE_FILE}); create a "
                f"{meta.get('program_class')} and call .load({os.path.join(path, STATE_FILE)!r})"
            )
        try:
            return dspy.load(folder, allow_pickle=True)
        except TypeError:  # dspy < 3.0 has no allow_pickle argument
            return dspy.load(folder)

    def requirements(self) -> list[str]:
        """``dspy==<installed version>``."""
        found = _dspy_version()
        return [f"dspy=={found}"] if found else ["dspy"]
