"""OTLP/HTTP export of finished traces that loses nothing (extra ``logwright[otel]``).

When ``LOGWRIGHT_OTLP_ENDPOINT`` is set or :func:`logwright.tracing.configure` is
given ``otlp_endpoint``, every trace is also sent, when its root span ends, to that
endpoint as OTLP protobuf over HTTP; a span that ends after its root is sent on its
own. The user's thread only takes a snapshot of the trace and queues it; two daemon
threads do the rest, and only they import opentelemetry:

- the *encoder* turns traces into protobuf (:mod:`logwright.tracing.otlp`, with the
  OpenInference and GenAI attributes of :mod:`logwright.tracing.semconv`) and keeps
  them in memory, at most 4,096 traces / 64 MiB; beyond that, and whenever the
  collector is unreachable, it writes them to the on-disk spool
  (:mod:`logwright.tracing.spool`);
- the *sender* posts batches of up to ``LOGWRIGHT_OTLP_MAX_REQUEST_BYTES`` (4 MiB),
  gzip-compressed, and forgets a trace only when the collector acknowledged it
  (HTTP 2xx). Connection errors, timeouts and HTTP 429/502/503/504 are retried with
  backoff (0.5 s doubling to ``LOGWRIGHT_OTLP_MAX_BACKOFF``, 30 s); other HTTP errors
  mean the collector refuses the data, which is then dropped with a warning.

At interpreter exit the exporter waits up to ``LOGWRIGHT_OTLP_EXIT_TIMEOUT`` (5 s),
then leaves what is unsent in the spool; the next process exporting to the same
endpoint sends it.
"""

from __future__ import annotations

import gzip
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from typing import Any
from urllib.parse import urlsplit

from logwright import config
from logwright.tracing import spool

_logger = logging.getLogger(__name__)

_state: dict[str, Any] = {"exporter": None}
MAX_TRACES = 4096
MAX_BYTES = 64 << 20
_RETRYABLE = {408, 429, 502, 503, 504}
_WARN_EVERY = 60.0
_DOWN_WAIT = 2.0
_BATCH = 256  # traces the encoder takes at once
_LINGER = 0.05  # seconds the encoder waits for a batch to fill


class _Finished:
    """What export needs of a finished trace, taken when its root ends (or of one late span)."""

    __slots__ = ("trace_id", "experiment_id", "run_id", "tags", "name", "root", "spans", "limit",
                 "store", "late", "size")

    def __init__(self, trace: Any, late_span: Any = None) -> None:
        self.trace_id = trace.trace_id
        self.experiment_id = trace.experiment_id
        self.run_id = trace.run_id
        self.store = trace.store
        self.limit = trace.limit
        self.late = late_span is not None
        if self.late:
            self.tags, self.name, self.root, self.spans = {}, None, None, [late_span]
            self.size = 1024
        else:
            self.tags, self.name, self.root = dict(trace.tags), trace.name, trace.root
            self.spans = list(trace.spans)
            self.size = trace.approx_bytes * 2


