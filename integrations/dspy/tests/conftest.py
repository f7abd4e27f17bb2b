"""Fixtures for the DSPy integration tests: autolog on, DummyLM, trace helpers."""

from __future__ import annotations

import dspy
import pytest
from dspy.utils import DummyLM

import logwright
from logwright.autolog import safety


@pytest.fixture(autouse=True)
def _autolog(tmp_store):
    before = safety.errors.get("dspy", 0)
    logwright.autolog(only=["dspy"])
    yield
    logwright.autolog(disable=True)
    # DSPy swallows exceptions raised by callbacks, so strict mode alone cannot see ours.
    assert safety.errors.get("dspy", 0) == before, "logwright's DSPy callback reported an error"


@pytest.fixture
def lm():
    """A DummyLM answering every call with the same fields, set as DSPy's LM for the test."""
    model = DummyLM([{"reasoning": "think", "answer": "a"}] * 2000)
    with dspy.context(lm=model):
        yield model


class Traces:
    """Read back what was traced: every trace of the current experiment, oldest first."""

    def all(self, **kwargs):
        logwright.flush()
        found = logwright.search_traces(max_results=100_000, **kwargs)
        return sorted(found, key=lambda t: t.info.start_ns)

    def one(self, **kwargs):
        found = self.all(**kwargs)
        assert len(found) == 1, [t.info.name for t in found]
        return found[0]

    @staticmethod
    def tree(trace):
        """(kind, name, parent name) for every span, parents first."""
        by_id = {s.span_id: s for s in trace.spans}
        return [(s.kind, s.name, by_id[s.parent_id].name if s.parent_id else None) for s in trace.spans]

    @staticmethod
    def check_complete(trace):
        """One root, every parent present, every span ended."""
        ids = {s.span_id for s in trace.spans}
        roots = [s for s in trace.spans if s.parent_id is None]
        assert len(roots) == 1
        assert all(s.parent_id in ids for s in trace.spans if s.parent_id is not None)
        assert all(s.end_ns is not None for s in trace.spans)
        assert trace.info.span_count == len(trace.spans)


@pytest.fixture
def traces():
    return Traces()
