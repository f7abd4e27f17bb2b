"""Checks on user input, run at the call site so errors point at the user's line."""

from __future__ import annotations

import logging
import math
import numbers
import operator
import posixpath
import re

_logger = logging.getLogger(__name__)

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_NAME_LENGTH = 500
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

_valid_keys: dict[str, str] = {}  # key as given -> key as stored (lone surrogates replaced)
_SURROGATES = re.compile("[\ud800-\udfff]")
_warned = {"surrogates": False}


def clean_text(text: str, what: str) -> str:
    """``text`` with lone surrogates (half an emoji, undecodable bytes) replaced by U+FFFD.

    A Python string can hold code points that UTF-8 cannot encode, so no store could
    keep them; they are replaced (with one warning per process) rather than failing.
    """
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        if not _warned["surrogates"]:
            _warned["surrogates"] = True
            _logger.warning(
                "logwright: %s %r holds lone surrogate characters (not valid Unicode); they are "
                "stored as U+FFFD (this warning is shown once)", what, text[:80],
            )
        return _SURROGATES.sub("\ufffd", text)
    return text


def check_key(key: object, what: str = "key") -> str:
    """Return ``key`` if it is a legal metric/param/tag key, else raise ValueError naming it.

    Legal: a non-empty string of at most 250 characters, without control characters,
    not starting with ``/`` and with no ``..`` path segment.
    """
    known = _valid_keys.get(key) if type(key) is str else None
    if known is not None:
        return known
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
    stored = clean_text(str(key), what)
    if len(_valid_keys) < 100_000:
        _valid_keys[key] = stored
    return stored


def step_value(key: str, step: object) -> int:
    """A metric step as an int64; raise TypeError/ValueError naming the key otherwise.

    Accepts ints, numpy integers, 0-d integer tensors and floats holding a whole number.
    """
    if type(step) is int and INT64_MIN <= step <= INT64_MAX:
        return step
    return _int64(step, f"step of metric {key!r}")


def timestamp_value(key: str, timestamp: object) -> int:
    """A timestamp in epoch milliseconds as an int64; floats are truncated to whole ms."""
    if type(timestamp) is int and 0 <= timestamp <= INT64_MAX:
        return timestamp
    if isinstance(timestamp, float) and math.isfinite(timestamp):
        timestamp = int(timestamp)
    value = _int64(timestamp, f"timestamp of metric {key!r}")
    if value < 0:
        raise ValueError(f"timestamp of metric {key!r} must be epoch milliseconds >= 0, got {value}")
    return value


def _int64(value: object, what: str) -> int:
    if isinstance(value, bool) or isinstance(value, (str, bytes)):
        raise TypeError(f"{what} must be an integer, got {type(value).__name__}: {value!r:.80}")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{what} must be a whole number, got {value!r}")
        value = int(value)
    try:
        number = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        item = getattr(value, "item", None)
        got = item() if callable(item) else None
        if not isinstance(got, int) or isinstance(got, bool):
            raise TypeError(f"{what} must be an integer, got {type(value).__name__}: {value!r:.80}") from None
        number = got
    if not INT64_MIN <= number <= INT64_MAX:
        raise ValueError(f"{what} is {number}, outside the 64-bit range a store can hold")
    return number


def name_value(value: object, what: str) -> str | None:
    """A run name, description or similar: a string (or None); raise TypeError naming it."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, got {type(value).__name__}: {value!r:.80}")
    return clean_text(value, what)


def metric_value(key: str, value: object) -> float:
    """Convert a metric value to float; raise TypeError naming the key if it is not numeric.

    Accepts Python numbers, numpy scalars and 0-d/1-element tensors (anything with ``item``).
    """
    if type(value) is float:
        return value
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, numbers.Real):
        try:
            return float(value)
        except OverflowError:
            raise ValueError(f"metric {key!r} value {value!r:.80} is too large for a float") from None
    item = getattr(value, "item", None)
    if item is not None:
        try:
            got = item()
        except Exception:  # noqa: BLE001 - a multi-element array, reported below
            got = None
        if isinstance(got, numbers.Real):
            return metric_value(key, got)
    raise TypeError(f"metric {key!r} must be a number, got {type(value).__name__}: {value!r:.80}")


def param_value(key: str, value: object) -> str:
    """Stringify a param value; raise ValueError naming the key when it is over the limit."""
    text = clean_text(value if isinstance(value, str) else str(value), f"param {key!r}")
    if len(text) > MAX_PARAM_VALUE_LENGTH:
        raise ValueError(
            f"param {key!r} value is {len(text)} characters; the limit is "
            f"{MAX_PARAM_VALUE_LENGTH} (log long values with log_text or log_dict)"
        )
    return text


def tag_value(key: str, value: object) -> str:
    """Stringify a tag value; raise ValueError naming the key when it is over the limit."""
    text = clean_text(value if isinstance(value, str) else str(value), f"tag {key!r}")
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
