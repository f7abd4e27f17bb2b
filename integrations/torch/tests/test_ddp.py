"""DDP jobs (gloo on CPU, two real processes) log ONE run: rank zero's metrics, every rank's system metrics.

The jobs run ``ddp_train.py`` under torchrun against a real ``logwright server`` on
127.0.0.1 (once as two "nodes": two torchrun agents meeting at a c10d rendezvous, one
process each, as on a cluster), and under ``torch.multiprocessing.spawn`` against a local store.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

import logwright
from logwright.entities import RunStatus
from logwright.testing.distributed import check_system_metrics, history, job_env, only_run, run_job

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ddp_train.py")
TORCHRUN = ("-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "--monitor-interval", "0.1")


def _two_nodes(out, uri: str) -> list[subprocess.CompletedProcess[str]]:
    """Two torchrun agents (one process each) meeting at a c10d rendezvous: a two-node job on one machine."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
           "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", "test-job",
           "--monitor-interval", "0.1", SCRIPT, str(out)]
    nodes = [subprocess.Popen(cmd, env=job_env(uri), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = []
    for node in nodes:
        stdout, stderr = node.communicate(timeout=240)
        results.append(subprocess.CompletedProcess(cmd, node.returncode, stdout, stderr))
    return results


def _losses(out, rank: int) -> list[float]:
    with open(os.path.join(out, f"losses_{rank}.json"), encoding="utf-8") as fh:
        return json.load(fh)


def test_two_node_torchrun_job_through_the_server_is_one_run(tracking_server, tmp_path):
    nodes = _two_nodes(tmp_path, tracking_server.url)
    for done in nodes:
        assert done.returncode == 0, done.stderr[-4000:]
    client = logwright.Client(tracking_server.url)
    run = only_run(client, done)
    assert run.info.status == RunStatus.FINISHED
    rank0, rank1 = _losses(tmp_path, 0), _losses(tmp_path, 1)
    assert rank0 != rank1  # each rank trains on its own data: the history says whose values it holds
    assert history(client, run, "train/loss") == list(enumerate(rank0))
    assert [s for s, _ in history(client, run, "train/lr")] == list(range(6))  # once per step, not per rank
    assert run.data.params["optimizer"] == "SGD" and run.data.params["num_params"] == "10"
    assert run.data.tags["logwright.distributed.world_size"] == "2"
    check_system_metrics(client, run)


def test_a_failing_rank_fails_the_run(tracking_server, tmp_path):
    done = run_job(SCRIPT, tmp_path, tracking_server.url, "--fail-rank", "1", launcher=TORCHRUN)
    assert done.returncode != 0
    client = logwright.Client(tracking_server.url)
    run = only_run(client, done)
    assert run.info.status == RunStatus.FAILED
    assert run.data.tags["logwright.rank_1.error"] == "RuntimeError: rank 1 broke at step 3"
    assert run.data.tags["logwright.error"]  # rank 1's, or rank 0's own (gloo: "Connection closed by peer")
    assert [s for s, _ in history(client, run, "train/loss")] == [0, 1, 2]  # rank zero's steps before it


@pytest.mark.sqlite_only(reason="the job's processes open the store folder themselves")
def test_spawned_job_into_a_local_store(tmp_path):
    store = str(tmp_path / "store")
    done = run_job(SCRIPT, tmp_path, store, "--spawn", "--loop")
    assert done.returncode == 0, done.stderr[-4000:]
    client = logwright.Client(store)
    run = only_run(client, done)
    assert run.info.status == RunStatus.FINISHED and run.info.run_name == "ddp-loop"
    assert history(client, run, "train/loss") == list(enumerate(_losses(tmp_path, 0)))
    check_system_metrics(client, run)


@pytest.mark.sqlite_only(reason="the job's processes open the store folder themselves")
def test_spawned_worker_failure_fails_the_run(tmp_path):
    # torch's spawn wrapper swallows the worker's exception (exit status 1, no excepthook)
    store = str(tmp_path / "store")
    done = run_job(SCRIPT, tmp_path, store, "--spawn", "--fail-rank", "0")
    assert done.returncode != 0
    client = logwright.Client(store)
    run = only_run(client, done)
    assert run.info.status == RunStatus.FAILED
    assert run.data.tags["logwright.rank_0.error"] == "RuntimeError: rank 0 broke at step 3"
    assert "logwright.rank_1.error" in run.data.tags  # gloo: its peer went away
    assert run.data.tags["logwright.error"] == "rank 0: RuntimeError: rank 0 broke at step 3"


@pytest.mark.parametrize(("env", "rank"), [
    ({}, 0),
    ({"RANK": "3", "LOCAL_RANK": "1"}, 3),
    ({"SLURM_PROCID": "5"}, 5),
    ({"LOCAL_RANK": "1"}, 1),  # Lightning's own ddp launcher, one node
    ({"NODE_RANK": "1", "LOCAL_RANK": "0", "LOCAL_WORLD_SIZE": "4"}, 4),
])
def test_rank_from_the_launchers_environment(monkeypatch, env, rank):
    from logwright import distributed

    for name in ("RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK",
                 "LOCAL_WORLD_SIZE", "SLURM_LOCALID"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert distributed.rank() == rank
    assert distributed.is_rank_zero() is (rank == 0)


def test_failures_are_read_from_rank_tags():
    from logwright.distributed import failures

    tags = {"logwright.rank_1.error": "RuntimeError: x", "logwright.rank_12.error": "OSError: y",
            "logwright.error": "rank 1: RuntimeError: x", "logwright.rank_x.error": "not a rank", "rank_2.error": "z"}
    assert failures(tags) == {1: "RuntimeError: x", 12: "OSError: y"}
