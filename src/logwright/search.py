"""The search filter language, compiled to parameterized SQLite SQL.

A filter is comparisons joined by ``AND``, ``OR``, ``NOT`` and parentheses (``NOT`` binds
tighter than ``AND``, ``AND`` tighter than ``OR``)::

    metrics.acc > 0.9 and params.model = 'rf' and not tags.`data set` like 'imagenet%'

An identifier is ``metrics.<key>``, ``params.<key>``, ``tags.<key>``, ``attributes.<name>``
(each also singular; ``attr.`` too) or a bare attribute name. Keys are letters, digits and
``_ . / - :``, or quoted in backticks or double quotes. Operators: ``= != <> < <= > >=``,
``[NOT] LIKE``, ``[NOT] ILIKE``, ``[NOT] IN (...)``, ``IS [NOT] NULL``.

Semantics: a metric compares its latest value numerically, and NaN (stored as NULL) never
matches a comparison. Params and tags compare as strings, except against a number literal,
which compares numerically with the values that are well-formed numbers (``!=`` and
``NOT IN`` also keep values that are not numbers). ``!=``, ``NOT LIKE`` and ``NOT IN`` on a
key mean "has the key with another value"; ``IS NULL`` means "has no such key". ``LIKE`` is
case-sensitive, ``ILIKE`` is not (ASCII only). ``NOT`` is a true complement.

Identifiers and values never enter the SQL text: every one is a ``?`` parameter.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from logwright.exceptions import InvalidFilter

__all__ = ["compile_run_filter", "compile_run_order_by", "compile_trace_filter", "compile_trace_order_by"]

_KEYWORDS = frozenset({"AND", "OR", "NOT", "LIKE", "ILIKE", "IN", "IS", "NULL"})
_OPERATORS = ("<=", ">=", "<>", "!=", "==", "=", "<", ">")
_CANONICAL_OP = {"<>": "!=", "==": "="}
_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEY = re.compile(r"[A-Za-z0-9_./:-]+")
_NULLS_LAST = sqlite3.sqlite_version_info >= (3, 30, 0)
# A TEXT column compared with a NUMERIC expression gets numeric affinity, which converts
# exactly the well-formed number literals ('10', '-2', '0.01', '1e-3'), never '10abc'.
_IS_NUMBER = "value = CAST(value AS NUMERIC)"
_INT64 = 2**63


@dataclass(frozen=True)
class _Table:
    """A key/value table hanging off the searched row: metrics, params or tags."""

    noun: str
    table: str
    id_col: str
    outer: str
    numeric: bool


@dataclass(frozen=True)
class _Target:
    """What a filter searches: runs or traces."""

    noun: str
    prefixes: dict[str, str]  # prefix word -> "attr" or a key of `tables`
    tables: dict[str, _Table]
    attributes: dict[str, tuple[str, bool]]  # name -> (SQL expression, is numeric)
    aliases: dict[str, str]
    default_order: str
    tiebreak: str


def _columns(alias: str, text: str, numeric: str) -> dict[str, tuple[str, bool]]:
    """Attribute table entries for plain columns, named in space-separated lists."""
    return {
        **{name: (f"{alias}.{name}", False) for name in text.split()},
        **{name: (f"{alias}.{name}", True) for name in numeric.split()},
    }


_ATTR = {"attributes": "attr", "attribute": "attr", "attr": "attr"}
_TAG = {"tags": "tag", "tag": "tag"}
_RUNS = _Target(
    noun="run",
    prefixes={**_ATTR, **_TAG, "metrics": "metric", "metric": "metric", "params": "param", "param": "param"},
    tables={
        "metric": _Table("metric", "latest_metrics", "run_id", "r.run_id", numeric=True),
        "param": _Table("param", "params", "run_id", "r.run_id", numeric=False),
        "tag": _Table("tag", "tags", "run_id", "r.run_id", numeric=False),
    },
    attributes={
        **_columns("r", "run_id run_name status user source parent_run_id description", ""),
        **_columns("r", "", "start_time end_time experiment_id"),
        "duration": ("(r.end_time - r.start_time)", True),
    },
    aliases={"name": "run_name", "user_id": "user", "created": "start_time"},
    default_order="r.start_time DESC, r.run_id",
    tiebreak="r.run_id",
)
_TRACES = _Target(
    noun="trace",
    prefixes={**_ATTR, **_TAG, "trace": "attr"},
    tables={"tag": _Table("tag", "trace_tags", "trace_id", "t.trace_id", numeric=False)},
    attributes={
        **_columns("t", "trace_id name status run_id", ""),
        **_columns("t", "", "experiment_id input_tokens output_tokens total_tokens span_count"),
        "start_time": ("(t.start_ns / 1000000)", True),
        "end_time": ("(t.end_ns / 1000000)", True),
        "latency_ms": ("((t.end_ns - t.start_ns) / 1e6)", True),
    },
    aliases={
        "request_id": "trace_id",  # MLflow's names
        "timestamp_ms": "start_time",
        "execution_time_ms": "latency_ms",
        "duration": "latency_ms",
    },
    default_order="t.start_ns DESC, t.trace_id",
    tiebreak="t.trace_id",
)


class _Problem(Exception):
    """A parse error at a position; the public functions turn it into InvalidFilter."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


