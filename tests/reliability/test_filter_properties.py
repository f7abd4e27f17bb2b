"""Property tests of the filter language, against a real SQLite store built by the migrations.

- Any text, any ``order_by``: the compilers return ``(sql, params)`` or raise ``InvalidFilter``.
- Well-formed filters, shallow or nested to the limits: the SQL runs, in the shape the
  store's queries give it, without an ``sqlite3`` error.
- Well-formed filters match exactly the runs a plain-Python model of the documented
  semantics picks (``params.k = 'v'`` the runs whose param k is v, ``NOT`` the complement,
  ``AND``/``OR`` intersection and union, NaN and missing values never matching).
"""

from __future__ import annotations

import math
import random
import re
import sqlite3
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logwright.exceptions import InvalidFilter
from logwright.search import (
    MAX_FILTER_LENGTH,
    compile_run_filter,
    compile_run_order_by,
    compile_trace_filter,
    compile_trace_order_by,
)
from logwright.store.migrations import migrate

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SQL = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FILTERS = [compile_run_filter, compile_trace_filter]
ORDERS = [compile_run_order_by, compile_trace_order_by]

# -- the stored runs ---------------------------------------------------------------------

SURROGATE = "\udce9"
KEYS = ["a", "b", "k y", "x`q", 'd"q', "k\ufffd"]  # as stored: lone surrogates became U+FFFD
NUMERIC_TEXTS = {"1": 1.0, "10": 10.0, "-2": -2.0, "0.5": 0.5, "1e3": 1000.0}
TEXTS = [*NUMERIC_TEXTS, "abc", "ABC", "", "a%b", "a_b", "a*b", "[x]", "\ufffd", "it's", 'say "hi"', "é"]
METRIC_VALUES = [0.0, 1.0, -2.5, 10.0, 1e300, math.nan, math.inf, -math.inf]
STATUSES = ["FINISHED", "FAILED", "RUNNING"]
RUN_NAMES = [None, "alpha", "Beta", "\ufffd", "a%b"]


@dataclass(frozen=True)
class StoredRun:
    run_id: str
    run_name: str | None
    status: str
    start_time: int
    end_time: int | None
    params: dict[str, str]
    tags: dict[str, str]
    metrics: dict[str, float]


def _make_runs(count: int = 24) -> list[StoredRun]:
    rng = random.Random(14)
    runs = []
    for i in range(count):
        def pick(pool):
            return {k: rng.choice(pool) for k in KEYS if rng.random() < 0.6}

        start = rng.randrange(0, 5000)
        end = None if rng.random() < 0.3 else start + rng.randrange(0, 5000)
        runs.append(StoredRun(f"run{i:02d}", rng.choice(RUN_NAMES), rng.choice(STATUSES), start, end,
                              pick(TEXTS), pick(TEXTS), pick(METRIC_VALUES)))
    return runs


RUNS = _make_runs()
ALL = frozenset(r.run_id for r in RUNS)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("filters") / "store.db")
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, path)
    for r in RUNS:
        conn.execute(
            "INSERT INTO runs (run_id, experiment_id, run_name, status, start_time, end_time) VALUES (?, 1, ?, ?, ?, ?)",
            (r.run_id, r.run_name, r.status, r.start_time, r.end_time),
        )
        conn.executemany("INSERT INTO params VALUES (?, ?, ?)", [(r.run_id, k, v) for k, v in r.params.items()])
        conn.executemany("INSERT INTO tags VALUES (?, ?, ?)", [(r.run_id, k, v) for k, v in r.tags.items()])
        conn.executemany(
            "INSERT INTO latest_metrics VALUES (?, ?, 0, ?, 0)",
            [(r.run_id, k, None if math.isnan(v) else v) for k, v in r.metrics.items()],
        )
    for i, r in enumerate(RUNS[:6]):
        conn.execute(
            "INSERT INTO traces (trace_id, experiment_id, run_id, name, status, start_ns, end_ns, span_count)"
            " VALUES (?, 1, ?, ?, ?, ?, ?, 1)",
            (f"t{i}", r.run_id, r.run_name, r.status, r.start_time * 10**6, None if r.end_time is None else r.end_time * 10**6),
        )
        conn.executemany("INSERT INTO trace_tags VALUES (?, ?, ?)", [(f"t{i}", k, v) for k, v in r.tags.items()])
    yield conn
    conn.close()


