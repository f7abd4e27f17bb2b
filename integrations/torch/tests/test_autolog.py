"""Plain PyTorch loops autologged against real torch and a real SQLite store."""

from __future__ import annotations

import importlib

import logwright_torch
import pytest
import torch
from logwright_torch import _steps
from torch import nn

import logwright
from logwright.autolog import logging_call
from logwright.entities import RunStatus


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: threads only add contention on a shared CI box
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _autolog(tmp_store):
    logwright.autolog(only=["torch"])
    yield
    logwright.autolog(only=["torch"], disable=True)


def _model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 2))


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return torch.randn(32, 20, generator=gen), torch.randint(0, 2, (32,), generator=gen)


def _train(model: nn.Module, optimizer: torch.optim.Optimizer, steps: int, scheduler=None) -> list[float]:
    x, y = _batch()
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        losses.append(loss.detach().clone())
    return [float(v) for v in losses]


def _history(run_id: str, key: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in logwright.get_metric_history(run_id, key)]


def test_plain_loop_starts_a_run_and_logs_everything():
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.5)
    losses = _train(model, opt, 10, sched)
    run = logwright.active_run()
    assert run is not None and run.owned_by_autolog
    rid = run.info.run_id
    logwright.end_run()  # flushes the buffered steps before the run ends

    got = logwright.get_run(rid)
    assert got.info.status == RunStatus.FINISHED
    assert got.data.tags["logwright.autolog"] == "torch"
    params = got.data.params
    assert params["optimizer"] == "SGD"
    assert params["optimizer.lr"] == "0.1" and params["optimizer.momentum"] == "0.9"
    assert params["num_params"] == params["num_trainable_params"] == str(20 * 16 + 16 + 16 * 2 + 2)
    loss_points = _history(rid, "train/loss")
    assert [s for s, _ in loss_points] == list(range(10))
    assert [v for _, v in loss_points] == pytest.approx(losses)
    assert [v for _, v in _history(rid, "train/lr")] == pytest.approx([0.1] * 4 + [0.05] * 4 + [0.025] * 2)
    times = _history(rid, "train/step_time")
    assert [s for s, _ in times] == list(range(1, 10)) and all(v > 0 for _, v in times)
    assert "train/grad_norm" not in got.data.metrics


def test_logs_into_the_users_run():
    with logwright.start_run() as run:
        _train(_model(), torch.optim.Adam(_model().parameters()), 3)
        assert logwright.active_run() is run
    got = logwright.get_run(run.info.run_id)
    assert got.data.params["optimizer"] == "Adam"
    assert len(_history(run.info.run_id, "train/loss")) == 3


def test_per_step_path_never_syncs(monkeypatch):
    counts = {"item": 0, "cpu": 0, "tolist": 0, "__float__": 0}
    for name in counts:
        original = getattr(torch.Tensor, name)

        def counting(self, *args, _name=name, _original=original, **kwargs):
            counts[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counting)
    monkeypatch.setattr(_steps, "FLUSH_SECONDS", 1e9)
    logwright.autolog(only=["torch"], torch={"log_grad_norm": 2})
    model = _model()
    opt = torch.optim.Adam(model.parameters(), lr=torch.tensor(0.01))  # a tensor lr too
    x, y = _batch()

    def step():
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    logwright.autolog(only=["torch"], disable=True)
    before = dict(counts)
    for _ in range(20):  # baseline: what torch itself does per step (Adam reads its step count)
        step()
    baseline = {k: counts[k] - before[k] for k in counts}
    logwright.autolog(only=["torch"], torch={"log_grad_norm": 2})
    step()  # the first step logs params (a tensor lr is read once, here)
    before = dict(counts)
    for _ in range(20):
        step()
    assert {k: counts[k] - before[k] for k in counts} == baseline, "the per-step path syncs"
    rid = logwright.active_run().info.run_id
    logwright.end_run()
    assert counts["tolist"] - before["tolist"] == 1  # one batched conversion at the end
    assert len(_history(rid, "train/loss")) == 21
    assert len(_history(rid, "train/grad_norm")) == 11


def test_flushes_in_batches_during_long_loops(monkeypatch):
    monkeypatch.setattr(_steps, "FLUSH_STEPS", 5)
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    _train(model, opt, 12)
    rid = logwright.active_run().info.run_id
    logwright.flush()
    assert len(_history(rid, "train/loss")) == 10  # two batches written, two steps buffered
    logwright.end_run()
    assert len(_history(rid, "train/loss")) == 12


def test_log_every_n_steps_and_grad_norm():
    logwright.autolog(only=["torch"], torch={"log_every_n_steps": 3, "log_grad_norm": 3})
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0: the weights, hence grads, stay put
    _train(model, opt, 10)
    rid = logwright.active_run().info.run_id
    logwright.end_run()
    assert [s for s, _ in _history(rid, "train/loss")] == [0, 3, 6, 9]
    norms = _history(rid, "train/grad_norm")
    assert [s for s, _ in norms] == [0, 3, 6, 9]
    expected = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in model.parameters()]))
    assert norms[-1][1] == pytest.approx(float(expected), rel=1e-5)


def test_bad_knob_is_refused():
    logwright.autolog(only=["torch"], disable=True)
    with pytest.raises(ValueError, match="log_every_n_steps"):
        logwright.autolog(only=["torch"], torch={"log_every_n_steps": 0})
    logwright.autolog(only=["torch"], disable=True)
    with pytest.raises(ValueError, match="unknown autolog option"):
        logwright.autolog(only=["torch"], torch={"log_every_n_step": 2})


