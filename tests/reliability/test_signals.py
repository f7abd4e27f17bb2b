"""Signals and crashes of a logging process, caused for real, with counts of what was lost.

Each case runs a child interpreter (``sys.executable``) that logs into a store under
``tmp_store`` and reports its progress in a file, one line per 1,000 points (index and
``time.time()``), written unbuffered so it survives a SIGKILL. The parent sends the
signal, then reads the store back as a user would (a fresh process or ``Client``).

SIGKILL: no point logged more than a second before the kill may be missing, and the
run reads KILLED once a reader sees its owner is gone. SIGTERM: the run ends KILLED
with ``logwright.error = SIGTERM`` and the child dies of the signal, unless the user's
own handler says otherwise. SIGINT: never a hang, the run ends KILLED, nothing lost.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import logwright as lw
from logwright.entities import RunStatus
from logwright.exceptions import RunNotFound
from logwright.testing.crash import LOGGING_LOOP
from logwright.tracing import search_traces

_EXIT_TIMEOUT_S = 30  # a child that needs longer to exit after a signal is deadlocked

_PRELUDE = """\
import os, signal, sys, threading, time
import logwright as lw
lw.set_tracking_uri(sys.argv[1])
out = open(sys.argv[2], "w", buffering=1)
"""

_LOOP = LOGGING_LOOP  # logs until killed; see logwright.testing.crash

# A SIGTERM handler of the user's, installed before logwright's: "flag" returns, "exit" exits 3.
_TERM_HANDLER = _PRELUDE + """\
flag = []
def handler(signum, frame):
    flag.append(signum)
    if sys.argv[3] == "exit":
        sys.exit(3)
signal.signal(signal.SIGTERM, handler)
run = lw.start_run()
out.write(f"run {run.info.run_id}\\n")
i = 0
while not flag:
    lw.log_metric("m", float(i), step=i)
    i += 1
    if i % 1000 == 0:
        out.write(f"{i - 1} {time.time()!r}\\n")
out.write(f"signalled {i} active={lw.active_run() is not None}\\n")
lw.log_metric("after_signal", 1.0)
"""

# Logs and flushes in a loop inside `with start_run()` until Ctrl-C; says how many calls returned.
_INTERRUPTED = _PRELUDE + """\
with lw.start_run() as run:
    i = 0
    try:
        out.write(f"run {run.info.run_id}\\n")
        while True:
            lw.log_metric("m", float(i), step=i)
            i += 1
            if i % 100 == 0:
                lw.flush()
    except KeyboardInterrupt:
        out.write(f"logged {i}\\n")
        raise
"""

# 200k points, then Ctrl-C from a thread, argv[3] seconds after the main thread entered flush().
_INTERRUPTED_FLUSH = _PRELUDE + """\
import sqlite3
main = threading.main_thread().ident

def in_flush():
    frame = sys._current_frames().get(main)
    while frame is not None:
        if frame.f_code.co_name == "flush" and frame.f_code.co_filename.endswith("writer.py"):
            return True
        frame = frame.f_back
    return False

def interrupt_inside_flush():
    while True:  # until Ctrl-C lands while the main thread is inside the flush
        while not in_flush():
            time.sleep(0.0001)
        time.sleep(float(sys.argv[3]))
        if in_flush():
            os.kill(os.getpid(), signal.SIGINT)
            return

def hold_the_store(locked):
    # Another connection holds the database until the main thread has seen Ctrl-C (at most 30 s),
    # so the flush below is sure to be waiting when it lands, however slow this machine is.
    db = sqlite3.connect(os.path.join(sys.argv[1], "logwright.db"), timeout=60)
    db.execute("BEGIN EXCLUSIVE")
    locked.set()
    interrupted.wait(30)
    db.execute("ROLLBACK")

interrupted = threading.Event()

with lw.start_run() as run:
    out.write(f"run {run.info.run_id}\\n")
    for i in range(200_000):
        lw.log_metric("m", float(i), step=i)
    locked = threading.Event()
    threading.Thread(target=hold_the_store, args=(locked,), daemon=True).start()
    locked.wait()
    for i in range(200_000, 210_000):
        lw.log_metric("m", float(i), step=i)
    threading.Thread(target=interrupt_inside_flush, daemon=True).start()
    try:
        lw.flush()
    except KeyboardInterrupt:
        out.write("interrupted inside flush\\n")
        interrupted.set()  # the store may be written again: the run ends KILLED with every point
        raise
    out.write("flush returned first\\n")
    time.sleep(10)
