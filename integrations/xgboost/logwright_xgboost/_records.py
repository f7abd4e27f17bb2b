"""What the XGBoost wrappers record around a training call: params, inputs, importance, model.

Every function takes the client and run id explicitly and is called by the wrappers
in ``logwright_xgboost`` inside the safety layer. XGBoost is imported lazily.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
from collections.abc import Mapping
from typing import Any

from logwright.entities import Dataset

_logger = logging.getLogger(__name__)

_EXAMPLE_ROWS = 5
_LABEL_ROWS = 5000
_signatures: dict[str, inspect.Signature] = {}
# Arguments of xgboost.train / xgboost.cv logged as params next to the booster params.
_CALL_PARAMS = ("num_boost_round", "early_stopping_rounds", "maximize", "nfold", "stratified",
                "metrics", "seed", "shuffle")


def _signature(name: str) -> inspect.Signature:
    sig = _signatures.get(name)
    if sig is None:
        import xgboost.training

        sig = _signatures[name] = inspect.signature(getattr(xgboost.training, name))
    return sig


def bind(name: str, args: tuple, kwargs: dict) -> dict[str, Any] | None:
    """Arguments of a call to ``xgboost.training.<name>`` by name, or None when they do
    not fit its signature (XGBoost itself will then say why)."""
    sig = _signature(name)
    try:
        return dict(sig.bind(*args, **kwargs).arguments)
    except TypeError:
        return None


def callable_name(fn: Any) -> str:
    """A readable name for a custom objective or metric."""
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__


def _param_value(value: Any) -> Any:
    if callable(value):
        return callable_name(value)
    if isinstance(value, (list, tuple)):
        return [_param_value(v) for v in value]
    return value


def booster_params(params: Any) -> dict[str, Any]:
    """Booster params from a dict or a list of pairs (repeated keys become lists)."""
    if isinstance(params, Mapping):
        return {str(k): _param_value(v) for k, v in params.items() if v is not None}
    out: dict[str, Any] = {}
    for key, value in params or ():
        if key in out:
            old = out[key]
            out[key] = [*(old if isinstance(old, list) else [old]), _param_value(value)]
        else:
            out[key] = _param_value(value)
    return out


def call_params(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Params of an ``xgboost.train``/``cv`` call: booster params plus the call's own
    (their defaults included, so ``nfold`` is logged when the user left it at 3)."""
    out = booster_params(arguments.get("params"))
    declared = _signature(name).parameters
    for name in _CALL_PARAMS:
        if name not in declared:
            continue
        value = arguments.get(name, declared[name].default)
        if value is not None and not (isinstance(value, (list, tuple)) and not value):
            out[name] = _param_value(value)
    if arguments.get("obj") is not None:
        out["custom_objective"] = callable_name(arguments["obj"])
    if arguments.get("custom_metric") is not None:
        out["custom_metric"] = callable_name(arguments["custom_metric"])
    return out


def estimator_params(estimator: Any, fit_kwargs: dict[str, Any]) -> dict[str, Any]:
    """Params of an XGBoost sklearn wrapper: its booster params plus rounds and stopping.

    ``early_stopping_rounds`` and ``eval_metric`` given to ``fit`` (deprecated, accepted
    by XGBoost 2.0) take precedence over the constructor's, as they do in XGBoost.
    """
    out = {k: _param_value(v) for k, v in estimator.get_xgb_params().items() if v is not None}
    out["num_boost_round"] = estimator.get_num_boosting_rounds()
    rounds = fit_kwargs.get("early_stopping_rounds") or estimator.early_stopping_rounds
    if rounds is not None:
        out["early_stopping_rounds"] = rounds
    if callable(estimator.objective):
        out["custom_objective"] = callable_name(estimator.objective)
    metrics = fit_kwargs.get("eval_metric") or estimator.eval_metric
    listed = metrics if isinstance(metrics, (list, tuple)) else [metrics]
    if metrics is not None and not callable(metrics):
        out["eval_metric"] = _param_value(metrics)
    customs = [m for m in listed if callable(m)]
    if customs:
        out["custom_metric"] = callable_name(customs[0])
    return out


def booster_kind(params: Any) -> str:
    """``gbtree``, ``dart`` or ``gblinear`` from the params (gbtree when not set)."""
    return str(booster_params(params).get("booster") or "gbtree")


def is_early_stopping(rounds: Any, callbacks: Any) -> bool:
    """Whether training stops early: ``early_stopping_rounds`` or an EarlyStopping callback."""
    if rounds:
        return True
    from xgboost.callback import EarlyStopping

    return any(isinstance(cb, EarlyStopping) for cb in callbacks or ())


