"""MLflow's experiment filter language, applied to a store's experiments in Python.

A filter is comparisons joined by ``AND`` (MLflow has no ``OR`` here)::

    name LIKE 'churn%' and tags.team = 'ml' and creation_time > 1700000000000

Fields: ``name`` (``= != LIKE ILIKE``), ``creation_time`` and ``last_update_time``
(``= != < <= > >=``, epoch ms), ``experiment_id`` (``= !=``, ``IN``), and
``tags.<key>`` (``= != LIKE ILIKE``; an experiment without the tag never matches).
``attributes.``/``attr.`` prefixes and backtick-quoted keys work as in run filters.
``order_by`` takes ``name``, ``experiment_id``, ``creation_time``,
``last_update_time`` with ``ASC``/``DESC``; the default is newest first
(``creation_time DESC``), ties by ``experiment_id``. A store holds few experiments, so
they are read once and filtered here rather than compiled to SQL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from operator import attrgetter
from typing import Any

from logwright.entities import Experiment
from logwright.exceptions import InvalidFilter
from logwright.search import (
    _ATTR,
    _TAG,
    _clean,
    _order_clauses,
    _Problem,
    _Table,
    _Target,
    _Token,
    _tokenize,
    decode_page_token,
    encode_page_token,
)

__all__ = ["ExperimentList", "select_experiments"]

_EXPERIMENTS = _Target(
    noun="experiment",
    prefixes={**_ATTR, **_TAG},
    tables={"tag": _Table("tag", "experiment_tags", "experiment_id", "e.experiment_id", numeric=False)},
    attributes={"name": ("name", False), "creation_time": ("creation_time", True),
                "last_update_time": ("last_update_time", True), "experiment_id": ("experiment_id", False)},
    aliases={},
    default_order="",
    tiebreak="",
)
_STRING_OPS = ("=", "!=", "LIKE", "ILIKE")
_NUMBER_OPS = ("=", "!=", "<", "<=", ">", ">=")
_Check = Callable[[Experiment], bool]


class ExperimentList(list):
    """A list of :class:`Experiment` with ``token`` for the next page (None on the last)."""

    token: str | None = None


def _like(pattern: str, insensitive: bool) -> re.Pattern[str]:
    parts = ("." if ch == "_" else ".*" if ch == "%" else re.escape(ch) for ch in pattern)
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if insensitive else 0))


def _compare(op: str, wanted: Any) -> Callable[[Any], bool]:
    if op in ("LIKE", "ILIKE"):
        regex = _like(str(wanted), op == "ILIKE")
        return lambda v: v is not None and regex.fullmatch(str(v)) is not None
    tests = {"=": lambda v: v == wanted, "!=": lambda v: v != wanted, "<": lambda v: v < wanted,
             "<=": lambda v: v <= wanted, ">": lambda v: v > wanted, ">=": lambda v: v >= wanted}
    test = tests[op]
    return lambda v: v is not None and test(v)


def _tag_getter(key: str) -> Callable[[Experiment], str | None]:
    return lambda e: e.tags.get(key)


def _comparison(tokens: list[_Token], i: int) -> tuple[_Check, int]:
    ident, op_tok, value = tokens[i], tokens[i + 1], tokens[i + 2]
    if ident.kind != "ident":
        raise _Problem(f"expected name, creation_time, last_update_time or tags.<key>, found {ident.text!r}",
                       ident.pos)
    prefix, key = ident.value
    op = str(op_tok.value) if op_tok.kind in ("op", "kw") else ""
    if prefix == "tag":
        field, numeric = _tag_getter(key), False
    else:
        name = key.lower()
        if name not in _EXPERIMENTS.attributes:
            raise _Problem(f"unknown experiment attribute {key!r} (known: creation_time, experiment_id, "
                           "last_update_time, name)", ident.key_pos)
        numeric = _EXPERIMENTS.attributes[name][1]
        field = attrgetter(name)
    allowed = _NUMBER_OPS if numeric else _STRING_OPS
    if op not in allowed:
        raise _Problem(f"operator {op_tok.text!r} does not apply to {ident.text!r} (use {', '.join(allowed)})",
                       op_tok.pos)
    if numeric != (value.kind == "number") or value.kind not in ("number", "string"):
        kind = "a number" if numeric else "a quoted string"
        raise _Problem(f"{ident.text!r} is compared with {kind}, found {value.text!r}", value.pos)
    test = _compare(op, value.value)
    return (lambda e: test(field(e))), i + 3


def _compile(text: str) -> list[_Check]:
    tokens = _tokenize(text, _EXPERIMENTS)
    checks, i = [], 0
    while tokens[i].kind != "end":
        if len(tokens) - i < 4:
            raise _Problem("incomplete comparison", tokens[i].pos)
        check, i = _comparison(tokens, i)
        checks.append(check)
        tok = tokens[i]
        if tok.kind == "end":
            break
        if not (tok.kind == "kw" and tok.value == "AND"):
            raise _Problem(f"expected AND or the end of the filter, found {tok.text!r} "
                           "(experiment filters join comparisons with AND only, as MLflow's)", tok.pos)
        i += 1
    return checks


def _filter(experiments: Iterable[Experiment], filter_string: str | None) -> list[Experiment]:
    if filter_string is None:
        return list(experiments)
    text = _clean(filter_string, "a filter")
    try:
        checks = _compile(text) if text.strip() else []
    except _Problem as problem:
        raise InvalidFilter(problem.message, text, problem.pos) from None
    return [e for e in experiments if all(check(e) for check in checks)]


def _sort_key(name: str) -> Callable[[Experiment], Any]:
    if name == "experiment_id":
        return lambda e: int(e.experiment_id) if e.experiment_id.isdigit() else e.experiment_id
    return lambda e: getattr(e, name)


def _order(experiments: list[Experiment], order_by: object) -> list[Experiment]:
    # Newest first; experiments made in the same millisecond: the later id (made later) first.
    clauses = _order_clauses(order_by) or ["creation_time DESC", "experiment_id DESC"]
    out = sorted(experiments, key=_sort_key("experiment_id"))
    for clause in reversed(clauses):
        words = clause.split()
        field = words[0].split(".", 1)[-1].strip("`\"").lower() if words else ""
        direction = words[1].upper() if len(words) == 2 else "ASC"
        if field not in _EXPERIMENTS.attributes or len(words) > 2 or direction not in ("ASC", "DESC"):
            raise InvalidFilter("order_by takes name, experiment_id, creation_time or last_update_time, "
                                "then ASC or DESC", clause, 0)
        out.sort(key=_sort_key(field), reverse=direction == "DESC")
    return out


def select_experiments(experiments: Sequence[Experiment], filter_string: str | None = None,
                       order_by: Sequence[str] | str | None = None, max_results: int | None = None,
                       page_token: str | None = None) -> ExperimentList:
    """Filter, order and page experiments as MLflow's ``search_experiments`` does.

    Args:
        experiments: every experiment of the requested lifecycle.
        filter_string: the experiment filter (see the module docstring), or None.
        order_by: clauses such as ``"name ASC"``; newest first when None.
        max_results: page size; None: every match on one page.
        page_token: the ``token`` of the previous page, or None.

    Returns:
        The page, with ``.token`` for the next one.

    Raises:
        InvalidFilter: the filter or an order_by clause is malformed.
        InvalidPageToken: ``page_token`` is not one a search returned.
    """
    found = _order(_filter(experiments, filter_string), order_by)
    offset = decode_page_token(page_token)
    end = len(found) if max_results is None else offset + max_results
    out = ExperimentList(found[offset:end])
    if end < len(found):
        out.token = encode_page_token(end)
    return out
