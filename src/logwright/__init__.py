"""logwright: experiment tracking that writes itself.

``import logwright`` costs about a millisecond: every public name is loaded from
its module on first use (PEP 562), and nothing imports an ML framework, numpy or
pandas until a call needs it.
"""

from __future__ import annotations

from importlib import import_module

TYPE_CHECKING = False

__version__ = "0.1.0"

_MODULES = {
    "logwright.client": ["Client"],
    "logwright.entities": [
        "Dataset", "Experiment", "Metric", "Param", "Run", "RunData", "RunInfo", "RunStatus",
        "RunTag", "Span", "SpanKind", "Trace", "TraceInfo",
    ],
    "logwright.exceptions": [
        "ExperimentNotFound", "InvalidFilter", "LogwrightError", "ParamConflict", "RunNotFound",
        "StoreError", "StoreVersionError", "TraceNotFound",
    ],
    "logwright.fluent": [
        "ActiveRun", "active_run", "delete_run", "delete_tag", "end_run", "flush",
        "get_metric_history", "get_run", "get_tracking_uri", "list_artifacts", "log_artifact",
        "log_artifacts", "log_dict", "log_figure", "log_input", "log_metric", "log_metrics",
        "log_param", "log_params", "log_text", "restore_run", "search_experiments", "search_runs",
        "set_experiment", "set_tag", "set_tags", "set_tracking_uri", "start_run",
    ],
    "logwright.autolog": ["autolog"],
    "logwright.models": ["log_model", "load_model", "infer_signature"],
    "logwright.tracing": [
        "trace", "start_span", "get_current_span", "update_current_trace", "get_trace",
        "search_traces", "get_last_trace",
    ],
}
_LAZY = {name: module for module, names in _MODULES.items() for name in names}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from logwright.client import Client  # noqa: F401
    from logwright.fluent import *  # noqa: F403


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'logwright' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = sorted(_LAZY)
