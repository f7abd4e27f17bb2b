"""Bad input gets a clear error naming the offending key or value; nothing logged is lost."""

from __future__ import annotations

import pytest

import logwright as lw


@pytest.mark.parametrize(
    ("key", "error", "match"),
    [
        ("", ValueError, "must not be empty"),
        ("k" * 251, ValueError, "251 characters; the limit is 250"),
        ("a/../b", ValueError, "'a/../b'"),
        ("..", ValueError, r"'\.\.'"),
        ("/abs", ValueError, "'/abs'"),
        ("tab\there", ValueError, "control character"),
        ("nul\x00", ValueError, "control character"),
        (42, TypeError, "must be a string"),
    ],
)
def test_illegal_keys_name_the_key(tmp_store, key, error, match):
    with lw.start_run() as run:
        lw.log_metric("good", 1.0)
        for log in (lambda: lw.log_metric(key, 1.0), lambda: lw.log_param(key, 1),
                    lambda: lw.set_tag(key, "v")):
            with pytest.raises(error, match=match):
                log()
    data = lw.get_run(run.info.run_id).data
    assert data.metrics == {"good": 1.0} and data.params == {}


def test_non_numeric_metric_is_type_error(tmp_store):
    with lw.start_run() as run:
        lw.log_metric("ok", 2)
        with pytest.raises(TypeError, match="'acc' must be a number"):
            lw.log_metric("acc", "high")
        with pytest.raises(TypeError, match="'vec'"):
            lw.log_metrics({"vec": [1, 2]})
    assert lw.get_run(run.info.run_id).data.metrics == {"ok": 2.0}


def test_numpy_and_tensor_scalars_are_numbers(tmp_store):
    import numpy as np

    with lw.start_run() as run:
        lw.log_metric("np", np.float32(0.5))
        lw.log_metric("npint", np.int64(3))
    assert lw.get_run(run.info.run_id).data.metrics == {"np": 0.5, "npint": 3.0}


def test_long_param_value_states_limit(tmp_store):
    with lw.start_run() as run:
        lw.log_param("short", "x" * 6000)
        with pytest.raises(ValueError, match="'long'.*6001 characters; the limit is 6000"):
            lw.log_param("long", "x" * 6001)
    assert list(lw.get_run(run.info.run_id).data.params) == ["short"]


@pytest.mark.parametrize("path", ["../escape.txt", "/etc/passwd", "a/../../b.txt", "..", "C:/x"])
def test_artifact_paths_cannot_escape(tmp_store, tmp_path, path):
    with lw.start_run() as run:
        lw.log_text("kept", "kept.txt")
        with pytest.raises(ValueError, match="escapes"):
            lw.log_text("bad", path)
        src = tmp_path / "f.txt"
        src.write_text("x")
        with pytest.raises(ValueError, match="escapes"):
            lw.log_artifact(str(src), path)
    files = [f.path for f in lw.list_artifacts(run.info.run_id) if f.path != "context"]  # git diff
    assert files == ["kept.txt"]
    assert not (tmp_path / "escape.txt").exists()


def test_corrupt_store_file_is_refused_untouched(tmp_path):
    bad = tmp_path / "notes.db"
    bad.write_bytes(b"this is not sqlite at all" * 10)
    before = bad.read_bytes()
    with pytest.raises(lw.StoreError, match="not a logwright store"):
        lw.Client(f"sqlite:///{bad}")
    assert bad.read_bytes() == before


def test_unknown_run_id(tmp_store):
    with pytest.raises(lw.RunNotFound, match="'deadbeef' not found"):
        lw.get_run("deadbeef")
    with pytest.raises(lw.RunNotFound, match="deadbeef"):
        lw.log_param("p", 1, run_id="deadbeef")
    with pytest.raises(lw.RunNotFound, match="deadbeef"):
        lw.get_metric_history("deadbeef", "loss")
    with pytest.raises(lw.RunNotFound, match="deadbeef"):
        lw.start_run(run_id="deadbeef")


def test_unknown_experiment(tmp_store):
    with pytest.raises(lw.ExperimentNotFound, match="nope"):
        lw.search_runs(experiment="nope")
