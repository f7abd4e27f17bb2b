"""Property tests: whatever the key or value, the call either raises a named error or stores it exactly.

Generated keys include lone surrogates, control characters and huge lengths; values
include every float (NaN and infinities bit-exact) and integers far outside int64.
Everything accepted is written to a real SQLite store and read back; floats, steps and
timestamps also to PostgreSQL (its text cannot hold U+0000, so text cases stay on SQLite).
"""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import logwright as lw
from logwright import validation

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
any_text = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=()), max_size=300),
    st.text(alphabet=st.sampled_from(["a", "b", "\udce9", "\ud83d", "\ude00", "\x00", "\x7f", "/", "."]), max_size=20),
)


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


@SETTINGS
@given(key=st.one_of(any_text, st.integers(), st.none(), st.lists(st.text(max_size=3), max_size=2)))
def test_a_key_is_stored_as_checked_or_refused_by_name(tmp_store, key):
    try:
        stored = validation.check_key(key, "metric key")
    except (TypeError, ValueError) as exc:
        assert "metric key" in str(exc)
        return
    assert isinstance(stored, str) and 1 <= len(stored) <= validation.MAX_KEY_LENGTH
    stored.encode("utf-8")  # never a lone surrogate
    client = lw.Client()
    run = client.create_run(None)
    client.log_metric(run.info.run_id, key, 1.0)
    client.log_param(run.info.run_id, key, key)
    client.set_tag(run.info.run_id, key, key)
    client.set_terminated(run.info.run_id)
    got = client.get_run(run.info.run_id)
    assert got.data.metrics == {stored: 1.0}
    assert got.data.params == {stored: stored}
    assert got.data.tags[stored] == stored


@SETTINGS
@given(values=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=50))
def test_every_float_round_trips_bit_exact(store_uri, values):
    client = lw.Client()
    run = client.create_run(None)
    for v in values:
        client.log_metric(run.info.run_id, "x", v)
    client.set_terminated(run.info.run_id)
    history = client.get_metric_history(run.info.run_id, "x")
    assert [p.step for p in history] == list(range(len(values)))
    for point, v in zip(history, values, strict=True):
        assert _bits(point.value) == _bits(v) or (math.isnan(point.value) and math.isnan(v))


@SETTINGS
@given(step=st.integers(min_value=-(2**70), max_value=2**70), ts=st.integers(min_value=-(2**70), max_value=2**70))
def test_steps_and_timestamps_are_int64_or_refused(store_uri, step, ts):
    client = lw.Client()
    run = client.create_run(None)
    try:
        client.log_metric(run.info.run_id, "x", 1.0, step=step, timestamp=ts)
    except ValueError as exc:
        assert "'x'" in str(exc)
        assert not (-(2**63) <= step < 2**63 and 0 <= ts < 2**63)
    else:
        assert -(2**63) <= step < 2**63 and 0 <= ts < 2**63
    client.set_terminated(run.info.run_id)
    history = client.get_metric_history(run.info.run_id, "x")
    assert [(p.step, p.timestamp) for p in history] in ([], [(step, ts)])


@SETTINGS
@given(value=st.one_of(any_text, st.integers(), st.floats(), st.binary(max_size=50),
                       st.lists(any_text, max_size=5), st.dictionaries(any_text, st.integers(), max_size=3)))
def test_a_param_value_is_stored_as_text_or_refused_by_key(tmp_store, value):
    client = lw.Client()
    run = client.create_run(None)
    try:
        client.log_param(run.info.run_id, "p", value)
    except ValueError as exc:
        assert "'p'" in str(exc) and "limit" in str(exc)
        return
    finally:
        client.set_terminated(run.info.run_id)
    stored = client.get_run(run.info.run_id).data.params["p"]
    expected = value if isinstance(value, str) else str(value)
    assert stored == validation.clean_text(expected, "param")


@pytest.mark.parametrize("text", ["plain", "naïve ☕", "emoji 😀", "\udce9", "a\ud83db", "\udfff\ud800"])
def test_clean_text_keeps_valid_unicode_and_replaces_only_lone_surrogates(text):
    cleaned = validation.clean_text(text, "x")
    cleaned.encode("utf-8")
    assert len(cleaned) == len(text)
    assert [c for c in cleaned if c != "\ufffd"] == [c for c in text if not 0xD800 <= ord(c) <= 0xDFFF]
