"""TensorBoard bridge: ``SummaryWriter.add_scalar(s)`` and ``add_hparams`` mirrored into the run.

``torch.utils.tensorboard`` is imported only by users who want it (and needs the
``tensorboard`` package), so these patches are applied by a second post-import hook
on ``torch.utils.tensorboard.writer`` instead of being part of the torch patches.
The values go into the same run the loop logs into (see ``StepLogger``).
"""

from __future__ import annotations

from logwright.autolog import Patch
from logwright.lazylog import get_logger

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_logger = get_logger(__name__)

WRITER_MODULE = "torch.utils.tensorboard.writer"


def _arg(args: tuple, kwargs: dict, index: int, name: str, default: Any = None) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


def _timestamp(walltime: Any) -> int | None:
    return None if walltime is None else int(float(walltime) * 1000)


def _step(value: Any) -> int | None:
    return None if value is None else int(value)


class TensorBoardBridge:
    """The SummaryWriter patches of one integration (applied by the registry on the writer's import)."""

    def __init__(self, integration: Any) -> None:
        self.integration = integration

    def patches(self) -> list[Patch]:
        """``add_scalar``, ``add_scalars`` and ``add_hparams`` of ``SummaryWriter``."""
        return [
            Patch(WRITER_MODULE, "SummaryWriter.add_scalar", self._wrap_writer_add_scalar),
            Patch(WRITER_MODULE, "SummaryWriter.add_scalars", self._wrap_writer_add_scalars),
            Patch(WRITER_MODULE, "SummaryWriter.add_hparams", self._wrap_writer_add_hparams),
        ]

    def _run(self) -> Any:
        """The loop's run; None on a non-zero rank of a distributed job (rank zero logs)."""
        return self.integration.steps.current_run()

    def _wrap_writer_add_scalar(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        result = wrapped(*args, **kwargs)
        tag, value = _arg(args, kwargs, 0, "tag"), _arg(args, kwargs, 1, "scalar_value")
        step = _step(_arg(args, kwargs, 2, "global_step"))
        run = self._run()
        if run is None:
            return result
        run.client.log_metric(run.info.run_id, str(tag), float(value), _timestamp(_arg(args, kwargs, 3, "walltime")),
                              step)
        return result

    def _wrap_writer_add_scalars(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        result = wrapped(*args, **kwargs)
        main_tag = _arg(args, kwargs, 0, "main_tag")
        values = _arg(args, kwargs, 1, "tag_scalar_dict") or {}
        step = _step(_arg(args, kwargs, 2, "global_step"))
        ts = _timestamp(_arg(args, kwargs, 3, "walltime"))
        run = self._run()
        if run is None:
            return result
        for tag, value in values.items():
            run.client.log_metric(run.info.run_id, f"{main_tag}/{tag}", float(value), ts, step)
        return result

    def _wrap_writer_add_hparams(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        result = wrapped(*args, **kwargs)
        hparams = _arg(args, kwargs, 0, "hparam_dict") or {}
        metrics = _arg(args, kwargs, 1, "metric_dict") or {}
        step = _step(_arg(args, kwargs, 4, "global_step"))
        run = self._run()
        if run is None:
            return result
        run.client.log_params(run.info.run_id, {str(k): v for k, v in hparams.items()})
        for key, value in metrics.items():
            run.client.log_metric(run.info.run_id, str(key), float(value), step=step)
        return result
