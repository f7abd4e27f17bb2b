"""Run by test_ddp.py: a tiny DDP loop on CPU (gloo), two processes, torch autolog on.

Usage: python ddp_train.py OUT [--fail-rank R] [--spawn] [--loop]

Under torchrun each process runs ``train``; with ``--spawn`` this script starts the two
processes itself with ``torch.multiprocessing.spawn``. Each rank writes the losses it
computed to ``OUT/losses_<rank>.json``. ``--fail-rank R`` makes rank R raise at step 3;
``--loop`` delimits the run with ``logwright_torch.loop()``.
"""

import argparse
import contextlib
import json
import os
import socket
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

import logwright

STEPS = 6


def train(rank: int, world: int, out: str, fail_rank: int, use_loop: bool) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    logwright.autolog(only=["torch"], log_system_metrics=True)
    import logwright_torch

    torch.manual_seed(0)
    model = nn.parallel.DistributedDataParallel(nn.Linear(4, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    gen = torch.Generator().manual_seed(rank)  # each rank its own data: its own losses
    x, y = torch.randn(8, 4, generator=gen), torch.randint(0, 2, (8,), generator=gen)
    losses = []
    with logwright_torch.loop("ddp-loop") if use_loop else contextlib.nullcontext():
        for step in range(STEPS):
            if step == 3 and rank == fail_rank:
                raise RuntimeError(f"rank {rank} broke at step 3")
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            time.sleep(0.25)  # a few system metrics samples (LOGWRIGHT_SYSTEM_METRICS_INTERVAL=0.2)
    with open(os.path.join(out, f"losses_{rank}.json"), "w", encoding="utf-8") as fh:
        json.dump(losses, fh)
    dist.barrier()
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--fail-rank", type=int, default=-1)
    parser.add_argument("--spawn", action="store_true")
    parser.add_argument("--loop", action="store_true")
    args = parser.parse_args()
    if args.spawn:
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()))
        mp.spawn(train, args=(2, args.out, args.fail_rank, args.loop), nprocs=2)
    else:  # torchrun: RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT come from the environment
        train(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), args.out, args.fail_rank, args.loop)


if __name__ == "__main__":
    main()
