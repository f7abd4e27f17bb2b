"""The filter language, run against real SQLite and PostgreSQL stores built by the migrations."""

from __future__ import annotations

import sqlite3

import pytest

from logwright.exceptions import InvalidFilter
from logwright.search import (
    compile_run_filter,
    compile_run_order_by,
    compile_trace_filter,
    compile_trace_order_by,
)
from logwright.store.migrations import migrate

NAN = float("nan")
INF = float("inf")
T0 = 1_700_000_000_000_000_000  # ns
RUNS = [
    # run_id, experiment, name, status, start, end, user, metrics, params, tags
    (
        "r1", 1, "alpha", "FINISHED", 1000, 5000, "ann",
        {"acc": 0.9, "loss": 0.3, "train/loss": 0.25},
        {"lr": "0.01", "model": "rf", "depth": "10", "pat": "a*b"},
        {"logwright.git.commit": "abc123", "team": "Vision"},
    ),
    (
        "r2", 1, "beta", "FAILED", 2000, 2500, "bob",
        {"acc": 0.7, "loss": NAN},
        {"lr": "1e-3", "model": "RF", "depth": "9", "pat": "axb"},
        {"team": "vision"},
    ),
    (
        "r3", 1, "Gamma", "RUNNING", 3000, None, None,
        {"acc": INF, "my key": 1.0},
        {"lr": "abc", "model": "xgb", "my param": "x", "pat": "a[b]"},
        {},
    ),
    ("r4", 2, None, "FINISHED", 4000, 4100, None, {"acc": -INF}, {"lr": "-2"}, {}),
]  # fmt: skip
TRACES = [
    # trace_id, run, name, status, start_ns, end_ns, tokens, tags
    ("t1", "r1", "rag_pipeline", "OK", T0, T0 + 800_000_000, (100, 50, 150), {"user": "x"}),
    ("t2", None, "rag-lite", "ERROR", T0 + 10**9, T0 + 1_200_000_000, (5, 5, 10), {"user": "y"}),
    ("t3", None, "chat", "OK", T0 + 2 * 10**9, None, (None, None, None), {}),
]


class _Db:
    """A connection to a store built by the migrations, SQLite or PostgreSQL, and its dialect."""

    def __init__(self, conn, dialect):
        self.conn = conn
        self.dialect = dialect
        self.mark = "?" if dialect == "sqlite" else "%s"

    def execute(self, sql, params=()):
        return self.conn.execute(sql.replace("?", self.mark), params)

    def executemany(self, sql, rows):
        for row in rows:
            self.execute(sql, row)


def _open(backend, tmp_path_factory, request):
    if backend == "sqlite":
        path = str(tmp_path_factory.mktemp("search") / "store.db")
        conn = sqlite3.connect(path, isolation_level=None)
        migrate(conn, path)
        return _Db(conn, "sqlite"), lambda: None
    import psycopg

    from logwright.store.postgres_migrations import migrate as migrate_postgres

    server = request.getfixturevalue("postgres_server")
    name = server.create_database()
    conn = psycopg.connect(server.uri(name), autocommit=True)
    migrate_postgres(conn, name)
    return _Db(conn, "postgres"), lambda: server.drop_database(name)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def db(request, tmp_path_factory):
    conn, drop = _open(request.param, tmp_path_factory, request)
    for run_id, exp, name, status, start, end, user, metrics, params, tags in RUNS:
        conn.execute(
            'INSERT INTO runs (run_id, experiment_id, run_name, status, start_time, end_time, "user")'
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (run_id, exp, name, status, start, end, user),
        )
        for key, value in metrics.items():
            conn.execute("INSERT INTO latest_metrics VALUES (?, ?, 0, ?, 0)", (run_id, key, value))
        conn.executemany("INSERT INTO params VALUES (?, ?, ?)", [(run_id, k, v) for k, v in params.items()])
        conn.executemany("INSERT INTO tags VALUES (?, ?, ?)", [(run_id, k, v) for k, v in tags.items()])
    for trace_id, run_id, name, status, start, end, tokens, tags in TRACES:
        conn.execute(
            "INSERT INTO traces (trace_id, experiment_id, run_id, name, status, start_ns, end_ns,"
            " input_tokens, output_tokens, total_tokens, span_count)"
            " VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, 3)",
            (trace_id, run_id, name, status, start, end, *tokens),
        )
        conn.executemany(
            "INSERT INTO trace_tags VALUES (?, ?, ?)", [(trace_id, k, v) for k, v in tags.items()]
        )
    yield conn
    conn.conn.close()
    drop()


