"""The wrappers core installs, and the Optuna callback they hand to ``Study.optimize``.

``Study.optimize`` is wrapped to start the study's run, put :class:`LogwrightOptunaCallback`
first in Optuna's ``callbacks`` and wrap the objective, so that each trial's run is
active in the thread that runs the objective (autologged fits inside it log there).
The callback ends a trial's run once Optuna has decided its state; a trial whose
objective raised is ended by the objective wrapper (Optuna calls no callback when it
re-raises). ``Trial.report`` is wrapped to log the intermediate values as they come.
"""

from __future__ import annotations

import contextvars
import datetime
import threading

import logwright
from logwright.autolog import (
    end_autolog_run,
    guard,
    is_rank_zero,
    log_params,
    managed_run,
    outside_logging_call,
)
from logwright_optuna import _records

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from typing import Any

NAME = "optuna"
# The optimize parameters after ``self``, in order (the same from optuna 3.6 to 5.0).
_OPTIMIZE_ARGS = ("func", "n_trials", "timeout", "n_jobs", "catch", "callbacks", "gc_after_trial",
                  "show_progress_bar")
# The trial whose objective runs in this thread or task, and its record: Trial.report logs there.
_current: contextvars.ContextVar[tuple[Any, _TrialLog] | None] = contextvars.ContextVar(
    "logwright_optuna_trial", default=None)


class _TrialLog:
    """One trial's run while its objective runs: the run, the steps logged, what it returned or raised."""

    __slots__ = ("run", "steps", "returned", "error")

    def __init__(self, run: Any) -> None:
        self.run, self.steps, self.returned, self.error = run, set(), None, None


