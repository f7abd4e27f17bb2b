"""Turn span inputs, outputs and attribute values into JSON text that never raises.

Dataclasses, pydantic models, numpy and torch scalars and small arrays, mappings,
sequences, dates and enums become JSON; anything else becomes its ``repr``; an
object whose ``repr`` raises becomes ``<unprintable T>`` and a cycle becomes
``<circular reference to T>``. Each stored field is capped (``field_limit``
characters, ``LOGWRIGHT_TRACE_FIELD_LIMIT``) and a cut field ends with
:data:`TRUNCATION_MARKER`. numpy and torch are never imported here: they are
recognised by the module of the value's type.

On the hot path, :func:`freeze` keeps values that cannot change later (primitives,
flat dicts/tuples of primitives, short lists of primitives as tuples) as they are
and JSON-encodes everything else at once, so later mutation by user code cannot
alter what was recorded; kept values are encoded with the trace when its root span
ends. Text bound for the store goes through :func:`utf8`/:func:`scrub`: lone
surrogates become U+FFFD, with one warning per process.
"""

from __future__ import annotations

import codecs
import dataclasses
import datetime
import enum
import json
import logging
import re
import sys
import threading
from collections.abc import Mapping
from typing import Any

_logger = logging.getLogger(__name__)

TRUNCATION_MARKER = "... [truncated by logwright"
DEFAULT_LIMIT = 100_000
_MARKER_ROOM = 80
_MAX_DEPTH = 32
_MAX_ITEMS = 10_000
_MAX_ARRAY = 1_000
_SHORT_LIST = 256  # a list of primitives up to this long is kept as a tuple copy, encoded later
_ATOMS = frozenset({str, int, float, bool, type(None)})