def runs(db, text=None, order_by=None):
    where, params = compile_run_filter(text, dialect=db.dialect)
    order, order_params = compile_run_order_by(order_by, dialect=db.dialect)
    sql = f"SELECT r.run_id FROM runs r WHERE {where} ORDER BY {order}"
    return [row[0] for row in db.conn.execute(sql, [*params, *order_params])]


def matching(db, text):
    return sorted(runs(db, text))


def traces(db, text=None, order_by=None):
    where, params = compile_trace_filter(text, dialect=db.dialect)
    order, order_params = compile_trace_order_by(order_by, dialect=db.dialect)
    sql = f"SELECT t.trace_id FROM traces t WHERE {where} ORDER BY {order}"
    return [row[0] for row in db.conn.execute(sql, [*params, *order_params])]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.acc > 0.8", ["r1", "r3"]),
        ("metrics.acc >= 0.9", ["r1", "r3"]),
        ("metrics.acc < 0.8", ["r2", "r4"]),
        ("metrics.acc <= 0.7", ["r2", "r4"]),
        ("metrics.acc = 0.7", ["r2"]),
        ("metric.acc == 0.7", ["r2"]),
        ("metrics.acc != 0.7", ["r1", "r3", "r4"]),
        ("metrics.acc <> 0.7", ["r1", "r3", "r4"]),
        ("metrics.acc IN (0.9, 0.7)", ["r1", "r2"]),
        ("metrics.acc NOT IN (0.9)", ["r2", "r3", "r4"]),
        ("metrics.acc > -1", ["r1", "r2", "r3"]),
        ("metrics.acc > 1e308", ["r3"]),
        ("metrics.acc < -1.5E+308", ["r4"]),
        ("metrics.train/loss < 0.3", ["r1"]),
        ("metrics.`my key` = 1", ["r3"]),
        ('metrics."my key" = 1.0', ["r3"]),
        ("metrics.acc>.8", ["r1", "r3"]),
    ],
)
def test_metric_comparisons(db, text, expected):
    assert matching(db, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.loss != 1", ["r1"]),
        ("metrics.loss < 1", ["r1"]),
        ("metrics.loss >= 0", ["r1"]),
        ("metrics.loss NOT IN (5)", ["r1"]),
        ("metrics.loss IS NOT NULL", ["r1", "r2"]),  # NaN is a value
        ("metrics.loss IS NULL", ["r3", "r4"]),
        ("NOT metrics.loss > 0", ["r2", "r3", "r4"]),
    ],
)
def test_nan_metric_never_matches_a_comparison(db, text, expected):
    assert matching(db, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("params.model = 'rf'", ["r1"]),
        ('param.model = "RF"', ["r2"]),
        ("params.model != 'rf'", ["r2", "r3"]),
        ("params.model <> 'rf'", ["r2", "r3"]),
        ("params.model IN ('rf', 'xgb')", ["r1", "r3"]),
        ("params.model NOT IN ('rf')", ["r2", "r3"]),
        ("params.model IS NULL", ["r4"]),
        ("params.model IS NOT NULL", ["r1", "r2", "r3"]),
        ("params.model > 'r'", ["r1", "r3"]),
        ("params.`my param` = 'x'", ["r3"]),
        ("params.depth < '9'", ["r1"]),  # strings compare as strings: '10' < '9'
    ],
)
def test_param_string_comparisons(db, text, expected):
    assert matching(db, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("params.lr = 0.01", ["r1"]),
        ("params.lr = 0.001", ["r2"]),  # '1e-3'
        ("params.lr = '0.001'", []),
        ("params.lr < 0.005", ["r2", "r4"]),
        ("params.lr > 0", ["r1", "r2"]),  # 'abc' is not a number
        ("params.lr >= -2", ["r1", "r2", "r4"]),
        ("params.lr <= -2", ["r4"]),
        ("params.lr != 0.01", ["r2", "r3", "r4"]),
        ("params.depth > 9", ["r1"]),
        ("params.depth < 10", ["r2"]),
        ("params.depth IN (9, 10)", ["r1", "r2"]),
        ("params.depth NOT IN (9)", ["r1"]),
        ("params.depth IN (9, '10')", ["r1", "r2"]),
    ],
)
def test_param_numeric_comparisons(db, text, expected):
    assert matching(db, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("params.model LIKE 'r%'", ["r1"]),
        ("params.model LIKE '_F'", ["r2"]),
        ("params.model ILIKE 'r%'", ["r1", "r2"]),
        ("params.model NOT LIKE 'r%'", ["r2", "r3"]),
        ("params.model not ilike 'R%'", ["r3"]),
        ("params.pat LIKE 'a*b'", ["r1"]),  # GLOB characters are literal in LIKE
        ("params.pat LIKE 'a?b'", []),
        ("params.pat LIKE 'a[b]'", ["r3"]),
        ("params.pat ILIKE 'A*B'", ["r1"]),
        ("name LIKE 'G%'", ["r3"]),
        ("name LIKE 'g%'", []),
        ("name ILIKE 'g%'", ["r3"]),
        ("tags.team LIKE 'V%'", ["r1"]),
        ("tags.team ILIKE 'VISION'", ["r1", "r2"]),
    ],
)
def test_like_is_case_sensitive_and_ilike_is_not(db, text, expected):
    assert matching(db, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tags.logwright.git.commit = 'abc123'", ["r1"]),
        ("tag.team = 'vision'", ["r2"]),
        ("tags.team != 'vision'", ["r1"]),
        ("tags.team < 'a'", ["r1"]),
        ("tags.team IN ('Vision', 'x')", ["r1"]),
        ("tags.team NOT IN ('x')", ["r1", "r2"]),
        ("tags.team IS NULL", ["r3", "r4"]),
        ("tags.team IS NOT NULL", ["r1", "r2"]),
        ("tags.`logwright.git.commit` LIKE 'abc%'", ["r1"]),
    ],
)
def test_tag_comparisons(db, text, expected):
    assert matching(db, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("status = 'FINISHED'", ["r1", "r4"]),
        ("attributes.status != 'FINISHED'", ["r2", "r3"]),
        ("attr.status IN ('FAILED', 'RUNNING')", ["r2", "r3"]),
        ("attribute.status NOT IN ('FAILED')", ["r1", "r3", "r4"]),
        ("run_name = 'alpha'", ["r1"]),
        ("run_name IS NULL", ["r4"]),
        ("name IS NOT NULL", ["r1", "r2", "r3"]),
        ("run_id = 'r2'", ["r2"]),
        ("user = 'ann'", ["r1"]),
        ("start_time >= 2000", ["r2", "r3", "r4"]),
        ("start_time > 2000", ["r3", "r4"]),
        ("start_time < 2000", ["r1"]),
        ("start_time <= 2000", ["r1", "r2"]),
        ("end_time IS NULL", ["r3"]),
        ("duration > 1000", ["r1"]),
        ("duration < 1000", ["r2", "r4"]),
        ("experiment_id = 2", ["r4"]),
        ("experiment_id = '1'", ["r1", "r2", "r3"]),
        ("NOT run_name = 'alpha'", ["r2", "r3", "r4"]),  # NOT is a complement
        ("STATUS = 'FAILED'", ["r2"]),
    ],
)
def test_attribute_comparisons(db, text, expected):
    assert matching(db, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("status = 'FINISHED' OR status = 'FAILED' AND metrics.acc > 0.8", ["r1", "r4"]),
        ("(status = 'FINISHED' OR status = 'FAILED') AND metrics.acc > 0.8", ["r1"]),
        ("NOT status = 'FINISHED' AND metrics.acc > 0", ["r2", "r3"]),
        ("NOT (status = 'FINISHED' AND metrics.acc > 0)", ["r2", "r3", "r4"]),
        ("not not status = 'FAILED'", ["r2"]),
        ("status = 'FINISHED' and metrics.acc > 0 oR name Like 'b%'", ["r1", "r2"]),
        ("((metrics.acc > 0.8)) and (params.model = 'rf' or params.model = 'xgb')", ["r1", "r3"]),
        ("metrics.acc > 0 AND params.lr > 0 AND tags.team IS NOT NULL", ["r1", "r2"]),
    ],
)
def test_boolean_precedence(db, text, expected):
    assert matching(db, text) == expected


