"""Checks on user input, run at the call site so errors point at the user's line."""

from __future__ import annotations

import math
import numbers
import posixpath

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000

_valid_keys: set[str] = set()


def check_key(key: object, what: str = "key") -> str:
    """Return ``key`` if it is a legal metric/param/tag key, else raise ValueError naming it.

    Legal: a non-empty string of at most 250 characters, without control characters,
    not starting with ``/`` and with no ``..`` path segment.
    """
    if key in _valid_keys:
        return key  # type: ignore[return-value]
    if not isinstance(key, str):
        raise TypeError(f"{what} must be a string, got {type(key).__name__}: {key!r}")
    if not key:
        raise ValueError(f"{what} must not be empty")
    if len(key) > MAX_KEY_LENGTH:
        raise ValueError(
            f"{what} {key[:40]!r}... is {len(key)} characters; the limit is {MAX_KEY_LENGTH}"
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise ValueError(f"{what} {key!r} contains a control character")
    if key.startswith("/") or ".." in key.split("/"):
        raise ValueError(f"{what} {key!r} is illegal: it must not start with '/' or contain '..'")
    if len(_valid_keys) < 100_000:
        _valid_keys.add(key)
    return key


def metric_value(key: str, value: object) -> float:
    """Convert a metric value to float; raise TypeError naming the key if it is not numeric.

    Accepts Python numbers, numpy scalars and 0-d/1-element tensors (anything with ``item``).
    """
    if type(value) is float:
        return value
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, numbers.Real):
        return float(value)
    item = getattr(value, "item", None)
    if item is not None:
        try:
            got = item()
        except Exception:  # noqa: BLE001 - a multi-element array, reported below
            got = None
        if isinstance(got, numbers.Real):
            return float(got)
    raise TypeError(f"metric {key!r} must be a number, got {type(value).__name__}: {value!r:.80}")


def param_value(key: str, value: object) -> str:
    """Stringify a param value; raise ValueError naming the key when it is over the limit."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_PARAM_VALUE_LENGTH:
        raise ValueError(
            f"param {key!r} value is {len(text)} characters; the limit is "
            f"{MAX_PARAM_VALUE_LENGTH} (log long values with log_text or log_dict)"
        )
    return text


def tag_value(key: str, value: object) -> str:
    """Stringify a tag value; raise ValueError naming the key when it is over the limit."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_TAG_VALUE_LENGTH:
        raise ValueError(
            f"tag {key!r} value is {len(text)} characters; the limit is {MAX_TAG_VALUE_LENGTH}"
        )
    return text


def artifact_path(path: str | None) -> str:
    """Normalise a relative artifact path; raise ValueError if it escapes the run folder."""
    if path is None or path in ("", "."):
        return ""
    if not isinstance(path, str):
        raise TypeError(f"artifact path must be a string, got {path!r}")
    norm = posixpath.normpath(path.replace("\\", "/"))
    if path.startswith(("/", "\\")) or norm == ".." or norm.startswith("../") or ":" in norm[:3]:
        raise ValueError(f"artifact path {path!r} escapes the run's artifact folder")
    return "" if norm == "." else norm


def is_nan(value: float) -> bool:
    """True for NaN (stored as NULL in SQLite)."""
    return math.isnan(value)
