"""DSPy autolog: traces of programs, runs for optimizers and evaluations.

``logwright.autolog()`` adds :class:`~logwright_dspy._callback.LogwrightDSPyCallback`
to DSPy's global callbacks (DSPy's own extension point), so every top-level module
call (``__call__``/``acall``) is a trace with a span per module, LM call, adapter
format/parse and tool. ``dspy.configure(callbacks=...)`` is wrapped so that replacing
the global list keeps ours; a ``dspy.context(callbacks=[...])`` block runs exactly the
callbacks it names; ``dspy.settings.save()`` leaves ours out of the file.

wrapt patches are used only where DSPy has no hook that can hold a run:

- ``compile`` of every ``Teleprompter`` subclass (BootstrapFewShot, LabeledFewShot,
  MIPROv2, ...) is a run: the optimizer's class and settings as params, trainset and
  valset sizes, the metric's name, ``candidate_score`` (one step per evaluation the
  optimizer runs), per-trial scores (``trial_full_eval_score``/``trial_mb_score``),
  ``best_score``, the number of demos, and the compiled program as a model
  (``log_model``, flavour ``dspy``). Traces made during compile are linked to the run
  but off by default (``log_traces_from_compile``).
- ``Evaluate.__call__`` is a run: the aggregate ``score`` as a metric, the devset size,
  the metric's name, and ``eval_results.json`` (inputs, labels, prediction, score,
  trace id per example); each example's trace carries ``dspy.evaluate.score``.

Supported: dspy 3.3 and newer (tested with 3.3.0 and 3.4.1); 3.3 added the call-id context this relies on.
"""

from __future__ import annotations

from logwright.autolog import AutologConfig, Integration, Patch, managed_run
from logwright.lazylog import get_logger

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

_logger = get_logger(__name__)

__all__ = ["DSPyIntegration"]


class DSPyIntegration(Integration):
    """Traces DSPy programs and logs optimizer compiles and evaluations as runs (dspy>=3.3).

    Traces: one per top-level module call, with module, LM, adapter and tool spans
    (signatures, messages, outputs, model parameters, token usage, cache hits).
    Runs: every ``Teleprompter.compile`` (settings, dataset sizes, scores, compiled
    program) and every top-level ``Evaluate`` call (score, per-example table).
    Own knobs: ``log_traces_from_compile`` (False), ``log_traces_from_eval`` (True),
    ``log_compiles`` (True), ``log_evals`` (True).
    """

    name = "dspy"
    module = "dspy"
    requirement = "dspy>=3.3"
    tested_up_to = "3.4"
    defaults: dict[str, Any] = {
        "log_traces_from_compile": False,
        "log_traces_from_eval": True,
        "log_compiles": True,
        "log_evals": True,
    }

    def __init__(self) -> None:
        super().__init__()
        self._callback: Any = None

    def patches(self, config: AutologConfig) -> Sequence[Patch]:
        """``Evaluate.__call__``, every Teleprompter subclass's ``compile``, and the settings setters."""
        from dspy.teleprompt.teleprompt import Teleprompter

        found = [
            Patch("dspy.evaluate.evaluate", "Evaluate.__call__", self._wrap_evaluate_call),
            Patch("dspy.dsp.utils.settings", "Settings.configure", self._wrap_settings_configure),
            Patch("dspy", "configure", self._wrap_settings_configure),
            Patch("dspy.dsp.utils.settings", "Settings.save", self._wrap_settings_save),
        ]
        for cls in _subclasses(Teleprompter):
            if "compile" in cls.__dict__ and "<locals>" not in cls.__qualname__:
                found.append(Patch(cls.__module__, f"{cls.__qualname__}.compile", self._wrap_teleprompter_compile))
        return found

    def on_enable(self, config: AutologConfig) -> None:
        """Append the callback to ``dspy.settings.callbacks``."""
        from logwright_dspy._callback import LogwrightDSPyCallback

        dspy_settings = _settings_module()

        if self._callback is None:
            self._callback = LogwrightDSPyCallback()
        self._callback.config = self.config
        current = list(dspy_settings.main_thread_config.get("callbacks") or [])
        if not any(cb is self._callback for cb in current):
            # Set directly: dspy.configure may only be called from the thread that first called it.
            dspy_settings.main_thread_config["callbacks"] = [*current, self._callback]

    def on_disable(self) -> None:
        """Remove the callback again (a copy left in a ``dspy.context`` block goes inert)."""
        dspy_settings = _settings_module()
        callback = self._callback
        if callback is None:
            return
        callback.config = None
        current = dspy_settings.main_thread_config.get("callbacks") or []
        if any(cb is callback for cb in current):
            dspy_settings.main_thread_config["callbacks"] = [cb for cb in current if cb is not callback]

    # -- wrappers -------------------------------------------------------------------

    def _wrap_settings_configure(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        """``dspy.configure(callbacks=[...])`` replaces the global list: keep ours in it, once."""
        callbacks, ours = kwargs.get("callbacks"), self._callback
        if callbacks is not None and ours is not None and ours.config is not None:
            # other instances are copies (say, from settings saved before this fix): ours replaces them
            kept = [cb for cb in callbacks if type(cb) is not type(ours)]
            kwargs = {**kwargs, "callbacks": [*kept, ours]}
        return wrapped(*args, **kwargs)

    def _wrap_settings_save(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        """``dspy.settings.save()`` writes the settings without our callback (loading needs no logwright)."""
        ours = self._callback
        callbacks = instance.get("callbacks") or []
        if ours is None or not any(type(cb) is type(ours) for cb in callbacks):
            return wrapped(*args, **kwargs)
        with instance.context(callbacks=[cb for cb in callbacks if type(cb) is not type(ours)]):
            return wrapped(*args, **kwargs)

    def _wrap_evaluate_call(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        """One run per top-level evaluation: score, devset size, per-example table."""
        cfg = self.config
        if not cfg.get("log_evals"):
            return wrapped(*args, **kwargs)
        from logwright_dspy import _runs

        with managed_run(self.name, cfg, run_name="Evaluate", tags={"dspy.call": "evaluate"}) as run:
            return _runs.evaluate(self, run, wrapped, instance, args, kwargs)

    def _wrap_teleprompter_compile(self, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        """One run per top-level compile: settings, dataset sizes, scores, compiled program."""
        cfg = self.config
        if not cfg.get("log_compiles"):
            return wrapped(*args, **kwargs)
        from logwright_dspy import _runs

        name = f"{type(instance).__name__}.compile"
        with managed_run(self.name, cfg, run_name=name, tags={"dspy.call": "compile"}) as run:
            return _runs.compile_program(self, run, wrapped, instance, args, kwargs)


def _settings_module() -> Any:
    # ``dspy.dsp.utils.settings`` as an attribute is the Settings instance: get the module.
    import importlib

    return importlib.import_module("dspy.dsp.utils.settings")


def _subclasses(base: type) -> list[type]:
    found: list[type] = []
    stack = [base]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in found:
                found.append(sub)
                stack.append(sub)
    return found
