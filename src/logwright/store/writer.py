"""The background writer: one per store per process, shared by every kind of record.

Producers call :meth:`Writer.put` with an operation tuple; it appends to a deque
and returns in well under a microsecond. Only the writer's daemon thread commits:
it wakes at least every ``interval`` seconds (and when the queue grows or someone
flushes), takes the queue in batches capped by count and bytes, and hands each
batch to the store, which commits it in one transaction. Because no user thread
ever holds a lock or a half-applied batch, Ctrl-C can land anywhere without losing
a batch or leaving a lock held.

Nothing queued is ever dropped:

- a **transient** failure (locked, disk full, I/O error, server down) keeps the
  batch, retries with backoff and warns once naming the cause and how many
  operations wait; a second warning says when writing resumed;
- a failure **tied to one operation** splits the batch until that operation is
  alone, hands it to ``reject`` (the store sets it aside in ``rejected.jsonl`` with
  one warning) and commits the rest;
- a **fatal** failure (the store vanished) keeps everything queued and makes the
  next :meth:`flush` (and :meth:`put`) raise :class:`~logwright.exceptions.StoreError`.

Back-pressure: when the oldest operation not yet committed has waited more than
``MAX_LAG`` seconds, or more than ``HIGH_WATER`` operations or ``HIGH_BYTES`` bytes are
queued, :meth:`put` waits for the writer (never drops). So memory stays bounded, and a
producer that outruns the store (a tight traced loop) cannot leave more than about a
second of records at risk of a SIGKILL. While the store fails (disk full), only the
memory limits apply.
"""

from __future__ import annotations

import logging
import os
import queue as _queue
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from logwright.exceptions import StoreError

_logger = logging.getLogger(__name__)

WAKE_AT = 1024
HIGH_WATER = 200_000
MAX_LAG = 0.25  # seconds the oldest uncommitted operation may wait before producers do
HIGH_BYTES = 64 * 1024 * 1024
BATCH_OPS = 50_000
BATCH_BYTES = 8 * 1024 * 1024
TRANSIENT, OP, FATAL = "transient", "op", "fatal"
_writers: weakref.WeakSet[Writer] = weakref.WeakSet()


