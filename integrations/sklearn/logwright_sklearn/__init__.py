"""scikit-learn autolog: every ``fit`` leaves a run with its params, metrics, data and model.

What an outermost ``fit``, ``fit_transform`` or ``fit_predict`` of any scikit-learn
estimator logs (nested fits, as in a Pipeline, a VotingClassifier or a search,
log nothing of their own):

- params: ``get_params(deep=True)`` (a Pipeline's steps as ``step__param``), values as
  strings cut to 6,000 characters; tags ``estimator_name`` and ``estimator_class``;
- training metrics on the training data: ``training_accuracy``, ``training_precision``,
  ``training_recall``, ``training_f1`` (weighted; ``pos_label`` for binary),
  ``training_log_loss`` and ``training_roc_auc`` (with ``predict_proba``),
  ``training_mse``/``rmse``/``mae``/``r2``, ``training_silhouette`` (<= 5,000 samples) and
  ``training_inertia``, and ``training_score``; only for scikit-learn's own models unless
  ``training_metrics="all"``, on at most ``max_scored_rows`` rows (see ``_scoring``);
- the training data as a run input (digest, shape, schema), named after its variable;
- ``feature_importances.json`` (importances, or coefficients and intercepts),
  ``confusion_matrix.json``, and PNG plots of them when matplotlib is installed
  (drawn without pyplot; binary ROC/PR curves too with ``log_plots=True``);
- the model (``log_models``) with the ``sklearn`` flavour, its signature (DataFrame
  column names kept) and, with ``log_input_examples=True``, five input rows;
- searches (``GridSearchCV``, ``RandomizedSearchCV``, Halving*): the search's own params
  (its estimator by class, no ``estimator__*``), ``best_*`` params,
  ``best_cv_score``, ``cv_results.csv``, the best ``max_tuning_runs`` candidates as child
  runs, and ``best_estimator_`` as the model.

``partial_fit`` calls on one estimator log into one run, metrics stepped per call.
After a fit, ``model.score(X, y)`` and ``sklearn.metrics`` functions given the
model's predictions log ``<metric>_<dataset>`` into its run (``log_post_training_metrics``).
Supported: scikit-learn >= 1.3 (tested up to 1.9).
"""

from __future__ import annotations

import sys
import threading
import weakref

from logwright.autolog import (
    AutologConfig,
    Integration,
    ModulePatches,
    Patch,
    estimator_tags,
    log_params,
    managed_run,
    report,
)
from logwright.lazylog import get_logger
from logwright_sklearn import _discovery, _records
from logwright_sklearn._posttrain import Tracker, log_value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_logger = get_logger(__name__)

__all__ = ["SklearnIntegration"]


_CV_HELPERS = "sklearn.model_selection._validation"  # cross_validate, cross_val_predict, learning_curve, ...


