"""The safety layer every patch and callback goes through.

- :func:`guarded_wrapper`: the user's function runs exactly once; its result and
  exceptions pass through untouched; an error in logwright's code is warned about
  once per (integration, call site) and swallowed (re-raised with LOGWRIGHT_STRICT=1).
- :func:`guard`: the same for callback methods (decorator).
- :func:`logging_call`: the re-entrancy guard; only the outermost patched call logs.
- :func:`managed_run`: a run autolog starts ends with the call (FAILED if it raised).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from logwright import config as _config
from logwright.entities import RunStatus

_logger = logging.getLogger(__name__)

_inside: contextvars.ContextVar[str | None] = contextvars.ContextVar("logwright_inside", default=None)
_warned: set[tuple[str, str]] = set()
errors: Counter[str] = Counter()


class OriginalFailed(BaseException):  # noqa: N818 - not an error of its own
    """Carries the user's exception through an integration's wrapper untouched.

    A BaseException so that an integration's ``except Exception`` never swallows it.
    """

    def __init__(self, error: BaseException) -> None:
        self.error = error


def report(integration: str, exc: BaseException) -> None:
    """Warn once per (integration, call site) about a logwright error; re-raise in strict mode."""
    errors[integration] += 1
    if _config.strict():
        raise exc
    frames = traceback.extract_tb(exc.__traceback__)
    site = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else repr(type(exc))
    if (integration, site) not in _warned:
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


def guarded_wrapper(integration: str, wrapper: Callable[..., Any], is_enabled: Callable[[], bool]) -> Callable:
    """Wrap an integration's wrapt wrapper with the safety layer and the re-entrancy guard."""

    def _safe(wrapped: Callable, instance: Any, args: tuple, kwargs: dict) -> Any:
        if _inside.get() is not None or not is_enabled():
            return wrapped(*args, **kwargs)
        calls: list[Any] = []

        def call_original(*a: Any, **kw: Any) -> Any:
            if calls:  # the integration asked twice: never run the user's code twice
                return calls[0]
            try:
                result = wrapped(*a, **kw)
            except BaseException as exc:  # noqa: BLE001 - carried out, re-raised unchanged
                calls.append(None)
                raise OriginalFailed(exc) from None
            calls.append(result)
            return result

        token = _inside.set(integration)
        user_error: BaseException | None = None
        try:
            return wrapper(call_original, instance, args, kwargs)
        except OriginalFailed as failed:
            user_error = failed.error
        except Exception as exc:  # noqa: BLE001 - our bug: the user's call still succeeds
            _inside.reset(token)
            token = None
            report(integration, exc)
            if calls:
                return calls[0]
            return wrapped(*args, **kwargs)
        finally:
            if token is not None:
                _inside.reset(token)
        # Raised outside the except block so the user's exception keeps its own context.
        raise user_error

    return _safe


def guard(integration: str) -> Callable[[Callable], Callable]:
    """Decorator for callback methods: errors are reported, never raised into the framework."""

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


@contextlib.contextmanager
def managed_run(integration: str, cfg: Any, run_name: str | None = None,
                tags: dict[str, Any] | None = None) -> Iterator[Any]:
    """Yield the run to log into: the user's active run, or one this call starts and ends.

    A run started here ends FINISHED, FAILED (with ``logwright.error``) if the body raised,
    KILLED on KeyboardInterrupt. With ``exclusive=True`` a user's run is not logged into:
    a nested run is started under it instead.
    """
    from logwright import fluent

    active = fluent.active_run()
    all_tags = {"logwright.autolog": integration, **(cfg.get("extra_tags") or {}), **(tags or {})}
    if active is not None and not cfg.get("exclusive"):
        yield active
        return
    run = fluent.start_run(run_name=run_name, tags=all_tags, nested=active is not None)
    run.owned_by_autolog = True
    try:
        yield run
    except BaseException as exc:
        if isinstance(exc, Exception) and not isinstance(exc, OriginalFailed):
            fluent._end(run, RunStatus.FINISHED)  # our own bug: the user's call did not fail
            raise
        error = exc.error if isinstance(exc, OriginalFailed) else exc
        killed = isinstance(error, KeyboardInterrupt)
        run.client.set_tags(run.info.run_id, {"logwright.error": f"{type(error).__name__}: {error}"[:8000]})
        fluent._end(run, RunStatus.KILLED if killed else RunStatus.FAILED)
        raise
    fluent._end(run, RunStatus.FINISHED)
