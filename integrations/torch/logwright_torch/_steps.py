"""Per-step logging of a plain training loop, driven by torch's global optimizer step hook.

The per-step path does no device work: ``backward()`` hands over a detached reference
to the loss, the step hook appends a record (loss tensor, learning rates, wall times)
to a buffer, and the buffer is converted in one ``torch.stack(...).tolist()`` every
``FLUSH_STEPS`` records, every ``FLUSH_SECONDS``, and before its run ends.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import deque
from time import perf_counter

from logwright import distributed
from logwright.autolog import end_autolog_run, guard, in_logging_call, report
from logwright.lazylog import get_logger

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_logger = get_logger(__name__)

FLUSH_STEPS = 200
FLUSH_SECONDS = 2.0
_NAME = "torch"


class _OptimizerState:
    """Names and counters of one optimizer within one run."""

    __slots__ = ("ref", "index", "label", "loss_key", "lr_key", "time_key", "norm_key", "params", "steps",
                 "last")

    def __init__(self, optimizer: Any, index: int) -> None:
        self.ref = weakref.ref(optimizer)
        self.index = index
        self.label = "" if index == 0 else f"{type(optimizer).__name__}_{index}"
        suffix = f"/{self.label}" if self.label else ""
        self.loss_key = f"train/loss{suffix}"
        self.lr_key = f"train/lr{suffix}"
        self.time_key = f"train/step_time{suffix}"
        self.norm_key = f"train/grad_norm{suffix}"
        self.params = [p for group in optimizer.param_groups for p in group["params"]]
        self.steps = 0
        self.last: float | None = None


def _param_text(value: Any) -> Any:
    if hasattr(value, "numel") and value.numel() == 1:
        return value.item()  # a tensor lr: once per run, at the first step
    if callable(value):
        return getattr(value, "__name__", type(value).__name__)
    return value


def optimizer_params(optimizer: Any, state: _OptimizerState) -> dict[str, Any]:
    """The optimizer's class, hyperparameters per param group and parameter counts as params."""
    prefix = "optimizer" if state.index == 0 else f"optimizer.{state.label}"
    out: dict[str, Any] = {prefix: type(optimizer).__name__}
    for g, group in enumerate(optimizer.param_groups):
        group_prefix = prefix if g == 0 else f"{prefix}.group{g}"
        for key, value in group.items():
            if key != "params":
                out[f"{group_prefix}.{key}"] = _param_text(value)
    count_prefix = "" if state.index == 0 else f"{prefix}."
    out[f"{count_prefix}num_params"] = sum(p.numel() for p in state.params)
    out[f"{count_prefix}num_trainable_params"] = sum(p.numel() for p in state.params if p.requires_grad)
    return out


def _grad_norm(params: list[Any]) -> Any:
    import torch

    norms = [torch.linalg.vector_norm(p.grad.detach()) for p in params if p.grad is not None]
    if not norms:
        return None
    device = norms[0].device
    return torch.linalg.vector_norm(torch.stack([n.to(device) for n in norms]))


def _to_floats(tensors: list[Any]) -> list[float]:
    """One device sync for the whole batch; per-tensor fallback for mixed devices/dtypes."""
    import torch

    if not tensors:
        return []
    try:
        return torch.stack(tensors).tolist()
    except RuntimeError:  # mixed devices or shapes
        return [float(t) for t in tensors]


