"""The body of ``LogwrightCallback``, shared by the ``lightning`` and ``pytorch_lightning`` classes.

It logs what a Logger cannot see (trainer settings, optimizers, schedulers, model
summary, checkpoints, early stopping, the learning rate, the final model) into the
run of the first ``LogwrightLogger`` in ``trainer.loggers``, adding one if there is
none. Every hook is guarded; only global rank zero writes.
"""

from __future__ import annotations

import importlib
import logging
import os
from typing import Any

from logwright import distributed
from logwright.autolog import guard, logging_call
from logwright_lightning import _describe
from logwright_lightning._run_logger import LoggerMixin

_logger = logging.getLogger(__name__)

CHECKPOINT_KEY = "logwright"  # where on_save_checkpoint stores the run id
_CHECKPOINT_MODES = ("best", "all", False)


class CallbackMixin:
    """Lightning ``Callback`` hooks that log into a logwright run (see ``LogwrightCallback``)."""

    _ns = "lightning.pytorch"  # the namespace the concrete class belongs to
    _logger_class: Any = None  # that namespace's LogwrightLogger

    def __init__(self, log_models: bool = True, log_checkpoints: str | bool = "best",
                 log_model_summary: bool = True, log_every_n_steps: int | None = None,
                 log_system_metrics: bool | None = None) -> None:
        super().__init__()
        if log_checkpoints not in _CHECKPOINT_MODES:
            raise ValueError(f"log_checkpoints must be one of {_CHECKPOINT_MODES}, not {log_checkpoints!r}")
        self.log_models = log_models
        self.log_checkpoints = log_checkpoints
        self.log_model_summary = log_model_summary
        self.log_every_n_steps = log_every_n_steps
        self.log_system_metrics = log_system_metrics
        self.interrupted = False
        self._rank_part: Any = None  # this rank's system metrics sampler, or (rank > 0) its Follower
        self._lr: list[tuple[str, Any, int]] = []
        self._lr_step = -1
        self._quiet: Any = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(_lr=[], _quiet=None, _rank_part=None)  # optimizers, context tokens, threads stay here
        return state

    # -- helpers ---------------------------------------------------------------------

    def _run_logger(self, trainer: Any) -> LoggerMixin | None:
        return next((lg for lg in trainer.loggers if isinstance(lg, LoggerMixin)), None)

    def _set_epoch_level(self, trainer: Any, value: bool) -> None:
        for lg in trainer.loggers:
            if isinstance(lg, LoggerMixin):
                lg._epoch_level = value

    def _enter_quiet(self) -> None:
        """Mark the fit as a logging call, so the torch integration's optimizer hooks stay quiet."""
        if self._quiet is None:
            self._quiet = logging_call("lightning")
            self._quiet.__enter__()

    def _exit_quiet(self) -> None:
        quiet, self._quiet = self._quiet, None
        if quiet is not None:
            quiet.__exit__(None, None, None)

    # -- setup -----------------------------------------------------------------------

    @guard("lightning")
    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        """Add a LogwrightLogger when the Trainer has none (this callback logs into its run)."""
        if self._run_logger(trainer) is None and self._logger_class is not None:
            trainer.loggers = [*trainer.loggers, self._logger_class()]
        self.interrupted = False
        if trainer.world_size > 1:
            self._join_job(trainer)

    def _join_job(self, trainer: Any) -> None:
        """Multi-process fit: rank zero publishes the run; every rank samples its system metrics."""
        target = self._run_logger(trainer)
        if target is None or self._rank_part is not None:
            return
        binding = target._binding
        if trainer.is_global_zero:
            run_id = binding.ensure()
            distributed.publish(run_id)
            binding.client.set_tags(run_id, {"logwright.distributed.world_size": str(trainer.world_size)})
            if distributed.system_metrics_on(self.log_system_metrics):
                from logwright.context.rank_system import RankSystemMetrics

                self._rank_part = RankSystemMetrics(binding.client, run_id, 0, trainer.local_rank).start()
        else:
            self._rank_part = distributed.follow(trainer.global_rank, binding.run_id, binding.tracking_uri,
                                                 self.log_system_metrics, trainer.local_rank)

    def _leave_job(self, trainer: Any, error: BaseException | None = None) -> None:
        """Stop this rank's sampling; a non-zero rank's failure ends the job's run FAILED."""
        part, self._rank_part = self._rank_part, None
        if isinstance(part, distributed.Follower):
            if error is not None and not isinstance(error, KeyboardInterrupt):
                part.fail(error)
            part.close()
        elif part is not None:
            part.stop()
            part.client.flush()

    @guard("lightning")
    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        """Log trainer settings, optimizers, LR schedulers, callbacks' settings and the model summary."""
        self._enter_quiet()
        self._lr = _describe.lr_keys(trainer)
        self._lr_step = -1
        target = self._run_logger(trainer)
        if not trainer.is_global_zero or target is None:
            return
        binding = target._binding
        params = {
            **_describe.trainer_params(trainer), **_describe.optimizer_params(trainer),
            **_describe.scheduler_params(trainer), **_describe.early_stopping_params(trainer),
            **_describe.checkpoint_params(trainer),
        }
        if self.log_model_summary:
            params.update(self._log_summary(binding, pl_module))
        binding.log_params(params)

    def _log_summary(self, binding: Any, pl_module: Any) -> dict[str, Any]:
        summary_mod = importlib.import_module(f"{self._ns}.utilities.model_summary")
        summary = summary_mod.ModelSummary(pl_module, max_depth=1)
        binding.client.log_text(binding.ensure(), str(summary), "model_summary.txt")
        return {"model/total_params": summary.total_parameters,
                "model/trainable_params": summary.trainable_parameters}

    # -- per step and per epoch -----------------------------------------------------

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        """Log each optimizer's learning rate every ``log_every_n_steps`` optimizer steps."""
        step = trainer.global_step
        every = self.log_every_n_steps or trainer.log_every_n_steps
        if step == self._lr_step or not every or step % every or not self._lr:
            return
        self._lr_step = step
        self._log_lr(trainer, step)

    @guard("lightning")
    def _log_lr(self, trainer: Any, step: int) -> None:
        target = self._run_logger(trainer)
        if trainer.is_global_zero and target is not None:
            rates = {key: opt.param_groups[i]["lr"] for key, opt, i in self._lr}
            target._binding.log_metrics(rates, step)

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        """Values Lightning logs from here on are step-level."""
        self._set_epoch_level(trainer, False)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        """Values Lightning logs next are the epoch's (logged at the epoch index)."""
        self._set_epoch_level(trainer, True)

    def on_validation_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        """Validation's epoch-end values are logged at the epoch index."""
        self._set_epoch_level(trainer, True)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        """Back to step-level values after validation."""
        self._set_epoch_level(trainer, False)

    def on_test_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        """``trainer.test`` results are logged at the epoch index."""
        self._set_epoch_level(trainer, True)

    def on_test_end(self, trainer: Any, pl_module: Any) -> None:
        """Back to step-level values after testing."""
        self._set_epoch_level(trainer, False)

    # -- checkpoints, end of fit, failures -----------------------------------------

    @guard("lightning")
    def on_save_checkpoint(self, trainer: Any, pl_module: Any, checkpoint: dict[str, Any]) -> None:
        """Store the run id in the checkpoint, so resuming from it continues the same run."""
        target = self._run_logger(trainer)
        if target is not None and target._binding.run_id is not None:
            checkpoint[CHECKPOINT_KEY] = {"run_id": target._binding.run_id}

    @guard("lightning")
    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        """Log early stopping results, checkpoints (paths, scores, files) and the final model."""
        target = self._run_logger(trainer)
        if not trainer.is_global_zero or target is None:
            return
        binding = target._binding
        run_id = binding.ensure()
        binding.log_metrics(_describe.early_stopping_results(trainer), trainer.current_epoch)
        self._log_checkpoints(binding, trainer)
        if self.log_models:
            example = getattr(pl_module, "example_input_array", None)
            example = example if hasattr(example, "shape") else None
            fluent_log_model(pl_module, example, run_id, binding.client)
        binding.client.flush()

    def _log_checkpoints(self, binding: Any, trainer: Any) -> None:
        results = _describe.checkpoint_results(trainer)
        if not results:
            return
        run_id, client = binding.ensure(), binding.client
        client.log_dict(run_id, results, "checkpoints/checkpoints.json")
        best = results[0]
        tags = {f"checkpoint.{k}": best[k] for k in ("best_model_path", "last_model_path") if best[k]}
        client.set_tags(run_id, tags)
        if best["best_model_score"] is not None:
            client.log_metrics(run_id, {"checkpoint/best_model_score": best["best_model_score"]},
                               trainer.current_epoch)
        files: set[str] = set(getattr(self._run_logger(trainer), "saved_checkpoints", None) or ())
        files = files if self.log_checkpoints == "all" else set()
        for res in results:
            if self.log_checkpoints == "best" and res["best_model_path"]:
                files.add(res["best_model_path"])
            elif self.log_checkpoints == "all":
                files.update(p for p in (*res["kept"], res["last_model_path"]) if p)
        for path in sorted(files):
            if os.path.isfile(path):
                client.log_artifact(run_id, path, "checkpoints")

    @guard("lightning")
    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        """Note a Ctrl-C (Lightning turns it into SystemExit) and make what was logged durable."""
        self._exit_quiet()
        self.interrupted = isinstance(exception, KeyboardInterrupt)
        self._leave_job(trainer, exception)
        target = self._run_logger(trainer)
        if target is not None:
            target._binding.interrupted = self.interrupted
            if trainer.is_global_zero and target._binding.run_id is not None:
                _note_spawned_failure(trainer, target._binding, exception)
                target._binding.client.flush()

    @guard("lightning")
    def teardown(self, trainer: Any, pl_module: Any, stage: str) -> None:
        """Leave the logging-call mark set in ``on_fit_start``; stop this rank's system metrics."""
        self._exit_quiet()
        self._leave_job(trainer)


