"""Runs left RUNNING at interpreter exit are ended, and what was logged is durable."""

from __future__ import annotations

import subprocess
import sys

import logwright as lw


def _run(code: str, store: str) -> subprocess.CompletedProcess:
    prog = f"import logwright as lw\nlw.set_tracking_uri({store!r})\n" + code
    return subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True)


def test_clean_exit_finishes_run_and_flushes(tmp_store):
    out = _run("run = lw.start_run()\nfor i in range(1000): lw.log_metric('m', i)\nprint(run.info.run_id)", tmp_store)
    run = lw.get_run(out.stdout.strip())
    assert run.info.status == "FINISHED"
    assert len(lw.get_metric_history(run.info.run_id, "m")) == 1000


def test_uncaught_exception_fails_run(tmp_store):
    out = _run("run = lw.start_run()\nprint(run.info.run_id, flush=True)\nlw.log_metric('m', 1)\nraise SystemError('x')", tmp_store)
    assert out.returncode != 0
    run = lw.get_run(out.stdout.strip())
    assert run.info.status == "FAILED"
    assert run.data.metrics == {"m": 1.0}


def test_import_is_light():
    code = (
        "import sys, logwright\n"
        "heavy = [m for m in ('numpy','pandas','torch','sklearn','xgboost','lightning','langchain_core',"
        "'dspy','sqlite3','boto3','botocore') if m in sys.modules]\nprint(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr
