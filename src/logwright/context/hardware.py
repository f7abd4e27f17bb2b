"""Hardware of this machine: CPU model, cores, RAM, GPUs; read from files where possible.

GPUs are described only from what is already at hand: torch when the user has
already imported it, the NVIDIA driver's ``/proc`` files, or ``nvidia-smi`` when
it exists. Nothing is imported to find them.
"""

from __future__ import annotations

import glob
import logging
import os
import platform
import shutil
import subprocess
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

_logger = logging.getLogger(__name__)


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else the platform's answer)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith(("model name", "Hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_mb() -> int | None:
    """Total physical memory in MiB."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024))
    except (AttributeError, ValueError, OSError):
        return None


def _torch_gpus() -> list[dict[str, Any]] | None:
    torch = sys.modules.get("torch")
    cuda = getattr(torch, "cuda", None)
    if cuda is None:
        return None
    try:
        if not cuda.is_available():
            return []
        gpus = []
        for i in range(cuda.device_count()):
            props = cuda.get_device_properties(i)
            gpus.append({"name": props.name, "memory_mb": int(props.total_memory // (1024 * 1024))})
        return gpus
    except Exception as exc:  # noqa: BLE001 - a broken CUDA setup must not break a run
        _logger.debug("logwright: torch.cuda failed: %s", exc)
        return None


def _proc_gpus() -> list[dict[str, Any]]:
    gpus = []
    for path in sorted(glob.glob("/proc/driver/nvidia/gpus/*/information")):
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                fields = dict(line.split(":", 1) for line in fh if ":" in line)
        except OSError:
            continue
        gpus.append({"name": fields.get("Model", "?").strip()})
    return gpus


def _smi_gpus() -> list[dict[str, Any]]:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        name, _, mem = line.rpartition(",")
        gpus.append({"name": name.strip(), "memory_mb": int(mem) if mem.strip().isdigit() else None})
    return gpus


def gpus() -> list[dict[str, Any]]:
    """GPUs as ``[{"name", "memory_mb"}]``: via torch if imported, else the driver, else nvidia-smi."""
    found = _torch_gpus()
    if found is not None:
        return found
    return _proc_gpus() or _smi_gpus()


def capture() -> dict[str, Any]:
    """``{"cpu", "cores", "memory_mb", "gpus"}`` for this machine."""
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "memory_mb": memory_mb(), "gpus": gpus()}
