"""The autolog contract suite: every integration's tests call :func:`check_contract`.

Example, in ``integrations/sklearn/tests/test_contract.py``::

    from logwright.testing.contract import check_contract

    def test_contract(tmp_store):
        from sklearn.linear_model import LogisticRegression
        X, y = [[0.0], [1.0], [0.0], [1.0]], [0, 1, 0, 1]
        check_contract(
            "sklearn",
            exercise=lambda: LogisticRegression().fit(X, y),
            failing=lambda: LogisticRegression().fit(X, ["a"]),   # the user's own error
        )

Checks, in order: enabling twice is a no-op; disabling restores every original by
identity; a failure injected into logwright's logging (``Client`` write methods
raise) changes neither the result nor the user's exception; one call logs at most
one top-level run (nested patched calls log once); the result (or ``obj()``)
survives a pickle and deepcopy round trip; with the framework not imported,
``autolog()`` leaves it PENDING and imports nothing (checked in a subprocess).
The integration's enabled/disabled state is restored afterwards.
"""

from __future__ import annotations

import copy
import os
import pickle
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import logwright
from logwright.autolog.registry import ACTIVE, DISABLED, PENDING, registry

__all__ = ["ContractError", "check_contract", "run_contract_suite", "injected_failure"]

CLIENT_WRITES = (
    "log_params", "log_metric", "log_metrics", "log_batch", "set_tags", "log_input",
    "log_dict", "log_text", "log_artifact", "log_artifacts", "log_figure",
)


class ContractError(AssertionError):
    """An integration broke the autolog contract (the message says which rule)."""


def _fail(name: str, rule: str, detail: str) -> None:
    raise ContractError(f"{name}: {rule}: {detail}")


def _own(owner: Any) -> Any:
    return owner.__dict__ if isinstance(owner, type) else vars(owner)


