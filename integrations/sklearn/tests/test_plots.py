"""PNG plots when matplotlib is installed: valid images, and the user's pyplot state untouched."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap

import pytest
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression

import logwright

matplotlib = pytest.importorskip("matplotlib")
Image = pytest.importorskip("PIL.Image")


def _image(read, run, rel):
    with open(read.path(run, rel), "rb") as fh:
        data = fh.read()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    img = Image.open(io.BytesIO(data))
    img.load()  # decodes every pixel: a truncated or corrupt file raises
    return img


def test_classifier_plots_are_valid_pngs_and_pyplot_state_is_untouched(read):
    import matplotlib.pyplot as plt

    plt.figure()  # the user's own open figure, current
    mine = plt.gcf()
    fignums, backend = plt.get_fignums(), matplotlib.get_backend()
    rc = dict(matplotlib.rcParams)
    try:
        X, y = load_breast_cancer(return_X_y=True)
        logwright.autolog(only=["sklearn"], log_models=False, sklearn={"log_plots": True})  # + curves
        RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
        assert plt.get_fignums() == fignums and plt.gcf() is mine
        assert matplotlib.get_backend() == backend
        assert dict(matplotlib.rcParams) == rc
    finally:
        plt.close(mine)
    run = read.only_run()
    files = read.artifacts(run)
    for rel in ("plots/confusion_matrix.png", "plots/roc_curve.png", "plots/precision_recall_curve.png",
                "plots/feature_importances.png"):
        assert rel in files
        width, height = _image(read, run, rel).size
        assert width >= 200 and height >= 150


def test_coefficients_and_multiclass_confusion(read):
    X, y = load_iris(return_X_y=True)
    LogisticRegression(max_iter=300).fit(X, y)
    run = read.only_run()
    files = read.artifacts(run)
    assert {"plots/confusion_matrix.png", "plots/feature_importances.png"} <= files
    assert "plots/roc_curve.png" not in files  # curves only for binary classifiers, and when asked
    _image(read, run, "plots/confusion_matrix.png")


def test_default_binary_classifier_has_no_curves(read):
    X, y = load_breast_cancer(return_X_y=True)
    RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
    plots = {p for p in read.artifacts(read.only_run()) if p.startswith("plots/")}
    assert plots == {"plots/confusion_matrix.png", "plots/feature_importances.png"}


def test_regressor_plots_coefficients_only_and_log_plots_false_plots_nothing(read):
    X, y = load_iris(return_X_y=True)
    LinearRegression().fit(X, y.astype(float))
    files = read.artifacts(read.only_run())
    assert {p for p in files if p.startswith("plots/")} == {"plots/feature_importances.png"}
    logwright.autolog(only=["sklearn"], log_models=False, sklearn={"log_plots": False})
    LogisticRegression(max_iter=300, C=2.0).fit(X, y)
    run = [r for r in read.runs() if r.data.params.get("C") == "2.0"][0]
    assert not [p for p in read.artifacts(run) if p.startswith("plots/")]


def test_plotting_imports_neither_pyplot_nor_a_backend_switch(tmp_path):
    child = textwrap.dedent("""
        import sys, logwright, matplotlib
        backend = dict.__getitem__(matplotlib.rcParams, "backend")  # read without resolving it
        logwright.set_tracking_uri(sys.argv[1])
        logwright.autolog(only=["sklearn"], log_models=False)
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression
        X, y = load_iris(return_X_y=True)
        LogisticRegression(max_iter=300).fit(X, y)
        print("matplotlib.figure" in sys.modules, "matplotlib.pyplot" in sys.modules,
              dict.__getitem__(matplotlib.rcParams, "backend") is backend)
    """)
    done = subprocess.run([sys.executable, "-c", child, str(tmp_path / "store")], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["True", "False", "True"]  # drawn; no pyplot; backend still unresolved


def test_cross_validation_folds_get_no_plots_unless_asked(read):
    from sklearn.model_selection import cross_val_score

    X, y = load_iris(return_X_y=True)
    logwright.autolog(only=["sklearn"], log_models=False)
    cross_val_score(LogisticRegression(max_iter=300), X, y, cv=2)
    folds = read.runs()
    assert len(folds) == 2 and all("training_accuracy" in r.data.metrics for r in folds)
    assert not [p for r in folds for p in read.artifacts(r) if p.startswith("plots/")]
    logwright.autolog(only=["sklearn"], log_models=False, sklearn={"log_plots": True})
    cross_val_score(LogisticRegression(max_iter=300, C=3.0), X, y, cv=2)
    asked = [r for r in read.runs() if r.data.params.get("C") == "3.0"]
    assert len(asked) == 2 and all("plots/confusion_matrix.png" in read.artifacts(r) for r in asked)
