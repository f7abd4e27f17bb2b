"""The tracker switch shared by the GenAI benchmarks (langchain.py, dspy.py).

Turns logwright's or MLflow's autolog for one framework on and off, waits until its
traces are durable, and counts the complete ones.
"""

from __future__ import annotations

import os


class Tracker:
    """Turns a tracker on and off and waits until its traces are durable.

    Args:
        name: ``none``, ``logwright`` or ``mlflow``.
        root: a scratch folder for the store.
        integration: the framework, named as both libraries name it (``langchain``, ``dspy``).
    """

    def __init__(self, name: str, root: str, integration: str) -> None:
        self.name = name
        self.integration = integration
        if name == "logwright":
            import logwright

            self.lib = logwright
            logwright.set_tracking_uri(os.path.join(root, "store"))
        elif name == "mlflow":
            import mlflow

            self.lib = mlflow
            mlflow.set_tracking_uri(f"sqlite:///{os.path.join(root, 'mlflow.db')}")

    def enable(self, on: bool) -> None:
        if self.name == "logwright":
            self.lib.autolog(only=[self.integration], disable=not on)
        elif self.name == "mlflow":
            getattr(self.lib, self.integration).autolog(disable=not on, silent=True)

    def experiment(self, name: str) -> str | None:
        if self.name == "none":
            return None
        exp = self.lib.set_experiment(name)
        return getattr(exp, "experiment_id", name)

    def drain(self) -> None:
        if self.name == "logwright":
            self.lib.flush()
        elif self.name == "mlflow":
            self.lib.flush_trace_async_logging(terminate=False)

    def count(self, exp: str, spans_per_trace: int, limit: int) -> tuple[int, int]:
        """(traces recorded, traces complete: ``spans_per_trace`` spans under one root)."""
        if self.name == "logwright":
            found = [t.spans for t in self.lib.search_traces(experiment=exp, max_results=limit)]
        else:
            found = [t.data.spans for t in self.lib.search_traces(
                experiment_ids=[exp], max_results=limit, return_type="list")]
        complete = sum(len(spans) == spans_per_trace and sum(s.parent_id is None for s in spans) == 1
                       for spans in found)
        return len(found), complete
