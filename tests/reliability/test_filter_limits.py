"""Hostile filters, order_by clauses, page tokens and page sizes get a named error, never a crash.

Before: 1,000 nested NOTs raised RecursionError, a 5,000-digit number ValueError, a lone
surrogate UnicodeEncodeError, a non-ASCII letter AttributeError, 1,000 ORs an
``sqlite3.OperationalError``, a garbage page token ``binascii.Error``, and ``max_results=-1``
returned nothing. Each case here checks the exact message a user reads.
"""

from __future__ import annotations

import numpy as np
import pytest

import logwright as lw
from logwright.exceptions import InvalidFilter, InvalidPageToken
from logwright.search import (
    MAX_COMPARISONS,
    MAX_FILTER_LENGTH,
    MAX_NESTING,
    MAX_ORDER_BY,
    MAX_VALUES,
    check_max_results,
    compile_run_filter,
    compile_run_order_by,
    compile_trace_filter,
    compile_trace_order_by,
    decode_page_token,
    encode_page_token,
)

FILTERS = [compile_run_filter, compile_trace_filter]
ORDERS = [compile_run_order_by, compile_trace_order_by]
DIGITS_5000 = "9" * 5000
OUT_OF_RANGE_5000 = "number 999999999999999999999999999999...999999 (5,000 characters) is out of range (beyond +-1.8e308)"
# A parameterized numeric test on a param: the comparison that costs SQLite's parser most.
COSTLY = "params.x != 1"


def refused(compile_, text) -> InvalidFilter:
    with pytest.raises(InvalidFilter) as info:
        compile_(text)
    str(info.value).encode("utf-8")  # printable: no lone surrogates in the message
    return info.value


def headline(exc: Exception) -> str:
    return str(exc).splitlines()[0]


@pytest.fixture
def store(tmp_store):
    """Three runs: params x (1, 2, 'abc'), big (2**64), a surrogate key and value; metric m."""
    for i, x in enumerate(["1", "2", "abc"]):
        with lw.start_run(run_name=f"run{i}"):
            lw.log_params({"x": x, "big": str(2**64)})
            lw.log_metric("m", float(i))
            if i == 0:
                lw.log_param("key\udce9", "value\udce9")
    lw.flush()
    return tmp_store


def names(filter_string: str, **kwargs) -> list[str]:
    return sorted(r.info.run_name for r in lw.search_runs(filter=filter_string, **kwargs))


# -- nesting -------------------------------------------------------------------------


@pytest.mark.parametrize("compile_", FILTERS)
@pytest.mark.parametrize("count", [MAX_NESTING + 1, 1_000])
def test_deeply_nested_nots_are_refused(compile_, count):
    exc = refused(compile_, "not " * count + "status = 'x'")
    assert headline(exc) == f"the filter nests more than 50 levels of parentheses and NOT at position {4 * 50}:"
    assert exc.position == 200


@pytest.mark.parametrize("compile_", FILTERS)
@pytest.mark.parametrize("count", [MAX_NESTING + 1, 1_000])
def test_deeply_nested_parentheses_are_refused(compile_, count):
    exc = refused(compile_, "(" * count + "status = 'x'" + ")" * count)
    assert headline(exc) == "the filter nests more than 50 levels of parentheses and NOT at position 50:"


@pytest.mark.parametrize("compile_", FILTERS)
@pytest.mark.parametrize("text", ["not " * 100_000 + "status = 'x'", "(" * 100_000, "(" * 50_000 + ")" * 50_000])
def test_100000_levels_are_refused_by_length(compile_, text):
    exc = refused(compile_, text)
    assert headline(exc) == f"the filter is {len(text):,} characters long; the limit is 10,000 at position 10000:"


def test_fifty_levels_of_every_shape_run_in_the_store(store):
    shapes = {
        "nots": "not " * 50 + COSTLY,
        "parentheses": "(" * 50 + COSTLY + ")" * 50,
        "alternating": COSTLY,
        "negated groups": COSTLY,
    }
    for i in range(50):  # x != 1 or (x != 1 and (x != 1 or ...)): the group comes last
        shapes["alternating"] = f"{COSTLY} {'or' if i % 2 else 'and'} ({shapes['alternating']})"
    for _ in range(25):  # not (x != 1 or not (x != 1 or ...))
        shapes["negated groups"] = f"not ({COSTLY} or {shapes['negated groups']})"
    for name, text in shapes.items():
        assert names(text) in (["run1", "run2"], ["run0"], []), name  # ran without error
    assert names(shapes["nots"]) == ["run1", "run2"]  # 50 NOTs cancel out


