"""System metrics of one rank of a distributed job, keyed ``system/rank_<r>/...``.

Used by :mod:`logwright.distributed`: each rank samples into the job's one run.
"""

from __future__ import annotations

import logging
import os
import time

from logwright.context.system import SystemMetricsSampler

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

__all__ = ["RankSystemMetrics"]

_logger = logging.getLogger(__name__)


def _local_rank() -> int | None:
    for name in ("LOCAL_RANK", "SLURM_LOCALID"):
        raw = os.environ.get(name, "").strip()
        if raw.isdigit():
            return int(raw)
    return None


class RankSystemMetrics(SystemMetricsSampler):
    """System metrics of one rank into the job's run, keyed ``system/rank_<r>/...``.

    The machine's metrics (CPU, memory, disk, network) as :class:`SystemMetricsSampler`
    reads them, plus this process's own ``process_cpu_percent`` (100 = one core busy) and
    ``process_memory_mb`` (resident), which tell ranks sharing a machine apart. Of the
    GPUs only the local rank's is logged (``gpu_<local_rank>/...``), all of them when the
    local rank is unknown.

    Args:
        client: the client to log through.
        run_id: the job's run.
        rank: the global rank (the key prefix).
        local_rank: the rank on its machine (picks the GPU); default ``LOCAL_RANK``.
        interval: seconds between samples (default ``LOGWRIGHT_SYSTEM_METRICS_INTERVAL`` or 10).
    """

    def __init__(self, client: Any, run_id: str, rank: int, local_rank: int | None = None,
                 interval: float | None = None) -> None:
        super().__init__(client, run_id, interval)
        self.rank = rank
        self.local_rank = _local_rank() if local_rank is None else local_rank
        self._cpu = (time.perf_counter(), _process_cpu_seconds())

    def sample(self) -> dict[str, float]:
        """Read the metrics once, keyed by rank (without logging them)."""
        prefix = f"system/rank_{self.rank}/"
        gpu = None if self.local_rank is None else f"gpu_{self.local_rank}/"
        out = {}
        for key, value in super().sample().items():
            rest = key.split("/", 1)[1]
            if rest.startswith("gpu_") and gpu is not None and not rest.startswith(gpu):
                continue
            out[prefix + rest] = value
        now, cpu = time.perf_counter(), _process_cpu_seconds()
        wall = now - self._cpu[0]
        out[prefix + "process_cpu_percent"] = 100.0 * (cpu - self._cpu[1]) / wall if wall > 0 else 0.0
        self._cpu = (now, cpu)
        rss = _process_rss_mb()
        if rss is not None:
            out[prefix + "process_memory_mb"] = rss
        return out


def _process_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def _process_rss_mb() -> float | None:
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)
    except (OSError, ValueError, IndexError, AttributeError):
        return None
