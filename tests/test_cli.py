"""The ``logwright`` command line on a real store."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections import Counter

import pytest

import logwright as lw
from logwright.cli import main

ENV = {**{k: v for k, v in os.environ.items() if not k.startswith("LOGWRIGHT_")}, "LOGWRIGHT_QUIET": "1"}


def _shared_prefix(ids: list[str]) -> tuple[str, list[str]]:
    """A first character that several ids share, and those ids."""
    char, _ = Counter(i[0] for i in ids).most_common(1)[0]
    return char, sorted(i for i in ids if i.startswith(char))


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
    with lw.start_run():
        pass
    assert main(["--store", tmp_store, "runs", "list", "-f", "metrics.acc >"]) == 2
    assert "position" in capsys.readouterr().err
    assert main(["--store", tmp_store, "runs", "show", "nope"]) == 1
    assert "'nope' not found" in capsys.readouterr().err


def test_run_id_prefix_shows_the_run_and_an_ambiguous_one_lists_candidates(tmp_store, capsys):
    ids = []
    for i in range(17):  # 17 ids in 16 hex digits: two share a first character
        with lw.start_run(run_name=f"r{i}") as run:
            ids.append(run.info.run_id)
    assert main(["--store", tmp_store, "runs", "show", ids[5][:8]]) == 0
    assert f"Run {ids[5]}  'r5'" in capsys.readouterr().out
    prefix, candidates = _shared_prefix(ids)
    assert main(["--store", tmp_store, "runs", "show", prefix]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ambiguous" in err
    assert all(c in err for c in candidates[:10])


def test_trace_id_prefix_everywhere_and_ambiguous_prefix(tmp_store, capsys):
    @lw.trace
    def step(i: int) -> int:
        return i

    with lw.start_run(run_name="traced") as run:
        for i in range(17):
            step(i)
    lw.flush()
    ids = [t.info.trace_id for t in lw.search_traces(max_results=100)]
    assert len(ids) == 17
    assert main(["--store", tmp_store, "traces", "show", ids[0][:8]]) == 0
    assert ids[0] in capsys.readouterr().out
    prefix, candidates = _shared_prefix(ids)
    assert main(["--store", tmp_store, "traces", "show", prefix]) == 2
    err = capsys.readouterr().err
    assert "ambiguous" in err and all(c in err for c in candidates[:10])
    assert main(["--store", tmp_store, "traces", "list", "--run", run.info.run_id[:8], "--json"]) == 0
    assert {t["trace_id"] for t in json.loads(capsys.readouterr().out)} == set(ids)


@pytest.mark.parametrize("command", [["runs", "list"], ["traces", "list"], ["experiments", "list"]])
def test_every_list_command_takes_the_same_options(tmp_store, capsys, command):
    lw.set_experiment("opts")
    with lw.start_run(run_name="a"):
        lw.log_metric("acc", 0.5)
    order = {"runs": "metrics.acc DESC", "traces": "latency_ms DESC", "experiments": "name DESC"}[command[0]]
    filt = "status = 'OK'" if command[0] == "traces" else "metrics.acc > 0.1"
    for argv in (["-e", "opts", "-f", filt, "-o", order, "-n", "5", "--json"],
                 ["--experiment", "opts", "--filter", filt, "--order-by", order, "--max-results", "5", "--json"]):
        assert main(["--store", tmp_store, *command, *argv]) == 0
        assert isinstance(json.loads(capsys.readouterr().out), list)
    assert main(["--store", tmp_store, *command, "-e", "no-such-experiment"]) == 1
    assert "no-such-experiment" in capsys.readouterr().err


def test_json_output_of_runs_and_experiments(tmp_store, capsys):
    lw.set_experiment("json-exp")
    with lw.start_run(run_name="j") as run:
        lw.log_params({"lr": 0.1})
        lw.log_metrics({"acc": 0.75, "bad": float("nan")})
    assert main(["--store", tmp_store, "runs", "list", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["run_id"], row["run_name"], row["experiment"], row["status"]) == (
        run.info.run_id, "j", "json-exp", "FINISHED")
    assert row["params"] == {"lr": "0.1"} and row["metrics"] == {"acc": 0.75, "bad": "NaN"}
    assert main(["--store", tmp_store, "experiments", "list", "--json", "-f", "metrics.acc > 0.5"]) == 0
    (exp,) = json.loads(capsys.readouterr().out)
    assert (exp["name"], exp["runs"]) == ("json-exp", 1)
    assert main(["--store", tmp_store, "experiments", "list", "-f", "metrics.acc > 0.9", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_runs_list_over_all_experiments_has_an_experiment_column_and_nests_children(tmp_store, capsys):
    lw.set_experiment("nest-a")
    with lw.start_run(run_name="parent-run") as parent:
        with lw.start_run(run_name="child-run", nested=True) as child:
            with lw.start_run(run_name="grandchild-run", nested=True) as grandchild:
                pass
    lw.set_experiment("nest-b")
    with lw.start_run(run_name="other-run") as other:
        pass
    assert main(["--store", tmp_store, "runs", "list", "-o", "start_time DESC"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["RUN", "ID", "EXPERIMENT"]
    rows = {line.split()[0]: line for line in lines[2:]}
    assert rows[other.info.run_id].split()[1:3] == ["nest-b", "other-run"]
    assert rows[parent.info.run_id].split()[1:3] == ["nest-a", "parent-run"]
    order = [line.split()[0] for line in lines[2:]]
    assert order == [other.info.run_id, parent.info.run_id, child.info.run_id, grandchild.info.run_id]
    column = lines[0].index("NAME")
    assert rows[parent.info.run_id][column:].startswith("parent-run")
    assert rows[child.info.run_id][column:].startswith("  └ child-run")
    assert rows[grandchild.info.run_id][column:].startswith("    └ grandchild-run")
    assert main(["--store", tmp_store, "runs", "list", "-e", "nest-a"]) == 0
    assert "EXPERIMENT" not in capsys.readouterr().out


def test_store_that_does_not_exist_is_an_error_unless_create(tmp_path, capsys):
    typo = str(tmp_path / "logwrigth-runs")
    assert main(["--store", typo, "runs", "list"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no store at" in err and "--create" in err
    assert not os.path.exists(typo)
    not_a_store = tmp_path / "notes.db"
    not_a_store.write_text("hello")
    assert main(["--store", str(not_a_store), "experiments", "list"]) == 2
    assert "not a logwright store" in capsys.readouterr().err
    assert main(["--store", typo, "--create", "runs", "list"]) == 0
    assert os.path.isfile(os.path.join(typo, "logwright.db"))
    assert main(["--store", typo, "runs", "list"]) == 0


def test_integrations_in_a_fresh_process_says_available():
    out = subprocess.run([sys.executable, "-m", "logwright.cli", "integrations"], capture_output=True,
                         text=True, env=ENV, timeout=120)
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line for line in out.stdout.splitlines()[2:]}
    assert "sklearn" in rows and rows["sklearn"].rstrip().endswith("available")
    assert "DISABLED" not in out.stdout


def test_ui_on_a_busy_port_is_one_line_and_fails(tmp_store):
    with lw.start_run():
        pass
    lw.flush()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = subprocess.run([sys.executable, "-m", "logwright.cli", "--store", tmp_store, "ui", "--port", str(port)],
                             capture_output=True, text=True, env=ENV, timeout=120)
    assert out.returncode != 0
    assert out.stdout == "" and out.stderr.count("\n") == 1, out.stderr
    assert f":{port}" in out.stderr and "--port 0" in out.stderr and "Traceback" not in out.stderr


def test_ui_help_says_the_default_port():
    out = subprocess.run([sys.executable, "-m", "logwright.cli", "ui", "--help"], capture_output=True, text=True,
                         env=ENV, timeout=120)
    assert "default 5151" in " ".join(out.stdout.split())
