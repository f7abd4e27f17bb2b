"""The PostgreSQL store: many writer processes, run creation, search, history read, traces.

Usage:
    .venv/bin/python benchmarks/postgres.py --tracker logwright              # a throwaway server
    .venv/bin/python benchmarks/postgres.py --tracker logwright --uri postgresql://u:p@host/db
    .bench-venv/bin/python benchmarks/postgres.py --tracker mlflow --uri postgresql://...
    .venv/bin/python benchmarks/postgres.py --compare     # none, logwright, mlflow on one server
    .venv/bin/python benchmarks/postgres.py --tracker none                   # floors, no store

``--tracker mlflow`` (``.bench-venv``: mlflow, psycopg2-binary, logwright) runs the same
workloads through MLflow's own SqlAlchemyStore (``postgresql://`` via psycopg2) on the
same kind of server, each in a fresh database: points with ``log_batch`` (1,000 a call),
run creation over 100 runs instead of 1,000, 500 of the 10,000 search runs through its API and the
rest in bulk through its ORM models (see ``mlflow_search``), history read median of 3.
``--compare`` starts one throwaway server and runs all three on it, one after the other.

Without ``--uri`` it starts Debian's PostgreSQL in a temp folder (initdb/pg_ctl, fsync on
as a real server has it) and a fresh database per workload. Prints one JSON line of figures
(seconds unless named otherwise). Goals (issue 15): 8 x 100,000 points flushed < 20 s with
nothing lost; search over 10,000 runs < 300 ms; a 100k-point history read < 0.3 s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator

_WRITER = """\
import sys, time, logwright as lw
uri, go, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
client = lw.Client(uri)
run_id = client.create_run(None).info.run_id
client.flush()
print(run_id, flush=True)
import os
while not os.path.exists(go):
    time.sleep(0.001)
for i in range(n):
    client.log_metric(run_id, "loss", float(i))
client.flush()
print("done", flush=True)
"""


_MLFLOW_WRITER = """\
import os, sys, time
from mlflow import MlflowClient
from mlflow.entities import Metric
uri, go, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
client = MlflowClient(uri)
run_id = client.create_run("0").info.run_id
print(run_id, flush=True)
while not os.path.exists(go):
    time.sleep(0.001)
ts = int(time.time() * 1000)
for start in range(0, n, 1000):  # log_batch takes at most 1,000 metrics; it returns once committed
    client.log_batch(run_id, metrics=[Metric("loss", float(i), ts, i) for i in range(start, min(n, start + 1000))])
print("done", flush=True)
"""

_NO_TRACKER_WRITER = """\
import os, sys, time
go, n = sys.argv[2], int(sys.argv[3])
print("-", flush=True)
while not os.path.exists(go):
    time.sleep(0.001)
total = 0.0
for i in range(n):
    total += float(i)
