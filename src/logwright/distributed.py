"""Distributed training: every rank of one job logs into one run.

Global rank zero owns the run (it creates it, or logs into the run its user started)
and writes all metrics and params; the other ranks never create a run. They learn
its id from rank zero through ``torch.distributed``'s key-value store (the one the
process group was initialized with, shared by every node; no collective is issued,
so logging can never stall or reorder the job's own communication), and write only:

- their system metrics, when system metrics are on, keyed by rank:
  ``system/rank_<r>/cpu_percent``, ``memory_used_mb``, ``process_cpu_percent``,
  ``process_memory_mb`` ... and ``gpu_<i>/utilization_percent`` for the GPU of their
  local rank; rank zero's are keyed ``system/rank_0/...`` as well;
- their failure: an uncaught exception on rank ``r`` sets the tags
  ``logwright.rank_<r>.error`` and ``logwright.error`` and ends the run FAILED.

Rank zero ends the run once, through a :class:`JobClient`: FINISHED when it finished
and no rank reported a failure, otherwise FAILED. Every rank reads the tracking URI
from its own environment (``LOGWRIGHT_TRACKING_URI=http://server:port`` on every node).

The rank comes from ``torch.distributed`` once the process group exists, else from the
launcher's environment (``RANK``, ``SLURM_PROCID``...; ``LOCAL_RANK`` on a single node).
This module imports torch only when torch is already imported.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time

from logwright import config
from logwright.exceptions import RunNotFound
from logwright.lazylog import get_logger

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

__all__ = ["Follower", "JobClient", "follow", "is_rank_zero", "lead", "publish", "published", "rank",
           "system_metrics_on", "world_size"]

_logger = get_logger(__name__)
_FINISHED, _FAILED = "FINISHED", "FAILED"  # the run statuses, without importing logwright.entities

RUN_KEY = "logwright/run_id"  # the key rank zero sets in torch.distributed's store
_WORLD_VARS = ("WORLD_SIZE", "SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE")
_POLL_S = 0.5
_FIND_TRIES = 20  # polls a published run may take to appear in this rank's store
_warned: set[str] = set()


def _warn_once(key: str, message: str, *args: Any) -> None:
    if key not in _warned:
        _warned.add(key)
        _logger.warning(message, *args)


# -- who am I --------------------------------------------------------------------------


def _process_group() -> Any:
    """``torch.distributed`` when torch is imported and its default process group exists."""
    torch = sys.modules.get("torch")
    dist = getattr(torch, "distributed", None) if torch is not None else None
    try:
        if dist is not None and dist.is_available() and dist.is_initialized():
            return dist
    except Exception:  # noqa: BLE001 - a half-imported torch: not distributed as far as we know
        return None
    return None


def _env_int(names: tuple[str, ...] | list[str]) -> int | None:
    for name in names:
        raw = os.environ.get(name, "").strip()
        if raw.isdigit():
            return int(raw)
    return None


def rank() -> int:
    """This process's global rank (0 when not distributed).

    ``torch.distributed.get_rank()`` once the process group exists; before that the
    launcher's environment (``RANK``, ``SLURM_PROCID``...), else ``NODE_RANK`` and
    ``LOCAL_RANK`` (Lightning's ``ddp`` launcher sets only those).
    """
    dist = _process_group()
    if dist is not None:
        return int(dist.get_rank())
    found = _env_int([v for v in config.RANK_VARS if v != "LOCAL_RANK"])
    if found is not None:
        return found
    node, local = _env_int(("NODE_RANK", "GROUP_RANK")) or 0, _local_rank() or 0
    return node * (_env_int(("LOCAL_WORLD_SIZE",)) or 1) + local


_this_rank = rank


def is_rank_zero() -> bool:
    """True unless this process is a non-zero rank of a distributed job (see :func:`rank`)."""
    return rank() == 0


def world_size() -> int:
    """How many processes the job has (1 when not distributed)."""
    dist = _process_group()
    if dist is not None:
        return int(dist.get_world_size())
    return _env_int(_WORLD_VARS) or 1


def _local_rank() -> int | None:
    return _env_int(("LOCAL_RANK", "SLURM_LOCALID"))


def system_metrics_on(option: bool | None = None) -> bool:
    """Whether to sample system metrics: ``option``; when None, ``LOGWRIGHT_LOG_SYSTEM_METRICS``."""
    return config.flag(config.SYSTEM_METRICS) if option is None else bool(option)


# -- the run id, through torch.distributed's store ------------------------------------


def _c10d_store() -> Any:
    if _process_group() is None:
        return None
    from torch.distributed import distributed_c10d

    # torch has no public accessor for the default group's store (2.2 to 2.13);
    # torchelastic and DeepSpeed read it the same way.
    return distributed_c10d._get_default_store()


def publish(run_id: str) -> bool:
    """Rank zero: tell the other ranks which run is the job's. False before the process group exists."""
    store = _c10d_store()
    if store is None:
        return False
    store.set(RUN_KEY, run_id)
    return True


def published() -> str | None:
    """The run id rank zero published, or None (not yet, or no process group)."""
    store = _c10d_store()
    if store is None or not store.check([RUN_KEY]):
        return None
    return bytes(store.get(RUN_KEY)).decode("utf-8")


class _Publisher:
    """Publishes rank zero's run as soon as the process group exists (a daemon thread until then)."""

    def __init__(self) -> None:
        self.run_id: str | None = None
        self.done: str | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def publish(self, run_id: str) -> None:
        with self._lock:
            self.run_id = run_id
            if self._try():
                return
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._wait, name="logwright-rank0-publish", daemon=True)
                self._thread.start()

    def _try(self) -> bool:
        if self.run_id is None or self.run_id == self.done:
            return True
        try:
            if publish(self.run_id):
                self.done = self.run_id
                return True
        except Exception as exc:  # noqa: BLE001 - the job goes on; the other ranks just stay unlogged
            _warn_once("publish", "logwright: could not publish the run id to the other ranks: %s", exc)
            return True
        return False

    def _wait(self) -> None:
        while True:
            time.sleep(_POLL_S)
            with self._lock:
                if self._try():
                    return


