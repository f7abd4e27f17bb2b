"""Without MLflow installed, ``logwright import/export mlflow`` say what to install (tests/mlflow_io run them for real)."""

from __future__ import annotations

import importlib.util

import pytest

from logwright.cli import main


@pytest.mark.skipif(importlib.util.find_spec("mlflow") is not None, reason="MLflow is installed here")
@pytest.mark.parametrize("argv", [["import", "mlflow", "sqlite:///mlflow.db", "--to", "{tmp}"],
                                  ["--create", "export", "mlflow", "sqlite:///mlflow.db", "--from", "{tmp}"]])
def test_without_mlflow_the_commands_say_what_to_install(tmp_path, capsys, argv):
    assert main([a.format(tmp=tmp_path / "store") for a in argv]) == 1
    err = capsys.readouterr().err
    assert "pip install 'logwright[mlflow]'" in err
    assert not (tmp_path / "store").exists()  # nothing was created
