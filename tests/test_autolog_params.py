"""The shared helpers integrations use: one truncation policy, params that skip conflicts, rank zero."""

from __future__ import annotations

import pytest

import logwright
from logwright.autolog import TRUNCATED, is_rank_zero, log_params, param_text, rank_zero_only
from logwright.exceptions import ParamConflict
from logwright.validation import MAX_PARAM_VALUE_LENGTH


def test_param_text_cuts_long_values_with_a_marker():
    assert param_text(3) == "3" and param_text("abc") == "abc"
    cut = param_text("x" * (MAX_PARAM_VALUE_LENGTH + 10))
    assert len(cut) == MAX_PARAM_VALUE_LENGTH and cut.endswith(TRUNCATED)
    assert param_text("y" * MAX_PARAM_VALUE_LENGTH) == "y" * MAX_PARAM_VALUE_LENGTH


def test_log_params_skips_conflicts_keeps_the_users_values_and_truncates(tmp_store):
    with logwright.start_run() as run:
        logwright.log_param("alpha", "user")
        client, run_id = run.client, run.info.run_id
        skipped = log_params(client, run_id, {"alpha": 0.5, "beta": 2, "long": "z" * (MAX_PARAM_VALUE_LENGTH + 1)})
        assert skipped == ["alpha"]
        with pytest.raises(ParamConflict):
            log_params(client, run_id, {"alpha": 1}, on_conflict="raise")
        with pytest.raises(ValueError, match="on_conflict"):
            log_params(client, run_id, {"gamma": 1}, on_conflict="ignore")
    params = logwright.Client().get_run(run_id).data.params
    assert params["alpha"] == "user" and params["beta"] == "2" and params["long"].endswith(TRUNCATED)
    assert "gamma" not in params


def test_rank_zero_only_runs_on_global_rank_zero(monkeypatch):
    calls = []

    @rank_zero_only
    def write(x):
        """Write x."""
        calls.append(x)
        return x

    for name in ("RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert is_rank_zero() and write(1) == 1
    monkeypatch.setenv("RANK", "3")
    assert not is_rank_zero() and write(2) is None
    assert calls == [1] and write.__doc__ == "Write x." and write.__name__ == "write"


def test_estimator_tags_name_the_class():
    from logwright.autolog import estimator_tags

    assert estimator_tags(ValueError("x")) == {"estimator_name": "ValueError",
                                               "estimator_class": "builtins.ValueError"}
