"""Run by test_lightning.py in a subprocess: a ddp_spawn fit on CPU with two processes.

Usage: python ddp_spawn_script.py STORE [explicit]
With "explicit" it uses LogwrightLogger/LogwrightCallback without autolog.
"""

import sys
import tempfile

import lightning as L
import torch
from logwright_lightning import LogwrightCallback, LogwrightLogger
from torch.utils.data import DataLoader, TensorDataset

import logwright


class Tiny(L.LightningModule):
    def __init__(self, hidden: int = 4) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Linear(3, 2)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self.net(x), y)
        self.log("train_loss", loss, on_step=True, on_epoch=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def main(store: str, explicit: bool) -> None:
    logwright.set_tracking_uri(store)
    if not explicit:
        logwright.autolog(only=["lightning"])
    x = torch.randn(16, 3, generator=torch.Generator().manual_seed(0))
    data = DataLoader(TensorDataset(x, (x[:, 0] > 0).long()), batch_size=4)
    kwargs = {"logger": LogwrightLogger(), "callbacks": [LogwrightCallback()]} if explicit else {"logger": False}
    # A folder beside a folder store; a database URI (--store-backend=postgres+s3) is no folder.
    root = tempfile.mkdtemp(prefix="ddp-root-") if "://" in store else store + "-root"
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp_spawn", max_epochs=2, log_every_n_steps=1,
                        enable_progress_bar=False, enable_model_summary=False,
                        default_root_dir=root, **kwargs)
    trainer.fit(Tiny(), data)


if __name__ == "__main__":
    main(sys.argv[1], len(sys.argv) > 2 and sys.argv[2] == "explicit")