def describe_dmatrix(dm: Any, name: str, context: str) -> Dataset:
    """A Dataset record for a DMatrix.

    XGBoost keeps the features in its own memory, so the digest covers the shape,
    the feature names and types and the labels (first and last 5,000), not the values.
    """
    rows, cols = int(dm.num_row()), int(dm.num_col())
    names, types = dm.feature_names, dm.feature_types
    digest = hashlib.sha256(repr((rows, cols, names, types)).encode())
    label = dm.get_label()
    digest.update(label[:_LABEL_ROWS].tobytes())
    digest.update(label[-_LABEL_ROWS:].tobytes())
    schema = None
    if names:
        schema = json.dumps({n: (t or "float") for n, t in zip(names, types or [None] * len(names), strict=False)})
    return Dataset(name=name, digest=digest.hexdigest()[:16], context=context,
                   shape=json.dumps([rows, cols]), schema=schema, source=f"xgboost.{type(dm).__name__}")


def log_dmatrices(client: Any, run_id: str, dtrain: Any, evals: Any) -> None:
    """Record the training DMatrix and each eval set that is not the training one."""
    if hasattr(dtrain, "num_row"):
        client.log_input(run_id, describe_dmatrix(dtrain, "train", "training"))
    for dm, eval_name in evals or ():
        if dm is not dtrain and hasattr(dm, "num_row"):  # XGBoost itself rejects the others
            client.log_input(run_id, describe_dmatrix(dm, str(eval_name), "evaluation"))


def log_arrays(client: Any, run_id: str, X: Any, y: Any, eval_set: Any) -> None:
    """Record the sklearn path's training arrays and eval sets (``validation_<i>``)."""
    from logwright.datasets import describe

    client.log_input(run_id, describe(X, name="train", context="training", targets=y))
    for i, pair in enumerate(eval_set or ()):
        if pair[0] is not X:
            client.log_input(run_id, describe(pair[0], name=f"validation_{i}", context="evaluation",
                                              targets=pair[1]))


def head(data: Any, rows: int = _EXAMPLE_ROWS) -> Any:
    """The first rows of an array, DataFrame or sparse matrix."""
    iloc = getattr(data, "iloc", None)
    return iloc[:rows] if iloc is not None else data[:rows]


def dmatrix_signature(booster: Any, dtrain: Any) -> dict[str, Any]:
    """Signature of a Booster: inputs from the DMatrix's features, outputs from the
    objective and the model's class/target counts (nothing is predicted)."""
    names, types = dtrain.feature_names, dtrain.feature_types
    if names:
        types = types or ["float"] * len(names)
        inputs: dict[str, Any] = {"type": "dataframe",
                                  "columns": [{"name": n, "type": t} for n, t in zip(names, types, strict=False)]}
    else:
        inputs = {"type": "tensor", "dtype": "float32", "shape": [-1, int(dtrain.num_col())]}
    learner = json.loads(booster.save_config())["learner"]
    model_param = learner["learner_model_param"]
    width = int(model_param.get("num_target", "1"))
    if learner["objective"]["name"] == "multi:softprob":
        width = int(model_param["num_class"])
    shape = [-1] if width <= 1 else [-1, width]
    return {"inputs": inputs, "outputs": {"type": "tensor", "dtype": "float32", "shape": shape}}


def log_importance(client: Any, run_id: str, booster: Any, kinds: Any, plots: bool, linear: bool) -> None:
    """``feature_importance_<type>.json`` per importance type (and ``.png`` with ``plots``).

    gblinear models only define ``weight`` (their coefficients); other types are skipped.
    """
    for kind in kinds:
        if linear and kind != "weight":
            continue
        scores = booster.get_score(importance_type=kind)
        client.log_dict(run_id, scores, f"feature_importance_{kind}.json")
        if plots and scores:
            client.log_figure(run_id, importance_figure(scores, kind), f"feature_importance_{kind}.png")


def importance_figure(scores: dict[str, Any], kind: str, top: int = 30) -> Any:
    """A horizontal bar chart of the ``top`` features (matplotlib, no pyplot state)."""
    from matplotlib.figure import Figure

    items = sorted(scores.items(), key=lambda kv: float(kv[1]))[-top:]
    fig = Figure(figsize=(6, 1.5 + 0.25 * len(items)), tight_layout=True)
    ax = fig.add_subplot()
    ax.barh([k for k, _ in items], [float(v) for _, v in items])
    ax.set_title(f"Feature importance ({kind})")
    ax.set_xlabel(kind)
    return fig


def log_model(client: Any, run_id: str, model: Any, signature: dict[str, Any] | None, example: Any) -> None:
    """Save the model with the ``xgboost`` flavour under ``model``, through the run's client."""
    from logwright.models import log_model as core_log_model

    core_log_model(model, name="model", signature=signature, input_example=example,
                   flavour="xgboost", run_id=run_id, client=client)
