"""``logwright models list/show/register/alias/delete`` on a real store."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import logwright as lw
from logwright.cli import main


def _logged_model() -> str:
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression().fit([[0.0, 1.0], [1.0, 0.0], [0.0, 0.9], [0.9, 0.1]], [0, 1, 0, 1])
    with lw.start_run() as run:
        lw.log_model(clf, "model")
    lw.flush()
    return run.info.run_id


def test_register_alias_show_list_and_delete(tmp_store, capsys):
    run_id = _logged_model()
    assert main(["--store", tmp_store, "models", "register", f"runs:/{run_id[:10]}/model", "churn",
                 "--tag", "data=nov", "--description", "baseline", "--alias", "champion"]) == 0
    assert "registered churn version 1 (models:/churn/1, alias @champion)" in capsys.readouterr().out
    assert main(["--store", tmp_store, "models", "register", f"runs:/{run_id}/model", "churn"]) == 0
    assert "version 2" in capsys.readouterr().out
    assert main(["--store", tmp_store, "models", "alias", "churn", "champion", "2"]) == 0
    assert "churn@champion -> version 2" in capsys.readouterr().out
    assert lw.get_model_version_by_alias("churn", "champion").version == 2
    assert main(["--store", tmp_store, "models", "list"]) == 0
    out = capsys.readouterr().out
    assert "churn" in out and "@champion=2" in out and "LATEST" in out
    assert main(["--store", tmp_store, "models", "show", "churn"]) == 0
    out = capsys.readouterr().out
    assert f"runs:/{run_id}/model" in out and "sklearn" in out and "@champion" in out and "baseline" in out
    assert main(["--store", tmp_store, "models", "show", "churn", "--json"]) == 0
    (shown,) = json.loads(capsys.readouterr().out)
    assert [v["version"] for v in shown["versions"]] == [2, 1] and shown["aliases"] == {"champion": 2}
    assert shown["versions"][1]["tags"] == {"data": "nov"} and shown["versions"][1]["run_id"] == run_id
    assert main(["--store", tmp_store, "models", "list", "-f", "name LIKE 'ch%'", "--json"]) == 0
    assert [m["name"] for m in json.loads(capsys.readouterr().out)] == ["churn"]
    assert main(["--store", tmp_store, "models", "alias", "churn", "champion", "--delete"]) == 0
    assert lw.get_registered_model("churn").aliases == {}
    capsys.readouterr()
    assert main(["--store", tmp_store, "models", "delete", "churn", "--version", "1"]) == 0
    assert [v.version for v in lw.search_model_versions("name = 'churn'")] == [2]
    assert main(["--store", tmp_store, "models", "delete", "churn"]) == 2
    assert "--yes" in capsys.readouterr().err
    assert main(["--store", tmp_store, "models", "delete", "churn", "--yes"]) == 0
    assert lw.search_registered_models() == []


def test_errors_are_one_clear_line(tmp_store, capsys):
    run_id = _logged_model()
    assert main(["--store", tmp_store, "models", "show", "nope"]) == 1
    assert "registered model 'nope' does not exist" in capsys.readouterr().err
    assert main(["--store", tmp_store, "models", "list", "-f", "nme = 'x'"]) == 2
    assert "unknown field" in capsys.readouterr().err
    assert main(["--store", tmp_store, "models", "register", f"runs:/{run_id}/missing", "m"]) == 1
    assert "not a logged model" in capsys.readouterr().err
    assert main(["--store", tmp_store, "models", "register", f"runs:/{run_id}/model", "m", "--tag", "x"]) == 2
    assert main(["--store", tmp_store, "models", "register", f"runs:/{run_id}/model", "m"]) == 0
    assert main(["--store", tmp_store, "models", "alias", "m", "prod"]) == 2
    assert main(["--store", tmp_store, "models", "alias", "m", "prod", "7"]) == 1
    assert "version 7" in capsys.readouterr().err


def test_models_command_in_a_fresh_process(tmp_store):
    run_id = _logged_model()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("LOGWRIGHT_")}, "LOGWRIGHT_QUIET": "1"}
    cmd = [sys.executable, "-m", "logwright.cli", "--store", tmp_store, "models"]
    done = subprocess.run([*cmd, "register", f"runs:/{run_id}/model", "fresh"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0 and "fresh version 1" in done.stdout, done.stderr
    done = subprocess.run([*cmd, "list", "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert [m["name"] for m in json.loads(done.stdout)] == ["fresh"], done.stderr