@pytest.mark.parametrize("text", [None, "", "   "])
def test_empty_filter_matches_everything(db, text):
    assert compile_run_filter(text) == ("1", [])
    assert matching(db, text) == ["r1", "r2", "r3", "r4"]


def test_compiled_filter_is_wrapped_for_combination(db):
    where, params = compile_run_filter("status = 'FAILED' or status = 'RUNNING'", dialect=db.dialect)
    sql = f"SELECT run_id FROM runs r WHERE r.experiment_id = 2 AND {where}"
    assert db.conn.execute(sql, params).fetchall() == []


def test_identifiers_and_values_never_enter_the_sql():
    sql, params = compile_run_filter("params.secret_key = 'xyzzy' and tags.`odd key` LIKE 'v%'")
    assert "xyzzy" not in sql and "secret_key" not in sql and "odd key" not in sql
    assert params == ["secret_key", "xyzzy", "odd key", "v*"]


def test_sql_injection_matches_nothing_and_drops_nothing(db):
    assert matching(db, "params.x = 'a''; DROP TABLE runs; --'") == []
    assert matching(db, "params.`x'; DROP TABLE runs; --` = 'a'") == []
    assert matching(db, "run_name = 'x'' OR ''1''=''1'") == []
    assert db.execute("SELECT COUNT(*) FROM runs").fetchone() == (4,)


