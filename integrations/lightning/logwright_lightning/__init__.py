"""Lightning integration: ``LogwrightLogger``, ``LogwrightCallback`` and autolog of ``Trainer``.

``logwright.autolog()`` wraps ``Trainer.fit``, ``validate``, ``test`` and ``predict`` (the
``lightning`` namespace, and ``pytorch_lightning`` too when it is imported) so that each
call runs inside a logwright run with a :class:`LogwrightLogger` and a
:class:`LogwrightCallback` attached when the user has not attached them; the user's other
loggers are kept. What they log is in their docstrings and in the README. The run ends
with the call: FINISHED, FAILED if the call raised (the exception passes through
unchanged), KILLED on Ctrl-C. A Trainer called again (``fit`` then ``test``), or a fit
resumed from a checkpoint this integration logged (``ckpt_path=``), continues the same
run. ``predict`` logs only into a run that already exists (the Trainer's or the active one).

Importing this package imports no framework; the classes load on first access.
Supported: lightning / pytorch_lightning >= 2.2 (tested up to 2.6).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

from logwright.autolog import Integration, Patch, managed_run
from logwright.lazylog import get_logger

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_logger = get_logger(__name__)

__all__ = ["LightningIntegration", "LogwrightCallback", "LogwrightLogger"]

_NAMESPACES = {"lightning": "logwright_lightning._lightning",
               "pytorch_lightning": "logwright_lightning.pytorch_lightning"}
_TRAINER_MODULE = {"lightning": "lightning.pytorch.trainer.trainer",
                   "pytorch_lightning": "pytorch_lightning.trainer.trainer"}
_METHODS = ("fit", "validate", "test", "predict")


def __getattr__(name: str) -> Any:
    if name in ("LogwrightLogger", "LogwrightCallback"):
        return getattr(importlib.import_module(_NAMESPACES["lightning"]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _namespace(trainer: Any) -> str:
    return "pytorch_lightning" if type(trainer).__module__.startswith("pytorch_lightning") else "lightning"


def _checkpoint_run_id(trainer: Any, method: str, args: tuple, kwargs: dict) -> str | None:
    """The run id a LogwrightCallback stored in the checkpoint the call resumes from."""
    path = kwargs.get("ckpt_path")
    if path is None and args:
        import inspect

        bound = inspect.signature(getattr(trainer, method)).bind_partial(*args, **kwargs)
        path = bound.arguments.get("ckpt_path")
    if not isinstance(path, (str, os.PathLike)) or not os.path.isfile(path):
        return None
    import torch

    try:
        ckpt = torch.load(path, map_location="cpu", mmap=True, weights_only=False)
    except Exception as exc:  # noqa: BLE001 - not ours to judge: Lightning reports bad checkpoints
        _logger.debug("logwright: could not read %s: %s", path, exc)
        return None
    found = ckpt.get("logwright") if isinstance(ckpt, dict) else None
    return found.get("run_id") if isinstance(found, dict) else None


class LightningIntegration(Integration):
    """Autolog for Lightning: every ``Trainer.fit/validate/test/predict`` call is logged.

    Attaches ``LogwrightLogger`` (hyperparameters and every ``self.log`` value) and
    ``LogwrightCallback`` (trainer settings, optimizers, schedulers, model summary, learning
    rates, checkpoints, early stopping, final model) to the Trainer when absent; a user's
    own LogwrightLogger is reused, never duplicated. Only global rank zero writes.

    Triggered by ``import lightning``; the ``pytorch_lightning`` Trainer is patched too when
    that package is imported (before or after). In an environment where only
    ``pytorch_lightning`` is installed the trigger is ``pytorch_lightning``. Knobs:
    ``log_every_n_steps`` (None: the Trainer's), ``log_checkpoints`` (``"best"``, ``"all"``
    or False), ``log_model_summary``; ``log_models`` is the common option.
    Supported versions: lightning / pytorch_lightning 2.2 to 2.6.
    """

    name = "lightning"
    module = "lightning"
    requirement = "lightning>=2.2"
    tested_up_to = "2.6"
    defaults = {"log_every_n_steps": None, "log_checkpoints": "best", "log_model_summary": True}

    def __init__(self) -> None:
        super().__init__()
        if importlib.util.find_spec("lightning") is None and importlib.util.find_spec("pytorch_lightning"):
            self.module = "pytorch_lightning"

    def patches(self, config: Any) -> list[Patch]:
        """``Trainer.fit/validate/test/predict`` of both namespaces (each patched when imported)."""
        names = [self.module] + [n for n in _TRAINER_MODULE if n != self.module
                                 and (n in sys.modules or importlib.util.find_spec(n) is not None)]
        return [self._patch(ns, method) for ns in names for method in _METHODS]

    def _patch(self, namespace: str, method: str) -> Patch:
        return Patch(_TRAINER_MODULE[namespace], f"Trainer.{method}", self._make_trainer_wrapper(method))

    def _make_trainer_wrapper(self, method: str) -> Any:
        def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
            return self._wrap_trainer_call(method, wrapped, instance, args, kwargs)

        return wrapper

    def _wrap_trainer_call(self, method: str, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        """Run the Trainer call inside a run, with our logger and callback attached."""
        from logwright import distributed, fluent
        from logwright_lightning._run_logger import LoggerMixin

        ours = next((lg for lg in instance.loggers if isinstance(lg, LoggerMixin)), None)
        if not distributed.is_rank_zero():  # torchrun's other ranks: rank zero's run, found at setup
            self._attach(instance, ours, None)
            return wrapped(*args, **kwargs)
        run_id = ours._binding.run_id if ours is not None else None
        run_id = run_id or _checkpoint_run_id(instance, method, args, kwargs)
        if method == "predict" and run_id is None and fluent.active_run() is None:
            return wrapped(*args, **kwargs)
        if run_id is not None and not _run_exists(run_id):
            run_id = None
        per_rank = getattr(instance, "world_size", 1) > 1  # system metrics: the callback's, per rank
        with managed_run(self.name, _PerRank(self.config) if per_rank else self.config, run_id=run_id) as run:
            if distributed.world_size() > 1:  # a launcher started this process as rank zero
                distributed.lead(run, system_metrics=False)
            callback = self._attach(instance, ours, run)
            try:
                result = wrapped(*args, **kwargs)
            except BaseException:
                if callback is not None and callback.interrupted:
                    run.interrupted = True  # Lightning 2.4+ turned the Ctrl-C into SystemExit
                raise
            if callback is not None and callback.interrupted:
                run.interrupted = True  # Lightning 2.2-2.3 swallow Ctrl-C and return from fit
            return result

    def _attach(self, trainer: Any, ours: Any, run: Any) -> Any:
        """Bind or add the LogwrightLogger, add the LogwrightCallback; returns the callback."""
        from logwright_lightning._callback import CallbackMixin

        classes = importlib.import_module(_NAMESPACES[_namespace(trainer)])
        cfg = self.config
        if ours is None:
            ours = classes.LogwrightLogger(log_every_n_steps=cfg.get("log_every_n_steps"))
            trainer.loggers = [*trainer.loggers, ours]
        if run is not None and (ours._binding.run_id is None or ours._binding.run_id == run.info.run_id):
            ours._binding.bind(run.info.run_id, run.client.tracking_uri)
        callback = next((cb for cb in trainer.callbacks if isinstance(cb, CallbackMixin)), None)
        if callback is None:
            callback = classes.LogwrightCallback(
                log_models=cfg.get("log_models", True), log_checkpoints=cfg.get("log_checkpoints", "best"),
                log_model_summary=cfg.get("log_model_summary", True),
                log_every_n_steps=cfg.get("log_every_n_steps"),
                log_system_metrics=True if cfg.get("log_system_metrics") else None,
            )
            trainer.callbacks.append(callback)
        return callback


class _PerRank:
    """The autolog config with ``log_system_metrics`` off: in a multi-process fit each rank's
    ``LogwrightCallback`` samples its own (``system/rank_<r>/...``) instead of the run's owner."""

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg

    def get(self, name: str, default: Any = None) -> Any:
        return False if name == "log_system_metrics" else self.cfg.get(name, default)


def _run_exists(run_id: str) -> bool:
    """Whether the run is in the current store (where managed_run resumes it)."""
    from logwright.client import Client

    store = Client().store
    if store.run_exists(run_id) is None:
        store.flush()  # created by this process moments ago and still queued
    return store.run_exists(run_id) is not None