"""


def _spawn(program: str, store: str, *args: str) -> tuple[subprocess.Popen, str]:
    progress = store + ".progress"
    os.makedirs(os.path.dirname(progress), exist_ok=True)
    child = subprocess.Popen(
        [sys.executable, "-c", program, store, progress, *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    return child, progress


def _lines(progress: str) -> list[str]:
    try:
        with open(progress, encoding="utf-8") as fh:
            return fh.read().splitlines()
    except FileNotFoundError:
        return []


def _wait_for(child: subprocess.Popen, progress: str, n_lines: int) -> list[str]:
    """Wait until the child has written ``n_lines`` progress lines."""
    deadline = time.monotonic() + 30
    while len(lines := _lines(progress)) < n_lines:
        if child.poll() is not None:
            raise AssertionError(f"child exited early ({child.returncode}): {child.stderr.read()}")
        if time.monotonic() > deadline:
            child.kill()
            raise AssertionError(f"child wrote {len(lines)} progress lines in 30 s")
        time.sleep(0.005)
    return lines


def _reports(lines: list[str]) -> list[tuple[int, float]]:
    """(index, time) of every 1,000th point from the progress lines."""
    out = []
    for line in lines[1:]:
        head, _, tail = line.partition(" ")
        if head.isdigit():
            out.append((int(head), float(tail)))
    return out


def _steps(client: lw.Client, run_id: str) -> list[int]:
    return sorted(m.step for m in client.get_metric_history(run_id, "m"))


def _traced_indexes(store: str) -> list[int]:
    lw.set_tracking_uri(store)  # every trace of the store: the run row itself may be lost
    return sorted(t.spans[0].inputs["i"] for t in search_traces(experiment="Default", max_results=10**7))


def _status(store: str, run_id: str) -> str:
    try:
        return lw.Client(store).get_run(run_id).info.status  # a fresh reader: the owner is gone
    except RunNotFound:
        return "run lost"


def _kill_once(store: str, kind: str, delay: float) -> tuple[str, int, int, int]:
    """SIGKILL a logging child ``delay`` s after its first 1,000 points.

    Returns:
        (run id, points older than 1 s at the kill, how many of them are missing,
        how many reported points in all are missing).
    """
    child, progress = _spawn(_LOOP, store, kind)
    _wait_for(child, progress, 2)
    time.sleep(delay)
    killed_at = time.time()
    child.kill()
    child.wait(_EXIT_TIMEOUT_S)  # reaped: a zombie's pid would still look alive
    lines = _lines(progress)
    run_id = lines[0].split()[1]
    reports = _reports(lines)
    old = max((i for i, t in reports if t <= killed_at - 1.0), default=-1) + 1
    if kind == "metric":
        stored = set(_steps(lw.Client(store), run_id))
    else:
        stored = set(_traced_indexes(store))
    last = reports[-1][0] + 1
    return run_id, old, sum(1 for i in range(old) if i not in stored), sum(1 for i in range(last) if i not in stored)


@pytest.mark.sqlite_only(reason="one folder store per killed child, under tmp_store")
def test_sigkill_at_random_moments_loses_no_metric_point_older_than_a_second(tmp_store):
    rng = random.Random(14)
    for n in range(5):
        store = os.path.join(tmp_store, f"kill{n}")
        run_id, old, lost_old, lost = _kill_once(store, "metric", rng.uniform(1.1, 2.0))
        assert old > 0  # the kill came more than a second after points were logged
        assert lost_old == 0, f"kill {n}: {lost_old} of {old} points older than 1 s lost ({lost} lost in all)"
        assert _status(store, run_id) == RunStatus.KILLED


@pytest.mark.sqlite_only(reason="one folder store per killed child, under tmp_store")
def test_sigkill_at_random_moments_loses_no_trace_older_than_a_second(tmp_store):
    rng = random.Random(41)
    kills = []
    for n in range(5):
        store = os.path.join(tmp_store, f"kill{n}")
        run_id, old, lost_old, lost = _kill_once(store, "trace", rng.uniform(1.1, 2.0))
        assert old > 0
        kills.append((lost_old, old, lost, _status(store, run_id)))
    assert all(k[0] == 0 and k[3] == RunStatus.KILLED for k in kills), (
        "per kill: (traces older than 1 s lost, of, lost in all, run status): " + repr(kills)
    )


def _cli_status(store: str, run_id: str) -> str:
    cli = subprocess.run(
        [sys.executable, "-m", "logwright.cli", "--store", store, "runs", "list"],
        capture_output=True, text=True, timeout=60,
    )
    assert cli.returncode == 0, cli.stderr
    row = next(line for line in cli.stdout.splitlines() if run_id in line)
    return row.split()[3]  # RUN ID, EXPERIMENT, NAME, STATUS


def test_sigkilled_run_reads_killed_in_the_cli_and_in_search(tmp_store):
    child, progress = _spawn(_LOOP, tmp_store, "metric")
    run_id = _wait_for(child, progress, 3)[0].split()[1]
    time.sleep(0.6)  # the run row is committed (at most every 0.5 s)
    assert _cli_status(tmp_store, run_id) == RunStatus.RUNNING  # a reader never ends a live run
    child.kill()
    child.wait(_EXIT_TIMEOUT_S)
    assert _cli_status(tmp_store, run_id) == RunStatus.KILLED
    found = lw.search_runs(filter="status = 'KILLED'")
    assert [r.info.run_id for r in found] == [run_id]
    assert lw.search_runs(filter="status = 'RUNNING'") == []


def test_run_of_a_killed_process_not_yet_waited_for_reads_killed(tmp_store):
    child, progress = _spawn(_LOOP, tmp_store, "metric")
    run_id = _wait_for(child, progress, 3)[0].split()[1]
    time.sleep(0.6)
    os.kill(child.pid, signal.SIGKILL)
    try:
        deadline = time.monotonic() + 10
        while _proc_state(child.pid) != "Z" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _proc_state(child.pid) == "Z"  # dead, its exit status not collected yet
        assert lw.get_run(run_id).info.status == RunStatus.KILLED
    finally:
        child.wait(_EXIT_TIMEOUT_S)


def _proc_state(pid: int) -> str:
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        stat = fh.read()
    return stat[stat.rfind(")") + 2 :].split()[0]


def _term(store: str, program: str, *args: str) -> tuple[subprocess.Popen, str, list[str]]:
    child, progress = _spawn(program, store, *args)
    _wait_for(child, progress, 4)
    child.send_signal(signal.SIGTERM)
    child.wait(_EXIT_TIMEOUT_S)
    return child, progress, _lines(progress)


def _assert_contiguous(steps: list[int], at_least: int) -> None:
    assert steps == list(range(len(steps))), "a gap: points logged before the signal are missing"
    assert len(steps) >= at_least


def test_sigterm_ends_run_killed_keeps_every_point_and_dies_of_the_signal(tmp_store):
    child, _, lines = _term(tmp_store, _LOOP, "metric")
    assert child.returncode == -signal.SIGTERM, child.stderr.read()
    run_id, reports = lines[0].split()[1], _reports(lines)
    run = lw.get_run(run_id)
    assert run.info.status == RunStatus.KILLED
    assert run.data.tags["logwright.error"] == "SIGTERM"
    _assert_contiguous(_steps(lw.Client(), run_id), reports[-1][0] + 1)


def test_sigterm_chains_to_a_user_handler_that_returns(tmp_store):
    child, _, lines = _term(tmp_store, _TERM_HANDLER, "flag")
    assert child.returncode == 0, child.stderr.read()
    run_id = lines[0].split()[1]
    word, logged, active = lines[-1].split()
    assert word == "signalled" and active == "active=True"  # the program went on, the run with it
    run = lw.get_run(run_id)
    assert run.info.status == RunStatus.FINISHED
    assert "logwright.error" not in run.data.tags
    assert run.data.metrics["after_signal"] == 1.0
    assert _steps(lw.Client(), run_id) == list(range(int(logged)))


def test_sigterm_chains_to_a_user_handler_that_exits(tmp_store):
    child, _, lines = _term(tmp_store, _TERM_HANDLER, "exit")
    assert child.returncode == 3, child.stderr.read()
    run_id, reports = lines[0].split()[1], _reports(lines)
    run = lw.get_run(run_id)
    assert run.info.status == RunStatus.KILLED
    assert run.data.tags["logwright.error"] == "SIGTERM"
    _assert_contiguous(_steps(lw.Client(), run_id), reports[-1][0] + 1)


def _interrupt_once(store: str, delay: float) -> tuple[int | None, str, str]:
    """Ctrl-C a log-and-flush loop ``delay`` s after its run started.

    Returns:
        (exit status, or None when the child hung; run id; progress lines and stderr).
    """
    child, progress = _spawn(_INTERRUPTED, store)
    lines = _wait_for(child, progress, 1)
    time.sleep(delay)
    child.send_signal(signal.SIGINT)
    try:
        child.wait(_EXIT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        return None, lines[0].split()[1], "hung"
    return child.returncode, lines[0].split()[1], "\n".join([*_lines(progress), child.stderr.read()])


@pytest.mark.sqlite_only(reason="one folder store per interrupted child, under tmp_store")
def test_ctrl_c_at_random_moments_never_hangs_and_loses_nothing(tmp_store):
    rng = random.Random(57)
    delays = [rng.uniform(0.0, 0.3) for _ in range(20)]
    stores = [os.path.join(tmp_store, f"int{n}") for n in range(20)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(_interrupt_once, stores, delays))
    hung = [n for n, (code, _, _) in enumerate(results) if code is None]
    assert hung == [], f"{len(hung)} of 20 children did not exit within {_EXIT_TIMEOUT_S} s after Ctrl-C"
    for store, (code, run_id, output) in zip(stores, results, strict=True):
        assert code == -signal.SIGINT, output  # died of the interrupt, as without logwright
        logged = int(next(line for line in output.splitlines() if line.startswith("logged ")).split()[1])
        client = lw.Client(store)
        assert client.get_run(run_id).info.status == RunStatus.KILLED
        steps = _steps(client, run_id)
        # Ctrl-C inside log_metric: that one point may or may not have been queued.
        assert steps in (list(range(logged)), list(range(logged + 1))), (logged, len(steps), output)


@pytest.mark.sqlite_only(reason="locks the SQLite file from another connection")
@pytest.mark.parametrize("after", [0.0, 0.01, 0.025])
def test_ctrl_c_inside_a_big_flush_keeps_the_batch_and_ends_killed(tmp_store, after):
    child, progress = _spawn(_INTERRUPTED_FLUSH, tmp_store, str(after))
    child.wait(60)
    lines = _lines(progress)
    assert lines[-1] == "interrupted inside flush", (lines, child.stderr.read())
    assert child.returncode == -signal.SIGINT
    run_id = lines[0].split()[1]
    run = lw.get_run(run_id)
    assert run.info.status == RunStatus.KILLED
    assert run.data.tags["logwright.error"].startswith("KeyboardInterrupt")
    assert _steps(lw.Client(), run_id) == list(range(210_000))
    assert not os.path.exists(os.path.join(tmp_store, "rejected.jsonl"))


def _orphan_runs(store: str) -> tuple[str, str]:
    """Two RUNNING runs left by a process that vanished without ending them."""
    code = (
        "import os, sys, logwright as lw\n"
        "c = lw.Client(sys.argv[1])\n"
        "ids = [c.create_run().info.run_id for _ in range(2)]\n"
        "c.flush()\nprint(*ids)\nsys.stdout.flush()\nos._exit(0)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, store], capture_output=True, text=True, check=True)
    stale, fresh = out.stdout.split()
    return stale, fresh


@pytest.mark.sqlite_only(reason="edits heartbeats in the SQLite file")
def test_run_of_another_host_is_killed_only_when_its_heartbeat_is_stale(tmp_store, monkeypatch):
    monkeypatch.setenv("LOGWRIGHT_HEARTBEAT_TIMEOUT", "60")
    stale, fresh = _orphan_runs(tmp_store)
    now_ms = int(time.time() * 1000)
    db = sqlite3.connect(os.path.join(tmp_store, "logwright.db"))
    with db:
        db.executemany(
            "UPDATE runs SET owner_host = 'elsewhere', owner_pid = 1, owner_start = NULL, heartbeat = ? "
            "WHERE run_id = ?",
            [(now_ms - 61_000, stale), (now_ms - 5_000, fresh)],
        )
    db.close()
    client = lw.Client(tmp_store)
    client.store.reap_dead_runs(force=True)
    gone = client.get_run(stale).info
    assert gone.status == RunStatus.KILLED
    assert gone.end_time == now_ms - 61_000  # ended at its last sign of life
    assert client.get_run(fresh).info.status == RunStatus.RUNNING