class LogwrightOptunaCallback:
    """Optuna callback (``study.optimize(..., callbacks=[...])``): each trial a child run.

    Autolog adds one to every ``optimize`` call. Used by hand (without autolog), it logs
    each finished trial after the fact (params, values, intermediate values, state) as a
    run under the run active when it was made, or as a top-level run.

    Args:
        parent: the study's run (default: the active run, if any).
        study: the study, to seed the best value from its earlier trials.
        config: the integration's options (``extra_tags``); default none.
    """

    def __init__(self, parent: Any = None, study: Any = None, config: Any = None) -> None:
        self.parent = parent if parent is not None else logwright.active_run()
        self.extra_tags = dict((config.get("extra_tags") if config is not None else None) or {})
        self.counts = {"COMPLETE": 0, "PRUNED": 0, "FAIL": 0}
        self.best: tuple[float, int] | None = None
        self.minimize: bool | None = None
        self._seeded = False
        self._open: dict[int, _TrialLog] = {}
        self.after_the_fact = True  # a trial without a run gets one when told (False: autolog's objective wrapper runs)
        self._lock = threading.Lock()
        if study is not None:
            self._seed_best(study)

    @guard(NAME)
    def _seed_best(self, study: Any, exclude: int | None = None) -> None:
        """The direction, and the best of the trials complete so far (an earlier optimize's count)."""
        self._seeded = True
        found = _records.directions(study)
        self.minimize = found[0] == "minimize" if len(found) == 1 else None
        if self.minimize is None:
            return
        for t in study.get_trials(deepcopy=False):
            if t.state.name == "COMPLETE" and t.number != exclude and _records.is_better(
                    self.minimize, t.value, None if self.best is None else self.best[0]):
                self.best = (float(t.value), t.number)

    @guard(NAME)
    def start_study(self, study: Any, arguments: dict[str, Any]) -> None:
        """Log the study's params and tag into the parent run."""
        params = _records.study_params(study, arguments.get("n_trials"), arguments.get("timeout"),
                                       arguments.get("n_jobs", 1))
        run_id = self.parent.info.run_id
        self.parent.client.set_tags(run_id, {"optuna.study_name": study.study_name})
        log_params(self.parent.client, run_id, params)

    @guard(NAME)
    def start_trial(self, study: Any, trial: Any) -> _TrialLog | None:
        """Start the trial's run, active in this thread (None when that failed)."""
        tags = {"logwright.autolog": NAME, **self.extra_tags,
                "optuna.study_name": study.study_name, "optuna.trial.number": str(trial.number)}
        parent = self.parent.info if self.parent is not None else None
        run = logwright.start_run(run_name=f"trial-{trial.number}", nested=True, tags=tags, log_system_metrics=False,
                                  parent_run_id=parent and parent.run_id, experiment_id=parent and parent.experiment_id)
        run.owned_by_autolog = True
        log = _TrialLog(run)
        with self._lock:
            self._open[trial.number] = log
        return log

    @guard(NAME)
    def __call__(self, study: Any, frozen: Any) -> None:
        """Optuna's callback: the trial is told; log its outcome and end its run."""
        with self._lock:
            log = self._open.pop(frozen.number, None)
        if log is None:  # by hand (no objective wrapper); else it raised and its run has ended
            if not self.after_the_fact:
                return
            if not self._seeded:
                self._seed_best(study, exclude=frozen.number)
            log = self.start_trial(study, frozen)
            if log is None:
                return
            with self._lock:
                self._open.pop(frozen.number, None)
        curve = frozen.intermediate_values  # reports made where Trial.report was not logged
        for step in sorted(set(curve) - log.steps):  # (inside another autologged call: a pruning callback)
            log.run.client.log_metric(log.run.info.run_id, "intermediate_value", curve[step], step=step)
        error = None if frozen.state.name != "FAIL" else _records.fail_reason(log.error, log.returned)
        self._finish(study, log, frozen, frozen.state.name, frozen.values, frozen.datetime_complete, error)

    @guard(NAME)
    def trial_raised(self, study: Any, trial: Any, error: BaseException, catch: tuple) -> None:
        """The objective raised: Optuna calls the callbacks for ``TrialPruned`` and the ``catch``
        errors; any other error it re-raises without them, so that trial's run (FAIL) ends here."""
        from optuna.exceptions import TrialPruned

        with self._lock:
            log = self._open.get(trial.number)
            if log is None:
                return
            log.error = error
            if isinstance(error, (TrialPruned, *catch)):
                return
            del self._open[trial.number]
        self._finish(study, log, trial, "FAIL", None, _now(None), _records.fail_reason(error, None),
                     killed=isinstance(error, KeyboardInterrupt))

    def _finish(self, study: Any, log: _TrialLog, trial: Any, state: str, values: Any, end: Any,
                error: str | None, killed: bool = False) -> None:
        run = log.run
        try:
            client, run_id = run.client, run.info.run_id
            log_params(client, run_id, trial.params)
            metrics = _records.value_metrics(study, values)
            duration = _records.duration_s(trial.datetime_start, end)
            if duration is not None:
                metrics["duration_s"] = duration
            if metrics:
                client.log_metrics(run_id, metrics)
            tags = _records.trial_tags(trial.number, state, trial.user_attrs)
            if error is not None:
                tags["logwright.error"] = error
            client.set_tags(run_id, tags)
            self._count(study, state, values, trial, run_id)
        finally:  # whatever failed above, the run ends
            status = "KILLED" if killed else _records.STATE_STATUS.get(state, "KILLED")
            end_autolog_run(run, status)

    def _count(self, study: Any, state: str, values: Any, trial: Any, run_id: str) -> None:
        improved = False
        with self._lock:
            if state in self.counts:
                self.counts[state] += 1
            if state != "COMPLETE" or self.minimize is None or not values or self.parent is None:
                return
            value = float(values[0])
            if _records.is_better(self.minimize, value, None if self.best is None else self.best[0]):
                self.best, improved = (value, trial.number), True
            best_value, best_number = self.best if self.best is not None else (value, trial.number)
        parent_id, client = self.parent.info.run_id, self.parent.client
        client.log_metrics(parent_id, {"trial_value": value, "best_value": best_value,
                                       "best_trial_number": best_number}, step=trial.number)
        if improved:
            client.set_tags(parent_id, _records.best_tags(trial.params, run_id))

    @guard(NAME)
    def close(self, study: Any) -> None:
        """After ``optimize``: end the runs of trials it left unfinished, log the study's totals."""
        with self._lock:
            left, self._open = self._open, {}
        if left:
            by_number = {t.number: t for t in study.get_trials(deepcopy=False)}
            for number, log in left.items():
                trial = by_number.get(number)
                if trial is None:
                    end_autolog_run(log.run, "KILLED")
                    continue
                state = trial.state.name  # RUNNING: the objective never returned (SystemExit, say)
                self._finish(study, log, trial, state, trial.values, _now(trial.datetime_complete), None,
                             killed=state not in _records.STATE_STATUS)
        if self.parent is None:
            return
        client, run_id = self.parent.client, self.parent.info.run_id
        client.log_metrics(run_id, {f"n_trials_{k}": v for k, v in
                                    (("complete", self.counts["COMPLETE"]), ("pruned", self.counts["PRUNED"]),
                                     ("failed", self.counts["FAIL"]))})
        if self.minimize is None:
            front = sorted(t.number for t in study.best_trials)
            client.log_metrics(run_id, {"n_best_trials": len(front)})
            client.set_tags(run_id, {"best_trials": ",".join(map(str, front))})


