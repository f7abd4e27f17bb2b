"""Where the current span lives, and how tracing is configured.

The current span is a context variable, so each thread and asyncio task sees its
own: ``asyncio.gather`` gives every task a copy of the caller's context, and a
thread started without :func:`copy_context` starts empty (its spans begin a new
trace). Configuration (enabled, sample ratio, display, OTLP endpoint) is read
from ``LOGWRIGHT_*`` variables on first use and can be changed by
:func:`logwright.tracing.configure`.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from logwright import config

if TYPE_CHECKING:
    from logwright.tracing.spans import LiveSpan

_logger = logging.getLogger(__name__)

_T = TypeVar("_T")

_current_span: contextvars.ContextVar[LiveSpan | None] = contextvars.ContextVar(
    "logwright_current_span", default=None
)
_warned: set[str] = set()
_warn_lock = threading.Lock()


class _Settings:
    """The process's tracing settings; one instance, ``SETTINGS``."""

    __slots__ = ("enabled", "sample_ratio", "display", "otlp_endpoint", "field_limit", "loaded")

    def __init__(self) -> None:
        self.loaded = False
        self.enabled = True
        self.sample_ratio = 1.0
        self.display: bool | None = None
        self.otlp_endpoint: str | None = None
        self.field_limit = 100_000

    def load(self) -> None:
        """Read the environment once (called on the first root span)."""
        self.loaded = True
        self.enabled = not config.flag(config.TRACING_DISABLED)
        self.sample_ratio = min(1.0, max(0.0, config.number(config.TRACE_SAMPLE_RATIO, 1.0)))
        raw_display = config.text(config.DISPLAY_TRACES)
        self.display = None if raw_display is None else config.flag(config.DISPLAY_TRACES)
        self.otlp_endpoint = config.text(config.OTLP_ENDPOINT)
        self.field_limit = int(config.number(config.TRACE_FIELD_LIMIT, 100_000))


SETTINGS = _Settings()


def get_current_span() -> LiveSpan | None:
    """The span active in this thread or asyncio task, or None outside any span.

    Returns:
        The innermost :class:`~logwright.tracing.spans.LiveSpan` made current by
        ``@trace``, ``start_span`` or ``use_span``; None when there is none.
    """
    return _current_span.get()


@contextmanager
def use_span(span: LiveSpan) -> Iterator[LiveSpan]:
    """Make ``span`` the current span inside the block, without ending it.

    Callback-style integrations start spans with
    :func:`~logwright.tracing.start_detached_span`; wrapping the framework's call in
    ``use_span`` makes ``@trace`` code inside it nest under that span.

    Args:
        span: a live span (detached or not).

    Yields:
        The same span.
    """
    token = _current_span.set(span)
    try:
        yield span
    finally:
        _reset(token, None)


def set_current_span(span: LiveSpan | None) -> contextvars.Token:
    """Make ``span`` the current span of this thread or asyncio task until told otherwise.

    For callback integrations whose start and end arrive in separate calls (so
    :func:`use_span`'s block does not fit): call it in the start callback, and
    :func:`reset_current_span` with the token in the end callback.

    Args:
        span: a live span (detached or not), or None for "no current span".

    Returns:
        The token that :func:`reset_current_span` takes to restore what was current.
    """
    return _current_span.set(span)


def reset_current_span(token: contextvars.Token, fallback: LiveSpan | None = None) -> None:
    """Restore the span that was current before :func:`set_current_span` returned ``token``.

    Args:
        token: what :func:`set_current_span` returned.
        fallback: the span made current instead when the token belongs to another
            context (a callback that ends in another task or thread than it started).
    """
    try:
        _current_span.reset(token)
    except ValueError:  # entered in one context, left in another (a moved coroutine)
        _current_span.set(fallback)


_reset = reset_current_span  # the name the tracing modules use


def copy_context(fn: Callable[..., _T]) -> Callable[..., _T]:
    """Wrap ``fn`` so it runs with the caller's current span (and active run) in another thread.

    The context is captured when ``copy_context`` is called, so call it in the
    thread that owns the span: ``pool.submit(copy_context(work), x)``.

    Args:
        fn: any callable.

    Returns:
        A callable with the same signature that runs ``fn`` inside a copy of the
        captured context; spans it starts are children of the captured span.
    """
    ctx = contextvars.copy_context()

    @functools.wraps(fn)
    def run_in_context(*args: Any, **kwargs: Any) -> _T:
        return ctx.copy().run(fn, *args, **kwargs)

    return run_in_context


class ContextExecutor(ThreadPoolExecutor):
    """A ``ThreadPoolExecutor`` whose tasks run with the submitter's current span and run.

    Use it in place of ``ThreadPoolExecutor``; ``submit`` and ``map`` carry the
    context of the thread that calls them.
    """

    def submit(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> Future[_T]:
        """Schedule ``fn(*args, **kwargs)`` in the caller's context."""
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)


def report(exc: BaseException, where: str) -> None:
    """Handle an error in logwright's own tracing code: re-raise in strict mode, else warn once.

    Args:
        exc: the error caught.
        where: a short name of the call site (one warning per call site).

    Raises:
        BaseException: ``exc`` again when ``LOGWRIGHT_STRICT=1``.
    """
    if config.strict():
        raise exc
    with _warn_lock:
        if where in _warned:
            _logger.debug("logwright tracing error in %s: %r", where, exc)
            return
        _warned.add(where)
    _logger.warning("logwright tracing failed in %s (tracing continues, your code is unaffected): %r",
                    where, exc)
