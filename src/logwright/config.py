"""Every LOGWRIGHT_* environment variable, parsed in one place."""

from __future__ import annotations

import os

TRACKING_URI = "LOGWRIGHT_TRACKING_URI"
ARTIFACT_URI = "LOGWRIGHT_ARTIFACT_URI"
STRICT = "LOGWRIGHT_STRICT"
FLUSH_INTERVAL = "LOGWRIGHT_FLUSH_INTERVAL"
FLUSH_TIMEOUT = "LOGWRIGHT_FLUSH_TIMEOUT"
HEARTBEAT_INTERVAL = "LOGWRIGHT_HEARTBEAT_INTERVAL"
HEARTBEAT_TIMEOUT = "LOGWRIGHT_HEARTBEAT_TIMEOUT"
QUIET = "LOGWRIGHT_QUIET"
SYSTEM_METRICS = "LOGWRIGHT_LOG_SYSTEM_METRICS"
SYSTEM_METRICS_INTERVAL = "LOGWRIGHT_SYSTEM_METRICS_INTERVAL"
CAPTURE_GIT = "LOGWRIGHT_CAPTURE_GIT"
CAPTURE_ENV = "LOGWRIGHT_CAPTURE_ENV"
CAPTURE_HARDWARE = "LOGWRIGHT_CAPTURE_HARDWARE"
CAPTURE_PACKAGES = "LOGWRIGHT_CAPTURE_PACKAGES"
CAPTURE_SOURCE = "LOGWRIGHT_CAPTURE_SOURCE"
OTLP_ENDPOINT = "LOGWRIGHT_OTLP_ENDPOINT"
OTLP_SPOOL = "LOGWRIGHT_OTLP_SPOOL"
OTLP_EXIT_TIMEOUT = "LOGWRIGHT_OTLP_EXIT_TIMEOUT"
OTLP_MAX_REQUEST_BYTES = "LOGWRIGHT_OTLP_MAX_REQUEST_BYTES"
OTLP_MAX_BACKOFF = "LOGWRIGHT_OTLP_MAX_BACKOFF"
TRACE_SAMPLE_RATIO = "LOGWRIGHT_TRACE_SAMPLE_RATIO"
TRACING_DISABLED = "LOGWRIGHT_TRACING_DISABLED"
DISPLAY_TRACES = "LOGWRIGHT_DISPLAY_TRACES"
TRACE_FIELD_LIMIT = "LOGWRIGHT_TRACE_FIELD_LIMIT"
RANK_VARS = ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK")
# Packages whose versions the run context records when (and only when) already imported:
# top-level module -> distribution name.
CONTEXT_PACKAGES = {
    "torch": "torch", "lightning": "lightning", "pytorch_lightning": "pytorch-lightning",
    "sklearn": "scikit-learn", "xgboost": "xgboost", "lightgbm": "lightgbm", "catboost": "catboost",
    "numpy": "numpy", "pandas": "pandas", "scipy": "scipy", "transformers": "transformers",
    "tensorflow": "tensorflow", "keras": "keras", "jax": "jax", "langchain_core": "langchain-core",
    "langchain": "langchain", "dspy": "dspy", "openai": "openai", "anthropic": "anthropic",
    "datasets": "datasets", "accelerate": "accelerate", "peft": "peft", "logwright": "logwright",
}

_FALSE = {"0", "false", "no", "off", ""}


def flag(name: str, default: bool = False) -> bool:
    """Read a boolean environment variable (1/true/yes/on vs 0/false/no/off)."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() not in _FALSE


def number(name: str, default: float) -> float:
    """Read a float environment variable, falling back to ``default`` when unset or bad."""
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        return default


def text(name: str, default: str | None = None) -> str | None:
    """Read a string environment variable."""
    return os.environ.get(name) or default


def strict() -> bool:
    """True when logwright's own errors must be re-raised (tests set LOGWRIGHT_STRICT=1)."""
    return flag(STRICT)


def global_rank() -> int:
    """This process's global rank in distributed training (0 when not distributed)."""
    for name in RANK_VARS[:1] + RANK_VARS[2:]:
        raw = os.environ.get(name)
        if raw and raw.isdigit():
            return int(raw)
    return 0
