"""Span attribute values: what a span keeps of a value set as an attribute.

Primitives are kept as they are. Lists, tuples and string-keyed dicts of primitives,
nested up to three levels (request parameters, signatures, tool schemas), are only
copied; anything else goes through the safe converter
(:func:`~logwright.tracing.serialize.to_jsonable`).

:func:`frozen_attributes` does that work once for attributes an integration sends
with every span of a kind (a module's class and signature, a model's settings): the
result is shared by every span it is given to, and a span copies it only when one of
its attributes changes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from logwright.tracing.serialize import DEFAULT_LIMIT, safe_str, to_jsonable

_logger = logging.getLogger(__name__)

ATOMS = (str, int, float, bool, type(None))
_NOT_PLAIN = object()


class FrozenAttributes(dict):
    """Span attributes already converted, shared read-only by the spans they are given to.

    Made by :func:`frozen_attributes`; a span that changes an attribute works on its own copy.
    """

    __slots__ = ()

    def _read_only(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("FrozenAttributes are shared by several spans: copy them with dict() to change them")

    __setitem__ = __delitem__ = update = pop = popitem = clear = setdefault = _read_only  # type: ignore[assignment]


def frozen_attributes(attributes: Mapping[str, Any], limit: int = DEFAULT_LIMIT) -> FrozenAttributes:
    """Convert span attributes once, to give the same ones to many spans without copying.

    For callback integrations that describe the same object (a module class, a model
    and its settings) on every call: cache the result and pass it as ``attributes`` to
    :func:`~logwright.tracing.start_detached_span` (or ``set_attributes``).

    Args:
        attributes: attribute names to values (any values; converted as ``set_attribute`` does).
        limit: the cap for strings inside converted values.

    Returns:
        A read-only mapping spans share until one of them changes an attribute.
    """
    converted = {}
    for key, value in attributes.items():
        converted[key if type(key) is str else safe_str(key)] = \
            value if type(value) in ATOMS else attribute_value(value, limit)
    frozen = FrozenAttributes()
    dict.update(frozen, converted)
    return frozen


def attribute_value(value: Any, limit: int) -> Any:
    """A non-primitive attribute value as JSON-ready data (copied, never shared with the caller)."""
    found = _plain_copy(value, 3)
    return to_jsonable(value, limit) if found is _NOT_PLAIN else found


def _plain_copy(value: Any, depth: int) -> Any:
    kind = type(value)
    if kind in ATOMS:
        return value
    if depth == 0:
        return _NOT_PLAIN
    if kind is list or kind is tuple:
        if len(value) > 256:
            return _NOT_PLAIN
        out = []
        for item in value:
            item = item if type(item) in ATOMS else _plain_copy(item, depth - 1)
            if item is _NOT_PLAIN:
                return _NOT_PLAIN
            out.append(item)
        return out
    if kind is dict or kind is FrozenAttributes:
        if len(value) > 256:
            return _NOT_PLAIN
        copy = {}
        for key, item in value.items():
            if type(key) is not str:
                return _NOT_PLAIN
            item = item if type(item) in ATOMS else _plain_copy(item, depth - 1)
            if item is _NOT_PLAIN:
                return _NOT_PLAIN
            copy[key] = item
        return copy
    return _NOT_PLAIN
