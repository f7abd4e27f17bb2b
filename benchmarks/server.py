"""The tracking server beside ``mlflow server``, both on the same PostgreSQL: client cost, ingest, traces, UI.

Usage:
    .venv/bin/python benchmarks/server.py            # none, logwright and MLflow 3.17 (.bench-venv)
    .venv/bin/python benchmarks/server.py --quick    # smaller counts

Starts a throwaway PostgreSQL (Debian's, initdb/pg_ctl, fsync on), then for each tracker a
server on 127.0.0.1 over a fresh database (``logwright server --store postgresql://...`` with
one worker; ``mlflow server --backend-store-uri postgresql://...`` with its default workers)
and times, from fresh client processes:

- ``log_metric_us``: the cost of one ``log_metric`` call in the training loop (50,000 calls
  for logwright and none, 2,000 for MLflow, whose client waits for each HTTP answer), and
  ``end_run_s``, the time ``end_run`` then takes to have every point acknowledged; MLflow's
  ``synchronous=False`` mode is timed too (``async_*``).
- ``points_per_s``: 16 client processes each log 20,000 points into their own run at once;
  from the go signal until the last one's points are acknowledged (MLflow: ``log_batch`` of
  1,000, its fastest path), and how many points were lost.
- ``traces_per_s``: 1,000 traces of 3 spans from one client, until flushed.
- ``ui_*_ms``: with 10,000 runs in one experiment, the median of 5 loads of the experiments
  list, that experiment's runs page and one run's page (MLflow: the REST calls its UI makes
  for the same views, since its pages are drawn in the browser).

Prints one JSON line per tracker and a table; ratios go in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH_PY = os.path.join(ROOT, ".bench-venv", "bin", "python")
MLFLOW = os.path.join(ROOT, ".bench-venv", "bin", "mlflow")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "LOGWRIGHT_QUIET": "1"}
ENV.pop("PYTHONDONTWRITEBYTECODE", None)

_LOOP = """\
import sys, time
tracker, url, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
if tracker == "logwright":
    import logwright as lw
    lw.set_tracking_uri(url)
    start, log, end = lw.start_run, lw.log_metric, lw.end_run
elif tracker in ("mlflow", "mlflow-async"):
    import mlflow
    mlflow.set_tracking_uri(url)
    start, end = mlflow.start_run, mlflow.end_run
    if tracker == "mlflow":
        log = mlflow.log_metric
    else:
        def log(key, value, step):
            mlflow.log_metric(key, value, step=step, synchronous=False)
else:
    start = end = lambda *a, **k: None
    log = lambda key, value, step: None
start()
t0 = time.perf_counter()
for i in range(n):
    log("loss", 1.0 / (i + 1), step=i)
t1 = time.perf_counter()
end()
t2 = time.perf_counter()
print(f"{(t1 - t0) / n * 1e6} {t2 - t1}", flush=True)
"""

_WRITER = """\
import os, sys, time
tracker, url, go, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
if tracker == "logwright":
    import logwright as lw
    client = lw.Client(url)
    run_id = client.create_run(None).info.run_id
    client.flush()
elif tracker == "mlflow":
    from mlflow import MlflowClient
    from mlflow.entities import Metric
    client = MlflowClient(url)
    run_id = client.create_run("0").info.run_id
else:
    run_id = "-"
print(run_id, flush=True)
while not os.path.exists(go):
    time.sleep(0.001)
if tracker == "logwright":
    for i in range(n):
        client.log_metric(run_id, "loss", float(i), step=i)
    client.flush()
elif tracker == "mlflow":
    ts = int(time.time() * 1000)
    for s in range(0, n, 1000):
        client.log_batch(run_id, metrics=[Metric("loss", float(i), ts, i) for i in range(s, min(n, s + 1000))])
print("done", flush=True)
"""

_TRACES = """\
import sys, time
tracker, url, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
if tracker == "logwright":
    import logwright as lw
    lw.set_tracking_uri(url)
    trace, flush = lw.trace, lw.flush
    lw.set_experiment("traces")
else:
    import mlflow
    mlflow.set_tracking_uri(url)
    mlflow.set_experiment("traces")
    trace = mlflow.trace
    def flush():
        mlflow.flush_trace_async_logging(terminate=False)

@trace
def leaf(x):
    return x + 1

@trace
def root(x):
    return leaf(x) + leaf(x)

t0 = time.perf_counter()
for i in range(n):
    root(i)
flush()
print(time.perf_counter() - t0, flush=True)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_http(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} never answered")


