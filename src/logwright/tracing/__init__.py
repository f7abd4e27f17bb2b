"""GenAI tracing: spans in contextvars, stored as traces, shown as trees, exported over OTLP.

``@trace`` and ``start_span`` record spans; a root span starts a trace linked to the
active run; the finished trace goes to the store through the background writer,
is searchable with :func:`search_traces`, prints as a tree (``print(trace)``),
renders as HTML in notebooks and, when an OTLP endpoint is configured, is sent to
it too. See ``src/logwright/tracing/README.md``.
"""

from __future__ import annotations

import logging

from logwright.tracing.attributes import FrozenAttributes, frozen_attributes
from logwright.tracing.context import (
    SETTINGS,
    ContextExecutor,
    copy_context,
    get_current_span,
    reset_current_span,
    set_current_span,
    use_span,
)
from logwright.tracing.decorator import trace
from logwright.tracing.notebook import on_trace
from logwright.tracing.serialize import to_jsonable
from logwright.tracing.spans import (
    LiveSpan,
    _listeners,
    flush_spans,
    start_detached_span,
    start_span,
    update_current_trace,
)
from logwright.tracing.storage import (
    get_last_trace,
    get_trace,
    query_traces,
    read_trace,
    search_traces,
)

_logger = logging.getLogger(__name__)

_listeners.append(on_trace)

__all__ = [
    "ContextExecutor",
    "FrozenAttributes",
    "LiveSpan",
    "configure",
    "copy_context",
    "disable",
    "enable",
    "flush_spans",
    "frozen_attributes",
    "get_current_span",
    "get_last_trace",
    "get_trace",
    "query_traces",
    "read_trace",
    "reset_current_span",
    "search_traces",
    "set_current_span",
    "start_detached_span",
    "start_span",
    "to_jsonable",
    "trace",
    "update_current_trace",
    "use_span",
]


def configure(otlp_endpoint: str | None = None, sample_ratio: float | None = None,
              display: bool | None = None) -> None:
    """Change tracing settings for this process (arguments left None keep their value).

    Args:
        otlp_endpoint: an OTLP/HTTP traces URL (``http://host:4318/v1/traces``; a bare
            ``http://host:4318`` gets ``/v1/traces``); every finished trace is also sent
            there. ``""`` stops exporting. Needs ``logwright[otel]``.
        sample_ratio: the share of traces recorded, decided at the root span
            (``LOGWRIGHT_TRACE_SAMPLE_RATIO``); children follow their root.
        display: show the traces a notebook cell produced below the cell
            (``LOGWRIGHT_DISPLAY_TRACES``; on by default in IPython).
    """
    if not SETTINGS.loaded:
        SETTINGS.load()
    if sample_ratio is not None:
        SETTINGS.sample_ratio = min(1.0, max(0.0, float(sample_ratio)))
    if display is not None:
        SETTINGS.display = bool(display)
    if otlp_endpoint is not None:
        SETTINGS.otlp_endpoint = otlp_endpoint or None
        from logwright.tracing import export

        export.configure(SETTINGS.otlp_endpoint)


def disable() -> None:
    """Stop recording spans: ``@trace`` calls the function directly, spans are non-recording."""
    if not SETTINGS.loaded:
        SETTINGS.load()
    SETTINGS.enabled = False


def enable() -> None:
    """Record spans again after :func:`disable`."""
    if not SETTINGS.loaded:
        SETTINGS.load()
    SETTINGS.enabled = True


def _reset_for_tests() -> None:
    """Forget open traces, the last trace and settings; re-read the environment (tests)."""
    from logwright.tracing import export, notebook, spans

    export.configure(None)
    spans._open.clear()
    spans._last.clear()
    spans._run_experiments.clear()
    spans._exit_hook["registered"] = False
    notebook.stop_collecting()
    SETTINGS.load()
