"""The search filter language, compiled to parameterized SQL for SQLite or PostgreSQL.

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

Identifiers and values never enter the SQL text: every one is a ``?`` parameter (``%s`` for
PostgreSQL).

Dialects: every ``compile_*`` function takes ``dialect="sqlite"`` (the default) or
``"postgres"``. Both give the same answers: PostgreSQL stores a metric's NaN natively, so its
SQL reads it as NULL (``NULLIF``); it tests whether a text is a number with a regular
expression before casting it (a cast never raises), compares text bytewise (``COLLATE "C"``,
as SQLite's BINARY), matches ``LIKE`` without an escape character (as SQLite's ``GLOB``) and
sorts params and tags as SQLite does (numbers first, numerically, then text).

Limits, each refused with an :class:`~logwright.exceptions.InvalidFilter` that says which:
a filter (and each ``order_by`` clause) has at most ``MAX_FILTER_LENGTH`` characters,
``MAX_NESTING`` levels of parentheses and ``NOT``, ``MAX_COMPARISONS`` comparisons and
``MAX_VALUES`` values (each ``IN`` item counts); ``order_by`` has at most
``MAX_ORDER_BY`` clauses; a number literal must be within the float range. ``AND`` and
``OR`` chains are n-ary and are compiled as shallow trees, so the SQL stays within
SQLite's parser-stack, expression-depth and variable limits; a filter inside the limits
that would still be too deep for SQLite (only contrived shapes are) is refused as too
complex. Lone surrogates in a filter become U+FFFD, as they do in logged keys and values.
"""

from __future__ import annotations

import base64
import binascii
import numbers
import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from logwright.exceptions import InvalidFilter, InvalidPageToken

__all__ = [
    "MAX_COMPARISONS",
    "MAX_FILTER_LENGTH",
    "MAX_NESTING",
    "MAX_ORDER_BY",
    "MAX_RESULTS",
    "MAX_VALUES",
    "check_max_results",
    "compile_run_filter",
    "compile_run_order_by",
    "compile_trace_filter",
    "compile_trace_order_by",
    "decode_page_token",
    "encode_page_token",
]

MAX_FILTER_LENGTH = 10_000
"""Characters in one filter or one ``order_by`` clause."""
MAX_NESTING = 50
"""Levels of parentheses and ``NOT`` inside each other."""
MAX_COMPARISONS = 1_000
"""Comparisons (``IS NULL`` included) in one filter."""
MAX_VALUES = 2_000
"""Literal values in one filter, each ``IN`` list item counted."""
MAX_ORDER_BY = 20
"""Clauses in one ``order_by``."""
MAX_RESULTS = 1_000_000_000
"""The largest page size ``check_max_results`` accepts."""

_KEYWORDS = frozenset({"AND", "OR", "NOT", "LIKE", "ILIKE", "IN", "IS", "NULL"})
_OPERATORS = ("<=", ">=", "<>", "!=", "==", "=", "<", ">")
_CANONICAL_OP = {"<>": "!=", "==": "="}
_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEY = re.compile(r"[A-Za-z0-9_./:-]+")
_NULLS_LAST = sqlite3.sqlite_version_info >= (3, 30, 0)
# A TEXT column compared with a NUMERIC expression gets numeric affinity, which converts
# exactly the well-formed number literals ('10', '-2', '0.01', '1e-3'), never '10abc'.
_IS_NUMBER = "value = CAST(value AS NUMERIC)"
# PostgreSQL: what SQLite's numeric affinity takes for a number (no exponent beyond 3 digits,
# so the NUMERIC cast cannot overflow); checked before the cast in a CASE, never after it.
_PG_NUMBER_RE = r"^\s*[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]{1,3})?\s*$"
_INT64 = 2**63
_SURROGATE = re.compile("[\ud800-\udfff]")
# SQLite parses with a fixed stack of 100 entries (its default build) and refuses
# expression trees deeper than 1000. In a store's query, beside the costliest comparison
# (a numeric param test), 72 nesting entries are left (measured with SQLite 3.40; see
# _Expr.stack); chains are split into groups of _CHUNK so none is deep.
_STACK_BUDGET = 60
_HEIGHT_BUDGET = 800
_LEAF_HEIGHT = 8
_CHUNK = 32
_ASCENDING = "\0asc\0"  # marks a sort key that is ascending whatever the clause's direction
_MAX_OFFSET_DIGITS = 18  # page offsets below 10**18: offset + page size fits SQLite's int64


