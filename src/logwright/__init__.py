"""logwright: experiment tracking that writes itself.

``import logwright`` costs about a millisecond: every public name is loaded from
its module on first use (PEP 562), and nothing imports an ML framework, numpy or
pandas until a call needs it. Type checkers and IDEs read the explicit imports in
the ``TYPE_CHECKING`` block and ``__all__`` (the package ships ``py.typed``).
"""

from __future__ import annotations

from importlib import import_module

TYPE_CHECKING = False

__version__ = "0.1.0"

_MODULES = {
    "logwright.client": ["Client"],
    "logwright.entities": [
        "Dataset", "Experiment", "Metric", "ModelVersion", "Param", "RegisteredModel", "Run", "RunData",
        "RunInfo", "RunStatus", "RunTag", "Span", "SpanKind", "Trace", "TraceInfo", "ViewType",
    ],
    "logwright.exceptions": [
        "ExperimentDeleted", "ExperimentNotFound", "InvalidFilter", "InvalidPageToken", "LogwrightError", "ModelNotFound", "ParamConflict",
        "RunDeleted", "RunNotFound", "StoreError", "StoreVersionError", "TraceNotFound",
    ],
    "logwright.fluent": [
        "ActiveRun", "active_run", "delete_run", "delete_tag", "end_run", "flush",
        "get_artifact_uri", "get_metric_history", "get_run", "get_tracking_uri", "last_active_run", "list_artifacts", "log_artifact",
        "log_artifacts", "log_dict", "log_figure", "log_input", "log_metric", "log_metrics",
        "log_param", "log_params", "log_text", "restore_run", "search_experiments", "search_runs",
        "set_experiment", "set_tag", "set_tags", "set_tracking_uri", "start_run",
    ],
    "logwright.autolog": ["autolog"],
    "logwright.models": ["log_model", "load_model", "infer_signature"],
    "logwright.registry": [
        "create_registered_model",
        "delete_model_version",
        "delete_model_version_tag",
        "delete_registered_model",
        "delete_registered_model_alias",
        "delete_registered_model_tag",
        "get_latest_model_version",
        "get_model_version",
        "get_model_version_by_alias",
        "get_registered_model",
        "register_model",
        "search_model_versions",
        "search_registered_models",
        "set_model_version_tag",
        "set_registered_model_alias",
        "set_registered_model_tag",
        "update_model_version",
        "update_registered_model",
    ],
    "logwright.tracing": [
        "trace", "start_span", "get_current_span", "update_current_trace", "get_trace",
        "search_traces", "get_last_trace",
    ],
}
_LAZY = {name: module for module, names in _MODULES.items() for name in names}

if TYPE_CHECKING:  # pragma: no cover - explicit imports for type checkers and IDEs; at runtime names load lazily
    from logwright.autolog import autolog
    from logwright.client import Client
    from logwright.entities import (
        Dataset,
        Experiment,
        Metric,
        ModelVersion,
        Param,
        RegisteredModel,
        Run,
        RunData,
        RunInfo,
        RunStatus,
        RunTag,
        Span,
        SpanKind,
        Trace,
        TraceInfo,
        ViewType,
    )
    from logwright.exceptions import (
        ExperimentDeleted,
        ExperimentNotFound,
        InvalidFilter,
        InvalidPageToken,
        LogwrightError,
        ModelNotFound,
        ParamConflict,
        RunDeleted,
        RunNotFound,
        StoreError,
        StoreVersionError,
        TraceNotFound,
    )
    from logwright.fluent import (
        ActiveRun,
        active_run,
        delete_run,
        delete_tag,
        end_run,
        flush,
        get_artifact_uri,
        get_metric_history,
        get_run,
        get_tracking_uri,
        last_active_run,
        list_artifacts,
        log_artifact,
        log_artifacts,
        log_dict,
        log_figure,
        log_input,
        log_metric,
        log_metrics,
        log_param,
        log_params,
        log_text,
        restore_run,
        search_experiments,
        search_runs,
        set_experiment,
        set_tag,
        set_tags,
        set_tracking_uri,
        start_run,
    )
    from logwright.models import infer_signature, load_model, log_model
    from logwright.registry import (
        create_registered_model,
        delete_model_version,
        delete_model_version_tag,
        delete_registered_model,
        delete_registered_model_alias,
        delete_registered_model_tag,
        get_latest_model_version,
        get_model_version,
        get_model_version_by_alias,
        get_registered_model,
        register_model,
        search_model_versions,
        search_registered_models,
        set_model_version_tag,
        set_registered_model_alias,
        set_registered_model_tag,
        update_model_version,
        update_registered_model,
    )
    from logwright.tracing import (
        get_current_span,
        get_last_trace,
        get_trace,
        search_traces,
        start_span,
        trace,
        update_current_trace,
    )


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'logwright' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "ActiveRun",
    "Client",
    "Dataset",
    "Experiment",
    "ExperimentDeleted",
    "ExperimentNotFound",
    "InvalidFilter",
    "InvalidPageToken",
    "LogwrightError",
    "Metric",
    "ModelNotFound",
    "ModelVersion",
    "Param",
    "ParamConflict",
    "RegisteredModel",
    "Run",
    "RunData",
    "RunDeleted",
    "RunInfo",
    "RunNotFound",
    "RunStatus",
    "RunTag",
    "Span",
    "SpanKind",
    "StoreError",
    "StoreVersionError",
    "Trace",
    "TraceInfo",
    "TraceNotFound",
    "ViewType",
    "active_run",
    "autolog",
    "create_registered_model",
    "delete_model_version",
    "delete_model_version_tag",
    "delete_registered_model",
    "delete_registered_model_alias",
    "delete_registered_model_tag",
    "delete_run",
    "delete_tag",
    "end_run",
    "flush",
    "get_artifact_uri",
    "get_current_span",
    "get_last_trace",
    "get_latest_model_version",
    "get_metric_history",
    "get_model_version",
    "get_model_version_by_alias",
    "get_registered_model",
    "get_run",
    "get_trace",
    "get_tracking_uri",
    "infer_signature",
    "last_active_run",
    "list_artifacts",
    "load_model",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_param",
    "log_params",
    "log_text",
    "register_model",
    "restore_run",
    "search_experiments",
    "search_model_versions",
    "search_registered_models",
    "search_runs",
    "search_traces",
    "set_experiment",
    "set_model_version_tag",
    "set_registered_model_alias",
    "set_registered_model_tag",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
    "start_span",
    "trace",
    "update_current_trace",
    "update_model_version",
    "update_registered_model",
]
