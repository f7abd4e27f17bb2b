"""The scikit-learn wrappers core installs: fits, partial fits, predictions, scores and metrics.

:class:`SklearnHooks` holds what the wrappers share (the post-training tracker, partial
fits in progress, fit signatures) for one :class:`~logwright_sklearn.SklearnIntegration`;
the integration builds it once scikit-learn is imported. What a fit writes is in
``_records``, ``_search``, ``_metrics`` and ``_plots``.
"""

from __future__ import annotations

import sys
import threading
import weakref

from logwright.autolog import estimator_tags, log_params, managed_run, report
from logwright.lazylog import get_logger
from logwright_sklearn import _discovery, _records
from logwright_sklearn._posttrain import Tracker, log_value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from logwright.autolog import AutologConfig, Patch

_logger = get_logger(__name__)

_CV_HELPERS = "sklearn.model_selection._validation"  # cross_validate, cross_val_predict, learning_curve, ...


def _in_cv_helper() -> bool:
    """True when scikit-learn's cross-validation helpers make this fit (one per fold)."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_globals.get("__name__") == _CV_HELPERS:
            return True
        frame = frame.f_back
    return False


class SklearnHooks:
    """The wrappers of one scikit-learn integration and the state they share.

    Args:
        integration: the :class:`~logwright_sklearn.SklearnIntegration` (its name and options).
    """

    def __init__(self, integration: Any) -> None:
        self.integration = integration
        self.tracker = Tracker()
        self._lock = threading.RLock()
        self._seen: set[tuple[int, str]] = set()
        self._partial: dict[int, tuple[Any, Any, str, int]] = {}
        self._signatures: dict[Any, list[str]] = {}
        self._in_flight = 0

    def clear(self) -> None:
        """Forget tracked models, partial fits and what was patched (autolog disabled)."""
        with self._lock:
            self._seen = set()
            self._partial.clear()
            self.tracker.clear()

    def _wrappers(self) -> dict[str, Any]:
        fits = {m: self._make_fit_wrapper(m) for m in ("fit", "fit_transform", "fit_predict")}
        return {**fits, "partial_fit": self._wrap_estimator_partial_fit, "score": self._wrap_estimator_score,
                **{m: self._wrap_estimator_predict for m in _discovery.PREDICT_METHODS}}

    def _make_fit_wrapper(self, method: str) -> Any:
        def _wrap_estimator_fit(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
            return self._wrap_estimator_fit(wrapped, instance, args, kwargs, method)

        return _wrap_estimator_fit

    def module_patches(self, module: Any) -> list[Patch]:
        """The estimators ``module`` defines; for ``sklearn.metrics``, its scorers too."""
        found = _discovery.module_patches(module, self._wrappers(), self._seen)
        if module.__name__ == "sklearn.metrics":
            found += _discovery.metric_patches(self._make_metric_wrapper, self._seen)
        return found

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
        cfg = self.integration.config
        self.integration.check_knobs(cfg)
        X, y, weights = self._fit_args(instance, method, args, kwargs)
        self._in_flight += 1
        try:
            with managed_run(self.integration.name, cfg) as run:
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

        cfg = self.integration.config
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
            report(self.integration.name, exc)

    def _wrap_estimator_partial_fit(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        from logwright import fluent

        cfg = self.integration.config
        X, y, weights = self._fit_args(instance, "partial_fit", args, kwargs)
        state = self._partial.get(id(instance))
        mine = state is not None and state[0]() is instance
        resume = state[2] if mine and fluent.active_run() is None else None  # calls on one model: one run
        with managed_run(self.integration.name, cfg, run_id=resume) as run:
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
        if self.integration.config.get("log_post_training_metrics"):
            self.tracker.add_model(est, client, run_id)

    def _wrap_estimator_predict(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        result = wrapped(*args, **kwargs)
        if self.integration.config.get("log_post_training_metrics") and self.tracker.model_entry(instance) is not None:
            X = args[0] if args else kwargs.get("X")
            self.tracker.add_prediction(instance, result, X)
        return result

    def _wrap_estimator_score(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        result = wrapped(*args, **kwargs)
        entry = self.tracker.model_entry(instance) if self.integration.config.get("log_post_training_metrics") else None
        if entry is not None:
            X = args[0] if args else kwargs.get("X")
            log_value(self.tracker, entry, "score", _records.caller_name(X) or "eval", result)
        return result

    def _make_metric_wrapper(self, metric: str) -> Any:
        def _wrap_metric(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
            result = wrapped(*args, **kwargs)
            if self.integration.config.get("log_post_training_metrics"):
                entry = self.tracker.find_prediction(args, kwargs)
                if entry is not None:
                    log_value(self.tracker, entry, metric, entry.dataset, result)
            return result

        return _wrap_metric
