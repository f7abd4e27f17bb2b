"""Lightning quickstart: one line of logwright, a normal Lightning script.

    python examples/lightning_quickstart.py

``logwright.autolog()`` attaches a LogwrightLogger and a LogwrightCallback to the Trainer:
hyperparameters, trainer/optimizer/scheduler settings, every ``self.log`` value, learning
rates, the model summary, early stopping, the best checkpoint and the final model end up
in one run; ``trainer.test`` adds its results to the same run.
"""

from __future__ import annotations

import os
import sys
import tempfile

if os.path.dirname(os.path.abspath(__file__)) == os.path.abspath(sys.path[0]):
    sys.path.pop(0)  # never let a neighbouring file shadow a package

import lightning as L  # noqa: E402
import torch  # noqa: E402
from lightning.pytorch.callbacks import EarlyStopping  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset, random_split  # noqa: E402

import logwright  # noqa: E402


class Classifier(L.LightningModule):
    def __init__(self, hidden: int = 32, lr: float = 0.01) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(torch.nn.Linear(8, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 2))
        self.example_input_array = torch.zeros(1, 8)  # gives the logged model a signature

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def _step(self, batch: tuple, stage: str) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = torch.nn.functional.cross_entropy(logits, y)
        self.log(f"{stage}_loss", loss, on_step=stage == "train", on_epoch=True)
        self.log(f"{stage}_acc", (logits.argmax(1) == y).float().mean(), on_epoch=True)
        return loss

    def training_step(self, batch: tuple, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: tuple, batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: tuple, batch_idx: int) -> None:
        self._step(batch, "test")

    def configure_optimizers(self) -> dict:
        opt = torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
        return {"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)}


def main() -> None:
    folder = tempfile.mkdtemp(prefix="logwright-lightning-")  # Lightning's own checkpoint folder
    logwright.set_experiment("lightning-quickstart")
    logwright.autolog()

    torch.manual_seed(0)
    x = torch.randn(2_000, 8)
    train, val, test = random_split(TensorDataset(x, (x[:, 0] + x[:, 1] > 0).long()), [1_400, 300, 300])
    trainer = L.Trainer(max_epochs=4, enable_progress_bar=False, enable_model_summary=False, logger=False,
                        log_every_n_steps=10, default_root_dir=os.path.join(folder, "lightning"),
                        callbacks=[EarlyStopping("val_loss", patience=2)])
    trainer.fit(Classifier(), DataLoader(train, batch_size=32, shuffle=True), DataLoader(val, batch_size=100))
    run_id = logwright.last_active_run().info.run_id  # the run fit made
    trainer.test(dataloaders=DataLoader(test, batch_size=100))  # adds its results to that run

    run = logwright.get_run(run_id)
    print(f"\nrun {run.info.run_id} ({run.info.status}) in {logwright.get_tracking_uri() or './logwright-runs'}")
    print("  metrics:", {k: round(v, 3) for k, v in sorted(run.data.metrics.items())})
    print("  params :", len(run.data.params), "e.g.", {k: run.data.params[k] for k in
                                                       ("hidden", "optimizer/Adam/lr", "trainer/max_epochs")})
    print("  artifacts:", [f.path for f in logwright.list_artifacts(run.info.run_id)])
    model = logwright.load_model(f"runs:/{run.info.run_id}/model")
    print(f"  model reloaded from runs:/{run.info.run_id}/model predicts:", model(torch.zeros(2, 8)).argmax(1).tolist())
    print("browse it: logwright ui")


if __name__ == "__main__":
    main()
