"""scikit-learn autolog: every ``fit`` leaves a run with its params, metrics, data and model.

What an outermost ``fit``, ``fit_transform`` or ``fit_predict`` of any scikit-learn
estimator logs (nested fits, as in a Pipeline, a VotingClassifier or a search,
log nothing of their own):

- params: ``get_params(deep=True)`` (a Pipeline's steps as ``step__param``), values as
  strings cut to 6,000 characters; tags ``estimator_name`` and ``estimator_class``;
- training metrics on the training data: ``training_accuracy``, ``training_precision``,
  ``training_recall``, ``training_f1`` (weighted; ``pos_label`` for binary),
  ``training_log_loss`` and ``training_roc_auc`` (with ``predict_proba``),
  ``training_mse``/``rmse``/``mae``/``r2``, ``training_silhouette`` (<= 5,000 samples) and
  ``training_inertia``, and ``training_score``; only for scikit-learn's own models unless
  ``training_metrics="all"``, on at most ``max_scored_rows`` rows (see ``_scoring``);
- the training data as a run input (digest, shape, schema), named after its variable;
- ``feature_importances.json`` (importances, or coefficients and intercepts),
  ``confusion_matrix.json``, and PNG plots of them when matplotlib is installed
  (drawn without pyplot; binary ROC/PR curves too with ``log_plots=True``);
- the model (``log_models``) with the ``sklearn`` flavour, its signature (DataFrame
  column names kept) and, with ``log_input_examples=True``, five input rows;
- searches (``GridSearchCV``, ``RandomizedSearchCV``, Halving*): the search's own params
  (its estimator by class, no ``estimator__*``), ``best_*`` params,
  ``best_cv_score``, ``cv_results.csv``, the best ``max_tuning_runs`` candidates as child
  runs, and ``best_estimator_`` as the model.

``partial_fit`` calls on one estimator log into one run, metrics stepped per call.
After a fit, ``model.score(X, y)`` and ``sklearn.metrics`` functions given the
model's predictions log ``<metric>_<dataset>`` into its run (``log_post_training_metrics``).
Supported: scikit-learn >= 1.3 (tested up to 1.9).
"""

from __future__ import annotations

from logwright.autolog import AutologConfig, Integration, ModulePatches

TYPE_CHECKING = False
if TYPE_CHECKING:
    from logwright_sklearn._hooks import SklearnHooks

__all__ = ["SklearnIntegration"]


class SklearnIntegration(Integration):
    """Autolog for scikit-learn (>= 1.3, tested up to 1.9): fits, searches, evaluation, models.

    Knobs (``autolog(sklearn={...})``), besides the common ``log_models``, ``log_datasets``
    and ``log_input_examples``: ``log_plots`` (None: confusion matrix and importances when
    matplotlib is installed, except for the folds of ``cross_validate`` & co.; True: also
    ROC/PR curves, and for folds too; False: none), ``max_tuning_runs`` (5; None = all),
    ``log_post_training_metrics`` (True), ``pos_label`` (None: weighted averages),
    ``serialization`` (None = skops when installed, else pickle; or "skops"/"pickle"),
    ``training_metrics`` ("builtin": call predict/score only on scikit-learn's own
    estimators; "all"; "none") and ``max_scored_rows`` (100,000; every k-th row above it).
    """

    name = "sklearn"
    module = "sklearn"
    requirement = "scikit-learn>=1.3"
    tested_up_to = "1.9"
    defaults = {
        "log_plots": None,
        "max_tuning_runs": 5,
        "log_post_training_metrics": True,
        "pos_label": None,
        "serialization": None,
        "training_metrics": "builtin",
        "max_scored_rows": 100_000,
    }

    def __init__(self) -> None:
        super().__init__()
        self.hooks: SklearnHooks | None = None  # built once scikit-learn is imported (see _hooks)

    def patches(self, config: AutologConfig) -> list[ModulePatches]:
        """Each ``sklearn.*`` module's patches, built as the registry sees it imported."""
        from logwright_sklearn import _discovery
        from logwright_sklearn._hooks import SklearnHooks

        if self.hooks is None:
            self.hooks = SklearnHooks(self)
        self.hooks.clear()
        return [ModulePatches(name, self.hooks.module_patches) for name in _discovery.sklearn_modules()]

    def on_enable(self, config: AutologConfig) -> None:
        """Check the knobs (the registry applies the patches, now or on each module's import)."""
        self.check_knobs(config)

    @staticmethod
    def check_knobs(config: AutologConfig) -> None:
        """Refuse an unknown ``training_metrics`` (checked again before each run starts)."""
        from logwright_sklearn._scoring import POLICIES

        if config.get("training_metrics") not in POLICIES:
            raise ValueError(f"sklearn training_metrics must be one of {POLICIES}, "
                             f"got {config.get('training_metrics')!r}")

    def on_disable(self) -> None:
        """Forget tracked models and partial fits (the registry reverts the patches)."""
        if self.hooks is not None:
            self.hooks.clear()
