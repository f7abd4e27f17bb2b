"""Training metrics by task, computed with NumPy from one ``predict`` (and one
``predict_proba``) on the training data.

scikit-learn's metric functions validate their inputs at length (a weighted F1 on
150 rows costs ~2 ms, a multiclass ROC AUC ~8 ms); the same numbers come out of a
confusion matrix and a rank in microseconds. The tests check each against
``sklearn.metrics``. Cases the fast path does not cover (multilabel or multioutput
targets, sample weights for ROC AUC) use ``sklearn.metrics`` itself.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

import numpy as np

from logwright_sklearn._scoring import MAX_SCORED_ROWS, may_call, n_rows, stride, take

_logger = logging.getLogger(__name__)

SILHOUETTE_MAX_SAMPLES = 5000


def _weighted_mean(values: np.ndarray, weights: np.ndarray | None) -> float:
    return float(np.average(values, weights=weights))


def confusion(y: np.ndarray, y_pred: np.ndarray, weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, matrix)``: sorted union of labels, rows true and columns predicted."""
    labels = np.unique(np.concatenate([np.unique(y), np.unique(y_pred)]))
    k = len(labels)
    codes = np.searchsorted(labels, y) * k + np.searchsorted(labels, y_pred)
    matrix = np.bincount(codes, weights=weights, minlength=k * k).reshape(k, k)
    return labels, matrix


def _prf(matrix: np.ndarray, labels: np.ndarray, pos_label: Any) -> dict[str, float]:
    tp = np.diag(matrix).astype(float)
    support = matrix.sum(axis=1).astype(float)
    predicted = matrix.sum(axis=0).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(support + predicted > 0, 2 * tp / (support + predicted), 0.0)
    if pos_label is not None and len(labels) <= 2 and pos_label in labels:
        i = int(np.searchsorted(labels, pos_label))
        return {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i])}
    total = support.sum()
    return {name: float((vals * support).sum() / total) if total else 0.0
            for name, vals in (("precision", precision), ("recall", recall), ("f1", f1))}


def _binary_auc(positive: np.ndarray, score: np.ndarray) -> float:
    from scipy.stats import rankdata

    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _proba_metrics(y: np.ndarray, proba: np.ndarray, classes: np.ndarray,
                   weights: np.ndarray | None) -> dict[str, float]:
    idx = np.searchsorted(classes, y)
    if np.any(idx >= len(classes)) or np.any(classes[np.minimum(idx, len(classes) - 1)] != y):
        return {}
    eps = np.finfo(proba.dtype).eps if proba.dtype.kind == "f" else np.finfo(float).eps
    p = np.clip(proba[np.arange(len(y)), idx], eps, 1 - eps)
    out = {"log_loss": _weighted_mean(-np.log(p), weights)}
    if weights is not None:
        from sklearn.metrics import roc_auc_score

        scores = proba[:, 1] if len(classes) == 2 else proba
        out["roc_auc"] = float(roc_auc_score(y, scores, sample_weight=weights, multi_class="ovr",
                                             average="weighted"))
    elif len(classes) == 2:
        out["roc_auc"] = _binary_auc(idx == 1, proba[:, 1])
    else:
        support = np.bincount(idx, minlength=len(classes)).astype(float)
        aucs = np.array([_binary_auc(idx == c, proba[:, c]) if support[c] else 0.0
                         for c in range(len(classes))])
        out["roc_auc"] = float((aucs * support).sum() / support.sum())
    return out


_ARGMAX_PREDICT = ("ForestClassifier", "DecisionTreeClassifier")


def _predict_is_argmax(model: Any) -> bool:
    """True where ``predict`` is by definition ``classes_[argmax(predict_proba)]`` (forests, trees)."""
    for klass in type(model).__mro__:
        if "predict" in klass.__dict__:
            return klass.__name__ in _ARGMAX_PREDICT and klass.__module__.startswith("sklearn.")
    return False


