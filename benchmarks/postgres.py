"""The PostgreSQL store: many writer processes, run creation, search, history read, traces.

Usage:
    .venv/bin/python benchmarks/postgres.py --tracker logwright              # a throwaway server
    .venv/bin/python benchmarks/postgres.py --tracker logwright --uri postgresql://u:p@host/db
    .bench-venv/bin/python benchmarks/postgres.py --tracker mlflow --uri postgresql://...

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


def many_writers(uri: str, processes: int, points: int) -> dict[str, float]:
    """``processes`` fresh interpreters each log ``points`` auto-stepped points into their own run."""
    import logwright as lw

    go = os.path.join(tempfile.gettempdir(), f"lwbench-go-{uuid.uuid4().hex}")
    children = [subprocess.Popen([sys.executable, "-c", _WRITER, uri, go, str(points)], stdout=subprocess.PIPE,
                                 text=True) for _ in range(processes)]
    run_ids = [child.stdout.readline().strip() for child in children]
    start = time.perf_counter()
    open(go, "w").close()
    for child in children:
        assert child.stdout.readline().strip() == "done"
        child.wait()
    elapsed = time.perf_counter() - start
    os.unlink(go)
    client = lw.Client(uri)
    stored = sum(len(client.store.get_metric_series(r, "loss")[0]) for r in run_ids)
    return {"writers_processes": processes, "writers_points_each": points, "writers_flushed_s": elapsed,
            "writers_points_per_s": processes * points / elapsed, "writers_points_lost": processes * points - stored}


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tracker", choices=["logwright", "mlflow"], default="logwright")
    parser.add_argument("--uri", help="an existing server's postgresql:// URI (a database is created per workload)")
    parser.add_argument("--quick", action="store_true", help="a tenth of every size (a smoke run)")
    args = parser.parse_args()
    if args.tracker == "mlflow":
        sys.exit("the MLflow side needs .bench-venv with mlflow and a PostgreSQL URI; not built here")
    os.environ.setdefault("LOGWRIGHT_QUIET", "1")
    os.environ.setdefault("LOGWRIGHT_ARTIFACT_URI", tempfile.mkdtemp(prefix="lwbench-artifacts-"))
    scale = 10 if args.quick else 1
    out: dict[str, float] = {}
    with _databases(args.uri) as fresh:
        out.update(many_writers(fresh(), 8, 100_000 // scale))
        out.update(run_creation(fresh(), 1000 // scale))
        out.update(search(fresh(), 10_000 // scale))
        out.update(history(fresh(), 100_000 // scale))
        out.update(traces(fresh(), 1000 // scale))
        from logwright.store import close_stores

        close_stores(lambda store: True)  # before the throwaway server stops
    print(json.dumps({"tracker": args.tracker, "store": "postgresql", **out}))


if __name__ == "__main__":
    main()
