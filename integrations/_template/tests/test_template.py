"""The template integration's tests: the contract suite plus what one call logs.

Run against the real framework, tiny data, strict mode (the ``logwright.testing``
fixtures). In the template the framework is a stand-in (``logwright.testing.toy``
written as a module named ``template``): skipped unless that module is importable.
"""

from __future__ import annotations

import pytest

import logwright
from logwright.testing.contract import check_contract

fw = pytest.importorskip("template")


@pytest.fixture(autouse=True)
def _autolog(tmp_store):
    logwright.autolog(only=["template"])
    yield
    logwright.autolog(disable=True)


def test_contract(tmp_store):
    check_contract("template", exercise=lambda: fw.Model(k=2).fit(1), failing=lambda: fw.Model().fit("boom"))


def test_fit_logs_one_run_with_params_tags_and_model(tmp_store):
    fw.Model(k=3).fit(1, epochs=2)
    (run,) = logwright.Client().search_runs()
    assert run.info.status == "FINISHED" and run.data.tags["logwright.autolog"] == "template"
    assert run.data.params["k"] == "3" and run.data.params["fit_epochs"] == "2"
    assert run.data.tags["estimator_name"] == "Model"
    loaded = logwright.load_model(f"runs:/{run.info.run_id}/model")
    assert type(loaded).__name__ == "Model" and loaded.k == 3 and loaded.fitted


def test_the_users_error_fails_the_run_and_reaches_the_user(tmp_store):
    with pytest.raises(ValueError, match="user error"):
        fw.Model().fit("boom")
    (run,) = logwright.Client().search_runs()
    assert run.info.status == "FAILED" and "user error" in run.data.tags["logwright.error"]
