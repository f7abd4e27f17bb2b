"""The ``http(s)://`` tracking URI: the Store protocol over ``logwright server``'s REST API.

Queued writes ride the same background writer as the embedded stores: each commit
of the writer is one gzip request to ``POST /api/v1/writes`` carrying this store's
client id and the batch's sequence number, so the server applies it exactly once.
``log_metric`` therefore costs what it costs locally; the training loop never waits
for the network.

When the server cannot be reached the batch goes to the local journal
(:mod:`logwright.store.http_journal`) and every later batch queues behind it; a
sender thread replays them in order once the server answers. :meth:`HttpStore.flush`
waits for the server's acknowledgement up to ``LOGWRIGHT_FLUSH_TIMEOUT`` (60 s) and
then says how many operations are still spooled and where. Every other protocol
method is one ``POST /api/v1/store/{method}`` (retried while the server restarts, up
to ``LOGWRIGHT_HTTP_RETRY`` seconds, 30 by default); artifacts go through
``/api/v1/artifacts`` (:mod:`logwright.artifacts.http`).
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import os
import time
import uuid
from collections.abc import Sequence
from typing import Any

from logwright import config, exceptions
from logwright.exceptions import StoreError
from logwright.store import wire
from logwright.store.base import Store
from logwright.store.common import rejecter
from logwright.store.http_journal import Journal
from logwright.store.http_transport import ServerUnreachable, Transport
from logwright.store.queued import QueuedWritesMixin
from logwright.store.writer import FATAL, OP, TRANSIENT, Writer

_logger = logging.getLogger(__name__)

RETRY_ENV = "LOGWRIGHT_HTTP_RETRY"
_EXCEPTIONS: dict[str, type[BaseException]] = {
    name: getattr(exceptions, name) for name in dir(exceptions)
    if isinstance(getattr(exceptions, name), type) and issubclass(getattr(exceptions, name), BaseException)
}
_EXCEPTIONS.update({"ValueError": ValueError, "TypeError": TypeError, "KeyError": KeyError})
_ATTRS = ("run_id", "ref", "trace_id", "position", "token")


_TOKENS_HERE = ("tokens are managed on the server's own store: run `logwright server token ...` "
                "with --store pointing at it")


class BatchRefused(ValueError):
    """The server refused a write batch as malformed (400): retrying cannot help."""


def is_http(uri: str | None) -> bool:
    """True for an ``http://`` or ``https://`` tracking URI."""
    return bool(uri) and uri.startswith(("http://", "https://"))  # type: ignore[union-attr]


def _classify(exc: BaseException) -> str:
    if isinstance(exc, StoreError):
        return FATAL
    if isinstance(exc, (BatchRefused, TypeError, ValueError, OverflowError)):
        return OP  # refused by the server, or a value the wire cannot carry (our bug): split, set aside
    return TRANSIENT  # the journal's disk