class _OtlpExporter:
    """The queue of finished traces, the encoder and sender threads, and the spool."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.folder = spool.spool_dir(endpoint)
        self.max_request = int(config.number(config.OTLP_MAX_REQUEST_BYTES, 4 << 20))
        self.max_backoff = config.number(config.OTLP_MAX_BACKOFF, 30.0)
        self.exit_timeout = config.number(config.OTLP_EXIT_TIMEOUT, 5.0)
        self.inbox: deque[_Finished] = deque()
        self.inbox_bytes = 0
        self.pending: deque[bytes] = deque()
        self.pending_bytes = 0
        self.outstanding = 0  # queued in memory, being encoded or in flight
        self.spooled = 0  # traces in spool files this process knows of
        self.sent = 0
        self.down_since: float | None = None
        self.reason = ""
        self.warned_at = 0.0
        self.closing = False
        self.deadline = float("inf")
        self.projects: dict[tuple[int, str], str] = {}
        self._start()

    def _start(self) -> None:
        self.pid = os.getpid()
        lock = threading.RLock()  # new in a forked child: the parent's may be held
        self.cond = threading.Condition(lock)  # flush, back-pressure and the sender wait here
        self.work = threading.Condition(lock)  # the encoder waits here
        self.spool_failed = False
        self.inbox.clear()
        self.pending.clear()
        self.inbox_bytes = self.pending_bytes = self.outstanding = 0
        self.encoder = threading.Thread(target=self._encode_loop, name="logwright-otlp-encode", daemon=True)
        self.sender = threading.Thread(target=self._send_loop, name="logwright-otlp-send", daemon=True)
        self.encoder.start()
        self.sender.start()

    # -- the user's side ------------------------------------------------------------------

    def submit(self, trace: Any) -> None:
        """Queue a finished trace (called when its root span ends; never imports anything)."""
        self._put(_Finished(trace))

    def submit_late(self, trace: Any, span: Any) -> None:
        """Queue a span that ended after its trace was handed over."""
        self._put(_Finished(trace, span))

    def _put(self, item: _Finished) -> None:
        if self.pid != os.getpid():  # a forked child: the parent's threads did not come along
            self._start()
        with self.cond:
            # Back-pressure instead of loss: the encoder never waits on the network, so
            # this waits only while encoding lags far behind the producer.
            while (len(self.inbox) >= MAX_TRACES or self.inbox_bytes >= MAX_BYTES) and \
                    self.encoder.is_alive() and not self.closing:
                self.cond.wait(0.1)
            self.inbox.append(item)
            self.inbox_bytes += item.size
            self.outstanding += 1
            if len(self.inbox) in (1, _BATCH):  # wake the encoder only at these two points
                self.work.notify()

    def waiting(self) -> int:
        """Traces not yet acknowledged: in memory, in flight or in the spool."""
        return self.outstanding + self.spooled

    def idle(self) -> bool:
        """Nothing left to send, in memory or in this endpoint's spool."""
        return self.outstanding == 0 and spool.count(self.folder) == 0

    def flush(self, timeout: float = 10.0, patient: bool = False) -> bool:
        """Wait until every queued trace was acknowledged (or ``timeout`` passed); True if so.

        While the collector is unreachable this waits at most ``_DOWN_WAIT`` seconds
        (unless ``patient``): the traces are safe in the spool, and a user's
        ``logwright.flush()`` should not stall through an outage.
        """
        start = time.monotonic()
        deadline = start + timeout
        with self.cond:
            self.work.notify_all()  # no lingering while someone waits
            while not self.idle():
                limit = deadline if patient or self.down_since is None else min(deadline, start + _DOWN_WAIT)
                left = limit - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 0.05))
        return True

    def close(self, timeout: float | None = None) -> None:
        """Wait up to ``timeout`` (default ``LOGWRIGHT_OTLP_EXIT_TIMEOUT``), then spool what is left."""
        if self.pid != os.getpid() or self.closing:
            return
        timeout = self.exit_timeout if timeout is None else timeout
        done = self.flush(timeout, patient=True)
        with self.cond:
            self.closing = True
            self.deadline = time.monotonic()
            self.cond.notify_all()
            self.work.notify_all()
        self.encoder.join(5.0)
        self.sender.join(15.0)
        if not done:
            _logger.warning("logwright: %d traces for %s not acknowledged after %.0f s; left in %s, "
                            "sent by the next process exporting there", self.waiting(), self.endpoint,
                            timeout, self.folder)

    # -- encoder thread -------------------------------------------------------------------

    def _encode_loop(self) -> None:
        try:
            from logwright import __version__
            from logwright.tracing.otlp import encode_trace
        except ImportError as exc:
            _logger.warning("OTLP export needs `pip install logwright[otel]` (%s); traces stay local", exc)
            _disable(self)
            return
        while True:
            with self.cond:
                while not self.inbox and not self.closing:
                    self.work.wait()
                if len(self.inbox) < _BATCH and not self.closing:
                    # Linger: one wake-up and one stretch of encoding per batch, not per trace.
                    self.work.wait(_LINGER)
                if not self.inbox:
                    return
                items = [self.inbox.popleft() for _ in range(min(_BATCH, len(self.inbox)))]
                self.inbox_bytes -= sum(item.size for item in items)
                self.cond.notify_all()
            encoded = []
            for item in items:
                try:
                    encoded.append(encode_trace(item, self._project(item), __version__, self.max_request))
                except Exception as exc:  # noqa: BLE001 - a bug: lose this trace, not the thread
                    _logger.warning("logwright: could not encode trace %s for OTLP: %r", item.trace_id, exc)
                    encoded.append(None)
            self._keep([data for data in encoded if data is not None], encoded.count(None))

    def _keep(self, encoded: list[bytes], failed: int) -> None:
        with self.cond:
            self.outstanding -= failed
            size = sum(len(data) for data in encoded)
            to_disk = self.down_since is not None or self.closing or \
                len(self.pending) + len(encoded) > MAX_TRACES or self.pending_bytes + size > MAX_BYTES
            if not to_disk:
                self.pending.extend(encoded)
                self.pending_bytes += size
                self.cond.notify_all()
                return
        self._to_spool(encoded)

    def _to_spool(self, records: list[bytes]) -> None:
        """Move traces counted as outstanding into a spool file (kept in memory if that fails)."""
        try:
            spool.write(self.folder, records)
        except OSError as exc:
            with self.cond:
                self.pending.extendleft(reversed(records))
                self.pending_bytes += sum(len(r) for r in records)
                warn, self.spool_failed = not self.spool_failed, True
            if warn:
                _logger.warning("logwright: cannot spool traces for %s in %s (%r); keeping them in memory",
                                self.endpoint, self.folder, exc)
            return
        with self.cond:
            self.outstanding -= len(records)
            self.spooled += len(records)
            self.cond.notify_all()

    def _project(self, item: _Finished) -> str:
        key = (id(item.store), str(item.experiment_id))
        name = self.projects.get(key)
        if name is None:
            try:
                name = item.store.get_experiment(str(item.experiment_id)).name
            except Exception:  # noqa: BLE001 - a deleted experiment or a closed store
                name = f"experiment-{item.experiment_id}"
            self.projects[key] = name
        return name

    # -- sender thread --------------------------------------------------------------------

    def _send_loop(self) -> None:
        while True:
            try:
                self._send_until_closed()
                return
            except Exception as exc:  # noqa: BLE001 - a bug must not stop the sending
                _logger.warning("logwright: OTLP sender for %s failed (%r); restarting it", self.endpoint, exc)
                time.sleep(1.0)

    def _send_until_closed(self) -> None:
        probe_at, backoff = 0.0, 0.5
        while True:
            batch = self._next_batch()
            if batch is None:
                if self.closing:
                    return
                claimed = spool.claim(self.folder)
                if claimed is not None:
                    self._send_file(claimed)
                    continue
                with self.cond:
                    if not self.closing:
                        self.cond.wait(1.0)
                    # Down with nothing spooled (an unwritable spool): retry from memory, backing off.
                    if self.pending and self.down_since is not None and time.monotonic() >= probe_at:
                        batch = self._take()
                if batch is None:
                    continue
                probe_at, backoff = time.monotonic() + backoff, min(self.max_backoff, backoff * 2)
            if self._post(batch):
                probe_at, backoff = 0.0, 0.5
                with self.cond:
                    self.outstanding -= len(batch)
                    self.sent += len(batch)
                    self.cond.notify_all()
                continue
            with self.cond:  # the collector is down: everything in memory goes to disk
                rest = list(self.pending)
                self.pending.clear()
                self.pending_bytes = 0
            self._to_spool(batch + rest)

    def _next_batch(self) -> list[bytes] | None:
        with self.cond:
            if not self.pending or self.down_since is not None:
                return None
            if self.closing and time.monotonic() >= self.deadline:
                rest = list(self.pending)
                self.pending.clear()
                self.pending_bytes = 0
            else:
                rest = None
        if rest is not None:
            self._to_spool(rest)
            return None
        with self.cond:
            return self._take()

    def _take(self) -> list[bytes]:
        """Up to one request's worth of traces from memory (the caller holds the lock)."""
        batch, size = [], 0
        while self.pending and (not batch or size + len(self.pending[0]) <= self.max_request):
            data = self.pending.popleft()
            batch.append(data)
            size += len(data)
        self.pending_bytes -= size
        return batch

    def _send_file(self, path: Any) -> None:
        try:
            records = spool.read(path)
        except OSError as exc:
            _logger.warning("logwright: could not read spool file %s: %r", path, exc)
            return
        backoff = 0.5
        while records:
            chunk, size = [], 0
            while len(chunk) < len(records) and (not chunk or size + len(records[len(chunk)]) <= self.max_request):
                size += len(records[len(chunk)])
                chunk.append(records[len(chunk)])
            if self.closing and time.monotonic() >= self.deadline:
                break
            if self._post(chunk):
                records = records[len(chunk):]
                with self.cond:
                    self.spooled = max(0, self.spooled - len(chunk))
                    self.sent += len(chunk)
                backoff = 0.5
                continue
            with self.cond:
                if self.closing:
                    break
                self.cond.wait(backoff)
                if self.closing:
                    break
            backoff = min(self.max_backoff, backoff * 2)
        spool.release(path, records)
        with self.cond:
            self.cond.notify_all()

    def _post(self, batch: list[bytes]) -> bool:
        """Send one request; True when the collector acknowledged it (or refused it for good)."""
        body = b"".join(batch)
        request = urllib.request.Request(self.endpoint, data=gzip.compress(body, 1), method="POST", headers={
            "Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"})
        try:
            with urllib.request.urlopen(request, timeout=5.0) as response:  # noqa: S310 - the user's URL
                response.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 413 and len(batch) > 1:
                self.max_request = max(64 << 10, len(body) // 2)
                return self._post(batch[:len(batch) // 2]) and self._post(batch[len(batch) // 2:])
            if exc.code not in _RETRYABLE:
                _logger.warning("logwright: %s refused %d traces (HTTP %d %s); they are not exported",
                                self.endpoint, len(batch), exc.code, exc.reason)
                return True
            return self._failed(len(batch), f"HTTP {exc.code} {exc.reason}")
        except (OSError, ValueError) as exc:
            return self._failed(len(batch), repr(getattr(exc, "reason", exc)))
        self._recovered()
        return True

    def _failed(self, count: int, reason: str) -> bool:
        now = time.time()
        with self.cond:
            first = self.down_since is None
            if first:
                self.down_since = now
            self.reason = reason
            warn = first or now - self.warned_at >= _WARN_EVERY
            if warn:
                self.warned_at = now
        if warn:
            since = time.strftime("%H:%M:%S", time.localtime(self.down_since))
            _logger.warning("logwright: %d traces waiting for %s; collector unreachable since %s (%s); "
                            "kept in %s and retried", max(count, self.waiting()), self.endpoint, since,
                            reason, self.folder)
        return False

    def _recovered(self) -> None:
        with self.cond:
            since, self.down_since = self.down_since, None
        if since is not None:
            _logger.warning("logwright: collector %s reachable again after %.0f s; sending the %d traces "
                            "waiting", self.endpoint, time.time() - since, self.waiting())


def _endpoint(url: str) -> str:
    parts = urlsplit(url)
    if parts.path in ("", "/"):
        return url.rstrip("/") + "/v1/traces"
    return url


def _disable(exporter: _OtlpExporter) -> None:
    _disable_listeners(exporter)
    with exporter.cond:
        exporter.outstanding = 0
        exporter.inbox.clear()
        exporter.closing = True
        exporter.cond.notify_all()
        exporter.work.notify_all()
    if _state["exporter"] is exporter:
        _state["exporter"] = None


def configure(endpoint: str | None) -> None:
    """Start (or stop, for None) exporting finished traces to ``endpoint``."""
    from logwright.tracing.spans import _ensure_exit_hook, _late_listeners, _listeners

    old = _state["exporter"]
    if old is not None:
        _disable_listeners(old)
        old.close(5.0)
        _state["exporter"] = None
    if not endpoint:
        return
    exporter = _OtlpExporter(_endpoint(endpoint))
    _state["exporter"] = exporter
    _listeners.append(exporter.submit)
    _late_listeners.append(exporter.submit_late)
    _ensure_exit_hook()


def _disable_listeners(exporter: _OtlpExporter) -> None:
    from logwright.tracing.spans import _late_listeners, _listeners

    for listeners, fn in ((_listeners, exporter.submit), (_late_listeners, exporter.submit_late)):
        if fn in listeners:
            listeners.remove(fn)


def flush(timeout: float = 10.0) -> None:
    """Wait for traces queued for export (a no-op when exporting is off)."""
    exporter = _state["exporter"]
    if exporter is not None and exporter.pid == os.getpid() and not exporter.flush(timeout):
        _logger.warning("logwright: %d traces still waiting for %s after %.0f s",
                        exporter.waiting(), exporter.endpoint, timeout)


def close_at_exit() -> None:
    """Interpreter exit: wait ``LOGWRIGHT_OTLP_EXIT_TIMEOUT`` for acknowledgements, spool the rest."""
    exporter = _state["exporter"]
    if exporter is not None:
        exporter.close()