def test_a_contrived_shape_too_deep_for_sqlite_is_refused_as_too_complex(store):
    tree = "user = 1"
    for i in range(6):  # a full binary tree six levels deep, under 43 NOTs
        tree = f"({tree}) {'or' if i % 2 else 'and'} ({tree})"
    exc = refused(compile_run_filter, "not " * 43 + f"({tree})")
    assert headline(exc) == "the filter is too complex for SQLite: nest fewer parentheses and NOTs at position 0:"
    shallower = "not " * 40 + f"({tree})"  # three levels less still runs
    assert names(shallower) == []


# -- size ------------------------------------------------------------------------------


@pytest.mark.parametrize("compile_", FILTERS)
def test_filter_length_limit(compile_):
    text = "status = 'x'"
    assert compile_(text + " " * (MAX_FILTER_LENGTH - len(text)))[1] == ["x"]
    exc = refused(compile_, text + " " * (MAX_FILTER_LENGTH + 1 - len(text)))
    assert headline(exc) == "the filter is 10,001 characters long; the limit is 10,000 at position 10000:"
    huge = refused(compile_, text + " " * 10**7)  # the message quotes the first 10,001 characters only
    assert headline(huge) == "the filter is 10,000,012 characters long; the limit is 10,000 at position 10000:"
    assert huge.text == (text + " " * 10**7)[:10_001] and len(str(huge)) < 20_200


def test_1000_comparisons_joined_by_or_or_and_run_in_the_store(store):
    ors = "user=1or " * (MAX_COMPARISONS - 1) + "name='run2'"  # 999 ORs
    assert names(ors) == ["run2"]
    ands = "user>1and " * (MAX_COMPARISONS - 2) + "name>'run0'"
    assert names(ands) == ["run1", "run2"]
    assert names("not (" + "user=1or " * 500 + "name='run2')") == ["run0", "run1"]


@pytest.mark.parametrize("compile_", FILTERS)
def test_comparison_limit(compile_):
    text = "name=1or " * MAX_COMPARISONS + "name=1"
    exc = refused(compile_, text)
    assert headline(exc) == f"the filter has more than 1,000 comparisons at position {1000 * 9}:"


@pytest.mark.parametrize("compile_", FILTERS)
def test_in_list_value_limit(compile_):
    sql, params = compile_("status in (" + ",".join(["1"] * MAX_VALUES) + ")")
    assert len(params) == MAX_VALUES
    text = "status in (" + ",".join(["1"] * (MAX_VALUES + 1)) + ")"
    exc = refused(compile_, text)
    assert headline(exc) == f"the filter has more than 2,000 values (IN items count one each) at position {11 + 2 * 2000}:"


def test_a_2000_item_in_list_runs_in_the_store(store):
    run_ids = [r.info.run_id for r in lw.search_runs()]
    text = "run_id in (" + ",".join(["'a'"] * (MAX_VALUES - 1) + [f"'{run_ids[0]}'"]) + ")"
    assert [r.info.run_id for r in lw.search_runs(filter=text)] == run_ids[:1]


# -- numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize("compile_", FILTERS)
@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        (f"status > {DIGITS_5000}", OUT_OF_RANGE_5000, 9),
        (f"status < -{DIGITS_5000}", OUT_OF_RANGE_5000.replace(" 999", " -99").replace("5,000", "5,001"), 9),
        (f"status in (1, {DIGITS_5000})", OUT_OF_RANGE_5000, 14),
        ("status > 1e400", "number 1e400 is out of range (beyond +-1.8e308)", 9),
        ("status > -1.5E+309", "number -1.5E+309 is out of range (beyond +-1.8e308)", 9),
        ("experiment_id = '1e400'", "number 1e400 is out of range (beyond +-1.8e308)", 16),
    ],
)
def test_numbers_beyond_the_float_range_are_refused(compile_, text, message, position):
    exc = refused(compile_, text)
    assert headline(exc) == f"{message} at position {position}:"


def test_integers_beyond_int64_compare_as_floats(store):
    assert names(f"params.big = {2**64}") == ["run0", "run1", "run2"]
    assert names(f"params.big > {2**63}") == ["run0", "run1", "run2"]
    assert names("metrics.m < 99999999999999999999999") == ["run0", "run1", "run2"]
    assert names("metrics.m > -1" + "0" * 300) == ["run0", "run1", "run2"]
    assert names("metrics.m > 1e-400") == ["run1", "run2"]  # underflows to 0.0
    assert compile_run_filter(f"start_time > {2**63 - 1}")[1] == [2**63 - 1]
    assert compile_run_filter(f"start_time > {2**63}")[1] == [float(2**63)]