def _note_spawned_failure(trainer: Any, binding: Any, exception: BaseException) -> None:
    """``ddp_spawn``: tag the run with the rank whose worker raised (Lightning calls no hook there).

    torch's ``ProcessRaisedException`` carries the worker's index and traceback; its last
    line is the error.
    """
    index = getattr(exception, "error_index", None)
    if trainer.world_size <= 1 or not isinstance(index, int):
        return
    lines = [line for line in str(getattr(exception, "msg", exception)).splitlines() if line.strip()]
    rank = trainer.node_rank * trainer.num_devices + index
    error = lines[-1].strip() if lines else type(exception).__name__
    binding.client.set_tags(binding.run_id, {f"logwright.rank_{rank}.error": error[:8000]})


def fluent_log_model(model: Any, example: Any, run_id: str, client: Any = None) -> None:
    """``logwright.log_model(model, "model", input_example=...)`` into ``run_id`` through ``client``."""
    from logwright.models import log_model

    log_model(model, "model", input_example=example, run_id=run_id, client=client)


CALLBACK_DOC = """A Lightning Callback logging what a Logger cannot see into the LogwrightLogger's run.

    At fit start: trainer settings (``trainer/*``), every optimizer and LR scheduler
    (``optimizer/<Class>/*``, ``lr_scheduler/<name>/*``; several are named ``Adam``,
    ``Adam-1``, ...), EarlyStopping and ModelCheckpoint settings, and the model summary
    (``model_summary.txt`` artifact, ``model/total_params`` and ``model/trainable_params``).
    Every ``log_every_n_steps`` optimizer steps: each optimizer's learning rate
    (``lr-<Class>``, ``lr-<Class>/pg<i>`` per param group). At fit end: EarlyStopping's
    stopped_epoch/best_score/wait_count, ModelCheckpoint's best and last paths (tags) and
    score (metric), ``checkpoints/checkpoints.json``, the checkpoint files, and the final
    model (``pytorch`` flavour, artifact ``model``). Saved checkpoints carry the run id so
    that ``fit(ckpt_path=...)`` under autolog continues the same run.

    Args:
        log_models: log the trained module at the end of fit.
        log_checkpoints: upload ``"best"`` (each ModelCheckpoint's best file), ``"all"`` (every
            file the ModelCheckpoints keep at the end of fit) or no checkpoint files (False).
        log_model_summary: log the layer table and the parameter counts.
        log_every_n_steps: learning-rate cadence (default: the Trainer's ``log_every_n_steps``).
        log_system_metrics: in a multi-process fit, each rank samples its system metrics into
            the run as ``system/rank_<r>/...`` (None: ``LOGWRIGHT_LOG_SYSTEM_METRICS``).

    Without a LogwrightLogger in the Trainer, the callback adds one at setup.
    """
