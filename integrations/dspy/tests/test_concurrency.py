"""Concurrency: dspy.Parallel, threaded Evaluate and asyncio.gather keep one complete trace per example."""

from __future__ import annotations

import asyncio

import dspy

import logwright

N = 40


def check_each(traces, found, questions, root="Predict"):
    assert len(found) == len(questions)
    seen = []
    for trace in found:
        traces.check_complete(trace)
        assert trace.spans[0].name == root
        assert [s.kind for s in trace.spans[-3:]] == ["PARSER", "CHAT_MODEL", "PARSER"]
        seen.append(trace.spans[0].inputs["question"])
    assert sorted(seen) == sorted(questions)


def test_parallel_one_trace_per_example(lm, traces):
    qa = dspy.Predict("question -> answer")
    questions = [f"q{i}" for i in range(N)]
    pairs = [(qa, dspy.Example(question=q).with_inputs("question")) for q in questions]
    results = dspy.Parallel(num_threads=4)(pairs)
    assert [r.answer for r in results] == ["a"] * N
    check_each(traces, traces.all(), questions)


def test_parallel_inside_a_module_is_one_trace(lm, traces):
    class FanOut(dspy.Module):
        def __init__(self):
            super().__init__()
            self.qa = dspy.Predict("question -> answer")

        def forward(self, questions):
            pairs = [(self.qa, dspy.Example(question=q).with_inputs("question")) for q in questions]
            return dspy.Prediction(answers=[r.answer for r in dspy.Parallel(num_threads=4)(pairs)])

    FanOut()(questions=[f"q{i}" for i in range(8)])
    trace = traces.one()
    traces.check_complete(trace)
    predicts = [s for s in trace.spans if s.name == "Predict"]
    assert len(predicts) == 8
    assert {s.parent_id for s in predicts} == {trace.spans[0].span_id}


def test_evaluate_with_threads(lm, traces):
    qa = dspy.Predict("question -> answer")
    questions = [f"q{i}" for i in range(N)]
    devset = [dspy.Example(question=q, answer="a" if i % 2 else "b").with_inputs("question")
              for i, q in enumerate(questions)]

    def exact(example, prediction, trace=None):
        return example.answer == prediction.answer

    result = dspy.Evaluate(devset=devset, metric=exact, num_threads=4)(qa)
    assert result.score == 50.0
    found = traces.all()
    check_each(traces, found, questions)
    run = logwright.last_active_run() if hasattr(logwright, "last_active_run") else None
    run_ids = {t.info.run_id for t in found}
    assert len(run_ids) == 1 and None not in run_ids
    if run is not None:
        assert run_ids == {run.info.run_id}
    scores = {t.spans[0].inputs["question"]: t.spans[0].attributes["dspy.evaluate.score"] for t in found}
    assert scores == {q: (1.0 if i % 2 else 0.0) for i, q in enumerate(questions)}


def test_asyncio_gather_over_acall(lm, traces):
    cot = dspy.ChainOfThought("question -> answer")
    questions = [f"q{i}" for i in range(N)]

    async def go():
        return await asyncio.gather(*(cot.acall(question=q) for q in questions))

    assert [r.answer for r in asyncio.run(go())] == ["a"] * N
    found = traces.all()
    check_each(traces, found, questions, root="ChainOfThought")
    for trace in found:
        assert [s.name for s in trace.spans][:2] == ["ChainOfThought", "Predict"]
