"""Runs: Evaluate (score, per-example table) and optimizer compiles (settings, scores, program)."""

from __future__ import annotations

import json

import dspy
import pytest

import logwright

TRAIN = [dspy.Example(question=f"q{i}", answer="a").with_inputs("question") for i in range(6)]


def exact(example, prediction, trace=None):
    return example.answer == prediction.answer


def runs():
    return logwright.Client().search_runs(None, max_results=1000)


def artifact(run, name):
    with open(logwright.Client().download_artifacts(run.info.run_id, name)) as f:
        return json.load(f)


def test_evaluate_is_a_run_with_a_results_table(lm, traces):
    result = dspy.Evaluate(devset=TRAIN[:4], metric=exact, num_threads=2)(dspy.Predict("question -> answer"))
    (run,) = runs()
    assert run.info.status == "FINISHED" and run.info.run_name == "Evaluate"
    assert run.data.metrics["score"] == result.score == 100.0
    assert run.data.params == {"metric": "exact", "devset_size": "4", "program": "Predict"}
    table = artifact(run, "eval_results.json")
    assert table["metric"] == "exact"
    rows = sorted(table["rows"], key=lambda r: r["inputs"]["question"])
    assert rows[0]["inputs"] == {"question": "q0"} and rows[0]["labels"] == {"answer": "a"}
    assert rows[0]["prediction"] == {"answer": "a"} and rows[0]["score"] is True
    trace_ids = {t.info.trace_id for t in traces.all()}
    assert {r["trace_id"] for r in rows} == trace_ids and len(trace_ids) == 4


def test_evaluate_inside_a_user_run_logs_into_it(lm):
    program = dspy.Predict("question -> answer")
    with logwright.start_run() as run:
        dspy.Evaluate(devset=TRAIN[:2], metric=exact)(program)
        dspy.Evaluate(devset=TRAIN[:2], metric=exact)(program)
    (found,) = runs()
    assert found.info.run_id == run.info.run_id
    history = logwright.Client().get_metric_history(run.info.run_id, "score")
    assert [m.value for m in history] == [100.0, 100.0]
    assert artifact(found, "eval_results_2.json")["score"] == 100.0


def test_evaluate_traces_off(lm, traces):
    logwright.autolog(only=["dspy"], dspy={"log_traces_from_eval": False})
    dspy.Evaluate(devset=TRAIN[:2], metric=exact)(dspy.Predict("question -> answer"))
    assert traces.all() == []
    assert len(runs()) == 1


def test_labeled_few_shot_compile(lm, traces):
    compiled = dspy.LabeledFewShot(k=3).compile(dspy.Predict("question -> answer"), trainset=TRAIN)
    (run,) = runs()
    assert run.info.run_name == "LabeledFewShot.compile" and run.info.status == "FINISHED"
    assert run.data.params["optimizer"] == "LabeledFewShot"
    assert run.data.params["k"] == "3" and run.data.params["trainset_size"] == "6"
    assert run.data.metrics["num_demos"] == 3
    assert traces.all() == []
    loaded = logwright.load_model(f"runs:/{run.info.run_id}/model")
    assert len(loaded.demos) == len(compiled.demos) == 3
    assert loaded(question="x").answer == "a"


def test_bootstrap_few_shot_compile(lm, traces):
    optimizer = dspy.BootstrapFewShot(metric=exact, max_bootstrapped_demos=2, max_labeled_demos=2)
    compiled = optimizer.compile(dspy.ChainOfThought("question -> answer"), trainset=TRAIN)
    (run,) = runs()
    params = run.data.params
    assert params["optimizer"] == "BootstrapFewShot" and params["metric"] == "exact"
    assert params["max_bootstrapped_demos"] == "2" and params["student"] == "ChainOfThought"
    assert run.data.metrics["num_demos"] == 2
    assert traces.all() == []  # compile traces are off by default
    loaded = logwright.load_model(f"runs:/{run.info.run_id}/model")
    assert type(loaded) is type(compiled)
    assert loaded(question="x").answer == "a"


def test_compile_traces_on_are_linked_to_the_run(lm, traces):
    logwright.autolog(only=["dspy"], dspy={"log_traces_from_compile": True})
    dspy.BootstrapFewShot(metric=exact, max_bootstrapped_demos=2).compile(
        dspy.Predict("question -> answer"), trainset=TRAIN)
    (run,) = runs()
    found = traces.all()
    assert len(found) >= 2
    assert {t.info.run_id for t in found} == {run.info.run_id}
    for trace in found:
        traces.check_complete(trace)


def test_random_search_logs_candidate_scores(lm):
    optimizer = dspy.BootstrapFewShotWithRandomSearch(metric=exact, max_bootstrapped_demos=1,
                                                      num_candidate_programs=2, num_threads=2)
    optimizer.compile(dspy.Predict("question -> answer"), trainset=TRAIN[:4])
    (run,) = runs()
    client = logwright.Client()
    assert len(client.get_metric_history(run.info.run_id, "candidate_score")) >= 3
    assert run.data.metrics["best_score"] == 100.0


def test_failed_compile_is_a_failed_run(lm):
    def bad_metric(example, prediction, trace=None):
        raise KeyError("mine")

    with pytest.raises(Exception):  # noqa: B017, PT011 - whatever DSPy raises from the metric
        dspy.BootstrapFewShot(metric=bad_metric, max_errors=0).compile(
            dspy.Predict("question -> answer"), trainset=TRAIN)
    (run,) = runs()
    assert run.info.status == "FAILED"


def test_compile_off(lm):
    logwright.autolog(only=["dspy"], dspy={"log_compiles": False, "log_evals": False})
    dspy.LabeledFewShot(k=1).compile(dspy.Predict("question -> answer"), trainset=TRAIN)
    dspy.Evaluate(devset=TRAIN[:1], metric=exact)(dspy.Predict("question -> answer"))
    assert runs() == []