def test_quoted_strings_unescape_doubled_quotes(db):
    db.execute("BEGIN")
    try:
        db.execute("INSERT INTO tags VALUES ('r4', 'note', 'it''s \"ok\"')")
        assert matching(db, "tags.note = 'it''s \"ok\"'") == ["r4"]
        assert matching(db, 'tags.note = "it\'s ""ok"""') == ["r4"]
    finally:
        db.execute("ROLLBACK")


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (None, ["r4", "r3", "r2", "r1"]),
        ([], ["r4", "r3", "r2", "r1"]),
        (["metrics.acc DESC"], ["r3", "r1", "r2", "r4"]),
        (["metrics.acc"], ["r4", "r2", "r1", "r3"]),
        (["metrics.loss ASC"], ["r1", "r2", "r3", "r4"]),  # NaN and missing last
        (["metrics.loss DESC"], ["r1", "r2", "r3", "r4"]),
        (["params.depth DESC"], ["r1", "r2", "r3", "r4"]),  # numerically: 10 > 9
        (["params.depth"], ["r2", "r1", "r3", "r4"]),
        (["params.lr"], ["r4", "r2", "r1", "r3"]),  # numbers before strings
        (["name"], ["r3", "r1", "r2", "r4"]),
        (["name DESC"], ["r2", "r1", "r3", "r4"]),
        (["attributes.end_time DESC"], ["r1", "r4", "r2", "r3"]),
        (["attributes.end_time asc"], ["r2", "r4", "r1", "r3"]),
        (["attributes.start_time ASC"], ["r1", "r2", "r3", "r4"]),
        (["tags.team"], ["r1", "r2", "r3", "r4"]),
        (["tags.team DESC"], ["r2", "r1", "r3", "r4"]),
        (["status"], ["r2", "r1", "r4", "r3"]),  # run_id breaks the FINISHED tie
        (["status", "metrics.acc DESC"], ["r2", "r1", "r4", "r3"]),
        (["status DESC", "metrics.acc"], ["r3", "r4", "r1", "r2"]),
        ("duration DESC", ["r1", "r2", "r4", "r3"]),  # a bare string is one clause
    ],
)
def test_order_by(db, order_by, expected):
    assert runs(db, order_by=order_by) == expected


def test_order_by_defaults_and_tiebreak():
    assert compile_run_order_by(None) == ("r.start_time DESC, r.run_id", [])
    assert compile_trace_order_by(None) == ("t.start_ns DESC, t.trace_id", [])
    sql, params = compile_run_order_by(["metrics.acc DESC"])
    assert sql.endswith(", r.run_id") and params == ["acc", "acc"]  # the NaN flag, then the value


def test_order_by_combines_with_filter(db):
    assert runs(db, "metrics.acc > -1", ["metrics.acc DESC"]) == ["r3", "r1", "r2"]


