"""Read back and check traces in tests: the ``traces`` fixture's helper."""

from __future__ import annotations

import logwright

TYPE_CHECKING = False
if TYPE_CHECKING:
    from logwright.entities import Span, Trace


class TraceReader:
    """Every trace of the current experiment (flushed first), with structural checks."""

    def all(self, **kwargs: object) -> list[Trace]:
        """Every trace matching ``search_traces(**kwargs)``, oldest first."""
        logwright.flush()
        found = logwright.search_traces(max_results=100_000, **kwargs)
        return sorted(found, key=lambda t: t.info.start_ns)

    def one(self, **kwargs: object) -> Trace:
        """The single trace matching; fails when there are none or several."""
        found = self.all(**kwargs)
        assert len(found) == 1, [t.info.name for t in found]
        return found[0]

    @staticmethod
    def tree(trace: Trace) -> list[tuple[str, str, str | None]]:
        """(kind, name, parent name) for every span, parents first."""
        by_id = {s.span_id: s for s in trace.spans}
        return [(s.kind, s.name, by_id[s.parent_id].name if s.parent_id else None) for s in trace.spans]

    @staticmethod
    def span(trace: Trace, name: str) -> Span:
        """The one span called ``name``."""
        spans = [s for s in trace.spans if s.name == name]
        assert len(spans) == 1, f"{len(spans)} spans named {name!r}"
        return spans[0]

    @staticmethod
    def check_complete(trace: Trace) -> None:
        """One root, every parent present, every span ended, the count right."""
        ids = {s.span_id for s in trace.spans}
        roots = [s for s in trace.spans if s.parent_id is None]
        assert len(roots) == 1
        assert all(s.parent_id in ids for s in trace.spans if s.parent_id is not None)
        assert all(s.end_ns is not None for s in trace.spans)
        assert trace.info.span_count == len(trace.spans)
