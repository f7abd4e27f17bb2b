"""A run whose process died reads KILLED in the web UI's runs table and run page too."""

from __future__ import annotations

import subprocess
import sys

import httpx

from logwright.server.sample import serve


def test_the_runs_table_shows_a_dead_processes_run_as_killed(tmp_store):
    code = (
        "import os, sys, logwright as lw\n"
        "lw.set_tracking_uri(sys.argv[1])\n"
        "run = lw.start_run(run_name='vanished')\n"
        "lw.log_metric('loss', 0.5)\nlw.flush()\n"
        "print(run.info.experiment_id, run.info.run_id, flush=True)\n"
        "os._exit(0)\n"  # no atexit: the run is left RUNNING in the store
    )
    out = subprocess.run([sys.executable, "-c", code, tmp_store], capture_output=True, text=True, check=True)
    exp_id, run_id = out.stdout.split()
    with serve(tmp_store) as base:
        table = httpx.get(f"{base}/api/experiments/{exp_id}").json()
        assert [(r["name"], r["status"]) for r in table["runs"]] == [("vanished", "KILLED")]
        page = httpx.get(f"{base}/api/runs/{run_id}").json()
        assert page["run"]["status"] == "KILLED"