def _in_cv_helper() -> bool:
    """True when scikit-learn's cross-validation helpers make this fit (one per fold)."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_globals.get("__name__") == _CV_HELPERS:
            return True
        frame = frame.f_back
    return False


class SklearnIntegration(Integration):
    """Autolog for scikit-learn (>= 1.3, tested up to 1.9): fits, searches, evaluation, models.

    Knobs (``autolog(sklearn={...})``), besides the common ``log_models``, ``log_datasets``
    and ``log_input_examples``: ``log_plots`` (None: confusion matrix and importances when
    matplotlib is installed, except for the folds of ``cross_validate`` & co.; True: also
    ROC/PR curves, and for folds too; False: none), ``max_tuning_runs`` (5; None = all),
    ``log_post_training_metrics`` (True), ``pos_label`` (None: weighted averages),
    ``serialization`` (None = skops when installed, else pickle; or "skops"/"pickle"),
    ``training_metrics`` ("builtin": call predict/score only on scikit-learn's own
    estimators; "all"; "none") and ``max_scored_rows`` (100,000; every k-th row above it).
    """

    name = "sklearn"
    module = "sklearn"
    requirement = "scikit-learn>=1.3"
    tested_up_to = "1.9"
    defaults = {
        "log_plots": None,
        "max_tuning_runs": 5,
        "log_post_training_metrics": True,
        "pos_label": None,
        "serialization": None,
        "training_metrics": "builtin",
        "max_scored_rows": 100_000,
    }

    def __init__(self) -> None:
        super().__init__()
        self.tracker = Tracker()
        self._lock = threading.RLock()
        self._seen: set[tuple[int, str]] = set()
        self._partial: dict[int, tuple[Any, Any, str, int]] = {}
        self._signatures: dict[Any, list[str]] = {}
        self._in_flight = 0

    # -- patching ------------------------------------------------------------------

    def _wrappers(self) -> dict[str, Any]:
        fits = {m: self._make_fit_wrapper(m) for m in ("fit", "fit_transform", "fit_predict")}
        return {**fits, "partial_fit": self._wrap_estimator_partial_fit, "score": self._wrap_estimator_score,
                **{m: self._wrap_estimator_predict for m in _discovery.PREDICT_METHODS}}

    def _make_fit_wrapper(self, method: str) -> Any:
        def _wrap_estimator_fit(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
            return self._wrap_estimator_fit(wrapped, instance, args, kwargs, method)

        return _wrap_estimator_fit

    def patches(self, config: AutologConfig) -> list[ModulePatches]:
        """Each ``sklearn.*`` module's patches, built as the registry sees it imported."""
        self._seen = set()
        return [ModulePatches(name, self._module_patches) for name in _discovery.sklearn_modules()]

    def _module_patches(self, module: Any) -> list[Patch]:
        """The estimators ``module`` defines; for ``sklearn.metrics``, its scorers too."""
        found = _discovery.module_patches(module, self._wrappers(), self._seen)
        if module.__name__ == "sklearn.metrics":
            found += _discovery.metric_patches(self._make_metric_wrapper, self._seen)
        return found

    def on_enable(self, config: AutologConfig) -> None:
        """Check the knobs (the registry applies the patches, now or on each module's import)."""
        self._check_knobs(config)

    @staticmethod
    def _check_knobs(config: AutologConfig) -> None:
        """Refuse an unknown ``training_metrics`` (checked again before each run starts)."""
        from logwright_sklearn._scoring import POLICIES

        if config.get("training_metrics") not in POLICIES:
            raise ValueError(f"sklearn training_metrics must be one of {POLICIES}, "
                             f"got {config.get('training_metrics')!r}")

    def on_disable(self) -> None:
        """Forget tracked models and partial fits (the registry reverts the patches)."""
        with self._lock:
            self._seen = set()
            self._partial.clear()
            self.tracker.clear()

    # -- wrappers ------------------------------------------------------------------

    def _fit_args(self, instance: Any, method: str, args: tuple, kwargs: dict) -> tuple[Any, Any, Any]:
        key = (type(instance), method)
        names = self._signatures.get(key)
        if names is None:
            import inspect

            params = inspect.signature(getattr(type(instance), method)).parameters.values()
            names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][1:]
            self._signatures[key] = names
        bound = dict(zip(names, args, strict=False))
        bound.update(kwargs)
        first = bound.get(names[0]) if names else None
        return first, bound.get("y"), bound.get("sample_weight")

    def _in_worker_of_autologged_call(self) -> bool:
        """A joblib worker thread running a task of an autologged fit (contextvars do not follow)."""
        if not self._in_flight:
            return False
        parallel = sys.modules.get("joblib.parallel")
        if parallel is None:
            return False
        backend, _ = parallel.get_active_backend()
        return getattr(backend, "nesting_level", 0) > 0

    def _wrap_estimator_fit(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict, method: str) -> Any:
        if self._in_worker_of_autologged_call():
            return wrapped(*args, **kwargs)
        cfg = self.config
        self._check_knobs(cfg)
        X, y, weights = self._fit_args(instance, method, args, kwargs)
        self._in_flight += 1
        try:
            with managed_run(self.name, cfg) as run:
                client, run_id = run.client, run.info.run_id
                client.set_tags(run_id, estimator_tags(instance))
                log_params(client, run_id, _records.flat_params(instance))
                result = wrapped(*args, **kwargs)
                self._log_fit(run, instance, method, (X, y, weights), result, cfg)
                return result
        finally:
            self._in_flight -= 1

    def _log_fit(self, run: Any, est: Any, method: str, data: tuple, result: Any, cfg: AutologConfig) -> None:
        from logwright_sklearn import _search

        client, run_id = run.client, run.info.run_id
        X, y, weights = data
        training = self._training(est, (X, y, weights), result, method)
        metrics, y_pred, cm, curves, rows = training
        if metrics:
            client.log_metrics(run_id, {f"training_{k}": v for k, v in metrics.items()})
        if rows is not None:
            client.set_tags(run_id, {"training_metrics_rows": f"{rows[0]} of {rows[1]}"})
        if cfg.get("log_datasets") and X is not None:
            _records.log_dataset(client, run_id, X, y, _records.caller_name(X) or "train")
        searched = _search.is_search(est)
        if searched:
            _search.log_search(client, run, est, cfg.get("max_tuning_runs"))
        found = _records.importances(est)
        if found is not None:
            client.log_dict(run_id, found, "feature_importances.json")
        if cm is not None:
            client.log_dict(run_id, cm, "confusion_matrix.json")
        self._log_plots(client, run_id, cm, curves, found, cfg.get("log_plots"))
        model = getattr(est, "best_estimator_", None) if searched else est
        if cfg.get("log_models") and model is not None and X is not None:
            _records.log_model(client, run_id, model, X, y_pred, cfg)
        if cfg.get("log_post_training_metrics"):
            self.tracker.add_model(est, client, run_id)

    def _training(self, est: Any, data: tuple, result: Any, method: str) -> Any:
        """Training metrics under the ``training_metrics`` policy and the ``max_scored_rows`` cap."""
        from logwright_sklearn import _metrics

        cfg = self.config
        X, y, weights = data
        try:
            return _metrics.for_estimator(est, X, y, weights, result, method, cfg.get("pos_label"),
                                          cfg.get("training_metrics"), cfg.get("max_scored_rows"))
        except Exception as exc:  # noqa: BLE001 - the estimator's own predict/score refused these inputs
            _logger.debug("logwright sklearn: training metrics skipped: %r", exc)
            return _metrics.Training({})

    def _log_plots(self, client: Any, run_id: str, cm: Any, curves: Any, found: Any, wanted: Any) -> None:
        from logwright_sklearn import _plots

        if wanted is False or (wanted is None and not (_plots.matplotlib_available() and not _in_cv_helper())):
            return
        curves = curves if wanted else None  # ROC/PR curves only when asked for: ~0.15 s more per fit
        if cm is None and curves is None and found is None:
            return
        try:
            _plots.log_plots(client, run_id, cm, curves, found)
        except Exception as exc:  # noqa: BLE001 - a plot is never worth a failed fit
            report(self.name, exc)

    def _wrap_estimator_partial_fit(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        from logwright import fluent

        cfg = self.config
        X, y, weights = self._fit_args(instance, "partial_fit", args, kwargs)
        state = self._partial.get(id(instance))
        mine = state is not None and state[0]() is instance
        resume = state[2] if mine and fluent.active_run() is None else None  # calls on one model: one run
        with managed_run(self.name, cfg, run_id=resume) as run:
            client, run_id = run.client, run.info.run_id
            if resume is None:
                client.set_tags(run_id, estimator_tags(instance))
                log_params(client, run_id, _records.flat_params(instance))
            result = wrapped(*args, **kwargs)
            step = state[3] if mine and state[2] == run_id else 0
            self._log_partial(client, run_id, instance, (X, y, weights), step)
            return result

    def _log_partial(self, client: Any, run_id: str, est: Any, data: tuple, step: int) -> None:
        metrics = self._training(est, data, None, "partial_fit").metrics
        if metrics:
            client.log_metrics(run_id, {f"training_{k}": v for k, v in metrics.items()}, step=step)
        self._partial[id(est)] = (weakref.ref(est), client, run_id, step + 1)
        if self.config.get("log_post_training_metrics"):
            self.tracker.add_model(est, client, run_id)

    def _wrap_estimator_predict(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        result = wrapped(*args, **kwargs)
        if self.config.get("log_post_training_metrics") and self.tracker.model_entry(instance) is not None:
            X = args[0] if args else kwargs.get("X")
            self.tracker.add_prediction(instance, result, X)
        return result

    def _wrap_estimator_score(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        result = wrapped(*args, **kwargs)
        entry = self.tracker.model_entry(instance) if self.config.get("log_post_training_metrics") else None
        if entry is not None:
            X = args[0] if args else kwargs.get("X")
            log_value(self.tracker, entry, "score", _records.caller_name(X) or "eval", result)
        return result

    def _make_metric_wrapper(self, metric: str) -> Any:
        def _wrap_metric(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
            result = wrapped(*args, **kwargs)
            if self.config.get("log_post_training_metrics"):
                entry = self.tracker.find_prediction(args, kwargs)
                if entry is not None:
                    log_value(self.tracker, entry, metric, entry.dataset, result)
            return result

        return _wrap_metric