def test_two_optimizers_share_one_run_named_per_optimizer():
    gen, disc = _model(0), _model(1)
    opt_g = torch.optim.Adam(gen.parameters(), lr=1e-3)
    opt_d = torch.optim.SGD(disc.parameters(), lr=0.05)
    x, y = _batch()
    for _ in range(4):
        opt_g.zero_grad()
        nn.functional.cross_entropy(gen(x), y).backward()
        opt_g.step()
        opt_d.zero_grad()
        (disc(x).pow(2).mean() * 2).backward()
        opt_d.step()
    rid = logwright.active_run().info.run_id
    logwright.end_run()
    params = logwright.get_run(rid).data.params
    assert params["optimizer"] == "Adam" and params["optimizer.SGD_1"] == "SGD"
    assert params["optimizer.SGD_1.lr"] == "0.05"
    assert params["optimizer.SGD_1.num_params"] == params["num_params"]
    assert len(_history(rid, "train/loss")) == len(_history(rid, "train/loss/SGD_1")) == 4
    assert [v for _, v in _history(rid, "train/lr/SGD_1")] == pytest.approx([0.05] * 4)
    assert len(logwright.search_runs()) == 1


def test_param_groups_get_their_own_lr():
    model = _model()
    opt = torch.optim.SGD([{"params": model[0].parameters()}, {"params": model[2].parameters(), "lr": 0.5}],
                          lr=0.1)
    _train(model, opt, 2)
    rid = logwright.active_run().info.run_id
    logwright.end_run()
    params = logwright.get_run(rid).data.params
    assert params["optimizer.lr"] == "0.1" and params["optimizer.group1.lr"] == "0.5"
    assert [v for _, v in _history(rid, "train/lr/group1")] == [0.5, 0.5]


def test_gradient_accumulation_logs_the_mean_loss():
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    x, y = _batch()
    opt.zero_grad()
    first = nn.functional.cross_entropy(model(x[:16]), y[:16])
    first.backward()
    second = nn.functional.cross_entropy(model(x[16:]), y[16:])
    second.backward()
    opt.step()
    rid = logwright.active_run().info.run_id
    logwright.end_run()
    expected = (float(first.detach()) + float(second.detach())) / 2
    assert _history(rid, "train/loss")[0][1] == pytest.approx(expected)


def test_a_new_run_after_end_run_gets_params_again():
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    _train(model, opt, 2)
    first = logwright.active_run().info.run_id
    logwright.end_run()
    _train(model, opt, 3)
    second = logwright.active_run().info.run_id
    logwright.end_run()
    assert first != second
    assert logwright.get_run(second).data.params["optimizer"] == "SGD"
    assert [s for s, _ in _history(second, "train/loss")] == [0, 1, 2]


def test_loop_delimits_runs_and_logs_the_model():
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, _ = _batch()
    _train(model, opt, 2)  # an auto-started run, ended by loop()
    auto = logwright.active_run()
    with logwright_torch.loop("finetune", model=model, input_example=x[:4]) as run:
        _train(model, opt, 3)
    assert auto.ended and logwright.active_run() is None
    got = logwright.get_run(run.info.run_id)
    assert got.info.run_name == "finetune" and got.info.status == RunStatus.FINISHED
    assert [s for s, _ in _history(run.info.run_id, "train/loss")] == [0, 1, 2]
    loaded = logwright.load_model(f"runs:/{run.info.run_id}/model")
    model.eval()
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    assert len(_history(auto.info.run_id, "train/loss")) == 2


def test_loop_inside_a_users_run_is_nested_and_failure_marks_it():
    with logwright.start_run() as outer:
        with pytest.raises(ZeroDivisionError), logwright_torch.loop("inner") as inner:
            _train(_model(), torch.optim.SGD(_model().parameters(), lr=0.1), 2)
            1 / 0  # noqa: B018 - the user's loop fails
        assert logwright.active_run() is outer
    got = logwright.get_run(inner.info.run_id)
    assert got.info.parent_run_id == outer.info.run_id
    assert got.info.status == RunStatus.FAILED
    assert len(_history(inner.info.run_id, "train/loss")) == 2


def test_exclusive_starts_a_nested_run_that_ends_with_the_users():
    logwright.autolog(only=["torch"], exclusive=True)
    with logwright.start_run() as outer:
        _train(_model(), torch.optim.SGD(_model().parameters(), lr=0.1), 2)
        child = logwright.active_run()
        assert child is not outer and child.info.parent_run_id == outer.info.run_id
    assert child.ended and logwright.active_run() is None
    assert len(_history(child.info.run_id, "train/loss")) == 2


def test_quiet_inside_another_autologged_call():
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with logging_call("lightning"):  # what the Lightning integration's Trainer.fit patch does
        _train(model, opt, 3)
    assert logwright.active_run() is None
    assert len(logwright.search_runs()) == 0


def test_disable_stops_logging_and_restores_backward():
    logwright.autolog(only=["torch"], disable=True)
    original = torch.Tensor.__dict__["backward"]
    logwright.autolog(only=["torch"])
    assert torch.Tensor.__dict__["backward"] is not original
    assert len(importlib.import_module("torch.optim.optimizer")._global_optimizer_post_hooks) == 1
    logwright.autolog(only=["torch"], disable=True)
    logwright.autolog(only=["torch"], disable=True)
    assert torch.Tensor.__dict__["backward"] is original
    assert not importlib.import_module("torch.optim.optimizer")._global_optimizer_post_hooks
    _train(_model(), torch.optim.SGD(_model().parameters(), lr=0.1), 2)
    assert logwright.active_run() is None


def test_only_rank_zero_logs(monkeypatch):
    logwright.autolog(only=["torch"], disable=True)
    monkeypatch.setenv("RANK", "1")
    logwright.autolog(only=["torch"])
    _train(_model(), torch.optim.SGD(_model().parameters(), lr=0.1), 2)
    assert logwright.active_run() is None
