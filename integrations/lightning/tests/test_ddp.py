"""A Lightning multi-process fit (two real CPU processes) is ONE run.

``ddp_spawn`` through a real ``logwright server`` on 127.0.0.1; ``ddp`` under torchrun
(every process runs the script and ``Trainer.fit``) into a local SQLite folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import logwright
from logwright.entities import RunStatus

HERE = os.path.dirname(os.path.abspath(__file__))
SYSTEM = ("cpu_percent", "memory_used_mb", "process_cpu_percent", "process_memory_mb")


def _fit(out, uri: str, *args: str, launcher: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LOGWRIGHT_TRACKING_URI=uri, LOGWRIGHT_SYSTEM_METRICS_INTERVAL="0.2",
               LOGWRIGHT_CAPTURE_GIT="0", LOGWRIGHT_QUIET="1", OMP_NUM_THREADS="1")
    cmd = [sys.executable, *launcher, os.path.join(HERE, "ddp_fit.py"), str(out), *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=280, check=False)


def _check_system_metrics(client: logwright.Client, run) -> None:
    for rank in (0, 1):
        for name in SYSTEM:
            assert _history(client, run, f"system/rank_{rank}/{name}"), f"no system/rank_{rank}/{name}"


def _only_run(client: logwright.Client, done: subprocess.CompletedProcess[str]):
    runs = client.search_runs()
    assert len(runs) == 1, ([(r.info.run_id, r.data.tags) for r in runs], done.stderr[-4000:])
    return client.get_run(runs[0].info.run_id)


def _history(client: logwright.Client, run, key: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, key)]


def test_ddp_spawn_fit_through_the_server_is_one_run(tracking_server, tmp_path):
    done = _fit(tmp_path, tracking_server.url)
    assert done.returncode == 0, done.stderr[-4000:]
    client = logwright.Client(tracking_server.url)
    run = _only_run(client, done)
    assert run.info.status == RunStatus.FINISHED
    with open(tmp_path / "losses.json", encoding="utf-8") as fh:
        rank0 = json.load(fh)
    # 16 rows over 2 ranks, batch 4, 2 epochs: 4 steps, rank zero's values, once each
    assert _history(client, run, "train_loss") == list(enumerate(rank0))
    assert [s for s, _ in _history(client, run, "lr-SGD")] == [1, 2, 3, 4]  # after each step, once
    assert run.data.params["trainer/world_size"] == "2"
    assert run.data.tags["logwright.distributed.world_size"] == "2"
    _check_system_metrics(client, run)
    # the main process (which only waits for the workers) samples nothing of its own
    assert not [k for k in run.data.metrics if k.startswith("system/") and not k.startswith("system/rank_")]


def test_a_failing_rank_fails_the_fit_run(tracking_server, tmp_path):
    done = _fit(tmp_path, tracking_server.url, "--fail-rank", "1")
    assert done.returncode != 0
    client = logwright.Client(tracking_server.url)
    run = _only_run(client, done)
    assert run.info.status == RunStatus.FAILED
    assert run.data.tags["logwright.rank_1.error"] == "RuntimeError: rank 1 broke at step 1"
    assert [s for s, _ in _history(client, run, "train_loss")] == [0]


@pytest.mark.sqlite_only(reason="the job's processes open the store folder themselves")
def test_ddp_under_torchrun_into_a_local_store_is_one_run(tmp_path):
    store = str(tmp_path / "store")
    done = _fit(tmp_path, store, "--strategy", "ddp",
                launcher=("-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"))
    assert done.returncode == 0, done.stderr[-4000:]
    client = logwright.Client(store)
    run = _only_run(client, done)  # rank 1's Trainer.fit started no run of its own
    assert run.info.status == RunStatus.FINISHED
    with open(tmp_path / "losses.json", encoding="utf-8") as fh:
        assert _history(client, run, "train_loss") == list(enumerate(json.load(fh)))
    _check_system_metrics(client, run)