class HttpStore(QueuedWritesMixin):
    """A store that lives behind ``logwright server`` (see the module docstring).

    Args:
        url: ``http://host:port`` of the server (``https://`` behind a TLS proxy).
    """

    def __init__(self, url: str) -> None:
        self.transport = Transport(url)
        self.location = self.transport.url
        self.artifact_root = f"{self.location}{wire.API}/artifacts"
        self.client_id = uuid.uuid4().hex
        self._seq = 0
        self._sent: tuple[tuple[int, int], int, bytes] | None = None
        self._owned: set[str] = set()
        self._last_beat = time.monotonic()
        self._locations: dict[str, str] = {}
        self._journal_timed_out = False
        self.journal = Journal(self.location, self.client_id, self._post_batch)
        # A request and the server's commit take longer than a local commit: producers wait
        # for the writer only once the oldest point has waited a whole flush interval.
        self.rejected_path = os.path.join(self.journal.root, "rejected.jsonl")  # operations set aside
        self.writer = Writer(self._apply, _classify, rejecter(self.rejected_path, f"tracking server {self.location}"),
                             describe=f"tracking server {self.location}", tick=self._tick, max_lag=0.5)
        self.read_only = bool(self._info().get("read_only"))
        self.journal.adopt_orphans()

    def __repr__(self) -> str:
        return f"HttpStore({self.location!r})"

    def _info(self) -> dict[str, Any]:
        """The server's /api/v1/info (empty when it cannot be reached now: writes spool meanwhile)."""
        try:
            status, data = self.transport.request("GET", f"{wire.API}/info", timeout=10.0)
        except ServerUnreachable:
            return {}
        if status in (401, 403):
            raise StoreError(f"tracking server {self.location} refused the token ({_message(data)}): "
                             "set LOGWRIGHT_TRACKING_TOKEN to a token from `logwright server token create`")
        return wire.loads(data) if status == 200 else {}

    def _refuse_writes(self) -> None:
        if self.read_only:
            raise StoreError(f"tracking server {self.location} is read-only for this client (a read-only "
                             "token, or a server started with --read-only): runs can be read, not logged")

    # -- queued writes: the writer's commit -------------------------------------------

    def _apply(self, batch: Sequence[tuple]) -> None:
        """Send one writer batch (or spool it when the server is away); a retry keeps its seq."""
        key = (id(batch), len(batch))
        if self._sent is not None and self._sent[0] == key:
            _, seq, body = self._sent
        else:
            self._seq += 1
            seq, body = self._seq, wire.batch_body(self.client_id, self._seq, batch)
            self._sent = (key, seq, body)
        if not self.journal.active():
            try:
                self._post_batch(body)
                self._sent = None  # done: a later batch may get this one's id, never its seq
                return
            except ServerUnreachable as exc:
                _logger.warning("logwright: cannot reach tracking server %s (%s); batches are kept in %s and "
                                "sent in order when it answers", self.location, exc, self.journal.folder)
                self.journal.failing = str(exc)
        self.journal.append(seq, len(batch), body)
        self._sent = None

    def _post_batch(self, body: bytes) -> None:
        status, data = self.transport.request(
            "POST", f"{wire.API}/writes", body,
            {"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )
        if status == 200:
            return
        if status in (401, 403):
            raise StoreError(f"tracking server {self.location} refused the writes: {_message(data)}")
        if 400 <= status < 500:
            raise BatchRefused(f"tracking server {self.location} refused a batch: {_message(data)}")
        raise ServerUnreachable(f"tracking server {self.location} answered {status}: {_message(data)}")

    def flush(self, timeout: float | None = None) -> None:
        """Wait until the server acknowledged everything queued so far, up to ``timeout`` seconds.

        When the server stays away, warns how many operations are still spooled and where;
        they are sent when it answers, by this process or the next one that logs to it.
        """
        wait = config.number(config.FLUSH_TIMEOUT, 60.0) if timeout is None else timeout
        if self._journal_timed_out and self.journal.failing is not None:
            wait = min(wait, 1.0)  # still away: do not stall every end_run for long
        self.writer.flush(wait)
        if not self.journal.active():
            self._journal_timed_out = False
            return
        if self.journal.wait(wait):
            self._journal_timed_out = False
            return
        self._journal_timed_out = True
        _logger.warning(
            "logwright: %d operations are spooled in %s: tracking server %s did not answer (%s); they are "
            "sent when it does, by this process or the next one that logs to it",
            self.journal.pending_ops(), self.journal.folder, self.location, self.journal.failing,
        )

    def pending(self) -> int:
        """Operations queued or spooled, not yet acknowledged by the server."""
        return self.writer.pending() + self.journal.pending_ops()

    def apply_remote(self, ops: Sequence[tuple], client_id: str, seq: int) -> None:
        """Servers only: an HTTP store does not take other clients' batches."""
        raise StoreError("an http:// store cannot serve clients: point logwright server at the store itself")

    def last_ingested(self, client_id: str) -> int:
        """Servers only (always 0 here)."""
        return 0

    # -- synchronous calls -------------------------------------------------------------

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        body = wire.dumps({"args": wire.encode(list(args)), "kwargs": wire.encode(kwargs)})
        deadline = time.monotonic() + config.number(RETRY_ENV, 30.0)
        delay = 0.1
        while True:
            try:
                status, data = self.transport.request("POST", f"{wire.API}/store/{method}", body,
                                                      {"Content-Type": "application/json"})
                break
            except ServerUnreachable as exc:
                if time.monotonic() + delay > deadline:
                    raise StoreError(f"cannot reach the tracking server: {exc}") from exc
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
        if status == 200:
            return wire.decode(wire.loads(data)["result"])
        raise _error(status, data, self.location)

    def get_run(self, run_id: str) -> Any:
        """The run, its artifact URI pointing through the server."""
        return self._proxied(self._call("get_run", run_id))

    def search_runs(self, *args: Any, **kwargs: Any) -> list[Any]:
        """Runs matching the filter, their artifact URIs pointing through the server."""
        return [self._proxied(run) for run in self._call("search_runs", *args, **kwargs)]

    def artifact_dir(self, experiment_id: str, run_id: str) -> str:
        """The run's artifacts, through the server: ``<url>/api/v1/artifacts/<run_id>``."""
        return f"{self.artifact_root}/{run_id}"

    def experiment_location(self, experiment_id: str) -> str:
        """Where the experiment's runs keep artifacts, through the server."""
        return self.artifact_root

    def _proxied(self, run: Any) -> Any:
        info = dataclasses.replace(run.info, artifact_uri=self.artifact_dir(run.info.experiment_id, run.info.run_id))
        return dataclasses.replace(run, info=info)

    def close(self) -> None:
        """Flush (bounded) what is queued; runs of this process get no more heartbeats from it."""
        self._owned.clear()
        self.writer.close()

    # -- tokens live in the server's own store -------------------------------------------

    def create_token(self, name: str, read_only: bool = False) -> Any:
        """Not over HTTP: tokens are made on the server's machine (``logwright server token create``)."""
        raise StoreError(_TOKENS_HERE)

    def list_tokens(self) -> list[Any]:
        """Not over HTTP (see :meth:`create_token`)."""
        raise StoreError(_TOKENS_HERE)

    def revoke_token(self, name_or_id: str) -> Any:
        """Not over HTTP (see :meth:`create_token`)."""
        raise StoreError(_TOKENS_HERE)

    def check_token(self, secret: str) -> Any:
        """Not over HTTP (see :meth:`create_token`)."""
        raise StoreError(_TOKENS_HERE)


def _remote(name: str) -> Any:
    def method(self: HttpStore, *args: Any, **kwargs: Any) -> Any:
        return self._call(name, *args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"``{name}`` of the Store protocol, run by the tracking server."
    return method


for _name in sorted(wire.calls()):
    if not hasattr(HttpStore, _name):
        setattr(HttpStore, _name, _remote(_name))
    # the protocol's own signature, so introspection (and the protocol test) sees the real arguments
    getattr(HttpStore, _name).__signature__ = inspect.signature(getattr(Store, _name))


def _message(data: bytes) -> str:
    try:
        return str(wire.loads(data).get("error", ""))[:500]
    except (ValueError, AttributeError):
        return data[:200].decode("utf-8", "replace")


def _error(status: int, data: bytes, location: str) -> BaseException:
    """The exception the server's store raised, rebuilt on this side."""
    try:
        payload = wire.loads(data)
    except ValueError:
        payload = {}
    message = str(payload.get("error") or f"tracking server {location} answered {status}")
    if status in (401, 403):
        return StoreError(f"tracking server {location}: {message}")
    cls = _EXCEPTIONS.get(str(payload.get("type")), StoreError)
    exc = cls.__new__(cls)
    Exception.__init__(exc, message)
    for key, value in (payload.get("attrs") or {}).items():
        if key in _ATTRS:
            setattr(exc, key, value)
    return exc
