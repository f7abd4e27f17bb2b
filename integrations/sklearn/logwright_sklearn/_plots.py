"""PNG plots of a fit: confusion matrix, ROC and precision-recall curves, importances.

Drawn on ``matplotlib.figure.Figure`` objects with the Agg canvas: pyplot is never
imported, the backend is never switched, no rcParams are changed and no figure is
registered with pyplot, so the user's ``plt.get_fignums()`` and current figure stay
as they were. matplotlib is imported only when the first plot is drawn. Everything
plotted comes from what the training metrics already computed (no extra ``predict``
or ``predict_proba``).
"""

from __future__ import annotations

import importlib.util
import io
from typing import Any

from logwright.lazylog import get_logger

_logger = get_logger(__name__)

MAX_LABELS = 50  # larger confusion matrices are unreadable as a picture: JSON only
MAX_ANNOTATED = 10  # counts written in the cells up to 10 labels (colour only above)
MAX_FEATURES = 20  # bars for the largest importances/coefficients (by magnitude)
_DPI = 80
_available: list[bool] = []


def matplotlib_available() -> bool:
    """True when matplotlib can be imported (checked once, without importing it)."""
    if not _available:
        _available.append(importlib.util.find_spec("matplotlib") is not None)
    return _available[0]


def _figure(width: float, height: float, left: float = 0.8, bottom: float = 0.6) -> Any:
    """An Agg figure with one axes, margins given in inches (no tight_layout: it costs ~0.2 s)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=_DPI)
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=left / width, bottom=bottom / height, right=1 - 0.3 / width, top=1 - 0.45 / height)
    return fig, fig.add_subplot()


def _label_inches(labels: list[str]) -> float:
    return 0.35 + 0.075 * min(40, max((len(x) for x in labels), default=1))


def _png(fig: Any) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()


def confusion_png(cm: dict[str, Any]) -> bytes | None:
    """The confusion matrix (rows true, columns predicted), counts written up to 10 labels."""
    import numpy as np

    labels, matrix = [str(x) for x in cm["labels"]], np.asarray(cm["matrix"], dtype=float)
    k = len(labels)
    if k > MAX_LABELS:
        return None
    side = min(12.0, 3.0 + 0.45 * k)
    margin = _label_inches(labels) + 0.3
    fig, ax = _figure(side + margin, side, left=margin, bottom=margin)
    ax.imshow(matrix, cmap="Blues", interpolation="nearest")
    ax.set(xticks=range(k), yticks=range(k), xticklabels=labels, yticklabels=labels,
           xlabel="predicted", ylabel="true", title="confusion matrix (training data)")
    if k <= MAX_ANNOTATED:  # ~1 ms per number drawn
        middle = (matrix.max() + matrix.min()) / 2
        for i in range(k):
            for j in range(k):
                value = matrix[i, j]
                text = f"{value:.0f}" if float(value).is_integer() else f"{value:.3g}"
                ax.text(j, i, text, ha="center", va="center", color="white" if value > middle else "black")
    return _png(fig)


def curves_png(y: Any, scores: Any, positive: Any) -> tuple[bytes, bytes] | None:
    """ROC and precision-recall curves of a binary classifier's positive-class scores."""
    import numpy as np
    from sklearn.metrics import auc, precision_recall_curve, roc_curve

    y = np.asarray(y)
    if len(np.unique(y)) != 2:
        return None
    fpr, tpr, _ = roc_curve(y, scores, pos_label=positive)
    precision, recall, _ = precision_recall_curve(y, scores, pos_label=positive)
    roc, ax = _figure(5, 5)
    ax.plot(fpr, tpr, label=f"AUC = {auc(fpr, tpr):.3f}")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=f"ROC (positive: {positive})")
    ax.legend(loc="lower right")
    pr, ax = _figure(5, 5)
    ax.plot(recall, precision)
    ax.set(xlabel="recall", ylabel="precision", title=f"precision-recall (positive: {positive})")
    return _png(roc), _png(pr)


def importances_png(found: dict[str, Any]) -> bytes | None:
    """Bars of the 20 largest importances, or of coefficients (one row per class, summed |coef|)."""
    import numpy as np

    if found["kind"] == "feature_importances":
        values, title = np.asarray(found["values"], dtype=float).reshape(-1), "feature importances"
    else:
        coef = np.atleast_2d(np.asarray(found["coef"], dtype=float))
        if coef.shape[0] == 1:
            values, title = coef[0], "coefficients"
        else:
            values, title = np.abs(coef).sum(axis=0), f"sum of |coefficients| over {coef.shape[0]} outputs"
    names = list(found["features"])
    if len(values) != len(names) or not len(values):
        return None
    order = np.argsort(-np.abs(values), kind="stable")[:MAX_FEATURES][::-1]
    shown_names = [names[i] for i in order]
    fig, ax = _figure(7.0, max(2.2, 1.1 + 0.22 * len(order)), left=_label_inches(shown_names))
    ax.barh(shown_names, values[order])
    ax.axvline(0, color="grey", linewidth=0.8)
    shown = f" (largest {len(order)} of {len(values)})" if len(order) < len(values) else ""
    ax.set_title(title + shown)
    return _png(fig)


def log_plots(client: Any, run_id: str, cm: dict | None, curves: tuple | None, found: dict | None) -> None:
    """Write ``plots/*.png`` for what is known: confusion matrix, binary curves, importances.

    Args:
        client: the run's client.
        run_id: the run.
        cm: ``{"labels", "matrix"}`` from the training metrics, or None.
        curves: ``(y, positive-class scores, positive label)`` of a binary classifier, or None.
        found: importances/coefficients as in ``feature_importances.json``, or None.
    """
    repo = client.artifacts(run_id)
    drawn = {
        "plots/confusion_matrix.png": (confusion_png, (cm,)) if cm is not None else None,
        "plots/feature_importances.png": (importances_png, (found,)) if found is not None else None,
    }
    for path, job in drawn.items():
        if job is not None:
            png = job[0](*job[1])
            if png is not None:
                repo.write_bytes(path, png)
    if curves is not None:
        pair = curves_png(*curves)
        if pair is not None:
            repo.write_bytes("plots/roc_curve.png", pair[0])
            repo.write_bytes("plots/precision_recall_curve.png", pair[1])
