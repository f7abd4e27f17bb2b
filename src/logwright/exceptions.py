"""Errors logwright raises into user code, each naming the offending thing."""

from __future__ import annotations


class LogwrightError(Exception):
    """Base class of every error logwright raises on purpose."""


class RunNotFound(LogwrightError, KeyError):
    """No run has the given id."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"run {run_id!r} not found")
        self.run_id = run_id

    def __str__(self) -> str:  # KeyError would quote the message again
        return str(self.args[0])


class ExperimentNotFound(LogwrightError, KeyError):
    """No experiment has the given id or name."""

    def __init__(self, ref: object) -> None:
        super().__init__(f"experiment {ref!r} not found")
        self.ref = ref

    def __str__(self) -> str:
        return str(self.args[0])


class TraceNotFound(LogwrightError, KeyError):
    """No trace has the given id."""

    def __init__(self, trace_id: str) -> None:
        super().__init__(f"trace {trace_id!r} not found")
        self.trace_id = trace_id

    def __str__(self) -> str:
        return str(self.args[0])


class RunDeleted(LogwrightError, ValueError):
    """The run is deleted: it can be read and restored, not resumed or logged to (as MLflow)."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"run {run_id!r} is deleted: restore it with restore_run() to resume it or log to it")
        self.run_id = run_id


class ExperimentDeleted(LogwrightError, ValueError):
    """The experiment is deleted: it cannot be made the active one (as MLflow)."""

    def __init__(self, ref: object) -> None:
        super().__init__(f"experiment {ref!r} is deleted: restore it with restore_experiment() to use it again")
        self.ref = ref


class ParamConflict(LogwrightError, ValueError):
    """A param was logged again with another value (params are write-once)."""


class InvalidFilter(LogwrightError, ValueError):
    """A search filter or order_by clause could not be parsed.

    Attributes:
        position: 0-based character offset in the filter text where the problem is.
    """

    def __init__(self, message: str, text: str, position: int) -> None:
        pointer = " " * position + "^"
        super().__init__(f"{message} at position {position}:\n  {text}\n  {pointer}")
        self.position = position
        self.text = text


class StoreError(LogwrightError):
    """The tracking store cannot be opened or used."""


class StoreVersionError(StoreError):
    """The store was written by a newer logwright than this one."""


class InvalidPageToken(LogwrightError, ValueError):
    """A ``page_token`` that no search returned (garbage, truncated or edited).

    Attributes:
        token: the token as given.
    """

    def __init__(self, token: object) -> None:
        shown = repr(token)
        if len(shown) > 60:
            size = f"{len(token):,} characters" if isinstance(token, str) else type(token).__name__
            shown = f"{shown[:50]}... ({size})"
        super().__init__(
            f"invalid page token {shown}: pass the .token of the previous page, or None for the first page"
        )
        self.token = token


class ModelNotFound(LogwrightError, KeyError):
    """A registered model, a version of it or an alias does not exist."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what

    def __str__(self) -> str:
        return f"{self.what} does not exist in the model registry"
