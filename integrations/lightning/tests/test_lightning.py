"""Lightning integration tests: real Trainer, tiny models (20 rows), CPU, a real SQLite store."""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import subprocess
import sys

import lightning as L
import pytest
import pytorch_lightning as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from logwright_lightning import LogwrightCallback, LogwrightLogger
from torch.utils.data import DataLoader, TensorDataset

import logwright
from logwright.testing.contract import check_contract

HERE = os.path.dirname(os.path.abspath(__file__))


class Tiny(L.LightningModule):
    def __init__(self, hidden: int = 8, optim: dict | None = None, fail_at: int = -1, interrupt: bool = False):
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(torch.nn.Linear(4, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 2))
        self.example_input_array = torch.zeros(3, 4)

    def forward(self, x):
        return self.net(x)

    def _loss(self, batch):
        x, y = batch
        return torch.nn.functional.cross_entropy(self(x), y)

    def training_step(self, batch, batch_idx):
        if self.global_step == self.hparams.fail_at:
            raise KeyboardInterrupt() if self.hparams.interrupt else ValueError("boom in training_step")
        loss = self._loss(batch)
        self.log("train_loss", loss, on_step=True, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", self._loss(batch))

    def test_step(self, batch, batch_idx):
        self.log("test_loss", self._loss(batch))

    def configure_optimizers(self):
        opt = torch.optim.Adam(self.parameters(), lr=(self.hparams.optim or {}).get("lr", 0.01))
        return {"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.StepLR(opt, 1, 0.5)}


class TwoOptimizers(Tiny):
    def __init__(self):
        super().__init__()
        self.automatic_optimization = False

    def training_step(self, batch, batch_idx):
        for opt in self.optimizers():
            opt.zero_grad()
            loss = self._loss(batch)
            self.manual_backward(loss)
            opt.step()
        self.log("train_loss", loss)

    def configure_optimizers(self):
        return [torch.optim.Adam(self.net[0].parameters(), lr=0.01),
                torch.optim.Adam(self.net[2].parameters(), lr=0.02)]


def data():
    x = torch.randn(20, 4, generator=torch.Generator().manual_seed(0))
    return DataLoader(TensorDataset(x, (x[:, 0] > 0).long()), batch_size=5)


def trainer(tmp_path, **kwargs):
    options = {"max_epochs": 2, "log_every_n_steps": 2, "enable_progress_bar": False,
               "enable_model_summary": False, "logger": False, "default_root_dir": str(tmp_path / "root")}
    return L.Trainer(**{**options, **kwargs})


def only_run():
    runs = logwright.search_runs()
    assert len(runs) == 1, [r.info.run_id for r in runs]
    return runs[0]


def history(run, key):
    return [(m.step, m.value) for m in logwright.get_metric_history(run.info.run_id, key)]


@pytest.fixture
def autolog(tmp_store):
    logwright.autolog(only=["lightning"])
    yield
    logwright.autolog(disable=True)


@pytest.fixture
def sigint():
    saved = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, saved)  # Lightning ignores SIGINT after a Ctrl-C


def test_fit_then_test_logs_everything_into_one_run(autolog, tmp_path):
    t = trainer(tmp_path, callbacks=[EarlyStopping("val_loss", patience=3)])
    model = Tiny(optim={"lr": 0.01, "nested": {"a": 1}})
    t.fit(model, data(), data())
    results = t.test(dataloaders=data())
    run = only_run()
    assert run.info.status == "FINISHED"
    p = run.data.params
    assert p["hidden"] == "8" and p["optim/lr"] == "0.01" and p["optim/nested/a"] == "1"
    assert p["trainer/max_epochs"] == "2" and p["trainer/precision"] == "32-true"
    assert p["trainer/accelerator"] == "CPUAccelerator" and p["trainer/accumulate_grad_batches"] == "1"
    assert p["optimizer/Adam/lr"] == "0.01" and p["optimizer/Adam/class"] == "torch.optim.adam.Adam"
    assert p["lr_scheduler/StepLR/gamma"] == "0.5" and p["lr_scheduler/StepLR/interval"] == "epoch"
    assert p["early_stopping/monitor"] == "val_loss" and p["early_stopping/patience"] == "3"
    assert p["model/total_params"] == p["model/trainable_params"] == "58"
    # step-level values at the optimizer step, epoch-level ones at the epoch index
    assert [s for s, _ in history(run, "train_loss_step")] == [1, 3, 5, 7]
    assert [s for s, _ in history(run, "train_loss_epoch")] == [0, 1]
    assert [s for s, _ in history(run, "val_loss")] == [0, 1]
    assert history(run, "lr-Adam") == [(2, 0.01), (4, 0.005), (6, 0.005), (8, 0.0025)]  # epoch-end step
    assert history(run, "test_loss") == [(2, pytest.approx(results[0]["test_loss"]))]
    assert "early_stopping/stopped_epoch" in run.data.metrics
    assert "early_stopping/best_score" in run.data.metrics
    best = t.checkpoint_callback.best_model_path
    assert run.data.tags["checkpoint.best_model_path"] == best
    names = {f.path for f in logwright.list_artifacts(run.info.run_id, "checkpoints")}
    assert names == {"checkpoints/checkpoints.json", f"checkpoints/{os.path.basename(best)}"}
    assert "Params" in open(logwright.Client().download_artifacts(run.info.run_id, "model_summary.txt")).read()
    loaded = logwright.load_model(f"runs:/{run.info.run_id}/model")
    x = torch.randn(5, 4)
    assert torch.allclose(loaded(x), model.eval()(x))
    assert len([lg for lg in t.loggers if isinstance(lg, LogwrightLogger)]) == 1


def test_users_logger_is_reused_and_other_loggers_kept(autolog, tmp_path):
    mine = LogwrightLogger(run_name="mine")
    csv = CSVLogger(str(tmp_path / "csv"))
    t = trainer(tmp_path, logger=[csv, mine], max_epochs=1)
    t.fit(Tiny(), data())
    run = only_run()
    assert run.info.run_name == "mine" or run.info.run_id == mine.version
    assert t.loggers == [csv, mine] and mine.version == run.info.run_id
    assert os.path.isfile(os.path.join(csv.log_dir, "metrics.csv"))
    assert sum(isinstance(cb, LogwrightCallback) for cb in t.callbacks) == 1
    assert run.info.status == "FINISHED" and "train_loss_step" in run.data.metrics


def test_explicit_logger_and_callback_without_autolog(tmp_store, tmp_path):
    logger = LogwrightLogger(experiment_name="explicit", run_name="by-hand")
    t = trainer(tmp_path, logger=logger, callbacks=[LogwrightCallback(log_models=False)], max_epochs=1)
    t.fit(Tiny(), data())
    run = logwright.get_run(logger.version)
    assert run.info.status == "FINISHED" and run.info.run_name == "by-hand"
    assert run.data.params["hidden"] == "8" and run.data.params["trainer/max_epochs"] == "1"
    assert [s for s, _ in history(run, "train_loss_epoch")] == [0]
    assert logger.experiment.run_id == run.info.run_id
    assert not any(f.path == "model" for f in logwright.list_artifacts(run.info.run_id))
    back = pickle.loads(pickle.dumps(logger))
    assert back.version == logger.version and back._binding._client is None


def test_explicit_logger_alone_logs_at_lightnings_step(tmp_store, tmp_path):
    logger = LogwrightLogger()
    trainer(tmp_path, logger=logger, max_epochs=1).fit(Tiny(), data())
    run = logwright.get_run(logger.version)
    assert run.info.status == "FINISHED"
    assert [s for s, _ in history(run, "train_loss_epoch")] == [3]


def test_exception_in_training_step_fails_the_run(autolog, tmp_path):
    with pytest.raises(ValueError, match="boom in training_step") as info:
        trainer(tmp_path).fit(Tiny(fail_at=2), data())
    assert info.value.__traceback__ is not None
    run = only_run()
    assert run.info.status == "FAILED"
    assert run.data.tags["logwright.error"] == "ValueError: boom in training_step"
    assert [s for s, _ in history(run, "train_loss_step")] == [1]  # logged before the failure


def _interrupted_fit(fit) -> None:
    # Lightning 2.4+ turns Ctrl-C into sys.exit(1); 2.2 and 2.3 return from fit after a
    # graceful shutdown. Either way the run must end KILLED.
    with contextlib.suppress(SystemExit):
        fit()


def test_keyboard_interrupt_kills_the_run(autolog, tmp_path, sigint):
    _interrupted_fit(lambda: trainer(tmp_path).fit(Tiny(fail_at=2, interrupt=True), data()))
    assert only_run().info.status == "KILLED"


def test_keyboard_interrupt_kills_an_explicit_loggers_run(tmp_store, tmp_path, sigint):
    logger = LogwrightLogger()
    _interrupted_fit(lambda: trainer(tmp_path, logger=logger).fit(Tiny(fail_at=2, interrupt=True), data()))
    assert logwright.get_run(logger.version).info.status == "KILLED"


def test_resume_from_checkpoint_continues_the_run(autolog, tmp_path):
    ck = ModelCheckpoint(dirpath=str(tmp_path / "ck"), save_last=True)
    trainer(tmp_path, max_epochs=1, callbacks=[ck]).fit(Tiny(), data())
    first = only_run()
    trainer(tmp_path, max_epochs=2).fit(Tiny(), data(), ckpt_path=ck.last_model_path)
    run = only_run()
    assert run.info.run_id == first.info.run_id and run.info.status == "FINISHED"
    assert [s for s, _ in history(run, "train_loss_epoch")] == [0, 1]


def test_two_optimizers_are_named_not_collapsed(autolog, tmp_path):
    trainer(tmp_path, max_epochs=1).fit(TwoOptimizers(), data())
    run = only_run()
    assert run.data.params["optimizer/Adam/lr"] == "0.01"
    assert run.data.params["optimizer/Adam-1/lr"] == "0.02"
    assert {"lr-Adam", "lr-Adam-1"} <= set(run.data.metrics)


def test_knobs(tmp_store, tmp_path):
    logwright.autolog(only=["lightning"], log_models=False,
                      lightning={"log_checkpoints": False, "log_model_summary": False, "log_every_n_steps": 4})
    try:
        trainer(tmp_path, log_every_n_steps=1).fit(Tiny(), data())
    finally:
        logwright.autolog(disable=True)
    run = only_run()
    assert {f.path for f in logwright.list_artifacts(run.info.run_id)} <= {"checkpoints", "context"}
    assert not logwright.list_artifacts(run.info.run_id, "checkpoints")[1:]
    assert "model/total_params" not in run.data.params
    assert [s for s, _ in history(run, "train_loss_step")] == [0, 4]
    assert [s for s, _ in history(run, "lr-Adam")] == [4, 8]


def test_log_checkpoints_all(artifact_backend, tmp_path):
    logwright.autolog(only=["lightning"], log_models=False, lightning={"log_checkpoints": "all"})
    ck = ModelCheckpoint(dirpath=str(tmp_path / "ck"), save_top_k=-1, save_last=True)
    try:
        trainer(tmp_path, callbacks=[ck]).fit(Tiny(), data())
    finally:
        logwright.autolog(disable=True)
    run = only_run()
    where = artifact_backend.artifact_uri or artifact_backend.tracking_uri
    if artifact_backend.tracking_uri.startswith("http"):  # through a server: its artifact URLs
        where = artifact_backend.tracking_uri
    assert run.info.artifact_uri.startswith(where)
    files = {f.path for f in logwright.list_artifacts(run.info.run_id, "checkpoints")}
    assert files == {"checkpoints/checkpoints.json", "checkpoints/last.ckpt",
                     "checkpoints/epoch=0-step=4.ckpt", "checkpoints/epoch=1-step=8.ckpt"}
    got = logwright.Client().download_artifacts(run.info.run_id, "checkpoints/last.ckpt", str(tmp_path / "dl"))
    assert open(got, "rb").read() == (tmp_path / "ck" / "last.ckpt").read_bytes()


def test_torch_autolog_does_not_double_log(tmp_store, tmp_path):
    logwright.autolog(only=["torch"])
    try:
        logger = LogwrightLogger()
        trainer(tmp_path, logger=logger, callbacks=[LogwrightCallback(log_models=False)],
                max_epochs=1).fit(Tiny(), data())
    finally:
        logwright.autolog(disable=True)
    runs = logwright.search_runs()
    assert [r.info.run_id for r in runs] == [logger.version]
    assert not any(k.startswith("train/") for k in runs[0].data.metrics)


class PlTiny(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(4, 2)

    def training_step(self, batch, batch_idx):
        loss = torch.nn.functional.cross_entropy(self.net(batch[0]), batch[1])
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_pytorch_lightning_namespace(autolog, tmp_path):
    t = pl.Trainer(max_epochs=1, log_every_n_steps=1, enable_progress_bar=False, logger=False,
                   enable_model_summary=False, default_root_dir=str(tmp_path))
    t.fit(PlTiny(), data())
    run = only_run()
    assert run.info.status == "FINISHED" and len(history(run, "train_loss")) == 4
    assert type(t.loggers[0]).__module__ == "logwright_lightning.pytorch_lightning"


def test_predict_without_a_run_logs_nothing(autolog, tmp_path):
    trainer(tmp_path).predict(Tiny(), DataLoader(torch.zeros(4, 4), batch_size=2))
    assert logwright.search_runs() == []


def test_contract(tmp_store, tmp_path):
    def exercise():
        model = Tiny()
        trainer(tmp_path, max_epochs=1, enable_checkpointing=False).fit(model, data())
        return model

    check_contract("lightning", exercise,
                   failing=lambda: trainer(tmp_path, max_epochs=1).fit(Tiny(fail_at=1), data()))


def test_ddp_spawn_two_processes_make_one_run(tmp_store):
    done = subprocess.run([sys.executable, os.path.join(HERE, "ddp_spawn_script.py"), tmp_store],
                          capture_output=True, text=True, timeout=280, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    run = only_run()
    assert run.info.status == "FINISHED"
    # 16 rows over 2 ranks, batch 4: 2 steps per epoch; rank zero's values only
    assert [s for s, _ in history(run, "train_loss_step")] == [0, 1, 2, 3]
    assert [s for s, _ in history(run, "train_loss_epoch")] == [0, 1]
    assert run.data.params["trainer/strategy"] == "DDPStrategy" and run.data.params["trainer/world_size"] == "2"
    assert {f.path for f in logwright.list_artifacts(run.info.run_id)} >= {"model", "checkpoints"}