def _not_serializable(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _c_encoder() -> Any:
    """json's C encoder, made once: ``JSONEncoder.encode`` builds a new one per call (~2 us)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # a Python without the _json accelerator
        return None
    return make(None, _not_serializable, json.encoder.c_encode_basestring, None, ":", ",", False, False, True)


_C_ENCODE = _c_encoder()
_FAST: list[Any] = [None, 0]  # orjson.dumps once orjson is imported; its option flags


def use_fast_encoder() -> None:
    """Encode with orjson from now on if the process has imported it already (never imports it).

    orjson (a dependency of DSPy and of LangChain's langsmith) encodes a span in a tenth
    of the time of json's C encoder. It is used for what both encode alike: anything
    it refuses (keys that are not strings, integers past 64 bits, lone surrogates,
    dataclasses, dates) takes json's path as before. Differences: NaN and infinities
    become null (json writes ``NaN``, which is not JSON), a UUID its string.
    """
    if _FAST[0] is None:
        orjson = sys.modules.get("orjson")
        dumps = getattr(orjson, "dumps", None)
        if dumps is not None:
            _FAST[1] = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
            _FAST[0] = dumps


def _ENCODE(value: Any) -> str:  # noqa: N802 - a constant-like alias of the fastest encoder
    """Compact JSON text of plain JSON values (raises TypeError, ValueError or RecursionError)."""
    fast = _FAST[0]
    if fast is not None:
        try:
            return fast(value, None, _FAST[1]).decode()
        except TypeError:  # orjson.JSONEncodeError: json's own answer (or error) below
            pass
    if _C_ENCODE is None:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return "".join(_C_ENCODE(value, 0))

_SURROGATE = re.compile("[\ud800-\udfff]")
_REPLACE = "logwright.fffd"
_warned = {"surrogates": False}
_warn_lock = threading.Lock()


def _replace_surrogates(exc: UnicodeError) -> tuple[bytes, int]:
    # bytes: the UTF-8 encoder accepts only ASCII text from an error handler
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    return "\ufffd".encode() * (exc.end - exc.start), exc.end


codecs.register_error(_REPLACE, _replace_surrogates)


class Dumped(str):
    """JSON text produced by :func:`dumps`, told apart from a raw string input."""

    __slots__ = ()


def freeze(value: Any, limit: int = DEFAULT_LIMIT, owned: bool = False) -> Any:
    """What a span keeps of ``value`` until its trace is written.

    Args:
        value: any object given as inputs, outputs or attribute value.
        limit: the field cap, applied when the value is encoded now.
        owned: the dict is logwright's own (never mutated later): keep it without a copy.

    Returns:
        ``value`` itself when it is immutable (a primitive, or a tuple of them), a
        shallow copy of a dict of primitives, a tuple copy of a short list of
        primitives, else a :class:`Dumped` JSON string.
    """
    kind = type(value)
    if kind in _ATOMS:
        return value
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or type(item) not in _ATOMS:
                break
        else:
            return value if owned else dict(value)
    elif kind is tuple or (kind is list and len(value) <= _SHORT_LIST):
        for item in value:
            if type(item) not in _ATOMS:
                break
        else:
            return value if kind is tuple else tuple(value)
    return Dumped(dumps(value, limit))


def encode(value: Any, limit: int = DEFAULT_LIMIT) -> str | None:
    """The JSON text stored for a frozen value (None stays NULL).

    Args:
        value: what :func:`freeze` returned.
        limit: the field cap.

    Returns:
        JSON text, or None for None.
    """
    if value is None:
        return None
    kind = type(value)
    if kind is Dumped:
        return value
    if kind is str and len(value) > limit:
        return dumps(value, limit)
    if kind in _ATOMS or kind is dict or kind is tuple:  # frozen: primitives only, encode directly
        try:
            text = _ENCODE(value)
        except (TypeError, ValueError, RecursionError):
            return dumps(value, limit)
        return text if len(text) <= limit else dumps(value, limit)
    return dumps(value, limit)


def dumps(value: Any, limit: int = DEFAULT_LIMIT) -> str:
    """JSON text of any object, capped at ``limit`` characters; never raises.

    Args:
        value: any object.
        limit: the cap; longer text is cut and stored as a JSON string ending in
            :data:`TRUNCATION_MARKER` and the original size.

    Returns:
        Valid JSON text.
    """
    try:  # plain JSON types encode in C; anything else (or too long) takes the safe walk
        text = _ENCODE(value)
        if len(text) <= limit:
            return text
    except Exception:  # noqa: BLE001 - objects, cycles, odd keys: handled below
        pass
    try:
        text = _ENCODE(to_jsonable(value, limit))
    except Exception:  # noqa: BLE001 - a value we cannot encode is stored as its repr
        text = json.dumps(safe_repr(value, limit), ensure_ascii=False)
    if len(text) > limit + _MARKER_ROOM:  # room for one cut string's marker and quotes
        text = json.dumps(_cut(text, limit), ensure_ascii=False)
    return text


def utf8(text: str) -> bytes:
    """``text`` as UTF-8; lone surrogates (half of a split emoji) become U+FFFD, with one warning.

    Args:
        text: any string, possibly holding lone surrogates that UTF-8 cannot encode.

    Returns:
        The UTF-8 bytes; never raises for a ``str``.
    """
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        _warn_surrogates()
        return text.encode("utf-8", _REPLACE)


def scrub(text: str) -> str:
    """``text`` with lone surrogates replaced by U+FFFD (one warning per process), else itself.

    Args:
        text: a string bound for the store (a name, a tag, a JSON text).

    Returns:
        A string that encodes to UTF-8 without error.
    """
    if text.isascii() or _SURROGATE.search(text) is None:
        return text
    _warn_surrogates()
    return _SURROGATE.sub("\ufffd", text)


def _warn_surrogates() -> None:
    with _warn_lock:
        if _warned["surrogates"]:
            return
        _warned["surrogates"] = True
    _logger.warning(
        "logwright replaced lone surrogates (half of a character, such as a split emoji) with "
        "U+FFFD in trace data so it can be stored; later replacements are not reported"
    )


def safe_repr(value: Any, limit: int = DEFAULT_LIMIT) -> str:
    """``repr(value)``, capped; ``<unprintable T>`` when ``__repr__`` raises."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - user objects may raise anything from __repr__
        return f"<unprintable {type(value).__qualname__}>"
    if type(text) is not str:
        return f"<unprintable {type(value).__qualname__}>"
    return text if len(text) <= limit else _cut(text, limit)


def safe_str(value: Any) -> str:
    """``str(value)``; its ``repr`` (or ``<unprintable T>``) when ``__str__`` raises."""
    if type(value) is str:
        return value
    try:
        text = str(value)
    except Exception:  # noqa: BLE001 - user objects may raise anything from __str__
        return safe_repr(value, 1_000)
    return text if type(text) is str else safe_repr(value, 1_000)


def span_name(name: Any) -> str:
    """A span name (or kind) given as something other than a ``str``: its ``str()``, or ``<unnamed>``."""
    if name is None:
        return "<unnamed>"
    try:
        text = str(name)
    except Exception:  # noqa: BLE001 - an object whose __str__ raises
        return "<unnamed>"
    return text if type(text) is str else "<unnamed>"


def _cut(text: str, limit: int) -> str:
    return f"{text[:limit]}{TRUNCATION_MARKER}: {len(text)} characters in all]"


def to_jsonable(value: Any, limit: int = DEFAULT_LIMIT, depth: int = 0,
                seen: set[int] | None = None) -> Any:
    """A structure of dicts, lists, strings, numbers, booleans and None that mirrors ``value``.

    Args:
        value: any object.
        limit: the cap for each string inside.
        depth: nesting level so far (deeper than 32 becomes a marker).
        seen: ids of the containers on the current path (cycle detection).

    Returns:
        A JSON-encodable structure; never raises for user objects.
    """
    kind = type(value)
    if kind is str:
        return value if len(value) <= limit else _cut(value, limit)
    if kind in _ATOMS:
        return value
    if depth > _MAX_DEPTH:
        return f"<nested deeper than {_MAX_DEPTH} levels>"
    if seen is None:
        seen = set()
    key = id(value)
    if key in seen:
        return f"<circular reference to {kind.__qualname__}>"
    seen.add(key)
    try:
        return _convert(value, kind, limit, depth + 1, seen)
    except Exception:  # noqa: BLE001 - a failing converter falls back to repr
        return safe_repr(value, limit)
    finally:
        seen.discard(key)


def _convert(value: Any, kind: type, limit: int, depth: int, seen: set[int]) -> Any:
    if isinstance(value, (str, int, float)) and not isinstance(value, enum.Enum):
        return _scalar(value, limit)
    if isinstance(value, Mapping):
        return _mapping(value, limit, depth, seen)
    if isinstance(value, (list, tuple, set, frozenset)) or kind.__name__ == "deque":
        return _sequence(value, limit, depth, seen)
    module = kind.__module__.split(".", 1)[0]
    if module in ("numpy", "torch", "jax", "tensorflow"):
        return _array(value, module, limit, depth, seen)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}
        return _mapping(fields, limit, depth, seen)
    dumped = _model_dump(value)
    if dumped is not None:
        return to_jsonable(dumped, limit, depth, seen)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value, limit, depth, seen)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _bytes(bytes(value), limit)
    return safe_repr(value, limit)