_publisher = _Publisher()


# -- a spawned worker's exception -----------------------------------------------------


class _SpawnedExit:
    """The exception a ``torch.multiprocessing.spawn`` worker died of.

    torch's worker wrapper catches the exception, writes its traceback for the parent
    and calls ``sys.exit(1)``, so ``sys.excepthook`` never sees it. multiprocessing runs
    its finalizers while that ``SystemExit`` propagates: there, ``sys.exc_info()`` holds
    it and its ``__context__`` is the worker's exception.
    """

    def __init__(self) -> None:
        self.crash: BaseException | None = None
        self._watching = False

    def watch(self) -> None:
        """Start watching (in a multiprocessing child only; idempotent)."""
        import multiprocessing
        from multiprocessing import util

        if self._watching or multiprocessing.parent_process() is None:
            return
        self._watching = True
        util.Finalize(None, self._note, exitpriority=100)

    def _note(self) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, SystemExit) and exc.code not in (0, None) and isinstance(exc.__context__, Exception):
            self.crash = exc.__context__


_spawned = _SpawnedExit()


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:8000]


# -- rank zero -------------------------------------------------------------------------


class JobClient:
    """The job run's client on rank zero: ending the run accounts for the other ranks.

    Everything is delegated to the wrapped :class:`~logwright.client.Client` except
    :meth:`set_terminated` of the job's run, which reads the ``logwright.rank_<r>.error``
    tags the other ranks left and ends the run FAILED when one failed.

    Args:
        client: the client the run was started with.
        run_id: the job's run.
    """

    def __init__(self, client: Any, run_id: str) -> None:
        self.client = client
        self.run_id = run_id

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.client, name)
        if callable(value):
            setattr(self, name, value)  # later look-ups skip __getattr__ (log_metric is per step)
        return value

    def set_terminated(self, run_id: str, status: str = _FINISHED, end_time: int | None = None,
                       *, flush: bool = True) -> None:
        """End a run; the job's run ends FAILED when any rank reported a failure."""
        if run_id == self.run_id:
            status = self._job_status(status)
        self.client.set_terminated(run_id, status, end_time, flush=flush)

    def _job_status(self, status: str) -> str:
        try:
            tags = self.client.get_run(self.run_id).data.tags
        except Exception as exc:  # noqa: BLE001 - ending the run matters more than the check
            _warn_once("status", "logwright: could not read the other ranks' status: %s", exc)
            return status
        failed = failures(tags)
        if _spawned.crash is not None and status != _FAILED:  # rank zero's own, hidden by spawn
            failed[0] = _describe(_spawned.crash)
            self.client.set_tags(self.run_id, {"logwright.rank_0.error": failed[0]})
        if not failed or status == _FAILED:  # rank zero's own error is already the run's
            return _FAILED if failed else status
        # The first rank to report names the run's error (the others usually fail because it
        # did); written again here because a "SIGTERM" from this process may still be queued.
        first = tags.get("logwright.error", "")
        if not first.startswith("rank "):
            first = f"rank {min(failed)}: {failed[min(failed)]}"
        self.client.set_tags(self.run_id, {"logwright.error": first[:8000]})
        return _FAILED


