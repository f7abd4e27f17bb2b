"""Run by test_ddp.py: a ``ddp_spawn`` fit on CPU with two processes, autolog on.

Usage: python ddp_fit.py OUT [--fail-rank R] [--strategy ddp]

The tracking URI comes from ``LOGWRIGHT_TRACKING_URI``. Rank zero writes the
``train_loss`` values it computed to ``OUT/losses.json``; ``--fail-rank R`` makes
rank R raise in its second training step.
"""

import argparse
import json
import os

import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset

import logwright


class Tiny(L.LightningModule):
    def __init__(self, out: str, fail_rank: int) -> None:
        super().__init__()
        self.net = torch.nn.Linear(3, 2)
        self.out, self.fail_rank = out, fail_rank
        self.losses: list[float] = []

    def training_step(self, batch, batch_idx):
        if self.global_rank == self.fail_rank and self.global_step == 1:
            raise RuntimeError(f"rank {self.global_rank} broke at step 1")
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self.net(x), y)
        self.log("train_loss", loss, on_step=True, on_epoch=False)
        self.losses.append(loss.item())
        return loss

    def on_train_end(self) -> None:
        if self.global_rank == 0:
            with open(os.path.join(self.out, "losses.json"), "w", encoding="utf-8") as fh:
                json.dump(self.losses, fh)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--fail-rank", type=int, default=-1)
    parser.add_argument("--strategy", default="ddp_spawn")  # "ddp" under torchrun, or relaunching itself
    args = parser.parse_args()
    torch.set_num_threads(1)
    logwright.autolog(only=["lightning"], log_system_metrics=True, log_models=False,
                      lightning={"log_model_summary": False})
    x = torch.randn(16, 3, generator=torch.Generator().manual_seed(0))
    data = DataLoader(TensorDataset(x, (x[:, 0] > 0).long()), batch_size=4)
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy=args.strategy, max_epochs=2, log_every_n_steps=1,
                        enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
                        logger=False, default_root_dir=args.out)
    trainer.fit(Tiny(args.out, args.fail_rank), data)


if __name__ == "__main__":
    main()
