"""MLflow's run search cases (tests/utils/test_search_utils.py, tests/store/tracking/
test_sqlalchemy_store.py's search tests), ported: dataset filters, quoted prefixes,
attribute aliases and the NaN sort order give MLflow's answers. Runs on SQLite and under
``--store-backend=postgres+s3``.
"""

from __future__ import annotations

import math

import pytest

import logwright as lw
from logwright import Dataset, InvalidFilter


@pytest.fixture
def runs(tmp_store):
    """Four runs: acc 1.0, NaN, none, 0.5; two with datasets."""
    client = lw.Client()
    exp = client.create_experiment("search")
    out = {}
    for name, acc in (("one", 1.0), ("nan", float("nan")), ("none", None), ("half", 0.5)):
        run_id = client.create_run(exp, run_name=name, tags={"stage": name}).info.run_id
        if acc is not None:
            client.log_metric(run_id, "acc", acc)
        client.log_params(run_id, {"model": name})
        client.set_terminated(run_id, "FAILED" if name == "nan" else "FINISHED")
        out[name] = run_id
    client.log_input(out["one"], Dataset("train", "d1", context="training"))
    client.log_input(out["one"], Dataset("eval", "d2", context="eval"))
    client.log_input(out["half"], Dataset("train", "d3", context="training"))
    return client, exp, out


def _names(client, exp, filter_string=None, order_by=None):
    return [r.info.run_name for r in client.search_runs([exp], filter_string, order_by=order_by)]


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("dataset.name = 'train'", {"one", "half"}),
        ("datasets.name = 'eval'", {"one"}),
        ("dataset.digest = 'd3'", {"half"}),
        ("dataset.digest IN ('d1', 'd3')", {"one", "half"}),
        ("dataset.context = 'training'", {"one", "half"}),
        ("dataset.name LIKE 'ev%'", {"one"}),
        ("dataset.name ILIKE 'TRAIN'", {"one", "half"}),
        ("dataset.name = 'train' AND dataset.context = 'eval'", {"one"}),
        ("dataset.name = 'nothing'", set()),
    ],
)
def test_dataset_filters(runs, filter_string, expected):
    client, exp, _ = runs
    assert set(_names(client, exp, filter_string)) == expected


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("`metric`.acc > 0.7", {"one"}),
        ("`metrics`.`acc` < 0.7", {"half"}),
        ("`params`.model = 'one'", {"one"}),
        ("parameters.model = 'half'", {"half"}),
        ("`tags`.stage = 'none'", {"none"}),
        ("`attributes`.status = 'FAILED'", {"nan"}),
        ("run.status = 'FAILED'", {"nan"}),
        ("run.run_name = 'one'", {"one"}),
        ("attributes.`Run name` = 'half'", {"half"}),
        ("attributes.`run name` LIKE 'h%'", {"half"}),
        ("attributes.`Run Name` IN ('one', 'none')", {"one", "none"}),
        ("attributes.created >= 0", {"one", "nan", "none", "half"}),
        ("attributes.Created >= 0 and run.run_name != 'one'", {"nan", "none", "half"}),
    ],
)
def test_quoted_prefixes_and_attribute_aliases(runs, filter_string, expected):
    client, exp, _ = runs
    assert set(_names(client, exp, filter_string)) == expected


def test_nan_sorts_after_numbers_and_before_missing_in_both_directions(runs):
    client, exp, _ = runs
    assert _names(client, exp, order_by=["metrics.acc ASC"]) == ["half", "one", "nan", "none"]
    assert _names(client, exp, order_by=["metrics.acc DESC"]) == ["one", "half", "nan", "none"]
    values = [r.data.metrics.get("acc") for r in client.search_runs([exp], order_by=["metrics.acc"])]
    assert values[:2] == [0.5, 1.0] and math.isnan(values[2]) and values[3] is None


def test_nan_order_in_a_page_token_walk(runs):
    client, exp, _ = runs
    first = client.search_runs([exp], order_by=["metrics.acc DESC"], max_results=3)
    rest = client.search_runs([exp], order_by=["metrics.acc DESC"], max_results=3, page_token=first.token)
    assert [r.info.run_name for r in [*first, *rest]] == ["one", "half", "nan", "none"]


@pytest.mark.local_store(reason="through a tracking server run.info.artifact_uri is the server's artifact URL, "
                                "while the filter matches the store's own location (README, Coming from MLflow)")
def test_artifact_uri_filter(runs):
    client, exp, ids = runs
    uri = client.get_run(ids["half"]).info.artifact_uri
    assert _names(client, exp, f"attributes.artifact_uri = '{uri}'") == ["half"]
    assert set(_names(client, exp, f"attributes.artifact_uri != '{uri}'")) == {"one", "nan", "none"}
    assert _names(client, exp, f"attributes.artifact_uri LIKE '%{ids['one']}'") == ["one"]
    assert _names(client, exp, f"attributes.artifact_uri IN ('{uri}', 'x')") == ["half"]
    assert len(_names(client, exp, "attributes.artifact_uri IS NOT NULL")) == 4
    assert _names(client, exp, f"not attributes.artifact_uri = '{uri}' and params.model = 'one'") == ["one"]


def test_dataset_order_and_bad_dataset_fields_are_named_errors(runs):
    client, exp, _ = runs
    with pytest.raises(InvalidFilter, match="cannot be ordered by artifact_uri"):
        client.search_runs([exp], order_by=["attributes.artifact_uri"])
    with pytest.raises(InvalidFilter, match="cannot be ordered by dataset"):
        client.search_runs([exp], order_by=["dataset.name"])
    with pytest.raises(InvalidFilter, match="unknown dataset field 'schema'"):
        client.search_runs([exp], "dataset.schema = 'x'")
    with pytest.raises(InvalidFilter, match="quoted strings"):
        client.search_runs([exp], "dataset.name = 1")


def test_order_by_metric_with_nans_infs_and_nones(tmp_store):
    # MLflow's test_order_by_metric_with_nans_infs_and_nones: -inf < numbers < inf < NaN < missing
    client = lw.Client()
    exp = client.create_experiment("order")
    values = {"inf": float("inf"), "-inf": float("-inf"), "nan": float("nan"), "none": None, "-1000": -1000.0,
              "0": 0.0, "1000": 1000.0}
    for name, value in values.items():
        run_id = client.create_run(exp, run_name=name).info.run_id
        if value is not None:
            client.log_metric(run_id, "x", value)
    assert _names(client, exp, order_by=["metrics.x ASC"]) == ["-inf", "-1000", "0", "1000", "inf", "nan", "none"]
    assert _names(client, exp, order_by=["metrics.x DESC"]) == ["inf", "1000", "0", "-1000", "-inf", "nan", "none"]
