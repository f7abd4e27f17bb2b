"""``LogwrightLogger`` and ``LogwrightCallback`` for the ``pytorch_lightning`` namespace.

Use them with ``import pytorch_lightning``: ``from logwright_lightning.pytorch_lightning import ...``.
The ``lightning.pytorch`` twins are ``from logwright_lightning import LogwrightLogger, LogwrightCallback``.
"""

from __future__ import annotations

import logging

from pytorch_lightning.callbacks import Callback
from pytorch_lightning.loggers import Logger

from logwright_lightning._callback import CALLBACK_DOC, CallbackMixin
from logwright_lightning._run_logger import LOGGER_DOC, LoggerMixin

_logger = logging.getLogger(__name__)

__all__ = ["LogwrightCallback", "LogwrightLogger"]


class LogwrightLogger(LoggerMixin, Logger):
    __doc__ = LOGGER_DOC


class LogwrightCallback(CallbackMixin, Callback):
    __doc__ = CALLBACK_DOC

    _ns = "pytorch_lightning"
    _logger_class = LogwrightLogger