def _proba(model: Any, X: Any, classes: Any) -> np.ndarray | None:
    if not hasattr(model, "predict_proba") or not isinstance(classes, np.ndarray) or classes.ndim != 1 \
            or len(classes) < 2:
        return None
    try:
        proba = np.asarray(model.predict_proba(X))
    except Exception as exc:  # noqa: BLE001 - e.g. SVC(probability=False) raises here
        _logger.debug("logwright sklearn: predict_proba failed: %r", exc)
        return None
    return proba if proba.ndim == 2 and proba.shape[1] == len(classes) else None


class Training(NamedTuple):
    """What the training metrics computed, reused for the model signature and the plots."""

    metrics: dict[str, float]
    predictions: Any = None
    confusion: dict | None = None  # {"labels", "matrix"}
    curves: tuple | None = None  # binary classifiers: (y, positive-class probability, positive label)
    rows: tuple[int, int] | None = None  # (scored, total) when the rows scored were capped


def classifier(model: Any, X: Any, y: Any, weights: Any, pos_label: Any) -> Training:
    """Accuracy, weighted precision/recall/F1, log loss and ROC AUC (with ``predict_proba``)."""
    classes = getattr(model, "classes_", None)
    proba = _proba(model, X, classes)
    if proba is not None and _predict_is_argmax(model):
        y_pred = np.asarray(classes).take(np.argmax(proba, axis=1))
    else:
        y_pred = model.predict(X)
    y_arr, p_arr = np.asarray(y), np.asarray(y_pred)
    w = None if weights is None else np.asarray(weights, dtype=float)
    if y_arr.ndim != 1 or p_arr.ndim != 1:  # multilabel / multioutput: subset accuracy only
        exact = np.all(y_arr.reshape(len(y_arr), -1) == p_arr.reshape(len(p_arr), -1), axis=1)
        return Training({"accuracy": _weighted_mean(exact, w)}, y_pred)
    labels, matrix = confusion(y_arr, p_arr, w)
    total = matrix.sum()
    metrics = {"accuracy": float(np.trace(matrix) / total) if total else 0.0, **_prf(matrix, labels, pos_label)}
    if proba is not None:
        metrics.update(_proba_metrics(y_arr, proba, np.asarray(classes), w))
    cm = {"labels": labels.tolist(), "matrix": matrix.tolist()}
    curves = (y_arr, proba[:, 1], classes[1]) if proba is not None and len(classes) == 2 else None
    return Training(metrics, y_pred, cm, curves)


