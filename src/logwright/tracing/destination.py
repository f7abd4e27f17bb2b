"""Where a new trace goes, found without blocking an asyncio event loop.

A trace needs its store and experiment. Finding them the first time opens the store
(paths, an SQLite file, a connection) and may create the default experiment: I/O that
must not run in an event loop's thread (an async LangChain or DSPy call is often the
first traced thing a service does). So when a trace starts in a thread running an event
loop and that I/O is still to be done, the trace starts at once without a store, and a
daemon thread ("logwright-trace-destination") does the I/O; everything the trace then
hands to its store (the finished trace, late spans) runs on that thread, in order, once
the store is known. :func:`wait` (called by ``logwright.flush()``, ``get_trace`` and at
exit) waits until everything queued there is done.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
from collections.abc import Callable
from typing import Any

from logwright import fluent
from logwright.tracing.context import report

_logger = logging.getLogger(__name__)

_WAIT_S = 60.0
_state: dict[str, Any] = {"queue": None, "thread": None}
_lock = threading.Lock()


def in_event_loop() -> bool:
    """True in a thread whose asyncio event loop is running (asyncio is never imported here)."""
    aio = sys.modules.get("asyncio")
    return aio is not None and aio._get_running_loop() is not None


def ready_client(run_id: str | None, known_runs: dict[str, str]) -> Any:
    """The current client when it, its experiment and ``run_id``'s experiment are known without I/O, else None."""
    client = fluent._clients.get((fluent.get_tracking_uri(), fluent.get_artifact_uri()))
    if client is None or (run_id and run_id not in known_runs):
        return None
    if fluent._experiment_id is None:
        name = os.environ.get("LOGWRIGHT_EXPERIMENT_NAME") or "Default"
        if name not in getattr(client, "_experiments", {}):
            return None
    return client


def later(job: Callable[[], None]) -> None:
    """Run ``job`` on the destination thread after everything queued before it."""
    jobs = _state["queue"]
    if jobs is None or _state["thread"] is None or not _state["thread"].is_alive():
        with _lock:
            if _state["thread"] is None or not _state["thread"].is_alive():
                jobs = _state["queue"] = queue.SimpleQueue()
                thread = threading.Thread(target=_work, args=(jobs,), name="logwright-trace-destination",
                                          daemon=True)
                thread.start()
                _state["thread"] = thread
            jobs = _state["queue"]
    jobs.put(job)


def wait(timeout: float = _WAIT_S) -> None:
    """Wait until every job queued so far has run (a no-op when none ever was)."""
    jobs, thread = _state["queue"], _state["thread"]
    if jobs is None or thread is None or not thread.is_alive() or thread is threading.current_thread():
        return
    done = threading.Event()
    jobs.put(done.set)
    if not done.wait(timeout):
        _logger.warning("logwright: traces still wait for their store after %.0f s", timeout)


def _work(jobs: queue.SimpleQueue) -> None:
    while True:
        job = jobs.get()
        try:
            job()
        except Exception as exc:  # noqa: BLE001 - a trace lost to a store that cannot open, reported
            try:
                report(exc, "handing a trace to its store")
            except Exception:  # noqa: BLE001 - strict mode re-raises: this thread must go on
                _logger.exception("logwright could not hand a trace to its store")


def _forget_after_fork() -> None:
    _state["queue"] = _state["thread"] = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
