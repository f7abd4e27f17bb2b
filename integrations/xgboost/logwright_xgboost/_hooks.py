"""The XGBoost wrappers core installs, and ``LogwrightXGBoostCallback``, XGBoost's own ``TrainingCallback``.

Imported only once XGBoost is (from the patches), since the callback subclasses XGBoost's class.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xgboost.callback import TrainingCallback

from logwright.autolog import estimator_tags, guard, is_rank_zero, log_params, managed_run
from logwright.lazylog import get_logger
from logwright_xgboost import _records

_logger = get_logger(__name__)


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


def _callback(client: Any, run_id: str, every: int, rounds: Any, callbacks: Any) -> Any:
    """A new callback for one training call (early stopping seen from its args or the user's callbacks)."""
    return LogwrightXGBoostCallback(client, run_id, every, _records.is_early_stopping(rounds, callbacks))


def make_train_wrapper(integration: Any) -> Callable[..., Any]:
    """``xgboost.train``: params, inputs and the callback before, importance and model after."""

    def _wrap_train(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        arguments = _records.bind("train", args, kwargs)
        if arguments is None or not is_rank_zero():
            return wrapped(*args, **kwargs)
        cfg, every = integration.config, integration.check_knobs()
        with managed_run(integration.name, cfg) as run:
            client, run_id = run.client, run.info.run_id
            log_params(client, run_id, _records.call_params("train", arguments))
            dtrain = arguments["dtrain"]
            if cfg.get("log_datasets"):
                _records.log_dmatrices(client, run_id, dtrain, arguments.get("evals"))
            callbacks = arguments.get("callbacks")
            callback = _callback(client, run_id, every, arguments.get("early_stopping_rounds"), callbacks)
            arguments["callbacks"] = [callback, *(callbacks or ())]
            booster = wrapped(**arguments)
            linear = _records.booster_kind(arguments["params"]) == "gblinear"
            _log_trained(integration, client, run_id, booster, linear)
            if cfg.get("log_models"):
                _records.log_model(client, run_id, booster, _records.dmatrix_signature(booster, dtrain), None)
            return booster

    return _wrap_train


def make_cv_wrapper(integration: Any) -> Callable[..., Any]:
    """``xgboost.cv``: params, the training input and the callback."""

    def _wrap_cv(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        arguments = _records.bind("cv", args, kwargs)
        if arguments is None or not is_rank_zero():
            return wrapped(*args, **kwargs)
        every = integration.check_knobs()
        with managed_run(integration.name, integration.config) as run:
            client, run_id = run.client, run.info.run_id
            log_params(client, run_id, _records.call_params("cv", arguments))
            if integration.config.get("log_datasets"):
                client.log_input(run_id, _records.describe_dmatrix(arguments["dtrain"], "train", "training"))
            callbacks = arguments.get("callbacks")
            callback = _callback(client, run_id, every, arguments.get("early_stopping_rounds"), callbacks)
            arguments["callbacks"] = [callback, *(callbacks or ())]
            return wrapped(**arguments)

    return _wrap_cv


def make_fit_wrapper(integration: Any) -> Callable[..., Any]:
    """An sklearn wrapper's ``fit``: one run, the callback first in its callbacks."""

    def _wrap_estimator_fit(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        if not is_rank_zero():
            return wrapped(*args, **kwargs)
        cfg, every = integration.config, integration.check_knobs()
        X = args[0] if args else kwargs.get("X")
        with managed_run(integration.name, cfg) as run:
            client, run_id = run.client, run.info.run_id
            log_params(client, run_id, _records.estimator_params(instance, kwargs))
            client.set_tags(run_id, estimator_tags(instance))
            if cfg.get("log_datasets") and X is not None:
                y = args[1] if len(args) > 1 else kwargs.get("y")
                _records.log_arrays(client, run_id, X, y, kwargs.get("eval_set"))
            rounds = kwargs.get("early_stopping_rounds") or instance.early_stopping_rounds
            user_callbacks = [*(kwargs.get("callbacks") or ()), *(instance.callbacks or ())]
            callback = _callback(client, run_id, every, rounds, user_callbacks)
            result = _fit_with_callback(wrapped, instance, callback, args, kwargs)
            _log_trained(integration, client, run_id, instance.get_booster(), instance.booster == "gblinear")
            if cfg.get("log_models"):
                _log_estimator(integration, client, run_id, instance, X)
            return result

    return _wrap_estimator_fit


def _log_trained(integration: Any, client: Any, run_id: str, booster: Any, linear: bool) -> None:
    """Feature importance of each ``importance_types`` (and plots with ``log_plots``)."""
    kinds = integration.config.get("importance_types") or ()
    if kinds:
        _records.log_importance(client, run_id, booster, kinds, bool(integration.config.get("log_plots")), linear)


def _log_estimator(integration: Any, client: Any, run_id: str, estimator: Any, X: Any) -> None:
    """The fitted wrapper as the run's model, its signature from the first rows of X."""
    from logwright.models import infer_signature

    example = _records.head(X) if hasattr(X, "shape") else None  # arrays, frames, sparse
    signature = None if example is None else infer_signature(example, estimator.predict(example))
    keep = example if integration.config.get("log_input_examples") else None
    _records.log_model(client, run_id, estimator, signature, keep)


def estimator_classes() -> list[str]:
    """Names of the ``xgboost.sklearn`` wrappers that define ``fit`` themselves."""
    import xgboost.sklearn as sk

    return [
        name for name, obj in vars(sk).items()
        if isinstance(obj, type) and issubclass(obj, sk.XGBModel) and obj.__module__ == sk.__name__
        and obj.__name__ == name and "fit" in obj.__dict__
    ]


def _refuses_callbacks(estimator: Any) -> bool:
    """XGBRFClassifier/XGBRFRegressor raise on any callback: one round, replayed after fit."""
    import xgboost.sklearn as sk

    return isinstance(estimator, (sk.XGBRFClassifier, sk.XGBRFRegressor))


def _fit_with_callback(wrapped: Any, estimator: Any, callback: Any, args: tuple, kwargs: dict) -> Any:
    """Run the user's ``fit`` with ``callback`` first in the estimator's callbacks.

    The callbacks param is put back as it was (``get_params`` is unchanged after fit).
    XGBoost 2.0 also accepts (deprecated) ``fit(callbacks=...)``: then the callback
    joins that list instead, since XGBoost refuses callbacks given in both places.
    """
    if _refuses_callbacks(estimator):
        result = wrapped(*args, **kwargs)
        callback.replay(getattr(estimator, "evals_result_", None) or {})
        return result
    if kwargs.get("callbacks") is not None:
        return wrapped(*args, **{**kwargs, "callbacks": [callback, *kwargs["callbacks"]]})
    user = estimator.callbacks
    estimator.callbacks = [callback, *(user or ())]
    try:
        return wrapped(*args, **kwargs)
    finally:
        estimator.callbacks = user
