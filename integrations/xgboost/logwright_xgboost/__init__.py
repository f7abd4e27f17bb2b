"""XGBoost autologging: ``xgboost.train``, ``xgboost.cv`` and the sklearn wrappers.

``logwright.autolog()`` adds a :class:`~logwright_xgboost._callback.LogwrightXGBoostCallback`
(XGBoost's own ``TrainingCallback``) to every ``xgboost.train`` / ``xgboost.cv`` call and
every ``fit`` of ``XGBClassifier``, ``XGBRegressor``, ``XGBRanker`` (and ``XGBRF*``).
Each call logs into the active run, or into a run it starts and ends (FAILED, with the
error as the ``logwright.error`` tag, if training raised; the exception reaches the user
unchanged). What one call logs:

- params: the booster params plus ``num_boost_round``, ``early_stopping_rounds``,
  ``maximize`` and the names of a custom objective (``custom_objective``) and metric
  (``custom_metric``); ``xgboost.cv`` adds ``nfold``, ``stratified``, ``metrics``,
  ``seed``, ``shuffle``. The sklearn path logs the wrapper's booster params and the tags
  ``estimator_name`` / ``estimator_class``; it is one run (its inner ``train`` does not log).
- metrics: every metric of every eval set at every round as ``<eval>-<metric>``
  (``-mean``/``-std`` for ``cv``), step = round, one batched write per round; with early
  stopping ``best_iteration``, ``best_score``, ``stopped_iteration`` and
  ``best_<eval>-<metric>``.
- artifacts: ``feature_importance_<type>.json`` for each of ``importance_types``
  (``.png`` too with ``log_plots=True``); the model (``log_models``) in XGBoost's UBJSON
  format with the ``xgboost`` flavour, MODEL.json and a signature.
- inputs (``log_datasets``): the training data and each eval set.

Knobs (``autolog(xgboost={...})``): ``importance_types`` (default all five; ``()`` for
none), ``log_plots`` (False), ``log_every_n_iter`` (1: every round; n: every n-th round
and the last one), plus the common ``log_models``, ``log_datasets``, ``log_input_examples``.

The callback goes first in the list, so it sees every round even when a user's
callback stops training; the user's callbacks keep their order, and a user's
``evals_result`` dict is still filled. Supported: XGBoost >= 2.0 (tested up to 3.2).
"""

from __future__ import annotations

from logwright.autolog import (
    AutologConfig,
    Integration,
    Patch,
    estimator_tags,
    is_rank_zero,
    log_params,
    managed_run,
)
from logwright.lazylog import get_logger

TYPE_CHECKING = False
if TYPE_CHECKING:  # autolog() loads this class at start-up: keep its imports light
    from collections.abc import Sequence
    from typing import Any

__all__ = ["XGBoostIntegration"]

_logger = get_logger(__name__)

_IMPORTANCE_TYPES = ("weight", "gain", "cover", "total_gain", "total_cover")
_TRAIN_MODULES = ("xgboost.training", "xgboost", "xgboost.sklearn")
_CV_MODULES = ("xgboost.training", "xgboost")


