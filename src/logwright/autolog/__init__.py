"""Autolog: ``logwright.autolog()`` enables every installed integration, lazily.

No framework is imported: an integration whose framework is already imported is
patched at once; the others are patched by a post-import hook when the user
imports the framework. Options are read at call time, so calling ``autolog()``
again with other options takes effect without re-patching.
"""

from __future__ import annotations

import sys

from logwright.autolog.integration import AutologConfig, Integration, ModulePatches, Patch
from logwright.autolog.registry import registry

# The helpers integrations use are imported on first use (PEP 562), so that autolog()
# in a fresh process imports only what enabling needs: name -> the module defining it.
_LAZY = {
    **dict.fromkeys(("guard", "in_logging_call", "logging_call", "managed_run", "report",
                     "outside_logging_call"), "safety"),  # outside_logging_call: for the Optuna integration
    **dict.fromkeys(("RunBinding", "add_run_end_hook", "end_autolog_run", "remove_run_end_hook"), "runs"),
    **dict.fromkeys(("TRUNCATED", "estimator_tags", "is_rank_zero", "log_params", "param_text",
                     "rank_zero_only"), "params"),
}

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterable
    from typing import Any

    from logwright.autolog.params import (
        TRUNCATED,
        estimator_tags,
        is_rank_zero,
        log_params,
        param_text,
        rank_zero_only,
    )
    from logwright.autolog.runs import RunBinding, add_run_end_hook, end_autolog_run, remove_run_end_hook
    from logwright.autolog.safety import (  # outside_logging_call: for the Optuna integration
        guard,
        in_logging_call,
        logging_call,
        managed_run,
        outside_logging_call,
        report,
    )

__all__ = [
    "TRUNCATED",
    "AutologConfig",
    "Integration",
    "ModulePatches",
    "Patch",
    "RunBinding",
    "add_run_end_hook",
    "autolog",
    "end_autolog_run",
    "estimator_tags",
    "guard",
    "in_logging_call",
    "is_rank_zero",
    "log_params",
    "logging_call",
    "managed_run",
    "outside_logging_call",
    "param_text",
    "rank_zero_only",
    "registry",
    "remove_run_end_hook",
    "report",
]


def autolog(
    disable: bool = False,
    exclusive: bool = False,
    silent: bool = False,
    log_models: bool = True,
    registered_model_name: str | None = None,
    log_datasets: bool = True,
    log_input_examples: bool = False,
    log_traces: bool = True,
    log_system_metrics: bool = False,
    extra_tags: dict[str, str] | None = None,
    only: Iterable[str] | None = None,
    skip: Iterable[str] | None = None,
    allow_unsupported: bool = False,
    **overrides: Any,
) -> dict[str, str]:
    """Turn on autologging for every installed integration (or ``only`` some).

    What each integration logs, and its own knobs, are in its README. Per-integration
    options go in a dict named after it: ``autolog(sklearn={"max_tuning_runs": 3})``.

    Args:
        disable: turn autologging off and restore every patched object.
        exclusive: never log into a run the user started; start a nested run instead.
        silent: no logwright warnings (errors are still counted).
        log_models: save trained models as artifacts.
        registered_model_name: also register each model autolog logs as a new version of
            this registered model (see :func:`logwright.register_model`).
        log_datasets: record training data as run inputs.
        log_input_examples: save a few input rows with each model.
        log_traces: record GenAI traces (LangChain, DSPy).
        log_system_metrics: runs autolog starts sample CPU, memory, disk, network and GPU
            (see :mod:`logwright.context.system`).
        extra_tags: tags added to every run autolog starts.
        only: names of the integrations to enable (default: all).
        skip: names of integrations to leave alone.
        allow_unsupported: patch frameworks older than the supported floor anyway.
        **overrides: ``<integration>={...}`` option dicts.

    Returns:
        Each integration's state: ACTIVE, PENDING (waits for the framework's import) or DISABLED.

    Raises:
        ValueError: an unknown integration name or option.
    """
    names = set(registry.names())
    only, skip = _names(only), _names(skip)
    for group in (only or (), skip or (), overrides):
        unknown = sorted(set(group) - names)
        if unknown:
            raise ValueError(f"unknown integration(s) {unknown}; installed: {sorted(names)}")
    chosen = (set(only) if only is not None else names) - set(skip or ())
    if registered_model_name is not None:
        from logwright.store.sqlite_registry import check_name

        check_name(registered_model_name)
    common = {
        "disable": disable, "exclusive": exclusive, "silent": silent, "log_models": log_models,
        "registered_model_name": registered_model_name,
        "log_datasets": log_datasets, "log_input_examples": log_input_examples,
        "log_traces": log_traces, "log_system_metrics": log_system_metrics,
        "extra_tags": dict(extra_tags or {}), "allow_unsupported": allow_unsupported,
    }
    for name in sorted(chosen):  # check every option before changing anything
        if not isinstance(overrides.get(name, {}), dict):
            raise ValueError(f"autolog({name}=...) takes a dict of options, got {overrides[name]!r}")
        registry.check_options(name, {**common, **overrides.get(name, {})})
    for name in sorted(chosen):
        registry.configure(name, {**common, **overrides.get(name, {})})
    states = {}
    for name in sorted(chosen):
        if registry.option(name, "disable"):
            registry.disable(name)
        else:
            registry.enable(name)
        states[name] = registry.state(name)
    return states


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'logwright.autolog' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"logwright.autolog.{module}"), name)
    globals()[name] = value
    return value


def _names(value: Iterable[str] | str | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


class _CallableModule(type(sys)):  # types.ModuleType, without importing types
    """``logwright.autolog`` is both this package and the function: importing the package
    makes it the ``logwright.autolog`` attribute, so calling it must call :func:`autolog`."""

    def __call__(self, *args: Any, **kwargs: Any) -> dict[str, str]:
        return autolog(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
