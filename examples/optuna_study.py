"""Optuna quickstart: a study is one run, each trial a child run, and the fits inside log there.

Tunes a LogisticRegression's C with 5 Optuna trials (weak ones pruned by the objective), then
reloads the best trial's model, which the scikit-learn integration logged into that
trial's run. Takes a few seconds.

    python examples/optuna_study.py
    logwright ui            # then open the "optuna-quickstart" experiment
"""

from __future__ import annotations

import logwright

logwright.set_experiment("optuna-quickstart")
logwright.autolog()  # optuna and sklearn are patched when they are imported below

import optuna  # noqa: E402 - imported after autolog() on purpose
from sklearn.datasets import load_breast_cancer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402


def main() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_val, y_train, y_val = train_test_split(X, y, random_state=0)

    def objective(trial: optuna.Trial) -> float:
        c = trial.suggest_float("C", 1e-3, 10.0, log=True)
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=200))
        accuracy = model.fit(X_train, y_train).score(X_val, y_val)  # logged into this trial's run
        trial.report(accuracy, step=0)
        if accuracy < 0.96:  # a toy pruning rule: below 96% is not worth keeping
            raise optuna.TrialPruned()
        return accuracy

    study = optuna.create_study(study_name="breast-cancer-C", direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(objective, n_trials=5)  # one run for the study, a child run per trial
    parent = logwright.last_active_run()  # the study's run, read back with what it logged
    print(f"study run {parent.info.run_id}: best_value={parent.data.metrics['best_value']:.4f} "
          f"best_params={parent.data.tags['best_params']}")
    for trial in logwright.search_runs(filter=f"parent_run_id = '{parent.info.run_id}'", order_by=["start_time ASC"]):
        print(f"  trial run {trial.info.run_id} {trial.info.run_name}: {trial.data.tags['optuna.trial.state']} "
              f"C={trial.data.params['C']} value={trial.data.metrics.get('value')}")
    best_run_id = parent.data.tags["best_trial_run_id"]
    model = logwright.load_model(f"runs:/{best_run_id}/model")
    print(f"best trial's model reloaded from runs:/{best_run_id}/model: "
          f"accuracy {model.score(X_val, y_val):.4f} == {study.best_value:.4f}")


if __name__ == "__main__":
    main()
