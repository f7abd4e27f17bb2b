"""MLflow stores built with MLflow's own API, and field-by-field snapshots of them and of logwright stores.

These tests need the real ``mlflow`` package, which the main environment does not
have (it would change the versions the rest of the suite runs on): .ci/run builds
``.mlflow-venv`` for them. Without MLflow every test module here skips itself.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from logwright.artifacts import for_uri
from logwright.store import get_store

try:
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import Metric, SpanEvent, ViewType
    from mlflow.tracing.client import TracingClient
except ImportError:  # each test module skips itself (pytest.importorskip)
    mlflow = None

SPECIALS = [float("nan"), float("inf"), float("-inf"), -0.0, 5e-324]
# MLflow system tags that logwright keeps as run fields, and the provenance tags import/export add.
FIELD_TAGS = {"mlflow.runName", "mlflow.parentRunId", "mlflow.note.content", "mlflow.user", "mlflow.source.name"}
PROVENANCE = {"mlflow.run_id", "logwright.run_id"}
_SPAN_INTERNAL = {"mlflow.spanInputs", "mlflow.spanOutputs", "mlflow.spanType", "mlflow.traceRequestId"}
_TRACE_DERIVED = {"mlflow.traceInputs", "mlflow.traceOutputs", "mlflow.sourceRun", "mlflow.trace.sizeStats",
                  "mlflow.trace.sizeBytes", "mlflow.trace.tokenUsage", "mlflow.trace.infoFinalized",
                  "mlflow.trace_schema.version", "mlflow.traceName", "mlflow.artifactLocation",
                  "mlflow.trace.spansLocation", "mlflow.trace_id"}


def bits(x: float) -> bytes:
    """A float's exact bits (NaN equals NaN, -0.0 differs from 0.0)."""
    return struct.pack("<d", x)


def fill_mlflow(uri: str, workdir: str) -> dict[str, str]:
    """An MLflow store made with MLflow's fluent API and client: every kind of record; returns run ids by name."""
    import pandas as pd

    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    ids: dict[str, str] = {}
    mlflow.set_experiment("vision")
    with mlflow.start_run(run_name="sweep", description="an lr sweep", tags={"team": "vision", "ünï": "cödé"}) as p:
        ids["sweep"] = p.info.run_id
        mlflow.log_params({"lr": 0.1, "optimizer": "adam"})
        for i, value in enumerate(SPECIALS):
            client.log_metric(p.info.run_id, "special", value, timestamp=1_700_000_000_000 + i, step=i * 7 - 3)
        client.log_batch(p.info.run_id, metrics=[Metric("loss", 1 / (step + 1), 1_700_000_000_000 + step, step)
                                                 for step in range(1000)])
        frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0.0, 1.0, 0.0]})
        with warnings.catch_warnings():  # MLflow: "the source can be interpreted in multiple ways"
            warnings.simplefilter("ignore", UserWarning)
            dataset = mlflow.data.from_pandas(frame, source="/data/train.csv", name="train")
        mlflow.log_input(dataset, context="training")
        mlflow.log_text("some notes", "notes/readme.txt")
        mlflow.log_dict({"layers": [64, 32]}, "config.json")
        path = os.path.join(workdir, "weights.bin")
        with open(path, "wb") as fh:
            fh.write(bytes(range(256)) * 40)
        mlflow.log_artifact(path, "model/weights")
        _log_model()
        with mlflow.start_run(run_name="trial-1", nested=True) as child:
            ids["trial-1"] = child.info.run_id
            mlflow.log_metrics({"acc": 0.5, "f1": 0.4}, step=0)
            mlflow.log_metrics({"acc": 0.7, "f1": 0.6}, step=1)
            with mlflow.start_run(run_name="trial-1-fold-0", nested=True) as grandchild:
                ids["trial-1-fold-0"] = grandchild.info.run_id
                mlflow.log_metric("acc", 0.65)
        with mlflow.start_run(run_name="trial-2", nested=True) as failed:
            ids["trial-2"] = failed.info.run_id
            mlflow.log_param("lr", 0.01)
            mlflow.end_run(status="FAILED")
    with mlflow.start_run(run_name="doomed") as doomed:
        ids["doomed"] = doomed.info.run_id
        mlflow.log_param("p", "1")
    client.delete_run(doomed.info.run_id)
    mlflow.set_experiment("llm")
    with mlflow.start_run(run_name="chain") as chain_run:
        ids["chain"] = chain_run.info.run_id
        _langchain_trace()
        _manual_trace()
    _flush_traces()
    return ids


