"""The wrappers core installs, and the framework-native callback they hand to the framework.

Prefer the framework's own extension point (a Callback, a TrainingCallback, a callback
handler): the wrapper only installs it and logs what the callback cannot see.
"""

from __future__ import annotations

from logwright.autolog import estimator_tags, guard, is_rank_zero, log_params, managed_run, rank_zero_only
from logwright_template import _records

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class LogwrightTemplateCallback:
    """The framework-native callback (subclass the framework's Callback class here).

    Args:
        client: the ``logwright.Client`` of the run.
        run_id: the run to log into.
    """

    def __init__(self, client: Any, run_id: str) -> None:
        self.client, self.run_id = client, run_id

    @guard("template")
    @rank_zero_only
    def on_train_end(self, model: Any) -> None:
        """Log the final metrics (errors are reported, never raised into training)."""
        metrics = _records.metrics(model)
        if metrics:
            self.client.log_metrics(self.run_id, metrics)


def make_fit_wrapper(integration: Any) -> Callable[..., Any]:
    """The ``Model.fit`` wrapper: one run per outermost fit, the callback handed in."""

    def _wrap_model_fit(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        if not is_rank_zero():
            return wrapped(*args, **kwargs)
        cfg = integration.config
        with managed_run(integration.name, cfg) as run:
            client, run_id = run.client, run.info.run_id
            client.set_tags(run_id, estimator_tags(instance))
            log_params(client, run_id, _records.params(instance, kwargs))
            callback = LogwrightTemplateCallback(client, run_id)
            result = wrapped(*args, **kwargs)  # a framework with callbacks: pass `callback` in here
            callback.on_train_end(instance)
            if cfg.get("log_models"):
                from logwright.models import log_model

                log_model(instance, "model", flavour="template", run_id=run_id, client=client)
            return result

    return _wrap_model_fit
