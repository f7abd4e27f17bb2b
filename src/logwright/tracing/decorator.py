"""``@logwright.trace``: a span around every call of a function.

Works on plain functions, methods (``self``/``cls`` are left out of the inputs),
static and class methods, async functions, generators and async generators. The
span records the call's arguments by parameter name as inputs and the return
value as outputs; a generator's span covers its whole iteration and records the
yielded items (the first 1,000) as outputs. An exception is recorded (status
ERROR, an ``exception`` event) and re-raised untouched: the same object, with its
traceback.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import Callable
from typing import Any

from logwright.tracing.context import SETTINGS, _current_span, _reset, report
from logwright.tracing.serialize import TRUNCATION_MARKER, freeze, span_name, to_jsonable
from logwright.tracing.spans import LiveSpan, start_detached_span

_logger = logging.getLogger(__name__)

_MAX_YIELDED = 1_000
_now = time.time_ns
_ATOMS = (str, int, float, bool, type(None))


class _Spec:
    """What a decorated function's spans are named and how its arguments map to inputs."""

    __slots__ = ("name", "kind", "attributes", "names", "varargs", "skip_first")

    def __init__(self, func: Callable, name: str | None, kind: str, attributes: dict | None) -> None:
        raw = name or getattr(func, "__name__", None) or "span"
        self.name = raw if type(raw) is str else span_name(raw)
        self.kind = str(kind)
        self.attributes = {str(k): v if type(v) in _ATOMS else to_jsonable(v) for k, v in attributes.items()} \
            if attributes else None
        self.names: tuple[str, ...] = ()
        self.varargs: str | None = None
        self.skip_first = False
        try:
            params = list(inspect.signature(func).parameters.values())
        except (TypeError, ValueError):
            return
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if positional and positional[0].name in ("self", "cls"):
            self.skip_first = True
            positional = positional[1:]
        self.names = tuple(p.name for p in positional)
        self.varargs = next((p.name for p in params if p.kind == p.VAR_POSITIONAL), None)

    def inputs(self, args: tuple, kwargs: dict) -> dict[str, Any]:
        """The call's arguments by parameter name."""
        if self.skip_first:
            args = args[1:]
        inputs = dict(zip(self.names, args, strict=False))
        extra = len(args) - len(self.names)
        if extra > 0:
            inputs[self.varargs or "args"] = args[len(self.names):]
        if kwargs:
            inputs.update(kwargs)
        return inputs


def trace(func: Callable | None = None, *, name: str | None = None, kind: str = "UNKNOWN",
          attributes: dict[str, Any] | None = None) -> Any:
    """Record a span for every call of the decorated function.

    Usable bare (``@trace``) or with options (``@trace(name="rag", kind="CHAIN")``).
    The span is a child of the current span, or the root of a new trace linked to
    the active run.

    Args:
        func: the function (given when used bare).
        name: the span's name (default: the function's ``__name__``).
        kind: a :class:`~logwright.entities.SpanKind` value.
        attributes: attributes set on every span.

    Returns:
        The wrapped function (or a decorator when ``func`` is None).
    """
    if func is None:
        return functools.partial(trace, name=name, kind=kind, attributes=attributes)
    if isinstance(func, (staticmethod, classmethod)):
        return type(func)(trace(func.__func__, name=name, kind=kind, attributes=attributes))
    spec = _Spec(func, name, kind, attributes)
    if inspect.isasyncgenfunction(func):
        return _make_async_generator_wrapper(func, spec)
    if inspect.isgeneratorfunction(func):
        return _make_generator_wrapper(func, spec)
    if inspect.iscoroutinefunction(func):
        return _make_coroutine_wrapper(func, spec)
    return _make_function_wrapper(func, spec)


def _start(spec: _Spec, parent: LiveSpan | None, args: tuple, kwargs: dict) -> LiveSpan:
    if parent is not None and SETTINGS.enabled:  # the hot path: a child of a recording span
        trace = parent._trace
        span = LiveSpan(trace, spec.name, spec.kind, parent.span_id, _now())
        trace.live[span.span_id] = span
        if spec.attributes:
            span._attributes = dict(spec.attributes)
    else:
        span = start_detached_span(spec.name, spec.kind, None, None, None, spec.attributes)
        if not span.is_recording:
            return span
    try:
        span._inputs = freeze(spec.inputs(args, kwargs), span._trace.limit, owned=True)
    except Exception as exc:  # noqa: BLE001 - never raise into user code
        report(exc, "trace.inputs")
    return span


