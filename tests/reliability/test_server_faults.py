"""Faults between a client and ``logwright server``, caused for real: kill -9 and restart the
server mid-run, a client killed while the server is away, many clients at once. Counts what was lost."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

import logwright as lw
from logwright.entities import RunStatus

pytestmark = pytest.mark.timeout(300)

_PACED_LOGGER = """\
import sys, time, logwright as lw
url, seconds, progress = sys.argv[1], float(sys.argv[2]), sys.argv[3]
lw.set_tracking_uri(url)
with lw.start_run() as run:
    with open(progress, "w") as fh:
        fh.write(run.info.run_id + "\\n")
    i, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        lw.log_metric("m", float(i), step=i)
        i += 1
        if i % 200 == 0:
            time.sleep(0.005)
print(i, flush=True)
"""


def _child(program: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", program, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(path: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path) and open(path).read().endswith("\n"):
            return open(path).read()
        time.sleep(0.02)
    raise AssertionError(f"{path} never appeared")


def _steps(store: str, run_id: str) -> list[int]:
    return [m.step for m in lw.Client(store).get_metric_history(run_id, "m")]


def test_server_killed_and_restarted_mid_run_loses_nothing(tracking_server, tmp_path):
    progress = str(tmp_path / "progress")
    child = _child(_PACED_LOGGER, tracking_server.url, "6", progress)
    run_id = _wait_for(progress).strip()
    time.sleep(1.0)
    tracking_server.kill()  # SIGKILL: no flush, no goodbye
    time.sleep(2.0)  # the client keeps logging into its journal meanwhile
    tracking_server.start()
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    logged = int(out.split()[-1])
    assert "cannot reach tracking server" in err and "sent in order" in err
    assert _steps(tracking_server.store, run_id) == list(range(logged))  # nothing lost, nothing twice
    assert lw.Client(tracking_server.store).get_run(run_id).info.status == RunStatus.FINISHED


_KILLED_WHILE_AWAY = """\
import os, sys, time, logwright as lw
url, progress = sys.argv[1], sys.argv[2]
lw.set_tracking_uri(url)
run = lw.start_run()
for i in range(5_000):
    lw.log_metric("m", float(i), step=i)
lw.flush()
with open(progress, "w") as fh:
    fh.write(run.info.run_id + "\\n")
while not os.path.exists(progress + ".down"):
    time.sleep(0.01)
for i in range(5_000, 10_000):
    lw.log_metric("m", float(i), step=i)
time.sleep(1.5)  # three writer intervals: every point is in the journal on disk
with open(progress, "a") as fh:
    fh.write("spooled\\n")
time.sleep(60)
"""


def test_a_client_killed_while_the_server_is_away_is_replayed_by_the_next_process(tracking_server, tmp_path):
    progress = str(tmp_path / "progress")
    child = _child(_KILLED_WHILE_AWAY, tracking_server.url, progress)
    run_id = _wait_for(progress).strip()
    tracking_server.kill()
    open(progress + ".down", "w").close()
    deadline = time.monotonic() + 30
    while "spooled" not in open(progress).read() and time.monotonic() < deadline:
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    journal = os.environ["LOGWRIGHT_JOURNAL_DIR"]
    left = [f for _, _, files in os.walk(journal) for f in files if f.endswith(".batch")]
    assert left, "the killed client left its unsent batches on disk"
    tracking_server.start()
    # Any later process that logs to the same server sends them first.
    replay = subprocess.run(
        [sys.executable, "-c", "import sys, logwright as lw; c = lw.Client(sys.argv[1]); c.flush()",
         tracking_server.url], capture_output=True, text=True, timeout=120,
    )
    assert replay.returncode == 0, replay.stderr
    assert "an earlier process left unsent" in replay.stderr
    assert _steps(tracking_server.store, run_id) == list(range(10_000))
    assert not [f for _, _, files in os.walk(journal) for f in files if f.endswith(".batch")]


def test_flush_says_how_much_is_spooled_and_delivers_it_when_the_server_returns(tracking_server, monkeypatch, caplog):
    monkeypatch.setenv("LOGWRIGHT_FLUSH_TIMEOUT", "1")
    lw.set_tracking_uri(tracking_server.url)
    try:
        run = lw.start_run()
        for i in range(1_000):
            lw.log_metric("m", float(i), step=i)
        lw.flush()
        tracking_server.kill()
        for i in range(1_000, 3_000):
            lw.log_metric("m", float(i), step=i)
        lw.flush()
        spooled = re.search(r"(\d+) operations are spooled in (\S+): tracking server", caplog.text)
        assert spooled and int(spooled.group(1)) >= 2_000, caplog.text  # the points, maybe a heartbeat
        assert os.path.isdir(spooled.group(2))
        tracking_server.start()
        lw.end_run()
    finally:
        from logwright import fluent

        fluent._reset_for_tests()
    assert _steps(tracking_server.store, run.info.run_id) == list(range(3_000))
    assert lw.Client(tracking_server.store).get_run(run.info.run_id).info.status == RunStatus.FINISHED


_BUSY_CLIENT = """\
import sys, logwright as lw
url, points, traces = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lw.set_tracking_uri(url)

@lw.trace(name="step")
def step(i):
    return i * 2

with lw.start_run() as run:
    for i in range(points):
        lw.log_metric("m", float(i), step=i)
        if i % (points // traces) == 0:
            step(i)
print(run.info.run_id, flush=True)
"""


@pytest.mark.parametrize("workers", [1, 3])
def test_sixteen_clients_at_once_lose_nothing_and_duplicate_nothing(tracking_server, workers):
    if workers > 1:  # the same store served by several uvicorn worker processes
        tracking_server.stop()
        tracking_server.args += ["--workers", str(workers)]
        tracking_server.start()
    points, traces = 20_000, 500
    children = [_child(_BUSY_CLIENT, tracking_server.url, str(points), str(traces)) for _ in range(16)]
    run_ids = []
    for child in children:
        out, err = child.communicate(timeout=280)
        assert child.returncode == 0, err
        run_ids.append(out.split()[-1])
    client = lw.Client(tracking_server.store)
    for run_id in run_ids:
        assert _steps(tracking_server.store, run_id) == list(range(points))
        assert len(client.store.search_traces(run_id=run_id, max_results=10_000)) == traces
        assert client.get_run(run_id).info.status == RunStatus.FINISHED