def regressor(model: Any, X: Any, y: Any, weights: Any) -> tuple[dict, Any]:
    """MSE, RMSE, MAE and R² (outputs averaged uniformly, as scikit-learn does)."""
    y_pred = model.predict(X)
    y_arr = np.asarray(y, dtype=float)
    p_arr = np.asarray(y_pred, dtype=float).reshape(y_arr.shape)
    if y_arr.ndim == 1:
        y_arr, p_arr = y_arr[:, None], p_arr[:, None]
    w = None if weights is None else np.asarray(weights, dtype=float)
    err = y_arr - p_arr
    mse = np.average(err**2, axis=0, weights=w)
    mae = np.average(np.abs(err), axis=0, weights=w)
    mean = np.average(y_arr, axis=0, weights=w)
    ss_res = np.sum((err**2) * (w[:, None] if w is not None else 1.0), axis=0)
    ss_tot = np.sum(((y_arr - mean) ** 2) * (w[:, None] if w is not None else 1.0), axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(ss_tot > 0, 1 - ss_res / ss_tot, np.where(ss_res > 0, 0.0, 1.0))
    metrics = {"mse": float(mse.mean()), "rmse": float(np.sqrt(mse).mean()),
               "mae": float(mae.mean()), "r2": float(r2.mean())}
    return metrics, y_pred


def clusterer(model: Any, X: Any, labels: Any) -> dict[str, float]:
    """Silhouette (when n_samples <= 5,000 and 2 <= clusters < n) and inertia (when present)."""
    metrics: dict[str, float] = {}
    inertia = getattr(model, "inertia_", None)
    if inertia is not None:
        metrics["inertia"] = float(inertia)
    if labels is None:
        labels = getattr(model, "labels_", None)
    if labels is None:
        return metrics
    labels = np.asarray(labels)
    n = labels.shape[0]
    n_clusters = len(np.unique(labels))
    if n <= SILHOUETTE_MAX_SAMPLES and 2 <= n_clusters < n:
        from sklearn.metrics import silhouette_score

        metrics["silhouette"] = float(silhouette_score(X, labels))
    return metrics


def _score_definer(estimator: Any) -> type | None:
    for klass in type(estimator).__mro__:
        if "score" in klass.__dict__:
            return klass
    return None


def _kind(estimator: Any) -> str:
    from sklearn import base

    if base.is_classifier(estimator):
        return "classifier"
    if base.is_regressor(estimator):
        return "regressor"
    is_clusterer = getattr(base, "is_clusterer", None)  # scikit-learn >= 1.6
    if (is_clusterer(estimator) if is_clusterer else getattr(estimator, "_estimator_type", None) == "clusterer"):
        return "clusterer"
    return "other"


def for_estimator(estimator: Any, X: Any, y: Any, weights: Any, fit_result: Any, method: str,
                  pos_label: Any, policy: str = "builtin", max_rows: int | None = MAX_SCORED_ROWS) -> Training:
    """Training metrics for a fitted estimator, with the predictions, confusion and curves.

    ``policy`` (``training_metrics``) says whose methods may be called (see ``_scoring``);
    at most ``max_rows`` rows are scored (every k-th row above it). ``training_score``
    reuses accuracy or R² when the estimator's ``score`` is the mixin's (the same number);
    otherwise ``score`` is called.
    """
    from sklearn.base import ClassifierMixin, RegressorMixin

    calls = may_call(estimator, policy)
    if policy == "none":
        return Training({})
    kind = _kind(estimator)
    n = n_rows(X)
    step = stride(n, max_rows)
    X, y, weights = take(X, step), take(y, step), take(weights, step)
    rows = (n_rows(X), n) if step > 1 else None
    metrics: dict[str, float] = {}
    y_pred, cm, curves = None, None, None
    if not calls:  # only what the model holds: a clusterer's labels and inertia
        if kind == "clusterer":
            labels = fit_result if method == "fit_predict" else getattr(estimator, "labels_", None)
            metrics = clusterer(estimator, X, take(labels, step))
        return Training({k: v for k, v in metrics.items() if v is not None}, rows=rows)
    if kind == "classifier" and y is not None:
        metrics, y_pred, cm, curves, _ = classifier(estimator, X, y, weights, pos_label)
        if _score_definer(estimator) is ClassifierMixin and weights is None:
            metrics["score"] = metrics["accuracy"]
    elif kind == "regressor" and y is not None:
        metrics, y_pred = regressor(estimator, X, y, weights)
        if _score_definer(estimator) is RegressorMixin and weights is None and np.ndim(y) == 1:
            metrics["score"] = metrics["r2"]
    elif kind == "clusterer":
        y_pred = take(fit_result if method == "fit_predict" else getattr(estimator, "labels_", None), step)
        metrics = clusterer(estimator, X, y_pred)
    supervised = kind in ("classifier", "regressor")
    if "score" not in metrics and hasattr(estimator, "score") and (y is not None or not supervised):
        metrics["score"] = _call_score(estimator, X, y, weights)
    return Training({k: v for k, v in metrics.items() if v is not None}, y_pred, cm, curves, rows)


def _call_score(estimator: Any, X: Any, y: Any, weights: Any) -> float | None:
    try:
        value = estimator.score(X, y) if weights is None else estimator.score(X, y, sample_weight=weights)
        return float(value)
    except Exception as exc:  # noqa: BLE001 - an estimator whose score needs other inputs
        _logger.debug("logwright sklearn: %s.score failed: %r", type(estimator).__name__, exc)
        return None
