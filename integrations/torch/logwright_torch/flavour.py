"""The ``pytorch`` model flavour: save an ``nn.Module`` and load it back in eval mode.

What is written into the model folder (next to core's MODEL.json):

- ``state_dict.pt``: always, the weights (``torch.save(model.state_dict())``), readable
  with ``torch.load(..., weights_only=True)`` by anyone, whatever happens to the code.
- One way to rebuild the module, chosen by ``serialization``:

  ``"class"`` (the default when ``init_args`` is given): the module's import path
  (``package.module:Class``) and its constructor arguments in ``init_args.json``;
  loading imports the class, calls it with those arguments and loads the state_dict.
  The most robust choice: it survives refactors that keep the constructor.

  ``"pickle"`` (the default otherwise): the whole module, ``torch.save(model)`` into
  ``model.pt``. Loading needs the module's class importable under the same name (a
  class defined in ``__main__`` only loads in a script that defines it again).

  ``"export"`` (opt-in, needs ``input_example``): a ``torch.export`` program traced in
  eval mode, saved as ``model.pt2``; loading needs no Python code of the user's at all.
  Export takes seconds and refuses data-dependent control flow, so it is never the
  default; when it fails the flavour falls back to ``"pickle"`` and records why in
  MODEL.json (``export_error``). The loaded program cannot be switched with
  ``.train()``/``.eval()`` (torch refuses): it behaves as the module did in eval mode.

``load`` returns the module in eval mode, on the CPU when no GPU is available.
The signature comes from ``input_example`` (dtype and shape, batch dimension -1)
and from the model's output on it, computed under ``torch.no_grad()`` in eval mode
(the module's train/eval mode is restored afterwards).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
from typing import Any

_logger = logging.getLogger(__name__)

STATE_DICT = "state_dict.pt"
PICKLE = "model.pt"
EXPORT = "model.pt2"
INIT_ARGS = "init_args.json"
_SERIALIZATIONS = ("auto", "class", "pickle", "export")


def _is_module(model: Any) -> bool:
    return any(
        cls.__name__ == "Module" and cls.__module__ == "torch.nn.modules.module"
        for cls in type(model).__mro__
    )


def _class_path(model: Any) -> str:
    cls = type(model)
    return f"{cls.__module__}:{cls.__qualname__}"


def _import_class(path: str) -> Any:
    module_name, _, qualname = path.partition(":")
    owner: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        owner = getattr(owner, part)
    return owner


def _as_args(example: Any) -> tuple:
    return tuple(example) if isinstance(example, (tuple, list)) else (example,)


def _on_device(example: Any, device: Any) -> Any:
    if hasattr(example, "to") and hasattr(example, "device") and example.device != device:
        return example.to(device)
    if isinstance(example, dict):
        return {k: _on_device(v, device) for k, v in example.items()}
    if isinstance(example, (tuple, list)):
        return type(example)(_on_device(v, device) for v in example)
    return example


def _example_output(model: Any, example: Any) -> Any:
    """The model's output on ``example`` in eval mode, without autograd; mode restored.

    None (and a warning) when the model cannot run on the example: the model is still saved.
    """
    import torch

    was_training = model.training
    first = next(iter(model.parameters()), None)
    if first is not None:
        example = _on_device(example, first.device)
    model.eval()
    try:
        with torch.no_grad():
            return model(**example) if isinstance(example, dict) else model(*_as_args(example))
    except Exception as exc:  # noqa: BLE001 - the signature's outputs are optional
        _logger.warning("logwright: the model failed on input_example (%s); no output signature", exc)
        return None
    finally:
        model.train(was_training)


def _map_location() -> Any:
    import torch

    return None if torch.cuda.is_available() else "cpu"


class PytorchFlavour:
    """Save and load ``torch.nn.Module`` models (LightningModules included).

    ``logwright.log_model(model, "model", input_example=x, init_args={...},
    serialization="auto")``; see the module docstring for what each serialization
    writes. ``logwright.load_model(uri)`` returns the module in eval mode.
    """

    name = "pytorch"

    def can_log(self, model: Any) -> bool:
        """True for any ``torch.nn.Module`` instance (checked without importing torch)."""
        return _is_module(model)

    def save(self, model: Any, path: str, **kwargs: Any) -> dict[str, Any]:
        """Write ``state_dict.pt`` plus the files of the chosen serialization into ``path``.

        Args:
            model: the ``nn.Module``.
            path: the folder to write into.
            **kwargs: ``input_example`` (from core), ``init_args`` (dict of constructor
                arguments, JSON-able), ``serialization`` (auto, class, pickle or export).

        Returns:
            MODEL.json fields: framework, version, serialization, model class, parameter
            counts, and the example output for the signature.
        """
        import torch

        example = kwargs.get("input_example")
        init_args = kwargs.get("init_args")
        how = kwargs.get("serialization", "auto")
        if how not in _SERIALIZATIONS:
            raise ValueError(f"serialization must be one of {_SERIALIZATIONS}, not {how!r}")
        if how == "auto":
            how = "class" if init_args is not None else "pickle"
        if how == "class" and init_args is None:
            raise ValueError('serialization="class" needs init_args={...} (the constructor arguments)')
        torch.save(model.state_dict(), os.path.join(path, STATE_DICT))
        meta: dict[str, Any] = {
            "framework": "torch",
            "framework_version": torch.__version__,
            "model_class": _class_path(model),
            "num_params": sum(p.numel() for p in model.parameters()),
            "num_trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        }
        if how == "export":
            how = self._save_export(model, path, example, meta)
        if how == "class":
            with open(os.path.join(path, INIT_ARGS), "w") as fh:
                json.dump(init_args, fh)
        elif how == "pickle":
            torch.save(model, os.path.join(path, PICKLE))
            if type(model).__module__ == "__main__":
                meta["warning"] = "class defined in __main__: model.pt loads only where it is defined"
        meta["serialization"] = how
        if example is not None:
            meta["_example_output"] = _example_output(model, example)
        return meta

    def _save_export(self, model: Any, path: str, example: Any, meta: dict[str, Any]) -> str:
        """Try ``torch.export``; return "export", or "pickle" (reason in meta) if it fails."""
        import torch

        if example is None:
            raise ValueError('serialization="export" needs an input_example to trace with')
        was_training = model.training
        model.eval()
        try:
            program = torch.export.export(model, _as_args(example))
            torch.export.save(program, os.path.join(path, EXPORT))
            return "export"
        except Exception as exc:  # noqa: BLE001 - export refuses many models: fall back, say why
            _logger.warning("logwright: torch.export failed (%s); saving the pickled module instead", exc)
            meta["export_error"] = f"{type(exc).__name__}: {exc}"[:2000]
            return "pickle"
        finally:
            model.train(was_training)

    def load(self, path: str, meta: dict[str, Any]) -> Any:
        """Rebuild the module from ``path`` as MODEL.json's ``serialization`` says; eval mode.

        Raises:
            ValueError: an unknown serialization.
        """
        import torch

        how = meta.get("serialization", "pickle")
        where = _map_location()
        if how == "export":
            return torch.export.load(os.path.join(path, EXPORT)).module()
        if how == "class":
            with open(os.path.join(path, INIT_ARGS)) as fh:
                init_args = json.load(fh)
            model = _import_class(meta["model_class"])(**init_args)
            state = torch.load(os.path.join(path, STATE_DICT), map_location=where, weights_only=True)
            model.load_state_dict(state)
        elif how == "pickle":
            model = torch.load(os.path.join(path, PICKLE), map_location=where, weights_only=False)
        else:
            raise ValueError(f"unknown pytorch serialization {how!r} in {path}")
        return model.eval()

    def requirements(self) -> list[str]:
        """``torch==<installed version>`` (local build suffix such as ``+cpu`` dropped)."""
        from importlib.metadata import version

        return [f"torch=={version('torch').split('+')[0]}"]
