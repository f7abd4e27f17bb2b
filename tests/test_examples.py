"""The tour (which runs every example) works end to end on the default store."""

from __future__ import annotations

import os
import subprocess
import sys

import logwright as lw

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_tour_runs_every_example_into_the_default_store(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGWRIGHT_")}
    env["LOGWRIGHT_QUIET"] = "1"
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", "tour.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "best run:" in out.stdout
    client = lw.Client(str(tmp_path / "logwright-runs"))
    names = {e.name for e in client.search_experiments()}
    assert {"tour", "tour-tracing", "sklearn-quickstart", "xgboost-quickstart", "torch-loop-example",
            "lightning-quickstart", "langchain-rag", "dspy-program"} <= names
    for name in names - {"tour-tracing", "langchain-rag"}:
        runs = client.search_runs([name])
        assert runs and all(r.info.status == "FINISHED" for r in runs), name
    from logwright.tracing import search_traces

    lw.set_tracking_uri(str(tmp_path / "logwright-runs"))
    try:
        assert len(search_traces(experiment="langchain-rag")) == 2
        assert search_traces(experiment="tour-tracing")[0].info.total_tokens == 15
    finally:
        from logwright import fluent

        fluent._reset_for_tests()