@pytest.mark.parametrize(
    ("text", "position", "token"),
    [
        ("foo.bar = 1", 0, "'foo'"),
        ("attributes.colour = 'x'", 11, "'colour'"),
        ("colour = 'x'", 0, "'colour'"),
        ("params.x = 'abc", 11, "'abc"),
        ("params.`x = 'abc'", 7, "`x = 'abc'"),
        ("metrics.acc >", 13, "'>'"),
        ("metrics.acc > AND status = 'x'", 14, "'AND'"),
        ("status = FINISHED", 9, "'FINISHED'"),
        ("status = NULL", 9, "IS NULL"),
        ("(metrics.acc > 1", 0, "'('"),
        ("(metrics.acc > 1 status = 'x')", 17, "'status'"),
        ("metrics.acc > 1)", 15, "')'"),
        ("()", 1, "')'"),
        ("metrics.acc LIKE 'a%'", 12, "LIKE"),
        ("metrics.acc NOT ILIKE 'a%'", 12, "NOT ILIKE"),
        ("start_time LIKE '1%'", 11, "LIKE"),
        ("metrics.acc > 'high'", 14, "'high'"),
        ("metrics.acc IN (1, 'a')", 19, "'a'"),
        ("start_time > 'yesterday'", 13, "'yesterday'"),
        ("params.model LIKE 5", 18, "'5'"),
        ("metrics.acc 5", 12, "'5'"),
        ("metrics. = 1", 8, "'metrics.'"),
        ("metrics.acc > 1 status = 'x'", 16, "'status'"),
        ("metrics.acc > 1 $", 16, "'$'"),
        ("status NOT = 'x'", 11, "'='"),
        ("status IS 'x'", 10, "\"'x'\""),
        ("status IN 'a'", 10, "\"'a'\""),
        ("status IN ('a' 'b')", 15, "\"'b'\""),
        ("status IN ('a',)", 15, "')'"),
        ("status IN ('a'", 10, "IN list"),
        ("metrics.acc > 1 AND", 19, "end of the text"),
    ],
)
def test_errors_point_at_the_offending_token(text, position, token):
    with pytest.raises(InvalidFilter) as info:
        compile_run_filter(text)
    assert info.value.position == position
    assert token in str(info.value)
    assert info.value.text == text


@pytest.mark.parametrize(
    ("order_by", "position", "token"),
    [
        (["metrics.acc DOWN"], 12, "'DOWN'"),
        (["bogus"], 0, "'bogus'"),
        (["metrics.acc", "params.x DESC DESC"], 14, "'DESC'"),
        ([""], 0, "end of the text"),
        (["'acc'"], 0, "\"'acc'\""),
    ],
)
def test_order_by_errors(order_by, position, token):
    with pytest.raises(InvalidFilter) as info:
        compile_run_order_by(order_by)
    assert info.value.position == position
    assert token in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("status = 'OK'", ["t1", "t3"]),
        ("trace.status = 'ERROR'", ["t2"]),
        ("name LIKE 'rag%'", ["t1", "t2"]),
        ("name LIKE 'RAG%'", []),
        ("name ILIKE 'RAG%'", ["t1", "t2"]),
        ("latency_ms > 500", ["t1"]),
        ("latency_ms <= 200", ["t2"]),
        ("end_time IS NULL", ["t3"]),
        ("tags.user = 'x'", ["t1"]),
        ("tag.user IS NULL", ["t3"]),
        ("total_tokens >= 150 AND run_id = 'r1'", ["t1"]),
        ("input_tokens < 10 OR output_tokens > 40", ["t1", "t2"]),
        (f"start_time >= {T0 // 10**6 + 1000}", ["t2", "t3"]),
        ("span_count = 3 AND NOT status = 'OK'", ["t2"]),
        ("attributes.trace_id IN ('t1', 't3')", ["t1", "t3"]),
    ],
)
def test_trace_filters(db, text, expected):
    assert sorted(traces(db, text)) == expected


def test_trace_order_by(db):
    assert traces(db) == ["t3", "t2", "t1"]
    assert traces(db, order_by=["latency_ms DESC"]) == ["t1", "t2", "t3"]
    assert traces(db, order_by=["latency_ms"]) == ["t2", "t1", "t3"]
    assert traces(db, order_by=["tags.user DESC"]) == ["t2", "t1", "t3"]


@pytest.mark.parametrize(
    ("text", "position", "token"),
    [
        ("metrics.acc > 1", 0, "'metrics'"),
        ("params.x = 'a'", 0, "'params'"),
        ("run_name = 'a'", 0, "'run_name'"),
        ("latency_ms LIKE '5%'", 11, "LIKE"),
    ],
)
def test_trace_filter_errors(text, position, token):
    with pytest.raises(InvalidFilter) as info:
        compile_trace_filter(text)
    assert info.value.position == position
    assert token in str(info.value)