class StepLogger:
    """Buffers what each optimizer step produced and writes it into the loop's run.

    Run lifecycle: at the first step the user's active run is logged into; without one
    (or with ``exclusive=True``) a run is started that stays open until ``end_run()``,
    the end of a ``loop()`` block or interpreter exit. When a run ends, what is buffered
    is flushed into it first and the next step binds to whatever run is active then.

    Distributed training: on global rank zero the run becomes the job's run
    (:func:`logwright.distributed.lead`); any other rank logs no step and starts no run,
    it follows rank zero's (:attr:`follower`: its system metrics and its failure).
    """

    def __init__(self, config: Any) -> None:
        self.config = config
        self.run: Any = None
        self._states: dict[int, _OptimizerState] = {}  # id(optimizer) -> state (holds a weakref)
        self._every, self._norm_every = 1, 0
        self.pending: deque[Any] = deque(maxlen=64)
        self._buffer: list[tuple] = []
        self._last_flush = perf_counter()
        self._lock = threading.RLock()
        self._announced = False
        self.other_rank = False  # a non-zero rank of a distributed job: steps are not logged
        self.follower: distributed.Follower | None = None

    # -- the per-step path ---------------------------------------------------------------

    def on_backward(self, loss: Any) -> None:
        """Keep a detached reference to a scalar loss ``backward()`` was called on.

        Called from the ``Tensor.backward`` patch, whose safety layer reports any error.
        """
        if self.other_rank:
            return
        if loss.dim() == 0:
            self.pending.append(loss.detach())
        elif loss.numel() == 1:
            self.pending.append(loss.detach().reshape(()))

    def on_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        """Global optimizer step post-hook: buffer this step's values (no device sync)."""
        if in_logging_call() or self.other_rank:  # Lightning's fit logs itself; rank zero logs
            return
        try:
            self._record(optimizer)
        except Exception as exc:  # noqa: BLE001 - never break the user's training step
            report(_NAME, exc)

    def _record(self, optimizer: Any) -> None:
        now = perf_counter()
        entry = self._states.get(id(optimizer))
        run = self.run
        if entry is None or entry.ref() is not optimizer or run is None or run.ended:
            entry = self._first_step(optimizer)
            if entry is None:
                return
        step, last = entry.steps, entry.last
        entry.steps, entry.last = step + 1, now
        pending = self.pending
        loss = None
        if pending:
            loss = pending[0] if len(pending) == 1 else _mean(pending)
            pending.clear()
        if step % self._every:
            return
        norm = _grad_norm(entry.params) if self._norm_every and step % self._norm_every == 0 else None
        groups = optimizer.param_groups
        if len(groups) == 1:
            lr = groups[0]["lr"]
            lrs = (lr if type(lr) is float else _lr(lr),)
        else:
            lrs = tuple(_lr(group["lr"]) for group in groups)
        self._buffer.append((entry, step, now, loss, lrs, None if last is None else now - last, norm))
        if len(self._buffer) >= FLUSH_STEPS or now - self._last_flush > FLUSH_SECONDS:
            self.flush()

    # -- run binding ---------------------------------------------------------------------

    def _first_step(self, optimizer: Any) -> _OptimizerState | None:
        with self._lock:
            run = self.current_run()
            if run is None:
                return None
            self.read_knobs()
            state = self._states.get(id(optimizer))
            if state is None or state.ref() is not optimizer:
                state = self._states[id(optimizer)] = _OptimizerState(optimizer, len(self._states))
        run.client.log_params(run.info.run_id, optimizer_params(optimizer, state))
        return state

    def read_knobs(self) -> None:
        """Check and cache ``log_every_n_steps`` and ``log_grad_norm`` (re-read at each flush)."""
        every, norm_every = self.config.get("log_every_n_steps"), self.config.get("log_grad_norm")
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"torch autolog: log_every_n_steps must be an int >= 1, not {every!r}")
        if not isinstance(norm_every, int) or norm_every < 0:
            raise ValueError(f"torch autolog: log_grad_norm must be an int >= 0, not {norm_every!r}")
        self._every, self._norm_every = every, norm_every

    def current_run(self) -> Any:
        """The run this loop logs into: bound at first use (see class docstring).

        None on a non-zero rank of a distributed job, which starts following rank zero's run.
        """
        from logwright import fluent

        with self._lock:
            run = self.run
            if run is not None and not run.ended:
                return run
            self._states = {}
            if not distributed.is_rank_zero():
                self.other_rank = True
                self.follow()
                return None
            active = fluent.active_run()
            if active is not None and not self.config.get("exclusive"):
                self.run = active
                self.lead(active)
                return active
            tags = {"logwright.autolog": _NAME, **(self.config.get("extra_tags") or {})}
            run = fluent.start_run(tags=tags, nested=active is not None, **self.run_options())
            run.owned_by_autolog = True
            self.run = run
            self.lead(run)
            if not self._announced and not self.config.get("silent"):
                self._announced = True
                _logger.warning(
                    "logwright: torch autolog started run %s (%s); it ends at logwright.end_run() "
                    "or interpreter exit (use logwright_torch.loop() to delimit runs)",
                    run.info.run_id, run.info.run_name,
                )
            return run

    # -- distributed training ----------------------------------------------------------

    def system_metrics(self) -> bool | None:
        """The ``log_system_metrics`` option (None: ``LOGWRIGHT_LOG_SYSTEM_METRICS`` decides)."""
        return True if self.config.get("log_system_metrics") else None

    def run_options(self) -> dict[str, Any]:
        """``start_run`` options: in a distributed job rank zero samples as ``system/rank_0/...`` instead."""
        if distributed.world_size() > 1:
            return {"log_system_metrics": False}
        return {"log_system_metrics": self.system_metrics()}

    def lead(self, run: Any) -> None:
        """Make ``run`` the job's run when this is rank zero of a distributed job."""
        if distributed.world_size() > 1:
            distributed.lead(run, system_metrics=self.system_metrics())

    def follow_if_other_rank(self) -> None:
        """Follow rank zero's run now when the launcher's environment says this is another rank."""
        if not distributed.is_rank_zero():
            self.other_rank = True
            self.follow()

    def follow(self) -> distributed.Follower:
        """This non-zero rank's :class:`~logwright.distributed.Follower` (started on first use)."""
        with self._lock:
            if self.follower is None:
                self.follower = distributed.follow(system_metrics=self.system_metrics(), exit_hooks=True)
            return self.follower

    def stop_following(self) -> None:
        """Close the follower (a last sample; what it logged made durable)."""
        with self._lock:
            follower, self.follower = self.follower, None
            self.other_rank = False
        if follower is not None:
            follower.close()

    def unbind(self) -> None:
        """Flush into the bound run and forget it; the next step binds to the active run."""
        with self._lock:
            self.flush()
            self.run = None
            self._states = {}
            self.pending.clear()

    @guard(_NAME)
    def before_run_end(self, ending: Any) -> None:
        """fluent's before-end callback: flush into the run that ends, then unbind from it."""
        run = self.run
        if run is None:
            return
        if ending is run:
            self.unbind()
        elif run.owned_by_autolog and run.info.parent_run_id == ending.info.run_id and not run.ended:

            end_autolog_run(run)  # our nested run (exclusive=True) ends with its parent

    # -- conversion ----------------------------------------------------------------------

    def flush(self) -> None:
        """Convert the buffered tensors in one batch and log every buffered point."""
        with self._lock:
            buffer, self._buffer = self._buffer, []
            self._last_flush = perf_counter()
            run = self.run
            if not buffer or run is None:
                return
            self.read_knobs()
            tensors = [v for rec in buffer for v in (*rec[4], rec[3], rec[6]) if hasattr(v, "dim")]  # _points order
            floats = iter(_to_floats(tensors))
            client, run_id = run.client, run.info.run_id
            wall_ms, now = time.time() * 1000, perf_counter()
            for state, step, at, loss, lrs, elapsed, norm in buffer:
                ts = int(wall_ms - (now - at) * 1000)
                for key, value in _points(state, loss, lrs, elapsed, norm):
                    client.log_metric(run_id, key, next(floats) if hasattr(value, "dim") else value, ts, step)


def _points(state: _OptimizerState, loss: Any, lrs: tuple, elapsed: Any, norm: Any) -> list[tuple]:
    points = [(state.lr_key if g == 0 else f"{state.lr_key}/group{g}", lr) for g, lr in enumerate(lrs)]
    if loss is not None:
        points.append((state.loss_key, loss))
    if elapsed is not None:
        points.append((state.time_key, elapsed))
    if norm is not None:
        points.append((state.norm_key, norm))
    return points


def _lr(value: Any) -> Any:
    # Schedulers update tensor learning rates in place: keep this step's value.
    return value.detach().clone() if hasattr(value, "dim") else value


def _mean(losses: deque[Any]) -> Any:
    import torch

    return torch.stack(list(losses)).float().mean()
