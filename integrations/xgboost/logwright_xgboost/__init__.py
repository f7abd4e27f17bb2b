"""XGBoost autologging: ``xgboost.train``, ``xgboost.cv`` and the sklearn wrappers.

``logwright.autolog()`` adds a :class:`~logwright_xgboost.LogwrightXGBoostCallback`
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

from logwright.autolog import AutologConfig, Integration, Patch

TYPE_CHECKING = False
if TYPE_CHECKING:  # autolog() loads this class at start-up: keep its imports light
    from collections.abc import Sequence
    from typing import Any

__all__ = ["LogwrightXGBoostCallback", "XGBoostIntegration"]

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
        from logwright_xgboost import _hooks

        train, cv, fit = _hooks.make_train_wrapper(self), _hooks.make_cv_wrapper(self), _hooks.make_fit_wrapper(self)
        patches = [Patch(m, "train", train) for m in _TRAIN_MODULES]
        patches += [Patch(m, "cv", cv) for m in _CV_MODULES]
        patches += [Patch("xgboost.sklearn", f"{name}.fit", fit) for name in _hooks.estimator_classes()]
        return patches

    def check_knobs(self) -> int:
        """Check the knobs before any run is started; returns ``log_every_n_iter``."""
        every = self.config.get("log_every_n_iter", 1)
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"xgboost log_every_n_iter must be an int >= 1, got {every!r}")
        unknown = set(self.config.get("importance_types") or ()) - set(_IMPORTANCE_TYPES)
        if unknown:
            raise ValueError(f"unknown xgboost importance_types {sorted(unknown)}; known: {_IMPORTANCE_TYPES}")
        return every


def __getattr__(name: str) -> Any:
    if name == "LogwrightXGBoostCallback":  # subclasses XGBoost's TrainingCallback: loaded on first use
        from logwright_xgboost._hooks import LogwrightXGBoostCallback

        return LogwrightXGBoostCallback
    raise AttributeError(f"module 'logwright_xgboost' has no attribute {name!r}")
