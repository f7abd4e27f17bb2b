"""Lightning fit, small MLP (20->64->2, 20,000 rows, batch 64, 3 epochs, CPU, one thread).

    .venv/bin/python benchmarks/lightning.py --tracker logwright     # none vs logwright.autolog()
    .bench-venv/bin/python benchmarks/lightning.py --tracker mlflow  # none vs mlflow.pytorch.autolog()

Each process alternates its baseline (no tracker) with the tracker, fit by fit, after one
warm-up fit of each (so imports, store creation and machine load hit both alike), and
reports medians:

- per training step: the training loop's time (``on_train_start`` to ``on_train_end``)
  over its 939 steps; this holds the per-step logging (``self.log`` values handed to the
  logger every 50 steps, learning rates) but not the start/end-of-fit work;
- end-of-fit work: the rest of ``trainer.fit`` (settings, model summary, checkpoint
  upload, final model) minus the same for the baseline.

The module logs ``train_loss`` every step (``self.log``); the default ModelCheckpoint
saves one checkpoint per epoch in every variant.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("LOGWRIGHT_QUIET", "1")
if os.path.dirname(os.path.abspath(__file__)) == os.path.abspath(sys.path[0]):
    sys.path.pop(0)  # this file is called lightning.py: never let it shadow the lightning package

import lightning as L  # noqa: E402 - after the thread settings and the sys.path fix
import torch  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

torch.set_num_threads(1)


class MLP(L.LightningModule):
    """20 -> 64 -> 2, Adam; logs the training loss every step."""

    def __init__(self, lr: float = 1e-3) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(torch.nn.Linear(20, 64), torch.nn.ReLU(), torch.nn.Linear(64, 2))
        self.example_input_array = torch.zeros(1, 20)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: tuple, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


class Clock(L.Callback):
    """Times the training loop (first to last step, per-step logging included)."""

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.start = time.perf_counter()

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.loop = time.perf_counter() - self.start
        self.steps = trainer.global_step


def fit_once(root: str) -> tuple[float, float]:
    """(seconds per training step, seconds of fit outside the training loop)."""
    torch.manual_seed(0)
    x = torch.randn(20_000, 20)
    data = DataLoader(TensorDataset(x, (x[:, 0] > 0).long()), batch_size=64)
    clock = Clock()
    trainer = L.Trainer(max_epochs=3, accelerator="cpu", devices=1, logger=False, callbacks=[clock],
                        enable_progress_bar=False, enable_model_summary=False, default_root_dir=root)
    t = time.perf_counter()
    trainer.fit(MLP(), data)
    total = time.perf_counter() - t
    return clock.loop / clock.steps, total - clock.loop


def switch(tracker: str, on: bool, folder: str) -> None:
    """Turn the tracker's autolog on or off."""
    if tracker == "logwright":
        import logwright

        logwright.set_tracking_uri(os.path.join(folder, "logwright"))
        logwright.autolog(only=["lightning"], disable=not on)
    elif tracker == "mlflow":
        import mlflow

        mlflow.set_tracking_uri(f"sqlite:///{os.path.join(folder, 'mlflow.db')}")
        mlflow.pytorch.autolog(disable=not on, silent=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracker", choices=["none", "logwright", "mlflow"], default="logwright")
    parser.add_argument("--blocks", type=int, default=3)
    args = parser.parse_args()
    variants = ["none"] if args.tracker == "none" else ["none", args.tracker]
    folder = tempfile.mkdtemp(prefix="bench-lightning-")
    results: dict[str, list[tuple[float, float]]] = {v: [] for v in variants}
    for block in range(args.blocks + 1):
        for variant in variants:
            if args.tracker != "none":
                switch(args.tracker, variant != "none", folder)
            got = fit_once(os.path.join(folder, f"root-{variant}-{block}"))
            if block:  # block 0 is the warm-up
                results[variant].append(got)
    base_step = statistics.median(s for s, _ in results["none"])
    base_rest = statistics.median(r for _, r in results["none"])
    for variant in variants:
        step = statistics.median(s for s, _ in results[variant])
        rest = statistics.median(r for _, r in results[variant])
        print(f"{variant:>10}: {step * 1e3:.3f} ms/step ({(step / base_step - 1) * 100:+.1f}% vs none), "
              f"fit outside the loop {rest * 1e3:.0f} ms (end-of-fit work {(rest - base_rest) * 1e3:+.0f} ms)")


if __name__ == "__main__":
    main()
