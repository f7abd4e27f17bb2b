"""``LogwrightXGBoostCallback``: XGBoost's own ``TrainingCallback`` that writes the metrics.

Imported only once XGBoost is (from the patches), since it subclasses XGBoost's class.
"""

from __future__ import annotations

import logging
from typing import Any

from xgboost.callback import TrainingCallback

from logwright.autolog import guard

_logger = logging.getLogger(__name__)


class LogwrightXGBoostCallback(TrainingCallback):
    """Logs every evaluation metric of every eval set, once per boosting round.

    At each logged round, one ``client.log_metrics`` call writes ``<eval>-<metric>``
    (``<eval>-<metric>-mean`` and ``-std`` under ``xgboost.cv``) with ``step`` = the
    boosting round (counted from the model's first tree, so continued training goes
    on where it left off). With ``every_n > 1`` only every n-th round is logged, plus
    the last one. With early stopping, after training: ``best_iteration``,
    ``best_score``, ``stopped_iteration`` and ``best_<eval>-<metric>``.

    A callback holds the state of one training call: a new one is made per call.
    Errors in logging are reported by ``guard`` and never stop training (the methods
    XGBoost needs a model back from always return it).

    Args:
        client: the ``logwright.Client`` to write with.
        run_id: the run to write into.
        every_n: log every n-th round (and the last one).
        early_stopping: whether this training stops early (summary metrics are logged).
    """

    def __init__(self, client: Any, run_id: str, every_n: int = 1, early_stopping: bool = False) -> None:
        super().__init__()
        self._client = client
        self._run_id = run_id
        self._every = max(1, int(every_n))
        self._early_stopping = early_stopping
        self._keys: dict[tuple[str, str], str] = {}
        self._start = 0
        self._history: Any = None
        self._last: int | None = None
        self._last_logged: int | None = None

    def before_training(self, model: Any) -> Any:
        """Note the model's round count (continued training); returns the model."""
        self._begin(model)
        return model

    @guard("xgboost")
    def _begin(self, model: Any) -> None:
        self._start = int(model.num_boosted_rounds())

    @guard("xgboost")
    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        """Log this round's metrics (one write); never asks XGBoost to stop."""
        self._history = evals_log
        step = self._last = epoch + self._start
        if epoch % self._every == 0:
            self._write(step, -1)
        return False

    def after_training(self, model: Any) -> Any:
        """Log the last round if it was skipped, and the early-stopping summary."""
        self._finish(model)
        return model

    @guard("xgboost")
    def _finish(self, model: Any) -> None:
        if self._history is None:
            return
        # XGBoost stops calling callbacks in a round once one returns True, and 2.0 keeps
        # them in a set (any order): the history, shared with XGBoost, has the last round.
        rounds = max((len(v) for m in self._history.values() for v in m.values()), default=0)
        self._last = max(self._last or 0, self._start + rounds - 1)
        if self._last_logged != self._last:
            self._write(self._last, -1)
        if self._early_stopping:
            self._log_best(model)

    def replay(self, evals_result: dict[str, dict[str, list]], start: int = 0) -> None:
        """Log a finished ``evals_result`` (for estimators that refuse callbacks)."""
        self._history = evals_result
        rounds = max((len(v) for m in evals_result.values() for v in m.values()), default=0)
        for index in range(0, rounds, self._every):
            self._write(start + index, index)
        if rounds and (rounds - 1) % self._every:
            self._write(start + rounds - 1, rounds - 1)

    def _key(self, data_name: str, metric_name: str) -> str:
        key = self._keys.get((data_name, metric_name))
        if key is None:
            key = self._keys[(data_name, metric_name)] = f"{data_name}-{metric_name}"
        return key

    def _values(self, index: int, prefix: str = "") -> dict[str, float]:
        out: dict[str, float] = {}
        for data_name, per_metric in self._history.items():
            for metric_name, values in per_metric.items():
                value = values[index]
                key = prefix + self._key(data_name, metric_name)
                if type(value) is tuple:  # xgboost.cv: (mean, std)
                    out[key + "-mean"] = float(value[0])
                    out[key + "-std"] = float(value[1])
                else:
                    out[key] = float(value)
        return out

    def _write(self, step: int, index: int) -> None:
        metrics = self._values(index)
        if metrics:
            self._client.log_metrics(self._run_id, metrics, step=step)
        self._last_logged = step

    def _log_best(self, model: Any) -> None:
        best = model.attr("best_iteration")
        summary: dict[str, float] = {"stopped_iteration": float(self._last)}
        if best is not None:
            summary["best_iteration"] = float(best)
            summary["best_score"] = _score(model.attr("best_score"))
            index = int(best) - self._start
            if 0 <= index <= self._last - self._start:
                summary.update(self._values(index, prefix="best_"))
        self._client.log_metrics(self._run_id, summary)


def _score(raw: str) -> float:
    """A ``best_score`` attribute; under ``cv`` XGBoost 2.0 stores ``"(mean, std)"``."""
    try:
        return float(raw)
    except ValueError:
        return float(raw.strip("()").split(",")[0])
