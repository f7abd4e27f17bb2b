"""The safety layer every patch and callback goes through.

- :func:`guarded_wrapper`: the user's function runs exactly once; its result and
  exceptions pass through untouched; an error in logwright's code is warned about
  once per (integration, call site) and swallowed (re-raised with LOGWRIGHT_STRICT=1).
- :func:`guard`: the same for callback methods (decorator).
- :func:`logging_call`: the re-entrancy guard; only the outermost patched call logs
  (:func:`outside_logging_call` lets user code called back from inside it log again).
- :func:`managed_run`: a run autolog starts ends with the call (FAILED if it raised).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import warnings

from logwright import config as _config
from logwright.autolog.registry import registry
from logwright.lazylog import get_logger

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable, Iterator
    from typing import Any

_logger = get_logger(__name__)

_inside: contextvars.ContextVar[str | None] = contextvars.ContextVar("logwright_inside", default=None)
_warned: set[tuple[str, str]] = set()
errors: dict[str, int] = {}
silenced: set[str] = registry.silenced  # integrations configured with silent=True


class OriginalFailed(BaseException):  # noqa: N818 - not an error of its own
    """Carries the user's exception through an integration's wrapper untouched.

    A BaseException so that an integration's ``except Exception`` never swallows it.
    """

    def __init__(self, error: BaseException) -> None:
        super().__init__(error)
        self.error = error


def _site(exc: BaseException) -> str:
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return type(exc).__name__
    return f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}"


def report(integration: str, exc: BaseException) -> None:
    """Count a logwright error and warn once per (integration, call site); re-raise in strict mode.

    Args:
        integration: the integration whose code failed.
        exc: the exception our code raised.

    Raises:
        The same exception when ``LOGWRIGHT_STRICT=1``.
    """
    errors[integration] = errors.get(integration, 0) + 1
    if _config.strict():
        raise exc
    site = _site(exc)
    if integration in silenced:
        _logger.debug("logwright %s autolog error: %r at %s", integration, exc, site)
        return
    if (integration, site) in _warned:
        return
    _warned.add((integration, site))
    warnings.warn(
        f"logwright {integration} autolog hit an internal error and skipped some logging "
        f"(your code was not affected): {type(exc).__name__}: {exc} [{site}]",
        RuntimeWarning,
        stacklevel=3,
    )


def in_logging_call() -> bool:
    """True while an autologged call is running in this thread/task."""
    return _inside.get() is not None


@contextlib.contextmanager
def logging_call(integration: str) -> Iterator[None]:
    """Mark the outermost autologged call; nested patched calls take the plain path."""
    token = _inside.set(integration)
    try:
        yield
    finally:
        _inside.reset(token)


@contextlib.contextmanager
def outside_logging_call() -> Iterator[None]:
    """Run user code that an autologged call calls back as top-level code (undoes the marker).

    Added for the Optuna integration (issue 21 item 7): inside a study's ``optimize``
    (an autologged call) each trial runs the user's objective, whose own autologged calls
    (a scikit-learn fit) must log, into that trial's run. The marker comes back on exit.
    """
    token = _inside.set(None)
    try:
        yield
    finally:
        _inside.reset(token)


class _Call:
    """The user's function behind an integration's wrapper: runs it at most once."""

    __slots__ = ("wrapped", "done", "result", "error")

    def __init__(self, wrapped: Callable[..., Any]) -> None:
        self.wrapped = wrapped
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self.done:  # a second call gets the first outcome: the user's code never runs twice
            self.done = True
            try:
                self.result = self.wrapped(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - carried out, re-raised unchanged
                self.error = exc
        if self.error is not None:
            raise OriginalFailed(self.error) from None
        return self.result


def guarded_wrapper(integration: str, wrapper: Callable[..., Any], switch: list[bool]) -> Callable:
    """Wrap an integration's wrapt wrapper with the safety layer and the re-entrancy guard.

    Args:
        integration: the integration's name (for error reports and the re-entrancy marker).
        wrapper: the integration's ``(wrapped, instance, args, kwargs)`` wrapper.
        switch: ``[True]`` while enabled; ``switch[0] = False`` makes the proxy a pass-through.
    """

    def _safe(wrapped: Callable, instance: Any, args: tuple, kwargs: dict) -> Any:
        if not switch[0] or _inside.get() is not None:
            return wrapped(*args, **kwargs)
        return _run_guarded(integration, wrapper, wrapped, instance, args, kwargs)

    return _safe


def _run_guarded(integration: str, wrapper: Callable, wrapped: Callable, instance: Any,
                 args: tuple, kwargs: dict) -> Any:
    call = _Call(wrapped)
    token = _inside.set(integration)
    try:
        try:
            result = wrapper(call, instance, args, kwargs)
        except OriginalFailed:
            pass  # the user's exception: raised below, outside this handler, with its own context
        except Exception as exc:  # noqa: BLE001 - our bug: the user's call still succeeds
            report(integration, exc)
        else:
            if call.done:
                return result if call.error is None else _reraise(call.error)
            report(integration, RuntimeError(f"{integration} wrapper returned without calling the original"))
        if not call.done:  # our code failed before the user's function ran: run it now
            call.done = True
            return wrapped(*args, **kwargs)
    finally:
        _inside.reset(token)
    if call.error is not None:
        raise call.error
    return call.result


def _reraise(error: BaseException) -> Any:
    raise error


def guard(integration: str) -> Callable[[Callable], Callable]:
    """Decorator for callback methods: errors are reported, never raised into the framework.

    The method returns None when it failed (strict mode re-raises instead).
    """

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def safe(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - never break the user's training
                report(integration, exc)
                return None

        return safe

    return decorate


def _run_options(cfg: Any) -> dict[str, Any]:
    return {"log_system_metrics": True} if cfg.get("log_system_metrics") else {}


@contextlib.contextmanager
def managed_run(integration: str, cfg: Any, run_name: str | None = None,
                tags: dict[str, Any] | None = None, run_id: str | None = None) -> Iterator[Any]:
    """Yield the run to log into: the user's active run, or one this call starts and ends.

    A run started here gets the ``logwright.autolog`` tag, ``extra_tags`` and ``tags``, and
    ends FINISHED; FAILED if the user's call raised (``logwright.error`` tag: the
    exception's type and message); KILLED on KeyboardInterrupt, or when the integration set
    ``run.interrupted = True`` (Lightning turns Ctrl-C into SystemExit). With
    ``exclusive=True`` a user's run is not logged into: a nested run is started under it instead.

    Args:
        integration: the integration's name.
        cfg: its :class:`AutologConfig` (``exclusive``, ``extra_tags``, ``log_system_metrics``).
        run_name: name for a run started here (default: a generated one).
        tags: tags for a run started here.
        run_id: resume this run (e.g. the one a checkpoint was logged to) instead of starting one.
    """
    from logwright import fluent
    from logwright.entities import RunStatus

    active = fluent.active_run()
    if active is not None and not cfg.get("exclusive"):
        yield active
        return
    all_tags = {"logwright.autolog": integration, **(cfg.get("extra_tags") or {}), **(tags or {})}
    run = fluent.start_run(run_id=run_id, run_name=run_name, tags=all_tags, nested=active is not None, **_run_options(cfg))
    run.owned_by_autolog = True
    try:
        yield run
    except OriginalFailed as failed:
        error = failed.error
        killed = isinstance(error, KeyboardInterrupt) or getattr(run, "interrupted", False)
        status = RunStatus.KILLED if killed else RunStatus.FAILED
        try:
            run.client.set_tags(run.info.run_id, {"logwright.error": f"{type(error).__name__}: {error}"[:8000]})
        finally:
            fluent._end(run, status)
        raise
    except BaseException as exc:
        # Our own bug (the user's call did not fail), or an interrupt outside the user's call.
        status = RunStatus.KILLED if isinstance(exc, KeyboardInterrupt) else RunStatus.FINISHED
        fluent._end(run, status)
        raise
    # A framework that swallows Ctrl-C and returns (Lightning < 2.4) marks the run interrupted.
    fluent._end(run, RunStatus.KILLED if getattr(run, "interrupted", False) else RunStatus.FINISHED)