def _log_model() -> None:
    """An MLflow 3 logged model (its files live outside the run's artifacts), registered as ``churn`` v1."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    info = mlflow.sklearn.log_model(model, name="clf", pip_requirements=["scikit-learn"])
    client = MlflowClient()
    client.create_registered_model("churn", tags={"team": "vision"}, description="churn classifier")
    version = client.create_model_version("churn", info.model_uri, info.run_id, tags={"stage": "prod"},
                                          description="first", model_id=info.model_id)
    client.set_registered_model_alias("churn", "champion", version.version)


def _langchain_trace() -> None:
    """One LangChain invocation (a prompt and langchain-core's fake chat model) traced by MLflow's autolog."""
    from langchain_core.language_models.fake_chat_models import FakeListChatModel
    from langchain_core.prompts import ChatPromptTemplate

    mlflow.langchain.autolog()
    try:
        chain = ChatPromptTemplate.from_messages([("user", "say {word}")]) | FakeListChatModel(responses=["hi!"])
        chain.invoke({"word": "hi"})
    finally:
        mlflow.langchain.autolog(disable=True)


def _manual_trace() -> None:
    """A trace with MLflow's span API: a span type logwright does not have, an event, an error, tokens."""
    with mlflow.start_span("rerank", span_type="RERANKER") as root:
        root.set_inputs({"query": "cats", "k": 2})
        root.set_attribute("top_k", 2)
        root.add_event(SpanEvent("first_hit", timestamp=1_700_000_000_000_000_000, attributes={"rank": 1}))
        with mlflow.start_span("llm", span_type="LLM") as llm:
            llm.set_inputs([{"role": "user", "content": "rank these"}])
            llm.set_attribute("mlflow.chat.tokenUsage", {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10})
            llm.set_outputs({"ranks": [2, 1]})
        root.set_outputs(["b", "a"])
        root.set_status("ERROR")


def _flush_traces() -> None:
    flush = getattr(mlflow, "flush_trace_async_logging", None)
    if flush is not None:
        flush()


# -- snapshots: the same normalized shape from either side ---------------------------------------


def _tokens(usage: Any) -> dict[str, Any]:
    return {f"tokens.{k}": v for k, v in (usage or {}).items()}


def mlflow_snapshot(uri: str) -> dict[str, Any]:
    """Everything a user would check in an MLflow store, keyed by experiment and run names."""
    client, tracing = MlflowClient(uri), TracingClient(uri)
    out: dict[str, Any] = {"runs": {}, "traces": {}}
    for exp in client.search_experiments(view_type=ViewType.ALL):
        found = client.search_runs([exp.experiment_id], run_view_type=ViewType.ALL, max_results=1000)
        names = {r.info.run_id: r.info.run_name for r in found}
        for r in found:
            tags = r.data.tags
            out["runs"][(exp.name, r.info.run_name)] = {
                "status": r.info.status, "start": r.info.start_time, "end": r.info.end_time,
                "lifecycle": r.info.lifecycle_stage, "user": r.info.user_id,
                "parent": names.get(tags.get("mlflow.parentRunId")), "description": tags.get("mlflow.note.content"),
                "source": tags.get("mlflow.source.name"), "params": dict(r.data.params),
                "tags": {k: v for k, v in tags.items() if k not in FIELD_TAGS | PROVENANCE},
                "metrics": {k: _points(client.get_metric_history(r.info.run_id, k)) for k in r.data.metrics},
                "inputs": sorted((d.dataset.name, d.dataset.digest, d.dataset.profile, d.dataset.schema,
                                  d.dataset.source, tuple((t.key, t.value) for t in d.tags))
                                 for d in r.inputs.dataset_inputs),
                "artifacts": _mlflow_files(client, r)}
        for t in tracing.search_traces(locations=[exp.experiment_id]):
            out["traces"][t.info.trace_id.removeprefix("tr-")] = _mlflow_trace(t, names)
    return out


def _points(history: list[Any]) -> list[tuple[int, int, bytes]]:
    """A history by step then time; a point repeated exactly (MLflow's file store can hold one twice: MLflow's
    SQL stores and logwright keep it once) counted once."""
    return sorted({(m.step, m.timestamp, bits(m.value)) for m in history})


def _mlflow_files(client: MlflowClient, run: Any) -> dict[str, bytes]:
    """The run's files, and its logged models' files under ``mlflow-models/<name>/`` (as an import shows them)."""
    out, todo = {}, [None]
    while todo:
        for f in client.list_artifacts(run.info.run_id, todo.pop()):
            if f.is_dir:
                todo.append(f.path)
            else:
                with open(client.download_artifacts(run.info.run_id, f.path), "rb") as fh:
                    out[f.path] = fh.read()
    models = client.search_logged_models([run.info.experiment_id],
                                         filter_string=f"source_run_id = '{run.info.run_id}'")
    with tempfile.TemporaryDirectory() as tmp:
        for m in models:
            folder = mlflow.artifacts.download_artifacts(artifact_uri=m.artifact_location,
                                                         dst_path=os.path.join(tmp, m.model_id))
            for root, _, files in os.walk(folder):
                for name in files:
                    with open(os.path.join(root, name), "rb") as fh:
                        out[f"mlflow-models/{m.name}/" + os.path.relpath(os.path.join(root, name), folder)] = fh.read()
    return out


def _mlflow_trace(t: Any, names: dict[str, str]) -> dict[str, Any]:
    by_id = {s.span_id: s.name for s in t.data.spans}
    spans = []
    for s in t.data.spans:
        attrs = {k: v for k, v in s.attributes.items() if k not in _SPAN_INTERNAL and k != "mlflow.chat.tokenUsage"}
        spans.append({"name": s.name, "type": s.span_type, "parent": by_id.get(s.parent_id),
                      "start": s.start_time_ns, "end": s.end_time_ns, "status": s.status.status_code.value,
                      "inputs": s.inputs, "outputs": s.outputs,
                      "attributes": {**attrs, **_tokens(s.attributes.get("mlflow.chat.tokenUsage"))},
                      "events": [(e.name, e.timestamp, e.attributes) for e in s.events]})
    info = t.info
    tags = {k: v for k, v in {**info.trace_metadata, **info.tags}.items() if k not in _TRACE_DERIVED}
    usage = json.loads(info.trace_metadata.get("mlflow.trace.tokenUsage") or "{}")
    return {"name": info.tags.get("mlflow.traceName"), "state": info.state.value, "tokens": _tokens(usage),
            "run": names.get(info.trace_metadata.get("mlflow.sourceRun")), "tags": tags,
            "spans": sorted(spans, key=lambda s: (s["start"], s["name"]))}


def logwright_snapshot(uri: str) -> dict[str, Any]:
    """The same as :func:`mlflow_snapshot`, read from a logwright store through its Store protocol."""
    store = get_store(uri)
    out: dict[str, Any] = {"runs": {}, "traces": {}}
    for exp in store.search_experiments("all"):
        found = store.search_runs([exp.experiment_id], None, None, 10_000, 0, "all")
        names = {r.info.run_id: r.info.run_name for r in found}
        for r in found:
            info = r.info
            out["runs"][(exp.name, info.run_name)] = {
                "status": info.status, "start": info.start_time, "end": info.end_time,
                "lifecycle": info.lifecycle_stage, "user": info.user, "parent": names.get(info.parent_run_id),
                "description": info.description, "source": info.source, "params": dict(r.data.params),
                "tags": {k: v for k, v in r.data.tags.items() if k not in PROVENANCE},
                "metrics": {k: sorted((s, t, bits(v)) for s, v, t in zip(*store.get_metric_series(info.run_id, k),
                                                                           strict=True))
                            for k in store.metric_keys(info.run_id)},
                "inputs": sorted(_lw_input(d) for d in r.inputs),
                "artifacts": _lw_files(store, info)}
        for t in store.search_traces([exp.experiment_id], max_results=1000):
            out["traces"][t.trace_id] = _lw_trace(t, names)
    return out


def _lw_input(d: Any) -> tuple:
    source = d.source if d.source is None or d.source.startswith("{") else f'{{"uri": "{d.source}"}}'
    return (d.name, d.digest, d.shape, d.schema, source, (("mlflow.data.context", d.context),) if d.context else ())


def _lw_files(store: Any, info: Any) -> dict[str, bytes]:
    repo = for_uri(store.artifact_dir(info.experiment_id, info.run_id))
    out = {}
    for f in repo.walk():
        with repo.open(f.path) as fh:
            out[f.path] = fh.read()
    return out


_LW_TOKENS = {"gen_ai.usage.input_tokens": "tokens.input_tokens", "gen_ai.usage.output_tokens":
              "tokens.output_tokens", "logwright.usage.total_tokens": "tokens.total_tokens"}


def _lw_trace(t: Any, names: dict[str, str]) -> dict[str, Any]:
    by_id = {s.span_id: s.name for s in t.spans}
    spans = []
    for s in t.spans:
        attrs = {_LW_TOKENS.get(k, k): v for k, v in s.attributes.items() if k != "logwright.span.kind"}
        kind = attrs.pop("mlflow.spanType", s.kind)
        spans.append({"name": s.name, "type": kind, "parent": by_id.get(s.parent_id), "start": s.start_ns,
                      "end": s.end_ns, "status": s.status, "inputs": s.inputs, "outputs": s.outputs,
                      "attributes": attrs, "events": [(e.name, e.timestamp_ns, e.attributes) for e in s.events]})
    tags = {k: v for k, v in t.info.tags.items() if k not in _TRACE_DERIVED}
    usage = {k: v for k, v in (("input_tokens", t.info.input_tokens), ("output_tokens", t.info.output_tokens),
                               ("total_tokens", t.info.total_tokens)) if v is not None}
    return {"name": t.info.name, "state": t.info.status, "tokens": _tokens(usage), "run": names.get(t.info.run_id), "tags": tags,
            "spans": sorted(spans, key=lambda s: (s["start"], s["name"]))}


def same_floats(a: float, b: float) -> bool:
    """Equal, NaN included."""
    return bits(a) == bits(b) or (math.isnan(a) and math.isnan(b))


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory) -> tuple[str, dict[str, str]]:
    """A fresh MLflow SQLite store filled by :func:`fill_mlflow`; yields (URI, run ids by name)."""
    folder = tmp_path_factory.mktemp("mlflow")
    old = os.getcwd()
    os.chdir(folder)  # MLflow puts a SQLite store's artifacts under ./mlruns
    try:
        uri = f"sqlite:///{folder / 'mlflow.db'}"
        ids = fill_mlflow(uri, str(folder))
    finally:
        os.chdir(old)
    return uri, ids


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory) -> Iterator[str]:
    """A real ``mlflow server`` on 127.0.0.1 (SQLite backend, artifacts proxied); yields its URL."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    mlflow_cli = os.path.join(os.path.dirname(sys.executable), "mlflow")
    log = open(folder / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([mlflow_cli, "server", "--backend-store-uri", f"sqlite:///{folder / 'server.db'}",
                             "--artifacts-destination", str(folder / "artifacts"), "--host", "127.0.0.1",
                             "--port", str(port), "--workers", "1"], stdout=log, stderr=subprocess.STDOUT,
                            cwd=folder, start_new_session=True)  # its own group: its job runners end with it
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2):
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, (folder / "server.log").read_text()
                time.sleep(0.5)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
        log.close()


@pytest.fixture(scope="session")
def mlio() -> ModuleType:
    """This module: its helpers for the tests (which cannot import a conftest under --import-mode=importlib)."""
    return sys.modules[__name__]
