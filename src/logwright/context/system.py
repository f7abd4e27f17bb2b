"""System metrics (opt-in): a daemon thread samples the machine while a run is active.

Enabled by ``start_run(log_system_metrics=True)``, ``autolog(log_system_metrics=True)``
(runs autolog starts) or ``LOGWRIGHT_LOG_SYSTEM_METRICS=1``. Every
``LOGWRIGHT_SYSTEM_METRICS_INTERVAL`` seconds (default 10) it logs, with
increasing steps:

- ``system/cpu_percent``, ``system/memory_used_mb``, ``system/memory_percent``;
- ``system/disk_read_mb``, ``system/disk_write_mb``, ``system/network_receive_mb``,
  ``system/network_transmit_mb`` (cumulative since the run started);
- ``system/gpu_<i>/utilization_percent``, ``system/gpu_<i>/memory_used_mb`` per GPU
  where NVML (``pynvml``) is importable.

psutil (``pip install logwright[system]``) is used when installed; without it the
Linux ``/proc`` files are read; elsewhere a warning is given once and nothing is logged.
The sampler stops (after one last sample) when the run ends.
"""

from __future__ import annotations

import logging
import os
import threading

from logwright import config

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

_logger = logging.getLogger(__name__)
_MB = 1024 * 1024
_warned: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        _logger.warning(message)


class _ProcReader:
    """CPU, memory, disk and network counters from Linux ``/proc`` (no psutil)."""

    def __init__(self) -> None:
        self._cpu = self._cpu_times()

    @staticmethod
    def _cpu_times() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = [int(v) for v in fh.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return sum(fields), idle

    def cpu_percent(self) -> float:
        total, idle = self._cpu_times()
        d_total, d_idle = total - self._cpu[0], idle - self._cpu[1]
        self._cpu = (total, idle)
        return 100.0 * (d_total - d_idle) / d_total if d_total > 0 else 0.0

    @staticmethod
    def memory() -> tuple[float, float]:
        info = {}
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                info[key] = int(rest.split()[0]) * 1024
        total, available = info["MemTotal"], info.get("MemAvailable", info.get("MemFree", 0))
        return (total - available) / _MB, 100.0 * (total - available) / total

    @staticmethod
    def disk() -> tuple[int, int]:
        try:  # whole disks only: partitions and device-mapper volumes would count twice
            disks = {d for d in os.listdir("/sys/block") if not d.startswith(("loop", "ram", "dm-"))}
        except OSError:
            disks = None
        read = written = 0
        with open("/proc/diskstats", encoding="ascii") as fh:
            for line in fh:
                parts = line.split()
                if disks is not None and parts[2] not in disks:
                    continue
                read, written = read + int(parts[5]) * 512, written + int(parts[9]) * 512
        return read, written

    @staticmethod
    def network() -> tuple[int, int]:
        received = sent = 0
        with open("/proc/net/dev", encoding="ascii") as fh:
            for line in fh.readlines()[2:]:
                name, _, rest = line.partition(":")
                if name.strip() == "lo":
                    continue
                parts = rest.split()
                received, sent = received + int(parts[0]), sent + int(parts[8])
        return received, sent


class _PsutilReader:
    """The same counters through psutil."""

    def __init__(self, psutil: Any) -> None:
        self.psutil = psutil
        psutil.cpu_percent(interval=None)

    def cpu_percent(self) -> float:
        return float(self.psutil.cpu_percent(interval=None))

    def memory(self) -> tuple[float, float]:
        mem = self.psutil.virtual_memory()
        return (mem.total - mem.available) / _MB, float(mem.percent)

    def disk(self) -> tuple[int, int]:
        io = self.psutil.disk_io_counters()
        return (io.read_bytes, io.write_bytes) if io else (0, 0)

    def network(self) -> tuple[int, int]:
        io = self.psutil.net_io_counters()
        return (io.bytes_recv, io.bytes_sent) if io else (0, 0)


def _reader() -> Any:
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        return _PsutilReader(psutil)
    if os.path.exists("/proc/stat"):
        return _ProcReader()
    _warn_once("reader", "logwright: system metrics need psutil here (pip install 'logwright[system]')")
    return None


class _GpuReader:
    """Per-GPU utilisation and memory through NVML (pynvml), when importable."""

    def __init__(self) -> None:
        import pynvml

        pynvml.nvmlInit()
        self.nvml = pynvml
        self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]

    def sample(self) -> dict[str, float]:
        out = {}
        for i, handle in enumerate(self.handles):
            util = self.nvml.nvmlDeviceGetUtilizationRates(handle)
            mem = self.nvml.nvmlDeviceGetMemoryInfo(handle)
            out[f"system/gpu_{i}/utilization_percent"] = float(util.gpu)
            out[f"system/gpu_{i}/memory_used_mb"] = mem.used / _MB
            out[f"system/gpu_{i}/memory_percent"] = 100.0 * mem.used / mem.total if mem.total else 0.0
        return out