@dataclass(frozen=True)
class _Table:
    """A key/value table hanging off the searched row: metrics, params or tags."""

    noun: str
    table: str
    id_col: str
    outer: str
    numeric: bool
    columns: tuple[str, ...] = ()  # set: the key names one of these columns (datasets), not a stored key


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
    prefixes={**_ATTR, **_TAG, "run": "attr", "metrics": "metric", "metric": "metric", "params": "param",
              "param": "param", "parameters": "param", "parameter": "param", "datasets": "dataset",
              "dataset": "dataset"},
    tables={
        "metric": _Table("metric", "latest_metrics", "run_id", "r.run_id", numeric=True),
        "param": _Table("param", "params", "run_id", "r.run_id", numeric=False),
        "tag": _Table("tag", "tags", "run_id", "r.run_id", numeric=False),
        "dataset": _Table("dataset", "inputs", "run_id", "r.run_id", numeric=False,
                          columns=("name", "digest", "context")),
    },
    attributes={
        **_columns("r", "run_id run_name status user source parent_run_id description", ""),
        **_columns("r", "", "start_time end_time experiment_id"),
        "duration": ("(r.end_time - r.start_time)", True),
        "artifact_uri": ("", False),  # built by _artifact_uri: it needs the store's artifact root
    },
    aliases={"name": "run_name", "run name": "run_name", "user_id": "user", "created": "start_time"},
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


@dataclass(frozen=True)
class _Dialect:
    """How one SQL engine spells what the compiler emits."""

    name: str
    mark: str  # a parameter placeholder
    true: str
    false: str
    metric_value: str  # a metric's latest value, NaN read as NULL
    is_number: str  # whether a text ``value`` is a well-formed number
    number: str  # a text ``value`` as a number (where is_number holds)
    number_param: str  # a placeholder compared with ``number``
    text: str  # a text ``value`` compared bytewise


_SQLITE = _Dialect("sqlite", "?", "1", "0", "value", _IS_NUMBER, "CAST(value AS REAL)", "?", "value")
_POSTGRES = _Dialect(
    "postgres", "%s", "TRUE", "FALSE", "NULLIF(value, 'NaN'::float8)", f"value ~ '{_PG_NUMBER_RE}'",
    f"(CASE WHEN value ~ '{_PG_NUMBER_RE}' THEN CAST(value AS NUMERIC) END)", "CAST(%s AS NUMERIC)",
    'value COLLATE "C"',
)
_DIALECTS = {"sqlite": _SQLITE, "postgres": _POSTGRES, "postgresql": _POSTGRES}


def _dialect(name: str) -> _Dialect:
    try:
        return _DIALECTS[name]
    except KeyError:
        raise ValueError(f"unknown SQL dialect {name!r} (use 'sqlite' or 'postgres')") from None


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


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else f"{text[: limit - 10]}...{text[-6:]} ({len(text):,} characters)"


def _number(text: str, pos: int) -> int | float:
    """An int when the literal is an integer within int64, else a float; inf is refused."""
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _Problem(f"number {_shorten(text)} is out of range (beyond +-1.8e308)", pos)
    digits = text.lstrip("-").lstrip("0")
    if not any(c in text for c in ".eE") and len(digits) <= 19 and -_INT64 <= int(text) < _INT64:
        return int(text)
    return value


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
    word = _WORD.match(text, i).group()  # type: ignore[union-attr]  # checked by _lex_one
    end = i + len(word)
    if not text.startswith(".", end):
        if word.upper() in _KEYWORDS:
            return _Token("kw", word.upper(), i, word)
        return _Token("ident", (None, word), i, word, i)
    return _lex_key(text, i, word, end, target)