def _fail(span: LiveSpan, exc: BaseException, outputs: Any = None) -> None:
    span.record_exception(exc)
    span.end(outputs)


def _make_function_wrapper(func: Callable, spec: _Spec) -> Callable:
    @functools.wraps(func)
    def traced(*args: Any, **kwargs: Any) -> Any:
        parent = _current_span.get()
        if parent is not None and not parent.is_recording:
            return func(*args, **kwargs)
        span = _start(spec, parent, args, kwargs)
        token = _current_span.set(span)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            _reset(token, parent)
            _fail(span, exc)
            raise
        try:
            _current_span.reset(token)
        except ValueError:
            _current_span.set(parent)
        span.end(result)
        return result

    return traced


def _make_coroutine_wrapper(func: Callable, spec: _Spec) -> Callable:
    @functools.wraps(func)
    async def traced(*args: Any, **kwargs: Any) -> Any:
        parent = _current_span.get()
        if parent is not None and not parent.is_recording:
            return await func(*args, **kwargs)
        span = _start(spec, parent, args, kwargs)
        token = _current_span.set(span)
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            _reset(token, parent)
            _fail(span, exc)
            raise
        _reset(token, parent)
        span.end(result)
        return result

    return traced


class _Yielded:
    """The items a generator yielded, captured safely, at most ``_MAX_YIELDED``."""

    __slots__ = ("items", "count", "limit")

    def __init__(self, limit: int) -> None:
        self.items: list[Any] = []
        self.count = 0
        self.limit = limit

    def add(self, item: Any) -> None:
        self.count += 1
        if self.count <= _MAX_YIELDED:
            try:
                self.items.append(item if type(item) in _ATOMS else to_jsonable(item, self.limit))
            except Exception as exc:  # noqa: BLE001
                report(exc, "trace.yielded")

    def value(self) -> list[Any]:
        if self.count > _MAX_YIELDED:
            return [*self.items, f"{TRUNCATION_MARKER}: {self.count} items yielded in all]"]
        return self.items


def _make_generator_wrapper(func: Callable, spec: _Spec) -> Callable:
    @functools.wraps(func)
    def traced(*args: Any, **kwargs: Any) -> Any:
        parent = _current_span.get()
        if parent is not None and not parent.is_recording:
            return (yield from func(*args, **kwargs))
        span = _start(spec, parent, args, kwargs)
        yielded = _Yielded(span._trace.limit if span.is_recording else 0)
        gen = func(*args, **kwargs)
        sent: Any = None
        thrown: BaseException | None = None
        try:
            while True:
                token = _current_span.set(span)
                try:
                    item = gen.send(sent) if thrown is None else gen.throw(thrown)
                finally:
                    thrown = None
                    _reset(token, parent)
                yielded.add(item)
                try:
                    sent = yield item
                except GeneratorExit:
                    gen.close()
                    raise
                except BaseException as exc:  # noqa: BLE001 - thrown in by the consumer: passed on
                    thrown, sent = exc, None
        except StopIteration as stop:
            span.end(yielded.value())
            return stop.value
        except GeneratorExit:
            span.end(yielded.value())  # the consumer stopped early: not an error
            raise
        except BaseException as exc:
            _fail(span, exc, yielded.value())
            raise

    return traced


def _make_async_generator_wrapper(func: Callable, spec: _Spec) -> Callable:
    @functools.wraps(func)
    async def traced(*args: Any, **kwargs: Any) -> Any:
        parent = _current_span.get()
        gen = func(*args, **kwargs)
        if parent is not None and not parent.is_recording:
            span = None
        else:
            span = _start(spec, parent, args, kwargs)
        yielded = _Yielded(span._trace.limit if span is not None and span.is_recording else 0)
        sent: Any = None
        thrown: BaseException | None = None
        try:
            while True:
                token = _current_span.set(span) if span is not None else None
                try:
                    item = await (gen.asend(sent) if thrown is None else gen.athrow(thrown))
                finally:
                    thrown = None
                    if token is not None:
                        _reset(token, parent)
                if span is not None:
                    yielded.add(item)
                try:
                    sent = yield item
                except GeneratorExit:
                    await gen.aclose()
                    raise
                except BaseException as exc:  # noqa: BLE001 - thrown in by the consumer: passed on
                    thrown, sent = exc, None
        except StopAsyncIteration:
            if span is not None:
                span.end(yielded.value())
        except GeneratorExit:
            if span is not None:
                span.end(yielded.value())
            raise
        except BaseException as exc:
            if span is not None:
                _fail(span, exc, yielded.value())
            raise

    return traced
