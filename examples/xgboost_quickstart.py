"""XGBoost quickstart: one line of logwright, then plain XGBoost.

Trains a native Booster with early stopping, a scikit-learn style XGBClassifier and
a 3-fold ``xgboost.cv``; each call becomes one run holding its params, per-round
metrics, feature importance, the model (UBJSON) and its training data. Then the
first model is loaded back from the store and checked to predict identically.

Run:  python examples/xgboost_quickstart.py     (about 5 s)
Look: logwright ui
"""

from __future__ import annotations

import numpy as np

import logwright

logwright.set_experiment("xgboost-quickstart")
logwright.autolog(xgboost={"log_plots": True})  # before or after importing xgboost

import xgboost as xgb  # noqa: E402 - imported after autolog() on purpose: patching waits for it
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402


def main() -> None:
    X, y = make_classification(2000, 10, n_informative=6, random_state=0)
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.25, random_state=0)
    dtrain, dval = xgb.DMatrix(X_train, y_train), xgb.DMatrix(X_val, y_val)

    params = {"objective": "binary:logistic", "eval_metric": ["logloss", "auc"], "max_depth": 4,
              "learning_rate": 0.3, "nthread": 2}
    booster = xgb.train(params, dtrain, num_boost_round=300, early_stopping_rounds=10,
                        evals=[(dtrain, "train"), (dval, "val")], verbose_eval=False)
    first = logwright.last_active_run()  # the run xgb.train made
    print(f"native train: stopped at round {booster.num_boosted_rounds() - 1}, "
          f"best round {booster.best_iteration}")

    clf = xgb.XGBClassifier(n_estimators=50, max_depth=3, eval_metric="logloss", n_jobs=2)
    clf.fit(X_train, y_train, eval_set=[(X_val, y_val)], verbose=False)
    runs = [first, logwright.last_active_run()]
    print(f"XGBClassifier accuracy: {clf.score(X_val, y_val):.3f}")

    result = xgb.cv(params, dtrain, num_boost_round=20, nfold=3, seed=0)
    runs.append(logwright.last_active_run())
    print(f"cv: final test-auc-mean {result['test-auc-mean'].iloc[-1]:.4f}")

    for run in runs:
        print(f"run {run.info.run_id} {run.info.run_name} ({run.info.status})")
    print(f"the native run logged {len(first.data.metrics)} metrics, e.g. "
          f"best_val-auc={first.data.metrics['best_val-auc']:.4f}")
    loaded = logwright.load_model(f"runs:/{first.info.run_id}/model")
    assert np.array_equal(loaded.predict(dval), booster.predict(dval))
    print(f"model reloaded from runs:/{first.info.run_id}/model predicts identically")
    print("look at them: logwright ui")


if __name__ == "__main__":
    main()