def _now(known: Any) -> Any:
    return known if known is not None else datetime.datetime.now()


class _Objective:
    """The user's objective, run with the trial's run active; its outcome passes through untouched."""

    __slots__ = ("func", "callback", "study", "catch")

    def __init__(self, func: Callable[[Any], Any], callback: LogwrightOptunaCallback, study: Any,
                 catch: tuple) -> None:
        self.func, self.callback, self.study, self.catch = func, callback, study, catch

    def __call__(self, trial: Any) -> Any:
        log = self.callback.start_trial(self.study, trial)
        if log is None:  # our failure: the objective alone
            return self.func(trial)
        token = _current.set((trial, log))
        try:
            with outside_logging_call():  # the objective's own autologged fits log, into this trial
                result = self.func(trial)
        except (Exception, KeyboardInterrupt) as exc:  # what Optuna catches; re-raised as it is
            self.callback.trial_raised(self.study, trial, exc, self.catch)
            raise
        finally:
            _current.reset(token)
        log.returned = result
        return result


class _Callbacks:
    """Our callback, then the user's callbacks, iterated afresh each time as Optuna iterates them."""

    __slots__ = ("ours", "theirs")

    def __init__(self, ours: LogwrightOptunaCallback, theirs: Iterable[Any] | None) -> None:
        self.ours, self.theirs = ours, theirs

    def __iter__(self) -> Iterator[Any]:
        yield self.ours
        if self.theirs is not None:
            yield from self.theirs


def _arguments(args: tuple, kwargs: dict) -> dict[str, Any] | None:
    """``optimize``'s arguments by name; None for a call this version's signature cannot explain."""
    if len(args) > len(_OPTIMIZE_ARGS) or not set(kwargs) <= set(_OPTIMIZE_ARGS):
        return None
    found = dict(zip(_OPTIMIZE_ARGS, args, strict=False))
    if set(found) & set(kwargs):
        return None
    found.update(kwargs)
    return found if "func" in found else None


def _catch(arguments: dict[str, Any]) -> tuple:
    """The errors after which ``optimize`` goes on (FAIL trials), read as Optuna reads ``catch``.

    An iterable is read once, here, and handed on as that tuple: Optuna makes the same tuple of it.
    """
    from collections.abc import Iterable

    catch = arguments.get("catch", ())
    if isinstance(catch, Iterable):
        catch = arguments["catch"] = tuple(catch)
    else:
        catch = (catch,)
    return tuple(t for t in catch if isinstance(t, type))


def make_optimize_wrapper(integration: Any) -> Callable[..., Any]:
    """The ``Study.optimize`` wrapper: the study's run, our callback first, the objective wrapped."""

    def _wrap_study_optimize(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        arguments = _arguments(args, kwargs)
        if arguments is None or not is_rank_zero():
            return wrapped(*args, **kwargs)
        cfg = integration.config
        with managed_run(integration.name, cfg, run_name=instance.study_name) as run:
            callback = LogwrightOptunaCallback(run, instance, cfg)
            callback.after_the_fact = False
            callback.start_study(instance, arguments)
            arguments["func"] = _Objective(arguments["func"], callback, instance, _catch(arguments))
            arguments["callbacks"] = _Callbacks(callback, arguments.get("callbacks"))
            try:
                return wrapped(**arguments)
            finally:
                callback.close(instance)

    return _wrap_study_optimize


def make_report_wrapper(integration: Any) -> Callable[..., Any]:
    """The ``Trial.report`` wrapper: each new step's value on the trial's ``intermediate_value`` curve."""

    def _wrap_trial_report(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        result = wrapped(*args, **kwargs)
        current = _current.get()
        if current is not None and current[0] is instance:
            log = current[1]
            value = args[0] if args else kwargs["value"]
            step = int(args[1] if len(args) > 1 else kwargs["step"])
            if step not in log.steps:  # Optuna keeps a step's first value and ignores the rest
                log.steps.add(step)
                log.run.client.log_metric(log.run.info.run_id, "intermediate_value", float(value), step=step)
        return result

    return _wrap_trial_report