# -- characters ------------------------------------------------------------------------


def test_lone_surrogates_become_u_fffd_as_in_logged_keys(store):
    assert names("params.`key\udce9` = 'value\udce9'") == ["run0"]
    assert names("params.`key\ufffd` = 'value\ufffd'") == ["run0"]
    sql, params = compile_run_filter("params.`k\ud83d` = '\udce9' and tags.t like '%\udfff%'")
    assert params == ["k\ufffd", "\ufffd", "t", "*\ufffd*"]
    assert names("params.`key\udce9` IS NOT NULL", order_by=["params.`key\udce9` DESC"]) == ["run0"]


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("params.\udce9 = 'x'", "unquoted keys are letters, digits and _ . / - :, found '\ufffd' (quote the key in backticks)", 7),
        ("\udce9", "unexpected character '\ufffd'", 0),
        ("status = '\udce9", "unterminated string \"'\ufffd\"", 9),
        ("é = 1", "unexpected character 'é'", 0),
        ("statusé = 1", "unexpected character 'é'", 6),
        ("metrics.acc > ٣", "unexpected character '٣'", 14),
        ("\x00", "unexpected character '\\x00'", 0),
        ("status = 'a'\x00", "unexpected character '\\x00'", 12),
    ],
)
def test_odd_characters_are_named(text, message, position):
    exc = refused(compile_run_filter, text)
    assert headline(exc) == f"{message} at position {position}:"
    assert exc.text == text.replace("\udce9", "\ufffd")


def test_nul_characters_in_quotes_are_values(store):
    assert names("params.x = 'a\x00b'") == []
    assert names("params.`x\x00` IS NULL") == ["run0", "run1", "run2"]


# -- types -----------------------------------------------------------------------------


@pytest.mark.parametrize("compile_", FILTERS)
@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["status = 'x'"], "a filter must be a string, not list: [\"status = 'x'\"]"),
        (5, "a filter must be a string, not int: 5"),
        (b"status = 'x'", "a filter must be a string, not bytes: b\"status = 'x'\""),
    ],
)
def test_a_filter_that_is_not_a_string_is_a_type_error(compile_, value, message):
    with pytest.raises(TypeError) as info:
        compile_(value)
    assert str(info.value) == message


@pytest.mark.parametrize("compile_", ORDERS)
@pytest.mark.parametrize(
    ("value", "message"),
    [
        (5, "order_by must be a string or a list of strings, not int: 5"),
        (b"name", "order_by must be a string or a list of strings, not bytes: b'name'"),
        ({"name": "asc"}, "order_by must be a string or a list of strings, not dict: {'name': 'asc'}"),
        ([None], "an order_by clause must be a string, not NoneType: None"),
        (["name", 3], "an order_by clause must be a string, not int: 3"),
    ],
)
def test_order_by_that_is_not_strings_is_a_type_error(compile_, value, message):
    with pytest.raises(TypeError) as info:
        compile_(value)
    assert str(info.value) == message


def test_search_runs_passes_type_errors_through(store):
    with pytest.raises(TypeError, match="a filter must be a string, not dict"):
        lw.search_runs(filter={"status": "x"})


# -- order_by --------------------------------------------------------------------------


@pytest.mark.parametrize("compile_", ORDERS)
def test_order_by_limits(compile_):
    compile_(["name"] * MAX_ORDER_BY)
    with pytest.raises(InvalidFilter) as info:
        compile_(["name"] * MAX_ORDER_BY + ["status DESC"])
    assert headline(info.value) == "order_by has 21 clauses; the limit is 20 at position 0:"
    assert info.value.text == "status DESC"
    long = "name" + " " * MAX_FILTER_LENGTH
    exc = refused(compile_, [long])
    assert headline(exc) == "the order_by clause is 10,004 characters long; the limit is 10,000 at position 10000:"


@pytest.mark.parametrize(
    ("clause", "message", "position"),
    [
        ("metrics.\udce9", "unquoted keys are letters, digits and _ . / - :, found '\ufffd' (quote the key in backticks)", 8),
        ("é", "unexpected character 'é'", 0),
        ("(name)", "expected a column to order by, found '('", 0),
        ("name 1e400", "number 1e400 is out of range (beyond +-1.8e308)", 5),
        ("not " * 1000, "expected a column to order by, found 'not'", 0),
    ],
)
def test_odd_order_by_clauses_are_named(clause, message, position):
    exc = refused(compile_run_order_by, [clause])
    assert headline(exc) == f"{message} at position {position}:"


