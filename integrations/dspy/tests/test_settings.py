"""DSPy's settings with autolog on: explicit callback lists, ``settings.save``, ``load_settings``.

What DSPy's own test suite checks: a ``dspy.context(callbacks=[...])`` block runs exactly
the callbacks it names, saved settings do not carry logwright, and settings loaded back
and configured do not record anything twice.
"""

from __future__ import annotations

import dspy
import pytest
from dspy.utils import DummyLM
from dspy.utils.callback import BaseCallback
from logwright_dspy._callback import LogwrightDSPyCallback

import logwright


class Counter(BaseCallback):
    """A user's callback counting module starts."""

    def __init__(self):
        self.starts = 0

    def on_module_start(self, call_id, instance, inputs):
        self.starts += 1


def ours():
    return [cb for cb in dspy.settings.callbacks if isinstance(cb, LogwrightDSPyCallback)]


@pytest.fixture
def configured():
    """DSPy configured globally (not in a context block, which would pin the callback list)."""
    old = {"callbacks": list(dspy.settings.callbacks), "lm": dspy.settings.lm}
    dspy.configure(lm=DummyLM([{"reasoning": "r", "answer": "a"}] * 50))
    yield
    dspy.configure(**old)


def test_explicit_context_callbacks_are_exactly_those(configured, traces):
    mine = Counter()
    with dspy.context(callbacks=[]):
        assert dspy.settings.callbacks == []
        dspy.Predict("question -> answer")(question="q")
    with dspy.context(callbacks=[mine]):
        assert dspy.settings.callbacks == [mine]
        dspy.Predict("question -> answer")(question="q")
    assert mine.starts == 1
    assert traces.all() == []
    with dspy.context(callbacks=[*dspy.settings.callbacks, mine]):  # the way to keep tracing in a block
        dspy.Predict("question -> answer")(question="q")
    assert mine.starts == 2
    assert len(traces.one().spans) == 4


def test_settings_save_leaves_logwright_out(configured, tmp_path):
    path = tmp_path / "settings.pkl"
    dspy.configure(lm=None)  # DummyLM's iterator does not pickle
    dspy.settings.save(str(path))
    assert b"logwright" not in path.read_bytes()
    loaded = dspy.load_settings(str(path), allow_pickle=True)
    assert loaded["callbacks"] == []
    assert len(ours()) == 1  # still tracing in this process


def test_load_settings_then_configure_records_once(configured, tmp_path, traces):
    import pickle

    copy = pickle.loads(pickle.dumps(ours()[0]))  # as a file saved before the fix would hold it
    assert isinstance(copy, LogwrightDSPyCallback) and copy.config is None
    path = tmp_path / "settings.pkl"
    dspy.configure(lm=None)
    dspy.settings.save(str(path))
    loaded = dspy.load_settings(str(path), allow_pickle=True)
    loaded["callbacks"] = [*loaded["callbacks"], copy]
    dspy.configure(**{**loaded, "lm": DummyLM([{"reasoning": "r", "answer": "a"}] * 5)})
    assert len(ours()) == 1 and ours()[0] is not copy
    dspy.ChainOfThought("question -> answer")(question="q")
    trace = traces.one()
    traces.check_complete(trace)
    assert len(trace.spans) == 5 and {s.status for s in trace.spans} == {"OK"}


def test_two_live_callbacks_record_each_call_once(configured, traces):
    second = LogwrightDSPyCallback(config=ours()[0].config)
    with dspy.context(callbacks=[*dspy.settings.callbacks, second]):
        dspy.ChainOfThought("question -> answer")(question="q")
    trace = traces.one()
    assert [s.name for s in trace.spans] == ["ChainOfThought", "Predict", "ChatAdapter.format", "DummyLM",
                                             "ChatAdapter.parse"]
    assert {s.status for s in trace.spans} == {"OK"}
    logwright.flush()
