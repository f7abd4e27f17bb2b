"""Autolog on for every test in this folder; helpers to read back what was logged."""

from __future__ import annotations

import os

import pytest

import logwright


@pytest.fixture(autouse=True)
def _autolog(tmp_store):
    logwright.autolog(only=["sklearn"])
    yield
    logwright.autolog(disable=True)


class _Read:
    """Helpers to read back what was logged (a fixture: test modules cannot import conftest)."""

    @staticmethod
    def runs(parent: bool | None = None) -> list:
        return runs(parent)

    @staticmethod
    def only_run():
        return only_run()

    @staticmethod
    def artifacts(run) -> set[str]:
        return artifacts(run)

    @staticmethod
    def path(run, rel: str) -> str:
        return logwright.Client().download_artifacts(run.info.run_id, rel)


@pytest.fixture
def read() -> _Read:
    """Read-back helpers."""
    return _Read()


def runs(parent: bool | None = None) -> list:
    """Every run of the default experiment (top-level only with parent=False)."""
    found = logwright.search_runs()
    if parent is False:
        found = [r for r in found if r.info.parent_run_id is None]
    return [logwright.get_run(r.info.run_id) for r in found]


def only_run():
    """The single top-level run (asserts there is exactly one)."""
    top = runs(parent=False)
    assert len(top) == 1, [r.info.run_name for r in top]
    return top[0]


def artifacts(run) -> set[str]:
    """Relative paths of every artifact file of a run."""
    root = logwright.Client().download_artifacts(run.info.run_id, "")
    out = set()
    for folder, _, files in os.walk(root):
        for f in files:
            out.add(os.path.relpath(os.path.join(folder, f), root).replace(os.sep, "/"))
    return out