@dataclass(frozen=True)
class _Token:
    """A lexical token. ``kind`` is ident, kw, string, number, op, punct or end."""

    kind: str
    value: Any
    pos: int
    text: str
    key_pos: int = 0


@dataclass(frozen=True)
class _Field:
    """A resolved identifier: a key of a key/value table, or an attribute column."""

    label: str
    table: _Table | None
    key: str
    expr: str
    numeric: bool


def _is(tok: _Token, kind: str, value: object) -> bool:
    return tok.kind == kind and tok.value == value


def _describe(tok: _Token) -> str:
    return "the end of the text" if tok.kind == "end" else repr(tok.text)


def _number(text: str) -> int | float:
    if not any(c in text for c in ".eE") and -_INT64 <= int(text) < _INT64:
        return int(text)
    return float(text)


def _lex_quoted(text: str, i: int) -> tuple[str, int]:
    """Reads a quoted run starting at ``text[i]``; a doubled quote stands for itself."""
    quote, parts, j = text[i], [], i + 1
    while True:
        end = text.find(quote, j)
        if end < 0:
            raise _Problem(f"unterminated string {text[i:]!r}", i)
        parts.append(text[j:end])
        if text.startswith(quote, end + 1):
            parts.append(quote)
            j = end + 2
            continue
        return "".join(parts), end + 1


def _lex_word(text: str, i: int, target: _Target) -> _Token:
    word = _WORD.match(text, i).group()
    end = i + len(word)
    if not text.startswith(".", end):
        if word.upper() in _KEYWORDS:
            return _Token("kw", word.upper(), i, word)
        return _Token("ident", (None, word), i, word, i)
    prefix = target.prefixes.get(word.lower())
    if prefix is None:
        known = ", ".join(sorted(target.prefixes))
        raise _Problem(f"unknown prefix {word!r} in a {target.noun} filter (use {known})", i)
    k = end + 1
    if text[k : k + 1] in ("`", '"'):
        key, stop = _lex_quoted(text, k)
    else:
        match = _KEY.match(text, k)
        key, stop = (match.group(), match.end()) if match else ("", k)
    if not key:
        raise _Problem(f"missing key after {text[i:k]!r}", k)
    return _Token("ident", (prefix, key), i, text[i:stop], k)


def _lex_one(text: str, i: int, target: _Target) -> _Token:
    ch = text[i]
    if ch in "(),":
        return _Token("punct", ch, i, ch)
    if ch in "'\"":
        value, stop = _lex_quoted(text, i)
        return _Token("string", value, i, text[i:stop])
    number = _NUMBER.match(text, i)
    if number:
        return _Token("number", _number(number.group()), i, number.group())
    if ch.isalpha() or ch == "_":
        return _lex_word(text, i, target)
    for op in _OPERATORS:
        if text.startswith(op, i):
            return _Token("op", _CANONICAL_OP.get(op, op), i, op)
    raise _Problem(f"unexpected character {ch!r}", i)


def _tokenize(text: str, target: _Target) -> list[_Token]:
    tokens, i = [], 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        tok = _lex_one(text, i, target)
        tokens.append(tok)
        i = tok.pos + len(tok.text)
    tokens.append(_Token("end", None, len(text), ""))
    return tokens


