"""An autologged fit never imports torch (skops.io's all_estimators() walk would, via
sklearn.externals.array_api_compat.torch), and the model still saves as skops."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap

import pytest
from logwright_sklearn import _skops

pytestmark = pytest.mark.skipif(importlib.util.find_spec("skops") is None, reason="needs skops")

_CHILD = textwrap.dedent("""
    import json, sys
    import logwright
    logwright.set_tracking_uri(sys.argv[1])
    logwright.autolog(only=["sklearn"])
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=300).fit(X, y)
    logwright.flush()
    after_fit = [m for m in ('torch', 'sklearn.externals.array_api_compat.torch') if m in sys.modules]
    run = logwright.search_runs()[0]
    loaded = logwright.load_model(f"runs:/{run.info.run_id}/model")
    after_load = [m for m in ('torch', 'sklearn.externals.array_api_compat.torch') if m in sys.modules]
    from sklearn.utils import all_estimators
    from logwright_sklearn._skops import all_estimators as ours
    same = ours() == all_estimators()
    print(json.dumps({"after_fit": after_fit, "after_load": after_load, "same_list": same,
                      "same_predictions": bool((loaded.predict(X) == model.predict(X)).all()),
                      "skops_loaded": "skops.io" in sys.modules,
                      "files": sorted(f.path for f in logwright.list_artifacts(run.info.run_id, "model"))}))
""")


def test_autologged_fit_and_load_do_not_import_torch(tmp_path):
    done = subprocess.run([sys.executable, "-c", _CHILD, str(tmp_path / "store")], capture_output=True,
                          text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["skops_loaded"] and "model/model.skops" in got["files"]
    assert got["after_fit"] == []
    assert got["after_load"] == []
    assert got["same_predictions"]
    assert got["same_list"]  # our walk finds exactly scikit-learn's estimators


def test_skops_io_puts_all_estimators_back():
    import sklearn.utils

    before = sklearn.utils.all_estimators
    assert _skops.skops_io() is sys.modules["skops.io"]
    assert sklearn.utils.all_estimators is before
