"""A plain PyTorch training loop that logs itself: one ``logwright.autolog()`` line.

    python examples/torch_loop.py

Trains a small MLP on a synthetic two-class problem twice (two learning rates), each
inside ``logwright_torch.loop(...)`` so each gets its own run and its model is saved.
Nothing in the loop mentions logwright: the optimizer's hyperparameters, parameter
counts, per-step loss, learning rate, step time and gradient norm are logged by
autolog. Then it loads the best model back and prints where to look.
"""

from __future__ import annotations

import logwright_torch
import torch
from torch import nn

import logwright


def data(n: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """Two noisy interleaved classes in 20 dimensions."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, 20, generator=gen)
    y = ((x[:, 0] * x[:, 1] + 0.3 * x[:, 2]) > 0).long()
    return x, y


def train(model: nn.Module, lr: float, x: torch.Tensor, y: torch.Tensor, epochs: int = 15) -> None:
    """An ordinary loop: nothing here knows about logwright."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * (len(x) // 64))
    for _ in range(epochs):
        for i in range(0, len(x), 64):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x[i : i + 64]), y[i : i + 64])
            loss.backward()
            opt.step()
            sched.step()


def main() -> None:
    """Train twice, compare, reload the best model."""
    torch.set_num_threads(1)
    logwright.set_experiment("torch-loop-example")
    logwright.autolog(torch={"log_grad_norm": 10})
    x, y = data()
    runs = []
    for lr in (1e-3, 1e-2):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 2))
        with logwright_torch.loop(f"mlp-lr{lr}", model=model, input_example=x[:8]):
            train(model, lr, x, y)
        runs.append(logwright.last_active_run())  # the run this loop made, read back from the store
    runs.sort(key=lambda r: r.data.metrics["train/loss"])
    for run in runs:
        print(f"run {run.info.run_id} {run.info.run_name:>12}: final train/loss "
              f"{run.data.metrics['train/loss']:.4f}  "
              f"(optimizer {run.data.params['optimizer']}, lr {run.data.params['optimizer.lr']})")
    best = runs[0]
    model = logwright.load_model(f"runs:/{best.info.run_id}/model")
    accuracy = (model(x).argmax(1) == y).float().mean().item()
    print(f"best run {best.info.run_name}: model reloaded from runs:/{best.info.run_id}/model, "
          f"accuracy {accuracy:.3f}")
    print(f"store: {logwright.get_tracking_uri() or './logwright-runs'}  (browse with: logwright ui)")


if __name__ == "__main__":
    main()
