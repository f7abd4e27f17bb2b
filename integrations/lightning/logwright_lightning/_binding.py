"""Which run a Lightning logger writes to, by explicit id; safe to pickle into workers.

A :class:`RunBinding` holds the tracking URI, the experiment and the run id, never
an open client, so a ``ddp_spawn`` worker that unpickles it opens its own store
connection and writes into the same run. It imports no framework.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from logwright import fluent
from logwright.autolog import log_params
from logwright.client import Client
from logwright.entities import RunStatus

_logger = logging.getLogger(__name__)

_STATUS = {"success": RunStatus.FINISHED, "finished": RunStatus.FINISHED, "failed": RunStatus.FAILED}


class RunBinding:
    """The run one Lightning logger logs into (created on first use when not given).

    Args:
        tracking_uri: the store; default: the tracking URI in use when the binding is made.
        experiment_name: experiment of a run created here (default: the current one).
        run_name: name of a run created here.
        tags: tags of a run created here.
        run_id: an existing run to log into.
    """

    def __init__(self, tracking_uri: str | None = None, experiment_name: str | None = None,
                 run_name: str | None = None, tags: dict[str, Any] | None = None,
                 run_id: str | None = None) -> None:
        self.tracking_uri = tracking_uri if tracking_uri is not None else fluent.get_tracking_uri()
        self.experiment_name = experiment_name
        self.experiment_id: str | None = getattr(fluent, "_experiment_id", None)
        self.run_name = run_name
        self.tags = dict(tags or {})
        self.run_id = run_id
        self.owned = False  # True when this binding created the run (and so ends it)
        self.interrupted = False
        self._client: Client | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_client"] = None  # a store connection never crosses a process boundary
        return state

    @property
    def client(self) -> Client:
        """The client for this binding's store (opened on first use in each process)."""
        if self._client is None:
            self._client = Client(self.tracking_uri)
        return self._client

    def bind(self, run_id: str, tracking_uri: str | None) -> None:
        """Log into an existing run (autolog's run), owned by someone else."""
        self.run_id, self.owned = run_id, False
        if tracking_uri is not None:
            self.tracking_uri, self._client = tracking_uri, None

    def ensure(self) -> str:
        """The run id; the first call creates the run (or joins the active one) if none was given."""
        if self.run_id is not None:
            return self.run_id
        active = fluent.active_run()
        if active is not None and active.client.store is self.client.store:
            self.run_id = active.info.run_id
            return self.run_id
        client = self.client
        if self.experiment_name:
            exp = client.create_experiment(self.experiment_name)
        else:
            exp = self.experiment_id or client.create_experiment("Default")
        tags = {"logwright.autolog": "lightning", **self.tags}
        self.run_id = client.create_run(exp, tags=tags, run_name=self.run_name).info.run_id
        self.owned = True
        return self.run_id

    def log_params(self, params: dict[str, Any]) -> None:
        """Log params; a key already logged with another value is skipped with a warning."""
        if not params:
            return
        skipped = log_params(self.client, self.ensure(), params)  # resumed runs: keep the first values
        if skipped:
            _logger.warning("logwright: params %s were logged before with other values; kept those", skipped)

    def log_metrics(self, metrics: dict[str, Any], step: int | None) -> None:
        """Log metric values at ``step``."""
        if metrics:
            self.client.log_metrics(self.ensure(), metrics, step)

    def finish(self, status: str) -> None:
        """Make what was logged durable; end the run if this binding created it.

        ``status`` is Lightning's (``success``, ``failed``, ``finished``); a failure while
        handling KeyboardInterrupt (Lightning calls ``finalize("failed")`` inside its
        handler) ends the run KILLED.
        """
        if self.run_id is None:
            return
        if self.owned:
            end = _STATUS.get(status, RunStatus.FINISHED)
            if end == RunStatus.FAILED and (self.interrupted or isinstance(sys.exc_info()[1], KeyboardInterrupt)):
                end = RunStatus.KILLED
            self.client.set_terminated(self.run_id, end)
        else:
            self.client.flush()


class BoundClient:
    """A :class:`~logwright.client.Client` with the run id filled in (``logger.experiment``).

    ``logger.experiment.log_metric("x", 1.0)`` calls ``Client.log_metric(run_id, "x", 1.0)``;
    ``client`` and ``run_id`` give the unbound client and the id.
    """

    def __init__(self, client: Client, run_id: str) -> None:
        self.client = client
        self.run_id = run_id

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)
        if not callable(method):
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            return method(self.run_id, *args, **kwargs)

        return call


class NoExperiment:
    """What ``logger.experiment`` is on ranks other than zero: every call does nothing."""

    def __getattr__(self, name: str) -> Any:
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> NoExperiment:
        return self
