"""A module logger that imports :mod:`logging` on first use.

``logging`` (with ``re``, ``traceback``, ``string`` ...) costs several milliseconds to
import; the modules on ``autolog()``'s path must stay cheaper than that, and they
log only when something goes wrong.
"""

from __future__ import annotations


class LazyLogger:
    """Stands in for ``logging.getLogger(name)`` until a method is first used."""

    __slots__ = ("_name", "_logger")

    def __init__(self, name: str) -> None:
        self._name = name
        self._logger = None

    def __getattr__(self, attr: str) -> object:
        logger = self._logger
        if logger is None:
            import logging

            logger = self._logger = logging.getLogger(self._name)
        return getattr(logger, attr)


def get_logger(name: str) -> LazyLogger:
    """The logger of module ``name``; ``logging`` is imported when it first logs."""
    return LazyLogger(name)
