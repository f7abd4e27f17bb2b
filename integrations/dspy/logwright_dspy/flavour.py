"""The ``dspy`` model flavour: a DSPy program (any ``dspy.Module``).

What is written into the model folder (next to core's MODEL.json):

- ``program.json``: the program's state (instructions, demos, LM settings, no API keys)
  from ``program.save(path)``; portable and readable, it loads into a program you build
  yourself: ``MyProgram().load("program.json")``.
- When the program can be rebuilt without pickle (the default): MODEL.json's
  ``program_recipe`` says how: ``Predict``/``ChainOfThought`` from their signature
  (field names and built-in types) and settings, your own module class from its import
  path when it takes no arguments. :func:`logwright.load_model` builds the program
  that way and loads ``program.json`` into it: nothing is unpickled, and DSPy prints no
  untrusted-pickle warning. At save the recipe is checked by rebuilding the program and
  comparing its predictors and state with the original.
- Otherwise (classes defined in ``__main__`` or a function, modules that need arguments
  such as tools, custom field types): ``program/``, the whole program from
  ``program.save(dir, save_program=True)`` (cloudpickle, class included). Loading it
  unpickles: load only models you trust. ``pickle=True`` forces this form.

MODEL.json records ``serialization`` (``dspy-json`` or ``dspy-cloudpickle``),
``program_class`` and the DSPy version.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
from importlib.metadata import PackageNotFoundError, version
from typing import Any

_logger = logging.getLogger(__name__)

STATE_FILE = "program.json"
PROGRAM_DIR = "program"
_BUILT_IN = {"dspy.predict.predict.Predict": "Predict",
             "dspy.predict.chain_of_thought.ChainOfThought": "ChainOfThought"}
_TYPES = {"str", "int", "float", "bool", "list", "dict", "tuple", "set"}


def _dspy_version() -> str | None:
    try:
        return version("dspy")
    except PackageNotFoundError:
        return None


class DSPyFlavour:
    """Save and load DSPy programs: JSON state plus a recipe, or the whole program via cloudpickle."""

    name = "dspy"

    def can_log(self, model: Any) -> bool:
        """True for ``dspy.Module`` instances (checked on class modules, no import)."""
        return any(cls.__module__.split(".", 1)[0] == "dspy" and cls.__name__ in ("Module", "BaseModule")
                   for cls in type(model).__mro__)

    def save(self, model: Any, path: str, **kwargs: Any) -> dict[str, Any]:
        """Write ``program.json``, and ``program/`` only when the JSON state cannot rebuild the program.

        Args:
            model: a DSPy program.
            path: the model folder.
            **kwargs: ``pickle=True`` saves ``program/`` (cloudpickle) even when JSON would do.

        Returns:
            MODEL.json fields: framework, its version, serialization, program class (and recipe).
        """
        os.makedirs(path, exist_ok=True)
        state_file = os.path.join(path, STATE_FILE)
        model.save(state_file)
        meta: dict[str, Any] = {
            "framework": "dspy",
            "framework_version": _dspy_version(),
            "serialization": "dspy-json",
            "state_file": STATE_FILE,
            "program_class": f"{type(model).__module__}.{type(model).__qualname__}",
        }
        recipe = None if kwargs.get("pickle") else _checked_recipe(model, state_file)
        if recipe is not None:
            meta["program_recipe"] = recipe
            return meta
        try:
            model.save(os.path.join(path, PROGRAM_DIR), save_program=True)
            meta["serialization"] = "dspy-cloudpickle"
            meta["program_dir"] = PROGRAM_DIR
        except Exception as exc:  # noqa: BLE001 - the state file alone is still useful
            meta["serialization"] = "dspy-state"
            _logger.warning("logwright: could not save the whole DSPy program (%s); only %s was saved",
                            exc, STATE_FILE)
        return meta

    def load(self, path: str, meta: dict[str, Any]) -> Any:
        """Load the program back: rebuilt from its recipe and ``program.json``, else unpickled from ``program/``.

        Raises:
            ValueError: the model holds only ``program.json``; build the program and call
                ``program.load(path)`` yourself.
        """
        recipe = meta.get("program_recipe")
        if recipe:
            program = _rebuild(recipe)
            program.load(os.path.join(path, meta.get("state_file") or STATE_FILE))
            return program
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


def _checked_recipe(model: Any, state_file: str) -> dict[str, Any] | None:
    """How to rebuild ``model`` without pickle, if rebuilding it and loading its state gives it back."""
    try:
        recipe = _recipe(model)
        if recipe is None:
            return None
        rebuilt = _rebuild(recipe)
        rebuilt.load(state_file)
        return recipe if _fingerprint(rebuilt) == _fingerprint(model) else None
    except Exception as exc:  # noqa: BLE001 - no recipe: the program is pickled instead
        _logger.debug("logwright: DSPy program %s not rebuildable from JSON: %r", type(model), exc)
        return None


def _recipe(model: Any) -> dict[str, Any] | None:
    cls = type(model)
    name = f"{cls.__module__}.{cls.__qualname__}"
    if name in _BUILT_IN:
        predict = model if _BUILT_IN[name] == "Predict" else model.predict
        signature = predict.signature
        if _BUILT_IN[name] == "ChainOfThought":
            if "reasoning" not in signature.fields:
                return None
            signature = signature.delete("reasoning")
        text = _signature_text(signature)
        config = dict(getattr(predict, "config", None) or {})
        if text is None or not all(type(v) in (str, int, float, bool, type(None)) for v in config.values()):
            return None
        return {"module": cls.__module__, "class": cls.__qualname__, "signature": text, "config": config}
    if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
        return None  # not importable by name elsewhere
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    if any(p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
        return None
    return {"module": cls.__module__, "class": cls.__qualname__}


def _signature_text(signature: Any) -> str | None:
    """``"question, context: list[str] -> answer: int"``, or None for a type a string cannot name."""
    sides: dict[str, list[str]] = {"input": [], "output": []}
    for name, field in signature.fields.items():
        extra = field.json_schema_extra or {}
        side = sides.get(extra.get("__dspy_field_type"))
        if side is None:
            return None
        if extra.get("IS_TYPE_UNDEFINED"):
            side.append(name)
            continue
        kind = field.annotation
        text = kind.__name__ if isinstance(kind, type) and kind.__module__ == "builtins" else str(kind)
        if text.split("[", 1)[0] not in _TYPES or any(c in text for c in ".'\""):
            return None
        side.append(f"{name}: {text}")
    return f"{', '.join(sides['input'])} -> {', '.join(sides['output'])}"


def _rebuild(recipe: dict[str, Any]) -> Any:
    """A fresh program from its recipe: the class imported by name, built from the signature and settings."""
    cls: Any = importlib.import_module(recipe["module"])
    for part in recipe["class"].split("."):
        cls = getattr(cls, part)
    if "signature" in recipe:
        return cls(recipe["signature"], **recipe.get("config", {}))
    return cls()


def _fingerprint(program: Any) -> Any:
    """What must match between a program and its rebuilt twin: predictors, their signatures, the state."""
    predictors = []
    for name, predict in program.named_predictors():
        fields = [(n, repr(f.annotation), sorted((f.json_schema_extra or {}).items()))
                  for n, f in predict.signature.fields.items()]
        predictors.append((name, type(predict).__qualname__, fields, predict.signature.instructions,
                           sorted((getattr(predict, "config", None) or {}).items())))
    return type(program).__qualname__, predictors, program.dump_state()
