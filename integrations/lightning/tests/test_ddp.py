"""A Lightning multi-process fit (two real CPU processes) is ONE run.

``ddp_spawn`` through a real ``logwright server`` on 127.0.0.1; ``ddp`` under torchrun
(every process runs the script and ``Trainer.fit``) into a local SQLite folder.
"""

from __future__ import annotations

import json
import os

import pytest

import logwright
from logwright.entities import RunStatus
from logwright.testing.distributed import check_system_metrics, history, only_run, run_job

FIT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ddp_fit.py")
TORCHRUN = ("-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2")


def test_ddp_spawn_fit_through_the_server_is_one_run(tracking_server, tmp_path):
    done = run_job(FIT, tmp_path, tracking_server.url, timeout=280)
    assert done.returncode == 0, done.stderr[-4000:]
    client = logwright.Client(tracking_server.url)
    run = only_run(client, done)
    assert run.info.status == RunStatus.FINISHED
    with open(tmp_path / "losses.json", encoding="utf-8") as fh:
        rank0 = json.load(fh)
    # 16 rows over 2 ranks, batch 4, 2 epochs: 4 steps, rank zero's values, once each
    assert history(client, run, "train_loss") == list(enumerate(rank0))
    assert [s for s, _ in history(client, run, "lr-SGD")] == [1, 2, 3, 4]  # after each step, once
    assert run.data.params["trainer/world_size"] == "2"
    assert run.data.tags["logwright.distributed.world_size"] == "2"
    # the main process (which only waits for the workers) samples nothing of its own
    check_system_metrics(client, run, ranks_only=True)


def test_a_failing_rank_fails_the_fit_run(tracking_server, tmp_path):
    done = run_job(FIT, tmp_path, tracking_server.url, "--fail-rank", "1", timeout=280)
    assert done.returncode != 0
    client = logwright.Client(tracking_server.url)
    run = only_run(client, done)
    assert run.info.status == RunStatus.FAILED
    assert run.data.tags["logwright.rank_1.error"] == "RuntimeError: rank 1 broke at step 1"
    assert [s for s, _ in history(client, run, "train_loss")] == [0]


@pytest.mark.sqlite_only(reason="the job's processes open the store folder themselves")
def test_ddp_under_torchrun_into_a_local_store_is_one_run(tmp_path):
    store = str(tmp_path / "store")
    done = run_job(FIT, tmp_path, store, "--strategy", "ddp", launcher=TORCHRUN, timeout=280)
    assert done.returncode == 0, done.stderr[-4000:]
    client = logwright.Client(store)
    run = only_run(client, done)  # rank 1's Trainer.fit started no run of its own
    assert run.info.status == RunStatus.FINISHED
    with open(tmp_path / "losses.json", encoding="utf-8") as fh:
        assert history(client, run, "train_loss") == list(enumerate(json.load(fh)))
    check_system_metrics(client, run, ranks_only=False)
