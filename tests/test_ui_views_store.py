"""The Store read the UI's charts use to tell single values from curves, on every backend."""

from __future__ import annotations

from logwright.client import Client


def test_get_metric_counts_counts_every_point_of_each_key(tmp_store):
    client = Client(tmp_store)
    run_id = client.create_run(client.create_experiment("counts"), run_name="r").info.run_id
    for step in range(2500):  # several chunks
        client.log_metric(run_id, "loss", 1.0 / (step + 1), step=step)
    client.log_metric(run_id, "test_acc", 0.9)
    client.log_metric(run_id, "nan", float("nan"), step=0)
    client.log_metric(run_id, "nan", float("inf"), step=1)
    client.set_terminated(run_id)
    assert client.store.get_metric_counts(run_id) == {"loss": 2500, "test_acc": 1, "nan": 2}
    assert client.store.get_metric_counts("0" * 32) == {}
