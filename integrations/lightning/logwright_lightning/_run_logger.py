"""The body of ``LogwrightLogger``, shared by the ``lightning`` and ``pytorch_lightning`` classes.

Imported only by the namespace modules (``_lightning``, ``pytorch_lightning``), which
combine :class:`LoggerMixin` with their namespace's ``Logger`` base class.
"""

from __future__ import annotations

import logging
from argparse import Namespace
from collections.abc import Mapping
from typing import Any

from lightning_utilities.core.rank_zero import rank_zero_only

from logwright.autolog import guard
from logwright_lightning._binding import BoundClient, NoExperiment, RunBinding

_logger = logging.getLogger(__name__)


def flatten(params: Mapping[str, Any], prefix: str = "", sep: str = "/") -> dict[str, Any]:
    """Nested dicts (and Namespaces) to one level, keys joined with ``/`` as Lightning does."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{sep}{key}" if prefix else str(key)
        if isinstance(value, Namespace):
            value = vars(value)
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, name, sep))
        else:
            out[name] = value
    return out


class LoggerMixin:
    """Lightning ``Logger`` methods writing into one logwright run (see ``LogwrightLogger``)."""

    def __init__(self, experiment_name: str | None = None, run_name: str | None = None,
                 tracking_uri: str | None = None, tags: dict[str, Any] | None = None,
                 run_id: str | None = None, log_every_n_steps: int | None = None) -> None:
        super().__init__()
        self._binding = RunBinding(tracking_uri, experiment_name, run_name, tags, run_id)
        self._every = log_every_n_steps
        self._epoch_level = False  # set by LogwrightCallback while Lightning logs epoch-end values
        self.saved_checkpoints: list[str] = []  # every file a ModelCheckpoint wrote (log_checkpoints="all")

    @property
    def name(self) -> str:
        """The experiment name (Lightning puts checkpoints under ``<root>/<name>/<version>``)."""
        return self._binding.experiment_name or "logwright"

    @property
    def version(self) -> str | None:
        """The run id (the run is created on first use on rank zero)."""
        if self._binding.run_id is None and rank_zero_only.rank == 0:
            return self._binding.ensure()
        return self._binding.run_id

    @property
    def run_id(self) -> str | None:
        """The run id, same as :attr:`version`."""
        return self.version

    @property
    def save_dir(self) -> str | None:
        """None: Lightning keeps checkpoints under the Trainer's ``default_root_dir``."""
        return None

    @property
    def experiment(self) -> Any:
        """A client bound to the run: ``logger.experiment.log_metric("x", 1.0)``; a no-op off rank zero."""
        if rank_zero_only.rank != 0:
            return NoExperiment()
        return BoundClient(self._binding.client, self._binding.ensure())

    @rank_zero_only
    @guard("lightning")
    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        """Log hyperparameters (nested dicts flattened with ``/``) as params."""
        if isinstance(params, Namespace):
            params = vars(params)
        self._binding.log_params(flatten(dict(params or {})))

    @rank_zero_only
    @guard("lightning")
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Log ``self.log`` values: step-level ones at ``step``, epoch-level ones at the epoch.

        Epoch-level values are told apart by ``LogwrightCallback`` (attached by autolog);
        without it every value is logged at the step Lightning gives, as MLFlowLogger does.
        """
        if self._epoch_level and "epoch" in metrics:
            metrics = dict(metrics)
            step = int(metrics.pop("epoch"))
        elif self._every and step is not None and step % self._every:
            return
        self._binding.log_metrics(dict(metrics), step)

    @rank_zero_only
    @guard("lightning")
    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        """Remember the file a ModelCheckpoint just wrote (uploaded at the end of fit)."""
        path = getattr(checkpoint_callback, "_last_checkpoint_saved", None)
        if path and path not in self.saved_checkpoints:
            self.saved_checkpoints.append(path)

    def save(self) -> None:
        """Nothing to do: the background writer commits at least every second."""

    @rank_zero_only
    @guard("lightning")
    def finalize(self, status: str) -> None:
        """Make everything durable; end the run if this logger created it (KILLED on Ctrl-C)."""
        self._binding.finish(status)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(run_id={self._binding.run_id!r})"


LOGGER_DOC = """A Lightning Logger writing into a logwright run; use it where you would use MLFlowLogger.

    Logs ``save_hyperparameters()`` values (and the datamodule's) as params, nested dicts
    flattened with ``/``, and every ``self.log`` value as a metric: step-level values at
    the step Lightning gives (the optimizer step), epoch-level ones at the epoch index
    when a :class:`LogwrightCallback` is attached (autolog attaches one). Only global rank
    zero writes; the logger pickles safely into ``ddp_spawn`` workers.

    Args:
        experiment_name: experiment of the run created here (default: the current one).
        run_name: name of the run created here.
        tracking_uri: the store (default: the tracking URI in use now).
        tags: tags of the run created here.
        run_id: log into this existing run instead of creating one.
        log_every_n_steps: log step-level values only at multiples of this (default: every
            value Lightning hands over, i.e. the Trainer's ``log_every_n_steps``).

    The run is the active logwright run when there is one, else a new run created on first
    use and ended by :meth:`finalize` (FINISHED, FAILED, or KILLED on Ctrl-C).
    ``logger.experiment`` is a client bound to the run; ``logger.version`` is the run id.
    """
