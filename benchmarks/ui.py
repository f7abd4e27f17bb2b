"""Web UI server time: runs table, long-metric chart data, 200-span trace page.

    .venv/bin/python benchmarks/ui.py --tracker logwright
    .bench-venv/bin/python benchmarks/ui.py --tracker mlflow

Builds one store with 10,000 runs (5 metrics, 3 params each), one run with a
1,000,000-point metric and one 200-span trace, then times the server's handlers
in-process (Starlette TestClient for logwright, Flask's test client for MLflow's
REST API, which is what ``mlflow ui``'s pages call), so the figures are server
time without a browser. Prints one JSON line per measurement: the median and
the first (cold) call in milliseconds. ``--tracker none`` has nothing to serve.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
import uuid

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("LOGWRIGHT_QUIET", "1")

METRICS = [f"m{i}" for i in range(5)]


def timed(label: str, fn, repeat: int) -> dict:
    t = time.perf_counter()
    first = fn()
    cold = (time.perf_counter() - t) * 1000
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    row = {"page": label, "median_ms": round(statistics.median(times), 1), "min_ms": round(min(times), 1),
           "first_ms": round(cold, 1), "info": first}
    print(json.dumps(row), flush=True)
    return row


# -- logwright ---------------------------------------------------------------------------


def build_logwright(folder: str, runs: int, points: int, spans: int) -> dict:
    import logwright
    from logwright.client import Client
    from logwright.tracing import flush_spans, start_span

    logwright.set_tracking_uri(folder)
    client = Client(folder)
    exp = client.create_experiment("bench-ui")
    t0 = int(time.time() * 1000) - runs * 1000
    for i in range(runs):
        run = client.create_run(exp, run_name=f"run-{i}", start_time=t0 + i * 1000)
        rid = run.info.run_id
        client.log_params(rid, {"lr": random.choice([0.1, 0.01, 0.001]), "depth": i % 7, "model": "rf"})
        client.log_metrics(rid, {k: random.random() for k in METRICS}, step=0)
        client.set_terminated(rid, end_time=t0 + i * 1000 + 500) if i % 500 == 0 else client.update_run(
            rid, status="FINISHED")
    big = client.create_run(exp, run_name="long-curve", start_time=t0 + runs * 1000)
    for step in range(points):
        client.log_metric(big.info.run_id, "big", math.sin(step / 1000) + random.random() * 0.1, step=step)
    client.flush()
    logwright.set_experiment("bench-ui")
    with start_span("root", kind="CHAIN", inputs={"q": "x"}) as root:
        for i in range(spans - 1):
            with start_span(f"step-{i}", kind="TOOL" if i % 2 else "CHAT_MODEL",
                            inputs={"messages": [{"role": "user", "content": f"hi {i}"}]}) as sp:
                sp.set_outputs({"role": "assistant", "content": "ok " * 20})
        trace_id = root.trace_id if hasattr(root, "trace_id") else None
    flush_spans()
    client.flush()
    if trace_id is None:
        trace_id = client.store.read_db().execute("SELECT trace_id FROM traces").fetchone()[0]
    return {"experiment_id": exp, "big_run": big.info.run_id, "trace_id": trace_id}


def measure_logwright(folder: str, ids: dict, repeat: int) -> None:
    from starlette.testclient import TestClient

    from logwright.server.app import create_app

    http = TestClient(create_app(folder))
    cols = "&".join(f"m={k}" for k in METRICS)
    exp = ids["experiment_id"]

    def get(url: str):
        resp = http.get(url)
        assert resp.status_code == 200, (url, resp.status_code, resp.text[:300])
        return resp

    timed("runs table HTML, 100 of 10,000 runs, 5 metric columns",
          lambda: len(get(f"/experiments/{exp}?{cols}").content), repeat)
    timed("runs table JSON (same page)", lambda: get(f"/api/experiments/{exp}?{cols}").json()["total"], repeat)
    timed("runs table JSON, page 80, sorted by metrics.m0",
          lambda: len(get(f"/api/experiments/{exp}?{cols}&page=80&order=metrics.m0 DESC").json()["runs"]), repeat)
    timed("runs table JSON, filter metrics.m0 > 0.5",
          lambda: get(f"/api/experiments/{exp}?{cols}&filter=metrics.m0%20%3E%200.5").json()["total"], repeat)
    timed("chart data, 1,000,000-point metric",
          lambda: len(get(f"/api/runs/{ids['big_run']}/metric?key=big").json()["steps"]), repeat)
    timed("trace page HTML, 200 spans", lambda: len(get(f"/traces/{ids['trace_id']}").content), repeat)
    timed("trace JSON, 200 spans", lambda: len(get(f"/api/traces/{ids['trace_id']}").json()["spans"]), repeat)


# -- mlflow ------------------------------------------------------------------------------


def _clone_rows(db, table: str, run_col: str, template: str, new_ids: list[str], edit) -> None:
    cur = db.execute(f"SELECT * FROM {table} WHERE {run_col} = ?", (template,))
    names = [d[0] for d in cur.description]
    rows = cur.fetchall()
    out = []
    for i, rid in enumerate(new_ids):
        for row in rows:
            rec = dict(zip(names, row, strict=True))
            rec[run_col] = rid
            out.append(tuple(edit(rec, i).values()))
    if out:
        db.executemany(f"INSERT INTO {table} ({','.join(names)}) VALUES ({','.join('?' * len(names))})", out)


def build_mlflow(folder: str, runs: int, points: int, spans: int) -> dict:
    import sqlite3

    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    uri = f"sqlite:///{folder}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    exp = client.create_experiment("bench-ui", artifact_location=f"{folder}/artifacts")
    t0 = int(time.time() * 1000) - runs * 1000
    template = client.create_run(exp, run_name="run-0", start_time=t0).info.run_id
    client.log_batch(template, metrics=[Metric(k, 0.5, t0, 0) for k in METRICS],
                     params=[Param("lr", "0.1"), Param("depth", "3"), Param("model", "rf")])
    client.set_terminated(template)
    big = client.create_run(exp, run_name="long-curve").info.run_id
    client.log_batch(big, metrics=[Metric("big", 0.0, t0, 0)])
    db = sqlite3.connect(f"{folder}/mlflow.db")
    new_ids = [uuid.uuid4().hex for _ in range(runs - 1)]

    def edit_run(rec, i):
        rec.update(name=f"run-{i + 1}", start_time=t0 + (i + 1) * 1000, end_time=t0 + (i + 1) * 1000 + 500)
        return rec

    def edit_value(rec, _):
        if "value" in rec and isinstance(rec["value"], float):
            rec["value"] = random.random()
        return rec

    _clone_rows(db, "runs", "run_uuid", template, new_ids, edit_run)
    for table in ("metrics", "latest_metrics", "params", "tags"):
        _clone_rows(db, table, "run_uuid", template, new_ids, edit_value)
    db.execute("DELETE FROM metrics WHERE run_uuid = ?", (big,))
    cur = db.execute("SELECT * FROM latest_metrics WHERE run_uuid = ?", (big,))
    db.executemany(
        "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, 0)",
        (("big", math.sin(s / 1000) + random.random() * 0.1, t0 + s, big, s) for s in range(points)),
    )
    db.execute("UPDATE latest_metrics SET step = ? WHERE run_uuid = ?", (points - 1, big))
    db.commit()
    del cur
    mlflow.set_experiment(experiment_id=exp)
    with mlflow.start_span("root", span_type="CHAIN") as root:
        root.set_inputs({"q": "x"})
        for i in range(spans - 1):
            with mlflow.start_span(f"step-{i}", span_type="TOOL" if i % 2 else "CHAT_MODEL") as sp:
                sp.set_inputs({"messages": [{"role": "user", "content": f"hi {i}"}]})
                sp.set_outputs({"role": "assistant", "content": "ok " * 20})
        trace_id = root.trace_id
    mlflow.flush_trace_async_logging() if hasattr(mlflow, "flush_trace_async_logging") else None
    return {"experiment_id": exp, "big_run": big, "trace_id": trace_id, "uri": uri}


def _span_count(trace: dict) -> int:
    spans = trace.get("spans") or (trace.get("data") or {}).get("spans") or trace.get("trace_data", {}).get("spans")
    return len(spans or [])


def measure_mlflow(folder: str, ids: dict, repeat: int) -> None:
    os.environ["_MLFLOW_SERVER_FILE_STORE"] = ids["uri"]
    os.environ["_MLFLOW_SERVER_ARTIFACT_ROOT"] = f"{folder}/artifacts"
    from mlflow.server import app

    http = app.test_client()

    def call(method: str, url: str, **kw):
        resp = getattr(http, method)(url, **kw)
        assert resp.status_code == 200, (url, resp.status_code, resp.data[:300])
        return resp.get_json()

    search = {"experiment_ids": [ids["experiment_id"]], "max_results": 100,
              "order_by": ["attributes.start_time DESC"], "run_view_type": "ACTIVE_ONLY"}
    timed("runs/search, 100 of 10,000 runs (what the runs table calls)",
          lambda: len(call("post", "/ajax-api/2.0/mlflow/runs/search", json=search)["runs"]), repeat)
    filtered = dict(search, filter="metrics.m0 > 0.5")
    timed("runs/search filter metrics.m0 > 0.5",
          lambda: len(call("post", "/ajax-api/2.0/mlflow/runs/search", json=filtered)["runs"]), repeat)
    bulk = f"/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?run_ids={ids['big_run']}&metric_key=big&max_results=2000"
    timed("chart data: get-history-bulk-interval, 1,000,000 points, max_results=2000",
          lambda: len(call("get", bulk)["metrics"]), repeat)
    timed("trace: traces/get, 200 spans (v3 API)",
          lambda: _span_count(call("get", f"/ajax-api/3.0/mlflow/traces/get?trace_id={ids['trace_id']}")["trace"]),
          repeat)
    sorted_search = dict(search, order_by=["metrics.m0 DESC"], page_token=None)
    sorted_search.pop("page_token")
    timed("runs/search sorted by metrics.m0 (slow: timed once)",
          lambda: len(call("post", "/ajax-api/2.0/mlflow/runs/search", json=sorted_search)["runs"]), 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracker", choices=["none", "logwright", "mlflow"], default="logwright")
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--spans", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    if args.tracker == "none":
        print("nothing to serve without a tracker")
        return 0
    folder = tempfile.mkdtemp(prefix=f"bench-ui-{args.tracker}-")
    t = time.perf_counter()
    build = build_logwright if args.tracker == "logwright" else build_mlflow
    ids = build(folder, args.runs, args.points, args.spans)
    print(json.dumps({"tracker": args.tracker, "build_s": round(time.perf_counter() - t, 1), "folder": folder}),
          file=sys.stderr, flush=True)
    (measure_logwright if args.tracker == "logwright" else measure_mlflow)(folder, ids, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