def _scalar(value: Any, limit: int) -> Any:
    """Subclasses of str/int/float (str enums aside) as their plain value."""
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    text = str.__str__(value)
    return text if len(text) <= limit else _cut(text, limit)


def _mapping(value: Mapping, limit: int, depth: int, seen: set[int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, (key, item) in enumerate(value.items()):
        if i >= _MAX_ITEMS:
            out[TRUNCATION_MARKER + "]"] = f"{len(value) - i} more items"
            break
        name = key if type(key) is str else _key(key)
        out[name] = to_jsonable(item, limit, depth, seen)
    return out


def _key(key: Any) -> str:
    if isinstance(key, (str, int, float, bool)) or key is None:
        return str(key)
    return safe_repr(key, 200)


def _sequence(value: Any, limit: int, depth: int, seen: set[int]) -> list[Any]:
    out = []
    for i, item in enumerate(value):
        if i >= _MAX_ITEMS:
            out.append(f"{TRUNCATION_MARKER}: {len(value)} items in all]")
            break
        out.append(to_jsonable(item, limit, depth, seen))
    return out


def _array(value: Any, module: str, limit: int, depth: int, seen: set[int]) -> Any:
    """numpy/torch (and look-alike) scalars and arrays; large arrays become a summary."""
    shape = getattr(value, "shape", None)
    if shape is None:
        item = getattr(value, "item", None)
        return to_jsonable(item(), limit, depth, seen) if callable(item) else safe_repr(value, limit)
    size = 1
    for dim in shape:
        size *= int(dim)
    if size > _MAX_ARRAY:
        dims = "x".join(str(int(d)) for d in shape)
        return f"<{module} array {dims} {getattr(value, 'dtype', '')}>"
    if module == "torch":
        value = value.detach().cpu()
    if len(shape) == 0:
        return to_jsonable(value.item(), limit, depth, seen)
    return to_jsonable(value.tolist(), limit, depth, seen)


def _model_dump(value: Any) -> Any:
    """A pydantic model (v2 ``model_dump``, v1 ``dict``) as a dict; None for other objects."""
    kind = type(value)
    dump = getattr(kind, "model_dump", None)
    if dump is not None and callable(dump) and hasattr(kind, "model_fields"):
        return value.model_dump()
    if hasattr(kind, "__fields__") and callable(getattr(kind, "dict", None)):
        return value.dict()
    return None


def _bytes(value: bytes, limit: int) -> str:
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return f"<{len(value)} bytes>"
    return text if len(text) <= limit else _cut(text, limit)
