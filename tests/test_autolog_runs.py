"""RunBinding: the run a callback-style integration logs into, bound at first use (issue 21 item 2)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import logwright
from logwright.autolog import AutologConfig, RunBinding, add_run_end_hook, remove_run_end_hook
from logwright.autolog.integration import COMMON_OPTIONS


def _binding(ended: list, **options) -> RunBinding:
    def flush(run):  # what a step hook does: write what it buffered into the run that ends
        run.client.log_metric(run.info.run_id, "flushed", 1.0)
        ended.append(run.info.run_id)

    return RunBinding("toy", AutologConfig({**COMMON_OPTIONS, **options}), on_end=flush)


def _run(run_id):
    return logwright.Client().get_run(run_id)


def test_binds_at_first_use_to_a_run_it_starts_and_ends_it(tmp_store):
    ended: list[str] = []
    binding = _binding(ended, extra_tags={"team": "a"})
    run = binding.current()
    assert binding.current() is run and binding.started
    binding.end()
    stored = _run(run.info.run_id)
    assert stored.info.status == "FINISHED" and ended == [run.info.run_id]
    assert stored.data.tags["logwright.autolog"] == "toy" and stored.data.tags["team"] == "a"
    assert stored.data.metrics["flushed"] == 1.0
    assert binding.run is None and logwright.active_run() is None


def test_binds_to_the_users_run_and_flushes_when_the_user_ends_it(tmp_store):
    ended: list[str] = []
    binding = _binding(ended)
    with logwright.start_run() as user_run:
        assert binding.current() is user_run and not binding.started
        binding.end()  # not ours: flushed, left running
        assert logwright.active_run() is user_run and ended == [user_run.info.run_id]
        binding.current()
    assert ended == [user_run.info.run_id] * 2 and binding.run is None
    assert _run(user_run.info.run_id).info.status == "FINISHED"
    second = binding.current()  # the next use binds afresh
    assert second.info.run_id != user_run.info.run_id
    binding.end()


def test_exclusive_run_is_nested_and_ends_with_its_parent(tmp_store):
    ended: list[str] = []
    binding = _binding(ended, exclusive=True)
    with logwright.start_run() as user_run:
        ours = binding.current()
        assert ours is not user_run and ours.info.parent_run_id == user_run.info.run_id
    assert _run(ours.info.run_id).info.status == "FINISHED" and ended == [ours.info.run_id]
    assert logwright.active_run() is None


def test_close_flushes_and_leaves_the_run_alone(tmp_store):
    ended: list[str] = []
    binding = _binding(ended)
    run = binding.current()
    binding.close()
    assert ended == [run.info.run_id] and not run.ended
    logwright.end_run()
    assert ended == [run.info.run_id]  # unbound: the end hook is gone


def test_run_end_hook_is_idempotent_and_removable(tmp_store):
    seen = []
    hook = seen.append
    add_run_end_hook(hook)
    add_run_end_hook(hook)
    with logwright.start_run() as run:
        pass
    remove_run_end_hook(hook)
    remove_run_end_hook(hook)
    with logwright.start_run():
        pass
    assert seen == [run]


@pytest.mark.sqlite_only(reason="the child process opens the store folder itself")
def test_a_run_the_binding_started_ends_at_interpreter_exit(tmp_store, tmp_path):
    code = textwrap.dedent(f"""
        import logwright
        from logwright.autolog import AutologConfig, RunBinding
        from logwright.autolog.integration import COMMON_OPTIONS
        logwright.set_tracking_uri({tmp_store!r})
        flush = lambda run: run.client.log_metric(run.info.run_id, "flushed", 2.0)
        run = RunBinding("toy", AutologConfig(dict(COMMON_OPTIONS)), on_end=flush).current()
        print(run.info.run_id)
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGWRIGHT_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    stored = _run(out.stdout.split()[-1])
    assert stored.info.status == "FINISHED" and stored.data.metrics["flushed"] == 2.0
