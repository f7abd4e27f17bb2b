"""The runs of an autologged ``Evaluate`` call and of an optimizer's ``compile``.

Called by the wrappers in :mod:`logwright_dspy` inside ``managed_run``. Each makes a
:class:`~logwright_dspy._callback.Scope` current while DSPy runs, so the traces made
inside are linked to the run (in DSPy's worker threads too, through DSPy's call ids).
"""

from __future__ import annotations

import logging
from typing import Any

from logwright_dspy import _describe
from logwright_dspy._callback import Scope, current_scope

_logger = logging.getLogger(__name__)

_eval_counts: dict[str, int] = {}


def _argument(args: tuple, kwargs: dict, index: int, name: str, default: Any = None) -> Any:
    if name in kwargs:
        return kwargs[name]
    return args[index] if len(args) > index else default


def evaluate(integration: Any, run: Any, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    """Run ``Evaluate.__call__`` in an evaluate scope; log score, sizes and the results table."""
    cfg = integration.config
    client, run_id = run.client, run.info.run_id
    trace = bool(cfg.get("log_traces") and cfg.get("log_traces_from_eval"))
    scope = Scope(run_id, "evaluate", trace, client)
    token = current_scope.set(scope)
    try:
        result = wrapped(*args, **kwargs)
    finally:
        current_scope.reset(token)
    try:
        rows = [_describe.example_row(example, prediction, score, scope.settle(prediction, score))
                for example, prediction, score in getattr(result, "results", None) or ()]
    finally:
        scope.close()
    metric = _argument(args, kwargs, 1, "metric") or getattr(instance, "metric", None)
    devset = _argument(args, kwargs, 2, "devset") or getattr(instance, "devset", None) or ()
    params = {"metric": _describe.callable_name(metric), "devset_size": len(devset)}
    program = _argument(args, kwargs, 0, "program")
    if program is not None:
        params["program"] = type(program).__name__
    _log_params_once(client, run_id, params)
    score = getattr(result, "score", None)
    if isinstance(score, (int, float)):
        client.log_metric(run_id, "score", float(score))
    count = _eval_counts[run_id] = _eval_counts.get(run_id, 0) + 1
    name = "eval_results.json" if count == 1 else f"eval_results_{count}.json"
    client.log_dict(run_id, {"metric": params["metric"], "score": score, "rows": _jsonable(rows)}, name)
    return result


def _log_params_once(client: Any, run_id: str, params: dict[str, Any]) -> None:
    """Params are write-once: a second evaluation in the same run keeps the first values."""
    known = client.get_run(run_id).data.params
    fresh = {k: v for k, v in params.items() if v is not None and k not in known}
    if fresh:
        client.log_params(run_id, fresh)


def _jsonable(rows: list[dict[str, Any]]) -> Any:
    from logwright.tracing import to_jsonable

    return to_jsonable(rows, 10_000_000)


def compile_program(integration: Any, run: Any, wrapped: Any, instance: Any, args: tuple,
                    kwargs: dict) -> Any:
    """Run ``compile`` in a compile scope; log settings, sizes, scores and the compiled program."""
    cfg = integration.config
    client, run_id = run.client, run.info.run_id
    trainset = _argument(args, kwargs, 1, "trainset")
    valset = kwargs.get("valset")
    params = _describe.optimizer_params(instance)
    params["trainset_size"] = len(trainset) if trainset is not None else None
    params["valset_size"] = len(valset) if valset is not None else None
    student = _argument(args, kwargs, 0, "student")
    if student is not None:
        params["student"] = type(student).__name__
    _log_params_once(client, run_id, params)
    trace = bool(cfg.get("log_traces") and cfg.get("log_traces_from_compile"))
    scope = Scope(run_id, "compile", trace, client)
    token = current_scope.set(scope)
    try:
        program = wrapped(*args, **kwargs)
    finally:
        current_scope.reset(token)
        scope.close()
    _log_compile_results(client, run_id, program)
    if cfg.get("log_models") and program is not None:
        import logwright

        logwright.log_model(program, name="model", run_id=run_id)
    return program


def _log_compile_results(client: Any, run_id: str, program: Any) -> None:
    candidates, trials, best = _describe.compile_scores(program)
    for step, value in enumerate(candidates):
        client.log_metric(run_id, "ranked_candidate_score", value, step=step)
    for num in sorted(trials):
        for key, value in trials[num].items():
            client.log_metric(run_id, f"trial_{key}", value, step=num)
    metrics: dict[str, float] = {}
    if best is not None:
        metrics["best_score"] = best
    demos = _describe.demo_count(program)
    if demos is not None:
        metrics["num_demos"] = float(demos)
    if metrics:
        client.log_metrics(run_id, metrics)
