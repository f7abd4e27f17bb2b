"""Run context: source, git, environment, hardware, packages; and the system metrics sampler."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

import logwright
from logwright import context
from logwright.context import git, hardware
from logwright.context.system import SystemMetricsSampler


@pytest.fixture(autouse=True)
def _fresh_context():
    context.reset()
    yield
    context.reset()


def _git(cwd, *args):
    subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@x", "PATH": "/usr/bin:/bin", "HOME": str(cwd)})


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "-q", "-b", "trunk")
    (root / "train.py").write_text("print('hi')\n")
    _git(root, "add", "train.py")
    _git(root, "commit", "-q", "-m", "first")
    _git(root, "remote", "add", "origin", "https://user:secret@example.com/team/repo.git")
    return root


def test_git_clean_then_dirty(repo):
    info, diff = git.capture(str(repo))
    assert len(info["commit"]) == 40 and info["branch"] == "trunk" and info["dirty"] is False
    assert info["remote"] == "https://example.com/team/repo.git"  # credentials removed
    assert diff is None
    (repo / "train.py").write_text("print('changed')\n")
    (repo / "sub").mkdir()
    info, diff = git.capture(str(repo / "sub"))  # found from a subfolder too
    assert info["dirty"] is True and "changed" in diff


def test_git_diff_is_capped(repo, monkeypatch):
    monkeypatch.setattr(git, "DIFF_LIMIT", 100)
    (repo / "train.py").write_text("x = 1\n" * 1000)
    _, diff = git.capture(str(repo))
    assert diff.endswith("by logwright]\n") and len(diff) < 200


def test_outside_a_repository(tmp_path):
    if git.find_git_dir(str(tmp_path)) is None:  # /tmp is not inside a repository
        assert git.capture(str(tmp_path)) == ({}, None)


def test_hardware_and_env():
    hw = hardware.capture()
    assert hw["cores"] >= 1 and hw["memory_mb"] > 0 and isinstance(hw["cpu"], str)
    assert isinstance(hw["gpus"], list)


def test_capture_tags_and_packages(repo, monkeypatch):
    monkeypatch.chdir(repo)
    monkeypatch.setattr(sys.modules["__main__"], "__file__", str(repo / "train.py"), raising=False)
    ctx, tags = context.capture()
    assert ctx["source"]["name"] == str(repo / "train.py") and ctx["source"]["type"] == "SCRIPT"
    assert tags["logwright.git.branch"] == "trunk" and tags["logwright.git.dirty"] == "false"
    assert tags["logwright.source.name"].endswith("train.py")
    assert tags["logwright.user"] and tags["logwright.host"]
    assert ctx["packages"]["logwright"] == logwright.__version__
    assert "torch" not in ctx["packages"] or "torch" in sys.modules
    assert context.capture()[0]["git"] is ctx["git"]  # cached per process
    lines = context.format_context(ctx)
    assert any(line.startswith("git ") and "trunk" in line for line in lines)
    assert any(line.startswith("hardware") for line in lines)


def test_capture_switches(monkeypatch):
    for name in ("GIT", "ENV", "HARDWARE", "PACKAGES", "SOURCE"):
        monkeypatch.setenv(f"LOGWRIGHT_CAPTURE_{name}", "0")
    ctx, tags = context.capture()
    assert ctx == {} and tags == {}


def test_capture_never_imports_a_framework():
    code = ("import sys\nfrom logwright import context\ncontext.capture()\n"
            "assert not [m for m in ('torch', 'numpy', 'sklearn', 'pandas') if m in sys.modules]\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_runs_get_context_and_the_dirty_diff(tmp_store, repo, monkeypatch):
    monkeypatch.chdir(repo)
    monkeypatch.setattr(sys.modules["__main__"], "__file__", str(repo / "train.py"), raising=False)
    (repo / "train.py").write_text("print('dirty')\n")
    with logwright.start_run() as run:
        pass
    got = logwright.get_run(run.info.run_id)
    assert got.context["git"]["dirty"] is True and got.data.tags["logwright.git.dirty"] == "true"
    diff = logwright.Client().artifacts(run.info.run_id).path("context/git.diff")
    with open(diff, encoding="utf-8") as fh:
        assert "dirty" in fh.read()
    with logwright.start_run() as second:  # a sweep of runs keeps one copy of the same diff
        pass
    again = logwright.Client().artifacts(second.info.run_id).path("context/git.diff")
    assert os.path.samefile(diff, again)
    with open(again, encoding="utf-8") as fh:
        assert "dirty" in fh.read()


def test_system_metrics_sampler_logs_and_stops(tmp_store):
    with logwright.start_run() as run:
        sampler = SystemMetricsSampler(run.client, run.info.run_id, interval=0.05).start()
        deadline = time.time() + 10
        while sampler.samples < 2 and time.time() < deadline:
            time.sleep(0.02)
        sampler.stop()
        count = sampler.samples
    assert count >= 2
    history = logwright.get_metric_history(run.info.run_id, "system/cpu_percent")
    assert [m.step for m in history] == list(range(count))
    metrics = logwright.get_run(run.info.run_id).data.metrics
    for key in ("system/memory_used_mb", "system/disk_read_mb", "system/network_receive_mb"):
        assert key in metrics
    assert metrics["system/memory_used_mb"] > 0


def test_start_run_with_system_metrics_stops_with_the_run(tmp_store, monkeypatch):
    monkeypatch.setenv("LOGWRIGHT_SYSTEM_METRICS_INTERVAL", "30")
    with logwright.start_run(log_system_metrics=True) as run:
        sampler = run.system_metrics
        assert sampler is not None and sampler._thread.is_alive()
    assert sampler._thread is None and sampler.samples == 1  # the last sample, taken at the end
    assert "system/cpu_percent" in logwright.get_run(run.info.run_id).data.metrics
