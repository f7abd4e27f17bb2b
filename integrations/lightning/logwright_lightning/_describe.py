"""What a Trainer's settings, optimizers, schedulers and callbacks look like as params.

Plain functions over a Trainer (either namespace); they read attributes only and
never import the framework. Keys are grouped with ``/`` like Lightning's own
flattened hyperparameters: ``trainer/max_epochs``, ``optimizer/Adam/lr``.
"""

from __future__ import annotations

import logging
import numbers
from typing import Any

_logger = logging.getLogger(__name__)

_TRAINER_FIELDS = (
    "max_epochs", "min_epochs", "max_steps", "min_steps", "precision", "accumulate_grad_batches",
    "gradient_clip_val", "gradient_clip_algorithm", "check_val_every_n_epoch", "val_check_interval",
    "log_every_n_steps", "limit_train_batches", "limit_val_batches", "num_nodes", "num_devices",
    "world_size", "fast_dev_run",
)
_SCHEDULER_SKIP = {"last_epoch", "base_lrs", "verbose"}


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, numbers.Number, bool))


def trainer_params(trainer: Any) -> dict[str, Any]:
    """Trainer settings: epochs/steps, precision, accelerator, devices, strategy, clipping, ..."""
    out: dict[str, Any] = {}
    for field in _TRAINER_FIELDS:
        value = getattr(trainer, field, None)
        if value is not None and _scalar(value):
            out[f"trainer/{field}"] = value
    out["trainer/accelerator"] = type(trainer.accelerator).__name__
    out["trainer/strategy"] = type(trainer.strategy).__name__
    out["trainer/devices"] = str([str(d) for d in getattr(trainer.strategy, "parallel_devices", None) or []]
                                 or [str(trainer.strategy.root_device)])
    return out


def _unique(names: list[str], name: str) -> str:
    """``Adam``, then ``Adam-1``, ``Adam-2`` ...: several optimizers are named, not collapsed."""
    taken = sum(1 for n in names if n == name or n.startswith(f"{name}-"))
    unique = name if taken == 0 else f"{name}-{taken}"
    names.append(unique)
    return unique


def optimizer_names(trainer: Any) -> list[str]:
    """One unique name per optimizer, by class (``Adam``, ``Adam-1``, ``SGD``)."""
    names: list[str] = []
    for opt in trainer.optimizers:
        _unique(names, type(opt).__name__)
    return names


def optimizer_params(trainer: Any) -> dict[str, Any]:
    """Every optimizer's class and constructor settings (``optimizer/<name>/<setting>``)."""
    out: dict[str, Any] = {}
    for name, opt in zip(optimizer_names(trainer), trainer.optimizers, strict=True):
        out[f"optimizer/{name}/class"] = f"{type(opt).__module__}.{type(opt).__qualname__}"
        for key, value in (getattr(opt, "defaults", None) or {}).items():
            if _scalar(value) or isinstance(value, tuple):
                out[f"optimizer/{name}/{key}"] = value
        if len(opt.param_groups) > 1:
            out[f"optimizer/{name}/param_groups"] = len(opt.param_groups)
    return out


def scheduler_params(trainer: Any) -> dict[str, Any]:
    """Every LR scheduler's class, interval, frequency, monitor and settings."""
    out: dict[str, Any] = {}
    names: list[str] = []
    for config in getattr(trainer, "lr_scheduler_configs", None) or []:
        sched = config.scheduler
        name = _unique(names, config.name or type(sched).__name__)
        prefix = f"lr_scheduler/{name}"
        out[f"{prefix}/class"] = f"{type(sched).__module__}.{type(sched).__qualname__}"
        out[f"{prefix}/interval"] = config.interval
        out[f"{prefix}/frequency"] = config.frequency
        if config.monitor:
            out[f"{prefix}/monitor"] = config.monitor
        for key, value in vars(sched).items():
            if not key.startswith("_") and key not in _SCHEDULER_SKIP and _scalar(value):
                out[f"{prefix}/{key}"] = value
    return out


def lr_keys(trainer: Any) -> list[tuple[str, Any, int]]:
    """(metric key, optimizer, param group index) for the per-step learning-rate curves."""
    keys = []
    for name, opt in zip(optimizer_names(trainer), trainer.optimizers, strict=True):
        groups = len(opt.param_groups)
        for i in range(groups):
            keys.append((f"lr-{name}" if groups == 1 else f"lr-{name}/pg{i}", opt, i))
    return keys


def _callbacks(trainer: Any, class_name: str) -> list[Any]:
    return [cb for cb in trainer.callbacks if any(c.__name__ == class_name for c in type(cb).__mro__)]


def _key(base: str, index: int) -> str:
    return base if index == 0 else f"{base}-{index}"


def early_stopping_params(trainer: Any) -> dict[str, Any]:
    """EarlyStopping's monitor, mode, patience and min_delta (``early_stopping/...``)."""
    out: dict[str, Any] = {}
    for i, es in enumerate(_callbacks(trainer, "EarlyStopping")):
        prefix = _key("early_stopping", i)
        out.update({f"{prefix}/monitor": es.monitor, f"{prefix}/mode": es.mode,
                    f"{prefix}/patience": es.patience, f"{prefix}/min_delta": abs(float(es.min_delta))})
    return out


def early_stopping_results(trainer: Any) -> dict[str, float]:
    """EarlyStopping's stopped_epoch, best_score and wait_count at the end of fit (metrics)."""
    out: dict[str, float] = {}
    for i, es in enumerate(_callbacks(trainer, "EarlyStopping")):
        prefix = _key("early_stopping", i)
        out[f"{prefix}/stopped_epoch"] = float(es.stopped_epoch)
        out[f"{prefix}/wait_count"] = float(es.wait_count)
        if es.best_score is not None:
            out[f"{prefix}/best_score"] = float(es.best_score)
    return out


def checkpoint_params(trainer: Any) -> dict[str, Any]:
    """ModelCheckpoint settings: monitor, mode, save_top_k, save_last (``checkpoint/...``)."""
    out: dict[str, Any] = {}
    for i, ck in enumerate(_callbacks(trainer, "ModelCheckpoint")):
        prefix = _key("checkpoint", i)
        for field in ("monitor", "mode", "save_top_k", "save_last", "every_n_epochs"):
            value = getattr(ck, field, None)
            if value is not None and _scalar(value):
                out[f"{prefix}/{field}"] = value
    return out


def checkpoint_results(trainer: Any) -> list[dict[str, Any]]:
    """Each ModelCheckpoint's best/last paths and scores, and every checkpoint it keeps."""
    out = []
    for ck in _callbacks(trainer, "ModelCheckpoint"):
        score = ck.best_model_score
        out.append({
            "monitor": ck.monitor,
            "mode": ck.mode,
            "best_model_path": ck.best_model_path or None,
            "best_model_score": None if score is None else float(score),
            "last_model_path": ck.last_model_path or None,
            "kept": {path: (None if s is None else float(s)) for path, s in ck.best_k_models.items()},
        })
    return out
