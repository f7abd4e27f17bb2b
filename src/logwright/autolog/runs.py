"""Run binding for integrations: which run a callback or hook logs into, and when it ends.

Two shapes, one rule set (``exclusive``, ``extra_tags``, the ``logwright.autolog`` tag):

- :func:`managed_run` (in :mod:`logwright.autolog.safety`): a run for one patched call,
  ending with it.
- :class:`RunBinding`: a run for logging that has no call of its own around it (an
  optimizer step hook, a TensorBoard writer, a framework logger). It binds at first
  use: to the run of the autologged call in progress or the user's active run (it
  then ends with that call or run), else to a run it starts, which ends with its
  parent run (``exclusive=True``) or at interpreter exit, or when the integration
  says so (:meth:`RunBinding.end`).

:func:`add_run_end_hook` is the public way to hear of a run about to end (flush what
is buffered into it); :func:`end_autolog_run` ends a run autolog started.
"""

from __future__ import annotations

from logwright.lazylog import get_logger

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable
    from typing import Any

_logger = get_logger(__name__)

__all__ = ["RunBinding", "add_run_end_hook", "end_autolog_run", "remove_run_end_hook"]


def add_run_end_hook(hook: Callable[[Any], None]) -> None:
    """Call ``hook(active_run)`` just before any run ends (once per hook; idempotent).

    The run can still be logged into; its status is written after the hooks return. A
    hook runs in the thread that ends the run; make it quick and never raising
    (decorate it with :func:`logwright.autolog.guard`).
    """
    from logwright import fluent

    if hook not in fluent._before_end:
        fluent._before_end.append(hook)


def remove_run_end_hook(hook: Callable[[Any], None]) -> None:
    """Undo :func:`add_run_end_hook` (a hook not added is ignored)."""
    from logwright import fluent

    if hook in fluent._before_end:
        fluent._before_end.remove(hook)


def end_autolog_run(run: Any, status: str = "FINISHED") -> None:
    """End ``run`` with ``status`` if autolog started it (a user's run is left alone).

    Args:
        run: a :class:`logwright.fluent.ActiveRun`.
        status: FINISHED, FAILED or KILLED.
    """
    from logwright import fluent

    if getattr(run, "owned_by_autolog", False) and not run.ended:
        fluent._end(run, status)


class RunBinding:
    """The run one integration's callbacks log into, bound at first use.

    Args:
        integration: the integration's name (the ``logwright.autolog`` tag of a run it starts).
        config: its :class:`~logwright.autolog.AutologConfig` (``exclusive``, ``extra_tags``,
            ``log_system_metrics``, ``silent``), read at binding time.
        on_end: called with the bound run just before it ends (flush buffered points into it).

    Attributes:
        run: the bound :class:`~logwright.fluent.ActiveRun`, or None.
        started: whether this binding started ``run`` (else it is the user's or a call's).
    """

    def __init__(self, integration: str, config: Any, on_end: Callable[[Any], None] | None = None) -> None:
        self.integration, self.config, self.on_end = integration, config, on_end
        self.run: Any = None
        self.started = False
        import threading

        self._lock = threading.RLock()
        self._announced = False

    def current(self) -> Any:
        """The bound run; binds first if none is bound or it ended (see the module docstring)."""
        from logwright import fluent

        with self._lock:
            run = self.run
            if run is not None and not run.ended:
                return run
            active = fluent.active_run()
            if active is not None and not self.config.get("exclusive"):
                return self.bind(active)
            tags = {"logwright.autolog": self.integration, **(self.config.get("extra_tags") or {})}
            options = {"log_system_metrics": True} if self.config.get("log_system_metrics") else {}
            run = fluent.start_run(tags=tags, nested=active is not None, **options)
            run.owned_by_autolog = True
            self.bind(run, started=True)
            self._announce(run, active)
            return run

    def bind(self, run: Any, started: bool = False) -> Any:
        """Log into ``run`` from now on (``started``: this binding owns it and may end it)."""
        with self._lock:
            self.run, self.started = run, started
            add_run_end_hook(self._before_end)
            return run

    def unbind(self) -> None:
        """Forget the bound run (it is not ended); the next :meth:`current` binds again."""
        with self._lock:
            self.run, self.started = None, False
            remove_run_end_hook(self._before_end)

    def end(self, status: str = "FINISHED") -> None:
        """End the bound run if this binding started it (``on_end`` first), and unbind."""
        with self._lock:
            run, started = self.run, self.started
            if run is None:
                return
            if started and not run.ended:
                end_autolog_run(run, status)  # calls _before_end: on_end, then unbind
            else:
                self._flush(run)
            self.unbind()

    def close(self) -> None:
        """On disable: flush into the bound run and unbind, leaving the run as it is."""
        with self._lock:
            if self.run is not None:
                self._flush(self.run)
            self.unbind()

    def _flush(self, run: Any) -> None:
        if self.on_end is not None:
            self.on_end(run)

    def _before_end(self, ending: Any) -> None:
        from logwright.autolog.safety import report

        try:
            with self._lock:
                run = self.run
                if run is None:
                    return
                if ending is run:
                    self._flush(run)
                    self.unbind()
                elif self.started and not run.ended and run.info.parent_run_id == ending.info.run_id:
                    end_autolog_run(run)  # our nested run (exclusive=True) ends with its parent
        except Exception as exc:  # noqa: BLE001 - never stop the user's run from ending
            report(self.integration, exc)

    def _announce(self, run: Any, parent: Any) -> None:
        if self._announced or self.config.get("silent") or parent is not None:
            return
        self._announced = True
        _logger.warning("logwright: %s autolog started run %s (%s); it ends at logwright.end_run() "
                        "or interpreter exit", self.integration, run.info.run_id, run.info.run_name)
