"""Helpers for tests of multi-process jobs (DDP under torchrun, spawn): start one, read its run back.

The torch and Lightning integrations' DDP tests both start a training script in child
processes and check that the job logged ONE run holding rank zero's metrics and every
rank's system metrics; these are the pieces they share.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

SYSTEM = ("cpu_percent", "memory_used_mb", "process_cpu_percent", "process_memory_mb")
"""The system metrics every rank logs, as ``system/rank_<n>/<name>``."""


def job_env(uri: str) -> dict[str, str]:
    """This process's environment for a job logging to ``uri``: fast system metrics, no git, quiet, 1 thread."""
    return dict(os.environ, LOGWRIGHT_TRACKING_URI=uri, LOGWRIGHT_SYSTEM_METRICS_INTERVAL="0.2",
                LOGWRIGHT_CAPTURE_GIT="0", LOGWRIGHT_QUIET="1", OMP_NUM_THREADS="1")


def run_job(script: str, out: str | os.PathLike[str], uri: str, *args: str, launcher: Sequence[str] = (),
            timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """Run ``python [launcher...] script out args...`` with :func:`job_env` and wait for it.

    Args:
        script: the training script.
        out: the folder the script writes its own record to (its first argument).
        uri: the tracking URI the job logs to.
        *args: more arguments for the script.
        launcher: arguments between ``python`` and the script (``-m torch.distributed.run ...``).
        timeout: seconds before the job is killed (a test failure, never a measurement).

    Returns:
        The finished process, its output captured; a failing job does not raise.
    """
    cmd = [sys.executable, *launcher, script, str(out), *args]
    return subprocess.run(cmd, env=job_env(uri), capture_output=True, text=True, timeout=timeout, check=False)


def only_run(client: Any, done: subprocess.CompletedProcess[str]) -> Any:
    """The one run in ``client``'s store (asserts there is exactly one; shows the job's stderr if not)."""
    runs = client.search_runs()
    assert len(runs) == 1, ([(r.info.run_id, r.data.tags) for r in runs], done.stderr[-4000:])
    return client.get_run(runs[0].info.run_id)


def history(client: Any, run: Any, key: str) -> list[tuple[int, float]]:
    """The (step, value) points of metric ``key`` in ``run``."""
    return [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, key)]


def check_system_metrics(client: Any, run: Any, ranks_only: bool = True) -> None:
    """Assert that ranks 0 and 1 each logged every :data:`SYSTEM` metric.

    Args:
        client: a :class:`logwright.Client` of the job's store.
        run: the job's run.
        ranks_only: also assert that no process outside the ranks (a launcher that only
            waits for its workers) logged system metrics of its own.
    """
    for rank in (0, 1):
        for name in SYSTEM:
            assert history(client, run, f"system/rank_{rank}/{name}"), f"no system/rank_{rank}/{name}"
    if ranks_only:
        assert not [k for k in run.data.metrics if k.startswith("system/") and not k.startswith("system/rank_")]
