"""Fixtures for the LangChain integration tests: autolog on, trace helpers."""

from __future__ import annotations

import pytest

import logwright


@pytest.fixture(autouse=True)
def _autolog(tmp_store):
    logwright.autolog(only=["langchain"])
    yield
    logwright.autolog(disable=True)


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
    def span(trace, name):
        spans = [s for s in trace.spans if s.name == name]
        assert len(spans) == 1, f"{len(spans)} spans named {name!r}"
        return spans[0]

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
