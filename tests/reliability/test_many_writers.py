"""Many threads in many processes writing into one run: every point kept, steps unique, params write-once.

The run is created by the test process; fresh interpreters (``sys.executable``, never a
fork) log into it by id and start together when a "go" file appears, so their writers
really contend for the database's write lock. The first three tests run on SQLite and on
PostgreSQL (many writer processes as on many hosts).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

import logwright as lw

_PROCESSES, _THREADS, _POINTS = 4, 8, 5_000
_TIMEOUT_S = 120

_WAIT_FOR_GO = """\
import os, sys, threading, time
import logwright as lw
from logwright.exceptions import ParamConflict
store, run_id, go = sys.argv[1:4]
client = lw.Client(store)
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.001)
"""

# Thread t of process p is writer w = p * THREADS + t: it logs "auto" (no step) with value
# w * N + j and "explicit" with step w * N + j and value w, for j in 0..N-1.
_METRIC_WRITER = _WAIT_FOR_GO + """\
proc, threads, n = (int(a) for a in sys.argv[4:7])

def write(t):
    w = proc * threads + t
    for j in range(n):
        client.log_metric(run_id, "auto", float(w * n + j))
        client.log_metric(run_id, "explicit", float(w), step=w * n + j)

workers = [threading.Thread(target=write, args=(t,)) for t in range(threads)]
for worker in workers:
    worker.start()
for worker in workers:
    worker.join()
client.flush()
print("done", flush=True)
"""

_PARAM_WRITER = _WAIT_FOR_GO + """\
try:
    client.log_param(run_id, "lr", sys.argv[4])
    print("ok", flush=True)
except ParamConflict as exc:
    print(f"conflict {exc}", flush=True)
"""


def _start_together(program: str, store: str, run_id: str, argv: list[list[str]]) -> list[str]:
    """Run one child per entry of ``argv``, released at once; returns each one's last output line."""
    go = os.path.join(tempfile.gettempdir(), f"logwright-go-{os.getpid()}-{time.monotonic_ns()}")
    children = [
        subprocess.Popen([sys.executable, "-c", program, store, run_id, go, *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for args in argv
    ]
    for child in children:
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
    open(go, "w").close()
    outputs = []
    for child in children:
        out, err = child.communicate(timeout=_TIMEOUT_S)
        assert child.returncode == 0, err
        outputs.append(out.strip().splitlines()[-1])
    return outputs


def _new_run(store: str) -> tuple[lw.Client, str]:
    client = lw.Client(store)
    run_id = client.create_run().info.run_id
    client.flush()
    return client, run_id


def test_eight_threads_times_four_processes_into_one_run(store_uri):
    client, run_id = _new_run(store_uri)
    argv = [[str(p), str(_THREADS), str(_POINTS)] for p in range(_PROCESSES)]
    assert _start_together(_METRIC_WRITER, store_uri, run_id, argv) == ["done"] * _PROCESSES
    writers, total = _PROCESSES * _THREADS, _PROCESSES * _THREADS * _POINTS

    auto = client.get_metric_history(run_id, "auto")
    assert len(auto) == total
    assert sorted(m.step for m in auto) == list(range(total))  # unique across threads and processes
    assert sorted(m.value for m in auto) == [float(v) for v in range(total)]  # none lost, none twice
    by_writer = defaultdict(list)
    for m in sorted(auto, key=lambda m: m.value):
        by_writer[int(m.value) // _POINTS].append(m.step)
    assert all(steps == sorted(steps) for steps in by_writer.values())  # each thread's order kept

    explicit = client.get_metric_history(run_id, "explicit")
    stored = sorted((m.step, m.value) for m in explicit)
    assert stored == [(w * _POINTS + j, float(w)) for w in range(writers) for j in range(_POINTS)]
    client.set_terminated(run_id)


def test_two_processes_one_param_two_values_exactly_one_raises(store_uri):
    client, run_id = _new_run(store_uri)
    outputs = _start_together(_PARAM_WRITER, store_uri, run_id, [["0.1"], ["0.2"]])
    assert sorted(out.split()[0] for out in outputs) == ["conflict", "ok"], outputs
    winner = "0.1" if outputs[0] == "ok" else "0.2"
    loser = "0.2" if winner == "0.1" else "0.1"
    message = next(out for out in outputs if out.startswith("conflict"))
    assert "'lr'" in message and f"'{winner}'" in message and f"'{loser}'" in message
    assert client.get_run(run_id).data.params == {"lr": winner}
    client.set_terminated(run_id)


def test_two_processes_one_param_same_value_both_succeed(store_uri):
    client, run_id = _new_run(store_uri)
    assert _start_together(_PARAM_WRITER, store_uri, run_id, [["0.1"], ["0.1"]]) == ["ok", "ok"]
    assert client.get_run(run_id).data.params == {"lr": "0.1"}
    client.set_terminated(run_id)


def test_creator_conflicting_with_another_process_is_set_aside_not_lost(tmp_store, monkeypatch):
    # The creating process checks its own runs' params at the call, so a value another
    # process stored first is only met at commit: it must be set aside and named, not dropped.
    monkeypatch.delenv("LOGWRIGHT_STRICT")
    client, run_id = _new_run(tmp_store)
    assert _start_together(_PARAM_WRITER, tmp_store, run_id, [["0.2"]]) == ["ok"]
    client.log_param(run_id, "lr", "0.1")
    client.flush()
    assert client.get_run(run_id).data.params == {"lr": "0.2"}
    with open(os.path.join(tmp_store, "rejected.jsonl"), encoding="utf-8") as fh:
        rejected = [json.loads(line) for line in fh]
    assert [(r["op"], r["args"]) for r in rejected] == [("param", [run_id, "lr", "0.1"])]
    assert "'0.2'" in rejected[0]["error"]
    client.set_terminated(run_id)