def run_query(db, text, order_by=None) -> set[str]:
    """Runs a compiled run filter the way the store does: inside its own conditions."""
    where, args = compile_run_filter(text)
    order, order_args = compile_run_order_by(order_by)
    sql = (f"SELECT r.run_id FROM runs r WHERE ({where}) AND r.experiment_id IN (?) AND r.lifecycle = ?"
           f" ORDER BY {order} LIMIT ? OFFSET ?")
    return {row[0] for row in db.execute(sql, [*args, 1, "active", *order_args, 10**6, 0])}


def trace_query(db, text, order_by=None) -> set[str]:
    where, args = compile_trace_filter(text)
    order, order_args = compile_trace_order_by(order_by)
    sql = (f"SELECT t.trace_id FROM traces t WHERE ({where}) AND t.experiment_id IN (?)"
           f" ORDER BY {order} LIMIT ? OFFSET ?")
    return {row[0] for row in db.execute(sql, [*args, 1, *order_args, 10**6, 0])}


# -- any text ----------------------------------------------------------------------------

WORDS = ["metrics.a", "params.`k y`", "tags.a", "attr.status", "status", "run_name", "name", "latency_ms",
         "start_time", "duration", "trace.name", "metrics.", "foo.bar", "and", "OR", "not", "NOT", "in", "like",
         "ILIKE", "is", "null", "(", ")", ",", "=", "!=", "<>", "<", ">=", "==", "'a'", "'it''s'", '"q"', "`k`",
         "1", "-2.5", "1e400", "9" * 400, ".5", "1e-400", "'", '"', "`", SURROGATE, "\x00", "é", "٣", "\u2028",
         "ASC", "desc", " ", "  "]
ANY_TEXT = st.text(max_size=200)  # every code point: surrogates, control characters, NUL
TOKEN_SOUP = st.lists(st.sampled_from(WORDS) | st.text(max_size=3), max_size=40).map(" ".join)


def compiles_or_refuses(compile_, value):
    try:
        sql, params = compile_(value)
    except InvalidFilter as exc:
        assert 0 <= exc.position <= len(exc.text)
        str(exc).encode("utf-8")  # no lone surrogate in the message
        return None
    assert isinstance(sql, str) and isinstance(params, list)
    sql.encode("utf-8")
    for p in params:
        assert isinstance(p, (str, int, float)) and not isinstance(p, bool)
        if isinstance(p, str):
            p.encode("utf-8")  # binds without UnicodeEncodeError
        if isinstance(p, int):
            assert -(2**63) <= p < 2**63
        if isinstance(p, float):
            assert math.isfinite(p)
    return sql, params


@FAST
@given(text=ANY_TEXT | TOKEN_SOUP)
def test_any_text_compiles_or_is_invalid_filter(db, text):
    for compile_ in FILTERS:
        compiles_or_refuses(compile_, text)


@SQL
@given(text=TOKEN_SOUP)
def test_token_soup_that_compiles_runs_in_sqlite(db, text):
    if compiles_or_refuses(compile_run_filter, text) is not None:
        run_query(db, text)
    if compiles_or_refuses(compile_trace_filter, text) is not None:
        trace_query(db, text)


@FAST
@given(order_by=ANY_TEXT | TOKEN_SOUP | st.lists(ANY_TEXT | TOKEN_SOUP, max_size=25))
def test_any_order_by_compiles_or_is_invalid_filter(db, order_by):
    for compile_ in ORDERS:
        if compiles_or_refuses(compile_, order_by) is not None:
            if compile_ is compile_run_order_by:
                run_query(db, None, order_by)
            else:
                trace_query(db, None, order_by)


# -- well-formed filters and a model of their meaning ------------------------------------


def clean(text: str) -> str:
    return re.sub("[\ud800-\udfff]", "\ufffd", text)


def quote(text: str, mark: str) -> str:
    return mark + text.replace(mark, mark * 2) + mark


def like_regex(pattern: str) -> re.Pattern:
    body = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL)


def ascii_fold(text: str) -> str:
    return "".join(c.lower() if c.isascii() else c for c in text)


@dataclass(frozen=True)
class Lit:
    text: str  # as written in the filter
    value: str | float  # a str for string literals, a float for numbers


@dataclass(frozen=True)
class Cmp:
    """``<field> <op> <literals>``: field is ("param"|"tag"|"metric", key) or ("attr", name)."""

    field: tuple[str, str]
    op: str
    lits: tuple[Lit, ...]
    spelled: str


@dataclass(frozen=True)
class Node:
    op: str  # AND, OR, NOT, PAREN
    kids: tuple