# -- page tokens and page sizes --------------------------------------------------------


@pytest.mark.parametrize("offset", [0, 1, 1000, 10**18 - 1])
def test_page_tokens_round_trip(offset):
    assert decode_page_token(encode_page_token(offset)) == offset


def test_page_tokens_keep_their_format():
    assert encode_page_token(2) == "Mg=="  # tokens handed out before still work
    assert decode_page_token(None) == decode_page_token("") == 0


@pytest.mark.parametrize(
    ("token", "shown"),
    [
        ("!!!!", "'!!!!'"),
        ("Mg", "'Mg'"),  # padding cut off
        ("LTE=", "'LTE='"),  # -1
        ("YWJj", "'YWJj'"),  # 'abc'
        ("MDI=", "'MDI='"),  # '02': not a token logwright writes
        ("Mg==\n", "'Mg==\\n'"),
        ("\udce9", "'\\udce9'"),
        ("é", "'é'"),
        (encode_page_token(10**18), "'MTAwMDAwMDAwMDAwMDAwMDAwMA=='"),
        (2, "2"),
        (b"Mg==", "b'Mg=='"),
        ("x" * 1000, "'" + "x" * 49 + "... (1,000 characters)"),
    ],
)
def test_garbage_page_tokens_are_named(token, shown):
    with pytest.raises(InvalidPageToken) as info:
        decode_page_token(token)
    assert str(info.value) == (
        f"invalid page token {shown}: pass the .token of the previous page, or None for the first page"
    )
    assert isinstance(info.value, ValueError) and info.value.token == token


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "max_results must be from 1 to 1,000,000,000, not 0"),
        (-1, "max_results must be from 1 to 1,000,000,000, not -1"),
        (10**10, "max_results must be from 1 to 1,000,000,000, not 10000000000"),
        (1.5, "max_results must be an int from 1 to 1,000,000,000, not 1.5"),
        ("10", "max_results must be an int from 1 to 1,000,000,000, not '10'"),
        (True, "max_results must be an int from 1 to 1,000,000,000, not True"),
        (None, "max_results must be an int from 1 to 1,000,000,000, not None"),
    ],
)
def test_bad_page_sizes_are_named(value, message):
    with pytest.raises(ValueError) as info:
        check_max_results(value)
    assert str(info.value) == message


def test_numpy_page_sizes_are_ints():
    assert check_max_results(np.int64(7)) == 7 and type(check_max_results(np.int64(7))) is int


def test_search_runs_pages_and_refuses_bad_tokens_and_sizes(store):
    first = lw.search_runs(max_results=2)
    second = lw.search_runs(max_results=2, page_token=first.token)
    assert len(first) == 2 and len(second) == 1 and second.token is None
    assert {r.info.run_name for r in [*first, *second]} == {"run0", "run1", "run2"}
    with pytest.raises(InvalidPageToken, match=r"invalid page token '!!!!'"):
        lw.search_runs(page_token="!!!!")
    with pytest.raises(InvalidPageToken, match=r"invalid page token '\\udce9'"):
        lw.Client().search_runs(page_token="\udce9")
    for size in (0, -1):
        with pytest.raises(ValueError, match=f"max_results must be from 1 to 1,000,000,000, not {size}"):
            lw.search_runs(max_results=size)
    with pytest.raises(ValueError, match="max_results must be an int"):
        lw.search_runs(max_results="2")


def test_search_runs_refuses_hostile_filters_with_invalid_filter(store):
    for text in ["not " * 1000 + "status = 'x'", f"metrics.m > {DIGITS_5000}", "é = 1", "\udce9",
                 " or ".join(["status = 'x'"] * 1000)]:
        with pytest.raises(InvalidFilter):
            lw.search_runs(filter=text)
    with pytest.raises(InvalidFilter):
        lw.search_runs(order_by=["metrics.\udce9"])


def test_search_traces_refuses_hostile_filters_with_invalid_filter(store):
    @lw.trace
    def step(x):
        return x

    step(1)
    lw.flush()
    assert len(lw.search_traces(filter="not " * 50 + "latency_ms >= 0")) == 1
    for text in ["not " * 1000 + "status = 'x'", "latency_ms > 1e400", "é = 1", "name = '\udce9'"]:
        if text.startswith("name"):
            assert lw.search_traces(filter=text) == []
            continue
        with pytest.raises(InvalidFilter):
            lw.search_traces(filter=text)