@contextmanager
def injected_failure(methods: tuple[str, ...] = CLIENT_WRITES) -> Iterator[None]:
    """Make ``logwright.client.Client``'s write methods raise, with strict mode off."""
    from logwright.client import Client

    saved = {m: Client.__dict__[m] for m in methods if m in Client.__dict__}
    strict = os.environ.pop("LOGWRIGHT_STRICT", None)

    def boom(self: Any, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("logwright failure injected by the contract suite")

    try:
        for m in saved:
            setattr(Client, m, boom)
        yield
    finally:
        for m, fn in saved.items():
            setattr(Client, m, fn)
        if strict is not None:
            os.environ["LOGWRIGHT_STRICT"] = strict


def _outcome(fn: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    try:
        return fn(), None
    except Exception as exc:  # noqa: BLE001 - the user's error is part of the outcome
        return None, exc


def _check_enable_twice(name: str) -> None:
    first = logwright.autolog(only=[name])[name]
    proxies = [a.proxy for a in registry.applied(name)]
    second = logwright.autolog(only=[name])[name]
    if first != second or [a.proxy for a in registry.applied(name)] != proxies:
        _fail(name, "enable twice is a no-op", f"state {first} -> {second}, or patches re-applied")
    if first != ACTIVE:
        _fail(name, "enable", f"framework imported but state is {first}")
    for a in registry.applied(name):
        if _own(a.owner).get(a.name) is not a.proxy:
            _fail(name, "enable", f"{a!r} is not in place")


def _check_disable_restores(name: str) -> None:
    applied = registry.applied(name)
    logwright.autolog(only=[name], disable=True)
    logwright.autolog(only=[name], disable=True)
    for a in applied:
        current = _own(a.owner).get(a.name, None)
        if a.had_own and current is not a.original:
            _fail(name, "disable restores originals", f"{a!r} is {current!r}, not the original")
        if not a.had_own and a.name in _own(a.owner):
            _fail(name, "disable restores originals", f"{a!r} was inherited but is still set")
    if registry.state(name) != DISABLED:
        _fail(name, "disable", f"state is {registry.state(name)}")


def _check_injected(name: str, exercise: Callable[[], Any], failing: Callable[[], Any] | None,
                    require_hit: bool) -> None:
    from logwright.autolog import safety

    clean, clean_error = _outcome(exercise)
    if clean_error is not None:
        _fail(name, "exercise", f"exercise() raised with autolog on: {clean_error!r}")
    user_error = _outcome(failing)[1] if failing is not None else None
    before = safety.errors.get(name, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with injected_failure():
            result, error = _outcome(exercise)
            failed_error = _outcome(failing)[1] if failing is not None else None
    if error is not None:
        _fail(name, "a logwright failure never breaks the call", f"exercise() raised {error!r}")
    if type(result) is not type(clean):
        _fail(name, "a logwright failure keeps the result", f"{type(result)} instead of {type(clean)}")
    if failing is not None and (type(failed_error), str(failed_error)) != (type(user_error), str(user_error)):
        _fail(name, "a logwright failure keeps the user's exception", f"{failed_error!r} != {user_error!r}")
    if require_hit and safety.errors.get(name, 0) == before:
        _fail(name, "failure injection", "no logging call hit the injected failure (is anything logged?)")


def _check_one_run(name: str, exercise: Callable[[], Any]) -> None:
    client = logwright.Client()
    before = {r.info.run_id for r in client.search_runs(None, max_results=None)}
    exercise()
    new = [r for r in client.search_runs(None, max_results=None) if r.info.run_id not in before]
    top = [r for r in new if r.info.parent_run_id is None]
    if len(top) > 1:
        _fail(name, "nested calls log once", f"one call started {len(top)} top-level runs")
    for r in new:
        if r.info.status == "RUNNING":
            _fail(name, "managed runs end with the call", f"run {r.info.run_id} is still RUNNING")


def _check_roundtrip(name: str, obj: Any) -> None:
    for how, fn in (("pickle", lambda o: pickle.loads(pickle.dumps(o))), ("deepcopy", copy.deepcopy)):
        try:
            back = fn(obj)
        except Exception as exc:  # noqa: BLE001 - reported as a contract failure
            _fail(name, f"{how} of a patched object", repr(exc))
        if type(back) is not type(obj) or not isinstance(back, type(obj)):
            _fail(name, f"{how} of a patched object", f"got a {type(back)}")


def _check_absent(name: str, module: str) -> None:
    code = (
        "import sys, logwright\n"
        f"state = logwright.autolog(only=[{name!r}])[{name!r}]\n"
        f"assert state == 'PENDING', state\n"
        f"assert {module!r} not in sys.modules, 'autolog() imported {module}'\n"
        f"logwright.autolog(disable=True)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    if done.returncode != 0:
        _fail(name, "absent framework is a no-op", done.stderr.strip()[-2000:])


def check_contract(
    integration: str,
    exercise: Callable[[], Any],
    *,
    failing: Callable[[], Any] | None = None,
    obj: Callable[[], Any] | None = None,
    roundtrip: bool = True,
    require_injected_hit: bool = True,
    check_absent: bool = True,
) -> None:
    """Run the contract suite against one integration (needs a store, e.g. ``tmp_store``).

    Args:
        integration: the integration's name (its entry-point name).
        exercise: makes one framework call that autolog logs, and returns its result.
        failing: makes one framework call that raises the user's own error (optional).
        obj: returns a patched object to pickle/deepcopy (default: ``exercise()``'s result).
        roundtrip: whether to run the pickle/deepcopy check.
        require_injected_hit: fail if the injected failure never reached the integration
            (set False for integrations that log only through tracing).
        check_absent: run the "framework not imported" check in a subprocess.

    Raises:
        ContractError: the rule broken, and how.
    """
    cls = registry.discover().get(integration)
    if cls is None:
        raise ContractError(f"{integration}: no such integration among {sorted(registry.discover())}")
    initial = registry.state(integration)
    options = dict(registry.get(integration).config.options)
    logwright.autolog(only=[integration], disable=True)
    __import__(cls.module)
    try:
        _check_enable_twice(integration)
        _check_disable_restores(integration)
        logwright.autolog(only=[integration])
        _check_injected(integration, exercise, failing, require_injected_hit)
        _check_one_run(integration, exercise)
        if roundtrip:
            _check_roundtrip(integration, obj() if obj is not None else exercise())
    finally:
        logwright.autolog(only=[integration], disable=True)
        registry.configure(integration, options)
        if initial in (ACTIVE, PENDING):
            registry.enable(integration)
    if check_absent:
        _check_absent(integration, cls.module)


run_contract_suite = check_contract
