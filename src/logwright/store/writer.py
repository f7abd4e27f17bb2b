"""The background writer: one per store per process, shared by every kind of record.

Producers call :meth:`Writer.put` with an operation tuple; it appends to a deque
(thread-safe, no lock) and returns in well under a microsecond. A daemon thread
drains the deque at least every ``interval`` seconds and hands each batch to the
store, which commits it in one transaction. :meth:`Writer.flush` drains in the
caller's thread, so when it returns everything put before it is durable.
When producers outrun the disk, ``put`` drains in the producer's thread
(back-pressure): nothing is ever dropped.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections import deque
from collections.abc import Callable, Sequence

_logger = logging.getLogger(__name__)

WAKE_AT = 20_000
HIGH_WATER = 500_000
_writers: weakref.WeakSet[Writer] = weakref.WeakSet()


class Writer:
    """Batches operation tuples and commits them through ``apply`` off the hot path."""

    def __init__(self, apply: Callable[[Sequence[tuple]], None], interval: float = 0.5) -> None:
        self._apply = apply
        self._interval = interval
        self._queue: deque[tuple] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._closed = False
        _writers.add(self)

    def put(self, op: tuple) -> None:
        """Queue one operation; starts the writer thread on first use."""
        queue = self._queue
        queue.append(op)
        if self._thread is None:
            self._start()
        size = len(queue)
        if size >= WAKE_AT:
            if size >= HIGH_WATER:
                self.drain()
            else:
                self._wake.set()

    def put_many(self, ops: Sequence[tuple]) -> None:
        """Queue several operations at once."""
        self._queue.extend(ops)
        if self._thread is None:
            self._start()
        if len(self._queue) >= WAKE_AT:
            self._wake.set()

    def flush(self) -> None:
        """Write everything queued so far; durable on return.

        Raises:
            Exception: in strict mode, an error the writer thread met earlier.
        """
        self.drain()
        error, self._error = self._error, None
        if error is not None:
            from logwright.config import strict

            if strict():
                raise error

    def drain(self) -> None:
        """Pop every queued operation and commit them in one batch."""
        with self._lock:
            queue = self._queue
            if not queue:
                return
            batch = [queue.popleft() for _ in range(len(queue))]
            self._apply(batch)

    def close(self) -> None:
        """Flush and stop the thread (used at interpreter exit)."""
        self._closed = True
        self._wake.set()
        try:
            self.drain()
        except Exception as exc:  # noqa: BLE001 - exit path: report, never raise
            _logger.warning("logwright could not write its last records: %s", exc)

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            thread = threading.Thread(target=self._loop, name="logwright-writer", daemon=True)
            self._thread = thread
            thread.start()

    def _loop(self) -> None:
        while not self._closed:
            self._wake.wait(self._interval)
            self._wake.clear()
            try:
                self.drain()
            except Exception as exc:  # noqa: BLE001 - keep the thread alive, report once
                self._error = exc
                _logger.warning("logwright writer failed to commit a batch: %r", exc)

    def _after_fork(self) -> None:
        # The parent still owns what it queued; the child starts empty with its own thread.
        self._queue = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread = None


def _reset_after_fork() -> None:
    for writer in list(_writers):
        writer._after_fork()


def flush_all() -> None:
    """Flush every writer of this process."""
    for writer in list(_writers):
        writer.flush()


def close_all() -> None:
    """Flush and stop every writer of this process."""
    for writer in list(_writers):
        writer.close()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
