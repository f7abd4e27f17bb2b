"""scikit-learn quickstart: one line of logwright, and every fit leaves a run behind.

Runs a Pipeline, a GridSearchCV (child runs per candidate) and an evaluation on a
held-out set, then prints what was logged and where. Takes a few seconds.

    python examples/sklearn_quickstart.py
    logwright ui            # then open the "sklearn-quickstart" experiment
"""

from __future__ import annotations

import logwright

logwright.set_experiment("sklearn-quickstart")
logwright.autolog()  # sklearn is patched when it is imported below

from sklearn.datasets import load_breast_cancer  # noqa: E402 - imported after autolog() on purpose
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402


def main() -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    search = GridSearchCV(pipe, {"logisticregression__C": [0.01, 0.1, 1.0, 10.0]}, cv=3, n_jobs=2)
    search.fit(X_train, y_train)  # one parent run, child runs for the best candidates
    run_id = logwright.last_active_run().info.run_id  # the run that fit made

    y_pred = search.predict(X_test)
    f1_score(y_test, y_pred)  # logged into the search's run as f1_score_X_test
    search.score(X_test, y_test)  # logged as score_X_test

    logwright.flush()
    parent = logwright.get_run(run_id)  # read again: it now has the post-training metrics too
    children = logwright.search_runs(filter=f"parent_run_id = '{run_id}'", order_by=["start_time ASC"])
    for run in [parent, *children]:
        kind = "child " if run.info.parent_run_id else "parent"
        metrics = {k: round(v, 4) for k, v in sorted(run.data.metrics.items()) if "test" in k or "best" in k}
        print(f"{kind} run {run.info.run_id} {run.info.run_name}: {metrics}")
    model = logwright.load_model(f"runs:/{run_id}/model")
    print(f"model reloaded from runs:/{run_id}/model agrees:", bool((model.predict(X_test) == y_pred).all()))
    print("store:", logwright.get_tracking_uri() or "./logwright-runs", "- browse it with `logwright ui`")


if __name__ == "__main__":
    main()
