"""Fixtures for the Optuna integration tests: autolog on for each test, Optuna quiet, runs by role."""

from __future__ import annotations

import pytest

import logwright

optuna = pytest.importorskip("optuna")


@pytest.fixture(autouse=True)
def _autolog(tmp_store):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logwright.autolog(only=["optuna"])
    yield
    logwright.autolog(disable=True)


@pytest.fixture
def client(tmp_store):
    return logwright.Client()


@pytest.fixture
def study_runs():
    """``study_runs(client)`` -> (the study's run, {trial number: trial run}), read from the store."""
    return _study_runs


def _study_runs(client):
    runs = client.search_runs(None, max_results=None)
    (parent,) = [r for r in runs if r.info.parent_run_id is None]
    trials = {int(r.data.tags["optuna.trial.number"]): r for r in runs if r.info.parent_run_id is not None}
    return parent, trials
