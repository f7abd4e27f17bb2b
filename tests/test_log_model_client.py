"""log_model(..., client=): a model goes through that client's store, the fluent tracking URI untouched."""

from __future__ import annotations

import pytest

import logwright
from logwright.models import load_model, log_model


@pytest.mark.sqlite_only(reason="two store folders side by side")
def test_log_model_through_another_client_leaves_the_fluent_store_alone(tmp_store, tmp_path):
    linear_model = pytest.importorskip("sklearn.linear_model")
    model = linear_model.LinearRegression().fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])
    other = logwright.Client(str(tmp_path / "other-store"))
    run = other.create_run(other.create_experiment("elsewhere"))
    info = log_model(model, "model", flavour="sklearn", run_id=run.info.run_id, client=other)
    assert logwright.get_tracking_uri() == tmp_store
    assert other.get_run(run.info.run_id).data.tags["logwright.model.model"] == "sklearn"
    assert "model/MODEL.json" in [f.path for f in other.artifacts(run.info.run_id).list("model")]
    logwright.set_tracking_uri(str(tmp_path / "other-store"))
    assert load_model(info.model_uri).predict([[3.0]])[0] == pytest.approx(3.0)
    with pytest.raises(ValueError, match="run_id"):
        log_model(model, "model", client=other)
