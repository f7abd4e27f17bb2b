"""Show the traces a notebook cell produced, below the cell.

Hooked lazily: on the first trace finished while IPython is imported and a shell
is running, ``pre_run_cell``/``post_run_cell`` callbacks are registered; nothing
is imported or hooked outside IPython. ``LOGWRIGHT_DISPLAY_TRACES=0`` or
``logwright.tracing.configure(display=False)`` turns it off. In Jupyter each
trace renders as HTML (``Trace._repr_html_``); in terminal IPython it prints as a
tree.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from logwright.entities import Trace
from logwright.tracing.context import SETTINGS, report

_logger = logging.getLogger(__name__)

_MAX_PENDING = 50
_state: dict[str, Any] = {"collecting": False, "tried": False, "pending": [], "shell": None}


def on_trace(trace: Any) -> None:
    """Remember a finished trace for the current cell (a listener run when a root span ends)."""
    if not _state["collecting"]:
        if SETTINGS.display is False or _state["tried"] or "IPython" not in sys.modules:
            return
        if not _hook_ipython():
            return
    pending = _state["pending"]
    if len(pending) < _MAX_PENDING:
        pending.append((trace.store, trace.trace_id))


def start_collecting() -> None:
    """Collect finished traces from now on (done by the IPython hook; tests call it directly)."""
    _state["collecting"] = True
    _state["pending"] = []


def stop_collecting() -> None:
    """Stop collecting and forget what was collected."""
    _state["collecting"] = False
    _state["pending"] = []


def collect_cell_traces() -> list[Trace]:
    """The traces finished since the last call (the current cell's), read back from the store."""
    from logwright.tracing.storage import read_trace

    pending, _state["pending"] = _state["pending"], []
    out = []
    for store, trace_id in pending:
        store.flush()
        found = read_trace(store, trace_id)
        if found is not None:
            out.append(found)
    return out


def _hook_ipython() -> bool:
    _state["tried"] = True
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is None:
            return False
        shell.events.register("pre_run_cell", _pre_run_cell)
        shell.events.register("post_run_cell", _post_run_cell)
    except Exception as exc:  # noqa: BLE001 - an unusual shell: no auto-display
        _logger.debug("logwright could not hook IPython: %r", exc)
        return False
    _state["shell"] = shell
    _state["collecting"] = True
    return True


def _pre_run_cell(*_: Any) -> None:
    _state["pending"] = []


def _post_run_cell(*_: Any) -> None:
    if SETTINGS.display is False:
        _state["pending"] = []
        return
    try:
        traces = collect_cell_traces()
        if not traces:
            return
        if type(_state["shell"]).__name__ == "ZMQInteractiveShell":
            from IPython.display import display

            for trace in traces:
                display(trace)
        else:
            for trace in traces:
                print(trace)
    except Exception as exc:  # noqa: BLE001 - never break the notebook
        report(exc, "notebook display")
