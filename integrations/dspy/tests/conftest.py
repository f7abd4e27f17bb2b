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