def _resolve(tok: _Token, target: _Target) -> _Field:
    """Maps an identifier token onto a table key or an attribute column."""
    prefix, name = tok.value
    if prefix is not None and prefix != "attr":
        table = target.tables[prefix]
        return _Field(f"{table.noun} {name!r}", table, name, "value", table.numeric)
    canonical = target.aliases.get(name.lower(), name.lower())
    if canonical not in target.attributes:
        known = ", ".join(sorted([*target.attributes, *target.aliases]))
        raise _Problem(f"unknown {target.noun} attribute {name!r} (known: {known})", tok.key_pos)
    expr, numeric = target.attributes[canonical]
    return _Field(f"attribute {name!r}", None, canonical, expr, numeric)


def _join(parts: list[tuple[str, list]], word: str) -> tuple[str, list]:
    if len(parts) == 1:
        return parts[0]
    return "(" + f" {word} ".join(sql for sql, _ in parts) + ")", [p for _, ps in parts for p in ps]


class _Parser:
    """Recursive descent over the tokens; each rule returns (SQL, params)."""

    def __init__(self, text: str, target: _Target) -> None:
        self.target = target
        self.tokens = _tokenize(text, target)
        self.i = 0

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        tok = self.tokens[self.i]
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return tok

    def at(self, kind: str, value: object) -> bool:
        return _is(self.peek(), kind, value)

    def skip(self, keyword: str) -> bool:
        """Consumes the keyword if it comes next."""
        found = self.at("kw", keyword)
        if found:
            self.take()
        return found

    def parse_filter(self) -> tuple[str, list]:
        sql, params = self.or_expr()
        tok = self.peek()
        if _is(tok, "punct", ")"):
            raise _Problem("unbalanced ')': no '(' to close", tok.pos)
        if tok.kind != "end":
            raise _Problem(f"expected AND, OR or the end of the filter, found {tok.text!r}", tok.pos)
        return f"({sql})", params

    def or_expr(self) -> tuple[str, list]:
        parts = [self.and_expr()]
        while self.skip("OR"):
            parts.append(self.and_expr())
        return _join(parts, "OR")

    def and_expr(self) -> tuple[str, list]:
        parts = [self.not_expr()]
        while self.skip("AND"):
            parts.append(self.not_expr())
        return _join(parts, "AND")

    def not_expr(self) -> tuple[str, list]:
        if not self.skip("NOT"):
            return self.primary()
        sql, params = self.not_expr()
        # COALESCE makes NULL (a missing attribute) false first, so NOT is a complement.
        return f"NOT COALESCE({sql}, 0)", params

    def primary(self) -> tuple[str, list]:
        opening = self.peek()
        if not self.at("punct", "("):
            return self.comparison()
        self.take()
        sql, params = self.or_expr()
        closing = self.take()
        if closing.kind == "end":
            raise _Problem("unbalanced '(': no matching ')'", opening.pos)
        if not _is(closing, "punct", ")"):
            raise _Problem(f"expected ')', AND or OR, found {closing.text!r}", closing.pos)
        return f"({sql})", params

    def comparison(self) -> tuple[str, list]:
        tok = self.take()
        if tok.kind != "ident":
            what = "an identifier such as metrics.<key> or params.<key>"
            raise _Problem(f"expected {what}, found {_describe(tok)}", tok.pos)
        field = _resolve(tok, self.target)
        op, op_tok = self.operator(tok)
        if op.startswith("IS"):
            return _null_check(field, present=op == "IS NOT NULL")
        values = self.in_list() if op.endswith("IN") else [self.literal(op_tok)]
        return _predicate(field, op, op_tok, values)

    def operator(self, ident: _Token) -> tuple[str, _Token]:
        tok = self.take()
        if tok.kind == "op" or (tok.kind == "kw" and tok.value in ("LIKE", "ILIKE", "IN")):
            return str(tok.value), tok
        if _is(tok, "kw", "NOT"):
            nxt = self.take()
            if nxt.kind == "kw" and nxt.value in ("LIKE", "ILIKE", "IN"):
                return f"NOT {nxt.value}", tok
            raise _Problem(f"expected LIKE, ILIKE or IN after NOT, found {_describe(nxt)}", nxt.pos)
        if _is(tok, "kw", "IS"):
            negated = self.skip("NOT")
            null = self.take()
            if _is(null, "kw", "NULL"):
                return ("IS NOT NULL" if negated else "IS NULL"), tok
            raise _Problem(f"expected NULL after IS, found {_describe(null)}", null.pos)
        raise _Problem(f"expected an operator after {ident.text!r}, found {_describe(tok)}", tok.pos)

    def literal(self, after: _Token) -> _Token:
        tok = self.take()
        if tok.kind in ("string", "number"):
            return tok
        hint = " (quote strings)" if tok.kind == "ident" else ""
        if _is(tok, "kw", "NULL"):
            hint = " (use IS NULL)"
        raise _Problem(f"expected a value after {after.text!r}, found {_describe(tok)}{hint}", tok.pos)

    def in_list(self) -> list[_Token]:
        opening = self.take()
        if not _is(opening, "punct", "("):
            raise _Problem(f"expected '(' after IN, found {_describe(opening)}", opening.pos)
        values = [self.literal(opening)]
        while True:
            tok = self.take()
            if _is(tok, "punct", ")"):
                return values
            if tok.kind == "end":
                raise _Problem("unbalanced '(': the IN list has no closing ')'", opening.pos)
            if not _is(tok, "punct", ","):
                raise _Problem(f"expected ',' or ')' in the IN list, found {tok.text!r}", tok.pos)
            values.append(self.literal(tok))