def _text_cmp(value: str, op: str, lits: tuple[Lit, ...]) -> bool:
    texts = [lit.value if isinstance(lit.value, str) else lit.text for lit in lits]
    texts = [clean(t) for t in texts]
    if op in ("IN", "NOT IN"):
        return (value in texts) == (op == "IN")
    return _ordered(value, op, texts[0])


def _ordered(a, op: str, b) -> bool:
    return {"=": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _number_cmp(value: float, op: str, lits: tuple[Lit, ...]) -> bool:
    numbers = [lit.value for lit in lits]
    if op in ("IN", "NOT IN"):
        return (value in numbers) == (op == "IN")
    return _ordered(value, op, numbers[0])


def _like(value: str, op: str, lit: Lit) -> bool:
    """LIKE is case-sensitive; ILIKE folds ASCII letters only (as SQLite does)."""
    pattern = clean(lit.value)
    if "ILIKE" in op:
        pattern, value = ascii_fold(pattern), ascii_fold(value)
    return (like_regex(pattern).fullmatch(value) is not None) != op.startswith("NOT")


def evaluate(node, run: StoredRun) -> bool:
    """What the README says the filter means, for one run."""
    if isinstance(node, Node):
        if node.op == "NOT":
            return not evaluate(node.kids[0], run)
        if node.op == "PAREN":
            return evaluate(node.kids[0], run)
        results = [evaluate(kid, run) for kid in node.kids[:-1]]  # the last is the spelling
        return all(results) if node.op == "AND" else any(results)
    kind, name = node.field
    if kind == "attr":
        value = {"status": run.status, "run_name": run.run_name, "start_time": run.start_time,
                 "end_time": run.end_time}[name]
    else:
        stored = {"param": run.params, "tag": run.tags, "metric": run.metrics}[kind]
        value = stored.get(clean(name))
    if node.op in ("IS NULL", "IS NOT NULL"):
        present = value is not None
        return present == (node.op == "IS NOT NULL")
    if value is None:
        return False
    if "LIKE" in node.op:
        return _like(value, node.op, node.lits[0])
    if kind == "metric" or name in ("start_time", "end_time"):
        return not (isinstance(value, float) and math.isnan(value)) and _number_cmp(value, node.op, node.lits)
    if kind in ("param", "tag") and all(isinstance(lit.value, float) for lit in node.lits):
        number = NUMERIC_TEXTS.get(value)
        if node.op in ("!=", "NOT IN"):
            positive = {"!=": "=", "NOT IN": "IN"}[node.op]
            return not (number is not None and _number_cmp(number, positive, node.lits))
        return number is not None and _number_cmp(number, node.op, node.lits)
    return _text_cmp(value, node.op, node.lits)


def render(node, need: int = 0) -> str:
    """The filter text; parentheses only where precedence needs them (OR 1 < AND 2 < NOT 3)."""
    if isinstance(node, Cmp):
        return node.spelled
    if node.op == "PAREN":
        return "(" + render(node.kids[0]) + ")"
    if node.op == "NOT":
        return f"{node.kids[1]} " + render(node.kids[0], 3)
    prec = 2 if node.op == "AND" else 1
    text = f" {node.kids[-1]} ".join(render(kid, prec) for kid in node.kids[:-1])
    return f"({text})" if prec < need else text


KEY_TEXT = st.sampled_from([*KEYS, "k" + SURROGATE, "missing", "a b`c\"d"])
STR_VALUE = st.sampled_from([*TEXTS, SURROGATE, "x" + SURROGATE, "zzz"]) | st.text(max_size=4)
LIKE_PATTERNS = st.sampled_from(["a%", "A%", "%b", "_BC", "a_b", "a%b", "%", "_", "a*b", "[x]", "É", "%\ufffd%",
                                 "al%", "AL%", "b%", "%" + SURROGATE, "it's", "%1", "1_3"]) | st.lists(
    st.sampled_from(list("aAbBé%_*?[]") + [SURROGATE]), max_size=5
).map("".join)
NUMBER = st.one_of(
    st.sampled_from([0, 1, 10, -2, 0.5, 1000, -2.5, 1e300, 2**63, 10**20]),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
)


@st.composite
def number_lits(draw) -> Lit:
    value = draw(NUMBER)
    text = repr(float(value)) if isinstance(value, float) else str(value)
    return Lit(text, float(text))


@st.composite
def string_lits(draw) -> Lit:
    value = draw(STR_VALUE)
    return Lit(quote(value, draw(st.sampled_from(["'", '"']))), value)


@st.composite
def spelled_key(draw, kind: str, key: str) -> str:
    prefix = draw(st.sampled_from({"param": ["params.", "param."], "tag": ["tags.", "tag."],
                                   "metric": ["metrics.", "metric."]}[kind]))
    bare = re.fullmatch(r"[A-Za-z0-9_./:-]+", key) and draw(st.booleans())
    return prefix + (key if bare else quote(key, draw(st.sampled_from(["`", '"']))))


@st.composite
def comparisons(draw) -> Cmp:
    kind = draw(st.sampled_from(["param", "tag", "metric", "attr"]))
    if kind == "attr":
        name = draw(st.sampled_from(["status", "run_name", "start_time", "end_time"]))
        spelled = draw(st.sampled_from([name, f"attributes.{name}", f"attr.{name.upper()}"]))
        numeric = name.endswith("_time")
    else:
        name = draw(KEY_TEXT)
        spelled = draw(spelled_key(kind, name))
        numeric = kind == "metric"
    ops = ["=", "!=", "<", "<=", ">", ">=", "IN", "NOT IN", "IS NULL", "IS NOT NULL"]
    if not numeric:
        ops += ["LIKE", "NOT LIKE", "ILIKE", "NOT ILIKE"]
    op = draw(st.sampled_from(ops))
    if op.startswith("IS"):
        return Cmp((kind, name), op, (), f"{spelled} {op}")
    if "LIKE" in op:
        pattern = draw(LIKE_PATTERNS)
        lit = Lit(quote(pattern, "'"), pattern)
        return Cmp((kind, name), op, (lit,), f"{spelled} {op.lower() if draw(st.booleans()) else op} {lit.text}")
    if numeric:
        lit_strategy = number_lits()
    elif kind == "attr":
        lit_strategy = string_lits()
    else:
        lit_strategy = st.one_of(string_lits(), number_lits())
    if op.endswith("IN"):
        lits = tuple(draw(st.lists(lit_strategy, min_size=1, max_size=4)))
        return Cmp((kind, name), op, lits, f"{spelled} {op} (" + ", ".join(lit.text for lit in lits) + ")")
    lit = draw(lit_strategy)
    return Cmp((kind, name), op, (lit,), f"{spelled} {op} {lit.text}")


def _combine(kids):
    keyword = st.sampled_from(["and", "AND", "And"]).map(lambda k: ("AND", k)) | st.sampled_from(
        ["or", "OR"]
    ).map(lambda k: ("OR", k))
    return st.one_of(
        st.tuples(keyword, st.lists(kids, min_size=2, max_size=4)).map(lambda t: Node(t[0][0], (*t[1], t[0][1]))),
        st.tuples(kids, st.sampled_from(["not", "NOT"])).map(lambda t: Node("NOT", t)),
        kids.map(lambda k: Node("PAREN", (k,))),
    )


EXPRESSIONS = st.recursive(comparisons(), _combine, max_leaves=20)


def _every_comparison():
    fields = [(kind, key) for kind in ("param", "tag", "metric") for key in [*KEYS, "k" + SURROGATE, "missing"]]
    fields += [("attr", name) for name in ("status", "run_name", "start_time", "end_time")]
    numbers = [Lit(t, float(t)) for t in ["0", "1", "-2", "0.5", "1000", "10", "1e300", "-2.5", "1e-3"]]
    strings = [Lit(quote(v, "'"), v) for v in [*TEXTS, *STATUSES, "alpha", "Beta", SURROGATE, "A", "b"]]
    patterns = ["a%", "A%", "%b", "_BC", "a_b", "a%b", "%", "_", "a*b", "[x]", "É", "é", "%\ufffd%", "al%", "AL%",
                "%1", "1_3", "%" + SURROGATE, "a[b", "?"]
    for kind, name in fields:
        spelled = name if kind == "attr" else f"{kind}s.{quote(name, '`')}"
        numeric = kind == "metric" or name.endswith("_time")
        for op in ["=", "!=", "<", "<=", ">", ">=", "IN", "NOT IN"]:
            lits = numbers if numeric else [*strings, *(numbers if kind != "attr" else [])]
            for lit in lits:
                cmp_lits = (lit, lits[0]) if op.endswith("IN") else (lit,)
                values = ", ".join(x.text for x in cmp_lits)
                yield Cmp((kind, name), op, cmp_lits, f"{spelled} {op} ({values})" if op.endswith("IN") else
                          f"{spelled} {op} {lit.text}")
        for op in ["IS NULL", "IS NOT NULL"]:
            yield Cmp((kind, name), op, (), f"{spelled} {op}")
        if not numeric:
            for op in ["LIKE", "NOT LIKE", "ILIKE", "NOT ILIKE"]:
                for pattern in patterns:
                    lit = Lit(quote(pattern, "'"), pattern)
                    yield Cmp((kind, name), op, (lit,), f"{spelled} {op} {lit.text}")


def test_every_comparison_over_the_stored_values_matches_the_model(db):
    checked = 0
    for cmp in _every_comparison():
        for expr in (cmp, Node("NOT", (cmp, "not"))):
            expected = {r.run_id for r in RUNS if evaluate(expr, r)}
            assert run_query(db, render(expr)) == expected, render(expr)
            checked += 1
    assert checked > 5000


@FAST
@given(cmp=comparisons(), negated=st.booleans())
def test_each_comparison_matches_what_the_model_says(db, cmp, negated):
    expr = Node("NOT", (cmp, "not")) if negated else cmp
    expected = {r.run_id for r in RUNS if evaluate(expr, r)}
    assert run_query(db, render(expr)) == expected, render(expr)


@SQL
@given(expr=EXPRESSIONS)
def test_filters_match_what_the_model_says(db, expr):
    text = render(expr)
    expected = {r.run_id for r in RUNS if evaluate(expr, r)}
    assert run_query(db, text) == expected, text


@SQL
@given(expr=EXPRESSIONS)
def test_not_is_the_complement_and_and_or_are_intersection_and_union(db, expr):
    text = render(expr)
    matched = run_query(db, text)
    assert run_query(db, f"not ({text})") == ALL - matched
    assert run_query(db, f"({text}) or not ({text})") == ALL
    assert run_query(db, f"({text}) and not ({text})") == set()


@SQL
@given(key=KEY_TEXT, value=STR_VALUE, table=st.sampled_from(["params", "tags"]), mark=st.sampled_from(["'", '"']))
def test_key_equals_value_matches_exactly_the_runs_holding_it(db, key, value, table, mark):
    text = f"{table}.{quote(key, '`')} = {quote(value, mark)}"
    attr = "params" if table == "params" else "tags"
    expected = {r.run_id for r in RUNS if getattr(r, attr).get(clean(key)) == clean(value)}
    assert run_query(db, text) == expected
    missing = {r.run_id for r in RUNS if clean(key) not in getattr(r, attr)}
    assert run_query(db, f"{table}.{quote(key, '`')} IS NULL") == missing


# -- deep and wide shapes against SQLite's limits ----------------------------------------

COSTLY_LEAVES = ["params.a != 1", "tags.b not in (1, 2)", "run_name = 'x'", "end_time > 5", "metrics.a != 1"]
STEPS = st.sampled_from(["not", "paren", "and_leaf", "or_leaf", "leaf_or", "double_and", "double_or", "wide"])


@st.composite
def deep_filters(draw) -> str:
    """A costly comparison, maybe doubled into a full tree, wrapped in up to 70 random steps."""
    text = draw(st.sampled_from(COSTLY_LEAVES))
    doublings = ["double_and", "double_or"] * draw(st.integers(0, 5))
    for step in doublings + draw(st.lists(STEPS, max_size=70)):
        leaf = draw(st.sampled_from(COSTLY_LEAVES))
        text = {
            "not": f"not {text}" if text.startswith(("(", "not ")) or " " not in text else f"not ({text})",
            "paren": f"({text})",
            "and_leaf": f"({text}) and {leaf}",
            "or_leaf": f"({text}) or {leaf}",
            "leaf_or": f"{leaf} or ({text})",
            "double_and": f"({text}) and ({text})",
            "double_or": f"({text}) or ({text})",
            "wide": f"({text}) or " + " or ".join([leaf] * 40),
        }[step]
        if len(text) > MAX_FILTER_LENGTH:
            break
    return text


@SQL
@given(text=deep_filters())
def test_any_filter_within_the_limits_runs_in_sqlite(db, text):
    try:
        compile_run_filter(text)
    except InvalidFilter as exc:
        message = str(exc).splitlines()[0]
        assert re.match(r"the filter (nests more than|is too complex|has more than|is [0-9,]+ characters)", message)
        return
    matched = run_query(db, text)  # no "parser stack overflow", no "Expression tree is too large"
    try:
        negated = run_query(db, f"not ({text})")
    except InvalidFilter:  # two levels more may pass a limit
        return
    assert negated == ALL - matched
