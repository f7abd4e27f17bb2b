"""PyTorch autolog: a hand-written training loop logs itself.

With ``logwright.autolog()`` on, a plain loop (``loss.backward(); optimizer.step()``)
logs, with no other code:

- at each optimizer's first step, as params: its class (``optimizer``), every
  hyperparameter per param group (``optimizer.lr``, ``optimizer.group1.lr``...) and the
  number of parameters it holds (``num_params``, ``num_trainable_params``);
- per step (every ``log_every_n_steps``): ``train/loss`` (the scalar tensor ``backward()``
  was called on; the mean when several ``backward()`` calls feed one step),
  ``train/lr`` per param group (``train/lr/group1``...), ``train/step_time`` (seconds
  since the previous step), and ``train/grad_norm`` (global L2 norm) every
  ``log_grad_norm`` steps when set;
- TensorBoard ``SummaryWriter.add_scalar(s)``/``add_hparams`` calls, mirrored.

A second optimizer in the same run gets its own names: ``train/loss/Adam_1``,
``train/lr/Adam_1``, params ``optimizer.Adam_1.lr``. Steps are counted per optimizer.

Nothing on the per-step path synchronizes a device: losses are kept as detached
tensors and converted in batches (see ``_steps``). Logging goes into the user's
active run; without one, a run starts at the first step and stays open until
``logwright.end_run()`` or interpreter exit; ``with logwright_torch.loop("name"):``
delimits a run explicitly. Inside an autologged call (e.g. a Lightning ``Trainer.fit``
that the Lightning integration logs) the hooks stay quiet.

Supported versions: torch >= 2.2 (tested on 2.13).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from logwright.autolog import (
    AutologConfig,
    Integration,
    Patch,
    add_run_end_hook,
    end_autolog_run,
    remove_run_end_hook,
)
from logwright.lazylog import get_logger
from logwright_torch._steps import StepLogger
from logwright_torch._tensorboard import TensorBoardBridge

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["TorchIntegration", "loop"]

_logger = get_logger(__name__)


class TorchIntegration(Integration):
    """Autolog for plain PyTorch loops (optimizer step hooks + a ``Tensor.backward`` patch).

    Logs the optimizer's hyperparameters and parameter counts at its first step, and per
    step the loss, learning rates, step wall time and optionally the gradient norm; mirrors
    TensorBoard scalars and hparams. Knobs: ``log_every_n_steps`` (1: every step),
    ``log_grad_norm`` (0: off; N: every N steps), ``log_models`` (save the model given to
    :func:`loop` when its block ends). Supports torch >= 2.2, tested on 2.13.
    """

    name = "torch"
    module = "torch"
    requirement = "torch>=2.2"
    tested_up_to = "2.13"
    defaults = {"log_every_n_steps": 1, "log_grad_norm": 0}

    def __init__(self) -> None:
        super().__init__()
        self.steps = StepLogger(self.config)
        self.tensorboard = TensorBoardBridge(self)
        self._hook: Any = None

    def patches(self, config: AutologConfig) -> list[Patch]:
        """``Tensor.backward`` (which scalar the loop optimizes) and the TensorBoard bridge.

        The SummaryWriter patches are applied by the registry when
        ``torch.utils.tensorboard.writer`` is imported.
        """
        return [Patch("torch._tensor", "Tensor.backward", self._wrap_tensor_backward), *self.tensorboard.patches()]

    def on_enable(self, config: AutologConfig) -> None:
        """Install the global optimizer step hook and the run-end flush."""
        from torch.optim.optimizer import register_optimizer_step_post_hook

        self.steps.config = config
        self.steps.read_knobs()
        self.steps.follow_if_other_rank()  # torchrun: a non-zero rank is known before any step
        self._hook = register_optimizer_step_post_hook(self.steps.on_step)
        add_run_end_hook(self.steps.before_run_end)

    def on_disable(self) -> None:
        """Remove the hooks; what is buffered is flushed into its run first."""
        if self._hook is not None:
            self._hook.remove()
            self._hook = None
        self.steps.unbind()
        self.steps.stop_following()
        remove_run_end_hook(self.steps.before_run_end)

    def _wrap_tensor_backward(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        result = wrapped(*args, **kwargs)
        self.steps.on_backward(instance)
        return result


def _enabled() -> TorchIntegration | None:
    from logwright.autolog import registry

    return registry.get(TorchIntegration.name) if registry.state(TorchIntegration.name) == "ACTIVE" else None


@contextlib.contextmanager
def loop(name: str | None = None, model: Any = None, input_example: Any = None,
         tags: dict[str, Any] | None = None) -> Iterator[Any]:
    """Delimit one training loop's run: the steps inside the block log into it.

    A run that autolog started on its own (no ``loop``) ends first; inside a user's run
    the loop's run is nested. When the block ends without error and ``model`` is given
    (and ``log_models`` is on), the model is saved as the run's ``model`` artifact with
    the ``pytorch`` flavour. The run ends with the block (FAILED if it raised).

    In a distributed job only global rank zero starts the run; on the other ranks the
    block yields None and logs nothing but their system metrics, and an exception
    escaping it ends the job's run FAILED (see :mod:`logwright.distributed`).

    Args:
        name: the run's name.
        model: the ``nn.Module`` to save at the end.
        input_example: an input batch for the model's signature.
        tags: extra tags for the run.

    Yields:
        The :class:`~logwright.fluent.ActiveRun` (None on a non-zero rank).
    """
    from logwright import distributed, fluent

    integration = _enabled()
    if not distributed.is_rank_zero():
        with _other_rank(integration):
            yield None
        return
    active = fluent.active_run()
    if integration is not None and active is not None and active is integration.steps.run \
            and active.owned_by_autolog:
        end_autolog_run(active)
        active = fluent.active_run()
    all_tags = {"logwright.autolog": TorchIntegration.name, **(tags or {})}
    job = distributed.world_size() > 1
    steps = integration.steps if integration is not None else None
    options = steps.run_options() if steps is not None else {"log_system_metrics": False} if job else {}
    run = fluent.start_run(run_name=name, nested=active is not None, tags=all_tags, **options)
    if steps is not None:
        steps.unbind()
        steps.lead(run)
    elif job:
        distributed.lead(run)
    with run:
        yield run
        log_models = integration.config.get("log_models") if integration is not None else True
        if model is not None and log_models:
            _log_model(run, model, input_example)


@contextlib.contextmanager
def _other_rank(integration: TorchIntegration | None) -> Iterator[None]:
    """A ``loop()`` block on a non-zero rank: follow rank zero's run; a failure fails it."""
    from logwright import distributed

    follower = integration.steps.follow() if integration is not None else distributed.follow()
    try:
        yield
    except Exception as exc:
        _report_failure(follower, exc)
        raise
    finally:
        if integration is None:
            follower.close()


def _report_failure(follower: Any, exc: BaseException) -> None:
    from logwright.autolog import report

    try:
        follower.fail(exc)
    except Exception as error:  # noqa: BLE001 - the user's exception is the one that must surface
        report(TorchIntegration.name, error)


def _log_model(run: Any, model: Any, input_example: Any) -> None:
    from logwright.autolog import report
    from logwright.models import log_model

    try:
        log_model(model, "model", input_example=input_example, run_id=run.info.run_id)
    except Exception as exc:  # noqa: BLE001 - saving the model must not fail the loop
        report(TorchIntegration.name, exc)
