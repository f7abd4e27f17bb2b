"""Optuna autolog: each ``Study.optimize`` is a parent run, each trial a child run.

``logwright.autolog()`` wraps ``Study.optimize`` and ``Trial.report``. One ``optimize``
call logs into the active run, or into a run it starts and ends (named after the study;
FAILED, with the error as the ``logwright.error`` tag, if ``optimize`` raised):

- parent params: ``study_name``, ``direction`` (``directions`` for a multi-objective
  study), ``sampler``, ``pruner`` (class names) and ``n_trials``, ``timeout``, ``n_jobs``;
  tag ``optuna.study_name``;
- parent metrics, as the study goes (step = trial number): ``trial_value`` of each
  complete trial, ``best_value`` and ``best_trial_number``; tags ``best_params`` (JSON)
  and ``best_trial_run_id``; at the end ``n_trials_complete``/``_pruned``/``_failed``,
  and for a multi-objective study the Pareto front (tag ``best_trials``, metric ``n_best_trials``);
- one child run per trial (``trial-<number>``), started before the objective runs and
  active in the thread running it, so autologged fits inside the objective (a
  scikit-learn ``fit``) log into it: params ``trial.params``; metrics
  ``intermediate_value`` (each ``trial.report``, step = its step), ``value`` (or
  ``value_<i>`` / the study's ``metric_names``) and ``duration_s``; tags
  ``optuna.trial.number``, ``optuna.trial.state`` (COMPLETE, PRUNED, FAIL), the trial's
  user attrs (``optuna.user_attr.<key>``); status FINISHED (COMPLETE, PRUNED) or FAILED
  (FAIL, with the reason as ``logwright.error``).

Parallel trials (``n_jobs``) each get their own run. Logging goes through Optuna's own
``callbacks`` (:class:`LogwrightOptunaCallback`, first in the list; yours keep their
order); ``optimize``'s return value, the trials and the study are what they would be
without logwright. Knobs: the common ones. Supported: optuna >= 3.6 (tested up to 5.0).
"""

from __future__ import annotations

from logwright.autolog import AutologConfig, Integration, Patch

TYPE_CHECKING = False
if TYPE_CHECKING:  # autolog() loads this class at start-up: keep its imports light
    from collections.abc import Sequence
    from typing import Any

__all__ = ["LogwrightOptunaCallback", "OptunaIntegration"]


class OptunaIntegration(Integration):
    """Autolog for Optuna (>= 3.6): a study's ``optimize`` is a run, each trial a child run.

    What is logged, and when, is in this module's docstring.
    """

    name = "optuna"
    module = "optuna"
    requirement = "optuna>=3.6"
    tested_up_to = "5.0"
    defaults: dict[str, Any] = {}

    def patches(self, config: AutologConfig) -> Sequence[Patch]:
        """``Study.optimize`` (runs, callback, objective wrapper) and ``Trial.report`` (the curve)."""
        from logwright_optuna._hooks import make_optimize_wrapper, make_report_wrapper

        return [
            Patch("optuna.study.study", "Study.optimize", make_optimize_wrapper(self)),
            Patch("optuna.trial", "Trial.report", make_report_wrapper(self)),
        ]


def __getattr__(name: str) -> Any:
    if name == "LogwrightOptunaCallback":  # importing it needs optuna: load on first use
        from logwright_optuna._hooks import LogwrightOptunaCallback

        return LogwrightOptunaCallback
    raise AttributeError(name)
