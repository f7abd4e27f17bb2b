"""The model registry's filter language: a few comparisons joined by ``AND``.

``search_registered_models(filter=)`` and ``search_model_versions(filter=)`` take the
same small language::

    name = 'churn-classifier' AND tags.team = 'growth'
    name LIKE 'churn%'
    run_id = '3f2a...' AND version >= 2

Fields: ``name``, ``tags.<key>`` (a key with other characters in backquotes:
``tags.`my key```) and, for versions only, ``run_id``, ``version``, ``flavour`` and
``status``. Operators: ``=``, ``!=``, ``LIKE`` (case-sensitive), ``ILIKE`` (not), and on
``version`` also ``<``, ``<=``, ``>``, ``>=``. Values are quoted strings ('' or "");
``version`` takes a number. Anything else raises
:class:`~logwright.exceptions.InvalidFilter` pointing at the offending character.
"""

from __future__ import annotations

import re
from typing import Any

from logwright.exceptions import InvalidFilter
from logwright.search import _like_to_glob

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\")|(?P<num>-?\d+)|(?P<op><=|>=|!=|<>|==|=|<|>)"
    r"|(?P<key>tags\.`[^`]+`|[A-Za-z_][A-Za-z0-9_.\-]*))"
)
_TEXT_OPS = ("=", "!=", "LIKE", "ILIKE")
_NUM_OPS = ("=", "!=", "<", "<=", ">", ">=")
_VERSION_FIELDS = {"run_id": "v.run_id", "flavour": "v.flavour", "status": "v.status"}


def _tokens(text: str) -> list[tuple[str, Any, int]]:
    out, i = [], 0
    while i < len(text):
        if text[i:].strip() == "":
            break
        m = _TOKEN.match(text, i)
        if m is None or m.end() == i:
            raise InvalidFilter("unexpected character", text, len(text) - len(text[i:].lstrip()))
        pos = m.start(m.lastgroup)
        kind, raw = m.lastgroup, m.group(m.lastgroup)
        if kind == "str":
            out.append(("str", raw[1:-1].replace(raw[0] * 2, raw[0]), pos))
        elif kind == "num":
            out.append(("num", int(raw), pos))
        elif kind == "op":
            out.append(("op", {"<>": "!=", "==": "="}.get(raw, raw), pos))
        elif raw.upper() in ("AND", "LIKE", "ILIKE"):
            out.append(("op" if raw.upper() != "AND" else "and", raw.upper(), pos))
        else:
            out.append(("key", raw, pos))
        i = m.end()
    return out


def compile_filter(text: str | None, versions: bool, postgres: bool = False) -> tuple[str, list[Any]]:
    """SQL conditions (joined by AND) and their arguments for a registry filter.

    Args:
        text: the filter, or None / blank for everything.
        versions: True for ``model_versions`` (alias ``v``), False for
            ``registered_models`` (alias ``m``).
        postgres: spell LIKE for PostgreSQL (the placeholders stay ``?``: the
            PostgreSQL store turns them into ``%s``).

    Raises:
        InvalidFilter: the filter does not parse; it points at the problem.
    """
    if text is None or not text.strip():
        return "1 = 1", []
    toks = _tokens(text)
    clauses: list[str] = []
    args: list[Any] = []
    i = 0
    while True:
        if i + 3 > len(toks):
            pos = toks[i][2] if i < len(toks) else len(text)
            raise InvalidFilter("expected a comparison such as name = 'x'", text, pos)
        key, op, value = toks[i : i + 3]
        sql, more = _clause(text, key, op, value, versions, postgres)
        clauses.append(sql)
        args.extend(more)
        i += 3
        if i == len(toks):
            return " AND ".join(clauses), args
        if toks[i][0] != "and":
            raise InvalidFilter("expected AND between comparisons (OR is not supported)", text, toks[i][2])
        i += 1


def _clause(text: str, key: tuple, op: tuple, value: tuple, versions: bool, postgres: bool) -> tuple[str, list]:
    if key[0] != "key":
        raise InvalidFilter("expected a field (name, tags.<key>, run_id, version)", text, key[2])
    if op[0] != "op":
        raise InvalidFilter("expected an operator (=, !=, LIKE, ILIKE)", text, op[2])
    field, operator = key[1], op[1]
    table = "v" if versions else "m"
    if field == "version" and versions:
        if operator not in _NUM_OPS or value[0] != "num":
            raise InvalidFilter("version compares with =, !=, <, <=, >, >= and a number", text, op[2])
        if abs(value[1]) >= 2**62:
            raise InvalidFilter("version number out of range", text, value[2])
        return f"v.version {operator} ?", [value[1]]
    if operator not in _TEXT_OPS:
        raise InvalidFilter(f"operator {operator} does not apply to {field}", text, op[2])
    if value[0] != "str":
        raise InvalidFilter(f"{field} compares with a quoted string", text, value[2])
    if field.startswith("tags."):
        tag = field[5:].strip("`")
        tags = "model_version_tags" if versions else "registered_model_tags"
        same = "t.name = v.name AND t.version = v.version" if versions else "t.name = m.name"
        cond, more = _compare("t.value", operator, value[1], postgres)
        return f"EXISTS (SELECT 1 FROM {tags} t WHERE {same} AND t.key = ? AND {cond})", [tag, *more]
    if field == "name":
        return _compare(f"{table}.name", operator, value[1], postgres)
    if versions and field in _VERSION_FIELDS:
        return _compare(_VERSION_FIELDS[field], operator, value[1], postgres)
    known = "name, tags.<key>, run_id, version, flavour, status" if versions else "name, tags.<key>"
    raise InvalidFilter(f"unknown field {field!r} (known: {known})", text, key[2])


def _compare(column: str, operator: str, value: str, postgres: bool) -> tuple[str, list]:
    if operator in ("=", "!="):
        return f"{column} {operator} ?", [value]
    if postgres:  # no escape character, as SQLite's LIKE and GLOB
        return f"{column} {operator} ? ESCAPE ''", [value]
    if operator == "ILIKE":
        return f"{column} LIKE ?", [value]
    return f"{column} GLOB ?", [_like_to_glob(value)]
