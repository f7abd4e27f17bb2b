"""The TensorBoard bridge: SummaryWriter calls mirrored into the run (needs ``tensorboard``)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import logwright

SummaryWriter = pytest.importorskip("torch.utils.tensorboard").SummaryWriter  # needs tensorboard


@pytest.fixture
def _autolog(tmp_store):
    logwright.autolog(only=["torch"])
    yield
    logwright.autolog(only=["torch"], disable=True)


def _history(run_id: str, key: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in logwright.get_metric_history(run_id, key)]


@pytest.mark.usefixtures("_autolog")
def test_summary_writer_is_mirrored_into_the_run(tmp_path):
    writer = SummaryWriter(str(tmp_path / "tb"))
    with logwright.start_run() as run:
        for step in range(3):
            writer.add_scalar("Loss/train", 1.0 / (step + 1), step)
        writer.add_scalar("Loss/val", torch.tensor(0.25), global_step=7, walltime=1_700_000_000.0)
        writer.add_scalars("acc", {"train": 0.9, "val": 0.8}, 2)
        writer.add_hparams({"lr": 0.01, "layers": 3}, {"hparam/best": 0.8})
    writer.close()
    rid = run.info.run_id
    assert _history(rid, "Loss/train") == [(0, 1.0), (1, 0.5), (2, pytest.approx(1 / 3))]
    val = logwright.get_metric_history(rid, "Loss/val")
    assert [(m.step, m.value, m.timestamp) for m in val] == [(7, 0.25, 1_700_000_000_000)]
    assert _history(rid, "acc/train") == [(2, pytest.approx(0.9))]
    assert _history(rid, "acc/val") == [(2, pytest.approx(0.8))]
    got = logwright.get_run(rid)
    assert got.data.params == {"lr": "0.01", "layers": "3"}
    assert got.data.metrics["hparam/best"] == pytest.approx(0.8)
    # add_hparams writes its own scalar through an inner writer: mirrored once, not twice
    assert len(_history(rid, "hparam/best")) == 1


@pytest.mark.usefixtures("_autolog")
def test_summary_writer_without_a_run_uses_the_loops_run(tmp_path):
    writer = SummaryWriter(str(tmp_path / "tb"))
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for step in range(2):
        opt.zero_grad()
        loss = model(torch.ones(4, 3)).pow(2).mean()
        loss.backward()
        opt.step()
        writer.add_scalar("custom", float(step), step)
    writer.close()
    rid = logwright.active_run().info.run_id
    logwright.end_run()
    assert _history(rid, "custom") == [(0, 0.0), (1, 1.0)]
    assert len(_history(rid, "train/loss")) == 2
    assert len(logwright.search_runs()) == 1


def test_disable_restores_summary_writer(tmp_store):
    original = SummaryWriter.__dict__["add_scalar"]
    logwright.autolog(only=["torch"])
    assert SummaryWriter.__dict__["add_scalar"] is not original
    logwright.autolog(only=["torch"], disable=True)
    assert SummaryWriter.__dict__["add_scalar"] is original