class Writer:
    """Batches operation tuples and commits them through ``apply`` in its own thread.

    Args:
        apply: commits a batch in one transaction (raises on failure).
        classify: maps an exception from ``apply`` to ``"transient"``, ``"op"`` or ``"fatal"``.
        reject: called with an operation and its error when that operation alone fails.
        describe: the store's name for messages.
        check: called before each commit; raises StoreError when the store is gone.
        tick: called by the writer thread about once a second (heartbeats).
        interval: the longest time between commits, in seconds.
        max_lag: how long (seconds) the oldest uncommitted operation may wait before
            producers wait for the writer (``MAX_LAG`` by default): what a SIGKILL can lose.
    """

    def __init__(self, apply: Callable[[Sequence[tuple]], None], classify: Callable[[BaseException], str],
                 reject: Callable[[tuple, BaseException], None], describe: str = "the store",
                 check: Callable[[], None] | None = None, tick: Callable[[], None] | None = None,
                 interval: float = 0.5, max_lag: float | None = None) -> None:
        self._apply = apply
        self._classify = classify
        self._reject = reject
        self._describe = describe
        self._check = check
        self._tick = tick
        self._interval = interval
        self._max_lag = MAX_LAG if max_lag is None else max_lag
        self._fatal: StoreError | None = None
        self._failing: str | None = None
        self._rejected: list[BaseException] = []  # re-raised by flush() in strict mode (tests)
        self._timed_out = False  # a flush gave up during the current failure
        self._queue_since = self._batch_since = time.monotonic()  # see _lagging
        self._reset()
        _writers.add(self)

    def _reset(self) -> None:
        self._queue: deque[tuple] = deque()
        self._inflight: list[tuple] = []
        self._bytes = 0
        self._wake: _queue.SimpleQueue[Any] = _queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._pid = os.getpid()

    # -- producers -----------------------------------------------------------------

    def put(self, op: tuple, nbytes: int = 0) -> None:
        """Queue one operation (``nbytes``: its size when far above ~100 bytes)."""
        queue = self._queue
        queue.append(op)
        if nbytes:
            self._bytes += nbytes
        if self._thread is None:
            self._start()
        size = len(queue)
        if size >= WAKE_AT or self._bytes >= BATCH_BYTES:
            self._wake.put(None)
            if size >= HIGH_WATER or self._bytes >= HIGH_BYTES or self._lagging():
                self._back_pressure()

    def _lagging(self) -> bool:
        if self._failing is not None:
            return False
        since = self._batch_since if self._inflight else self._queue_since
        return time.monotonic() - since > self._max_lag

    def put_many(self, ops: Sequence[tuple]) -> None:
        """Queue several operations at once, in order."""
        self._queue.extend(ops)
        if self._thread is None:
            self._start()
        if len(self._queue) >= WAKE_AT:
            self._wake.put(None)

    def put_group(self, ops: Sequence[tuple], nbytes: int = 0) -> None:
        """Queue operations that must commit in one transaction (a remote client's batch and its mark)."""
        nbytes = nbytes or 64 * len(ops)
        self.put(("__group", tuple(ops), nbytes), nbytes)

    def pending(self) -> int:
        """Operations queued or being committed, not yet durable."""
        return len(self._queue) + len(self._inflight)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued before this call is durable.

        Args:
            timeout: seconds to wait (None: ``LOGWRIGHT_FLUSH_TIMEOUT``, 60 by default).
                While the store fails transiently the writer keeps retrying after the
                timeout; this call then warns how many operations still wait.

        Returns:
            True when everything was written, False when it timed out.

        Raises:
            StoreError: the store is gone (vanished, unusable); nothing was dropped.
        """
        if self._fatal is not None:
            raise self._fatal
        if not self._queue and not self._inflight:
            return True
        if self._thread is None or self._pid != os.getpid():
            self._start()
        if threading.current_thread() is self._thread:
            self._drain_all()
            return True
        if timeout is None:
            from logwright import config

            timeout = config.number(config.FLUSH_TIMEOUT, 60.0)
        if self._failing is not None and self._timed_out:
            timeout = min(timeout, 1.0)  # still failing: do not stall every end_run for long
        ticket: _queue.SimpleQueue[bool] = _queue.SimpleQueue()
        self._wake.put(ticket)
        try:
            ticket.get(timeout=timeout)
        except _queue.Empty:
            if self._fatal is not None:
                raise self._fatal from None
            self._timed_out = self._failing is not None
            _logger.warning(
                "logwright: %d operations are still waiting to be written to %s (%s); "
                "they stay queued and are retried", self.pending(), self._describe,
                self._failing or "slow store",
            )
            return False
        if self._fatal is not None:
            raise self._fatal
        if self._rejected:
            rejected, self._rejected = self._rejected, []
            from logwright.config import strict

            if strict():
                raise rejected[0]
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Flush at interpreter exit; reports (never raises) what could not be written."""
        try:
            if not self.flush(timeout):
                _logger.warning("logwright: %d operations could not be written to %s before exit (%s)",
                                self.pending(), self._describe, self._failing)
        except Exception as exc:  # noqa: BLE001 - exit path: report, never raise
            _logger.warning("logwright: %d operations could not be written at exit: %s", self.pending(), exc)

    def _back_pressure(self) -> None:
        """The producer waits for the writer to catch up (the queue is too long or too big)."""
        if self._fatal is not None:
            raise self._fatal
        if threading.current_thread() is self._thread:
            return
        lagging = True
        while (lagging or len(self._queue) >= HIGH_WATER // 2 or self._bytes >= HIGH_BYTES // 2) and self._queue:
            lagging = False  # one full drain catches up with the lag
            if self._fatal is not None:
                raise self._fatal
            ticket: _queue.SimpleQueue[bool] = _queue.SimpleQueue()
            self._wake.put(ticket)
            try:
                ticket.get(timeout=1.0)
            except _queue.Empty:
                continue

    # -- the writer thread ---------------------------------------------------------

    def _start(self) -> None:
        with self._start_lock:
            if self._pid != os.getpid():
                self._reset()
            if self._thread is not None:
                return
            thread = threading.Thread(target=self._loop, name="logwright-writer", daemon=True)
            self._thread = thread
            thread.start()

    def _loop(self) -> None:
        wake = self._wake
        last_tick = time.monotonic()
        while True:
            tickets = []
            try:
                item = wake.get(timeout=self._interval)
                while True:
                    if item is not None:
                        tickets.append(item)
                    item = wake.get_nowait()
            except _queue.Empty:
                pass
            if not self._queue:  # idle time is no lag
                self._queue_since = time.monotonic()
            try:
                self._drain_all()
            except Exception as exc:  # noqa: BLE001 - our bug: keep the thread alive, report
                _logger.warning("logwright writer error: %r", exc)
            for ticket in tickets:
                ticket.put(True)
            now = time.monotonic()
            if self._tick is not None and now - last_tick >= 1.0:
                last_tick = now
                try:
                    self._tick()
                except Exception as exc:  # noqa: BLE001
                    _logger.debug("logwright writer tick failed: %r", exc)

    def _take(self) -> list[tuple]:
        """Pop the next batch (capped by count and bytes) off the queue."""
        queue, batch = self._queue, self._inflight
        size = 0
        while queue and len(batch) < BATCH_OPS and size < BATCH_BYTES:
            op = queue.popleft()
            if op[0] == "__group":  # never split across transactions
                batch.extend(op[1])
                size += op[2]
                continue
            batch.append(op)
            size += _size(op)
        self._bytes = max(0, self._bytes - size) if queue else 0
        self._batch_since = self._queue_since
        if not queue:
            self._queue_since = time.monotonic()
        return batch

    def _drain_all(self) -> None:
        while self._queue or self._inflight:
            if self._fatal is not None:
                return
            batch = self._inflight if self._inflight else self._take()
            if self._commit_until_done(batch):
                self._inflight = []

    def _commit_until_done(self, batch: list[tuple]) -> bool:
        """Commit ``batch`` in order; False (everything kept) when the store went fatal.

        Transient failures retry the same part with backoff; a failure tied to one
        operation splits the part in halves until that operation is alone, and only
        that one is set aside. Parts already committed are never applied twice.
        """
        parts = [batch]
        delay = 0.05
        while parts:
            part = parts[0]
            try:
                if self._check is not None:
                    self._check()
                self._apply(part)
            except Exception as exc:  # noqa: BLE001 - classified below, nothing is dropped
                kind = FATAL if isinstance(exc, StoreError) else self._classify(exc)
                if kind == TRANSIENT:
                    self._note_failure(exc)
                    time.sleep(delay)
                    delay = min(delay * 2, 2.0)
                    continue
                if kind == FATAL:
                    self._inflight = [op for p in parts for op in p]
                    self._fatal = exc if isinstance(exc, StoreError) else StoreError(f"{self._describe}: {exc}")
                    _logger.warning("logwright: %s; %d operations are kept in memory", self._fatal,
                                    self.pending())
                    return False
                if len(part) > 1:
                    middle = len(part) // 2
                    parts[0:1] = [part[:middle], part[middle:]]
                    continue
                self._set_aside(part[0], exc)
            parts.pop(0)
            delay = 0.05
            if self._failing is not None:
                _logger.warning("logwright: %s is writable again; the waiting operations are written",
                                self._describe)
                self._failing = None
                self._timed_out = False
        return True

    def _set_aside(self, op: tuple, exc: BaseException) -> None:
        self._rejected.append(exc)
        try:
            self._reject(op, exc)
        except Exception as err:  # noqa: BLE001 - last resort: say what was lost
            _logger.warning("logwright could not store a %r operation (%r) nor set it aside (%r)",
                            op[0], exc, err)

    def _note_failure(self, cause: BaseException) -> None:
        reason = describe_failure(cause)
        if self._failing != reason:
            self._failing = reason
            _logger.warning("logwright: cannot write to %s: %s; %d operations waiting, retrying",
                            self._describe, reason, self.pending())


def _size(op: tuple) -> int:
    """The bytes an operation counted for when it was put (only big ones, traces, say)."""
    size = getattr(op[1], "approx_bytes", None) if len(op) > 1 else None
    return size if isinstance(size, int) else 0


def describe_failure(exc: BaseException) -> str:
    """A short human cause for a storage failure ("disk full", "database locked", ...)."""
    text = str(exc).lower()
    errno = getattr(exc, "errno", None)
    if "full" in text or errno == 28:
        return f"disk full ({exc})"
    if "locked" in text or "busy" in text:
        return f"database locked ({exc})"
    if "readonly" in text or "read-only" in text or errno in (13, 30):
        return f"store not writable ({exc})"
    if "i/o" in text or errno in (5, 27):
        return f"I/O error ({exc})"
    return f"{type(exc).__name__}: {exc}"


def flush_all(timeout: float | None = None) -> None:
    """Flush every writer of this process."""
    for writer in list(_writers):
        writer.flush(timeout)


def close_all() -> None:
    """Flush every writer of this process at exit (reports, never raises)."""
    for writer in list(_writers):
        writer.close()


def _reset_after_fork() -> None:
    # The parent still owns what it queued; the child starts empty with its own thread.
    for writer in list(_writers):
        writer._reset()
        writer._fatal = None
        writer._failing = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