def _null_check(field: _Field, present: bool) -> tuple[str, list]:
    if field.table is None:
        return f"{field.expr} IS {'NOT ' if present else ''}NULL", []
    t = field.table
    where = f"SELECT {t.id_col} FROM {t.table} WHERE key = ?"
    return f"{t.outer} {'' if present else 'NOT '}IN ({where})", [field.key]


def _predicate(field: _Field, op: str, op_tok: _Token, values: list[_Token]) -> tuple[str, list]:
    """Compiles one comparison; key/value tables become an indexed ``IN`` subquery."""
    if "LIKE" in op:
        cond, params = _like(field, op, op_tok, values[0])
    elif field.numeric:
        cond, params = _compare(field.expr, op, [_as_number(field, v) for v in values])
    elif field.table is not None and all(v.kind == "number" for v in values):
        cond, params = _numeric_text(op, [v.value for v in values])
    else:
        texts = [v.value if v.kind == "string" else v.text for v in values]
        cond, params = _compare(field.expr, op, texts)
    if field.table is None:
        return cond, params
    t = field.table
    sql = f"{t.outer} IN (SELECT {t.id_col} FROM {t.table} WHERE key = ? AND {cond})"
    return sql, [field.key, *params]


def _compare(expr: str, op: str, values: list) -> tuple[str, list]:
    if op.endswith("IN"):
        return f"{expr} {op} ({', '.join('?' * len(values))})", values
    return f"{expr} {op} ?", values


def _numeric_text(op: str, numbers: list) -> tuple[str, list]:
    """Compares a text ``value`` column numerically, over values that are numbers."""
    positive = {"!=": "=", "NOT IN": "IN"}.get(op)
    if positive is None:
        sql, params = _compare("CAST(value AS REAL)", op, numbers)
        return f"{_IS_NUMBER} AND {sql}", params
    sql, params = _compare("CAST(value AS REAL)", positive, numbers)
    return f"NOT ({_IS_NUMBER} AND {sql})", params


def _like(field: _Field, op: str, op_tok: _Token, pattern: _Token) -> tuple[str, list]:
    if field.numeric:
        raise _Problem(f"operator {op} does not apply to numeric {field.label}", op_tok.pos)
    if pattern.kind != "string":
        raise _Problem(f"{op} needs a quoted pattern, found {pattern.text!r}", pattern.pos)
    negation = "NOT " if op.startswith("NOT") else ""
    if op.endswith("ILIKE"):
        return f"{field.expr} {negation}LIKE ?", [pattern.value]
    return f"{field.expr} {negation}GLOB ?", [_like_to_glob(str(pattern.value))]


def _like_to_glob(pattern: str) -> str:
    """Translates a LIKE pattern into the equivalent, case-sensitive GLOB pattern."""
    table = {"%": "*", "_": "?", "*": "[*]", "?": "[?]", "[": "[[]"}
    return "".join(table.get(ch, ch) for ch in pattern)


def _as_number(field: _Field, tok: _Token) -> int | float:
    if tok.kind == "number":
        return tok.value
    text = str(tok.value).strip()
    if field.table is None and _NUMBER.fullmatch(text):  # a quoted id, as MLflow writes them
        return _number(text)
    raise _Problem(f"{field.label} is numeric and cannot be compared with {tok.text}", tok.pos)


