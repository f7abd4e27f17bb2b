"""``LogwrightLogger`` and ``LogwrightCallback`` for the ``lightning`` namespace (``lightning.pytorch``).

Import them from the package: ``from logwright_lightning import LogwrightLogger, LogwrightCallback``.
The ``pytorch_lightning`` twins live in :mod:`logwright_lightning.pytorch_lightning`.
"""

from __future__ import annotations

import logging

from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import Logger

from logwright_lightning._callback import CALLBACK_DOC, CallbackMixin
from logwright_lightning._run_logger import LOGGER_DOC, LoggerMixin

_logger = logging.getLogger(__name__)

__all__ = ["LogwrightCallback", "LogwrightLogger"]


class LogwrightLogger(LoggerMixin, Logger):
    __doc__ = LOGGER_DOC


class LogwrightCallback(CallbackMixin, Callback):
    __doc__ = CALLBACK_DOC

    _ns = "lightning.pytorch"
    _logger_class = LogwrightLogger