def _lex_backticked(text: str, i: int, target: _Target) -> _Token:
    """A backtick-quoted prefix (`` `metrics`.acc ``, as MLflow takes) or bare attribute name."""
    word, end = _lex_quoted(text, i)
    if text.startswith(".", end):
        return _lex_key(text, i, word, end, target)
    return _Token("ident", (None, word), i, text[i:end], i)


def _lex_key(text: str, i: int, word: str, end: int, target: _Target) -> _Token:
    """The ``<prefix>.<key>`` identifier whose prefix ``word`` ends at ``end`` (the dot)."""
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
        if k < len(text) and not text[k].isspace():
            message = f"unquoted keys are letters, digits and _ . / - :, found {text[k]!r} (quote the key in backticks)"
            raise _Problem(message, k)
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
        return _Token("number", _number(number.group(), i), i, number.group())
    if _WORD.match(text, i):
        return _lex_word(text, i, target)
    if ch == "`":
        return _lex_backticked(text, i, target)
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


def _resolve(tok: _Token, target: _Target, dialect: _Dialect = _SQLITE) -> _Field:
    """Maps an identifier token onto a table key or an attribute column."""
    prefix, name = tok.value
    if prefix is not None and prefix != "attr":
        table = target.tables[prefix]
        if table.columns:
            if name.lower() not in table.columns:
                known = ", ".join(table.columns)
                raise _Problem(f"unknown {table.noun} field {name!r} (known: {known})", tok.key_pos)
            expr = dialect.text.replace("value", name.lower())
            return _Field(f"{table.noun} {name.lower()!r}", table, name.lower(), expr, False)
        expr = dialect.metric_value if table.numeric else dialect.text
        return _Field(f"{table.noun} {name!r}", table, name, expr, table.numeric)
    canonical = target.aliases.get(name.lower(), name.lower())
    if canonical not in target.attributes:
        known = ", ".join(sorted([*target.attributes, *target.aliases]))
        raise _Problem(f"unknown {target.noun} attribute {name!r} (known: {known})", tok.key_pos)
    expr, numeric = target.attributes[canonical]
    if canonical == "artifact_uri":
        expr = _artifact_uri(dialect)
    return _Field(f"attribute {name!r}", None, canonical, expr, numeric)


def _artifact_uri(dialect: _Dialect) -> str:
    """A run's artifact URI in SQL: its experiment's location (or ``<root>/<experiment id>``,
    the root a parameter) then ``/<run_id>``, as the stores' ``artifact_dir`` builds it."""
    location = "(SELECT e.artifact_location FROM experiments e WHERE e.experiment_id = r.experiment_id)"
    root = "CAST(%s AS TEXT)" if dialect is _POSTGRES else "?"
    return f"(COALESCE(RTRIM({location}, '/'), {root} || '/' || r.experiment_id) || '/' || r.run_id)"


@dataclass(frozen=True)
class _Expr:
    """A compiled boolean expression and what its nesting costs SQLite's parser.

    ``op`` is ``AND`` or ``OR`` for a chain (parenthesized inside another chain or after
    NOT; ``parts`` holds its operands) and None for a comparison or a NOT. ``stack``
    counts the parser-stack entries its nesting takes beyond one comparison's own;
    ``height`` estimates its expression-tree height.
    """

    sql: str
    params: list
    op: str | None = None
    parts: tuple[_Expr, ...] = ()
    stack: int = 0
    height: int = _LEAF_HEIGHT


def _join(items: Sequence[_Expr], op: str) -> _Expr:
    """Joins operands left to right; SQLite parses ``a OR b OR c`` as ``(a OR b) OR c``."""
    if len(items) == 1:
        return items[0]
    texts, params, stack, height = [], [], 0, 0
    for k, item in enumerate(items):
        wrap = item.op is not None
        texts.append(f"({item.sql})" if wrap else item.sql)
        params.extend(item.params)
        # The first operand is parsed on an empty stack, the others after "<expr> OP".
        stack = max(stack, (2 if k else 0) + wrap + item.stack)
        height = max(height, len(items) - max(k, 1) + item.height)
    return _Expr(f" {op} ".join(texts), params, op, (), stack, height)


