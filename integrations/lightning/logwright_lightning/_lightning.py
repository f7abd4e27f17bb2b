"""``LogwrightLogger`` and ``LogwrightCallback`` for the ``lightning`` namespace (``lightning.pytorch``).

Import them from the package: ``from logwright_lightning import LogwrightLogger, LogwrightCallback``.
The ``pytorch_lightning`` twins live in :mod:`logwright_lightning.pytorch_lightning`.
"""

from __future__ import annotations

import logging

from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import Logger

from logwright_lightning._callback import CallbackMixin
from logwright_lightning._run_logger import LoggerMixin

_logger = logging.getLogger(__name__)

__all__ = ["LogwrightCallback", "LogwrightLogger"]


class LogwrightLogger(LoggerMixin, Logger):
    """A Lightning Logger writing into a logwright run; use it where you would use MLFlowLogger.

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


class LogwrightCallback(CallbackMixin, Callback):
    """A Lightning Callback logging what a Logger cannot see into the LogwrightLogger's run.

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

    Without a LogwrightLogger in the Trainer, the callback adds one at setup.
    """

    _ns = "lightning.pytorch"
    _logger_class = LogwrightLogger