def failures(tags: dict[str, str]) -> dict[int, str]:
    """``{rank: error}`` from a run's ``logwright.rank_<r>.error`` tags."""
    out = {}
    for key, value in tags.items():
        head, _, tail = key.partition(".rank_")
        number, _, field = tail.partition(".")
        if head == "logwright" and field == "error" and number.isdigit():
            out[int(number)] = value
    return out


def lead(run: Any, *, system_metrics: bool | None = None, local_rank: int | None = None) -> None:
    """Rank zero: make ``run`` (an active run) the job's run.

    Publishes its id to the other ranks (now, or as soon as the process group exists),
    wraps ``run.client`` in a :class:`JobClient`, tags the run with the world size and,
    with system metrics on and none sampled yet, samples rank zero's into it.

    Args:
        run: the :class:`~logwright.fluent.ActiveRun`.
        system_metrics: sample ``system/rank_0/...`` (None: ``LOGWRIGHT_LOG_SYSTEM_METRICS``).
        local_rank: rank zero's local rank (picks its GPU).
    """
    run_id = run.info.run_id
    if not isinstance(run.client, JobClient) or run.client.run_id != run_id:
        client = run.client.client if isinstance(run.client, JobClient) else run.client
        run.client = JobClient(client, run_id)
        run.client.set_tags(run_id, {"logwright.distributed.world_size": str(world_size())})
    if system_metrics_on(system_metrics) and run.system_metrics is None:
        from logwright.context.rank_system import RankSystemMetrics

        run.system_metrics = RankSystemMetrics(run.client.client, run_id, 0, local_rank).start()
    _publisher.publish(run_id)
    _spawned.watch()


# -- the other ranks -------------------------------------------------------------------