def _chain(parts: list[_Expr], op: str) -> _Expr:
    """An n-ary AND or OR as a shallow tree: the most nested operand first, then the rest.

    Operands that are chains of the same operator are merged. The costliest operand goes
    first (parsed on an empty stack, one level below the root); the others follow in one
    parenthesized group, split into groups of ``_CHUNK`` so no chain is deep.
    """
    if len(parts) == 1:
        return parts[0]
    flat = [p for part in parts for p in (part.parts if part.op == op else (part,))]
    flat.sort(key=lambda e: (e.stack, e.height), reverse=True)  # stable
    rest = flat[1:]
    while len(rest) > _CHUNK:
        rest = [_join(rest[i : i + _CHUNK], op) for i in range(0, len(rest), _CHUNK)]
    tail = _join(rest, op)
    return replace(_join([flat[0], tail], op), parts=tuple(flat))


def _negate(inner: _Expr) -> _Expr:
    wrap = inner.op is not None
    sql = f"NOT ({inner.sql})" if wrap else f"NOT {inner.sql}"
    return _Expr(sql, inner.params, None, (), 1 + wrap + inner.stack, 1 + inner.height)


class _Parser:
    """Recursive descent over the tokens; each rule returns an :class:`_Expr`."""

    def __init__(self, text: str, target: _Target, dialect: _Dialect = _SQLITE,
                 artifact_root: str | None = None) -> None:
        self.target = target
        self.dialect = dialect
        self.artifact_root = artifact_root
        self.tokens = _tokenize(text, target)
        self.i = 0
        self.depth = 0  # enclosing parentheses and NOTs
        self.negations = 0  # enclosing NOTs
        self.comparisons = 0
        self.values = 0

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

    def enter(self, tok: _Token) -> None:
        """Opens one level of nesting at ``tok`` (a '(' or a NOT)."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise _Problem(f"the filter nests more than {MAX_NESTING} levels of parentheses and NOT", tok.pos)

    def parse_filter(self) -> tuple[str, list]:
        expr = self.or_expr()
        tok = self.peek()
        if _is(tok, "punct", ")"):
            raise _Problem("unbalanced ')': no '(' to close", tok.pos)
        if tok.kind != "end":
            raise _Problem(f"expected AND, OR or the end of the filter, found {tok.text!r}", tok.pos)
        if expr.stack > _STACK_BUDGET or expr.height > _HEIGHT_BUDGET:
            raise _Problem("the filter is too complex for SQLite: nest fewer parentheses and NOTs", 0)
        return f"({expr.sql})", expr.params

    def or_expr(self) -> _Expr:
        parts = [self.and_expr()]
        while self.skip("OR"):
            parts.append(self.and_expr())
        return _chain(parts, "OR")

    def and_expr(self) -> _Expr:
        parts = [self.not_expr()]
        while self.skip("AND"):
            parts.append(self.not_expr())
        return _chain(parts, "AND")

    def not_expr(self) -> _Expr:
        if not self.at("kw", "NOT"):
            return self.primary()
        self.enter(self.take())
        self.negations += 1
        inner = self.not_expr()
        self.negations -= 1
        self.depth -= 1
        return _negate(inner)

    def primary(self) -> _Expr:
        opening = self.peek()
        if not self.at("punct", "("):
            return self.comparison()
        self.enter(self.take())
        expr = self.or_expr()
        closing = self.take()
        if closing.kind == "end":
            raise _Problem("unbalanced '(': no matching ')'", opening.pos)
        if not _is(closing, "punct", ")"):
            raise _Problem(f"expected ')', AND or OR, found {closing.text!r}", closing.pos)
        self.depth -= 1
        return expr

    def comparison(self) -> _Expr:
        tok = self.take()
        if tok.kind != "ident":
            what = "an identifier such as metrics.<key> or params.<key>"
            raise _Problem(f"expected {what}, found {_describe(tok)}", tok.pos)
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            raise _Problem(f"the filter has more than {MAX_COMPARISONS:,} comparisons", tok.pos)
        dialect = self.dialect
        field = _resolve(tok, self.target, dialect)
        op, op_tok = self.operator(tok)
        if op.startswith("IS") and field.key == "artifact_uri" and field.table is None:
            return _Expr(dialect.false if op == "IS NULL" else dialect.true, [])  # every run has one
        if op.startswith("IS"):
            return _Expr(*_null_check(field, op == "IS NOT NULL", dialect))
        values = self.in_list() if op.endswith("IN") else [self.literal(op_tok)]
        sql, params = _predicate(field, op, op_tok, values, dialect)
        if field.key == "artifact_uri" and field.table is None:
            if self.artifact_root is None:
                raise _Problem("attribute 'artifact_uri' is searched through search_runs only", tok.pos)
            params = [self.artifact_root.rstrip("/"), *params]  # the expression comes first in the SQL
        if self.negations and field.table is None:
            # A missing attribute makes the comparison NULL; NOT must see it as false.
            sql = f"COALESCE({sql}, {dialect.false})"
        return _Expr(sql, params)

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
            self.values += 1
            if self.values > MAX_VALUES:
                raise _Problem(f"the filter has more than {MAX_VALUES:,} values (IN items count one each)", tok.pos)
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


def _null_check(field: _Field, present: bool, dialect: _Dialect = _SQLITE) -> tuple[str, list]:
    if field.table is None:
        return f"{field.expr} IS {'NOT ' if present else ''}NULL", []
    t = field.table
    if t.columns:
        where = f"SELECT {t.id_col} FROM {t.table} WHERE {field.key} IS NOT NULL"
        return f"{t.outer} {'' if present else 'NOT '}IN ({where})", []
    where = f"SELECT {t.id_col} FROM {t.table} WHERE key = {dialect.mark}"
    return f"{t.outer} {'' if present else 'NOT '}IN ({where})", [field.key]


def _predicate(field: _Field, op: str, op_tok: _Token, values: list[_Token],
               dialect: _Dialect = _SQLITE) -> tuple[str, list]:
    """Compiles one comparison; key/value tables become an indexed ``IN`` subquery."""
    mark = dialect.mark
    if "LIKE" in op:
        cond, params = _like(field, op, op_tok, values[0], dialect)
    elif field.numeric:
        cond, params = _compare(field.expr, op, [_as_number(field, v) for v in values], mark)
    elif field.table is not None and field.table.columns:
        if any(v.kind != "string" for v in values):
            raise _Problem(f"{field.label} is compared with quoted strings (as MLflow's dataset filters)", op_tok.pos)
        cond, params = _compare(field.expr, op, [v.value for v in values], mark)
    elif field.table is not None and all(v.kind == "number" for v in values):
        cond, params = _numeric_text(op, [v.value for v in values], dialect)
    else:
        texts = [v.value if v.kind == "string" else v.text for v in values]
        cond, params = _compare(field.expr, op, texts, mark)
    if field.table is None:
        return cond, params
    t = field.table
    if t.columns:
        return f"{t.outer} IN (SELECT {t.id_col} FROM {t.table} WHERE {cond})", params
    sql = f"{t.outer} IN (SELECT {t.id_col} FROM {t.table} WHERE key = {mark} AND {cond})"
    return sql, [field.key, *params]


def _compare(expr: str, op: str, values: list, mark: str = "?") -> tuple[str, list]:
    if op.endswith("IN"):
        return f"{expr} {op} ({', '.join([mark] * len(values))})", values
    return f"{expr} {op} {mark}", values


def _numeric_text(op: str, numbers: list, dialect: _Dialect = _SQLITE) -> tuple[str, list]:
    """Compares a text ``value`` column numerically, over values that are numbers."""
    positive = {"!=": "=", "NOT IN": "IN"}.get(op)
    sql, params = _compare(dialect.number, positive or op, numbers, dialect.number_param)
    if positive is None:
        return f"{dialect.is_number} AND {sql}", params
    return f"NOT ({dialect.is_number} AND {sql})", params


def _like(field: _Field, op: str, op_tok: _Token, pattern: _Token,
          dialect: _Dialect = _SQLITE) -> tuple[str, list]:
    if field.numeric:
        raise _Problem(f"operator {op} does not apply to numeric {field.label}", op_tok.pos)
    if pattern.kind != "string":
        raise _Problem(f"{op} needs a quoted pattern, found {pattern.text!r}", pattern.pos)
    negation = "NOT " if op.startswith("NOT") else ""
    if dialect is _POSTGRES:  # no escape character: like SQLite's LIKE and GLOB
        like = "ILIKE" if op.endswith("ILIKE") else "LIKE"
        return f"{field.expr} {negation}{like} %s ESCAPE ''", [pattern.value]
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
        return _number(text, tok.pos)
    raise _Problem(f"{field.label} is numeric and cannot be compared with {tok.text}", tok.pos)


def _clean(text: object, what: str) -> str:
    """The text with lone surrogates replaced by U+FFFD; TypeError unless it is a string."""
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a string, not {type(text).__name__}: {_shorten(repr(text))}")
    return _SURROGATE.sub("\ufffd", text)


def _check_length(text: str, what: str) -> None:
    """InvalidFilter for a text over the limit; it quotes only the first characters past it."""
    if len(text) > MAX_FILTER_LENGTH:
        message = f"the {what} is {len(text):,} characters long; the limit is {MAX_FILTER_LENGTH:,}"
        raise InvalidFilter(message, text[: MAX_FILTER_LENGTH + 1], MAX_FILTER_LENGTH)


def _compile_filter(text: object, target: _Target, dialect: _Dialect = _SQLITE,
                    artifact_root: str | None = None) -> tuple[str, list]:
    if text is None:
        return dialect.true, []
    text = _clean(text, "a filter")
    _check_length(text, "filter")
    try:
        if not text.strip():
            return dialect.true, []
        return _Parser(text, target, dialect, artifact_root).parse_filter()
    except _Problem as problem:
        raise InvalidFilter(problem.message, text, problem.pos) from None


def _sort_exprs(field: _Field, dialect: _Dialect = _SQLITE) -> list[str]:
    """The sort keys of a field, each taking the field's key as its one parameter (if any).

    A metric sorts by a NaN flag first (ascending in both directions, missing values last
    after it), so NaN comes after every number and before runs without the metric, as in MLflow.
    """
    if field.table is None:
        return [field.expr]
    t = field.table
    where = f"{t.id_col} = {t.outer} AND key = {dialect.mark}"
    if t.numeric:
        flag = f"(SELECT CASE WHEN {field.expr} IS NULL THEN 1 ELSE 0 END FROM {t.table} WHERE {where})"
        return [_ASCENDING + flag, f"(SELECT {field.expr} FROM {t.table} WHERE {where})"]
    # Params and tags sort numbers numerically, before strings (SQLite orders REAL < TEXT).
    if dialect is _SQLITE:
        value = f"CASE WHEN {_IS_NUMBER} THEN CAST(value AS REAL) ELSE value END"
        return [f"(SELECT {value} FROM {t.table} WHERE {where})"]
    kinds = f"CASE WHEN {dialect.is_number} THEN 0 ELSE 1 END"
    return [f"(SELECT {value} FROM {t.table} WHERE {where})" for value in (kinds, dialect.number, dialect.text)]


def _order_term(clause: str, target: _Target, dialect: _Dialect = _SQLITE) -> tuple[str, list]:
    """Compiles one ``<identifier> [ASC|DESC]`` clause, missing values last."""
    parser = _Parser(clause, target, dialect)
    tok = parser.take()
    if tok.kind != "ident":
        raise _Problem(f"expected a column to order by, found {_describe(tok)}", tok.pos)
    field = _resolve(tok, target, dialect)
    if field.table is not None and field.table.columns:
        raise _Problem(f"runs cannot be ordered by {field.label} (a run may have many datasets)", tok.pos)
    if field.table is None and field.key == "artifact_uri":
        raise _Problem("runs cannot be ordered by artifact_uri (order by run_id or experiment_id)", tok.pos)
    exprs = _sort_exprs(field, dialect)
    params = [field.key] if field.table is not None else []
    direction = "ASC"
    nxt = parser.take()
    if nxt.kind == "ident" and nxt.value[0] is None and nxt.text.upper() in ("ASC", "DESC"):
        direction = nxt.text.upper()
        nxt = parser.take()
    if nxt.kind != "end":
        raise _Problem(f"expected ASC or DESC, found {nxt.text!r}", nxt.pos)
    terms = [(e[len(_ASCENDING):], "ASC") if e.startswith(_ASCENDING) else (e, direction) for e in exprs]
    if _NULLS_LAST or dialect is not _SQLITE:
        return ", ".join(f"{expr} {way} NULLS LAST" for expr, way in terms), params * len(exprs)
    return ", ".join(f"{expr} IS NULL, {expr} {way}" for expr, way in terms), params * (2 * len(exprs))


def _order_clauses(order_by: object) -> list[str]:
    """The clauses of an ``order_by`` argument, cleaned; TypeError for anything but strings."""
    if order_by is None:
        return []
    if isinstance(order_by, str):
        order_by = [order_by]
    if isinstance(order_by, (bytes, Mapping)) or not isinstance(order_by, Iterable):
        shown = _shorten(repr(order_by))
        raise TypeError(f"order_by must be a string or a list of strings, not {type(order_by).__name__}: {shown}")
    clauses = [_clean(clause, "an order_by clause") for clause in order_by]
    if len(clauses) > MAX_ORDER_BY:
        message = f"order_by has {len(clauses)} clauses; the limit is {MAX_ORDER_BY}"
        raise InvalidFilter(message, clauses[MAX_ORDER_BY], 0)
    return clauses


def _compile_order_by(order_by: object, target: _Target, dialect: _Dialect = _SQLITE) -> tuple[str, list]:
    terms, params = [], []
    for clause in _order_clauses(order_by):
        _check_length(clause, "order_by clause")
        try:
            sql, clause_params = _order_term(clause, target, dialect)
        except _Problem as problem:
            raise InvalidFilter(problem.message, clause, problem.pos) from None
        terms.append(sql)
        params.extend(clause_params)
    if not terms:
        return target.default_order, []
    return ", ".join([*terms, target.tiebreak]), params


def compile_run_filter(text: str | None, dialect: str = "sqlite", artifact_root: str | None = None) -> tuple[str, list]:
    """Compiles a run filter to an SQL boolean expression over ``runs`` aliased ``r``.

    Args:
        text: The filter, e.g. ``"metrics.acc > 0.9 and params.model = 'rf'"``.
        dialect: ``"sqlite"`` (``?`` placeholders) or ``"postgres"`` (``%s`` placeholders).
        artifact_root: the store's artifact root (experiments without a recorded location
            keep runs under ``<root>/<experiment_id>``); needed by ``attributes.artifact_uri``,
            which SQL needs ``experiments`` for (None: that attribute is refused).

    Returns:
        The parenthesized SQL expression and its parameters; ``("1", [])`` for an empty filter
        (``("TRUE", [])`` for PostgreSQL).

    Raises:
        InvalidFilter: The text is malformed or past a limit (see the module docstring);
            ``.position`` points at the offending token, ``.text`` is the text with lone
            surrogates replaced by U+FFFD (cut after ``MAX_FILTER_LENGTH + 1`` characters).
        TypeError: ``text`` is neither a string nor None.
    """
    return _compile_filter(text, _RUNS, _dialect(dialect), artifact_root)


def compile_run_order_by(order_by: Sequence[str] | str | None, dialect: str = "sqlite") -> tuple[str, list]:
    """Compiles run ``order_by`` clauses such as ``"metrics.acc DESC"`` to an ORDER BY body.

    Args:
        order_by: Clauses ``<identifier> [ASC|DESC]``; ASC by default. Missing values sort
            last in both directions; ``r.run_id`` is always the final tiebreak.
        dialect: ``"sqlite"`` or ``"postgres"``, as for :func:`compile_run_filter`.

    Returns:
        The body (without ``ORDER BY``) and its parameters; ``"r.start_time DESC, r.run_id"``
        when no clause is given.

    Raises:
        InvalidFilter: A clause is malformed or too long, or there are more than
            ``MAX_ORDER_BY``; ``.text`` is that clause.
        TypeError: ``order_by`` is not a string or an iterable of strings.
    """
    return _compile_order_by(order_by, _RUNS, _dialect(dialect))


def compile_trace_filter(text: str | None, dialect: str = "sqlite") -> tuple[str, list]:
    """Compiles a trace filter over ``traces`` aliased ``t``, as :func:`compile_run_filter`.

    Args:
        text: The filter, e.g. ``"status = 'ERROR' and latency_ms > 500"``.
        dialect: ``"sqlite"`` or ``"postgres"``.

    Returns:
        The SQL expression and its parameters; ``("1", [])`` for an empty filter.

    Raises:
        InvalidFilter: As :func:`compile_run_filter`.
        TypeError: ``text`` is neither a string nor None.
    """
    return _compile_filter(text, _TRACES, _dialect(dialect))


def compile_trace_order_by(order_by: Sequence[str] | str | None, dialect: str = "sqlite") -> tuple[str, list]:
    """Compiles trace ``order_by`` clauses, as :func:`compile_run_order_by`.

    Args:
        order_by: Clauses such as ``"latency_ms DESC"``.
        dialect: ``"sqlite"`` or ``"postgres"``.

    Returns:
        The body and its parameters; ``"t.start_ns DESC, t.trace_id"`` when none is given.

    Raises:
        InvalidFilter: As :func:`compile_run_order_by`.
        TypeError: As :func:`compile_run_order_by`.
    """
    return _compile_order_by(order_by, _TRACES, _dialect(dialect))


def encode_page_token(offset: int) -> str:
    """The opaque ``page_token`` for the page that starts ``offset`` rows in.

    Args:
        offset: Rows to skip, 0 or more.

    Returns:
        URL-safe base64 of the decimal offset (the format every earlier version wrote).
    """
    return base64.urlsafe_b64encode(str(int(offset)).encode()).decode()


def decode_page_token(token: object) -> int:
    """The offset a ``page_token`` from :func:`encode_page_token` stands for.

    Args:
        token: The ``.token`` of a previous page; None or ``""`` means the first page.

    Returns:
        The number of rows to skip.

    Raises:
        InvalidPageToken: The token is not one :func:`encode_page_token` writes (garbage,
            truncated, edited, not a string, or an offset of 10**18 or more).
    """
    if token is None or token == "":
        return 0
    if isinstance(token, str) and token.isascii() and len(token) <= 4 * _MAX_OFFSET_DIGITS:
        try:
            raw = base64.b64decode(token, altchars=b"-_", validate=True)
        except binascii.Error:
            raw = b""
        if raw.isdigit() and len(raw) <= _MAX_OFFSET_DIGITS and encode_page_token(int(raw)) == token:
            return int(raw)
    raise InvalidPageToken(token)


def check_max_results(max_results: object) -> int:
    """Checks a page size: an int (bool refused) from 1 to ``MAX_RESULTS``.

    Args:
        max_results: The ``max_results`` a caller passed.

    Returns:
        It, as a plain int.

    Raises:
        ValueError: It is not an int, or is out of range; the message names it.
    """
    if isinstance(max_results, bool) or not isinstance(max_results, numbers.Integral):
        shown = _shorten(repr(max_results))
        raise ValueError(f"max_results must be an int from 1 to {MAX_RESULTS:,}, not {shown}")
    if not 1 <= max_results <= MAX_RESULTS:
        raise ValueError(f"max_results must be from 1 to {MAX_RESULTS:,}, not {int(max_results)}")
    return int(max_results)