class XGBoostIntegration(Integration):
    """Autologging for XGBoost's native ``train``/``cv`` and its sklearn wrappers.

    What is logged, and when, is in this module's docstring. The patches only add
    the ``TrainingCallback`` (the native hook) and log what the callback cannot see
    (params before training; importance, model and inputs around it).
    Supported versions: ``xgboost>=2.0``, tested up to 3.2.
    """

    name = "xgboost"
    module = "xgboost"
    requirement = "xgboost>=2.0"
    tested_up_to = "3.2"
    defaults = {
        "importance_types": _IMPORTANCE_TYPES,
        "log_plots": False,
        "log_every_n_iter": 1,
    }

    def patches(self, config: AutologConfig) -> Sequence[Patch]:
        """``train`` where XGBoost exposes it, ``cv``, and each sklearn wrapper's own ``fit``."""
        patches = [Patch(m, "train", self._wrap_train) for m in _TRAIN_MODULES]
        patches += [Patch(m, "cv", self._wrap_cv) for m in _CV_MODULES]
        patches += [Patch("xgboost.sklearn", f"{name}.fit", self._wrap_estimator_fit)
                    for name in _estimator_classes()]
        return patches

    def _check_knobs(self) -> int:
        """Check the knobs before any run is started; returns ``log_every_n_iter``."""
        every = self.config.get("log_every_n_iter", 1)
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"xgboost log_every_n_iter must be an int >= 1, got {every!r}")
        unknown = set(self.config.get("importance_types") or ()) - set(_IMPORTANCE_TYPES)
        if unknown:
            raise ValueError(f"unknown xgboost importance_types {sorted(unknown)}; known: {_IMPORTANCE_TYPES}")
        return every

    @staticmethod
    def _callback(client: Any, run_id: str, every: int, rounds: Any, callbacks: Any) -> Any:
        from logwright_xgboost import _records
        from logwright_xgboost._callback import LogwrightXGBoostCallback

        return LogwrightXGBoostCallback(client, run_id, every, _records.is_early_stopping(rounds, callbacks))

    def _wrap_train(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        from logwright_xgboost import _records

        arguments = _records.bind("train", args, kwargs)
        if arguments is None or not is_rank_zero():
            return wrapped(*args, **kwargs)
        cfg, every = self.config, self._check_knobs()
        with managed_run(self.name, cfg) as run:
            client, run_id = run.client, run.info.run_id
            log_params(client, run_id, _records.call_params("train", arguments))
            dtrain = arguments["dtrain"]
            if cfg.get("log_datasets"):
                _records.log_dmatrices(client, run_id, dtrain, arguments.get("evals"))
            callbacks = arguments.get("callbacks")
            callback = self._callback(client, run_id, every, arguments.get("early_stopping_rounds"), callbacks)
            arguments["callbacks"] = [callback, *(callbacks or ())]
            booster = wrapped(**arguments)
            linear = _records.booster_kind(arguments["params"]) == "gblinear"
            self._log_trained(client, run_id, booster, linear)
            if cfg.get("log_models"):
                _records.log_model(client, run_id, booster, _records.dmatrix_signature(booster, dtrain), None)
            return booster

    def _wrap_cv(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        from logwright_xgboost import _records

        arguments = _records.bind("cv", args, kwargs)
        if arguments is None or not is_rank_zero():
            return wrapped(*args, **kwargs)
        every = self._check_knobs()
        with managed_run(self.name, self.config) as run:
            client, run_id = run.client, run.info.run_id
            log_params(client, run_id, _records.call_params("cv", arguments))
            if self.config.get("log_datasets"):
                client.log_input(run_id, _records.describe_dmatrix(arguments["dtrain"], "train", "training"))
            callbacks = arguments.get("callbacks")
            callback = self._callback(client, run_id, every, arguments.get("early_stopping_rounds"), callbacks)
            arguments["callbacks"] = [callback, *(callbacks or ())]
            return wrapped(**arguments)

    def _wrap_estimator_fit(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        from logwright_xgboost import _records

        if not is_rank_zero():
            return wrapped(*args, **kwargs)
        cfg, every = self.config, self._check_knobs()
        X = args[0] if args else kwargs.get("X")
        with managed_run(self.name, cfg) as run:
            client, run_id = run.client, run.info.run_id
            log_params(client, run_id, _records.estimator_params(instance, kwargs))
            client.set_tags(run_id, estimator_tags(instance))
            if cfg.get("log_datasets") and X is not None:
                y = args[1] if len(args) > 1 else kwargs.get("y")
                _records.log_arrays(client, run_id, X, y, kwargs.get("eval_set"))
            rounds = kwargs.get("early_stopping_rounds") or instance.early_stopping_rounds
            user_callbacks = [*(kwargs.get("callbacks") or ()), *(instance.callbacks or ())]
            callback = self._callback(client, run_id, every, rounds, user_callbacks)
            result = _fit_with_callback(wrapped, instance, callback, args, kwargs)
            self._log_trained(client, run_id, instance.get_booster(), instance.booster == "gblinear")
            if cfg.get("log_models"):
                self._log_estimator(client, run_id, instance, X)
            return result

    def _log_trained(self, client: Any, run_id: str, booster: Any, linear: bool) -> None:
        from logwright_xgboost import _records

        kinds = self.config.get("importance_types") or ()
        if kinds:
            _records.log_importance(client, run_id, booster, kinds, bool(self.config.get("log_plots")), linear)

    def _log_estimator(self, client: Any, run_id: str, estimator: Any, X: Any) -> None:
        from logwright.models import infer_signature
        from logwright_xgboost import _records

        example = _records.head(X) if hasattr(X, "shape") else None  # arrays, frames, sparse
        signature = None if example is None else infer_signature(example, estimator.predict(example))
        keep = example if self.config.get("log_input_examples") else None
        _records.log_model(client, run_id, estimator, signature, keep)


def _estimator_classes() -> list[str]:
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