def _compile_filter(text: str | None, target: _Target) -> tuple[str, list]:
    if text is None or not text.strip():
        return "1", []
    try:
        return _Parser(text, target).parse_filter()
    except _Problem as problem:
        raise InvalidFilter(problem.message, text, problem.pos) from None


def _sort_expr(field: _Field) -> tuple[str, list]:
    if field.table is None:
        return field.expr, []
    t = field.table
    # Params and tags sort numbers numerically, before strings (SQLite orders REAL < TEXT).
    value = "value"
    if not t.numeric:
        value = f"CASE WHEN {_IS_NUMBER} THEN CAST(value AS REAL) ELSE value END"
    where = f"{t.id_col} = {t.outer} AND key = ?"
    return f"(SELECT {value} FROM {t.table} WHERE {where})", [field.key]


def _order_term(clause: str, target: _Target) -> tuple[str, list]:
    """Compiles one ``<identifier> [ASC|DESC]`` clause, missing values last."""
    parser = _Parser(clause, target)
    tok = parser.take()
    if tok.kind != "ident":
        raise _Problem(f"expected a column to order by, found {_describe(tok)}", tok.pos)
    expr, params = _sort_expr(_resolve(tok, target))
    direction = "ASC"
    nxt = parser.take()
    if nxt.kind == "ident" and nxt.value[0] is None and nxt.text.upper() in ("ASC", "DESC"):
        direction = nxt.text.upper()
        nxt = parser.take()
    if nxt.kind != "end":
        raise _Problem(f"expected ASC or DESC, found {nxt.text!r}", nxt.pos)
    if _NULLS_LAST:
        return f"{expr} {direction} NULLS LAST", params
    return f"{expr} IS NULL, {expr} {direction}", params + params


def _compile_order_by(order_by: Sequence[str] | str | None, target: _Target) -> tuple[str, list]:
    if isinstance(order_by, str):
        order_by = [order_by]
    terms, params = [], []
    for clause in order_by or ():
        try:
            sql, clause_params = _order_term(clause, target)
        except _Problem as problem:
            raise InvalidFilter(problem.message, clause, problem.pos) from None
        terms.append(sql)
        params.extend(clause_params)
    if not terms:
        return target.default_order, []
    return ", ".join([*terms, target.tiebreak]), params


def compile_run_filter(text: str | None) -> tuple[str, list]:
    """Compiles a run filter to an SQL boolean expression over ``runs`` aliased ``r``.

    Args:
        text: The filter, e.g. ``"metrics.acc > 0.9 and params.model = 'rf'"``.

    Returns:
        The parenthesized SQL expression and its parameters; ``("1", [])`` for an empty filter.

    Raises:
        InvalidFilter: The text is malformed; ``.position`` points at the offending token.
    """
    return _compile_filter(text, _RUNS)


def compile_run_order_by(order_by: Sequence[str] | None) -> tuple[str, list]:
    """Compiles run ``order_by`` clauses such as ``"metrics.acc DESC"`` to an ORDER BY body.

    Args:
        order_by: Clauses ``<identifier> [ASC|DESC]``; ASC by default. Missing values sort
            last in both directions; ``r.run_id`` is always the final tiebreak.

    Returns:
        The body (without ``ORDER BY``) and its parameters; ``"r.start_time DESC, r.run_id"``
        when no clause is given.

    Raises:
        InvalidFilter: A clause is malformed; ``.text`` is that clause.
    """
    return _compile_order_by(order_by, _RUNS)


def compile_trace_filter(text: str | None) -> tuple[str, list]:
    """Compiles a trace filter over ``traces`` aliased ``t``, as :func:`compile_run_filter`.

    Args:
        text: The filter, e.g. ``"status = 'ERROR' and latency_ms > 500"``.

    Returns:
        The SQL expression and its parameters; ``("1", [])`` for an empty filter.
    """
    return _compile_filter(text, _TRACES)


def compile_trace_order_by(order_by: Sequence[str] | None) -> tuple[str, list]:
    """Compiles trace ``order_by`` clauses, as :func:`compile_run_order_by`.

    Args:
        order_by: Clauses such as ``"latency_ms DESC"``.

    Returns:
        The body and its parameters; ``"t.start_ns DESC, t.trace_id"`` when none is given.
    """
    return _compile_order_by(order_by, _TRACES)
