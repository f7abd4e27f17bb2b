"""``logwright sync SRC DST``: an HPC node's folder brought into the team store, again and again.

Each sync brings only what is new (a run that went on logging gets its new points,
status, tags and files; a new run and a new trace arrive), never a duplicate; runs of
other nodes already in the team store stay as they are.
"""

from __future__ import annotations

import logwright as lw
from logwright import fluent
from logwright.artifacts import for_uri
from logwright.cli import main
from logwright.client import Client


def _sync(capsys, *argv: str) -> str:
    rc = main(["sync", *argv])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    return captured.out.strip()


def _use(uri: str) -> None:
    fluent._reset_for_tests()
    lw.set_tracking_uri(uri)


def _view(uri: str) -> dict:
    """Per run id: what a user reads back (name, status, end, params, tags, every point, files)."""
    store = Client(uri).store
    store.flush()
    out = {}
    for exp in store.search_experiments("all"):
        for run in store.search_runs([exp.experiment_id], None, None, 1000, 0, "all"):
            rid = run.info.run_id
            repo = for_uri(run.info.artifact_uri)
            out[rid] = (exp.name, run.info.run_name, run.info.status, run.info.end_time, run.data.params,
                        run.data.tags, {k: list(zip(*store.get_metric_series(rid, k), strict=True))
                                        for k in store.metric_keys(rid)},
                        {f.path: f.file_size for f in repo.walk()})
    return out


def test_sync_brings_only_what_is_new_and_never_duplicates(tmp_path, capsys):
    node, team = str(tmp_path / "node"), str(tmp_path / "team")
    _use(team)  # the team store already holds another node's run
    lw.set_experiment("sweep")
    with lw.start_run(run_name="from-node-2") as other:
        lw.log_metric("loss", 0.5)
    _use(node)
    lw.set_experiment("sweep")
    run = lw.start_run(run_name="long-job")
    lw.log_params({"lr": "0.1"})
    for step in range(100):
        lw.log_metric("loss", 1 / (step + 1), step=step)
    lw.flush()
    first = _sync(capsys, node, team)
    assert first.startswith("synced 0 experiments, 1 runs") and "100 metric points" in first, first
    for step in range(100, 150):  # the job goes on, then ends with a file and a trace
        lw.log_metric("loss", 1 / (step + 1), step=step)
    lw.set_tag("stage", "done")
    lw.log_text("final notes", "notes.txt")
    with lw.start_span("evaluate", kind="CHAIN", inputs={"split": "test"}) as span:
        span.set_outputs({"acc": 0.9})
    lw.end_run()
    lw.flush()
    second = _sync(capsys, node, team)
    assert "1 updated runs" in second and "50 metric points" in second and "1 traces" in second, second
    assert "1 artifact files" in second and "0 runs" in second and "0 params" in second, second
    assert _sync(capsys, node, team).startswith("nothing to sync")
    ours, theirs = _view(node), _view(team)
    assert theirs[run.info.run_id] == ours[run.info.run_id]
    assert [s for s, _, _ in theirs[run.info.run_id][6]["loss"]] == list(range(150))
    assert set(theirs) == {run.info.run_id, other.info.run_id}  # one experiment "sweep", no duplicates
    store = Client(team).store
    assert [e.name for e in store.search_experiments("all")].count("sweep") == 1
    assert len(store.search_traces(None, max_results=10)) == 1
    fluent._reset_for_tests()


def test_sync_of_chosen_experiments(tmp_path, capsys):
    node, team = str(tmp_path / "node"), str(tmp_path / "team")
    _use(node)
    for name in ("keep", "skip"):
        lw.set_experiment(name)
        with lw.start_run(run_name=name):
            lw.log_metric("m", 1.0)
    lw.flush()
    fluent._reset_for_tests()
    assert main(["sync", node, team, "-e", "keep", "--no-progress", "--create"]) == 0
    assert capsys.readouterr().out.startswith("synced 1 experiments, 1 runs")
    names = [e.name for e in Client(team).store.search_experiments("all")]
    assert "keep" in names and "skip" not in names


def test_sync_refuses_a_missing_destination_without_create(tmp_path, capsys):
    node = str(tmp_path / "node")
    _use(node)
    with lw.start_run():
        lw.log_metric("m", 1.0)
    lw.flush()
    fluent._reset_for_tests()
    assert main(["sync", node, str(tmp_path / "typo")]) == 2
    assert "--create" in capsys.readouterr().err


def test_sync_progress_bar_counts_runs_and_traces(tmp_path, capsys):
    from logwright.store.copy import copy_store

    node = str(tmp_path / "node")
    _use(node)
    with lw.start_run():
        with lw.start_span("s"):
            pass
    lw.flush()
    fluent._reset_for_tests()
    copy_store(node, str(tmp_path / "team"), progress=True)
    assert "] 2/2 " in capsys.readouterr().err