def _start_server(tracker: str, db_uri: str, workdir: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    if tracker == "logwright":
        cmd = [sys.executable, "-m", "logwright.cli", "server", "--store", db_uri, "--port", str(port),
               "--artifacts", os.path.join(workdir, "lw-artifacts")]
    else:
        cmd = [MLFLOW, "server", "--backend-store-uri", db_uri.replace("postgresql://", "postgresql+psycopg2://"),
               "--default-artifact-root", os.path.join(workdir, "mlflow-artifacts"), "--host", "127.0.0.1",
               "--port", str(port)]
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    _wait_http(url + "/health")
    return proc, url


def _python(tracker: str) -> str:
    return BENCH_PY if tracker.startswith("mlflow") else sys.executable


def _run(tracker: str, program: str, *args: str) -> str:
    out = subprocess.run([_python(tracker), "-c", program, tracker, *args], env=ENV, capture_output=True,
                         text=True, check=True, cwd=tempfile.gettempdir())
    return out.stdout.strip().splitlines()[-1]


def client_cost(tracker: str, url: str, quick: bool) -> dict[str, float]:
    n = 2_000 if tracker.startswith("mlflow") else (10_000 if quick else 50_000)
    per_call, end = map(float, _run(tracker, _LOOP, url, str(n)).split())
    figures = {"log_metric_us": per_call, "end_run_s": end, "log_metric_calls": n}
    if tracker == "mlflow":
        per_call, end = map(float, _run("mlflow-async", _LOOP, url, str(n)).split())
        figures.update(async_log_metric_us=per_call, async_end_run_s=end)
    return figures


def ingest(tracker: str, url: str, processes: int, points: int) -> dict[str, float]:
    go = os.path.join(tempfile.gettempdir(), f"lwbench-go-{os.getpid()}-{time.time_ns()}")
    children = [subprocess.Popen([_python(tracker), "-c", _WRITER, tracker, url, go, str(points)], env=ENV,
                                 stdout=subprocess.PIPE, text=True, cwd=tempfile.gettempdir())
                for _ in range(processes)]
    run_ids = [c.stdout.readline().strip() for c in children]
    start = time.perf_counter()
    open(go, "w").close()
    for child in children:
        assert child.stdout.readline().strip() == "done"
        child.wait()
    elapsed = time.perf_counter() - start
    os.unlink(go)
    lost = 0
    if tracker != "none":
        count = ("import sys, logwright as lw; c = lw.Client(sys.argv[2]); "
                 "print(sum(len(c.get_metric_history(r, 'loss')) for r in sys.argv[3:]))") if tracker == "logwright" \
            else ("import sys; from mlflow import MlflowClient; c = MlflowClient(sys.argv[2]); "
                  "print(sum(len(c.get_metric_history(r, 'loss')) for r in sys.argv[3:]))")
        stored = int(_run(tracker, count, url, *run_ids))
        lost = processes * points - stored
    return {"points_per_s": processes * points / elapsed, "ingest_s": elapsed, "points_lost": lost,
            "clients": processes, "points_each": points}


def traces(tracker: str, url: str, count: int) -> dict[str, float]:
    if tracker == "none":
        return {}
    seconds = float(_run(tracker, _TRACES, url, str(count)))
    return {"traces_per_s": count / seconds, "traces": count}


def ui_pages(tracker: str, url: str, db_uri: str, runs: int) -> dict[str, float]:
    """Fill one experiment with ``runs`` runs straight into the database, then time the views."""
    if tracker == "none":
        return {}
    fill = os.path.join(ROOT, "benchmarks", "server_fill.py")
    ids = json.loads(subprocess.run([_python(tracker), fill, tracker, url, db_uri, str(runs)], env=ENV,
                                    capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
    exp, run_id = ids["experiment_id"], ids["run_id"]
    if tracker == "logwright":
        views = {"ui_experiments_ms": "/", "ui_runs_page_ms": f"/experiments/{exp}", "ui_run_page_ms": f"/runs/{run_id}"}
        calls = {k: ("GET", v, None) for k, v in views.items()}
    else:
        calls = {
            "ui_experiments_ms": ("POST", "/ajax-api/2.0/mlflow/experiments/search",
                                  {"max_results": 25, "order_by": ["last_update_time DESC"]}),
            "ui_runs_page_ms": ("POST", "/ajax-api/2.0/mlflow/runs/search",
                                {"experiment_ids": [exp], "max_results": 100, "order_by": ["attributes.start_time DESC"],
                                 "run_view_type": "ACTIVE_ONLY"}),
            "ui_run_page_ms": ("GET", f"/ajax-api/2.0/mlflow/runs/get?run_id={run_id}", None),
        }
    out: dict[str, float] = {"ui_runs": runs}
    for name, (method, path, body) in calls.items():
        times = []
        for _ in range(6):
            data = json.dumps(body).encode() if body is not None else None
            request = urllib.request.Request(url + path, data=data, method=method,
                                             headers={"Content-Type": "application/json"})
            t = time.perf_counter()
            with urllib.request.urlopen(request, timeout=120) as response:
                response.read()
            times.append(time.perf_counter() - t)
        out[name] = statistics.median(times[1:]) * 1000
    return out


def bench(tracker: str, fresh_db, workdir: str, quick: bool) -> dict[str, float]:
    figures: dict[str, float] = {"tracker": tracker}  # type: ignore[dict-item]
    for step in ("client", "ingest", "traces", "ui"):
        if tracker == "none" and step in ("traces", "ui"):
            continue
        db_uri = fresh_db()
        proc, url = _start_server(tracker if tracker != "none" else "logwright", db_uri, workdir)
        try:
            if step == "client":
                figures.update(client_cost(tracker, url, quick))
            elif step == "ingest":
                figures.update(ingest(tracker, url, 16, 2_000 if quick else 20_000))
            elif step == "traces":
                figures.update(traces(tracker, url, 200 if quick else 1_000))
            else:
                figures.update(ui_pages(tracker, url, db_uri, 1_000 if quick else 10_000))
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(30)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--trackers", default="none,logwright,mlflow")
    args = parser.parse_args()
    from logwright.testing.postgres import running_server

    workdir = tempfile.mkdtemp(prefix="lwbench-server-")
    results = []
    try:
        with running_server(durable=True) as server:
            def fresh() -> str:
                return server.uri(server.create_database())

            for tracker in args.trackers.split(","):
                figures = bench(tracker, fresh, workdir, args.quick)
                print(json.dumps(figures), flush=True)
                results.append(figures)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    keys = sorted({k for r in results for k in r if k != "tracker"})
    print("\n| figure | " + " | ".join(r["tracker"] for r in results) + " |")
    print("|---|" + "---|" * len(results))
    for key in keys:
        cells = [f"{r[key]:.4g}" if isinstance(r.get(key), float) else str(r.get(key, "-")) for r in results]
        print(f"| {key} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