def _gpu_reader() -> _GpuReader | None:
    try:
        return _GpuReader()
    except Exception as exc:  # noqa: BLE001 - no pynvml, no driver, no GPU: skip GPU metrics
        _logger.debug("logwright: no GPU metrics (%s)", exc)
        return None


class SystemMetricsSampler:
    """Logs system metrics into one run from a daemon thread until :meth:`stop`.

    Args:
        client: the :class:`~logwright.client.Client` to log through.
        run_id: the run to log into.
        interval: seconds between samples (default ``LOGWRIGHT_SYSTEM_METRICS_INTERVAL`` or 10).
    """

    def __init__(self, client: Any, run_id: str, interval: float | None = None) -> None:
        self.client = client
        self.run_id = run_id
        self.interval = float(interval if interval is not None else config.number(config.SYSTEM_METRICS_INTERVAL, 10.0))
        self.samples = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reader: Any = None
        self._gpu: _GpuReader | None = None
        self._base: tuple[tuple[int, int], tuple[int, int]] | None = None

    def start(self) -> SystemMetricsSampler:
        """Start sampling (the first sample is taken after one interval)."""
        if self._thread is not None:
            return self
        self._reader = _reader()
        if self._reader is None:
            return self
        self._gpu = _gpu_reader()
        try:
            self._base = (self._reader.disk(), self._reader.network())
        except OSError:
            self._base = ((0, 0), (0, 0))
        self._thread = threading.Thread(target=self._loop, name=f"logwright-system-{self.run_id[:8]}", daemon=True)
        self._thread.start()
        return self

    def sample(self) -> dict[str, float]:
        """Read the metrics once (without logging them)."""
        reader = self._reader
        used, percent = reader.memory()
        (r0, w0), (rx0, tx0) = self._base or ((0, 0), (0, 0))
        (r, w), (rx, tx) = reader.disk(), reader.network()
        metrics = {
            "system/cpu_percent": reader.cpu_percent(),
            "system/memory_used_mb": used,
            "system/memory_percent": percent,
            "system/disk_read_mb": (r - r0) / _MB,
            "system/disk_write_mb": (w - w0) / _MB,
            "system/network_receive_mb": (rx - rx0) / _MB,
            "system/network_transmit_mb": (tx - tx0) / _MB,
        }
        if self._gpu is not None:
            metrics.update(self._gpu.sample())
        return metrics

    def _log_once(self) -> None:
        try:
            self.client.log_metrics(self.run_id, self.sample(), step=self.samples)
            self.samples += 1
        except Exception as exc:  # noqa: BLE001 - a sampler error must never reach the user
            _warn_once(f"sample:{type(exc).__name__}", f"logwright: system metrics sample failed: {exc}")

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._log_once()

    def stop(self) -> None:
        """Take a last sample and stop the thread (called when the run ends)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        thread.join(timeout=max(5.0, self.interval))
        self._log_once()
        if self._gpu is not None:
            try:
                self._gpu.nvml.nvmlShutdown()
            except Exception:  # noqa: BLE001
                pass
