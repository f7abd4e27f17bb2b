"""Threads, asyncio tasks, processes and forks lose nothing."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading

import logwright as lw


def test_eight_threads_into_one_run(tmp_store):
    with lw.start_run() as run:
        def work(n: int) -> None:
            for i in range(10_000):
                lw.log_metric(f"t{n}", i)  # a fresh thread sees the process's active run
        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for n in range(8):
        history = lw.get_metric_history(run.info.run_id, f"t{n}")
        assert [m.value for m in history] == [float(i) for i in range(10_000)]
        assert [m.step for m in history] == list(range(10_000))


def test_threads_with_their_own_runs_do_not_mix(tmp_store):
    ids: dict[int, str] = {}

    def work(n: int) -> None:
        with lw.start_run(run_name=f"thread-{n}") as run:
            ids[n] = run.info.run_id
            for _i in range(200):
                lw.log_metric("v", n)
    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for n, run_id in ids.items():
        values = {m.value for m in lw.get_metric_history(run_id, "v")}
        assert values == {float(n)}


def test_asyncio_tasks_have_their_own_stacks(tmp_store):
    async def task(n: int) -> str:
        with lw.start_run(run_name=f"task-{n}") as run:
            for i in range(50):
                lw.log_metric("i", i)
                await asyncio.sleep(0)
            assert lw.active_run().info.run_id == run.info.run_id
            return run.info.run_id

    async def main() -> list[str]:
        return await asyncio.gather(*(task(n) for n in range(10)))

    ids = asyncio.run(main())
    assert len(set(ids)) == 10
    for run_id in ids:
        assert [m.value for m in lw.get_metric_history(run_id, "i")] == [float(i) for i in range(50)]


def _process_worker(uri: str, run_id: str, n: int) -> None:
    client = lw.Client(uri)
    for i in range(2_000):
        client.log_metric(run_id, f"p{n}", i, step=i)
    client.flush()


def test_four_processes_into_one_store(tmp_store):
    client = lw.Client(tmp_store)
    run = client.create_run(None, run_name="shared")
    client.flush()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_process_worker, args=(tmp_store, run.info.run_id, n)) for n in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    client.set_terminated(run.info.run_id)
    for n in range(4):
        assert len(client.get_metric_history(run.info.run_id, f"p{n}")) == 2_000


def test_fork_child_gets_its_own_writer(tmp_store):
    with lw.start_run() as run:
        lw.log_metric("parent", 1.0)
        pid = os.fork()
        if pid == 0:  # child: log and flush through its own writer, then leave at once
            code = 0
            try:
                lw.log_metric("child", 2.0, run_id=run.info.run_id)
                lw.flush()
            except BaseException:  # noqa: BLE001
                code = 1
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        lw.log_metric("parent", 3.0)
    metrics = lw.get_run(run.info.run_id).data.metrics
    assert metrics == {"parent": 3.0, "child": 2.0}
    assert len(lw.get_metric_history(run.info.run_id, "parent")) == 2
