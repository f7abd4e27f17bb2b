"""Fixtures for the LangChain integration tests: autolog on, trace helpers."""

from __future__ import annotations

import pytest

import logwright


@pytest.fixture(autouse=True)
def _autolog(tmp_store):
    logwright.autolog(only=["langchain"])
    yield
    logwright.autolog(disable=True)
