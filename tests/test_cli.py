"""The ``logwright`` command line on a real store."""

from __future__ import annotations

import logwright as lw
from logwright.cli import main


def test_experiments_runs_list_and_show(tmp_store, capsys):
    lw.set_experiment("cli-exp")
    with lw.start_run(run_name="shown") as run:
        lw.log_params({"lr": 0.01})
        lw.log_metric("acc", 0.93)
        lw.set_tag("team", "vision")
        lw.log_text("hello", "notes.txt")
    assert main(["--store", tmp_store, "experiments", "list"]) == 0
    out = capsys.readouterr().out
    assert "cli-exp" in out and "RUNS" in out
    assert main(["--store", tmp_store, "runs", "list", "-e", "cli-exp", "-f", "metrics.acc > 0.9"]) == 0
    out = capsys.readouterr().out
    assert run.info.run_id in out and "0.93" in out
    assert main(["--store", tmp_store, "runs", "show", run.info.run_id]) == 0
    out = capsys.readouterr().out
    for text in ("shown", "lr", "0.01", "acc", "team", "vision", "notes.txt", "FINISHED"):
        assert text in out


def test_bad_filter_and_unknown_run_are_clear(tmp_store, capsys):
    assert main(["--store", tmp_store, "runs", "list", "-f", "metrics.acc >"]) == 1
    assert "position" in capsys.readouterr().err
    assert main(["--store", tmp_store, "runs", "show", "nope"]) == 1
    assert "'nope' not found" in capsys.readouterr().err
