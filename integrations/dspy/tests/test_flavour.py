"""The ``dspy`` model flavour: JSON state by default (no pickle, no warning), cloudpickle when needed."""

from __future__ import annotations

import json
import logging
import os

import dspy
import pytest
from dspy.utils import DummyLM

import logwright

TRAIN = [dspy.Example(question=f"q{i}", answer="a").with_inputs("question") for i in range(3)]


class TwoStep(dspy.Module):
    """A user's program built without arguments: rebuilt from its import path."""

    def __init__(self):
        super().__init__()
        self.draft = dspy.Predict("question -> answer")
        self.refine = dspy.ChainOfThought("question, draft: list[str] -> answer: int")

    def forward(self, question):
        draft = self.draft(question=question).answer
        return self.refine(question=question, draft=[draft])


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@pytest.fixture(autouse=True)
def _dspy_logs_reach_caplog():
    """DSPy's "dspy" logger does not propagate to the root logger that caplog watches."""
    dspy_logger = logging.getLogger("dspy")
    before = dspy_logger.propagate
    dspy_logger.propagate = True
    yield
    dspy_logger.propagate = before


def log_and_load(program, caplog):
    with logwright.start_run() as run, caplog.at_level(logging.WARNING):
        logwright.log_model(program, name="model")
        loaded = logwright.load_model(f"runs:/{run.info.run_id}/model")
    folder = logwright.Client().download_artifacts(run.info.run_id, "model")
    with open(os.path.join(folder, "MODEL.json")) as f:
        return loaded, json.load(f), sorted(os.listdir(folder))


def test_compiled_chain_of_thought_is_json_state(lm, caplog):
    compiled = dspy.LabeledFewShot(k=2).compile(dspy.ChainOfThought("question -> answer"), trainset=TRAIN)
    loaded, meta, files = log_and_load(compiled, caplog)
    assert meta["serialization"] == "dspy-json" and "program" not in files and "program.json" in files
    assert meta["program_recipe"]["signature"] == "question -> answer: str"
    assert not [r for r in caplog.records if "untrusted" in r.getMessage().lower()]
    assert type(loaded) is dspy.ChainOfThought
    assert loaded.dump_state() == compiled.dump_state() and len(loaded.predict.demos) == 2
    assert loaded(question="x").answer == "a"


def test_users_program_with_typed_fields_is_json_state(caplog):
    program = TwoStep()
    program.refine.predict.signature = program.refine.predict.signature.with_instructions("Refine it.")
    loaded, meta, _ = log_and_load(program, caplog)
    assert meta["serialization"] == "dspy-json"
    assert meta["program_recipe"] == {"module": __name__, "class": "TwoStep"}
    assert loaded.refine.predict.signature.instructions == "Refine it."
    assert loaded.refine.predict.signature.fields["draft"].annotation == list[str]
    with dspy.context(lm=DummyLM([{"answer": "a"}, {"reasoning": "r", "answer": "3"}])):
        assert loaded(question="x").answer == 3


def test_program_with_tools_falls_back_to_cloudpickle(caplog):
    program = dspy.ReAct("question -> answer", tools=[add])
    loaded, meta, files = log_and_load(program, caplog)
    assert meta["serialization"] == "dspy-cloudpickle" and "program" in files
    assert type(loaded) is dspy.ReAct and set(loaded.tools) == {"add", "finish"}


def test_pickle_can_be_asked_for(lm, tmp_path):
    from logwright_dspy.flavour import DSPyFlavour

    meta = DSPyFlavour().save(dspy.Predict("question -> answer"), str(tmp_path), pickle=True)
    assert meta["serialization"] == "dspy-cloudpickle"
    assert DSPyFlavour().load(str(tmp_path), meta)(question="x").answer == "a"


def test_the_pickle_warning_is_seen_when_pickling(lm, tmp_path, caplog):
    """Guards the check above: DSPy's untrusted-pickle warning does reach caplog."""
    from logwright_dspy.flavour import DSPyFlavour

    with caplog.at_level(logging.WARNING):
        DSPyFlavour().save(dspy.Predict("question -> answer"), str(tmp_path), pickle=True)
    assert [r for r in caplog.records if "untrusted" in r.getMessage().lower()]
