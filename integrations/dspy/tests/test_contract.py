"""The autolog contract for DSPy, plus deepcopy/pickle of programs and optimizers."""

from __future__ import annotations

import copy
import pickle

import dspy
import pytest

import logwright
from logwright.testing.contract import check_contract

TRAIN = [dspy.Example(question=f"q{i}", answer="a").with_inputs("question") for i in range(4)]


def exact(example, prediction, trace=None):
    return example.answer == prediction.answer


def compile_labeled():
    return dspy.LabeledFewShot(k=2).compile(dspy.ChainOfThought("question -> answer"), trainset=TRAIN)


def compile_failing():
    return dspy.LabeledFewShot(k=2).compile(dspy.Predict("question -> answer"), trainset=None)


@pytest.fixture(autouse=True)
def _forget_injected_errors():
    """The contract suite injects failures on purpose: keep conftest's error check for real ones."""
    from logwright.autolog import safety

    before = safety.errors.get("dspy", 0)
    yield
    safety.errors["dspy"] = before


def test_contract(lm):
    # DSPy programs with string signatures do not pickle (with or without logwright): the
    # round trip is checked on an optimizer; programs are deep-copied below.
    check_contract("dspy", exercise=compile_labeled, failing=compile_failing,
                   obj=lambda: dspy.LabeledFewShot(k=2))


def test_contract_evaluate(lm):
    program = dspy.Predict("question -> answer")
    check_contract(
        "dspy",
        exercise=lambda: dspy.Evaluate(devset=TRAIN, metric=exact, num_threads=2)(program),
        failing=lambda: dspy.Evaluate(devset=TRAIN, metric=exact)(program, devset=[]),
        obj=lambda: dspy.Evaluate(devset=TRAIN, metric=exact),
        check_absent=False,
    )


class Outer(dspy.teleprompt.Teleprompter):
    """A user's optimizer that runs two others: one run, named after the outer one."""

    def compile(self, student, *, trainset):
        inner = dspy.LabeledFewShot(k=1).compile(student, trainset=trainset)
        return dspy.BootstrapFewShot(metric=exact, max_bootstrapped_demos=1).compile(inner, trainset=trainset)


def test_nested_compile_logs_once(lm):
    Outer().compile(dspy.Predict("question -> answer"), trainset=TRAIN)
    (run,) = logwright.Client().search_runs(None)
    assert run.data.params["optimizer"] == "Outer"


def test_programs_and_optimizers_copy_with_autolog_on(lm):
    program = compile_labeled()
    for clone in (copy.deepcopy(program), program.deepcopy(), program.reset_copy()):
        assert clone(question="x").answer == "a"
    optimizer = copy.deepcopy(dspy.LabeledFewShot(k=1))
    assert type(optimizer).compile is dspy.LabeledFewShot.compile
    assert pickle.loads(pickle.dumps(dspy.BootstrapFewShot.compile)) is dspy.BootstrapFewShot.compile


def test_failure_in_our_code_changes_nothing(lm, monkeypatch):
    from logwright_dspy import _callback, _runs

    monkeypatch.delenv("LOGWRIGHT_STRICT")

    def broken(*args, **kwargs):
        raise RuntimeError("logwright bug")

    monkeypatch.setattr(_callback, "start_detached_span", broken)
    monkeypatch.setattr(_runs._describe, "optimizer_params", broken)
    with pytest.warns(RuntimeWarning, match="logwright dspy autolog hit an internal error"):
        assert dspy.ChainOfThought("question -> answer")(question="q").answer == "a"
        assert len(compile_labeled().predictors()[0].demos) == 2
    with pytest.raises(TypeError):
        compile_failing()
