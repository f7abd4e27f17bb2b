"""Framework objects -> params, metrics, spans: pure functions, no logging side effects."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def params(model: Any, fit_kwargs: dict[str, Any]) -> dict[str, Any]:
    """The model's hyper-parameters and the ``fit`` keywords (``get_params`` where it exists)."""
    found = dict(model.get_params()) if hasattr(model, "get_params") else dict(vars(model))
    found.update({f"fit_{k}": v for k, v in fit_kwargs.items()})
    return {k: v for k, v in found.items() if not k.startswith("_")}


def metrics(model: Any) -> dict[str, float]:
    """What training reached: ``train_score`` when the model has a ``score`` of its own."""
    score = getattr(model, "train_score", None)
    return {} if score is None else {"train_score": float(score)}
