"""The tour, unchanged, into a team store: ``pytest tests/test_tour_team_store.py --store-backend=postgres+s3``.

examples/tour.py runs in a child process with ``LOGWRIGHT_TRACKING_URI`` set to
``tmp_store`` (a fresh PostgreSQL database) and ``LOGWRIGHT_ARTIFACT_URI`` to its S3
bucket on moto (``AWS_ENDPOINT_URL`` and fake keys come from the fixture). On the
default SQLite backend it is skipped: tests/test_examples.py runs the tour there.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import logwright as lw
from logwright.testing import backends

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPERIMENTS = {"tour", "tour-tracing", "sklearn-quickstart", "xgboost-quickstart", "torch-loop-example",
               "lightning-quickstart", "langchain-rag", "dspy-program"}


def test_tour_runs_unchanged_into_postgres_with_s3_artifacts(request, tmp_store, tmp_path):
    if backends.backend(request.config) == backends.SQLITE:
        pytest.skip("the tour on SQLite is tests/test_examples.py; this one is for --store-backend=postgres+s3 "
                    "(or server)")
    artifacts = os.environ["LOGWRIGHT_ARTIFACT_URI"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGWRIGHT_")}
    env.update(LOGWRIGHT_QUIET="1", LOGWRIGHT_TRACKING_URI=tmp_store, LOGWRIGHT_ARTIFACT_URI=artifacts)
    out = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "tour.py")], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "best run:" in out.stdout
    assert not (tmp_path / "logwright-runs").exists()  # nothing went to the default folder

    client = lw.Client(tmp_store)
    assert EXPERIMENTS <= {e.name for e in client.search_experiments()}
    for name in EXPERIMENTS - {"tour-tracing", "langchain-rag"}:
        runs = client.search_runs([name])
        assert runs and all(r.info.status == "FINISHED" for r in runs), name
        where = tmp_store if tmp_store.startswith("http") else artifacts  # through a server: its URLs
        assert all(r.info.artifact_uri.startswith(where) for r in runs), name
    tour = client.search_runs(["tour"], "tags.stage = 'tour'")
    assert len(tour) == 3
    for run in tour:
        assert "notes.md" in {f.path for f in client.list_artifacts(run.info.run_id)}
        got = client.download_artifacts(run.info.run_id, "notes.md", str(tmp_path / run.info.run_id))
        assert open(got).read().startswith("# lr=")
    assert _s3_keys(artifacts)  # the files are in the bucket, not on disk

    from logwright.tracing import search_traces

    assert len(search_traces(experiment="langchain-rag")) == 2
    assert search_traces(experiment="tour-tracing")[0].info.total_tokens == 15


def _s3_keys(uri: str) -> list[str]:
    from logwright.artifacts import s3

    bucket, _, prefix = uri[len("s3://"):].partition("/")
    pages = s3.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [obj["Key"] for page in pages for obj in page.get("Contents", [])]