class Follower:
    """A non-zero rank's part in the job's run (see the module docstring).

    A daemon thread waits for the run (``run_id``, else the one rank zero publishes;
    it follows rank zero from run to run), then samples this rank's system metrics into
    it. :meth:`fail` reports this rank's failure; :meth:`close` takes a last sample and
    makes everything durable. With ``exit_hooks`` an uncaught exception (``sys.excepthook``)
    is reported and :meth:`close` runs at interpreter exit.

    Args:
        rank: this process's global rank.
        run_id: the job's run when known already (e.g. pickled into a spawned worker).
        tracking_uri: this rank's store (default: the tracking URI in use).
        system_metrics: sample ``system/rank_<r>/...`` (None: ``LOGWRIGHT_LOG_SYSTEM_METRICS``).
        local_rank: the rank on its machine (picks the GPU).
        exit_hooks: report uncaught exceptions and close at exit.
    """

    def __init__(self, rank: int, run_id: str | None = None, tracking_uri: str | None = None,
                 system_metrics: bool | None = None, local_rank: int | None = None,
                 exit_hooks: bool = False) -> None:
        from logwright import fluent

        self.rank = rank
        self.run_id: str | None = None
        self.fixed_run_id = run_id
        self.tracking_uri = tracking_uri if tracking_uri is not None else fluent.get_tracking_uri()
        self.system_metrics = system_metrics_on(system_metrics)
        self.local_rank = local_rank
        self.failed = False
        self._sampler: Any = None  # a logwright.context.rank_system.RankSystemMetrics
        self._client: Any = None
        self._misses = 0
        self._seen: str | None = None  # the id rank zero published (or was given), found or not
        self._lost: str | None = None  # a run this rank's store does not have (another store)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._exit_hooks = exit_hooks
        self._crash: BaseException | None = None

    def start(self) -> Follower:
        """Start looking for the run (and hook the interpreter's exit when asked)."""
        if self.fixed_run_id is not None:
            self._last_look()  # known already: sample from the start, even in a short job
        self._thread = threading.Thread(target=self._loop, name=f"logwright-rank{self.rank}", daemon=True)
        self._thread.start()
        if self._exit_hooks:
            sys.excepthook = _ExceptHook(self, sys.excepthook)
            atexit.register(self._at_exit)
            _spawned.watch()
        return self

    def _unhook(self) -> None:
        if not self._exit_hooks:
            return
        self._exit_hooks = False
        atexit.unregister(self._at_exit)
        hook = sys.excepthook
        if isinstance(hook, _ExceptHook) and hook.follower is self:
            sys.excepthook = hook.previous

    @property
    def client(self) -> Any:
        """The client for this rank's store (opened on first use)."""
        if self._client is None:
            from logwright.client import Client

            self._client = Client(self.tracking_uri)
        return self._client

    def _loop(self) -> None:
        while not self._stop.wait(_POLL_S):
            try:
                self.poll()
            except Exception as exc:  # noqa: BLE001 - a daemon thread: report once, keep going
                _warn_once(f"follow:{type(exc).__name__}", "logwright: rank %s could not follow the run: %s",
                           self.rank, exc)

    def poll(self) -> str | None:
        """Look for the job's run once; start logging into it when it is new. Returns its id."""
        run_id = self.fixed_run_id or published()
        self._seen = run_id or self._seen
        with self._lock:
            if run_id not in (None, self.run_id, self._lost) and not self._stop.is_set():
                self._switch(run_id)
            return self.run_id

    def _switch(self, run_id: str) -> None:
        try:
            self.client.get_run(run_id)
        except RunNotFound:
            self._misses += 1
            if self._misses >= _FIND_TRIES:
                self._lost = run_id
                _warn_once("missing", "logwright: rank %s cannot find run %s in %s; point every node at the "
                           "same store (LOGWRIGHT_TRACKING_URI=http://server:port)", self.rank, run_id,
                           self.tracking_uri or "./logwright-runs")
            return
        self._stop_sampler()
        self.run_id, self._misses = run_id, 0
        if self.system_metrics:
            from logwright.context.rank_system import RankSystemMetrics

            self._sampler = RankSystemMetrics(self.client, run_id, self.rank, self.local_rank).start()

    def _stop_sampler(self) -> None:
        sampler, self._sampler = self._sampler, None
        if sampler is not None:
            sampler.stop()

    def fail(self, error: BaseException) -> None:
        """Report this rank's failure: error tags, and the job's run ends FAILED."""
        if self.failed:
            return
        self.failed = True
        run_id = self.run_id or self._last_look(wait=10.0)
        if run_id is None:
            _warn_once("fail", "logwright: rank %s failed before the job's run was known; not recorded", self.rank)
            return
        text = _describe(error)
        tags = {f"logwright.rank_{self.rank}.error": text}
        if not _reported(self.client, run_id):  # the first rank to fail names the run's error
            tags["logwright.error"] = f"rank {self.rank}: {text}"[:8000]
        self.client.set_tags(run_id, tags)
        self.client.set_terminated(run_id, _FAILED)

    def _last_look(self, wait: float = 0.0) -> str | None:
        """Poll now; with ``wait``, go on while a published run is not in this store yet (queued)."""
        deadline = time.monotonic() + wait
        while True:
            try:
                found = self.poll()
            except Exception:  # noqa: BLE001 - the process group may be gone already
                return self.run_id
            if found is not None or self._seen in (None, self._lost) or time.monotonic() >= deadline:
                return found
            time.sleep(0.2)

    def close(self) -> None:
        """Stop following: one last sample into the run, everything logged made durable."""
        self._unhook()
        if self.run_id is None:  # a job shorter than one poll: still one sample, once rank zero's
            self._last_look(wait=10.0)  # run is in the store (its creation may still be queued there)
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5.0)
        with self._lock:
            self._stop_sampler()
            if self._client is not None:
                self._client.flush()

    def _at_exit(self) -> None:
        try:
            crash = self._crash or _spawned.crash
            if crash is not None and not isinstance(crash, KeyboardInterrupt):
                self.fail(crash)
            self.close()
        except Exception as exc:  # noqa: BLE001 - exit path: report, never raise
            _logger.warning("logwright: rank %s could not write its last records: %s", self.rank, exc)


def _reported(client: Any, run_id: str) -> bool:
    """Whether another rank named the run's error already."""
    try:
        return client.get_run(run_id).data.tags.get("logwright.error", "").startswith("rank ")
    except Exception:  # noqa: BLE001 - then this rank's error is written
        return False


class _ExceptHook:
    """``sys.excepthook`` that notes the exception for the follower, then calls the previous hook."""

    def __init__(self, follower: Follower, previous: Any) -> None:
        self.follower, self.previous = follower, previous

    def __call__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.follower._crash = exc
        self.previous(exc_type, exc, tb)


def follow(rank: int | None = None, run_id: str | None = None, tracking_uri: str | None = None,
           system_metrics: bool | None = None, local_rank: int | None = None,
           exit_hooks: bool = False) -> Follower:
    """Start a :class:`Follower` for this non-zero rank (arguments as the class's; ``rank``: :func:`rank`)."""
    return Follower(_this_rank() if rank is None else rank, run_id, tracking_uri, system_metrics,
                    local_rank, exit_hooks).start()
