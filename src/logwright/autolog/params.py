"""What every integration does with params and ranks, done once.

- :func:`param_text`: the one truncation policy for autologged values. A user's own
  ``log_param`` of a too-long value raises (``logwright.validation``); autolog never
  fails a fit over a long repr, so it cuts the value to the limit, marked as cut.
- :func:`log_params`: log a dict of params; ``on_conflict="skip"`` keeps the values a
  user's run already holds (params are write-once) instead of raising.
- :func:`estimator_tags`: the ``estimator_name``/``estimator_class`` tags of a trained object.
- :func:`rank_zero_only` / :func:`is_rank_zero`: the one switch for distributed
  training: only global rank zero writes.
"""

from __future__ import annotations

from logwright.lazylog import get_logger

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable, Mapping
    from typing import Any

_logger = get_logger(__name__)

__all__ = ["TRUNCATED", "estimator_tags", "is_rank_zero", "log_params", "param_text", "rank_zero_only"]

TRUNCATED = "...[truncated]"


def param_text(value: Any) -> str:
    """``str(value)``, cut to the param length limit and marked with ``TRUNCATED`` when cut."""
    from logwright.validation import MAX_PARAM_VALUE_LENGTH

    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_PARAM_VALUE_LENGTH:
        text = text[: MAX_PARAM_VALUE_LENGTH - len(TRUNCATED)] + TRUNCATED
    return text


def log_params(client: Any, run_id: str, params: Mapping[str, Any], on_conflict: str = "skip") -> list[str]:
    """Log ``params`` into ``run_id`` as text (:func:`param_text`), all at once when possible.

    Args:
        client: the :class:`logwright.Client` of the run.
        run_id: the run.
        params: key -> value.
        on_conflict: ``"skip"``: a key the run already holds with another value keeps it
            (a user's run training several models) and the others are logged;
            ``"raise"``: ``ParamConflict`` as ``Client.log_params`` raises it.

    Returns:
        The keys skipped because the run already held another value.

    Raises:
        ValueError: an unknown ``on_conflict``.
        ParamConflict: with ``on_conflict="raise"``.
    """
    from logwright.exceptions import ParamConflict

    if on_conflict not in ("skip", "raise"):
        raise ValueError(f"on_conflict must be 'skip' or 'raise', got {on_conflict!r}")
    texts = {str(k): param_text(v) for k, v in params.items()}
    try:
        client.log_params(run_id, texts)
        return []
    except ParamConflict:
        if on_conflict == "raise":
            raise
    skipped = []
    for key, text in texts.items():
        try:
            client.log_params(run_id, {key: text})
        except ParamConflict:
            skipped.append(key)
    if skipped:
        _logger.debug("logwright: params %s already logged with other values; kept", skipped)
    return skipped


def estimator_tags(obj: Any) -> dict[str, str]:
    """The tags naming what was trained: ``estimator_name`` (class name), ``estimator_class`` (module.qualname)."""
    cls = type(obj)
    return {"estimator_name": cls.__name__, "estimator_class": f"{cls.__module__}.{cls.__qualname__}"}


def is_rank_zero() -> bool:
    """True unless this process is a non-zero global rank of a distributed job (read from its env)."""
    from logwright.config import global_rank

    return global_rank() == 0


def rank_zero_only(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: call ``fn`` on global rank zero only; elsewhere return None without calling it."""
    import functools


    @functools.wraps(fn)
    def on_rank_zero(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs) if is_rank_zero() else None

    return on_rank_zero