print("done", flush=True)
"""


@contextlib.contextmanager
def _databases(uri: str | None) -> Iterator[callable]:
    """Yields a function returning a fresh database URI (on ``uri``'s server or a throwaway one)."""
    from logwright.store.postgres import create_database

    if uri is not None:
        def fresh() -> str:
            name = f"lwbench_{uuid.uuid4().hex[:10]}"
            create_database(uri, name)
            return uri.rsplit("/", 1)[0] + "/" + name

        yield fresh
        return
    from logwright.testing.postgres import running_server

    with running_server(durable=True) as server:
        def fresh() -> str:
            return server.uri(server.create_database())

        yield fresh


def many_writers(uri: str, processes: int, points: int, tracker: str = "logwright") -> dict[str, float]:
    """``processes`` fresh interpreters each log ``points`` points into their own run, all at once.

    The clock starts when every child has started (imports, store opened, run created)
    and stops when the last one has flushed (logwright) or its last ``log_batch``
    returned (MLflow). ``none`` runs the same loop without logging.
    """
    script = {"logwright": _WRITER, "mlflow": _MLFLOW_WRITER, "none": _NO_TRACKER_WRITER}[tracker]
    if tracker == "mlflow":
        _mlflow_client(uri)  # create MLflow's schema once, before the children race to do it
    go = os.path.join(tempfile.gettempdir(), f"lwbench-go-{uuid.uuid4().hex}")
    children = [subprocess.Popen([sys.executable, "-c", script, uri, go, str(points)], stdout=subprocess.PIPE,
                                 text=True) for _ in range(processes)]
    run_ids = [child.stdout.readline().strip() for child in children]
    start = time.perf_counter()
    open(go, "w").close()
    for child in children:
        assert child.stdout.readline().strip() == "done"
        child.wait()
    elapsed = time.perf_counter() - start
    os.unlink(go)
    stored = _stored_points(uri, run_ids, tracker) if tracker != "none" else processes * points
    return {"writers_processes": processes, "writers_points_each": points, "writers_flushed_s": elapsed,
            "writers_points_per_s": processes * points / elapsed, "writers_points_lost": processes * points - stored}


def _stored_points(uri: str, run_ids: list[str], tracker: str) -> int:
    if tracker == "mlflow":
        client = _mlflow_client(uri)
        return sum(len(client.get_metric_history(r, "loss")) for r in run_ids)
    import logwright as lw

    client = lw.Client(uri)
    return sum(len(client.store.get_metric_series(r, "loss")[0]) for r in run_ids)


def run_creation(uri: str, runs: int) -> dict[str, float]:
    import logwright as lw

    lw.set_tracking_uri(uri)
    lw.set_experiment("creation")
    start = time.perf_counter()
    for i in range(runs):
        with lw.start_run(run_name=f"r{i}"):
            lw.log_param("i", i)
            lw.log_metric("acc", i / runs)
    lw.flush()
    elapsed = time.perf_counter() - start
    return {"runs_created": runs, "run_create_ms": elapsed / runs * 1000}


def search(uri: str, runs: int) -> dict[str, float]:
    import logwright as lw

    client = lw.Client(uri)
    exp = client.create_experiment("search")
    for i in range(runs):
        run = client.create_run(exp, run_name=f"r{i}")
        rid = run.info.run_id
        client.log_params(rid, {"model": "rf" if i % 3 else "lr", "depth": i % 20})
        client.log_metric(rid, "acc", (i * 7919 % runs) / runs, step=0)
        client.set_terminated(rid)
    client.flush()
    times = []
    for _ in range(7):
        t = time.perf_counter()
        found = client.search_runs([exp], "metrics.acc > 0.5 and params.model = 'rf'",
                                   order_by=["metrics.acc DESC"], max_results=100)
        times.append(time.perf_counter() - t)
    assert len(found) == 100
    return {"search_runs_total": runs, "search_100_of_10k_ms": statistics.median(times) * 1000}


def history(uri: str, points: int) -> dict[str, float]:
    import logwright as lw

    client = lw.Client(uri)
    rid = client.create_run(None).info.run_id
    for i in range(points):
        client.log_metric(rid, "loss", float(i))
    client.flush()
    times = []
    for _ in range(5):
        t = time.perf_counter()
        got = client.get_metric_history(rid, "loss")
        times.append(time.perf_counter() - t)
    assert len(got) == points
    t = time.perf_counter()
    client.store.get_metric_series(rid, "loss")
    series_s = time.perf_counter() - t
    client.set_terminated(rid)
    return {"history_points": points, "history_read_s": statistics.median(times), "history_series_read_s": series_s}


def traces(uri: str, count: int) -> dict[str, float]:
    import logwright as lw

    lw.set_tracking_uri(uri)
    lw.set_experiment("traces")

    @lw.trace(kind="TOOL")
    def step(x: int) -> int:
        return x + 1

    @lw.trace(kind="CHAIN")
    def root(x: int) -> int:
        return sum(step(x + k) for k in range(9))

    start = time.perf_counter()
    for i in range(count):
        root(i)
    lw.flush()
    elapsed = time.perf_counter() - start
    assert len(lw.search_traces(max_results=count + 1)) == count
    return {"traces": count, "spans_per_trace": 10, "traces_ingested_s": elapsed,
            "spans_per_s": count * 10 / elapsed}


def copy_in(uri: str, runs: int = 20, points: int = 50_000) -> dict[str, float]:
    """``logwright store copy`` of a SQLite store (``runs`` x ``points``, one small file each)
    into ``uri`` with S3 artifacts on moto, then the same copy again (nothing to do)."""
    import logwright as lw
    from logwright.store.copy import copy_store
    from logwright.testing.s3 import FAKE_ENV, start_moto

    moto = start_moto()
    saved = dict(os.environ)
    os.environ.update({**FAKE_ENV, "AWS_ENDPOINT_URL": moto.endpoint})
    try:
        from logwright.artifacts import s3

        s3.client().create_bucket(Bucket="copy")
        src = os.path.join(tempfile.mkdtemp(prefix="lwbench-copy-"), "store")
        client = lw.Client(src)
        exp = client.create_experiment("bench")
        for r in range(runs):
            rid = client.create_run(exp, run_name=f"run-{r}").info.run_id
            for step in range(points):
                client.log_metric(rid, "x", step * 0.5, step=step, timestamp=step)
            client.log_text(rid, "x" * 1000, "notes.txt")
            client.set_terminated(rid, flush=False)
        client.flush()
        t = time.perf_counter()
        copy_store(src, uri, "s3://copy/team", progress=False)
        first = time.perf_counter() - t
        t = time.perf_counter()
        again = copy_store(src, uri, "s3://copy/team", progress=False)
        second = time.perf_counter() - t
        assert again.artifact_files == 0
    finally:
        os.environ.clear()
        os.environ.update(saved)
        moto.stop()
    return {"copy_runs": runs, "copy_points": runs * points, "copy_sqlite_to_pg_s3_s": first,
            "copy_points_per_s": runs * points / first, "copy_again_s": second}


def _mlflow_client(uri: str):
    """MLflow's client on its SqlAlchemyStore for ``uri`` (psycopg2), schema created on first use."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient(uri)
    client.search_experiments(max_results=1)  # runs MLflow's alembic migrations on a fresh database
    return client


def mlflow_run_creation(uri: str, runs: int) -> dict[str, float]:
    """The same run as logwright's: start_run, one param, one metric, end_run (each call synchronous)."""
    import mlflow

    _mlflow_client(uri)
    mlflow.set_experiment("creation")
    start = time.perf_counter()
    for i in range(runs):
        with mlflow.start_run(run_name=f"r{i}"):
            mlflow.log_param("i", i)
            mlflow.log_metric("acc", i / runs)
    return {"runs_created": runs, "run_create_ms": (time.perf_counter() - start) / runs * 1000}


def mlflow_search(uri: str, runs: int, api_runs: int = 500) -> dict[str, float]:
    """The same 10,000 runs and query. The first ``api_runs`` go through MLflow's API
    (create_run, log_batch of the params and metric, set_terminated; ~50 ms a run here,
    so 10,000 would take minutes); the rest are the same rows added in bulk through
    MLflow's own ORM models in one session (runs, params, metrics, latest_metrics, tags)."""
    from mlflow.entities import Metric, Param

    client = _mlflow_client(uri)
    exp = client.create_experiment("search")
    ts = int(time.time() * 1000)
    fill = time.perf_counter()
    for i in range(min(api_runs, runs)):
        rid = client.create_run(exp, run_name=f"r{i}").info.run_id
        client.log_batch(rid, metrics=[Metric("acc", (i * 7919 % runs) / runs, ts, 0)],
                         params=[Param("model", "rf" if i % 3 else "lr"), Param("depth", str(i % 20))])
        client.set_terminated(rid)
    api_ms = (time.perf_counter() - fill) / max(1, min(api_runs, runs)) * 1000
    _mlflow_bulk_runs(client, exp, range(api_runs, runs), runs, ts)
    times = []
    for _ in range(7):
        t = time.perf_counter()
        found = client.search_runs([exp], "metrics.acc > 0.5 and params.model = 'rf'",
                                   order_by=["metrics.acc DESC"], max_results=100)
        times.append(time.perf_counter() - t)
    assert len(found) == 100
    every = client.search_runs([exp], "metrics.acc > 0.5 and params.model = 'rf'", max_results=50_000)
    expected = sum(1 for i in range(runs) if i % 3 and (i * 7919 % runs) / runs > 0.5)
    assert len(every) == expected, (len(every), expected)
    return {"search_runs_total": runs, "search_100_of_10k_ms": statistics.median(times) * 1000,
            "search_fill_api_ms_per_run": api_ms}


def _mlflow_bulk_runs(client, exp: str, indexes: range, runs: int, ts: int) -> None:
    import uuid as _uuid

    from mlflow.store.tracking.dbmodels import models as m

    store = client._tracking_client.store
    artifact_root = client.get_experiment(exp).artifact_location
    with store.ManagedSessionMaker() as session:
        for i in indexes:
            rid = _uuid.uuid4().hex
            acc = (i * 7919 % runs) / runs
            session.add(m.SqlRun(run_uuid=rid, name=f"r{i}", source_type="UNKNOWN", source_name="",
                                 entry_point_name="", user_id="bench", status="FINISHED", start_time=ts,
                                 end_time=ts, source_version="", lifecycle_stage="active",
                                 artifact_uri=f"{artifact_root}/{rid}/artifacts", experiment_id=int(exp)))
            session.add_all([
                m.SqlParam(key="model", value="rf" if i % 3 else "lr", run_uuid=rid),
                m.SqlParam(key="depth", value=str(i % 20), run_uuid=rid),
                m.SqlMetric(key="acc", value=acc, timestamp=ts, step=0, is_nan=False, run_uuid=rid),
                m.SqlLatestMetric(key="acc", value=acc, timestamp=ts, step=0, is_nan=False, run_uuid=rid),
                m.SqlTag(key="mlflow.runName", value=f"r{i}", run_uuid=rid),
            ])
            if i % 1000 == 0:
                session.flush()


def mlflow_history(uri: str, points: int) -> dict[str, float]:
    """``points`` logged with log_batch (1,000 a call), then get_metric_history (median of 3)."""
    from mlflow.entities import Metric

    client = _mlflow_client(uri)
    rid = client.create_run("0").info.run_id
    ts = int(time.time() * 1000)
    for start in range(0, points, 1000):
        client.log_batch(rid, metrics=[Metric("loss", float(i), ts, i) for i in range(start, min(points, start + 1000))])
    times = []
    for _ in range(3):
        t = time.perf_counter()
        got = client.get_metric_history(rid, "loss")
        times.append(time.perf_counter() - t)
    assert len(got) == points
    client.set_terminated(rid)
    return {"history_points": points, "history_read_s": statistics.median(times)}


def mlflow_traces(uri: str, count: int) -> dict[str, float]:
    """The same 10-span trees with ``@mlflow.trace``, flushed (MLflow logs traces asynchronously)."""
    import mlflow

    _mlflow_client(uri)
    mlflow.set_experiment("traces")

    @mlflow.trace(span_type="TOOL")
    def step(x: int) -> int:
        return x + 1

    @mlflow.trace(span_type="CHAIN")
    def root(x: int) -> int:
        return sum(step(x + k) for k in range(9))

    start = time.perf_counter()
    for i in range(count):
        root(i)
    flush = getattr(mlflow, "flush_trace_async_logging", None)
    if flush is not None:
        flush()
    elapsed = time.perf_counter() - start
    stored = mlflow.search_traces(max_results=count + 1, return_type="list")
    return {"traces": count, "spans_per_trace": 10, "traces_ingested_s": elapsed, "spans_per_s": count * 10 / elapsed,
            "traces_stored": len(stored), "spans_stored": sum(len(t.data.spans) for t in stored)}


def none_traces(count: int) -> dict[str, float]:
    """The same calls, undecorated (the floor)."""
    def step(x: int) -> int:
        return x + 1

    def root(x: int) -> int:
        return sum(step(x + k) for k in range(9))

    start = time.perf_counter()
    for i in range(count):
        root(i)
    return {"traces": count, "traces_ingested_s": time.perf_counter() - start}


def _workloads(tracker: str, fresh, scale: int, writer_points: int) -> dict[str, float]:
    out: dict[str, float] = {}
    if tracker == "none":  # only the writers and the traced calls have a no-tracking floor
        out.update(many_writers("-", 8, writer_points // scale, "none"))
        out.update(none_traces(1000 // scale))
        return out
    if tracker == "mlflow":
        out.update(many_writers(fresh(), 8, writer_points // scale, "mlflow"))
        out.update(mlflow_run_creation(fresh(), 100 // scale or 1))
        out.update(mlflow_search(fresh(), 10_000 // scale))
        out.update(mlflow_history(fresh(), 100_000 // scale))
        try:
            out.update(mlflow_traces(fresh(), 1000 // scale))
        except Exception as exc:  # noqa: BLE001 - a tracing failure on this store is a result too
            out["traces_error"] = f"{type(exc).__name__}: {exc}"[:300]
        return out
    out.update(many_writers(fresh(), 8, writer_points // scale))
    out.update(run_creation(fresh(), 1000 // scale))
    out.update(search(fresh(), 10_000 // scale))
    out.update(history(fresh(), 100_000 // scale))
    out.update(traces(fresh(), 1000 // scale))
    out.update(copy_in(fresh(), 20, 50_000 // scale))
    from logwright.store import close_stores

    close_stores(lambda store: True)  # before the throwaway server stops
    return out


def compare(argv: list[str]) -> None:
    """Run every tracker, one after the other, against one throwaway server (this needs .venv's pytest)."""
    from logwright.testing.postgres import running_server

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    rest = [a for a in argv if a != "--compare"]
    pythons = {"none": sys.executable, "logwright": os.path.join(root, ".venv", "bin", "python"),
               "mlflow": os.path.join(root, ".bench-venv", "bin", "python")}
    with running_server(durable=True) as server:
        for tracker, python in pythons.items():
            args = [python, os.path.abspath(__file__), *rest, "--tracker", tracker, "--uri", server.uri()]
            done = subprocess.run(args, capture_output=True, text=True, check=False)
            print(done.stdout.strip() or json.dumps({"tracker": tracker, "error": done.stderr[-2000:]}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracker", choices=["logwright", "mlflow", "none"], default="logwright")
    parser.add_argument("--uri", help="an existing server's postgresql:// URI (a database is created per workload)")
    parser.add_argument("--quick", action="store_true", help="a tenth of every size (a smoke run)")
    parser.add_argument("--compare", action="store_true",
                        help="start one throwaway server and run none, logwright (.venv) and mlflow (.bench-venv) on it")
    parser.add_argument("--writer-points", type=int, default=100_000,
                        help="points per logwright (and no-tracking) writer process")
    parser.add_argument("--mlflow-writer-points", type=int, default=100_000,
                        help="points per MLflow writer process (fewer for a shorter run; compare per point)")
    args = parser.parse_args()
    os.environ.setdefault("LOGWRIGHT_QUIET", "1")
    os.environ.setdefault("LOGWRIGHT_ARTIFACT_URI", tempfile.mkdtemp(prefix="lwbench-artifacts-"))
    os.chdir(tempfile.mkdtemp(prefix="lwbench-cwd-"))  # MLflow's default artifact root is ./mlruns
    scale = 10 if args.quick else 1
    if args.compare:
        return compare(sys.argv[1:])
    if args.tracker == "none":
        out = _workloads("none", None, scale, args.writer_points)
    else:
        with _databases(args.uri) as fresh:
            points = args.mlflow_writer_points if args.tracker == "mlflow" else args.writer_points
            out = _workloads(args.tracker, fresh, scale, points)
    print(json.dumps({"tracker": args.tracker, "store": "postgresql", **out}))


if __name__ == "__main__":
    main()
